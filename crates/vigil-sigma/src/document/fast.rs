//! The walker [`Document::load_json`] tries first: a hand-written pass over the JSON
//! text that builds the same document as the serde walker, without serde's per-value
//! dispatch, raw-value re-parsing of skipped containers or key copies.
//!
//! It only ever *accepts less* than serde_json: whatever it does not handle the way
//! serde_json would — invalid JSON, `\u` escapes of surrogates, numbers with exponents
//! or of unusual length, nesting near the limits — makes it give up
//! ([`Unsupported`]), and the caller runs the serde walker from scratch, which then
//! decides (and words any error). So on the inputs it accepts, serde_json accepts them
//! too, and both walkers make the same document (a proptest below checks this).

use super::{child_of, descends, lower_ascii, Document, FieldId, FieldTable, Hoist, Kind};

/// The input is invalid or unusual: let the serde walker decide.
#[derive(Debug)]
pub(super) struct Unsupported;

type Step = Result<(), Unsupported>;

/// Nesting (of containers walked or skipped) at which the fast walker gives up. Below
/// both the serde walker's own limit on walked containers (`MAX_DEPTH`) and
/// serde_json's recursion limit (128), so neither is reached on accepted input.
const MAX_NESTING: usize = 64;

/// Number tokens longer than this are left to serde_json: shorter ones without an
/// exponent cannot overflow an f64, so skipping them (which only checks the grammar)
/// and parsing them agree on whether they are valid.
const MAX_NUMBER_LEN: usize = 64;

/// Integers of at most this many digits fit an i64 / u64 whatever their digits: their
/// canonical text (what `itoa` writes for serde_json's value) is the token itself.
const MAX_PLAIN_DIGITS: usize = 18;

/// Walks `json` into `doc` (already cleared by the caller).
pub(super) fn walk(table: &FieldTable, doc: &mut Document, json: &str) -> Step {
    // Values are spans of the document's text, which starts as a copy of the event:
    // strings without escapes, integers and booleans are spans of that copy (one
    // copy of the event instead of one per value); decoded strings and canonical
    // number texts are appended after it.
    if !doc.text.is_empty() || json.len() > (u32::MAX / 2) as usize {
        return Err(Unsupported);
    }
    doc.text.push_str(json);
    let mut w = FastWalker { table, doc, json, pos: 0, depth: 0 };
    w.value([None, None], Hoist::Top, false)?;
    w.skip_ws();
    if w.pos != json.len() {
        return Err(Unsupported);
    }
    w.doc.source_len = json.len();
    Ok(())
}

/// Everything a document holds that the matcher can see, in the order it holds it:
/// per present field, each value's kind, text and number bits.
type Contents = Vec<(FieldId, Vec<(Kind, String, u64)>)>;

fn contents(doc: &Document) -> Contents {
    doc.present_fields()
        .iter()
        .map(|&f| (f, doc.values(f).map(|v| (v.kind, v.text.to_string(), v.number.to_bits())).collect()))
        .collect()
}

/// The fields the differential check extracts: plain, dotted, Windows-flattened and
/// non-ASCII names, as rules read them (the proptests and the fuzz target share it).
pub(super) const DIFFERENTIAL_FIELDS: &[&str] = &[
    "Image",
    "EventID",
    "Provider_Name",
    "Channel",
    "Event.System.Channel",
    "TimeCreated_SystemTime",
    "Param1",
    "a",
    "a.b",
    "x.y.z",
    "obj",
    "n",
    "Name",
    "é",
];

pub(super) fn differential_table() -> FieldTable {
    let mut table = FieldTable::default();
    for name in DIFFERENTIAL_FIELDS {
        table.intern(name);
    }
    table
}

