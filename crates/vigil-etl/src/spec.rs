//! Start requests: what each kind accepts, validated before anything is stored.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{Map, Value};

use crate::{EtlOptions, JobError};

pub const MIN_POLL_INTERVAL_SECS: u64 = 1;
pub const MAX_POLL_INTERVAL_SECS: u64 = 86_400;
/// `poll_interval` when the request has none.
const DEFAULT_POLL_INTERVAL_SECS: u64 = 30;
/// Longest accepted `path`, `podname`, timestamp text.
const MAX_PATH_BYTES: usize = 4096;
const MAX_TABLE_NAME_BYTES: usize = 128;
/// Kubernetes limits: a pod name is a DNS-1123 subdomain, a namespace a DNS-1123 label.
const MAX_POD_NAME_BYTES: usize = 253;
const MAX_NAMESPACE_BYTES: usize = 63;
/// A start time this far past now is a mistake (ms or ns given as s, a wrong year).
const MAX_FUTURE: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum JobSpec {
    Pixie(PixieSpec),
    File(FileSpec),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PixieSpec {
    pub table: String,
    /// Where a new job starts, UNIX ns.
    pub start_ns: i64,
    /// `namespace/pod` or a bare pod name.
    pub pod: Option<String>,
    pub namespace: Option<String>,
    pub poll_interval: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileSpec {
    /// As requested (shown in status).
    pub requested_path: String,
    /// Symbolic links resolved; inside one of the file roots.
    pub path: PathBuf,
    pub poll_interval: Duration,
}

impl JobSpec {
    pub fn kind(&self) -> &'static str {
        match self {
            JobSpec::Pixie(_) => "pixie",
            JobSpec::File(_) => "file",
        }
    }

    /// Validates a start request. `now_ns` resolves relative and missing start times.
    pub fn parse(request: &Value, options: &EtlOptions, now_ns: i64) -> Result<JobSpec, JobError> {
        let Some(fields) = request.as_object() else {
            return Err(bad("the request must be a JSON object"));
        };
        let kind = match fields.get("kind") {
            None | Some(Value::Null) => "pixie",
            Some(Value::String(kind)) => kind.as_str(),
            Some(_) => return Err(bad("`kind` must be a string")),
        };
        match kind {
            "pixie" => {
                only_fields(fields, &["kind", "tablename", "timestamp", "podname", "namespace", "poll_interval"])?;
                parse_pixie(fields, options, now_ns).map(JobSpec::Pixie)
            }
            "file" => {
                only_fields(fields, &["kind", "path", "poll_interval"])?;
                parse_file(fields, options).map(JobSpec::File)
            }
            other => Err(bad(format!("unknown kind `{}` (expected `pixie` or `file`)", shorten(other)))),
        }
    }
}

fn bad(message: impl Into<String>) -> JobError {
    JobError::BadRequest(message.into())
}

/// Echoing caller text in an error is useful, echoing a megabyte of it is not.
fn shorten(text: &str) -> String {
    const MAX: usize = 64;
    if text.len() <= MAX {
        return text.to_owned();
    }
    let mut end = MAX;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end])
}

fn only_fields(fields: &Map<String, Value>, allowed: &[&str]) -> Result<(), JobError> {
    match fields.keys().find(|key| !allowed.contains(&key.as_str())) {
        Some(unknown) => Err(bad(format!("unknown field `{}` (allowed: {})", shorten(unknown), allowed.join(", ")))),
        None => Ok(()),
    }
}

/// A string field; `null` and `""` count as absent.
fn optional_string<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<Option<&'a str>, JobError> {
    match fields.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(_) => Err(bad(format!("`{name}` must be a string"))),
    }
}

