//! Syslog over TCP framing, RFC 6587: a frame that begins with a non-zero digit and
//! whose digits are followed by a space is octet-counted (`<len> <msg>`); any other
//! frame runs to the next LF (non-transparent framing). Senders may mix both. As the RFC
//! says, a newline-framed message that starts with digits and a space ("2024 …") reads
//! as an octet count; syslog messages start with `<PRI>`, so real senders do not hit it.

use crate::source::file_tail::lines::{LineSplitter, PendingBatch, BAD_RAW_CAP};

/// An octet count has at most this many digits (10 digits already exceed any limit).
const MAX_COUNT_DIGITS: usize = 10;

enum State {
    /// Between frames.
    FrameStart,
    /// Digits of what may be an octet count.
    Count { digits: [u8; MAX_COUNT_DIGITS], len: usize },
    /// Inside an octet-counted message that fits the limit.
    Counted { remaining: usize, message: Vec<u8> },
    /// Inside an octet-counted message over the limit: skipped, its head kept.
    CountedOversized { remaining: u64, head: Vec<u8>, total: u64 },
    /// Inside an LF-terminated message.
    Line,
}

/// Cuts a TCP byte stream into syslog messages. Positions are running byte counts.
pub(crate) struct Rfc6587Framer {
    max_message_bytes: usize,
    state: State,
    /// Bytes consumed so far.
    position: u64,
    lines: LineSplitter,
}

impl Rfc6587Framer {
    pub(crate) fn new(max_message_bytes: usize) -> Self {
        let max_message_bytes = max_message_bytes.max(1);
        Rfc6587Framer {
            max_message_bytes,
            state: State::FrameStart,
            position: 0,
            lines: LineSplitter::new(0, max_message_bytes),
        }
    }

    /// Consumes bytes until `chunk` is used up or `batch` is full; returns how many
    /// bytes were used.
    pub(crate) fn feed(&mut self, chunk: &[u8], batch: &mut PendingBatch) -> usize {
        let mut used = 0;
        while used < chunk.len() && !batch.is_full() {
            let rest = &chunk[used..];
            let step = match &mut self.state {
                State::FrameStart => {
                    if rest[0].is_ascii_digit() && rest[0] != b'0' {
                        self.state = State::Count { digits: [0; MAX_COUNT_DIGITS], len: 0 };
                    } else {
                        self.lines.reset(self.position);
                        self.state = State::Line;
                    }
                    0
                }
                State::Count { digits, len } => {
                    let byte = rest[0];
                    if byte.is_ascii_digit() && *len < MAX_COUNT_DIGITS {
                        digits[*len] = byte;
                        *len += 1;
                        1
                    } else if byte == b' ' {
                        let count = digits[..*len].iter().fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
                        self.state = if count > self.max_message_bytes as u64 {
                            State::CountedOversized { remaining: count, head: Vec::new(), total: count }
                        } else {
                            State::Counted { remaining: count as usize, message: Vec::with_capacity(count as usize) }
                        };
                        1
                    } else {
                        // Not a count after all: the digits begin an LF-terminated message.
                        let digits = *digits;
                        let len = *len;
                        self.lines.reset(self.position - len as u64);
                        self.state = State::Line;
                        let used_digits = self.lines.feed(&digits[..len], batch, true);
                        debug_assert_eq!(used_digits, len);
                        0
                    }
                }
                State::Counted { remaining, message } => {
                    let take = (*remaining).min(rest.len());
                    message.extend_from_slice(&rest[..take]);
                    *remaining -= take;
                    if *remaining == 0 {
                        let message = std::mem::take(message);
                        self.state = State::FrameStart;
                        push_message(message, self.position + take as u64, self.max_message_bytes, batch);
                    }
                    take
                }
                State::CountedOversized { remaining, head, total } => {
                    let take = (*remaining).min(rest.len() as u64) as usize;
                    let room = BAD_RAW_CAP.saturating_sub(head.len()).min(take);
                    head.extend_from_slice(&rest[..room]);
                    *remaining -= take as u64;
                    if *remaining == 0 {
                        let message = format!(
                            "message of {total} bytes is longer than the limit of {} bytes",
                            self.max_message_bytes
                        );
                        batch.push_bad(self.position + take as u64, "too_large", message, head);
                        self.state = State::FrameStart;
                    }
                    take
                }
                State::Line => {
                    let used_here = self.lines.feed(rest, batch, true);
                    if !self.lines.in_line() {
                        self.state = State::FrameStart;
                    }
                    used_here
                }
            };
            used += step;
            self.position += step as u64;
        }
        used
    }

