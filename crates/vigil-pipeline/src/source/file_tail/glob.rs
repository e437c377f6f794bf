//! Which files a configured path stands for: a file, the regular files directly inside a
//! directory, or a glob (`*`, `?`, `[abc]`, `[a-z]`, `[!x]`) in any path component.
//! `**` has no special meaning (it matches like `*`, within one component). As in a
//! shell, a wildcard does not match a name's leading dot.

use std::fs;
use std::path::{Component, Path, PathBuf};

use super::SourceError;

/// Expansion stops after this many files per pattern, so a huge directory cannot make
/// every scan unbounded.
pub(crate) const MAX_FILES_PER_PATTERN: usize = 16_384;

#[derive(Debug, Clone)]
pub(crate) struct PathPattern {
    /// The longest leading part without wildcards.
    base: PathBuf,
    /// The components after `base`; empty for a plain path.
    parts: Vec<Part>,
}

#[derive(Debug, Clone)]
enum Part {
    Literal(String),
    Wild(Vec<Token>),
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Char(char),
    AnyChar,
    AnyRun,
    Class { negated: bool, ranges: Vec<(char, char)> },
}

impl PathPattern {
    pub(crate) fn parse(text: &str) -> Result<PathPattern, SourceError> {
        let invalid = |reason: &str| SourceError::Pattern { pattern: text.to_string(), reason: reason.to_string() };
        if text.is_empty() {
            return Err(invalid("the path is empty"));
        }
        let mut base = PathBuf::new();
        let mut parts = Vec::new();
        for component in Path::new(text).components() {
            let name = match component {
                Component::Normal(name) => name,
                other => {
                    if !parts.is_empty() {
                        return Err(invalid("`..` cannot follow a wildcard"));
                    }
                    base.push(other.as_os_str());
                    continue;
                }
            };
            let Some(name) = name.to_str() else {
                if parts.is_empty() {
                    base.push(name);
                    continue;
                }
                return Err(invalid("the path is not valid UTF-8"));
            };
            if parts.is_empty() && !has_wildcard(name) {
                base.push(name);
            } else if has_wildcard(name) {
                parts.push(Part::Wild(tokenize(name).map_err(invalid)?));
            } else {
                parts.push(Part::Literal(name.to_string()));
            }
        }
        if base.as_os_str().is_empty() {
            base.push(".");
        }
        Ok(PathPattern { base, parts })
    }

    /// The files this pattern stands for now, sorted; paths that do not exist (yet) give
    /// nothing. Non-regular files are left out by the caller, which stats them anyway.
    pub(crate) fn expand(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        if self.parts.is_empty() {
            match fs::metadata(&self.base) {
                Ok(meta) if meta.is_dir() => list_dir(&self.base, &mut found),
                Ok(_) => found.push(self.base.clone()),
                Err(_) => {}
            }
        } else {
            self.expand_from(self.base.clone(), 0, &mut found);
        }
        found.sort();
        found
    }

    fn expand_from(&self, dir: PathBuf, index: usize, found: &mut Vec<PathBuf>) {
        if found.len() >= MAX_FILES_PER_PATTERN {
            return;
        }
        let last = index + 1 == self.parts.len();
        match &self.parts[index] {
            Part::Literal(name) => {
                let path = dir.join(name);
                if last {
                    found.push(path);
                } else if path.is_dir() {
                    self.expand_from(path, index + 1, found);
                }
            }
            Part::Wild(tokens) => {
                let Ok(entries) = fs::read_dir(&dir) else { return };
                let mut names: Vec<String> = entries
                    .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
                    .filter(|name| matches(tokens, name))
                    .collect();
                names.sort();
                for name in names {
                    if found.len() >= MAX_FILES_PER_PATTERN {
                        return;
                    }
                    let path = dir.join(name);
                    if last {
                        found.push(path);
                    } else if path.is_dir() {
                        self.expand_from(path, index + 1, found);
                    }
                }
            }
        }
    }
}

fn list_dir(dir: &Path, found: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else { return };
    found.extend(entries.flatten().map(|entry| entry.path()).take(MAX_FILES_PER_PATTERN));
}

fn has_wildcard(name: &str) -> bool {
    name.contains(['*', '?', '['])
}

