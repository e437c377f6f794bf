use std::io;
use std::path::PathBuf;

/// A failure that stops a whole path or file (as opposed to a [`crate::BadRecord`], which
/// is reported and skipped).
#[derive(Debug, thiserror::Error)]
pub enum FormatError {
    /// An input path given by the user does not exist.
    #[error("{}: no such file or directory", path.display())]
    NotFound { path: PathBuf },

    /// Opening, reading or decompressing failed. Records produced before the failure
    /// have already been handed to the caller.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },

    /// A whole-file JSON input is too large to be held in memory.
    #[error("{}: whole-file JSON is larger than {limit} bytes; convert it to JSONL", path.display())]
    TooLarge { path: PathBuf, limit: u64 },

    /// The EVTX file could not be opened as an event log at all (bad file header...).
    #[error("{}: cannot read EVTX file: {message}", path.display())]
    Evtx { path: PathBuf, message: String },
}

impl FormatError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: io::Error) -> Self {
        FormatError::Io { path: path.into(), source }
    }
}
