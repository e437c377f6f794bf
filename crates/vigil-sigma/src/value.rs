//! Rule values after modifiers: the Sigma wildcard/escape grammar, value transformations
//! (windash, base64, base64offset, utf16*, expand) and type modifiers (re, cidr, numeric
//! and time comparisons, exists, fieldref, neq, cased). The output, [`ItemSpec`], is
//! what the compiler turns into shared matchers.

use crate::ast::{CmpOp, FieldItem, Modifier, RuleValue};
use crate::error::RuleError;
use base64::Engine as _;
use ipnet::IpNet;

/// One element of a wildcard pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Lit(String),
    /// `*`: any run of characters, possibly empty.
    Star,
    /// `?`: exactly one character.
    One,
    /// One of the five dash characters of `windash`, used instead of enumerating
    /// permutations when a value has too many dashes.
    Dash,
}

/// A wildcard pattern, normalised: no empty or adjacent literals, no adjacent stars.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pattern(pub Vec<Part>);

impl Pattern {
    /// Parses Sigma's string syntax: `*` and `?` are wildcards; `\*`, `\?` and `\\` are
    /// escapes; a backslash before anything else is a plain backslash (spec: "Escape
    /// Character").
    pub fn parse(text: &str) -> Pattern {
        let mut p = Pattern::default();
        let mut chars = text.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '*' => p.push(Part::Star),
                '?' => p.push(Part::One),
                '\\' => match chars.peek() {
                    Some(&next @ ('*' | '?' | '\\')) => {
                        chars.next();
                        p.push_char(next);
                    }
                    _ => p.push_char('\\'),
                },
                _ => p.push_char(c),
            }
        }
        p
    }

    /// A pattern matching `text` literally.
    pub fn literal(text: &str) -> Pattern {
        let mut p = Pattern::default();
        p.push_str(text);
        p
    }

    pub fn push(&mut self, part: Part) {
        match part {
            Part::Lit(s) => self.push_str(&s),
            Part::Star if self.0.last() == Some(&Part::Star) => {}
            other => self.0.push(other),
        }
    }

    pub fn push_str(&mut self, s: &str) {
        if s.is_empty() {
            return;
        }
        if let Some(Part::Lit(last)) = self.0.last_mut() {
            last.push_str(s);
        } else {
            self.0.push(Part::Lit(s.to_string()));
        }
    }

    fn push_char(&mut self, c: char) {
        let mut buf = [0u8; 4];
        self.push_str(c.encode_utf8(&mut buf));
    }

    pub fn has_wildcards(&self) -> bool {
        self.0.iter().any(|p| !matches!(p, Part::Lit(_)))
    }

    /// The literal text when the pattern has no wildcard.
    pub fn as_literal(&self) -> Option<&str> {
        match self.0.as_slice() {
            [] => Some(""),
            [Part::Lit(s)] => Some(s),
            _ => None,
        }
    }

    pub fn with_leading_star(mut self) -> Pattern {
        if self.0.first() != Some(&Part::Star) {
            self.0.insert(0, Part::Star);
        }
        self
    }

    pub fn with_trailing_star(mut self) -> Pattern {
        self.push(Part::Star);
        self
    }

    /// A regex (unanchored text) for this pattern; `^…$` anchoring is the caller's.
    pub fn to_regex_body(&self) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                Part::Lit(s) => out.push_str(&regex::escape(s)),
                Part::Star => out.push_str("(?s:.*)"),
                Part::One => out.push_str("(?s:.)"),
                Part::Dash => out.push_str("[-/\u{2013}\u{2014}\u{2015}]"),
            }
        }
        out
    }
}

/// Where a literal must sit in the field value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Position {
    Exact,
    Prefix,
    Suffix,
    Contains,
}

/// Parts of a timestamp the time modifiers extract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimePart {
    Minute,
    Hour,
    Day,
    Week,
    Month,
    Year,
}

/// One way a single field value can satisfy a rule value.
#[derive(Debug, Clone, PartialEq)]
pub enum ValueMatcher {
    /// Wildcard pattern, case-insensitive unless `cased`.
    Str {
        pattern: Pattern,
        cased: bool,
    },
    /// Regular expression, already carrying its flags.
    Regex(String),
    /// Numeric comparison (lt, lte, gt, gte).
    Cmp {
        op: CmpOp,
        value: f64,
    },
    Cidr(IpNet),
    Exists(bool),
    /// The field is absent or null.
    Null,
    /// The value relates to another field of the same event.
    FieldRef {
        field: String,
        position: Position,
        cased: bool,
    },
    /// A part of a date value compared with a number.
    Time {
        part: TimePart,
        op: CmpOp,
        value: f64,
    },
}

