//! Durations (`250ms`, `30s`, `1h30m`, `7d`) and byte sizes (`512KiB`, `16MiB`, `1GB`)
//! as people write them in `vigil.toml`, with the serde helpers the config model uses.
//!
//! Durations must carry a unit: a bare `30` could mean seconds or milliseconds, and a
//! wrong guess turns a 30-second window into a 30-millisecond one. Sizes without a unit
//! are bytes, which is what every tool means by a bare size.

use std::time::Duration;

/// Longest accepted duration: 100 years, so that every duration fits in i64
/// milliseconds wherever the rest of Vigil stores it.
pub const MAX_DURATION: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// Longest duration or size text we look at; anything longer is a mistake.
const MAX_TEXT_LEN: usize = 64;

/// Duration units: accepted spellings and their length in milliseconds.
const DURATION_UNITS: &[(&[&str], u64)] = &[
    (&["ms", "msec", "msecs", "millisecond", "milliseconds"], 1),
    (&["s", "sec", "secs", "second", "seconds"], 1_000),
    (&["m", "min", "mins", "minute", "minutes"], 60_000),
    (&["h", "hr", "hrs", "hour", "hours"], 3_600_000),
    (&["d", "day", "days"], 86_400_000),
    (&["w", "week", "weeks"], 604_800_000),
];

/// Size units (matched case-insensitively) and their size in bytes.
const SIZE_UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
    ("pb", 1_000_000_000_000_000),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("pib", 1 << 50),
];

/// Whether `text` is one of the words that switch an optional setting off.
pub fn is_off(text: &str) -> bool {
    let text = text.trim();
    text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none")
}

/// Parses `250ms`, `30s`, `5m`, `2h`, `7d`, `1w` and sums like `1h30m` or `1h 30m`.
/// Millisecond precision; at most [`MAX_DURATION`].
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty duration; write a number with a unit, e.g. `30s`".to_string());
    }
    if trimmed.len() > MAX_TEXT_LEN {
        return Err(format!("duration is longer than {MAX_TEXT_LEN} characters"));
    }
    if trimmed.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("`{trimmed}` has no unit; write e.g. `{trimmed}s` or `{trimmed}ms`"));
    }
    let mut total_ms: u64 = 0;
    let mut rest = trimmed;
    while !rest.is_empty() {
        let digits_len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if digits_len == 0 {
            return Err(format!("invalid duration `{trimmed}`: expected a number at `{rest}` (e.g. `30s`, `1h30m`)"));
        }
        let (digits, after) = rest.split_at(digits_len);
        if after.starts_with('.') {
            return Err(format!(
                "invalid duration `{trimmed}`: use a whole number with a smaller unit (`1500ms`, `90m`)"
            ));
        }
        let after = after.trim_start();
        let unit_len = after.bytes().take_while(u8::is_ascii_alphabetic).count();
        let (unit, after) = after.split_at(unit_len);
        if unit.is_empty() {
            return Err(format!("invalid duration `{trimmed}`: `{digits}` has no unit (ms, s, m, h, d, w)"));
        }
        let unit_ms =
            DURATION_UNITS.iter().find(|(names, _)| names.contains(&unit)).map(|(_, ms)| *ms).ok_or_else(|| {
                format!("invalid duration `{trimmed}`: unknown unit `{unit}` (use ms, s, m, h, d or w)")
            })?;
        let count: u64 = digits.parse().map_err(|_| format!("duration `{trimmed}` is too long"))?;
        total_ms = count
            .checked_mul(unit_ms)
            .and_then(|ms| total_ms.checked_add(ms))
            .ok_or_else(|| format!("duration `{trimmed}` is too long"))?;
        rest = after.trim_start();
    }
    let duration = Duration::from_millis(total_ms);
    if duration > MAX_DURATION {
        return Err(format!("duration `{trimmed}` is too long (at most {})", format_duration(MAX_DURATION)));
    }
    Ok(duration)
}

/// Writes `duration` the way [`parse_duration`] reads it, largest units first
/// (`1h30m`, `250ms`, `0s`). Sub-millisecond parts are dropped.
pub fn format_duration(duration: Duration) -> String {
    let mut remaining_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
    if remaining_ms == 0 {
        return "0s".to_string();
    }
    let mut text = String::new();
    for (unit, unit_ms) in [("d", 86_400_000), ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1)] {
        let count = remaining_ms / unit_ms;
        if count > 0 {
            text.push_str(&count.to_string());
            text.push_str(unit);
            remaining_ms %= unit_ms;
        }
    }
    text
}

