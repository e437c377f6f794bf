//! Whole-file JSON: an array of events, or one or several concatenated (possibly
//! pretty-printed) values. Each element's raw text becomes a record, unparsed beyond the
//! syntax check serde_json does to find where it ends.

use serde::de::{self, Deserializer as _, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;

use crate::batch::{Sink, BAD_RAW_CAP};
use crate::sniff::UTF8_BOM;

/// Position bookkeeping while walking one file's values.
struct Walk<'s, 'a> {
    sink: &'s mut Sink<'a>,
    /// Address of the file body, to turn borrowed record texts back into offsets.
    base: usize,
    /// Body bytes already accounted to a batch.
    accounted: usize,
    /// Records seen so far (the last one's position).
    count: u64,
}

impl Walk<'_, '_> {
    fn record(&mut self, text: &str) {
        self.count += 1;
        // Record texts borrow from the body, so their address gives their offset: no need
        // to track positions through serde_json.
        let end = text.as_ptr() as usize - self.base + text.len();
        self.sink.push(text, self.count);
        self.sink.consumed((end - self.accounted) as u64);
        self.accounted = end;
    }
}

/// Reads every value in `bytes` (a whole file). A syntax error cannot be resynchronised
/// after, so it is reported as one bad record and the rest of the file is skipped; the
/// records before it are kept.
pub(crate) fn read_json(bytes: &[u8], sink: &mut Sink<'_>) {
    let body = bytes.strip_prefix(UTF8_BOM).unwrap_or(bytes);
    let mut walk = Walk { sink, base: body.as_ptr() as usize, accounted: 0, count: 0 };
    if let Err((e, slice_start)) = read_values(body, &mut walk) {
        let at = slice_start + error_offset(&body[slice_start..], &e);
        let from = at.saturating_sub(BAD_RAW_CAP / 2).max(walk.accounted);
        let to = (from + BAD_RAW_CAP).min(body.len());
        let from = from.min(to);
        walk.sink.bad(walk.count + 1, format!("invalid JSON, rest of file skipped: {e}"), &body[from..to]);
    }
    let rest = bytes.len() - walk.accounted;
    walk.sink.consumed(rest as u64);
}

/// A syntax error, with the offset in the body of the slice its line/column refer to.
type SyntaxError = (serde_json::Error, usize);

/// Top-level values one after the other; an array contributes its elements.
fn read_values(body: &[u8], walk: &mut Walk<'_, '_>) -> Result<(), SyntaxError> {
    let mut pos = 0;
    loop {
        match body[pos..].iter().position(|b| !b.is_ascii_whitespace()) {
            Some(skip) => pos += skip,
            None => return Ok(()),
        }
        if body[pos] == b'[' {
            // Streamed element by element so a syntax error late in a big array keeps
            // every element before it (a Vec<&RawValue> would lose them all).
            let count_before = walk.count;
            let mut de = serde_json::Deserializer::from_slice(&body[pos..]);
            match de.deserialize_seq(Elements { walk: &mut *walk }) {
                Ok(()) => {}
                // The visitor's "stopped" error is not a syntax error.
                Err(_) if walk.sink.stopped() => return Ok(()),
                Err(e) => return Err((e, pos)),
            }
            // serde_json does not say where the array ended; it is the first ']' after
            // the last element (or after the '[' of an empty array), past blank space.
            let after = if walk.count > count_before { walk.accounted } else { pos + 1 };
            let close = after + body[after..].iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(0);
            pos = close + 1;
        } else {
            let mut values = serde_json::Deserializer::from_slice(&body[pos..]).into_iter::<&RawValue>();
            match values.next() {
                None => return Ok(()),
                Some(Err(e)) => return Err((e, pos)),
                Some(Ok(raw)) => walk.record(raw.get()),
            }
            pos += values.byte_offset();
            if walk.sink.stopped() {
                return Ok(());
            }
        }
    }
}

struct Elements<'w, 's, 'a> {
    walk: &'w mut Walk<'s, 'a>,
}

impl<'de> Visitor<'de> for Elements<'_, '_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(raw) = seq.next_element::<&'de RawValue>()? {
            self.walk.record(raw.get());
            if self.walk.sink.stopped() {
                return Err(de::Error::custom("stopped by caller"));
            }
        }
        Ok(())
    }
}