/// The differential check behind the proptests and the `document_fast_vs_serde` fuzz
/// target: the fast walker accepts only what serde_json accepts and then builds the
/// same document, and `load_json` on a reused document agrees with the serde walker,
/// errors included. Returns what differs, or whether the fast walker took `json`.
pub(super) fn disagreement(table: &FieldTable, json: &str) -> Result<bool, String> {
    let mut reference = Document::new();
    let expected = reference.load_json_serde(table, json).map_err(|e| e.to_string());
    let mut fast = Document::new();
    fast.clear();
    fast.heads.resize(table.len(), 0);
    let accepted = walk(table, &mut fast, json).is_ok();
    if accepted {
        if let Err(e) = &expected {
            return Err(format!("the fast walker accepted what serde rejects ({e}): {json:?}"));
        }
        if contents(&fast) != contents(&reference) {
            return Err(format!(
                "the walkers differ on {json:?}\nfast:  {:?}\nserde: {:?}",
                contents(&fast),
                contents(&reference)
            ));
        }
    }
    // A reused document: the combined path, after some other event.
    let mut combined = Document::new();
    combined
        .load_json(table, r##"{"Image":"previous","a":{"b":[1,2]}}"##)
        .map_err(|e| format!("the warm-up event failed: {e}"))?;
    let got = combined.load_json(table, json).map_err(|e| e.to_string());
    if got != expected {
        return Err(format!("load_json gives {got:?}, the serde walker {expected:?}, on {json:?}"));
    }
    if got.is_ok() && contents(&combined) != contents(&reference) {
        return Err(format!("a reused document differs from a fresh one on {json:?}"));
    }
    Ok(accepted)
}

struct FastWalker<'t, 'd, 'j> {
    table: &'t FieldTable,
    doc: &'d mut Document,
    json: &'j str,
    pos: usize,
    depth: usize,
}

const WS: [bool; 256] = {
    let mut t = [false; 256];
    t[b' ' as usize] = true;
    t[b'\n' as usize] = true;
    t[b'\t' as usize] = true;
    t[b'\r' as usize] = true;
    t
};

