//! Every scalar value of an event as text: what Sigma keyword searches look through.
//!
//! One buffer per evaluator, refilled per event that needs it: the values back to back,
//! their spans, and an ASCII-lower-cased copy. A "contains" literal is then looked for
//! once in the whole lower-cased buffer and an occurrence counts when it lies inside a
//! single value, instead of one search per value (a Tetragon event has ~60). The JSON
//! is walked by a streaming visitor, so no `serde_json::Value` tree is built.

use std::fmt::Write as _;
use std::ops::Range;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

#[derive(Debug, Default)]
pub(crate) struct KeywordTexts {
    text: String,
    lower: Vec<u8>,
    spans: Vec<Range<usize>>,
}

impl KeywordTexts {
    /// Replaces the texts with those of the JSON event `json`: strings unescaped,
    /// numbers as serde_json prints them, booleans as `true` / `false`; nulls and
    /// containers add nothing. Invalid JSON leaves no texts.
    pub(crate) fn load(&mut self, json: &str) {
        self.text.clear();
        self.spans.clear();
        let mut de = serde_json::Deserializer::from_str(json);
        if Collect(self).deserialize(&mut de).and_then(|()| de.end()).is_err() {
            self.text.clear();
            self.spans.clear();
        }
        self.lower.clear();
        self.lower.extend_from_slice(self.text.as_bytes());
        self.lower.make_ascii_lowercase();
    }

    /// The values, as they are.
    pub(crate) fn values(&self) -> impl Iterator<Item = &str> + '_ {
        self.spans.iter().map(|span| &self.text[span.clone()])
    }

    /// Whether some value, ASCII-lower-cased, contains the needle of `finder` (itself
    /// lower-case and not empty).
    pub(crate) fn any_contains_lower(&self, finder: &memchr::memmem::Finder<'_>) -> bool {
        let len = finder.needle().len();
        finder.find_iter(&self.lower).any(|at| {
            // The last value starting at or before `at` is the only one that can hold it.
            let after = self.spans.partition_point(|span| span.start <= at);
            after > 0 && at + len <= self.spans[after - 1].end
        })
    }

    fn push(&mut self, value: impl std::fmt::Display) {
        let start = self.text.len();
        // Writing to a String cannot fail.
        let _ = write!(self.text, "{value}");
        self.spans.push(start..self.text.len());
    }
}

struct Collect<'a>(&'a mut KeywordTexts);

impl<'de> DeserializeSeed<'de> for Collect<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Collect<'_> {
    type Value = ();

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push(v);
        Ok(())
    }

    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(v);
        Ok(())
    }

    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(v);
        Ok(())
    }

    fn visit_f64<E>(self, v: f64) -> Result<(), E> {
        // serde_json's own float format (`1.0`, `1e20`), as a parsed value prints it.
        if let Some(number) = serde_json::Number::from_f64(v) {
            self.0.push(number);
        }
        Ok(())
    }

    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(v);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(Collect(&mut *self.0))?.is_some() {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_key::<IgnoredAny>()?.is_some() {
            map.next_value_seed(Collect(&mut *self.0))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(json: &str) -> KeywordTexts {
        let mut texts = KeywordTexts::default();
        texts.load(json);
        texts
    }

    fn contains(texts: &KeywordTexts, needle: &str) -> bool {
        texts.any_contains_lower(&memchr::memmem::Finder::new(needle.as_bytes()))
    }

    /// The reference: the scalars of serde_json's parsed tree, as it prints them.
    fn parsed_scalars(json: &str) -> Vec<String> {
        fn walk(v: &serde_json::Value, out: &mut Vec<String>) {
            match v {
                serde_json::Value::String(s) => out.push(s.clone()),
                serde_json::Value::Number(n) => out.push(n.to_string()),
                serde_json::Value::Bool(b) => out.push(b.to_string()),
                serde_json::Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
                serde_json::Value::Object(map) => map.values().for_each(|i| walk(i, out)),
                serde_json::Value::Null => {}
            }
        }
        let mut out = Vec::new();
        walk(&serde_json::from_str(json).unwrap(), &mut out);
        out
    }

    #[test]
    fn values_are_the_scalars_as_a_parsed_value_prints_them() {
        let json = r#"{"a":"x\"y\u00e9","b":[1,-2,1.5,1e20,-0.0,18446744073709551615,true,null,{"c":"Z"}],"d":{}}"#;
        let loaded = texts(json);
        let values: Vec<&str> = loaded.values().collect();
        assert_eq!(values, parsed_scalars(json));
        assert_eq!(values[0], "x\"y\u{e9}");
        assert_eq!(values.len(), 9);
    }

    #[test]
    fn a_match_must_lie_inside_one_value() {
        let t = texts(r#"{"k":"/usr/BIN/wget","n":"ab","m":"cd"}"#);
        assert!(contains(&t, "bin/wget"));
        assert!(contains(&t, "cd"));
        // "ab" then "cd" are adjacent in the buffer but in two values.
        assert!(!contains(&t, "abcd"));
        assert!(!contains(&t, "bc"));
        // Keys are not values.
        assert!(!contains(&t, "k"));
    }

    #[test]
    fn invalid_json_has_no_values_and_the_buffer_is_reused() {
        let mut t = texts(r#"{"a":"one"}"#);
        t.load("{not json");
        assert_eq!(t.values().count(), 0);
        assert!(!contains(&t, "one"));
        t.load(r#"["two"]"#);
        assert_eq!(t.values().collect::<Vec<_>>(), ["two"]);
    }
}
