//! The configuration as a tree of values that remember where they were written (a byte
//! range of the file, or an environment variable), so that validation can name the line
//! of every mistake instead of stopping at the first one like a typed deserialize does.
//!
//! The byte ranges come from the `toml` crate's span support: a type that asks the
//! deserializer for the `Spanned` wrapper struct receives the value together with its
//! start and end offsets. We ask for it on every value and every key, and accept the
//! plain value where the parser has no span (implicit tables such as `sources` in
//! `[[sources.file]]`).

use std::fmt;
use std::ops::Range;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

/// The names under which `toml` (through `serde_spanned` 0.6) hands out spans. They are
/// not public API; `spans_are_reported` below fails if they change.
const SPANNED_NAME: &str = "$__serde_spanned_private_Spanned";
const SPANNED_START: &str = "$__serde_spanned_private_start";
const SPANNED_END: &str = "$__serde_spanned_private_end";
const SPANNED_VALUE: &str = "$__serde_spanned_private_value";
const SPANNED_FIELDS: &[&str] = &[SPANNED_START, SPANNED_END, SPANNED_VALUE];
/// The key under which `toml` presents a datetime as a one-entry map.
const DATETIME_FIELD: &str = "$__toml_private_datetime";

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Byte range in the configuration file.
    File(Range<usize>),
    /// An environment variable (also one read from `.env`).
    Env(String),
    /// Not known (an implicit table); the enclosing value's origin stands in.
    Unknown,
}

/// A value and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub origin: Origin,
    pub value: T,
}

impl<T> Located<T> {
    pub fn new(origin: Origin, value: T) -> Self {
        Located { origin, value }
    }
}

/// A TOML value whose children carry their origins.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    String(String),
    Integer(i64),
    Float(f64),
    Boolean(bool),
    Datetime(String),
    Array(Vec<Located<Node>>),
    /// Entries in the order they were written.
    Table(Vec<(Located<String>, Located<Node>)>),
}

impl Node {
    /// "a string", "an integer", … for messages like "expected a duration, found an integer".
    pub fn kind_name(&self) -> &'static str {
        match self {
            Node::String(_) => "a string",
            Node::Integer(_) => "an integer",
            Node::Float(_) => "a float",
            Node::Boolean(_) => "a boolean",
            Node::Datetime(_) => "a date-time",
            Node::Array(_) => "an array",
            Node::Table(_) => "a table",
        }
    }

    /// The entry named `key`, when this is a table.
    pub fn get(&self, key: &str) -> Option<&Located<Node>> {
        match self {
            Node::Table(entries) => entries.iter().find(|(k, _)| k.value == key).map(|(_, v)| v),
            _ => None,
        }
    }

    /// Converts to a plain `toml::Value` for the final typed deserialize.
    pub fn to_toml(&self) -> toml::Value {
        match self {
            Node::String(s) => toml::Value::String(s.clone()),
            Node::Integer(i) => toml::Value::Integer(*i),
            Node::Float(f) => toml::Value::Float(*f),
            Node::Boolean(b) => toml::Value::Boolean(*b),
            // Validation refuses datetimes (no setting takes one) before this runs.
            Node::Datetime(d) => toml::Value::String(d.clone()),
            Node::Array(items) => toml::Value::Array(items.iter().map(|item| item.value.to_toml()).collect()),
            Node::Table(entries) => toml::Value::Table(
                entries.iter().map(|(key, value)| (key.value.clone(), value.value.to_toml())).collect(),
            ),
        }
    }
}

/// Parses TOML text into a located tree. The error is the parser's (a syntax error),
/// with its byte range when it has one.
pub fn parse(text: &str) -> Result<Located<Node>, (String, Option<Range<usize>>)> {
    toml::from_str::<Located<Node>>(text).map_err(|e| (e.message().to_string(), e.span()))
}

impl<'de> Deserialize<'de> for Located<Node> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, NodeVisitor)
    }
}

impl<'de> Deserialize<'de> for Located<String> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_struct(SPANNED_NAME, SPANNED_FIELDS, KeyVisitor)
    }
}