/// A field item after modifiers: `values[i]` are the alternatives one rule value
/// expanded into (windash, base64offset, placeholders …), ORed; across `values` the
/// link is AND when `all`, else OR. `negate` is `neq`: the field exists and no value
/// matches.
#[derive(Debug, Clone, PartialEq)]
pub struct ItemSpec {
    pub field: Option<String>,
    pub values: Vec<Vec<ValueMatcher>>,
    pub all: bool,
    pub negate: bool,
}

/// Values of `%name%` placeholders, supplied by processing pipelines.
pub trait Placeholders {
    /// The values of a placeholder, or `None` when it is unknown.
    fn values(&self, name: &str) -> Option<Vec<String>>;
}

impl Placeholders for () {
    fn values(&self, _: &str) -> Option<Vec<String>> {
        None
    }
}

/// Values a single rule value may expand into: windash permutations (5 per dash) are
/// enumerated up to this many, beyond which a dash character class is used.
const MAX_ENUMERATED_VARIANTS: usize = 625;
/// Upper bound on the number of alternatives a value may expand to through placeholders.
const MAX_EXPANSION: usize = 10_000;
/// Regex compile budget per rule value: bounds memory for hostile rules while leaving
/// room for Unicode classes under counted repetition (`\w{1,64}` needs ~3 MiB).
pub const REGEX_SIZE_LIMIT: usize = 16 * 1024 * 1024;