/// Parses a byte size: plain bytes (`1048576`), binary units (`512KiB`, `16MiB`,
/// `10GiB`) or decimal ones (`1GB` = 10^9 bytes), units in any case, an optional space
/// before the unit, and fractions with a unit (`1.5GiB`, rounded down to a byte).
pub fn parse_bytes(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err("empty size; write bytes or a number with a unit, e.g. `16MiB`".to_string());
    }
    if trimmed.len() > MAX_TEXT_LEN {
        return Err(format!("size is longer than {MAX_TEXT_LEN} characters"));
    }
    let number_len = trimmed.bytes().take_while(|b| b.is_ascii_digit() || *b == b'.').count();
    let (number, unit) = trimmed.split_at(number_len);
    let unit = unit.trim_start();
    let (whole, fraction) = match number.split_once('.') {
        Some((whole, fraction)) => (whole, fraction),
        None => (number, ""),
    };
    if whole.is_empty() || fraction.contains('.') || (number.contains('.') && fraction.is_empty()) {
        return Err(format!("invalid size `{trimmed}`: expected a number, e.g. `16MiB` or `1048576`"));
    }
    let multiplier = if unit.is_empty() {
        1
    } else {
        SIZE_UNITS.iter().find(|(name, _)| name.eq_ignore_ascii_case(unit)).map(|(_, bytes)| *bytes).ok_or_else(
            || format!("invalid size `{trimmed}`: unknown unit `{unit}` (use B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)"),
        )?
    };
    if !fraction.is_empty() && multiplier == 1 {
        return Err(format!("invalid size `{trimmed}`: a byte count is a whole number"));
    }
    let too_large = || format!("size `{trimmed}` is too large");
    let whole: u64 = whole.parse().map_err(|_| too_large())?;
    let mut bytes = whole.checked_mul(multiplier).ok_or_else(too_large)?;
    if !fraction.is_empty() {
        // Keep at most 9 fraction digits: finer than a byte for every unit up to PiB
        // would need more, but nobody writes sizes that precisely.
        let digits = &fraction[..fraction.len().min(9)];
        let numerator: u128 = digits.parse().map_err(|_| too_large())?;
        let denominator = 10u128.pow(digits.len() as u32);
        let extra = u64::try_from(numerator * u128::from(multiplier) / denominator).map_err(|_| too_large())?;
        bytes = bytes.checked_add(extra).ok_or_else(too_large)?;
    }
    Ok(bytes)
}

/// Writes `bytes` the way [`parse_bytes`] reads it: the largest binary unit that divides
/// it exactly, else the largest decimal one, else plain bytes (`10GiB`, `1GB`, `1000B`).
pub fn format_bytes(bytes: u64) -> String {
    if bytes == 0 {
        return "0B".to_string();
    }
    // Binary units divide exactly when enough low bits are zero; decimal ones are
    // checked by division (no `is_multiple_of`: it is newer than Vigil's MSRV).
    for (unit, shift) in [("PiB", 50), ("TiB", 40), ("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if bytes.trailing_zeros() >= shift {
            return format!("{}{unit}", bytes >> shift);
        }
    }
    for (unit, size) in
        [("PB", 1_000_000_000_000_000u64), ("TB", 1_000_000_000_000), ("GB", 1_000_000_000), ("MB", 1_000_000)]
    {
        if bytes / size * size == bytes {
            return format!("{}{unit}", bytes / size);
        }
    }
    format!("{bytes}B")
}

/// Serde helper for a required `Duration` written as `30s`.
pub mod humantime {
    use std::fmt;
    use std::time::Duration;

    use serde::de::{self, Deserializer, Visitor};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
        deserializer.deserialize_any(DurationVisitor)
    }

    struct DurationVisitor;

    impl Visitor<'_> for DurationVisitor {
        type Value = Duration;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a duration such as \"250ms\", \"30s\", \"5m\", \"2h\" or \"7d\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
            super::parse_duration(text).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, number: i64) -> Result<Duration, E> {
            Err(E::custom(format!("`{number}` has no unit; write a string such as \"{number}s\"")))
        }

        fn visit_u64<E: de::Error>(self, number: u64) -> Result<Duration, E> {
            Err(E::custom(format!("`{number}` has no unit; write a string such as \"{number}s\"")))
        }
    }
}

/// Serde helper for an optional `Duration`: `"off"` or `"none"` mean no limit.
pub mod humantime_opt {
    use std::time::Duration;

