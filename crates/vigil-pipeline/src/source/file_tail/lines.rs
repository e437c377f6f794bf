//! Cutting a byte stream into lines and gathering them into batches; shared by the file
//! tail and the syslog sockets (UDP datagrams, newline-framed TCP).

use std::time::{Duration, Instant};

use vigil_store::Checkpoint;

use crate::source::{BadLine, RawBatch, RawLine};

/// A bad record keeps at most this many of its bytes.
pub(crate) const BAD_RAW_CAP: usize = 4 * 1024;

/// Records waiting to be sent, with the limits that make them a batch.
pub(crate) struct PendingBatch {
    lines: Vec<RawLine>,
    bad: Vec<BadLine>,
    bytes: usize,
    /// When the first record of this batch arrived: the flush interval counts from here.
    opened_at: Option<Instant>,
    max_records: usize,
    max_bytes: usize,
}

impl PendingBatch {
    pub(crate) fn new(max_records: usize, max_bytes: usize) -> Self {
        PendingBatch {
            lines: Vec::new(),
            bad: Vec::new(),
            bytes: 0,
            opened_at: None,
            max_records: max_records.max(1),
            max_bytes: max_bytes.max(1),
        }
    }

    pub(crate) fn push_line(&mut self, position: u64, text: String) {
        self.note_record(text.len());
        self.lines.push(RawLine { position, text });
    }

    pub(crate) fn push_bad(&mut self, position: u64, reason: &'static str, message: String, raw: &[u8]) {
        let raw = raw[..raw.len().min(BAD_RAW_CAP)].to_vec();
        self.note_record(raw.len() + message.len());
        self.bad.push(BadLine { position, reason, message, raw });
    }

    fn note_record(&mut self, bytes: usize) {
        self.bytes += bytes;
        self.opened_at.get_or_insert_with(Instant::now);
    }

    pub(crate) fn records(&self) -> usize {
        self.lines.len() + self.bad.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.records() == 0
    }

    pub(crate) fn is_full(&self) -> bool {
        self.records() >= self.max_records || self.bytes >= self.max_bytes
    }

    /// True once the oldest record has waited `interval`.
    pub(crate) fn is_due(&self, now: Instant, interval: Duration) -> bool {
        self.opened_at.is_some_and(|opened| now.duration_since(opened) >= interval)
    }

    /// Empties the batch into a [`RawBatch`] carrying `checkpoint`.
    pub(crate) fn take(&mut self, checkpoint: Option<Checkpoint>) -> RawBatch {
        self.bytes = 0;
        self.opened_at = None;
        RawBatch { lines: std::mem::take(&mut self.lines), bad: std::mem::take(&mut self.bad), checkpoint }
    }
}

/// A line longer than the limit, being skipped up to its end.
struct Oversized {
    /// Its first bytes, for the dead letter.
    head: Vec<u8>,
    /// Bytes of it seen so far.
    len: u64,
    /// Skip without a dead letter: the tail started in the middle of this line.
    silent: bool,
}

/// Splits a stream into LF-terminated lines (a CR before the LF is dropped), holding at
/// most `max_line_bytes + 1` bytes of an incomplete line: a longer line becomes one
/// `too_large` bad record once its end is found, and its bytes are skipped, not kept.
/// Empty lines are skipped. Positions are stream offsets: a record's position is the
/// offset just after its LF.
pub(crate) struct LineSplitter {
    max_line_bytes: usize,
    /// Offset where the current, incomplete line begins = just after the last complete one.
    line_start: u64,
    partial: Vec<u8>,
    oversized: Option<Oversized>,
}

impl LineSplitter {
    pub(crate) fn new(start: u64, max_line_bytes: usize) -> Self {
        LineSplitter { max_line_bytes: max_line_bytes.max(1), line_start: start, partial: Vec::new(), oversized: None }
    }

    /// Offset just after the last complete line: what a checkpoint may record.
    pub(crate) fn line_start(&self) -> u64 {
        self.line_start
    }

    /// Offset of the next byte to feed.
    pub(crate) fn position(&self) -> u64 {
        self.line_start + self.partial.len() as u64 + self.oversized.as_ref().map_or(0, |o| o.len)
    }

    /// True while part of a line has been fed but not its end.
    pub(crate) fn in_line(&self) -> bool {
        !self.partial.is_empty() || self.oversized.is_some()
    }