fn poll_interval(fields: &Map<String, Value>) -> Result<Duration, JobError> {
    let secs = match fields.get("poll_interval") {
        None | Some(Value::Null) => DEFAULT_POLL_INTERVAL_SECS,
        Some(Value::Number(n)) => n.as_u64().ok_or_else(|| bad("`poll_interval` must be a whole number of seconds"))?,
        Some(Value::String(text)) => {
            text.trim().parse::<u64>().map_err(|_| bad("`poll_interval` must be a whole number of seconds"))?
        }
        Some(_) => return Err(bad("`poll_interval` must be a whole number of seconds")),
    };
    if !(MIN_POLL_INTERVAL_SECS..=MAX_POLL_INTERVAL_SECS).contains(&secs) {
        return Err(bad(format!(
            "`poll_interval` must be between {MIN_POLL_INTERVAL_SECS} and {MAX_POLL_INTERVAL_SECS} seconds"
        )));
    }
    Ok(Duration::from_secs(secs))
}

fn parse_pixie(fields: &Map<String, Value>, options: &EtlOptions, now_ns: i64) -> Result<PixieSpec, JobError> {
    if options.pixie.address.is_none() {
        return Err(bad("pixie jobs are disabled: no Pixie address is configured"));
    }
    let table = optional_string(fields, "tablename")?.ok_or_else(|| bad("`tablename` is required"))?;
    if !is_table_name(table) {
        return Err(bad(format!(
            "`tablename` `{}` is not a table name (letters, digits and `_`, at most {MAX_TABLE_NAME_BYTES} bytes)",
            shorten(table)
        )));
    }
    let start_ns = match fields.get("timestamp") {
        None | Some(Value::Null) => now_ns,
        Some(value) => parse_timestamp(value, now_ns).map_err(|why| bad(format!("`timestamp`: {why}")))?,
    };
    let pod = optional_string(fields, "podname")?;
    if let Some(pod) = pod {
        if !is_pod_name(pod) {
            return Err(bad(format!(
                "`podname` `{}` is not a Kubernetes pod name (`name` or `namespace/name`)",
                shorten(pod)
            )));
        }
    }
    let namespace = optional_string(fields, "namespace")?;
    if let Some(namespace) = namespace {
        if !is_dns_label(namespace, MAX_NAMESPACE_BYTES) {
            return Err(bad(format!("`namespace` `{}` is not a Kubernetes namespace name", shorten(namespace))));
        }
    }
    Ok(PixieSpec {
        table: table.to_owned(),
        start_ns,
        pod: pod.map(str::to_owned),
        namespace: namespace.map(str::to_owned),
        poll_interval: poll_interval(fields)?,
    })
}

fn parse_file(fields: &Map<String, Value>, options: &EtlOptions) -> Result<FileSpec, JobError> {
    let requested = optional_string(fields, "path")?.ok_or_else(|| bad("`path` is required"))?;
    if requested.len() > MAX_PATH_BYTES || requested.contains('\0') {
        return Err(bad("`path` is too long or holds a NUL byte"));
    }
    if options.file_roots.is_empty() {
        return Err(bad("file jobs are disabled: no ETL file roots are configured"));
    }
    let path = std::fs::canonicalize(requested)
        .map_err(|err| bad(format!("`path` `{}` cannot be opened: {err}", shorten(requested))))?;
    let inside_a_root = options
        .file_roots
        .iter()
        .filter_map(|root| std::fs::canonicalize(root).ok())
        .any(|root| path.starts_with(root));
    if !inside_a_root {
        return Err(bad(format!("`path` `{}` is outside the configured ETL file roots", shorten(requested))));
    }
    Ok(FileSpec { requested_path: requested.to_owned(), path, poll_interval: poll_interval(fields)? })
}

/// Pixie table names are identifiers; anything else could not be a table and is never
/// placed in a script.
fn is_table_name(name: &str) -> bool {
    let mut chars = name.chars();
    let first_ok = chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    first_ok && name.len() <= MAX_TABLE_NAME_BYTES && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// DNS-1123 label: lower-case letters, digits and `-`, starting and ending alphanumeric.
fn is_dns_label(name: &str, max: usize) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= max
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// DNS-1123 subdomain (labels joined by `.`), as Kubernetes pod names are.
fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= MAX_POD_NAME_BYTES && name.split('.').all(|label| is_dns_label(label, MAX_NAMESPACE_BYTES))
}