    use serde::de::Deserializer;
    use serde::Deserialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Duration>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(i64),
        }
        match Raw::deserialize(deserializer)
            .map_err(|_| serde::de::Error::custom("expected a duration such as \"7d\", or \"off\""))?
        {
            Raw::Text(text) if super::is_off(&text) => Ok(None),
            Raw::Text(text) => super::parse_duration(&text).map(Some).map_err(serde::de::Error::custom),
            Raw::Number(number) => {
                Err(serde::de::Error::custom(format!("`{number}` has no unit; write a string such as \"{number}s\"")))
            }
        }
    }
}

/// Serde helper for a required byte size: an integer (bytes) or a string (`16MiB`).
pub mod bytesize {
    use std::fmt;

    use serde::de::{self, Deserializer, Visitor};

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
        deserializer.deserialize_any(BytesVisitor)
    }

    pub(super) struct BytesVisitor;

    impl Visitor<'_> for BytesVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a size in bytes, or a string such as \"16MiB\"")
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<u64, E> {
            super::parse_bytes(text).map_err(E::custom)
        }

        fn visit_i64<E: de::Error>(self, number: i64) -> Result<u64, E> {
            u64::try_from(number).map_err(|_| E::custom(format!("size `{number}` is negative")))
        }

        fn visit_u64<E: de::Error>(self, number: u64) -> Result<u64, E> {
            Ok(number)
        }
    }
}

