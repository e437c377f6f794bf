//! Helpers shared by the syslog and auditd integration tests: finding the corpus and
//! turning events into a stable JSON form for snapshots.
#![allow(dead_code)] // each test binary uses a different subset

use std::path::PathBuf;

use serde_json::{json, Value};
use vigil_normalize::{AutoDecoder, DecodeError, Normalized, SourceKind};

/// `$VIGIL_CORPUS` (relative paths are relative to the workspace root), or `None` with
/// a visible note when it is not set — except on CI, where the corpus is required.
pub fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_CORPUS") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            Some(if dir.is_absolute() {
                dir
            } else {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir)
            })
        }
        None => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("VIGIL_CORPUS must be set on CI");
            }
            eprintln!("skipped: VIGIL_CORPUS not set");
            None
        }
    }
}

/// The non-empty lines of a file, trimmed (per-line framing; the loghub files end
/// lines with CRLF).
pub fn lines(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Decodes `records` through the sniffing decoder, flushing at the end: the events and,
/// per failing record, its index and error. Each record must be sniffed as `kind`
/// unless it fails.
pub fn decode_all(records: &[String], kind: SourceKind) -> (Vec<Normalized>, Vec<(usize, DecodeError)>) {
    let mut decoder = AutoDecoder::new(None);
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in records.iter().enumerate() {
        match decoder.decode(record, &mut out) {
            Ok(k) => assert_eq!(k, kind, "record {i} sniffed as {k}: {record}"),
            Err(e) => errors.push((i, e)),
        }
    }
    decoder.flush(&mut out);
    (out, errors)
}

/// Decodes one line (or the lines of one event) and returns the single event.
pub fn one(lines: &[&str], kind: SourceKind) -> Normalized {
    let records: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
    let (mut out, errors) = decode_all(&records, kind);
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(out.len(), 1, "{lines:?} gave {} events", out.len());
    out.pop().expect("one event")
}

/// The normalized form the snapshots pin: logsource, time, OCSF and Sigma views.
pub fn view(n: &Normalized) -> Value {
    json!({
        "logsource": n.logsource.to_string(),
        "time": n.time.map(|t| t.to_rfc3339()),
        "ocsf": n.ocsf,
        "sigma": n.sigma,
    })
}
