use crate::read::ReadStats;

/// At most this many bytes of a bad record are kept in [`BadRecord::raw`]: enough to
/// show what went wrong without holding a 16 MiB line in an error report.
pub const BAD_RAW_CAP: usize = 4 * 1024;

/// Where one record lies in [`Batch::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordSpan {
    /// Byte offset of the record's first byte in [`Batch::text`].
    pub start: u32,
    /// Byte offset one past the record's last byte.
    pub end: u32,
    /// 1-based line number (JSONL), record number (EVTX: the EventRecordID) or value
    /// number (whole-file JSON: array element / concatenated value index + 1).
    pub position: u64,
}

/// A batch of records: their texts concatenated in one `String`, each record a span.
///
/// One allocation carries many records, so the consumer (and the channel between reader
/// and matcher threads) moves a few large objects instead of millions of small strings.
/// Bytes between spans (line terminators, blank lines) may remain in `text`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub text: String,
    pub records: Vec<RecordSpan>,
    /// The `source` number given to [`crate::read_file`], to tell files apart downstream.
    pub source: u32,
    /// Input bytes this batch accounts for: the decompressed bytes consumed since the
    /// previous batch (including terminators, blank and bad lines) for text formats; the
    /// rendered JSON size for EVTX, whose binary layout has no per-record byte cost.
    pub bytes_read: u64,
}

impl Batch {
    /// The text of record `i`. Panics if `i >= self.len()`, like slice indexing.
    pub fn record(&self, i: usize) -> &str {
        self.span_text(&self.records[i])
    }

    /// The text of `span`, which must come from this batch.
    pub fn span_text(&self, span: &RecordSpan) -> &str {
        &self.text[span.start as usize..span.end as usize]
    }

    /// Number of records.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// Each record's position and text, in input order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (u64, &str)> + '_ {
        self.records.iter().map(move |span| (span.position, self.span_text(span)))
    }
}

/// A record that could not be read (bad EVTX record, invalid JSON in a whole-file JSON,
/// invalid UTF-8 or over-long line...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadRecord {
    pub source: u32,
    /// Same numbering as [`RecordSpan::position`]; 0 when unknown (e.g. a whole EVTX
    /// chunk that could not be parsed).
    pub position: u64,
    pub reason: String,
    /// The offending bytes, at most [`BAD_RAW_CAP`] of them; may be empty (EVTX).
    pub raw: Vec<u8>,
}

impl BadRecord {
    pub(crate) fn new(source: u32, position: u64, reason: String, raw: &[u8]) -> Self {
        BadRecord { source, position, reason, raw: raw[..raw.len().min(BAD_RAW_CAP)].to_vec() }
    }
}