const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Applies an item's modifiers to its values.
pub fn compile_item(item: &FieldItem, placeholders: &dyn Placeholders) -> Result<ItemSpec, RuleError> {
    let mods = &item.modifiers;
    let has = |m: Modifier| mods.contains(&m);
    let positions =
        [Modifier::Contains, Modifier::StartsWith, Modifier::EndsWith].into_iter().filter(|m| has(*m)).count();
    if positions > 1 {
        return Err(RuleError::Modifiers("more than one of contains / startswith / endswith".into()));
    }
    let comparisons: Vec<CmpOp> = mods
        .iter()
        .filter_map(|m| match m {
            Modifier::Lt => Some(CmpOp::Lt),
            Modifier::Lte => Some(CmpOp::Lte),
            Modifier::Gt => Some(CmpOp::Gt),
            Modifier::Gte => Some(CmpOp::Gte),
            _ => None,
        })
        .collect();
    if comparisons.len() > 1 {
        return Err(RuleError::Modifiers("more than one of lt / lte / gt / gte".into()));
    }
    let time_part = mods.iter().find_map(|m| match m {
        Modifier::Minute => Some(TimePart::Minute),
        Modifier::Hour => Some(TimePart::Hour),
        Modifier::Day => Some(TimePart::Day),
        Modifier::Week => Some(TimePart::Week),
        Modifier::Month => Some(TimePart::Month),
        Modifier::Year => Some(TimePart::Year),
        _ => None,
    });
    let re_flags = [Modifier::ReInsensitive, Modifier::ReMultiline, Modifier::ReDotAll];
    if !has(Modifier::Re) && re_flags.iter().any(|m| has(*m)) {
        return Err(RuleError::Modifiers("`i`, `m` and `s` need `re`".into()));
    }
    let typed = [has(Modifier::Re), has(Modifier::Cidr), has(Modifier::Exists), has(Modifier::FieldRef)];
    if typed.iter().filter(|t| **t).count() > 1 || (typed.iter().any(|t| *t) && !comparisons.is_empty()) {
        return Err(RuleError::Modifiers("re, cidr, exists, fieldref and lt/gt comparisons exclude each other".into()));
    }
    if (has(Modifier::Re) || has(Modifier::Cidr) || has(Modifier::Exists)) && positions > 0 {
        return Err(RuleError::Modifiers("re / cidr / exists take no contains / startswith / endswith".into()));
    }
    if item.field.is_none() && (has(Modifier::Exists) || has(Modifier::FieldRef) || !comparisons.is_empty()) {
        return Err(RuleError::Modifiers("exists / fieldref / comparisons need a field".into()));
    }

    let cased = has(Modifier::Cased);
    let mut values = Vec::with_capacity(item.values.len());
    for value in &item.values {
        let alternatives = if has(Modifier::Exists) {
            let b = match value {
                RuleValue::Bool(b) => *b,
                RuleValue::Str(s) if s.eq_ignore_ascii_case("true") => true,
                RuleValue::Str(s) if s.eq_ignore_ascii_case("false") => false,
                _ => return Err(RuleError::Value("`exists` takes true or false".into())),
            };
            vec![ValueMatcher::Exists(b)]
        } else if let Some(part) = time_part {
            let op = comparisons.first().copied().unwrap_or(CmpOp::Eq);
            vec![ValueMatcher::Time { part, op, value: number(value)? }]
        } else if let Some(op) = comparisons.first() {
            vec![ValueMatcher::Cmp { op: *op, value: number(value)? }]
        } else if has(Modifier::Re) {
            let RuleValue::Str(re) = value else {
                return Err(RuleError::Value("`re` takes a string".into()));
            };
            let mut flags = String::new();
            for (m, f) in re_flags.iter().zip(['i', 'm', 's']) {
                if has(*m) {
                    flags.push(f);
                }
            }
            let full = if flags.is_empty() { re.clone() } else { format!("(?{flags}){re}") };
            // Compiled (and rejected if invalid) once, by the rule-set compiler.
            vec![ValueMatcher::Regex(full)]
        } else if has(Modifier::Cidr) {
            let RuleValue::Str(text) = value else {
                return Err(RuleError::Value("`cidr` takes a network in CIDR notation".into()));
            };
            let net = parse_net(text).ok_or_else(|| RuleError::Value(format!("`{text}` is not a CIDR network")))?;
            vec![ValueMatcher::Cidr(net)]
        } else if has(Modifier::FieldRef) {
            let RuleValue::Str(field) = value else {
                return Err(RuleError::Value("`fieldref` takes a field name".into()));
            };
            let position = if has(Modifier::Contains) {
                Position::Contains
            } else if has(Modifier::StartsWith) {
                Position::Prefix
            } else if has(Modifier::EndsWith) {
                Position::Suffix
            } else {
                Position::Exact
            };
            vec![ValueMatcher::FieldRef { field: field.clone(), position, cased }]
        } else if matches!(value, RuleValue::Null) {
            if mods.iter().any(|m| !matches!(m, Modifier::All | Modifier::Neq)) {
                return Err(RuleError::Value("null takes no value modifiers".into()));
            }
            vec![ValueMatcher::Null]
        } else {
            string_alternatives(item, value, placeholders)?
                .into_iter()
                .map(|pattern| ValueMatcher::Str { pattern, cased })
                .collect()
        };
        values.push(alternatives);
    }
    Ok(ItemSpec { field: item.field.clone(), values, all: has(Modifier::All), negate: has(Modifier::Neq) })
}

fn number(value: &RuleValue) -> Result<f64, RuleError> {
    match value {
        RuleValue::Int(i) => Ok(*i as f64),
        RuleValue::Float(f) if f.is_finite() => Ok(*f),
        RuleValue::Str(s) => s
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|f| f.is_finite())
            .ok_or_else(|| RuleError::Value(format!("`{s}` is not a number"))),
        _ => Err(RuleError::Value("comparison modifiers take a number".into())),
    }
}

fn parse_net(text: &str) -> Option<IpNet> {
    let text = text.trim();
    text.parse::<IpNet>().ok().or_else(|| text.parse::<std::net::IpAddr>().ok().map(IpNet::from)).map(|n| n.trunc())
}

/// Canonical text of a number for string equality: integers without a fraction, so that
/// `EventID: 4688` and `"4688"` compare equal with `4688` and `4688.0` in events.
pub fn number_text(value: f64) -> String {
    if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{}", value as i64)
    } else {
        let mut buf = ryu::Buffer::new();
        buf.format(value).to_string()
    }
}