/// Serde helper for an optional byte size: `"off"` or `"none"` mean no limit.
pub mod bytesize_opt {
    use serde::de::{Deserializer, Error};
    use serde::Deserialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<u64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Number(i64),
        }
        match Raw::deserialize(deserializer)
            .map_err(|_| D::Error::custom("expected a size such as \"10GiB\", a number of bytes, or \"off\""))?
        {
            Raw::Text(text) if super::is_off(&text) => Ok(None),
            Raw::Text(text) => super::parse_bytes(&text).map(Some).map_err(D::Error::custom),
            Raw::Number(number) => {
                u64::try_from(number).map(Some).map_err(|_| D::Error::custom(format!("size `{number}` is negative")))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    const MS: u64 = 1;
    const SEC: u64 = 1_000;
    const MIN: u64 = 60 * SEC;
    const HOUR: u64 = 60 * MIN;
    const DAY: u64 = 24 * HOUR;

    #[test]
    fn durations_in_every_unit() {
        for (text, ms) in [
            ("250ms", 250 * MS),
            ("30s", 30 * SEC),
            ("5m", 5 * MIN),
            ("2h", 2 * HOUR),
            ("7d", 7 * DAY),
            ("1w", 7 * DAY),
            ("0s", 0),
            ("1h30m", 90 * MIN),
            ("1h 30m 15s", 90 * MIN + 15 * SEC),
            (" 10 seconds ", 10 * SEC),
            ("3 days", 3 * DAY),
        ] {
            assert_eq!(parse_duration(text), Ok(Duration::from_millis(ms)), "{text}");
        }
    }

    #[test]
    fn bare_numbers_are_refused_with_a_unit_hint() {
        let message = parse_duration("30").unwrap_err();
        assert!(message.contains("no unit") && message.contains("30s"), "{message}");
        assert!(parse_duration("1h30").unwrap_err().contains("no unit"));
    }

    #[test]
    fn malformed_durations_are_refused() {
        for text in ["", "   ", "s", "5x", "1.5h", "-5s", "5S", "5M", "h5", "5s5", "5 s s"] {
            assert!(parse_duration(text).is_err(), "{text:?} should be refused");
        }
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit `x`"));
        assert!(parse_duration(&"9".repeat(100)).is_err());
    }

    #[test]
    fn overlong_durations_are_refused_without_overflow() {
        assert!(parse_duration("18446744073709551615d").unwrap_err().contains("too long"));
        assert!(parse_duration("36501d").unwrap_err().contains("too long"));
        assert_eq!(parse_duration("36500d"), Ok(MAX_DURATION));
    }

    #[test]
    fn durations_format_largest_units_first() {
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_secs(7 * 24 * 3600)), "7d");
        assert_eq!(format_duration(Duration::ZERO), "0s");
        assert_eq!(format_duration(Duration::from_millis(1_500)), "1s500ms");
    }

    /// Deterministic pseudo-random values (SplitMix64), so the round trips cover many
    /// shapes without a property-testing crate.
    fn pseudo_random(count: usize) -> impl Iterator<Item = u64> {
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        (0..count).map(move |_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        })
    }

    #[test]
    fn durations_round_trip() {
        let max_ms = MAX_DURATION.as_millis() as u64;
        for raw in pseudo_random(5_000) {
            // Mix tiny, round and huge values: the low bits pick a scale.
            let ms = match raw % 4 {
                0 => raw % 1_000,
                1 => (raw % 100_000) * SEC,
                2 => (raw % 1_000) * DAY,
                _ => raw % (max_ms + 1),
            };
            let duration = Duration::from_millis(ms);
            let text = format_duration(duration);
            assert_eq!(parse_duration(&text), Ok(duration), "{text}");
        }
    }

    #[test]
    fn sizes_in_every_unit() {
        for (text, bytes) in [
            ("0", 0),
            ("1048576", 1 << 20),
            ("512KiB", 512 << 10),
            ("16MiB", 16 << 20),
            ("10GiB", 10 << 30),
            ("2TiB", 2 << 40),
            ("1GB", 1_000_000_000),
            ("1kb", 1_000),
            ("16 mib", 16 << 20),
            ("100B", 100),
            ("1.5GiB", 3 << 29),
            ("0.5KiB", 512),
        ] {
            assert_eq!(parse_bytes(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn malformed_sizes_are_refused() {
        for text in ["", "MiB", "16XB", "1.5", "1.5B", "1..5MiB", "1.MiB", ".5MiB", "-1", "16 MiB extra", "1e6"] {
            assert!(parse_bytes(text).is_err(), "{text:?} should be refused");
        }
        assert!(parse_bytes("16XB").unwrap_err().contains("unknown unit `XB`"));
        assert!(parse_bytes("99999999999PiB").unwrap_err().contains("too large"));
        assert!(parse_bytes("18446744073709551616").unwrap_err().contains("too large"));
    }

    #[test]
    fn sizes_format_with_the_exact_unit() {
        assert_eq!(format_bytes(10 << 30), "10GiB");
        assert_eq!(format_bytes(1_000_000_000), "1GB");
        assert_eq!(format_bytes(1_000), "1000B");
        assert_eq!(format_bytes(1536), "1536B");
        assert_eq!(format_bytes(0), "0B");
        assert_eq!(format_bytes(u64::MAX), format!("{}B", u64::MAX));
    }

    #[test]
    fn sizes_round_trip() {
        for raw in pseudo_random(5_000) {
            let bytes = match raw % 4 {
                0 => raw % 10_000,
                1 => (raw % 1_000_000) << 20,
                2 => (raw % 1_000) * 1_000_000_000,
                _ => raw,
            };
            let text = format_bytes(bytes);
            assert_eq!(parse_bytes(&text), Ok(bytes), "{text}");
        }
    }

    #[derive(Debug, Deserialize)]
    struct Limits {
        #[serde(with = "humantime")]
        window: Duration,
        #[serde(with = "humantime_opt", default)]
        max_age: Option<Duration>,
        #[serde(with = "bytesize")]
        body: u64,
        #[serde(with = "bytesize_opt", default)]
        max_bytes: Option<u64>,
    }

    #[test]
    fn serde_helpers_read_toml() {
        let limits: Limits =
            toml::from_str("window = \"5m\"\nmax_age = \"7d\"\nbody = 1024\nmax_bytes = \"10GiB\"").unwrap();
        assert_eq!(limits.window, Duration::from_secs(300));
        assert_eq!(limits.max_age, Some(Duration::from_secs(7 * 24 * 3600)));
        assert_eq!(limits.body, 1024);
        assert_eq!(limits.max_bytes, Some(10 << 30));

        let limits: Limits =
            toml::from_str("window = \"0s\"\nmax_age = \"off\"\nbody = \"16MiB\"\nmax_bytes = \"None\"").unwrap();
        assert_eq!(limits.max_age, None);
        assert_eq!(limits.body, 16 << 20);
        assert_eq!(limits.max_bytes, None);
    }

    #[test]
    fn serde_helpers_refuse_bad_values() {
        let error = toml::from_str::<Limits>("window = 30\nbody = 1").unwrap_err().to_string();
        assert!(error.contains("no unit"), "{error}");
        let error = toml::from_str::<Limits>("window = \"1s\"\nbody = -1").unwrap_err().to_string();
        assert!(error.contains("negative"), "{error}");
        let error = toml::from_str::<Limits>("window = \"1s\"\nbody = 1\nmax_age = 7").unwrap_err().to_string();
        assert!(error.contains("no unit"), "{error}");
        let error = toml::from_str::<Limits>("window = \"1s\"\nbody = 1\nmax_bytes = true").unwrap_err().to_string();
        assert!(error.contains("off"), "{error}");
    }
}