    /// The connection closed: a message without its LF still counts; an octet-counted
    /// message cut short is a `truncated` bad record.
    pub(crate) fn end_of_stream(&mut self, batch: &mut PendingBatch) {
        match std::mem::replace(&mut self.state, State::FrameStart) {
            State::FrameStart => {}
            State::Count { digits, len } => {
                self.lines.reset(self.position - len as u64);
                self.lines.feed(&digits[..len], batch, true);
                self.lines.end_of_stream(batch);
            }
            State::Counted { remaining, message } => {
                let text = format!("the connection closed {remaining} bytes before the end of the message");
                batch.push_bad(self.position, "truncated", text, &message);
            }
            State::CountedOversized { remaining, head, .. } => {
                let text = format!("the connection closed {remaining} bytes before the end of an oversized message");
                batch.push_bad(self.position, "truncated", text, &head);
            }
            State::Line => self.lines.end_of_stream(batch),
        }
    }
}

/// An octet-counted message: a trailing LF (or CRLF) that some senders count is dropped.
fn push_message(mut message: Vec<u8>, position: u64, max: usize, batch: &mut PendingBatch) {
    if message.last() == Some(&b'\n') {
        message.pop();
        if message.last() == Some(&b'\r') {
            message.pop();
        }
    }
    if message.is_empty() {
        return;
    }
    debug_assert!(message.len() <= max);
    match String::from_utf8(message) {
        Ok(text) => batch.push_line(position, text),
        Err(e) => {
            let text = format!("record is not valid UTF-8 (bad byte at {})", e.utf8_error().valid_up_to());
            batch.push_bad(position, "invalid_utf8", text, e.as_bytes());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::RawBatch;

    fn frame_in_pieces(data: &[u8], piece: usize, max: usize) -> RawBatch {
        let mut framer = Rfc6587Framer::new(max);
        let mut batch = PendingBatch::new(usize::MAX, usize::MAX);
        for chunk in data.chunks(piece) {
            assert_eq!(framer.feed(chunk, &mut batch), chunk.len());
        }
        framer.end_of_stream(&mut batch);
        batch.take(None)
    }

    fn texts(batch: &RawBatch) -> Vec<(&str, u64)> {
        batch.lines.iter().map(|l| (l.text.as_str(), l.position)).collect()
    }

    #[test]
    fn octet_counted_and_lf_frames_mix_and_survive_any_split() {
        let data = b"11 <13>hello a<13>line two\n12 <13>hello b\n\n2024-01-01 is a date\nlast";
        for piece in 1..=data.len() {
            let batch = frame_in_pieces(data, piece, 1024);
            assert_eq!(
                texts(&batch),
                vec![
                    ("<13>hello a", 14),
                    ("<13>line two", 27),
                    ("<13>hello b", 42),
                    ("2024-01-01 is a date", 64),
                    ("last", 68)
                ],
                "piece {piece}"
            );
            assert!(batch.bad.is_empty());
        }
    }

    #[test]
    fn an_oversized_counted_frame_is_skipped_by_its_count() {
        let mut data = b"5000 ".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5000));
        data.extend_from_slice(b"3 abc");
        for piece in [1, 13, 4096, data.len()] {
            let batch = frame_in_pieces(&data, piece, 100);
            assert_eq!(batch.bad.len(), 1);
            assert_eq!(batch.bad[0].reason, "too_large");
            assert_eq!(batch.bad[0].position, 5005);
            assert_eq!(batch.bad[0].raw.len(), BAD_RAW_CAP);
            assert_eq!(texts(&batch), vec![("abc", 5010)]);
        }
    }

    #[test]
    fn an_oversized_lf_frame_is_skipped_to_its_end() {
        let mut data = vec![b'<'; 300];
        data.extend_from_slice(b"\n<13>ok\n");
        let batch = frame_in_pieces(&data, 7, 100);
        assert_eq!(batch.bad.len(), 1);
        assert_eq!(batch.bad[0].reason, "too_large");
        assert_eq!(texts(&batch), vec![("<13>ok", 308)]);
    }

    #[test]
    fn a_counted_frame_cut_by_the_close_is_truncated() {
        let batch = frame_in_pieces(b"20 <13>short", 4, 100);
        assert!(batch.lines.is_empty());
        assert_eq!(batch.bad[0].reason, "truncated");
        assert_eq!(batch.bad[0].raw, b"<13>short");
    }

    #[test]
    fn digits_alone_at_the_close_are_a_message() {
        let batch = frame_in_pieces(b"12345", 2, 100);
        assert_eq!(texts(&batch), vec![("12345", 5)]);
    }

    #[test]
    fn a_zero_or_overlong_count_means_lf_framing() {
        let batch = frame_in_pieces(b"0 zero\n12345678901 eleven digits\n", 3, 100);
        assert_eq!(texts(&batch), vec![("0 zero", 7), ("12345678901 eleven digits", 33)]);
    }

    #[test]
    fn a_trailing_lf_inside_a_counted_frame_is_dropped() {
        let batch = frame_in_pieces(b"6 <13>a\n", 100, 100);
        assert_eq!(texts(&batch), vec![("<13>a", 8)]);
    }
}