    /// Forgets any incomplete line and continues from offset `start`.
    pub(crate) fn reset(&mut self, start: u64) {
        self.line_start = start;
        self.partial = Vec::new();
        self.oversized = None;
    }

    /// Continues from `start`, which lies inside a line: its bytes up to the next LF are
    /// dropped without a record.
    pub(crate) fn reset_inside_line(&mut self, start: u64) {
        self.reset(start);
        self.oversized = Some(Oversized { head: Vec::new(), len: 0, silent: true });
    }

    /// Feeds bytes until `chunk` is used up, or a line has ended and `batch` is full (or,
    /// with `one_line`, a line has ended). Returns how many bytes of `chunk` were used;
    /// the caller sends a full batch and feeds the rest.
    pub(crate) fn feed(&mut self, chunk: &[u8], batch: &mut PendingBatch, one_line: bool) -> usize {
        let mut used = 0;
        while used < chunk.len() {
            let rest = &chunk[used..];
            let Some(newline) = rest.iter().position(|&b| b == b'\n') else {
                self.hold(rest);
                return chunk.len();
            };
            self.hold(&rest[..newline]);
            used += newline + 1;
            self.end_line(1, batch);
            if one_line || batch.is_full() {
                break;
            }
        }
        used
    }

    /// The stream ended: an unterminated last line becomes a record all the same.
    pub(crate) fn end_of_stream(&mut self, batch: &mut PendingBatch) {
        if self.in_line() {
            self.end_line(0, batch);
        }
    }