/// The string patterns one rule value expands into.
fn string_alternatives(
    item: &FieldItem,
    value: &RuleValue,
    placeholders: &dyn Placeholders,
) -> Result<Vec<Pattern>, RuleError> {
    let has = |m: Modifier| item.modifiers.contains(&m);
    let texts = match value {
        RuleValue::Str(s) => vec![s.clone()],
        RuleValue::Int(i) => vec![i.to_string()],
        // A float written `2.0` matches the text `2.0` and the number 2 (events'
        // numbers are compared in canonical form, `2`).
        RuleValue::Float(f) => {
            let canonical = number_text(*f);
            let written = ryu::Buffer::new().format(*f).to_string();
            if canonical == written {
                vec![canonical]
            } else {
                vec![canonical, written]
            }
        }
        RuleValue::Bool(b) => vec![b.to_string()],
        RuleValue::Null => unreachable!("handled by the caller"),
    };
    let mut patterns = Vec::new();
    for text in &texts {
        if has(Modifier::Expand) {
            patterns.extend(expand_placeholders(text, placeholders)?);
        } else {
            patterns.push(Pattern::parse(text));
        }
    }
    // After a UTF-16 encoding the literals' chars stand for bytes (U+0000..U+00FF),
    // which a following base64 encoding must take as such, not as UTF-8.
    let mut bytes_mode = false;
    // Transformations run in the order written, as pySigma applies them.
    for m in &item.modifiers {
        patterns = match m {
            Modifier::Windash => patterns.iter().flat_map(windash).collect(),
            Modifier::Base64 => {
                let encoded = patterns
                    .iter()
                    .map(|p| Ok(Pattern::literal(&base64_encode(&literal_bytes(p, "base64", bytes_mode)?))))
                    .collect::<Result<_, RuleError>>()?;
                bytes_mode = false;
                encoded
            }
            Modifier::Base64Offset => {
                let mut out = Vec::new();
                for p in &patterns {
                    for variant in base64_offsets(&literal_bytes(p, "base64offset", bytes_mode)?) {
                        out.push(Pattern::literal(&variant));
                    }
                }
                bytes_mode = false;
                out
            }
            Modifier::Utf16Le | Modifier::Wide | Modifier::Utf16Be | Modifier::Utf16 => {
                let (big_endian, bom) = (*m == Modifier::Utf16Be, *m == Modifier::Utf16);
                let encoded = patterns.iter().map(|p| encode_utf16(p, big_endian, bom, bytes_mode)).collect::<Result<
                    _,
                    RuleError,
                >>(
                )?;
                bytes_mode = true;
                encoded
            }
            _ => patterns,
        };
    }
    // Keywords are full-text searches: implicitly "contains".
    let contains = has(Modifier::Contains) || item.field.is_none();
    Ok(patterns
        .into_iter()
        .map(|p| {
            if contains {
                p.with_leading_star().with_trailing_star()
            } else if has(Modifier::StartsWith) {
                p.with_trailing_star()
            } else if has(Modifier::EndsWith) {
                p.with_leading_star()
            } else {
                p
            }
        })
        .collect())
}

/// Bytes of a wildcard-free pattern (its UTF-8, or in `bytes_mode` one byte per char);
/// encodings of wildcards are meaningless.
fn literal_bytes(p: &Pattern, modifier: &str, bytes_mode: bool) -> Result<Vec<u8>, RuleError> {
    let mut out = Vec::new();
    for part in &p.0 {
        match part {
            Part::Lit(s) if bytes_mode => out.extend(s.chars().map(|c| c as u32 as u8)),
            Part::Lit(s) => out.extend_from_slice(s.as_bytes()),
            _ => return Err(RuleError::Modifiers(format!("`{modifier}` cannot encode a value with wildcards"))),
        }
    }
    Ok(out)
}