/// Collects records into batches and hands them to the caller's callbacks; shared by all
/// readers so batching, limits and statistics behave the same for every format.
pub(crate) struct Sink<'a> {
    source: u32,
    batch_bytes: usize,
    max_record_bytes: usize,
    text: String,
    records: Vec<RecordSpan>,
    pending_bytes: u64,
    on_batch: &'a mut dyn FnMut(Batch) -> bool,
    on_bad: &'a mut dyn FnMut(BadRecord),
    stopped: bool,
    pub(crate) stats: ReadStats,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(
        source: u32,
        batch_bytes: usize,
        max_record_bytes: usize,
        on_batch: &'a mut dyn FnMut(Batch) -> bool,
        on_bad: &'a mut dyn FnMut(BadRecord),
    ) -> Self {
        Sink {
            source,
            batch_bytes,
            max_record_bytes,
            text: String::new(),
            records: Vec::new(),
            pending_bytes: 0,
            on_batch,
            on_bad,
            stopped: false,
            stats: ReadStats::default(),
        }
    }

    pub(crate) fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    /// Whether the caller asked to stop; readers check it after each push.
    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        self.stopped
    }

    /// Accounts `n` input bytes to the current batch.
    #[inline]
    pub(crate) fn consumed(&mut self, n: u64) {
        self.pending_bytes += n;
        self.stats.bytes += n;
    }

    /// Adds one record; returns false when the caller asked to stop.
    #[inline]
    pub(crate) fn push(&mut self, record: &str, position: u64) -> bool {
        if record.len() > self.max_record_bytes {
            self.bad(
                position,
                format!("record is {} bytes, longer than the {}-byte limit", record.len(), self.max_record_bytes),
                record.as_bytes(),
            );
            return !self.stopped;
        }
        // Flushing *before* the batch would overflow keeps each batch within its
        // preallocated capacity, so the text String never reallocates and copies.
        if !self.text.is_empty() && self.text.len() + record.len() > self.batch_bytes {
            self.flush();
            if self.stopped {
                return false;
            }
        }
        if self.text.capacity() == 0 {
            self.text.reserve(self.batch_bytes.max(record.len()));
        }
        let start = self.text.len();
        self.text.push_str(record);
        // Cannot truncate: ReadOptions clamps batch_bytes + max_record_bytes below 4 GiB.
        self.records.push(RecordSpan { start: start as u32, end: self.text.len() as u32, position });
        self.stats.records += 1;
        true
    }

    /// Reports a bad record; reading goes on.
    pub(crate) fn bad(&mut self, position: u64, reason: String, raw: &[u8]) {
        self.stats.bad += 1;
        (self.on_bad)(BadRecord::new(self.source, position, reason, raw));
    }

    /// Hands the current batch over, if it holds any record.
    pub(crate) fn flush(&mut self) {
        if self.records.is_empty() || self.stopped {
            return;
        }
        let batch = Batch {
            text: std::mem::take(&mut self.text),
            records: std::mem::take(&mut self.records),
            source: self.source,
            bytes_read: std::mem::take(&mut self.pending_bytes),
        };
        if !(self.on_batch)(batch) {
            self.stopped = true;
            self.stats.stopped_early = true;
        }
    }

    /// Flushes the last batch and returns the statistics.
    pub(crate) fn finish(mut self) -> ReadStats {
        self.flush();
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(
        batch_bytes: usize,
        max: usize,
        records: &[&str],
        stop_after: usize,
    ) -> (Vec<Batch>, Vec<BadRecord>, ReadStats) {
        let mut batches = Vec::new();
        let mut bad = Vec::new();
        let stats = {
            let mut on_batch = |b: Batch| {
                batches.push(b);
                batches.len() < stop_after
            };
            let mut on_bad = |b: BadRecord| bad.push(b);
            let mut sink = Sink::new(7, batch_bytes, max, &mut on_batch, &mut on_bad);
            for (i, r) in records.iter().enumerate() {
                if !sink.push(r, i as u64 + 1) {
                    break;
                }
            }
            sink.finish()
        };
        (batches, bad, stats)
    }

    #[test]
    fn batches_split_before_overflowing() {
        let (batches, bad, stats) = collect(10, 100, &["aaaa", "bbbb", "cccc", "dd"], 99);
        assert!(bad.is_empty());
        assert_eq!(stats.records, 4);
        let texts: Vec<Vec<&str>> = batches.iter().map(|b| b.iter().map(|(_, t)| t).collect()).collect();
        assert_eq!(texts, vec![vec!["aaaa", "bbbb"], vec!["cccc", "dd"]]);
        assert_eq!(batches[1].records[0].position, 3);
        assert!(batches.iter().all(|b| b.source == 7));
    }

    #[test]
    fn oversized_record_is_bad_and_raw_is_capped() {
        let big = "x".repeat(BAD_RAW_CAP * 2);
        let (batches, bad, stats) = collect(10, 100, &["a", &big, "b"], 99);
        assert_eq!(stats.records, 2);
        assert_eq!(stats.bad, 1);
        assert_eq!(bad[0].position, 2);
        assert_eq!(bad[0].raw.len(), BAD_RAW_CAP);
        assert_eq!(batches.len(), 1);
        assert_eq!(batches[0].len(), 2);
    }

    #[test]
    fn single_record_larger_than_batch_gets_its_own_batch() {
        let (batches, _, _) = collect(4, 100, &["a", "0123456789", "b"], 99);
        let lens: Vec<usize> = batches.iter().map(Batch::len).collect();
        assert_eq!(lens, vec![1, 1, 1]);
        assert_eq!(batches[1].record(0), "0123456789");
    }

    #[test]
    fn stop_is_honoured() {
        let (batches, _, stats) = collect(1, 100, &["a", "b", "c"], 1);
        assert_eq!(batches.len(), 1);
        assert!(stats.stopped_early);
        assert_eq!(stats.records, 1);
    }
}