/// Byte offset in `body` of the place serde_json complained about.
fn error_offset(body: &[u8], e: &serde_json::Error) -> usize {
    let (line, column) = (e.line(), e.column());
    if line == 0 {
        return body.len();
    }
    let line_start = if line == 1 {
        0
    } else {
        match memchr::memchr_iter(b'\n', body).nth(line - 2) {
            Some(nl) => nl + 1,
            None => return body.len(),
        }
    };
    (line_start + column.saturating_sub(1)).min(body.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BadRecord, Batch};

    fn run(input: &[u8], stop_after: usize) -> (Vec<(u64, String)>, Vec<BadRecord>, u64) {
        let mut recs = Vec::new();
        let mut bad = Vec::new();
        let mut batches = 0;
        let bytes = {
            let mut on_batch = |b: Batch| {
                recs.extend(b.iter().map(|(p, t)| (p, t.to_string())));
                batches += 1;
                batches < stop_after
            };
            let mut on_bad = |b: BadRecord| bad.push(b);
            let mut sink = Sink::new(0, 1, 1 << 20, &mut on_batch, &mut on_bad);
            read_json(input, &mut sink);
            sink.finish().bytes
        };
        (recs, bad, bytes)
    }

    fn texts(recs: &[(u64, String)]) -> Vec<&str> {
        recs.iter().map(|(_, t)| t.as_str()).collect()
    }

    #[test]
    fn array_elements_are_records() {
        let input = b"\xEF\xBB\xBF[\n  {\"a\": 1},\n  {\"b\": [2, 3]}\n]\n";
        let (recs, bad, bytes) = run(input, 99);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(texts(&recs), vec!["{\"a\": 1}", "{\"b\": [2, 3]}"]);
        assert_eq!(recs[1].0, 2);
        assert_eq!(bytes, input.len() as u64);
    }

    #[test]
    fn concatenated_values_and_nested_arrays() {
        let input = b"{\n \"a\": 1\n}\n{\"b\": 2} [{\"c\": 3}, {\"d\": 4}]\n";
        let (recs, bad, _) = run(input, 99);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(texts(&recs), vec!["{\n \"a\": 1\n}", "{\"b\": 2}", "{\"c\": 3}", "{\"d\": 4}"]);
        let positions: Vec<u64> = recs.iter().map(|r| r.0).collect();
        assert_eq!(positions, vec![1, 2, 3, 4]);
    }

    #[test]
    fn syntax_error_keeps_earlier_records_and_stops() {
        let (recs, bad, _) = run(b"[{\"a\": 1}, {\"b\": }, {\"c\": 3}]", 99);
        assert_eq!(texts(&recs), vec!["{\"a\": 1}"]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].position, 2);
        assert!(bad[0].reason.contains("line 1"), "{}", bad[0].reason);
        assert!(bad[0].raw.starts_with(b", {\"b\""), "{:?}", bad[0].raw);

        let (recs, bad, _) = run(b"{\"a\": 1}\n{\"b\": 2\n", 99);
        assert_eq!(texts(&recs), vec!["{\"a\": 1}"]);
        assert_eq!(bad[0].position, 2);
    }

    #[test]
    fn concatenated_arrays_including_empty_ones() {
        let input = b"[ ] [{\"a\": 1} ,{\"b\": 2} ]\n[3]{\"c\":4}";
        let (recs, bad, bytes) = run(input, 99);
        assert!(bad.is_empty(), "{bad:?}");
        assert_eq!(texts(&recs), vec!["{\"a\": 1}", "{\"b\": 2}", "3", "{\"c\":4}"]);
        assert_eq!(bytes, input.len() as u64);
    }

    #[test]
    fn trailing_garbage_after_array_is_reported() {
        let (recs, bad, _) = run(b"[{\"a\": 1}] x", 99);
        assert_eq!(recs.len(), 1);
        assert_eq!(bad.len(), 1);
    }

    #[test]
    fn invalid_utf8_is_a_syntax_error() {
        let (recs, bad, _) = run(b"[{\"a\": 1}, {\"b\": \"\xff\"}]", 99);
        assert_eq!(recs.len(), 1);
        assert_eq!(bad.len(), 1);
    }

    #[test]
    fn stopping_is_not_an_error() {
        let (recs, bad, _) = run(b"[1, 2, 3, 4]", 2);
        assert!(bad.is_empty());
        assert_eq!(texts(&recs), vec!["1", "2"]);
        let (recs, bad, _) = run(b"1 2 3 4", 1);
        assert!(bad.is_empty());
        assert_eq!(texts(&recs), vec!["1"]);
    }

    #[test]
    fn empty_input_has_no_records() {
        let (recs, bad, _) = run(b"  \n", 99);
        assert!(recs.is_empty() && bad.is_empty());
    }
}
