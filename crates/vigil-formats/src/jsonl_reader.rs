//! JSONL streaming: the hot path of `vigil hunt`.
//!
//! Lines are found with memchr in a large reusable buffer and copied straight into the
//! batch text; nothing is allocated per line and nothing is parsed as JSON (the consumer
//! parses each record exactly once).

use std::io::{self, Read};

use crate::batch::{Sink, BAD_RAW_CAP};
use crate::sniff::UTF8_BOM;

/// A line that outgrew `max_record_bytes` before its end was seen: its bytes are dropped
/// as they arrive, keeping only a prefix for the report.
struct LongLine {
    head: Vec<u8>,
    len: u64,
}

/// Reads `reader` to the end (or until the caller stops), one record per non-blank line.
pub(crate) fn read_jsonl(reader: &mut dyn Read, buffer_bytes: usize, sink: &mut Sink<'_>) -> io::Result<()> {
    let max_record = sink.max_record_bytes();
    let mut buf = vec![0u8; buffer_bytes.max(1)];
    let mut start = 0usize; // first byte not yet handled
    let mut end = 0usize; // one past the last valid byte
    let mut line_no = 0u64;
    let mut long: Option<LongLine> = None;
    let mut at_file_start = true;

    loop {
        // Every complete line in buf[start..end].
        while let Some(nl) = memchr::memchr(b'\n', &buf[start..end]) {
            line_no += 1;
            if let Some(mut l) = long.take() {
                keep_head(&mut l.head, &buf[start..start + nl]);
                report_long(sink, line_no, l.len + nl as u64, &l.head);
            } else {
                let line = &buf[start..start + nl];
                let line = if at_file_start {
                    at_file_start = false;
                    line.strip_prefix(UTF8_BOM).unwrap_or(line)
                } else {
                    line
                };
                handle_line(sink, line, line_no, max_record);
            }
            // After the line went in, so a flush it caused does not claim its bytes.
            sink.consumed(nl as u64 + 1);
            start += nl + 1;
            if sink.stopped() {
                return Ok(());
            }
        }

        // buf[start..end] is the beginning of an unfinished line.
        let partial = end - start;
        if let Some(l) = long.as_mut() {
            keep_head(&mut l.head, &buf[start..end]);
            l.len += partial as u64;
            sink.consumed(partial as u64);
            start = end;
        } else if partial > max_record.saturating_add(1) {
            // (+1: the line may still end in a '\r' that does not count.)
            let mut head = Vec::with_capacity(BAD_RAW_CAP);
            keep_head(&mut head, &buf[start..end]);
            long = Some(LongLine { head, len: partial as u64 });
            sink.consumed(partial as u64);
            start = end;
            at_file_start = false;
        }

        // Keep the partial line, moved to the front, and read more behind it.
        if start > 0 {
            buf.copy_within(start..end, 0);
            end -= start;
            start = 0;
        }
        if end == buf.len() {
            // A line longer than the buffer: grow, but only as far as a line can be kept
            // (max_record + 2 bytes let the check above see it is too long).
            let limit = max_record.saturating_add(2).max(buf.len() + 1);
            let new_len = buf.len().saturating_mul(2).min(limit);
            buf.resize(new_len, 0);
        }
        let n = loop {
            match reader.read(&mut buf[end..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            // End of input: a last line without a terminator is still a line.
            if let Some(l) = long.take() {
                report_long(sink, line_no + 1, l.len, &l.head);
            } else if end > start {
                let line = &buf[start..end];
                let line = if at_file_start { line.strip_prefix(UTF8_BOM).unwrap_or(line) } else { line };
                handle_line(sink, line, line_no + 1, max_record);
                sink.consumed((end - start) as u64);
            }
            return Ok(());
        }
        end += n;
    }
}

fn keep_head(head: &mut Vec<u8>, bytes: &[u8]) {
    let room = BAD_RAW_CAP.saturating_sub(head.len());
    head.extend_from_slice(&bytes[..bytes.len().min(room)]);
}

fn report_long(sink: &mut Sink<'_>, line_no: u64, len: u64, head: &[u8]) {
    let max = sink.max_record_bytes();
    sink.bad(line_no, format!("line is {len} bytes, longer than the {max}-byte limit"), head);
}

#[inline]
fn handle_line(sink: &mut Sink<'_>, line: &[u8], line_no: u64, max_record: usize) {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.is_empty() {
        return;
    }
    // Length before blankness: a line that outgrows the buffer is judged on its length
    // alone, so a complete line must be too, or the outcome would depend on reads.
    if line.len() > max_record {
        sink.bad(line_no, format!("line is {} bytes, longer than the {max_record}-byte limit", line.len()), line);
        return;
    }
    // Only lines that start with blank space can be blank; checking just those keeps
    // the common case to a single byte test.
    if line[0].is_ascii_whitespace() && line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match std::str::from_utf8(line) {
        Ok(text) => {
            sink.push(text, line_no);
        }
        Err(e) => sink.bad(line_no, format!("invalid UTF-8 at byte {} of the line", e.valid_up_to()), line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BadRecord, Batch};

    /// Runs the reader over `input` with a tiny buffer so lines straddle reads.
    fn run(input: &[u8], buffer: usize, max: usize) -> (Vec<(u64, String)>, Vec<BadRecord>, u64) {
        let mut recs = Vec::new();
        let mut bad = Vec::new();
        let bytes = {
            let mut on_batch = |b: Batch| {
                recs.extend(b.iter().map(|(p, t)| (p, t.to_string())));
                true
            };
            let mut on_bad = |b: BadRecord| bad.push(b);
            let mut sink = Sink::new(0, 16, max, &mut on_batch, &mut on_bad);
            let mut r: &[u8] = input;
            read_jsonl(&mut r, buffer, &mut sink).unwrap();
            sink.finish().bytes
        };
        (recs, bad, bytes)
    }

    #[test]
    fn lines_across_every_buffer_size() {
        let input = b"{\"a\":1}\r\n\n   \n{\"b\":22}\n{\"c\":333}";
        for buffer in 1..40 {
            let (recs, bad, bytes) = run(input, buffer, 1000);
            assert!(bad.is_empty());
            assert_eq!(bytes, input.len() as u64, "buffer {buffer}");
            assert_eq!(
                recs,
                vec![(1, "{\"a\":1}".to_string()), (4, "{\"b\":22}".to_string()), (5, "{\"c\":333}".to_string())],
                "buffer {buffer}"
            );
        }
    }

    #[test]
    fn long_lines_become_bad_whatever_the_buffer() {
        let input = b"{\"a\":1}\n0123456789abcdef\n{\"b\":2}\n0123456789abcdef";
        for buffer in 1..30 {
            let (recs, bad, bytes) = run(input, buffer, 10);
            assert_eq!(bytes, input.len() as u64, "buffer {buffer}");
            assert_eq!(recs.len(), 2, "buffer {buffer}");
            assert_eq!(recs[1].0, 3);
            let positions: Vec<u64> = bad.iter().map(|b| b.position).collect();
            assert_eq!(positions, vec![2, 4], "buffer {buffer}");
            assert!(bad[0].reason.contains("16 bytes"), "{}", bad[0].reason);
            assert_eq!(bad[0].raw, b"0123456789abcdef");
        }
    }

    #[test]
    fn invalid_utf8_is_bad_and_reading_goes_on() {
        let (recs, bad, _) = run(b"{\"a\":\"\xff\"}\n{\"b\":1}\n", 4, 100);
        assert_eq!(recs, vec![(2, "{\"b\":1}".to_string())]);
        assert_eq!(bad.len(), 1);
        assert_eq!(bad[0].position, 1);
        assert!(bad[0].reason.contains("UTF-8"));
    }

    #[test]
    fn bom_is_stripped_from_first_line_only() {
        let (recs, _, _) = run(b"\xEF\xBB\xBF{\"a\":1}\n{\"b\":1}", 2, 100);
        assert_eq!(recs[0].1, "{\"a\":1}");
    }
}
