//! The event as every Vigil stage sees it.
//!
//! An [`Event`] keeps the decoded JSON exactly as it arrived (nested objects and arrays
//! intact), the time it happened, and — when a decoder knows it — the Sigma
//! [`LogSource`] it belongs to. Field access by Sigma name lives in `vigil-sigma`, which
//! compiles the names its rules need into a lookup table and reads only those.

mod logsource;
mod time;

pub use logsource::LogSource;
pub use time::{from_epoch, now_ms, parse_timestamp, Timestamp};

use serde::{Deserialize, Serialize};

/// One decoded event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event as decoded, unmodified.
    pub raw: serde_json::Value,
    /// When the event happened (event time, not arrival time), if known.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub timestamp: Option<Timestamp>,
    /// The Sigma logsource, if the decoder knows it.
    #[serde(skip_serializing_if = "LogSource::is_empty", default)]
    pub logsource: LogSource,
}

impl Event {
    pub fn new(raw: serde_json::Value) -> Self {
        Event { raw, timestamp: None, logsource: LogSource::default() }
    }

    /// Looks a value up by dotted path (`objectRef.resource`). A path segment that
    /// meets an array descends into each element and returns the first hit, which is
    /// how Sigma field names address arrays of objects.
    pub fn get_path(&self, path: &str) -> Option<&serde_json::Value> {
        get_path(&self.raw, path)
    }
}

/// Dotted-path lookup on any JSON value; see [`Event::get_path`].
pub fn get_path<'a>(value: &'a serde_json::Value, path: &str) -> Option<&'a serde_json::Value> {
    if let Some(direct) = value.as_object().and_then(|o| o.get(path)) {
        return Some(direct);
    }
    let (head, rest) = match path.split_once('.') {
        Some((h, r)) => (h, Some(r)),
        None => (path, None),
    };
    match value {
        serde_json::Value::Object(map) => {
            let child = map.get(head)?;
            match rest {
                None => Some(child),
                Some(rest) => get_path(child, rest),
            }
        }
        serde_json::Value::Array(items) => items.iter().find_map(|item| get_path(item, path)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn dotted_paths_descend_objects_and_arrays() {
        let raw = json!({"a": {"b": [{"c": 1}, {"d": "x"}]}, "e.f": true});
        assert_eq!(get_path(&raw, "a.b.c"), Some(&json!(1)));
        assert_eq!(get_path(&raw, "a.b.d"), Some(&json!("x")));
        assert_eq!(get_path(&raw, "e.f"), Some(&json!(true)));
        assert_eq!(get_path(&raw, "a.z"), None);
    }
}
