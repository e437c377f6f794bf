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
    if let Some(t) = parse_utc_rfc3339(text) {
        return Some(t);
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

/// The shape nearly every sensor writes, `YYYY-MM-DDTHH:MM:SS[.f{1,9}]Z`, read
/// directly: chrono's general RFC 3339 parser costs several times more, and a Tetragon
/// event carries two or three such times. Anything else (offsets, leap seconds, more
/// than nine fraction digits) returns `None` and takes the general path.
fn parse_utc_rfc3339(text: &str) -> Option<Timestamp> {
    let b = text.as_bytes();
    if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' {
        return None;
    }
    if *b.last()? != b'Z' {
        return None;
    }
    let num = |range: std::ops::Range<usize>| -> Option<u32> {
        b[range].iter().try_fold(0u32, |acc, &d| d.is_ascii_digit().then(|| acc * 10 + u32::from(d - b'0')))
    };
    let (year, month, day) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (hour, minute, second) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let nanos = match &b[19..b.len() - 1] {
        [] => 0,
        [b'.', digits @ ..] if (1..=9).contains(&digits.len()) => {
            let value = num(20..20 + digits.len())?;
            value * 10u32.pow(9 - digits.len() as u32)
        }
        _ => return None,
    };
    if second > 59 {
        return None;
    }
    let date = NaiveDate::from_ymd_opt(i32::try_from(year).ok()?, month, day)?;
    Some(date.and_hms_nano_opt(hour, minute, second, nanos)?.and_utc())
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
    use proptest::prelude::*;

    proptest! {
        /// The fast path agrees with chrono's RFC 3339 parser wherever it answers, and
        /// answers for every well-formed UTC time with up to nine fraction digits.
        #[test]
        fn fast_utc_path_agrees_with_chrono(
            y in 0u32..10000, mo in 0u32..14, d in 0u32..33, h in 0u32..25, mi in 0u32..61, s in 0u32..61,
            frac in proptest::option::of("[0-9]{1,12}"),
        ) {
            let text = format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{}Z", frac.map(|f| format!(".{f}")).unwrap_or_default());
            let chrono = DateTime::parse_from_rfc3339(&text).ok().map(|t| t.with_timezone(&Utc));
            match parse_utc_rfc3339(&text) {
                Some(fast) => prop_assert_eq!(Some(fast), chrono),
                None => prop_assert!(chrono.is_none() || s == 60 || text.len() > 30, "{} parsed only by chrono", text),
            }
            if chrono.is_some() {
                prop_assert_eq!(parse_timestamp(&text), chrono);
            }
        }
    }

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
