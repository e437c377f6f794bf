//! The daemon's configuration (`vigil.toml`), as the rest of the binary reads it.
//! Durations are written as `250ms`, `30s`, `5m`, `2h`, `7d`; sizes as `512KiB`,
//! `16MiB`, `10GiB` (or plain bytes).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// `[store]`: where events and alerts are kept, and for how long.
    pub store: StoreConfig,
    /// `[rules]`: Sigma rules and processing pipelines.
    pub rules: RulesConfig,
    /// `[detect]`: rule evaluation, alert aggregation, correlation.
    pub detect: DetectConfig,
    /// `[api]`: the HTTP API.
    pub api: ApiConfig,
    /// `[sources]`: where events come from.
    pub sources: SourcesConfig,
    /// `[etl]`: polling jobs started through `POST /pixie-etl/start`.
    pub etl: EtlConfig,
    /// `[honeypot]`: honeypot analytics.
    pub honeypot: HoneypotConfig,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct EtlConfig {
    /// Whether `/pixie-etl/...` accepts jobs (and stored jobs resume).
    pub enabled: bool,
    /// Directories `file` jobs may read; empty refuses `file` jobs.
    pub file_roots: Vec<PathBuf>,
    /// Most jobs at once.
    pub max_jobs: usize,
    /// Pixie (Vizier) gRPC address; `pixie` jobs are refused without one.
    pub pixie_address: Option<String>,
    pub pixie_cluster_id: Option<String>,
    pub pixie_api_key: Option<String>,
    /// Extra CA certificates (PEM) for an `https` address.
    pub pixie_tls_ca_file: Option<PathBuf>,
    /// Longest one poll's script may run.
    #[serde(with = "humantime")]
    pub pixie_timeout: Duration,
}

impl Default for EtlConfig {
    fn default() -> Self {
        EtlConfig {
            enabled: true,
            file_roots: Vec::new(),
            max_jobs: 32,
            pixie_address: None,
            pixie_cluster_id: None,
            pixie_api_key: None,
            pixie_tls_ca_file: None,
            pixie_timeout: Duration::from_secs(300),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HoneypotConfig {
    /// MaxMind-format databases (GeoLite2 ASN / Country / City) for per-IP intelligence.
    pub geoip_databases: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StoreConfig {
    /// Data directory of the embedded store.
    pub dir: PathBuf,
    /// Events older than this are deleted; `None` (`"off"`) keeps them forever.
    #[serde(with = "humantime_opt")]
    pub retention_max_age: Option<Duration>,
    /// Past this size the oldest events are deleted; `None` (`"off"`) for no limit.
    #[serde(with = "bytesize_opt")]
    pub retention_max_bytes: Option<u64>,
    /// How often retention runs.
    #[serde(with = "humantime")]
    pub retention_interval: Duration,
    /// Pending events are committed (with their alerts) at least this often; the
    /// upper bound of the store's share of event → alert latency.
    #[serde(with = "humantime")]
    pub commit_interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RulesConfig {
    /// Rule files or directories.
    pub paths: Vec<PathBuf>,
    /// Processing pipeline YAML files, applied after the built-in Windows one.
    pub pipelines: Vec<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DetectConfig {
    /// Rule-evaluation threads; 0 = one per core.
    pub workers: usize,
    /// Repeats of an alert (rule + group) within this window update it instead of
    /// opening a new one; `0s` disables aggregation.
    #[serde(with = "humantime")]
    pub aggregation_window: Duration,
    /// How long correlation windows wait for late events.
    #[serde(with = "humantime")]
    pub correlation_lateness: Duration,
    /// Logsource for events that carry none, as product[/category[/service]].
    pub default_logsource: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ApiConfig {
    /// Whether the HTTP API (and with it `POST /events`) runs.
    pub enabled: bool,
    /// Address the API listens on.
    pub listen: SocketAddr,
    /// Bearer token for writes (`POST /events`, `PATCH /api/alerts/{id}`). When empty,
    /// `vigil run` generates one and prints it.
    pub write_token: Option<String>,
    /// When set, reads need this bearer token (or the write token).
    pub read_token: Option<String>,
    /// Largest request body accepted.
    #[serde(with = "bytesize")]
    pub max_body_bytes: u64,
    /// Most events accepted in one `POST /events` request.
    pub max_events_per_request: usize,
}

#[derive(Debug, Clone, PartialEq, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourcesConfig {
    /// `[[sources.file]]`: file tails.
    pub file: Vec<FileSourceConfig>,
    /// `[sources.stdin]`: records on standard input.
    pub stdin: Option<StdinSourceConfig>,
    /// `[sources.syslog]`: a syslog listener.
    pub syslog: Option<SyslogSourceConfig>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// Files, directories or globs (`/var/log/*.log`).
    pub paths: Vec<String>,
    /// Decoder to force (tetragon, syslog, …); sniffed per record when absent.
    pub source: Option<String>,
    /// Where to start in a file never seen before: `beginning` (default) or `end`.
    #[serde(default)]
    pub start_at: StartAt,
    /// How often the files are checked for new data.
    #[serde(default = "default_poll", with = "humantime")]
    pub poll_interval: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StartAt {
    /// Read a new file from its first byte.
    #[default]
    Beginning,
    /// Read only what is appended to a new file.
    End,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdinSourceConfig {
    /// Required in `[sources.stdin]`: whether standard input is read.
    pub enabled: bool,
    /// Decoder to force; sniffed per record when absent.
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyslogSourceConfig {
    /// UDP listener address (one datagram, one message).
    pub udp: Option<SocketAddr>,
    /// TCP listener address (newline- or octet-count-framed messages).
    pub tcp: Option<SocketAddr>,
}

fn default_poll() -> Duration {
    Duration::from_millis(250)
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            dir: PathBuf::from("vigil-data"),
            retention_max_age: Some(Duration::from_secs(7 * 24 * 3600)),
            retention_max_bytes: Some(10 * 1024 * 1024 * 1024),
            retention_interval: Duration::from_secs(300),
            commit_interval: Duration::from_millis(10),
        }
    }
}

impl Default for RulesConfig {
    fn default() -> Self {
        RulesConfig { paths: vec![PathBuf::from("rules")], pipelines: Vec::new() }
    }
}

impl Default for DetectConfig {
    fn default() -> Self {
        DetectConfig {
            workers: 0,
            aggregation_window: Duration::from_secs(300),
            correlation_lateness: Duration::from_secs(5),
            default_logsource: None,
        }
    }
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            enabled: true,
            listen: "127.0.0.1:8080".parse().expect("valid address"),
            write_token: None,
            read_token: None,
            max_body_bytes: 16 * 1024 * 1024,
            max_events_per_request: 10_000,
        }
    }
}

// The `humantime`, `humantime_opt`, `bytesize` and `bytesize_opt` serde helper modules
// live in crate::config::units (written by the config helper).
use super::units::{bytesize, bytesize_opt, humantime, humantime_opt};