    /// Keeps `bytes` (no LF among them) as part of the current line, or only counts them
    /// once the line is over the limit.
    fn hold(&mut self, bytes: &[u8]) {
        if let Some(oversized) = &mut self.oversized {
            let room = BAD_RAW_CAP.saturating_sub(oversized.head.len());
            if !oversized.silent {
                oversized.head.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            oversized.len += bytes.len() as u64;
            return;
        }
        // One byte over the limit is allowed: it may be the CR of a CRLF.
        if self.partial.len() + bytes.len() > self.max_line_bytes + 1 {
            let mut head = std::mem::take(&mut self.partial);
            let len = head.len() as u64 + bytes.len() as u64;
            head.truncate(BAD_RAW_CAP);
            let room = BAD_RAW_CAP - head.len();
            head.extend_from_slice(&bytes[..bytes.len().min(room)]);
            self.oversized = Some(Oversized { head, len, silent: false });
        } else {
            self.partial.extend_from_slice(bytes);
        }
    }

    /// Closes the current line, whose terminator is `terminator_len` bytes long.
    fn end_line(&mut self, terminator_len: u64, batch: &mut PendingBatch) {
        let end = self.position() + terminator_len;
        self.line_start = end;
        if let Some(oversized) = self.oversized.take() {
            if !oversized.silent {
                let message = format!(
                    "record of {} bytes is longer than the limit of {} bytes",
                    oversized.len, self.max_line_bytes
                );
                batch.push_bad(end, "too_large", message, &oversized.head);
            }
            return;
        }
        let mut line = std::mem::take(&mut self.partial);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        if line.is_empty() {
            self.partial = line;
            return;
        }
        if line.len() > self.max_line_bytes {
            let message =
                format!("record of {} bytes is longer than the limit of {} bytes", line.len(), self.max_line_bytes);
            batch.push_bad(end, "too_large", message, &line);
            return;
        }
        match String::from_utf8(line) {
            Ok(text) => batch.push_line(end, text),
            Err(e) => {
                let message = format!("record is not valid UTF-8 (bad byte at {})", e.utf8_error().valid_up_to());
                batch.push_bad(end, "invalid_utf8", message, e.as_bytes());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split_in_pieces(data: &[u8], piece: usize, max_line: usize) -> (RawBatch, LineSplitter) {
        let mut splitter = LineSplitter::new(0, max_line);
        let mut batch = PendingBatch::new(usize::MAX, usize::MAX);
        for chunk in data.chunks(piece) {
            let used = splitter.feed(chunk, &mut batch, false);
            assert_eq!(used, chunk.len());
        }
        (batch.take(None), splitter)
    }

    fn texts(batch: &RawBatch) -> Vec<(&str, u64)> {
        batch.lines.iter().map(|l| (l.text.as_str(), l.position)).collect()
    }

    #[test]
    fn lines_and_positions_do_not_depend_on_how_the_stream_is_cut() {
        let data = b"alpha\r\nbeta\n\ngamma\npartial";
        for piece in 1..data.len() {
            let (batch, splitter) = split_in_pieces(data, piece, 64);
            assert_eq!(texts(&batch), vec![("alpha", 7), ("beta", 12), ("gamma", 19)], "piece {piece}");
            assert_eq!(splitter.line_start(), 19);
            assert_eq!(splitter.position(), data.len() as u64);
            assert!(splitter.in_line());
        }
    }

    #[test]
    fn a_long_line_is_one_bad_record_and_the_next_line_survives() {
        let mut data = vec![b'x'; 10_000];
        data.extend_from_slice(b"\nafter\n");
        for piece in [1, 7, 100, 4096, data.len()] {
            let (batch, _) = split_in_pieces(&data, piece, 100);
            assert_eq!(batch.bad.len(), 1, "piece {piece}");
            let bad = &batch.bad[0];
            assert_eq!(bad.reason, "too_large");
            assert_eq!(bad.position, 10_001);
            assert_eq!(bad.raw.len(), BAD_RAW_CAP);
            assert!(bad.message.contains("10000 bytes"), "{}", bad.message);
            assert_eq!(texts(&batch), vec![("after", 10_007)]);
        }
    }

    #[test]
    fn a_crlf_line_at_the_limit_is_accepted() {
        let (batch, _) = split_in_pieces(b"abcd\r\nabcde\n", 1, 4);
        assert_eq!(texts(&batch), vec![("abcd", 6)]);
        assert_eq!(batch.bad.len(), 1);
    }

    #[test]
    fn invalid_utf8_is_a_bad_record() {
        let (batch, _) = split_in_pieces(b"ok\n\xff\xfebad\nok2\n", 3, 64);
        assert_eq!(texts(&batch), vec![("ok", 3), ("ok2", 13)]);
        assert_eq!(batch.bad[0].reason, "invalid_utf8");
        assert_eq!(batch.bad[0].raw, b"\xff\xfebad");
    }

    #[test]
    fn feeding_stops_when_the_batch_is_full() {
        let mut splitter = LineSplitter::new(100, 64);
        let mut batch = PendingBatch::new(2, usize::MAX);
        let data = b"a\nb\nc\n";
        let used = splitter.feed(data, &mut batch, false);
        assert_eq!(used, 4);
        assert!(batch.is_full());
        assert_eq!(splitter.line_start(), 104);
        let first = batch.take(None);
        assert_eq!(texts(&first), vec![("a", 102), ("b", 104)]);
        assert_eq!(splitter.feed(&data[used..], &mut batch, false), 2);
        assert_eq!(texts(&batch.take(None)), vec![("c", 106)]);
    }

    #[test]
    fn one_line_mode_returns_after_each_line() {
        let mut splitter = LineSplitter::new(0, 64);
        let mut batch = PendingBatch::new(100, usize::MAX);
        assert_eq!(splitter.feed(b"a\nb\n", &mut batch, true), 2);
        assert_eq!(batch.records(), 1);
    }

    #[test]
    fn end_of_stream_releases_the_unterminated_line() {
        let (mut batch_in, mut splitter) = (PendingBatch::new(10, 1000), LineSplitter::new(0, 64));
        splitter.feed(b"a\nlast", &mut batch_in, false);
        splitter.end_of_stream(&mut batch_in);
        assert_eq!(texts(&batch_in.take(None)), vec![("a", 2), ("last", 6)]);
        assert_eq!(splitter.line_start(), 6);
        assert!(!splitter.in_line());
    }

    #[test]
    fn starting_inside_a_line_skips_it_silently() {
        let mut splitter = LineSplitter::new(0, 64);
        splitter.reset_inside_line(50);
        let mut batch = PendingBatch::new(10, 1000);
        splitter.feed(b"tail of a line\nnext\n", &mut batch, false);
        let batch = batch.take(None);
        assert!(batch.bad.is_empty());
        assert_eq!(texts(&batch), vec![("next", 70)]);
    }

    #[test]
    fn batches_become_due_after_the_interval() {
        let mut batch = PendingBatch::new(10, 1000);
        let now = Instant::now();
        assert!(!batch.is_due(now, Duration::ZERO));
        batch.push_line(1, "x".into());
        assert!(batch.is_due(Instant::now(), Duration::ZERO));
        assert!(!batch.is_due(Instant::now(), Duration::from_secs(3600)));
    }
}
