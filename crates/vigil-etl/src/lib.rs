//! Polling ETL jobs: each job reads new rows past its watermark every `poll_interval`,
//! submits them to the pipeline, and persists the watermark so it resumes after a restart.
//!
//! CONTRACT: the HTTP side (`vigil-server`) holds an `Arc<dyn JobControl>`.

/// Why a job request was refused.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// The request is wrong (HTTP 400).
    #[error("{0}")]
    BadRequest(String),
    /// No such job (HTTP 404).
    #[error("no job {0}")]
    NotFound(String),
    /// Persisting failed (HTTP 500).
    #[error("store: {0}")]
    Store(String),
}

/// Start, stop and list jobs.
pub trait JobControl: Send + Sync {
    /// `request` is the JSON body of `POST /pixie-etl/start`; returns the job's UUID.
    fn start(&self, request: &serde_json::Value) -> Result<String, JobError>;
    fn stop(&self, job_id: &str) -> Result<(), JobError>;
    /// Every job with its watermark, rows read and last error, as JSON objects.
    fn status(&self) -> Vec<serde_json::Value>;
}
