//! Polling ETL jobs: each job reads new rows past its watermark every `poll_interval`,
//! submits them to the pipeline, and persists the watermark so it resumes after a restart.
//!
//! CONTRACT: the HTTP side (`vigil-server`) holds an `Arc<dyn JobControl>`; the daemon
//! builds it with [`JobManager::start`].
//!
//! Kinds (the `kind` field of a start request):
//! - `pixie` (the default, Hive Sentinel's `pixie-etl` contract): runs a PxL script
//!   through Vizier's `ExecuteScript` and submits one JSON object per row
//!   (see [`pixie`]).
//! - `file`: reads new complete lines of a file, or of the files in a directory
//!   (see [`file`]).
//!
//! Delivery guarantee: at least once. A poll's rows are handed to the submitter (which
//! only queues them) and the watermark is persisted after every submit of that poll
//! returned `Ok`. A crash after the submit but before the pipeline committed the queued
//! rows loses them (the pipeline's queue is in memory); a crash or stop after a submit but
//! before the watermark is persisted reads those rows again on the next start.

pub mod file;
mod manager;
pub mod pixie;
mod spec;
pub(crate) mod submit;

pub use manager::JobManager;
pub use spec::{parse_timestamp, MAX_POLL_INTERVAL_SECS, MIN_POLL_INTERVAL_SECS};

use std::path::PathBuf;
use std::time::Duration;

/// The code generated from `proto/vizierapi.proto` (Pixie's Vizier API): messages, the
/// client, and a server trait (used by tests to stand in for Vizier).
#[allow(clippy::all, missing_docs)]
pub mod vizierpb {
    tonic::include_proto!("px.api.vizierpb");
}

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
    /// The ETL options are unusable (bad Pixie address or API key): a startup error.
    #[error("configuration: {0}")]
    Config(String),
}

impl From<vigil_store::StoreError> for JobError {
    fn from(err: vigil_store::StoreError) -> JobError {
        JobError::Store(err.to_string())
    }
}

/// Start, stop and list jobs.
pub trait JobControl: Send + Sync {
    /// `request` is the JSON body of `POST /pixie-etl/start`; returns the job's UUID.
    /// Blocks briefly (validates, writes the store, spawns the job's thread).
    fn start(&self, request: &serde_json::Value) -> Result<String, JobError>;
    /// Stops a job and marks it `stopped` (kept, not deleted). Stopping a job that is
    /// not running is not an error. Blocks until the job's thread has ended, which may
    /// take as long as the poll in progress needs to reach its next await point.
    fn stop(&self, job_id: &str) -> Result<(), JobError>;
    /// Every job with its watermark, rows read and last error, as JSON objects, newest
    /// first.
    fn status(&self) -> Vec<serde_json::Value>;
}

/// How to reach Pixie. Without an `address`, `pixie` jobs are refused (and stored ones
/// are marked `failed` on start).
#[derive(Clone, Default)]
pub struct PixieOptions {
    /// `http://host:port` (plain gRPC, e.g. a port-forwarded Vizier) or `https://host:port`
    /// (TLS, e.g. `https://work.withpixie.ai:443`).
    pub address: Option<String>,
    /// The cluster's UUID, sent as `cluster_id` in every request.
    pub cluster_id: String,
    /// Sent as the `pixie-api-key` metadata header when set.
    pub api_key: Option<String>,
    /// Sent as the `pixie-api-client` metadata header; empty means `vigil`.
    pub api_client: String,
    /// PEM file with extra CA certificates for `https` (a self-hosted Pixie cloud);
    /// the Mozilla roots are always trusted.
    pub tls_ca_file: Option<PathBuf>,
    /// Longest one poll's script may run (0 means [`DEFAULT_PIXIE_TIMEOUT`]).
    pub request_timeout: Duration,
}

impl std::fmt::Debug for PixieOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PixieOptions")
            .field("address", &self.address)
            .field("cluster_id", &self.cluster_id)
            .field("api_key", &self.api_key.as_ref().map(|_| "<redacted>"))
            .field("api_client", &self.api_client)
            .field("tls_ca_file", &self.tls_ca_file)
            .field("request_timeout", &self.request_timeout)
            .finish()
    }
}

/// Default for [`PixieOptions::request_timeout`].
pub const DEFAULT_PIXIE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default for [`EtlOptions::max_jobs`].
pub const DEFAULT_MAX_JOBS: usize = 32;
/// Default for [`EtlOptions::max_line_bytes`].
pub const DEFAULT_MAX_LINE_BYTES: usize = 1 << 20;

/// What [`JobManager::start`] needs besides the store and the pipeline.
#[derive(Debug, Clone)]
pub struct EtlOptions {
    pub pixie: PixieOptions,
    /// `file` jobs may only read under these directories (checked after resolving
    /// symbolic links). Empty: `file` jobs are refused. A start request comes over HTTP,
    /// so without this any write-token holder could read any file the daemon can.
    pub file_roots: Vec<PathBuf>,
    /// Most jobs running at once; more starts are refused.
    pub max_jobs: usize,
    /// Longer lines of a `file` job are skipped (and reported as its last error).
    pub max_line_bytes: usize,
}

impl Default for EtlOptions {
    fn default() -> Self {
        EtlOptions {
            pixie: PixieOptions::default(),
            file_roots: Vec::new(),
            max_jobs: DEFAULT_MAX_JOBS,
            max_line_bytes: DEFAULT_MAX_LINE_BYTES,
        }
    }
}
