//! Vigil's file-input layer: turns input paths into batches of record texts (JSON
//! events, or text lines for syslog / auditd).
//!
//! [`discover`] expands the paths given to `vigil hunt` into a deterministic list of
//! [`InputFile`]s, and [`read_file`] streams one of them as [`Batch`]es: many records'
//! texts concatenated in one `String`, each record a [`RecordSpan`]. Records are *not*
//! parsed as JSON here for line-oriented input — the consumer parses each record once,
//! and that is the hot path, so doing it twice would halve throughput.

mod batch;
mod discover;
mod error;
mod evtx_reader;
mod json_reader;
mod jsonl_reader;
mod read;
mod sniff;

pub use batch::{BadRecord, Batch, RecordSpan, BAD_RAW_CAP};
pub use discover::{discover, Discovered, InputFile};
pub use error::FormatError;
pub use read::{read_bytes, read_file, ReadOptions, ReadStats, MAX_WHOLE_FILE_BYTES};
pub use sniff::{sniff, Sniffed};

use std::fmt;

/// How a file's content is laid out. Decided by [`discover`] (extension, magic bytes and,
/// for ambiguous text files, a look at the first line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InputKind {
    /// One JSON value per line (`.jsonl`, `.ndjson`, or sniffed).
    Jsonl,
    /// Gzip-compressed [`InputKind::Jsonl`] (multi-member streams are read to the end).
    JsonlGz,
    /// Whole-file JSON: an array of objects, or one or several concatenated (possibly
    /// pretty-printed) values.
    Json,
    /// Gzip-compressed [`InputKind::Json`].
    JsonGz,
    /// Windows XML event log; each record is rendered as evtx_dump-style JSON.
    Evtx,
    /// Text lines that are not JSON (syslog, auditd): one record per non-blank line.
    Text,
    /// Gzip-compressed [`InputKind::Text`].
    TextGz,
}

impl InputKind {
    /// Short lowercase name, for messages and summaries.
    pub fn as_str(self) -> &'static str {
        match self {
            InputKind::Jsonl => "jsonl",
            InputKind::JsonlGz => "jsonl.gz",
            InputKind::Json => "json",
            InputKind::JsonGz => "json.gz",
            InputKind::Evtx => "evtx",
            InputKind::Text => "text",
            InputKind::TextGz => "text.gz",
        }
    }

    /// Whether the file body must be gunzipped before reading.
    pub fn is_gzip(self) -> bool {
        matches!(self, InputKind::JsonlGz | InputKind::JsonGz | InputKind::TextGz)
    }
}

impl fmt::Display for InputKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
