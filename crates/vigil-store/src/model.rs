//! What goes into the store and what comes out: the contract between the pipeline's
//! writer, the query API and the store. Times are milliseconds since the Unix epoch, UTC.

use serde::{Deserialize, Serialize};

/// One decoded event to persist.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewEvent {
    /// UUID v4, text form; assigned at ingest (HTTP returns it to the sender).
    pub event_id: String,
    /// When it happened at the source (falls back to `received_ms` when unknown).
    pub time_ms: i64,
    /// When Vigil received it.
    pub received_ms: i64,
    /// Decoder that read it (`tetragon`, `syslog`, `cowrie` …).
    pub source: String,
    /// Where it came from: `file:/var/log/auth.log`, `http`, `syslog-udp`, `stdin` …
    pub origin: String,
    /// OCSF `class_uid` (1007 Process Activity, 3002 Authentication …), when known.
    pub class_uid: Option<i32>,
    pub host: Option<String>,
    pub src_ip: Option<String>,
    pub user: Option<String>,
    /// The OCSF object as JSON text.
    pub ocsf: String,
    /// The record as it arrived.
    pub raw: String,
}

/// A record that could not be decoded or evaluated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewDeadLetter {
    pub received_ms: i64,
    pub origin: String,
    /// Byte offset or record number within the origin.
    pub position: u64,
    /// Stable reason class (`invalid_json`, `unknown_format`, `too_large` …).
    pub reason: String,
    pub message: String,
    pub decoder: Option<String>,
    /// The record, capped by the producer.
    pub raw: String,
}

/// Lifecycle of an alert, set by analysts through the API.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AlertStatus {
    Open,
    Acknowledged,
    Closed,
}

impl AlertStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Open => "open",
            AlertStatus::Acknowledged => "acknowledged",
            AlertStatus::Closed => "closed",
        }
    }
}

/// What the detector decided about one alert: a new one, or a repeat of one still
/// inside its aggregation window. Applied in order within one write batch.
// Changes are few per batch (one per detection) and short-lived; boxing `New` would
// only cost every producer an allocation and a noisier constructor.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AlertChange {
    New(NewAlert),
    Repeat {
        alert_id: String,
        /// Occurrences to add to the alert's count.
        count: u64,
        last_seen_ms: i64,
        /// Events to link (capped by the detector).
        event_ids: Vec<String>,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewAlert {
    /// UUID v4, text form.
    pub alert_id: String,
    /// Rule or correlation id (the title when the rule has no id).
    pub rule_id: String,
    pub rule_title: String,
    /// Sigma level: informational, low, medium, high, critical.
    pub level: String,
    /// Sigma tags (`attack.t1110`, `attack.credential-access` …).
    pub tags: Vec<String>,
    /// What makes two occurrences "the same alert" besides the rule (rendered group).
    pub group_key: String,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub count: u64,
    pub host: Option<String>,
    pub src_ip: Option<String>,
    pub user: Option<String>,
    pub event_ids: Vec<String>,
    /// Correlation details or other context, as a JSON object text.
    pub details: String,
}

/// Where a source stands; stored in the same transaction as the data read up to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Checkpoint {
    /// Stable identity of the stream (a file's fingerprint, a Kafka partition).
    pub key: String,
    /// Last known location, for people reading it (a path).
    pub location: String,
    /// Bytes (or records) of the stream fully committed.
    pub offset: u64,
    pub updated_ms: i64,
}

/// Everything one commit writes, atomically.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WriteBatch {
    pub events: Vec<NewEvent>,
    /// The events' ids were all drawn for this batch (random UUID v4, as the pipeline
    /// does), so none can be stored already: the write skips the look-up that
    /// otherwise drops replayed ids (see [`crate::Store::duplicates_ignored`]).
    pub fresh_event_ids: bool,
    pub alerts: Vec<AlertChange>,
    pub dead_letters: Vec<NewDeadLetter>,
    pub checkpoints: Vec<Checkpoint>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.alerts.is_empty() && self.dead_letters.is_empty() && self.checkpoints.is_empty()
    }
}

/// A stored event as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventRow {
    pub event_id: String,
    pub time_ms: i64,
    pub received_ms: i64,
    pub source: String,
    pub origin: String,
    pub class_uid: Option<i32>,
    pub host: Option<String>,
    pub src_ip: Option<String>,
    pub user: Option<String>,
    /// The OCSF object (parsed back from its text).
    pub ocsf: serde_json::Value,
    pub raw: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertRow {
    pub alert_id: String,
    pub rule_id: String,
    pub rule_title: String,
    pub level: String,
    pub tags: Vec<String>,
    pub group_key: String,
    pub status: AlertStatus,
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
    pub count: u64,
    pub host: Option<String>,
    pub src_ip: Option<String>,
    pub user: Option<String>,
    /// Linked events (at most the store's cap per alert).
    pub event_ids: Vec<String>,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeadLetterRow {
    pub id: i64,
    pub received_ms: i64,
    pub origin: String,
    pub position: u64,
    pub reason: String,
    pub message: String,
    pub decoder: Option<String>,
    pub raw: String,
}

/// Filters for `GET /api/events`. All optional; `limit` is clamped to 1..=1000.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EventQuery {
    pub from_ms: Option<i64>,
    /// Exclusive.
    pub to_ms: Option<i64>,
    pub class_uid: Option<i32>,
    pub source: Option<String>,
    pub host: Option<String>,
    pub src_ip: Option<String>,
    pub user: Option<String>,
    /// Full-text search over raw events (FTS5 query syntax; a syntax error is a
    /// `StoreError::InvalidQuery`, never a 500).
    pub q: Option<String>,
    /// Opaque cursor from the previous page's `next`.
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct AlertQuery {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub status: Option<AlertStatus>,
    pub rule_id: Option<String>,
    pub level: Option<String>,
    pub host: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

/// One page of results, newest first; `next` is the cursor of the following page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsQuery {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    /// Bucket width; default 60 000 (one minute), clamped so there are ≤ 1000 buckets.
    pub bucket_ms: Option<i64>,
    /// Entries per top list; default 10, at most 100.
    pub top: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    pub start_ms: i64,
    pub events: u64,
    pub alerts: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopEntry {
    pub value: String,
    pub count: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub events: u64,
    pub alerts: u64,
    pub dead_letters: u64,
    pub buckets: Vec<Bucket>,
    /// Alert occurrences (sum of counts) per rule title.
    pub top_rules: Vec<TopEntry>,
    pub top_hosts: Vec<TopEntry>,
    pub top_src_ips: Vec<TopEntry>,
    pub top_users: Vec<TopEntry>,
}

/// Retention: events (and dead letters) older than `max_age_ms` go, then the oldest
/// until the database is under `max_bytes`. Alerts stay (their event links may dangle).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Retention {
    pub max_age_ms: Option<i64>,
    pub max_bytes: Option<u64>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct RetentionReport {
    pub events_deleted: u64,
    pub dead_letters_deleted: u64,
    pub bytes_after: u64,
}