fn base64_encode(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The three encodings of `value` at byte offsets 0, 1 and 2 of a base64 stream, each
/// cut to the characters that do not depend on the neighbouring bytes.
pub fn base64_offsets(value: &[u8]) -> Vec<String> {
    let mut out = Vec::with_capacity(3);
    for shift in 0..3usize {
        let mut padded = vec![0u8; shift];
        padded.extend_from_slice(value);
        let encoded = base64_encode(&padded);
        // Leading characters covering the `shift` filler bytes.
        let start = [0, 2, 3][shift];
        // Trailing characters mixing in padding or the next unknown byte.
        let end_trim = match (value.len() + shift) % 3 {
            0 => 0,
            1 => 3,
            _ => 2,
        };
        let end = encoded.len().saturating_sub(end_trim);
        if start < end {
            out.push(encoded[start..end].to_string());
        }
    }
    out.dedup();
    out
}

/// UTF-16 encoding of each literal, as a pattern whose chars stand for bytes
/// (U+0000..U+00FF): the form the bytes take when read as Latin-1, and what a following
/// base64 encodes byte for byte.
fn encode_utf16(p: &Pattern, big_endian: bool, bom: bool, bytes_mode: bool) -> Result<Pattern, RuleError> {
    if bytes_mode {
        return Err(RuleError::Modifiers("a UTF-16 encoding cannot follow another".into()));
    }
    let mut out = Pattern::default();
    if bom {
        out.push_str(if big_endian { "\u{FE}\u{FF}" } else { "\u{FF}\u{FE}" });
    }
    for part in &p.0 {
        match part {
            Part::Lit(s) => {
                let mut encoded = String::new();
                for unit in s.encode_utf16() {
                    let [hi, lo] = unit.to_be_bytes();
                    let (a, b) = if big_endian { (hi, lo) } else { (lo, hi) };
                    encoded.push(a as char);
                    encoded.push(b as char);
                }
                out.push_str(&encoded);
            }
            other => out.push(other.clone()),
        }
    }
    Ok(out)
}

fn windash(p: &Pattern) -> Vec<Pattern> {
    let dash_count: usize =
        p.0.iter()
            .map(|part| match part {
                Part::Lit(s) => s.chars().filter(|c| DASHES.contains(c)).count(),
                _ => 0,
            })
            .sum();
    if dash_count == 0 {
        return vec![p.clone()];
    }
    if DASHES.len().checked_pow(dash_count as u32).is_none_or(|n| n > MAX_ENUMERATED_VARIANTS) {
        let mut out = Pattern::default();
        for part in &p.0 {
            match part {
                Part::Lit(s) => {
                    for c in s.chars() {
                        if DASHES.contains(&c) {
                            out.push(Part::Dash);
                        } else {
                            out.push_char(c);
                        }
                    }
                }
                other => out.push(other.clone()),
            }
        }
        return vec![out];
    }
    let mut variants = vec![Pattern::default()];
    for part in &p.0 {
        match part {
            Part::Lit(s) => {
                for c in s.chars() {
                    if DASHES.contains(&c) {
                        variants = variants
                            .into_iter()
                            .flat_map(|v| {
                                DASHES.iter().map(move |d| {
                                    let mut v = v.clone();
                                    v.push_char(*d);
                                    v
                                })
                            })
                            .collect();
                    } else {
                        for v in &mut variants {
                            v.push_char(c);
                        }
                    }
                }
            }
            other => {
                for v in &mut variants {
                    v.push(other.clone());
                }
            }
        }
    }
    variants
}

/// `expand`: `%name%` is a placeholder, `\%` a plain percent sign.
fn expand_placeholders(text: &str, placeholders: &dyn Placeholders) -> Result<Vec<Pattern>, RuleError> {
    // Split into literal segments (still in Sigma string syntax) and placeholder names.
    enum Seg {
        Text(String),
        Name(String),
    }
    let mut segs = Vec::new();
    let mut current = String::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' && chars.peek() == Some(&'%') {
            chars.next();
            current.push('%');
        } else if c == '%' {
            let mut name = String::new();
            let mut closed = false;
            for n in chars.by_ref() {
                if n == '%' {
                    closed = true;
                    break;
                }
                name.push(n);
            }
            if !closed {
                current.push('%');
                current.push_str(&name);
                continue;
            }
            segs.push(Seg::Text(std::mem::take(&mut current)));
            segs.push(Seg::Name(name));
        } else {
            current.push(c);
        }
    }
    segs.push(Seg::Text(current));
    let mut out = vec![Pattern::default()];
    for seg in segs {
        match seg {
            Seg::Text(t) => {
                let parsed = Pattern::parse(&t);
                for p in &mut out {
                    for part in &parsed.0 {
                        p.push(part.clone());
                    }
                }
            }
            Seg::Name(name) => {
                let values = placeholders.values(&name).ok_or_else(|| RuleError::Placeholder(name.clone()))?;
                if values.is_empty() {
                    return Err(RuleError::Placeholder(name));
                }
                if out.len().saturating_mul(values.len()) > MAX_EXPANSION {
                    return Err(RuleError::Limit(format!("placeholder expansion beyond {MAX_EXPANSION} values")));
                }
                out = out
                    .into_iter()
                    .flat_map(|p| {
                        values.iter().map(move |v| {
                            let mut p = p.clone();
                            for part in Pattern::parse(v).0 {
                                p.push(part);
                            }
                            p
                        })
                    })
                    .collect();
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lit(s: &str) -> Part {
        Part::Lit(s.into())
    }

    #[test]
    fn escapes_follow_the_spec_table() {
        // Plain backslash not before a wildcard: one or two backslashes mean one.
        assert_eq!(Pattern::parse(r"C:\Windows").0, vec![lit(r"C:\Windows")]);
        assert_eq!(Pattern::parse(r"C:\\Windows").0, vec![lit(r"C:\Windows")]);
        // Escaped wildcards are plain characters.
        assert_eq!(Pattern::parse(r"a\*b\?c").0, vec![lit("a*b?c")]);
        // Escaped backslash then a wildcard.
        assert_eq!(Pattern::parse(r"a\\*").0, vec![lit(r"a\"), Part::Star]);
        // Three backslashes before a wildcard: a backslash and a plain star.
        assert_eq!(Pattern::parse(r"a\\\*").0, vec![lit(r"a\*")]);
        // Three or four backslashes before other text: two backslashes.
        assert_eq!(Pattern::parse(r"\\\\x").0, vec![lit(r"\\x")]);
        assert_eq!(Pattern::parse(r"\\\x").0, vec![lit(r"\\x")]);
        // Wildcards.
        assert_eq!(Pattern::parse("a*?b**").0, vec![lit("a"), Part::Star, Part::One, lit("b"), Part::Star]);
        // Trailing lone backslash.
        assert_eq!(Pattern::parse(r"a\").0, vec![lit(r"a\")]);
    }

    #[test]
    fn base64offset_variants_match_known_encodings() {
        // "Hello" inside base64 streams at offsets 0, 1, 2.
        let v = base64_offsets(b"Hello");
        assert_eq!(v, vec!["SGVsbG", "hlbGxv", "IZWxsb"]);
        for (shift, variant) in v.iter().enumerate() {
            let mut data = vec![b'x'; shift];
            data.extend_from_slice(b"Hello, world");
            assert!(base64_encode(&data).contains(variant.as_str()), "shift {shift}");
        }
    }

    #[test]
    fn windash_enumerates_five_dashes_per_position() {
        let v = windash(&Pattern::literal(" -a -b"));
        assert_eq!(v.len(), 25);
        assert!(v.contains(&Pattern::literal(" /a \u{2014}b")));
        let many = windash(&Pattern::literal("-a -b -c -d -e"));
        assert_eq!(many.len(), 1, "too many dashes fall back to a character class");
        assert!(many[0].0.contains(&Part::Dash));
    }

    #[test]
    fn utf16_encodings() {
        assert_eq!(encode_utf16(&Pattern::literal("cmd"), false, false, false).unwrap(), Pattern::literal("c\0m\0d\0"));
        assert_eq!(encode_utf16(&Pattern::literal("cmd"), true, false, false).unwrap(), Pattern::literal("\0c\0m\0d"));
        assert_eq!(
            encode_utf16(&Pattern::literal("cmd"), false, true, false).unwrap(),
            Pattern::literal("\u{FF}\u{FE}c\0m\0d\0")
        );
        // Bytes above 0x7F are encoded as bytes by a following base64.
        let encoded = encode_utf16(&Pattern::literal("é"), false, true, false).unwrap();
        assert_eq!(literal_bytes(&encoded, "base64", true).unwrap(), vec![0xFF, 0xFE, 0xE9, 0x00]);
    }

    struct Admins;
    impl Placeholders for Admins {
        fn values(&self, name: &str) -> Option<Vec<String>> {
            (name == "Administrators").then(|| vec!["admin".into(), "root*".into()])
        }
    }

    #[test]
    fn expand_uses_pipeline_values_and_honours_escaped_percent() {
        let got = expand_placeholders(r"\%plain%Administrators%", &Admins).unwrap();
        assert_eq!(
            got,
            vec![Pattern::literal("%plainadmin"), {
                let mut p = Pattern::literal("%plainroot");
                p.push(Part::Star);
                p
            }]
        );
        assert_eq!(expand_placeholders("%nope%", &Admins).unwrap_err().kind(), "placeholder");
    }

    #[test]
    fn numbers_print_canonically() {
        assert_eq!(number_text(4688.0), "4688");
        assert_eq!(number_text(1.5), "1.5");
        assert_eq!(number_text(-3.0), "-3");
    }
}