/// `name` or `namespace/name` (the form Pixie's `ctx['pod']` has).
fn is_pod_name(pod: &str) -> bool {
    match pod.split_once('/') {
        Some((namespace, name)) => is_dns_label(namespace, MAX_NAMESPACE_BYTES) && is_dns_subdomain(name),
        None => is_dns_subdomain(pod),
    }
}

/// A start time as UNIX ns: RFC 3339 text; an epoch number (or digits in a string) in
/// s, ms or ns, told apart by magnitude (below 1e11 s, below 1e17 ms, else ns: UNIX
/// seconds reach 1e11 in the year 5138, ns passed 1e17 in 1973); or relative to now
/// as PxL writes it: `-30s`, `-5m`, `-2h`, `-1d`. Must not be negative nor more than a
/// day ahead of `now_ns`.
pub fn parse_timestamp(value: &Value, now_ns: i64) -> Result<i64, String> {
    let ns = match value {
        Value::Number(n) => {
            let epoch = n.as_i64().ok_or("an epoch time must be a whole number")?;
            epoch_to_ns(epoch)?
        }
        Value::String(text) => {
            let text = text.trim();
            if text.len() > 64 {
                return Err("too long".to_owned());
            }
            if let Some(relative) = text.strip_prefix('-') {
                let ago = parse_duration(relative)
                    .ok_or_else(|| format!("`{text}` is neither RFC 3339, an epoch number, nor relative like `-5m`"))?;
                now_ns.checked_sub(ago).ok_or("too far in the past")?
            } else if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
                epoch_to_ns(text.parse::<i64>().map_err(|_| "the epoch number is too large")?)?
            } else {
                let time = chrono::DateTime::parse_from_rfc3339(text)
                    .map_err(|_| format!("`{text}` is neither RFC 3339, an epoch number, nor relative like `-5m`"))?;
                time.timestamp_nanos_opt().ok_or("outside the representable range")?
            }
        }
        _ => return Err("must be a string or a number".to_owned()),
    };
    if ns < 0 {
        return Err("before 1970".to_owned());
    }
    if ns > now_ns.saturating_add(MAX_FUTURE.as_nanos() as i64) {
        return Err("more than a day in the future".to_owned());
    }
    Ok(ns)
}

fn epoch_to_ns(epoch: i64) -> Result<i64, String> {
    let scaled = if epoch.unsigned_abs() < 100_000_000_000 {
        epoch.checked_mul(1_000_000_000)
    } else if epoch.unsigned_abs() < 100_000_000_000_000_000 {
        epoch.checked_mul(1_000_000)
    } else {
        Some(epoch)
    };
    scaled.ok_or_else(|| "the epoch number is out of range".to_owned())
}

