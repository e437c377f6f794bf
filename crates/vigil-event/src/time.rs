use chrono::{DateTime, NaiveDate, NaiveDateTime, Utc};

/// Event time, UTC.
pub type Timestamp = DateTime<Utc>;

/// Parses the timestamp shapes security logs use: RFC 3339 / ISO 8601 with or without
/// zone (no zone means UTC), `YYYY-MM-DD HH:MM:SS[.fff]`, a bare date, and epoch
/// seconds or milliseconds as digits (told apart by magnitude).
pub fn parse_timestamp(text: &str) -> Option<Timestamp> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        let value: f64 = text.parse().ok()?;
        return from_epoch(value);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f %z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    let naive = text.trim_end_matches('Z');
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, format) {
            return Some(t.and_utc());
        }
    }
    NaiveDate::parse_from_str(naive, "%Y-%m-%d").ok().and_then(|d| d.and_hms_opt(0, 0, 0)).map(|t| t.and_utc())
}

/// The wall clock in milliseconds since the Unix epoch (0 before 1970, saturating).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// Epoch seconds, or milliseconds when the number is too large to be seconds
/// (after year 5138 in seconds).
pub fn from_epoch(value: f64) -> Option<Timestamp> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    let millis = if value > 1e11 { value } else { value * 1000.0 };
    DateTime::from_timestamp_millis(millis as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_common_shapes() {
        let expect = "2025-12-06T21:11:02.649Z";
        for text in [
            "2025-12-06T21:11:02.649150Z",
            "2025-12-06 21:11:02.649",
            "2025-12-06T21:11:02.649+00:00",
            "2025-12-06T23:11:02.649+02:00",
            "1765055462649",
            "1765055462.649",
        ] {
            let t = parse_timestamp(text).unwrap_or_else(|| panic!("{text}"));
            assert_eq!(t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), expect, "{text}");
        }
        assert!(parse_timestamp("yesterday").is_none());
        assert!(parse_timestamp("").is_none());
    }
}
