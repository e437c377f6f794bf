//! The way into the pipeline for push sources that must answer their sender: HTTP
//! `POST /events` gets either event ids or a refusal it can retry, never a silent drop.

/// Why a submission was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubmitError {
    /// The pipeline is saturated; retry after this many seconds (HTTP 429).
    #[error("the pipeline is full; retry in {retry_after_secs} s")]
    Full { retry_after_secs: u32 },
    /// The daemon is shutting down (HTTP 503).
    #[error("the pipeline is shutting down")]
    Closed,
}

/// Accepts records pushed by a sender, without blocking.
pub trait EventSubmitter: Send + Sync {
    /// Each record is one JSON object's text. Returns one UUID v4 `event_id` per record,
    /// in order. Records that later fail to decode still get an id (and a dead letter).
    fn submit(&self, origin: &str, records: Vec<String>) -> Result<Vec<String>, SubmitError>;
}