/// `30s`, `5m`, `2h`, `1d` → ns.
fn parse_duration(text: &str) -> Option<i64> {
    let unit_at = text.find(|c: char| !c.is_ascii_digit())?;
    let (digits, unit) = text.split_at(unit_at);
    let count: i64 = digits.parse().ok()?;
    let unit_ns: i64 = match unit {
        "s" => 1_000_000_000,
        "m" => 60 * 1_000_000_000,
        "h" => 3_600 * 1_000_000_000,
        "d" => 86_400 * 1_000_000_000,
        _ => return None,
    };
    count.checked_mul(unit_ns)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW_NS: i64 = 1_795_514_400_000_000_000; // 2026-11-24T10:00:00Z

    fn options() -> EtlOptions {
        let mut options = EtlOptions::default();
        options.pixie.address = Some("http://127.0.0.1:1".to_owned());
        options
    }

    fn error_of(request: Value) -> String {
        match JobSpec::parse(&request, &options(), NOW_NS) {
            Err(JobError::BadRequest(why)) => why,
            other => panic!("expected a bad request for {request}, got {other:?}"),
        }
    }

    #[test]
    fn timestamps_in_every_accepted_form() {
        let expected = 1_795_514_000_000_000_000_i64; // 2026-11-24T09:53:20Z
        for value in [
            json!("2026-11-24T09:53:20Z"),
            json!("2026-11-24T10:53:20+01:00"),
            json!(1_795_514_000),
            json!(1_795_514_000_000_i64),
            json!(1_795_514_000_000_000_000_i64),
            json!("1795514000000"),
        ] {
            assert_eq!(parse_timestamp(&value, NOW_NS), Ok(expected), "{value}");
        }
        assert_eq!(parse_timestamp(&json!("-5m"), NOW_NS), Ok(NOW_NS - 300_000_000_000));
        assert_eq!(parse_timestamp(&json!("-1d"), NOW_NS), Ok(NOW_NS - 86_400_000_000_000));
        for bad in [json!("yesterday"), json!("-5x"), json!(-1), json!(true), json!(1.5), json!("2999-01-01T00:00:00Z")]
        {
            assert!(parse_timestamp(&bad, NOW_NS).is_err(), "{bad}");
        }
    }

    #[test]
    fn pixie_requests_are_validated() {
        let spec = JobSpec::parse(
            &json!({"tablename": "http_events", "timestamp": 1_795_514_000, "podname": "default/web-1",
                    "namespace": "default", "poll_interval": 5}),
            &options(),
            NOW_NS,
        )
        .unwrap();
        assert_eq!(
            spec,
            JobSpec::Pixie(PixieSpec {
                table: "http_events".into(),
                start_ns: 1_795_514_000_000_000_000,
                pod: Some("default/web-1".into()),
                namespace: Some("default".into()),
                poll_interval: Duration::from_secs(5),
            })
        );
        assert!(error_of(json!({"timestamp": "-5m"})).contains("tablename"));
        assert!(error_of(json!({"tablename": "http_events') + evil('"})).contains("tablename"));
        assert!(error_of(json!({"tablename": "t", "timestamp": "soon"})).contains("timestamp"));
        assert!(error_of(json!({"tablename": "t", "poll_interval": 0})).contains("poll_interval"));
        assert!(error_of(json!({"tablename": "t", "poll_interval": 86_401})).contains("poll_interval"));
        assert!(error_of(json!({"tablename": "t", "extra": 1})).contains("unknown field `extra`"));
        assert!(error_of(json!({"kind": "kafka"})).contains("unknown kind"));
        assert!(error_of(json!({"tablename": "t", "podname": "web'\n"})).contains("podname"));
        assert!(error_of(json!({"tablename": "t", "namespace": "Kube_System"})).contains("namespace"));
        assert!(error_of(json!(["not", "an", "object"])).contains("object"));
    }

    #[test]
    fn pixie_needs_an_address() {
        let refused = JobSpec::parse(&json!({"tablename": "t"}), &EtlOptions::default(), NOW_NS);
        assert!(matches!(refused, Err(JobError::BadRequest(why)) if why.contains("disabled")));
    }

    #[test]
    fn file_paths_must_lie_inside_a_root() {
        let root = tempfile::tempdir().unwrap();
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("a.log"), "x\n").unwrap();
        std::fs::write(outside.path().join("b.log"), "x\n").unwrap();
        let options = EtlOptions { file_roots: vec![root.path().to_owned()], ..EtlOptions::default() };
        let inside = json!({"kind": "file", "path": root.path().join("a.log")});
        assert!(matches!(JobSpec::parse(&inside, &options, NOW_NS), Ok(JobSpec::File(_))));
        let escaping = json!({"kind": "file", "path": root.path().join("../").join(outside.path()).join("b.log")});
        assert!(matches!(JobSpec::parse(&escaping, &options, NOW_NS), Err(JobError::BadRequest(_))));
        let dotdot = json!({"kind": "file", "path": format!("{}/../{}", root.path().display(), outside.path().file_name().unwrap().to_str().unwrap())});
        assert!(matches!(JobSpec::parse(&dotdot, &options, NOW_NS), Err(JobError::BadRequest(_))));
        let disabled = JobSpec::parse(&inside, &EtlOptions::default(), NOW_NS);
        assert!(matches!(disabled, Err(JobError::BadRequest(why)) if why.contains("disabled")));
    }
}
