//! Sources: where records come from. A source reads records (lines, datagrams, frames)
//! and hands them, in batches, to a [`BatchSink`] it got from the [`SinkFactory`] — one
//! sink per stream (a file, a TCP connection), because decoders keep state across the
//! records of one stream (auditd joins lines by serial). `send` blocks while the
//! pipeline is full: that is the backpressure reaching the source.

pub mod file_tail;
pub mod fingerprint;
pub mod syslog_net;

use vigil_normalize::SourceKind;
use vigil_store::Checkpoint;

/// One line (or datagram, or frame) of a stream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLine {
    /// Offset of the byte just after this record in its stream (a file's byte offset;
    /// a running byte count for sockets). Dead letters and links point here.
    pub position: u64,
    pub text: String,
}

/// A record the source could not turn into text (invalid UTF-8, longer than the limit).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadLine {
    pub position: u64,
    /// `too_large`, `invalid_utf8` …
    pub reason: &'static str,
    pub message: String,
    /// The first bytes, capped by the source at 4 KiB.
    pub raw: Vec<u8>,
}

/// Records read since the last batch, and the checkpoint that covers them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RawBatch {
    pub lines: Vec<RawLine>,
    pub bad: Vec<BadLine>,
    /// Where the stream stands once every record of this batch is stored; written in
    /// the same transaction as the batch's events. `None` for streams that cannot be
    /// replayed (sockets).
    pub checkpoint: Option<Checkpoint>,
}

/// The pipeline is shutting down; the source should stop.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the pipeline is closed")]
pub struct SinkClosed;

/// Where one stream's batches go.
pub trait BatchSink: Send {
    /// Blocks while the pipeline is full.
    fn send(&mut self, batch: RawBatch) -> Result<(), SinkClosed>;
    /// The stream ended (file deleted and read to its end, connection closed): events
    /// held back by stateful decoders are released.
    fn finish(&mut self) -> Result<(), SinkClosed>;
}

/// Opens one sink per stream.
pub trait SinkFactory: Send + Sync {
    /// `origin` names the stream for people (`file:/var/log/auth.log`,
    /// `syslog-tcp:10.0.0.5:50122`); `kind` forces a decoder, `None` sniffs per record.
    fn open(&self, origin: &str, kind: Option<SourceKind>) -> Box<dyn BatchSink>;
}
pub mod stdin;
