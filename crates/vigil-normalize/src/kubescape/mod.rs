//! Kubescape: node-agent runtime alerts ([`KubescapeAlertDecoder`], Detection Finding) and
//! `kubescape scan --format json` reports ([`KubescapeScanDecoder`], one Compliance
//! Finding per failed control and resource). See `docs/sources/kubescape.md`.
//!
//! Alert shapes (field names from kubescape/node-agent `pkg/exporters` and
//! armosec/armoapi-go `armotypes`):
//! - stdout exporter: one logrus JSON line per alert, the alert split into
//!   `BaseRuntimeMetadata`, `RuntimeK8sDetails`, `RuntimeProcessDetails`, `RuleID`, plus
//!   the trigger `event` and logrus' `level` / `msg` / `time`;
//! - HTTP exporter: a `{"kind":"RuntimeAlerts","apiVersion":"kubescape.io/v1","spec":
//!   {"alerts":[…],"processTree":…}}` envelope whose alerts are flat `RuntimeAlert`
//!   objects (Go's embedded structs are inlined: `alertName`, `ruleID`, `podName`… at the
//!   top level of each alert);
//! - one such flat alert on its own.

mod alert;
mod catalogue;
mod scan;

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::Value;

use crate::{DeadLetterReason, DecodeError};

pub(crate) use alert::KubescapeAlertDecoder;
pub(crate) use scan::KubescapeScanDecoder;

fn has(record: &str, needle: &str) -> bool {
    memchr::memmem::find(record.as_bytes(), needle.as_bytes()).is_some()
}

/// A node-agent alert in any of its three shapes (stdout line, HTTP envelope, flat alert).
pub(crate) fn looks_like_alert(record: &str) -> bool {
    has(record, "\"BaseRuntimeMetadata\"")
        || (has(record, "\"RuntimeAlerts\"") && has(record, "\"alerts\""))
        || (has(record, "\"alertName\"") && (has(record, "\"ruleID\"") || has(record, "\"infectedPID\"")))
}

/// A `kubescape scan --format json` report (v1 or v2): the summary and the per-resource
/// results both exist in every version; alerts never carry `summaryDetails`.
pub(crate) fn looks_like_scan(record: &str) -> bool {
    has(record, "\"summaryDetails\"") && (has(record, "\"results\"") || has(record, "\"resources\""))
}

/// A JSON string borrowed from the record when it has no escapes. A plain
/// `Option<Cow<str>>` field would always be copied: serde only borrows a `Cow` that is a
/// field of its own, so it is wrapped in this newtype.
#[derive(Debug, Deserialize, Clone, PartialEq, Eq)]
#[serde(transparent)]
pub(crate) struct Text<'a>(#[serde(borrow)] pub Cow<'a, str>);

impl Text<'_> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The text of an optional string field, `None` when absent or empty (Go's `omitempty`
/// and the empty string both mean "unknown" in Kubescape output).
pub(crate) fn text<'t>(t: &'t Option<Text<'_>>) -> Option<&'t str> {
    t.as_ref().map(Text::as_str).filter(|s| !s.is_empty())
}

/// Go's zero `time.Time` (`0001-01-01T00:00:00Z`), which Kubescape writes for "unset".
pub(crate) fn is_go_zero_time(t: &vigil_event::Timestamp) -> bool {
    use chrono::Datelike;
    t.year() <= 1
}

/// A stable identifier from the parts that make an event unique (FNV-1a, 64 bit, hex):
/// the same record always yields the same uid, so re-ingesting deduplicates.
pub(crate) fn stable_uid(parts: &[&str]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain(std::iter::once(0x1f)) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{hash:016x}")
}

/// Expected JSON type of a field, for error messages.
#[derive(Clone, Copy)]
pub(crate) enum Kind {
    Str,
    Num,
    Obj,
    Arr,
}

