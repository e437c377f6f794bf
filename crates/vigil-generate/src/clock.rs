//! Timestamps in the shapes the sources write.

use chrono::{DateTime, Utc};

fn at(ms: i64, sub_ms_ns: u32) -> DateTime<Utc> {
    let secs = ms.div_euclid(1000);
    let nanos = (ms.rem_euclid(1000) as u32) * 1_000_000 + sub_ms_ns.min(999_999);
    DateTime::from_timestamp(secs, nanos).unwrap_or_default()
}

/// `2026-03-20T01:45:11.260296Z` (Cowrie, Kubernetes audit).
pub(crate) fn rfc3339_micros(ms: i64, sub_ms_ns: u32) -> String {
    at(ms, sub_ms_ns).format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
}

/// `2025-04-23T10:22:32.038952138Z` (Tetragon event and process times).
pub(crate) fn rfc3339_nanos(ms: i64, sub_ms_ns: u32) -> String {
    at(ms, sub_ms_ns).format("%Y-%m-%dT%H:%M:%S%.9fZ").to_string()
}

/// `2025-04-23T10:22:32Z` (container start times).
pub(crate) fn rfc3339_seconds(ms: i64) -> String {
    at(ms, 0).format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// `Mar  4 06:22:18`: the RFC 3164 timestamp of auth.log (day padded with a space).
pub(crate) fn syslog(ms: i64) -> String {
    at(ms, 0).format("%b %e %H:%M:%S").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        // 2025-03-04T06:22:18.819Z
        let ms = 1_741_069_338_819;
        assert_eq!(rfc3339_micros(ms, 232_000), "2025-03-04T06:22:18.819232Z");
        assert_eq!(rfc3339_nanos(ms, 1), "2025-03-04T06:22:18.819000001Z");
        assert_eq!(rfc3339_seconds(ms), "2025-03-04T06:22:18Z");
        assert_eq!(syslog(ms), "Mar  4 06:22:18");
    }
}