/// Reads the `start`, `end`, `value` entries of a spanned wrapper once its first key
/// (`start`) has been read.
fn read_spanned<'de, A: MapAccess<'de>, T: Deserialize<'de>>(mut map: A) -> Result<(Range<usize>, T), A::Error> {
    let start: usize = map.next_value()?;
    expect_plain_key(&mut map, SPANNED_END)?;
    let end: usize = map.next_value()?;
    expect_plain_key(&mut map, SPANNED_VALUE)?;
    let value: T = map.next_value()?;
    Ok((start..end, value))
}

fn expect_plain_key<'de, A: MapAccess<'de>>(map: &mut A, expected: &str) -> Result<(), A::Error> {
    match map.next_key::<Located<String>>()? {
        Some(key) if key.origin == Origin::Unknown && key.value == expected => Ok(()),
        _ => Err(de::Error::custom("malformed span information from the TOML parser")),
    }
}

/// A value the parser handed over without its span.
struct PlainNode(Located<Node>);

impl<'de> Deserialize<'de> for PlainNode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor).map(PlainNode)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Located<Node>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(Located::new(Origin::Unknown, Node::Boolean(v)))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(Located::new(Origin::Unknown, Node::Integer(v)))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        let v = i64::try_from(v).map_err(|_| E::custom("integer out of range"))?;
        Ok(Located::new(Origin::Unknown, Node::Integer(v)))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(Located::new(Origin::Unknown, Node::Float(v)))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Located::new(Origin::Unknown, Node::String(v.to_string())))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Located::new(Origin::Unknown, Node::String(v)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Located<Node>>()? {
            items.push(item);
        }
        Ok(Located::new(Origin::Unknown, Node::Array(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let Some(first_key) = map.next_key::<Located<String>>()? else {
            return Ok(Located::new(Origin::Unknown, Node::Table(Vec::new())));
        };
        // The parser's own keys come without a span; a user's key always has one, so a
        // quoted user key spelled like the parser's cannot be mistaken for it.
        if first_key.origin == Origin::Unknown {
            if first_key.value == SPANNED_START {
                let (span, PlainNode(node)) = read_spanned(map)?;
                return Ok(Located::new(Origin::File(span), node.value));
            }
            if first_key.value == DATETIME_FIELD {
                let text: String = map.next_value()?;
                return Ok(Located::new(Origin::Unknown, Node::Datetime(text)));
            }
        }
        let mut entries = vec![(first_key, map.next_value::<Located<Node>>()?)];
        while let Some(key) = map.next_key::<Located<String>>()? {
            let value = map.next_value::<Located<Node>>()?;
            entries.push((key, value));
        }
        Ok(Located::new(Origin::Unknown, Node::Table(entries)))
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Located<String>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a TOML key")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(Located::new(Origin::Unknown, v.to_string()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(Located::new(Origin::Unknown, v))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        match map.next_key::<Located<String>>()? {
            Some(key) if key.origin == Origin::Unknown && key.value == SPANNED_START => {
                let (span, text): (_, String) = read_spanned(map)?;
                Ok(Located::new(Origin::File(span), text))
            }
            _ => Err(de::Error::custom("expected a key")),
        }
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.bytes().filter(|b| *b == b'\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn position(text: &str, origin: &Origin) -> (usize, usize) {
        match origin {
            Origin::File(span) => line_column(text, span.start),
            other => panic!("no span: {other:?}"),
        }
    }

    #[test]
    fn spans_are_reported() {
        let text = "[store]\ndir = \"data\"\n\n[api]\n  listen = \"127.0.0.1:8080\"\n";
        let root = parse(text).unwrap();
        let store = root.value.get("store").unwrap();
        let dir = store.value.get("dir").unwrap();
        assert_eq!(dir.value, Node::String("data".into()));
        assert_eq!(position(text, &dir.origin), (2, 7));
        let Node::Table(entries) = &root.value.get("api").unwrap().value else { panic!("api is a table") };
        let (key, value) = &entries[0];
        assert_eq!(key.value, "listen");
        assert_eq!(position(text, &key.origin), (5, 3));
        assert_eq!(position(text, &value.origin), (5, 12));
    }

    #[test]
    fn arrays_of_tables_and_implicit_tables_parse() {
        let text = "[[sources.file]]\npaths = [\"a\", \"b\"]\n[[sources.file]]\npaths = []\nsource = \"syslog\"\n";
        let root = parse(text).unwrap();
        let sources = root.value.get("sources").unwrap();
        let Node::Array(files) = &sources.value.get("file").unwrap().value else { panic!("file is an array") };
        assert_eq!(files.len(), 2);
        let Node::Array(paths) = &files[0].value.get("paths").unwrap().value else { panic!("paths is an array") };
        assert_eq!(position(text, &paths[1].origin), (2, 15));
        assert_eq!(position(text, &files[1].value.get("source").unwrap().origin), (5, 10));
    }

    #[test]
    fn every_value_kind_parses() {
        let text = "s = 'x'\ni = 3\nf = 1.5\nb = true\nd = 2024-01-02T03:04:05Z\na = [1, [2]]\nt = { k = 'v' }\n";
        let root = parse(text).unwrap();
        assert_eq!(root.value.get("s").unwrap().value, Node::String("x".into()));
        assert_eq!(root.value.get("i").unwrap().value, Node::Integer(3));
        assert_eq!(root.value.get("f").unwrap().value, Node::Float(1.5));
        assert_eq!(root.value.get("b").unwrap().value, Node::Boolean(true));
        assert_eq!(root.value.get("d").unwrap().value, Node::Datetime("2024-01-02T03:04:05Z".into()));
        assert!(matches!(&root.value.get("a").unwrap().value, Node::Array(items) if items.len() == 2));
        let inline = root.value.get("t").unwrap();
        assert_eq!(inline.value.get("k").unwrap().value, Node::String("v".into()));
        assert_eq!(position(text, &inline.value.get("k").unwrap().origin), (7, 11));
    }

    #[test]
    fn keys_spelled_like_parser_internals_stay_ordinary_keys() {
        let text = "[t]\n\"$__serde_spanned_private_start\" = 1\n\"$__toml_private_datetime\" = 'x'\n";
        let root = parse(text).unwrap();
        let table = &root.value.get("t").unwrap().value;
        assert_eq!(table.get("$__serde_spanned_private_start").unwrap().value, Node::Integer(1));
        assert_eq!(table.get("$__toml_private_datetime").unwrap().value, Node::String("x".into()));
    }

    #[test]
    fn syntax_errors_carry_a_span() {
        let text = "[store]\ndir = \"unterminated\n";
        let (message, span) = parse(text).unwrap_err();
        assert!(!message.is_empty());
        assert_eq!(line_column(text, span.unwrap().start).0, 2);
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = format!(
            "a = {}{}\nb = {}1{}\n",
            "[".repeat(10_000),
            "]".repeat(10_000),
            "{x=".repeat(10_000),
            "}".repeat(10_000)
        );
        assert!(parse(&text).is_err());
        let dotted = format!("[{}a]\nk = 1\n", "a.".repeat(100_000));
        assert!(parse(&dotted).is_err());
    }

    #[test]
    fn converts_to_a_toml_value() {
        let root = parse("a = [1, 2]\n[t]\nk = 'v'\n").unwrap();
        let value = root.value.to_toml();
        assert_eq!(value["a"].as_array().unwrap().len(), 2);
        assert_eq!(value["t"]["k"].as_str(), Some("v"));
    }

    #[test]
    fn line_column_counts_characters() {
        let text = "é = 1\nab = 'ü'";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, text.find("ab").unwrap()), (2, 1));
        assert_eq!(line_column(text, text.find('\'').unwrap()), (2, 6));
        assert_eq!(line_column(text, text.find('=').unwrap()), (1, 3));
        assert_eq!(line_column(text, 10_000), (2, 9));
    }
}
