//! Regexes compiled on first use. A rule set holds thousands of regexes (every `re`
//! value and every wildcard pattern that is not a plain prefix / suffix / contains), and
//! building their automata was a fifth of a hunt's start-up, while most of them never
//! run: a rule is evaluated only when one of its literals occurred, and cheaper
//! conditions usually decide first. The syntax is still checked at load time, so a bad
//! pattern rejects its rule there; only the size budget ([`REGEX_SIZE_LIMIT`]) is checked
//! at first use. `vigil rules check` forces every regex ([`LazyRegex::force`]), so a
//! pattern over budget is reported there rather than discovered during a hunt.

use std::sync::OnceLock;

use regex::Regex;

use crate::error::RuleError;
use crate::value::REGEX_SIZE_LIMIT;

pub(crate) struct LazyRegex {
    source: String,
    /// `None` once a build failed (over the size budget): the regex matches nothing.
    compiled: OnceLock<Option<Regex>>,
}

impl LazyRegex {
    /// Checks the syntax of `source` without building an automaton.
    pub(crate) fn new(source: String) -> Result<Self, RuleError> {
        regex_syntax::ParserBuilder::new()
            .build()
            .parse(&source)
            .map_err(|e| RuleError::Regex { pattern: source.clone(), reason: e.to_string() })?;
        Ok(LazyRegex { source, compiled: OnceLock::new() })
    }

    pub(crate) fn source(&self) -> &str {
        &self.source
    }

    fn build(&self) -> Result<Regex, regex::Error> {
        regex::RegexBuilder::new(&self.source).size_limit(REGEX_SIZE_LIMIT).build()
    }

    /// Builds the regex now; the error says why it could not be.
    pub(crate) fn force(&self) -> Result<(), String> {
        let mut failure = None;
        let compiled = self.compiled.get_or_init(|| match self.build() {
            Ok(re) => Some(re),
            Err(e) => {
                failure = Some(e.to_string());
                None
            }
        });
        match (compiled, failure) {
            (Some(_), _) => Ok(()),
            (None, Some(reason)) => Err(reason),
            (None, None) => Err(self.build().err().map(|e| e.to_string()).unwrap_or_default()),
        }
    }

    #[inline]
    pub(crate) fn is_match(&self, haystack: &str) -> bool {
        self.compiled.get_or_init(|| self.build().ok()).as_ref().is_some_and(|re| re.is_match(haystack))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_errors_are_caught_at_load() {
        assert!(matches!(LazyRegex::new("a(b".into()), Err(RuleError::Regex { .. })));
    }

    #[test]
    fn matches_after_lazy_build() {
        let re = LazyRegex::new("(?i)mimi.atz".into()).unwrap();
        assert!(re.is_match("x MIMIKATZ y"));
        assert!(!re.is_match("mimi"));
        assert_eq!(re.force(), Ok(()));
    }

    #[test]
    fn over_budget_regex_matches_nothing_and_force_says_why() {
        // Unicode word classes under a large counted repetition exceed 16 MiB.
        let re = LazyRegex::new(r"\w{1000}\w{1000}\w{1000}".into()).unwrap();
        assert!(!re.is_match(&"a".repeat(3000)));
        let reason = re.force().unwrap_err();
        assert!(reason.contains("size limit"), "{reason}");
    }
}