fn tokenize(name: &str) -> Result<Vec<Token>, &'static str> {
    let mut tokens = Vec::new();
    let mut chars = name.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' => {
                if tokens.last() != Some(&Token::AnyRun) {
                    tokens.push(Token::AnyRun);
                }
            }
            '?' => tokens.push(Token::AnyChar),
            '[' => {
                let negated = chars.next_if(|&c| c == '!' || c == '^').is_some();
                let mut ranges = Vec::new();
                let mut first = true;
                loop {
                    let Some(c) = chars.next() else { return Err("a `[` is not closed") };
                    if c == ']' && !first {
                        break;
                    }
                    first = false;
                    if chars.peek() == Some(&'-') {
                        chars.next();
                        match chars.next() {
                            Some(']') => {
                                ranges.push((c, c));
                                ranges.push(('-', '-'));
                                break;
                            }
                            Some(high) if high >= c => ranges.push((c, high)),
                            Some(_) => return Err("a `[a-z]` range is reversed"),
                            None => return Err("a `[` is not closed"),
                        }
                    } else {
                        ranges.push((c, c));
                    }
                }
                tokens.push(Token::Class { negated, ranges });
            }
            c => tokens.push(Token::Char(c)),
        }
    }
    Ok(tokens)
}

/// Whether `name` matches; a leading dot must be matched literally.
fn matches(tokens: &[Token], name: &str) -> bool {
    if name.starts_with('.') && tokens.first() != Some(&Token::Char('.')) {
        return false;
    }
    let name: Vec<char> = name.chars().collect();
    // Backtracking over the last `*` only: linear-ish, no exponential blow-up.
    let (mut t, mut n) = (0, 0);
    let mut resume: Option<(usize, usize)> = None;
    while n < name.len() {
        let step = match tokens.get(t) {
            Some(Token::AnyRun) => {
                resume = Some((t, n));
                t += 1;
                continue;
            }
            Some(Token::AnyChar) => true,
            Some(Token::Char(c)) => *c == name[n],
            Some(Token::Class { negated, ranges }) => {
                ranges.iter().any(|&(low, high)| (low..=high).contains(&name[n])) != *negated
            }
            None => false,
        };
        if step {
            t += 1;
            n += 1;
        } else if let Some((star, at)) = resume {
            t = star + 1;
            n = at + 1;
            resume = Some((star, at + 1));
        } else {
            return false;
        }
    }
    tokens[t..].iter().all(|token| *token == Token::AnyRun)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glob(pattern: &str, name: &str) -> bool {
        matches(&tokenize(pattern).unwrap(), name)
    }

    #[test]
    fn wildcards_match_like_a_shell() {
        assert!(glob("*.log", "auth.log"));
        assert!(!glob("*.log", "auth.log.1"));
        assert!(glob("auth.log*", "auth.log"));
        assert!(glob("auth.log*", "auth.log.2.gz"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "ac"));
        assert!(glob("*a*b*c*", "xxaxxbxxcxx"));
        assert!(!glob("*a*b*c*", "xxaxxcxxbxx"));
        assert!(glob("log[0-9]", "log7"));
        assert!(!glob("log[!0-9]", "log7"));
        assert!(glob("log[!0-9]", "logx"));
        assert!(glob("[]x]", "]"));
        assert!(glob("[a-]", "-"));
        assert!(glob("é*", "été"));
    }

    #[test]
    fn a_wildcard_does_not_match_a_leading_dot() {
        assert!(!glob("*.log", ".hidden.log"));
        assert!(glob(".*.log", ".hidden.log"));
    }

    #[test]
    fn many_stars_do_not_blow_up() {
        let pattern = "*a".repeat(30) + "b";
        assert!(!glob(&pattern, &"a".repeat(200)));
        assert!(glob(&pattern, &("a".repeat(200) + "b")));
    }

    #[test]
    fn broken_patterns_are_refused() {
        assert!(PathPattern::parse("/var/log/[abc").is_err());
        assert!(PathPattern::parse("/var/log/[z-a]").is_err());
        assert!(PathPattern::parse("/var/*/../x").is_err());
        assert!(PathPattern::parse("").is_err());
    }

    #[test]
    fn patterns_expand_over_directories_and_components() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["a.log", "b.log", "c.txt", ".h.log", "sub/d.log", "sub2/e.log", "sub2/f.txt"] {
            let path = dir.path().join(name);
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(path, "x\n").unwrap();
        }
        let root = dir.path().to_str().unwrap();
        let names = |pattern: String| -> Vec<String> {
            let found = PathPattern::parse(&pattern).unwrap().expand();
            found.iter().map(|p| p.strip_prefix(dir.path()).unwrap().to_str().unwrap().to_string()).collect()
        };
        assert_eq!(names(format!("{root}/*.log")), ["a.log", "b.log"]);
        assert_eq!(names(format!("{root}/sub*/*.log")), ["sub/d.log", "sub2/e.log"]);
        assert_eq!(names(format!("{root}/c.txt")), ["c.txt"]);
        assert_eq!(names(format!("{root}/missing.log")), Vec::<String>::new());
        let mut listed = names(format!("{root}/sub2"));
        listed.sort();
        assert_eq!(listed, ["sub2/e.log", "sub2/f.txt"]);
    }
}