impl Kind {
    fn matches(self, v: &Value) -> bool {
        match self {
            Kind::Str => v.is_string() || v.is_null(),
            Kind::Num => v.is_number() || v.is_null(),
            Kind::Obj => v.is_object() || v.is_null(),
            Kind::Arr => v.is_array() || v.is_null(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Kind::Str => "a string",
            Kind::Num => "a number",
            Kind::Obj => "an object",
            Kind::Arr => "an array",
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Turns a typed-parse error into a dead letter. Syntax errors are `invalid_json`; type
/// errors are `invalid_field`, naming the field when it is one of `fields` (dotted paths,
/// checked on a second, untyped parse — this runs only for bad records).
pub(crate) fn parse_error(err: &serde_json::Error, record: &str, what: &str, fields: &[(&str, Kind)]) -> DecodeError {
    if !err.is_data() {
        return DecodeError::invalid_json(err);
    }
    let Ok(value) = serde_json::from_str::<Value>(record) else {
        return DecodeError::invalid_json(err);
    };
    if !value.is_object() {
        return DecodeError::new(
            DeadLetterReason::UnknownFormat,
            format!("{what} must be a JSON object, found {}", json_type(&value)),
        );
    }
    for (path, kind) in fields {
        if let Some(v) = vigil_event::get_path(&value, path) {
            if !kind.matches(v) {
                return DecodeError::new(
                    DeadLetterReason::InvalidField,
                    format!("field `{path}` must be {}, found {}", kind.name(), json_type(v)),
                );
            }
        }
    }
    DecodeError::new(DeadLetterReason::InvalidField, format!("{what}: a field has an unexpected type ({err})"))
}

/// Kubescape severity (node-agent rule priority) → OCSF `severity_id`. node-agent's own
/// buckets (`PriorityToStatus` in pkg/ruleengine): 0 none, 1–4 low, 5–7 medium, 8–9 high,
/// 10 critical, 1000 "system issue" (an agent condition such as the alert rate limit, not
/// a threat: Informational).
pub(crate) fn node_agent_severity(priority: i64) -> u8 {
    match priority {
        0 | 1000 => 1,
        1..=4 => 2,
        5..=7 => 3,
        8..=9 => 4,
        10 => 5,
        _ => 0,
    }
}

/// Kubescape control `scoreFactor` → OCSF `severity_id`, with Kubescape's own buckets
/// (`ControlSeverityToInt` in kubescape/opa-utils: 9+ critical, 7–8 high, 4–6 medium,
/// 1–3 low, else unknown).
pub(crate) fn score_factor_severity(score: f64) -> u8 {
    if score >= 9.0 {
        5
    } else if score >= 7.0 {
        4
    } else if score >= 4.0 {
        3
    } else if score >= 1.0 {
        2
    } else {
        0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_borrows_unescaped_strings() {
        let t: Option<Text<'_>> = serde_json::from_str(r#""plain""#).unwrap();
        assert!(matches!(t, Some(Text(Cow::Borrowed("plain")))));
        let t: Option<Text<'_>> = serde_json::from_str(r#""a\nb""#).unwrap();
        assert_eq!(t.unwrap().as_str(), "a\nb");
    }

    #[test]
    fn sniffers_tell_alerts_and_scans_apart() {
        let stdout = r#"{"BaseRuntimeMetadata":{"alertName":"x"},"RuleID":"R0001"}"#;
        let envelope = r#"{"kind":"RuntimeAlerts","apiVersion":"kubescape.io/v1","spec":{"alerts":[]}}"#;
        let flat = r#"{"alertName":"x","ruleID":"R0001","infectedPID":1}"#;
        let scan = r#"{"summaryDetails":{},"results":[],"resources":[]}"#;
        for alert in [stdout, envelope, flat] {
            assert!(looks_like_alert(alert) && !looks_like_scan(alert), "{alert}");
        }
        assert!(looks_like_scan(scan) && !looks_like_alert(scan));
        assert!(!looks_like_alert(r#"{"rule":"x","priority":"Warning","output":"y"}"#));
    }

    #[test]
    fn severities_follow_kubescape_buckets() {
        let ids: Vec<u8> = [0, 1, 4, 5, 7, 8, 9, 10, 11, 1000, -3].iter().map(|p| node_agent_severity(*p)).collect();
        assert_eq!(ids, [1, 2, 2, 3, 3, 4, 4, 5, 0, 1, 0]);
        let ids: Vec<u8> =
            [0.0, 1.0, 3.9, 4.0, 6.0, 7.0, 8.5, 9.0, 10.0].iter().map(|s| score_factor_severity(*s)).collect();
        assert_eq!(ids, [0, 2, 2, 3, 3, 4, 4, 5, 5]);
    }

    #[test]
    fn stable_uid_depends_on_every_part() {
        assert_eq!(stable_uid(&["a", "b"]), stable_uid(&["a", "b"]));
        assert_ne!(stable_uid(&["a", "b"]), stable_uid(&["ab", ""]));
        assert_eq!(stable_uid(&[]).len(), 16);
    }
}
