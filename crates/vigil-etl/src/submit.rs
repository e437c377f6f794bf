//! Handing records to the pipeline: a full pipeline is waited out, never dropped.

use std::time::Duration;

use tokio::sync::watch;
use vigil_pipeline::submit::{EventSubmitter, SubmitError};

/// Records per submit call: one poll may read far more than one pipeline batch.
pub(crate) const SUBMIT_CHUNK: usize = 500;

/// Why a submission did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Interrupted {
    /// The job was told to stop while waiting for room.
    Stopped,
    /// The pipeline is shutting down.
    Closed,
}

/// Submits `records`, retrying while the pipeline is full (after the wait it asks for,
/// at least a second) until it accepts them, the pipeline closes, or `stop` turns true.
pub(crate) async fn submit_until_accepted(
    submitter: &dyn EventSubmitter,
    origin: &str,
    records: Vec<String>,
    stop: &mut watch::Receiver<bool>,
) -> Result<(), Interrupted> {
    if records.is_empty() {
        return Ok(());
    }
    loop {
        if *stop.borrow() {
            return Err(Interrupted::Stopped);
        }
        // The submitter takes the records by value and keeps them on refusal.
        match submitter.submit(origin, records.clone()) {
            Ok(_) => return Ok(()),
            Err(SubmitError::Closed) => return Err(Interrupted::Closed),
            Err(SubmitError::Full { retry_after_secs }) => {
                let wait = Duration::from_secs(u64::from(retry_after_secs.clamp(1, 60)));
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = stop.wait_for(|stopped| *stopped) => return Err(Interrupted::Stopped),
                }
            }
        }
    }
}

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Interrupted::Stopped => f.write_str("stopped while the pipeline was full"),
            Interrupted::Closed => f.write_str("the pipeline is shutting down"),
        }
    }
}