impl FastWalker<'_, '_, '_> {
    #[inline]
    fn bytes(&self) -> &[u8] {
        self.json.as_bytes()
    }

    #[inline]
    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    #[inline]
    fn skip_ws(&mut self) {
        let bytes = self.json.as_bytes();
        while let Some(&b) = bytes.get(self.pos) {
            if !WS[b as usize] {
                break;
            }
            self.pos += 1;
        }
    }

    /// Consumes `byte` after optional blank space.
    #[inline]
    fn expect(&mut self, byte: u8) -> Step {
        self.skip_ws();
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(Unsupported)
        }
    }

    #[inline]
    fn enter(&mut self) -> Step {
        self.depth += 1;
        if self.depth >= MAX_NESTING {
            return Err(Unsupported);
        }
        Ok(())
    }

    /// After a member or element: `Ok(true)` when another follows (`,` consumed),
    /// `Ok(false)` at the `close` byte (consumed).
    #[inline]
    fn next_or_close(&mut self, close: u8) -> Result<bool, Unsupported> {
        self.skip_ws();
        match self.peek() {
            Some(b',') => {
                self.pos += 1;
                Ok(true)
            }
            Some(b) if b == close => {
                self.pos += 1;
                Ok(false)
            }
            _ => Err(Unsupported),
        }
    }

    /// Consumes `[` or `{` and reports whether the container is empty (its closing
    /// byte then consumed too).
    #[inline]
    fn open(&mut self, close: u8) -> Result<bool, Unsupported> {
        self.enter()?;
        self.pos += 1;
        self.skip_ws();
        if self.peek() == Some(close) {
            self.pos += 1;
            self.depth -= 1;
            return Ok(true);
        }
        Ok(false)
    }

    fn mark_complex(&mut self, ids: [Option<FieldId>; 2], system: bool) {
        let [a, b] = ids;
        if let Some(id) = a {
            self.doc.push_entry(id, Kind::Complex, 0, 0, 0.0, false);
        }
        if let Some(id) = b {
            self.doc.push_entry(id, Kind::Complex, 0, 0, 0.0, system);
        }
    }

    fn push_scalar(&mut self, ids: [Option<FieldId>; 2], system: bool, kind: Kind, span: (u32, u32), number: f64) {
        let [a, b] = ids;
        if let Some(id) = a {
            self.doc.push_entry(id, kind, span.0, span.1, number, false);
        }
        if let Some(id) = b {
            self.doc.push_entry(id, kind, span.0, span.1, number, system);
        }
    }

    /// A value read as the serde walker's `ValueSeed { ids, hoist, system }` reads it.
    fn value(&mut self, ids: [Option<FieldId>; 2], hoist: Hoist, system: bool) -> Step {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => self.object(ids, hoist, system),
            Some(b'[') => self.array(ids, hoist, system),
            // A scalar nothing reads: only checked.
            _ if ids == [None, None] => self.skip_value(),
            Some(b'"') => {
                self.pos += 1;
                let span = self.string_span()?;
                self.push_scalar(ids, system, Kind::Str, span, 0.0);
                Ok(())
            }
            Some(b't') => self.literal_value(ids, system, "true", Kind::Bool, 1.0),
            Some(b'f') => self.literal_value(ids, system, "false", Kind::Bool, 0.0),
            Some(b'n') => self.literal_value(ids, system, "null", Kind::Null, 0.0),
            Some(b'-' | b'0'..=b'9') => self.number_value(ids, system),
            _ => Err(Unsupported),
        }
    }

    fn literal_value(&mut self, ids: [Option<FieldId>; 2], system: bool, word: &str, kind: Kind, number: f64) -> Step {
        let start = self.pos as u32;
        self.literal(word)?;
        // A null's text is empty.
        let end = if kind == Kind::Null { start } else { self.pos as u32 };
        self.push_scalar(ids, system, kind, (start, end), number);
        Ok(())
    }

    fn literal(&mut self, word: &str) -> Step {
        if self.bytes()[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(())
        } else {
            Err(Unsupported)
        }
    }

    fn object(&mut self, ids: [Option<FieldId>; 2], hoist: Hoist, system: bool) -> Step {
        self.mark_complex(ids, system);
        if !descends(self.table, &self.doc.path, hoist) {
            return self.skip_value();
        }
        if self.open(b'}')? {
            return Ok(());
        }
        let base_len = self.doc.path.len();
        let separator = !matches!(hoist, Hoist::Top);
        let key_start = base_len + separator as usize;
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(Unsupported);
            }
            self.pos += 1;
            if separator {
                self.doc.path.push(b'.');
            }
            self.key_into_path()?;
            self.expect(b':')?;
            let (ids, child_hoist, child_system) = child_of(self.table, self.doc, hoist, key_start);
            self.skip_ws();
            if ids == [None, None] {
                // Nothing reads this value itself: walk it only if it is a container
                // something below may be read from (as the serde walker does).
                let container = matches!(self.peek(), Some(b'{' | b'['));
                let below = !matches!(child_hoist, Hoist::Off) || self.table.is_prefix(&self.doc.path);
                if container && below {
                    self.value(ids, child_hoist, child_system)?;
                } else {
                    self.skip_value()?;
                }
            } else {
                self.value(ids, child_hoist, child_system)?;
            }
            self.doc.path.truncate(base_len);
            if !self.next_or_close(b'}')? {
                break;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    fn array(&mut self, ids: [Option<FieldId>; 2], hoist: Hoist, system: bool) -> Step {
        self.mark_complex(ids, system);
        // Elements share the array's path (see the serde walker).
        let element_read = ids != [None, None] || descends(self.table, &self.doc.path, hoist);
        if !element_read {
            return self.skip_value();
        }
        if self.open(b']')? {
            return Ok(());
        }
        loop {
            self.value(ids, hoist, system)?;
            if !self.next_or_close(b']')? {
                break;
            }
        }
        self.depth -= 1;
        Ok(())
    }

    /// Checks and passes over one value.
    fn skip_value(&mut self) -> Step {
        self.skip_ws();
        match self.peek() {
            Some(b'{') => {
                if self.open(b'}')? {
                    return Ok(());
                }
                loop {
                    self.skip_ws();
                    if self.peek() != Some(b'"') {
                        return Err(Unsupported);
                    }
                    self.pos += 1;
                    self.skip_string()?;
                    self.expect(b':')?;
                    self.skip_value()?;
                    if !self.next_or_close(b'}')? {
                        break;
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'[') => {
                if self.open(b']')? {
                    return Ok(());
                }
                loop {
                    self.skip_value()?;
                    if !self.next_or_close(b']')? {
                        break;
                    }
                }
                self.depth -= 1;
                Ok(())
            }
            Some(b'"') => {
                self.pos += 1;
                self.skip_string()
            }
            Some(b't') => self.literal("true"),
            Some(b'f') => self.literal("false"),
            Some(b'n') => self.literal("null"),
            Some(b'-' | b'0'..=b'9') => self.number_token().map(|_| ()),
            _ => Err(Unsupported),
        }
    }

    /// Index of the first byte at or after `from` that ends a run of plain string
    /// bytes: `"`, `\` or a control character (or the end of the text).
    #[inline]
    fn plain_end(&self, from: usize) -> usize {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let bytes = self.bytes();
        let mut i = from;
        // Eight bytes at a time: a byte's high bit is set in `special` when it is `"`,
        // `\` or below 0x20 (the lowest set bit marks the first such byte exactly;
        // borrows only carry upwards).
        while i + 8 <= bytes.len() {
            let w = u64::from_le_bytes(bytes[i..i + 8].try_into().expect("8 bytes"));
            let quote = w ^ (ONES * b'"' as u64);
            let backslash = w ^ (ONES * b'\\' as u64);
            let special = (quote.wrapping_sub(ONES) & !quote)
                | (backslash.wrapping_sub(ONES) & !backslash)
                | (w.wrapping_sub(ONES * 0x20) & !w);
            let special = special & HIGH;
            if special != 0 {
                return i + (special.trailing_zeros() / 8) as usize;
            }
            i += 8;
        }
        while i < bytes.len() && !matches!(bytes[i], b'"' | b'\\' | 0..=0x1f) {
            i += 1;
        }
        i
    }

    /// After the opening quote: checks and passes over a string.
    fn skip_string(&mut self) -> Step {
        loop {
            let at = self.plain_end(self.pos);
            match self.bytes().get(at) {
                Some(b'"') => {
                    self.pos = at + 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    self.pos = at + 1;
                    self.escape()?;
                }
                _ => return Err(Unsupported),
            }
        }
    }

    /// After the opening quote: a string's text, as a span of the document's text.
    fn string_span(&mut self) -> Result<(u32, u32), Unsupported> {
        let at = self.plain_end(self.pos);
        if self.bytes().get(at) == Some(&b'"') {
            // No escapes: the span of the event's copy.
            let span = (self.pos as u32, at as u32);
            self.pos = at + 1;
            return Ok(span);
        }
        let start = self.doc.text.len();
        let mut out = std::mem::take(&mut self.doc.text);
        let decoded = self.decode_rest(&mut out);
        self.doc.text = out;
        decoded?;
        Ok((start as u32, self.doc.text.len() as u32))
    }

    /// After the opening quote: decodes a string onto `out`.
    fn decode_rest(&mut self, out: &mut String) -> Step {
        loop {
            let at = self.plain_end(self.pos);
            // `at` is at an ASCII byte (or the end), so a char boundary.
            let run = &self.json[self.pos..at.min(self.json.len())];
            match self.bytes().get(at) {
                Some(b'"') => {
                    out.push_str(run);
                    self.pos = at + 1;
                    return Ok(());
                }
                Some(b'\\') => {
                    out.push_str(run);
                    self.pos = at + 1;
                    out.push(self.escape()?);
                }
                _ => return Err(Unsupported),
            }
        }
    }

    /// After the opening quote: decodes an object key, ASCII-lower-cased, onto the
    /// document's path.
    fn key_into_path(&mut self) -> Step {
        let from = self.doc.path.len();
        let at = self.plain_end(self.pos);
        if self.bytes().get(at) == Some(&b'"') {
            // The common case: no escapes.
            self.doc.path.extend_from_slice(&self.json.as_bytes()[self.pos..at]);
            self.pos = at + 1;
        } else {
            let mut decoded = String::new();
            self.decode_rest(&mut decoded)?;
            self.doc.path.extend_from_slice(decoded.as_bytes());
        }
        lower_ascii(&mut self.doc.path[from..]);
        Ok(())
    }

    /// After a backslash: checks one escape and returns the character it stands for.
    /// `\u` escapes of surrogates (paired or not) are left to serde_json, whose
    /// handling of them depends on whether the string is decoded or skipped.
    fn escape(&mut self) -> Result<char, Unsupported> {
        let Some(&b) = self.bytes().get(self.pos) else { return Err(Unsupported) };
        self.pos += 1;
        let c = match b {
            b'"' => '"',
            b'\\' => '\\',
            b'/' => '/',
            b'b' => '\u{8}',
            b'f' => '\u{c}',
            b'n' => '\n',
            b'r' => '\r',
            b't' => '\t',
            b'u' => {
                let hex = self.bytes().get(self.pos..self.pos + 4).ok_or(Unsupported)?;
                let mut n = 0u32;
                for &h in hex {
                    let d = (h as char).to_digit(16).ok_or(Unsupported)?;
                    n = n * 16 + d;
                }
                self.pos += 4;
                char::from_u32(n).ok_or(Unsupported)?
            }
            _ => return Err(Unsupported),
        };
        Ok(c)
    }

    /// Checks and passes over a number; returns its text and whether it is a plain
    /// integer (no fraction) of at most [`MAX_PLAIN_DIGITS`] digits.
    fn number_token(&mut self) -> Result<(usize, usize, bool), Unsupported> {
        let bytes = self.json.as_bytes();
        let start = self.pos;
        let mut i = start;
        if bytes.get(i) == Some(&b'-') {
            i += 1;
        }
        let digits_start = i;
        match bytes.get(i) {
            Some(b'0') => i += 1,
            Some(b'1'..=b'9') => {
                while matches!(bytes.get(i), Some(b'0'..=b'9')) {
                    i += 1;
                }
            }
            _ => return Err(Unsupported),
        }
        let int_digits = i - digits_start;
        let mut plain = true;
        if bytes.get(i) == Some(&b'.') {
            i += 1;
            let frac_start = i;
            while matches!(bytes.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            if i == frac_start {
                return Err(Unsupported);
            }
            plain = false;
        }
        // A digit after a leading 0 is an error to serde_json; exponents can overflow.
        if matches!(bytes.get(i), Some(b'0'..=b'9' | b'e' | b'E')) || i - start > MAX_NUMBER_LEN {
            return Err(Unsupported);
        }
        self.pos = i;
        Ok((start, i, plain && int_digits <= MAX_PLAIN_DIGITS))
    }

    fn number_value(&mut self, ids: [Option<FieldId>; 2], system: bool) -> Step {
        let (start, end, plain) = self.number_token()?;
        let token = &self.json[start..end];
        // serde_json reads `-0` as the float -0.0.
        if plain && token != "-0" {
            let (negative, digits) = match token.strip_prefix('-') {
                Some(d) => (true, d),
                None => (false, token),
            };
            let magnitude = digits.bytes().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
            // As serde_json's visit_i64 / visit_u64 would convert them.
            let number = if negative { -(magnitude as i64) as f64 } else { magnitude as f64 };
            // The token is the canonical text: no sign but `-`, no leading zeros.
            self.push_scalar(ids, system, Kind::Int, (start as u32, end as u32), number);
            return Ok(());
        }
        // Fractions and long integers: serde_json's own conversion, so the value (and
        // its canonical text) is exactly the serde walker's.
        let (kind, text, number) = match serde_json::from_str::<ParsedNumber>(token).map_err(|_| Unsupported)? {
            ParsedNumber::Int(text, v) => (Kind::Int, text, v),
            ParsedNumber::Float(v) => (Kind::Float, crate::value::number_text(v), v),
        };
        let span = self.doc.push_text(&text);
        self.push_scalar(ids, system, kind, span, number);
        Ok(())
    }
}

/// A number as serde_json's `deserialize_any` hands it over.
enum ParsedNumber {
    Int(String, f64),
    Float(f64),
}

impl<'de> serde::Deserialize<'de> for ParsedNumber {
    fn deserialize<D: serde::Deserializer<'de>>(de: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = ParsedNumber;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E>(self, v: i64) -> Result<ParsedNumber, E> {
                Ok(ParsedNumber::Int(itoa::Buffer::new().format(v).to_string(), v as f64))
            }
            fn visit_u64<E>(self, v: u64) -> Result<ParsedNumber, E> {
                Ok(ParsedNumber::Int(itoa::Buffer::new().format(v).to_string(), v as f64))
            }
            fn visit_f64<E>(self, v: f64) -> Result<ParsedNumber, E> {
                Ok(ParsedNumber::Float(v))
            }
        }
        de.deserialize_any(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check(json: &str) -> Result<bool, TestCaseError> {
        disagreement(&differential_table(), json).map_err(TestCaseError::fail)
    }

    #[test]
    fn tricky_inputs_agree_with_serde() {
        let cases = [
            r#"{"Image":"C:\\Windows\\x.exe","EventID":4688}"#,
            r#"{"image":"a","IMAGE":"b"}"#,
            r#"{"Image":"\u00e9\u20ac\/\b\f\n\r\t\"\\"}"#,
            r#"{"Image":"\ud83d\ude00"}"#,
            r#"{"Image":"\ud83d"}"#,
            r#"{"Image":"\ude00"}"#,
            r#"{"other":"\ud83d"}"#,
            r#"{"other":["\ud83d"]}"#,
            r#"{"a":{"b":"\udc00"}}"#,
            r#"{"Image":"\u00"}"#,
            r#"{"Image":"\x"}"#,
            "{\"Image\":\"tab\there\"}",
            r#"{"n":-0,"a":-0.0,"Image":1.0,"EventID":1e3,"obj":12345678901234567890}"#,
            r#"{"n":123456789012345678,"a":-123456789012345678,"Image":1234567890123456789}"#,
            r#"{"n":1.7976931348623157e309}"#,
            r#"{"other":1e400}"#,
            r#"{"other":01}"#,
            r#"{"n":1.}"#,
            r#"{"n":-}"#,
            r#"{"n":.5}"#,
            r#"{"n":0.1,"a":3.14159,"Image":-2.5}"#,
            r#"{"n":null,"a":true,"obj":false}"#,
            r#"{"n":nul}"#,
            r#"{"n":1,}"#,
            r#"{"n":1 "a":2}"#,
            r#"[1,2,]"#,
            r#"{"a":[{"b":1},{"b":"x"},[{"b":2}]],"x":{"y":{"z":[true,null]}}}"#,
            r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"P"}},"Channel":"Security","EventID":{"#text":"4688"}},"EventData":{"Image":"i","Param1":{"#text":"p"}}}}"##,
            r#"{"Event":{"System":{"Channel":"System"},"UserData":{"W":{"Channel":"Application"}}}}"#,
            r#"{"Op":{"Image":"flattened","Name":"n"}}"#,
            "  {\"a\" : { \"b\" :\t1 } }\r\n ",
            "{\"a\":1} x",
            "{\"a\":1}{}",
            "",
            "   ",
            "1",
            "\"s\"",
            "[{\"Image\":\"top-level array\"}]",
            "{\"\u{e9}\":\"key not ascii\",\"\\u00c9\":\"escaped key\"}",
            r#"{"\u0041":"escaped key lowers","a\u002eb":"dot in a key"}"#,
            r#"{"a":{"b":1}"#,
            r#"{"a""#,
            r#"{"a":"#,
            r#"{"#,
            r#"{1:2}"#,
            "{\"a\":\u{feff}1}",
        ];
        for json in cases {
            check(json).unwrap();
        }
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        for n in [1, 60, 63, 64, 65, 95, 96, 97, 127, 128, 129, 200] {
            check(&deep(n)).unwrap();
            check(&format!("{{\"a\":{}}}", deep(n))).unwrap();
            check(&format!("{{\"other\":{}}}", deep(n))).unwrap();
            let objects = format!("{}1{}", "{\"a\":".repeat(n), "}".repeat(n));
            check(&objects).unwrap();
        }
    }

    #[test]
    fn ordinary_events_take_the_fast_path() {
        for json in [
            r#"{"Image":"C:\\Windows\\x.exe","EventID":4688,"Channel":"Security","n":null,"a":[1,"x"]}"#,
            r##"{"Event":{"System":{"Provider":{"#attributes":{"Name":"P"}}},"EventData":{"Image":"\u00e9"}}}"##,
            r#"{"n":0.5,"a":-3,"other":{"deep":[{"x":1e5}]}}"#,
        ] {
            let accepted = check(json).unwrap();
            // Exponents are left to serde_json, even in skipped values.
            assert_eq!(accepted, !json.contains("1e5"), "{json}");
        }
    }

    fn string_token() -> impl Strategy<Value = String> {
        let piece = prop_oneof![
            4 => "[a-zA-Z0-9 .:_-]{0,6}",
            1 => Just("é€😀".to_string()),
            1 => prop::sample::select(vec!["\\\"", "\\\\", "\\/", "\\b", "\\f", "\\n", "\\r", "\\t", "\\x", "\\", "\t"])
                .prop_map(str::to_string),
            1 => any::<u16>().prop_map(|u| format!("\\u{u:04x}")),
            1 => prop::sample::select(vec![0xd800u16, 0xdbff, 0xdc00, 0xdfff, 0x0000, 0x001f, 0x00e9]).prop_map(|u| format!("\\u{u:04X}")),
            1 => Just("\\ud83d\\ude00".to_string()),
        ];
        prop::collection::vec(piece, 0..4).prop_map(|p| format!("\"{}\"", p.concat()))
    }

    fn key_token() -> impl Strategy<Value = String> {
        let names = [
            DIFFERENTIAL_FIELDS,
            &["Event", "System", "EventData", "UserData", "#attributes", "#text", "Provider", "b", "y", "z", "W"],
        ]
        .concat();
        prop_oneof![
            6 => (prop::sample::select(names), any::<bool>()).prop_map(|(n, upper)| {
                format!("\"{}\"", if upper { n.to_ascii_uppercase() } else { n.to_string() })
            }),
            1 => string_token(),
        ]
    }

    fn number_token() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<i64>().prop_map(|n| n.to_string()),
            any::<u64>().prop_map(|n| n.to_string()),
            any::<f64>().prop_map(|f| f.to_string()),
            "-?(0|[1-9][0-9]{0,25})(\\.[0-9]{1,20})?([eE][-+]?[0-9]{1,3})?",
            prop::sample::select(vec!["-0", "-0.0", "0", "01", "1.", "-", "1e", ".5", "1e309", "-1e-400"])
                .prop_map(str::to_string),
        ]
    }

    fn ws() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec!["", "", "", " ", "\n", "\t ", "\r\n"])
    }

    fn json_text() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            string_token(),
            number_token(),
            prop::sample::select(vec!["true", "false", "null"]).prop_map(str::to_string),
        ];
        leaf.prop_recursive(6, 48, 6, |inner| {
            prop_oneof![
                prop::collection::vec((ws(), inner.clone(), ws()), 0..5).prop_map(|items| {
                    let parts: Vec<String> = items.into_iter().map(|(a, v, b)| format!("{a}{v}{b}")).collect();
                    format!("[{}]", parts.join(","))
                }),
                prop::collection::vec((key_token(), ws(), inner, ws()), 0..6).prop_map(|members| {
                    let parts: Vec<String> = members.into_iter().map(|(k, a, v, b)| format!("{k}{a}:{b}{v}")).collect();
                    format!("{{{}}}", parts.join(","))
                }),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

        #[test]
        fn fast_walker_agrees_with_serde(json in json_text()) {
            check(&json)?;
        }

        #[test]
        fn damaged_json_agrees_with_serde(
            json in json_text(),
            edits in prop::collection::vec((any::<prop::sample::Index>(), 0..12usize), 1..3),
        ) {
            let mut chars: Vec<char> = json.chars().collect();
            for (at, what) in edits {
                let at = at.index(chars.len() + 1);
                match what {
                    0..=3 if at < chars.len() => { chars.remove(at); }
                    _ => chars.insert(at, ['{', '}', '[', ']', '"', ',', ':', '\\', ' ', '1', 'e', '-'][what]),
                }
            }
            check(&chars.into_iter().collect::<String>())?;
        }
    }
}
