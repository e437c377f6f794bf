//! Query-string parsing for the read API. Strict on purpose: an unknown or repeated
//! parameter is a 400 naming it (a typo such as `form=` must not silently return
//! unfiltered data), and every value is bounded in length.

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use chrono::{DateTime, NaiveDate, NaiveDateTime};
use vigil_store::AlertStatus;

use crate::error::ApiError;

/// Most parameters one request may carry.
const MAX_PARAMS: usize = 32;
/// Longest value of a free-text parameter (`q`, `cursor`).
const MAX_TEXT_LEN: usize = 2048;
/// Longest value of a field filter (`host`, `user` …).
const MAX_FILTER_LEN: usize = 512;
/// Widest stats bucket: one year.
const MAX_BUCKET_MS: i64 = 366 * 24 * 3600 * 1000;

/// The decoded `name=value` pairs of a request's query string, in order.
pub(crate) struct RawQuery(Vec<(String, String)>);

impl<S: Send + Sync> FromRequestParts<S> for RawQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
            .map_err(|_| ApiError::bad_request("the query string cannot be decoded"))?;
        Ok(RawQuery(pairs))
    }
}

/// Validated query parameters of one endpoint.
#[derive(Debug)]
pub(crate) struct Params {
    pairs: Vec<(String, String)>,
}

impl Params {
    /// Rejects names outside `allowed`, repeated names and too many pairs. Empty values
    /// count as absent (HTML forms send empty fields).
    pub fn new(raw: RawQuery, allowed: &[&str]) -> Result<Params, ApiError> {
        let RawQuery(pairs) = raw;
        if pairs.len() > MAX_PARAMS {
            return Err(ApiError::bad_request(format!("too many query parameters (at most {MAX_PARAMS})")));
        }
        let mut kept: Vec<(String, String)> = Vec::with_capacity(pairs.len());
        for (name, value) in pairs {
            if !allowed.contains(&name.as_str()) {
                return Err(ApiError::bad_request(format!(
                    "unknown query parameter `{}` (expected one of: {})",
                    truncate(&name, 64),
                    allowed.join(", ")
                )));
            }
            if kept.iter().any(|(seen, _)| *seen == name) {
                return Err(ApiError::bad_param(&name, "given more than once"));
            }
            if !value.is_empty() {
                kept.push((name, value));
            }
        }
        Ok(Params { pairs: kept })
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.pairs.iter().find(|(key, _)| key == name).map(|(_, value)| value.as_str())
    }

    /// A field filter (`host`, `source` …).
    pub fn filter(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.text_up_to(name, MAX_FILTER_LEN)
    }

    /// Free text (`q`, `cursor`).
    pub fn text(&self, name: &str) -> Result<Option<String>, ApiError> {
        self.text_up_to(name, MAX_TEXT_LEN)
    }

    fn text_up_to(&self, name: &str, max_len: usize) -> Result<Option<String>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(value) if value.len() > max_len => {
                Err(ApiError::bad_param(name, format_args!("longer than {max_len} bytes")))
            }
            Some(value) if value.chars().any(|c| c == '\0') => Err(ApiError::bad_param(name, "contains a NUL")),
            Some(value) => Ok(Some(value.to_owned())),
        }
    }

    pub fn time_ms(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name).map(|value| parse_time_ms(value).map_err(|why| ApiError::bad_param(name, why))).transpose()
    }

    pub fn u32(&self, name: &str) -> Result<Option<u32>, ApiError> {
        self.get(name)
            .map(|value| {
                value
                    .parse::<u32>()
                    .map_err(|_| ApiError::bad_param(name, "expected a non-negative integer below 2^32"))
            })
            .transpose()
    }

    pub fn i32(&self, name: &str) -> Result<Option<i32>, ApiError> {
        self.get(name)
            .map(|value| value.parse::<i32>().map_err(|_| ApiError::bad_param(name, "expected a 32-bit integer")))
            .transpose()
    }

    pub fn alert_status(&self, name: &str) -> Result<Option<AlertStatus>, ApiError> {
        self.get(name)
            .map(|value| {
                parse_alert_status(value)
                    .ok_or_else(|| ApiError::bad_param(name, "expected open, acknowledged or closed"))
            })
            .transpose()
    }

    pub fn bucket_ms(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name).map(|value| parse_duration_ms(value).map_err(|why| ApiError::bad_param(name, why))).transpose()
    }
}

/// `from` must not be after `to`; both named so the caller sees which pair is wrong.
pub(crate) fn check_time_range(from_ms: Option<i64>, to_ms: Option<i64>) -> Result<(), ApiError> {
    match (from_ms, to_ms) {
        (Some(from), Some(to)) if from > to => Err(ApiError::bad_param("from", "is after `to`")),
        _ => Ok(()),
    }
}

pub(crate) fn parse_alert_status(value: &str) -> Option<AlertStatus> {
    match value {
        "open" => Some(AlertStatus::Open),
        "acknowledged" => Some(AlertStatus::Acknowledged),
        "closed" => Some(AlertStatus::Closed),
        _ => None,
    }
}

/// Epoch milliseconds, RFC 3339 (`2026-11-24T10:00:00Z`, `…+01:00`), a date-time without
/// zone (UTC), or a date (midnight UTC).
pub(crate) fn parse_time_ms(value: &str) -> Result<i64, &'static str> {
    const EXPECTED: &str = "expected epoch milliseconds or an ISO 8601 time such as 2026-11-24T10:00:00Z";
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return value.parse::<i64>().map_err(|_| "epoch milliseconds out of range");
    }
    if value.len() > 64 {
        return Err(EXPECTED);
    }
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.timestamp_millis());
    }
    // An unencoded `+01:00` arrives as ` 01:00` after form decoding.
    if value.contains(' ') {
        if let Ok(time) = DateTime::parse_from_rfc3339(&value.replace(' ', "+")) {
            return Ok(time.timestamp_millis());
        }
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(time) = NaiveDateTime::parse_from_str(value, format) {
            return Ok(time.and_utc().timestamp_millis());
        }
    }
    if let Ok(date) = NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        if let Some(midnight) = date.and_hms_opt(0, 0, 0) {
            return Ok(midnight.and_utc().timestamp_millis());
        }
    }
    Err(EXPECTED)
}

/// Milliseconds (`60000`) or a number with a unit (`500ms`, `30s`, `5m`, `1h`, `1d`);
/// positive and at most a year.
pub(crate) fn parse_duration_ms(value: &str) -> Result<i64, &'static str> {
    const EXPECTED: &str = "expected milliseconds or a duration such as 30s, 5m, 1h, 1d";
    let digits_end = value.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(value.len());
    let (number, unit) = value.split_at(digits_end);
    if number.is_empty() || number.len() > 18 {
        return Err(EXPECTED);
    }
    let number: i64 = number.parse().map_err(|_| EXPECTED)?;
    let unit_ms: i64 = match unit {
        "" | "ms" => 1,
        "s" => 1000,
        "m" => 60 * 1000,
        "h" => 3600 * 1000,
        "d" => 24 * 3600 * 1000,
        _ => return Err(EXPECTED),
    };
    match number.checked_mul(unit_ms) {
        Some(0) => Err("must be positive"),
        Some(ms) if ms <= MAX_BUCKET_MS => Ok(ms),
        _ => Err("must be at most one year"),
    }
}

/// Cuts an echoed value so an error message stays small.
fn truncate(value: &str, max_chars: usize) -> String {
    match value.char_indices().nth(max_chars) {
        Some((end, _)) => format!("{}…", &value[..end]),
        None => value.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawQuery {
        RawQuery(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    #[test]
    fn times_in_every_accepted_form() {
        assert_eq!(parse_time_ms("1764000000000"), Ok(1_764_000_000_000));
        assert_eq!(parse_time_ms("0"), Ok(0));
        assert_eq!(parse_time_ms("2026-11-24T10:00:00Z"), Ok(1_795_514_400_000));
        assert_eq!(parse_time_ms("2026-11-24T10:00:00.250Z"), Ok(1_795_514_400_250));
        assert_eq!(parse_time_ms("2026-11-24T11:00:00+01:00"), Ok(1_795_514_400_000));
        assert_eq!(parse_time_ms("2026-11-24T11:00:00 01:00"), Ok(1_795_514_400_000));
        assert_eq!(parse_time_ms("2026-11-24T10:00:00"), Ok(1_795_514_400_000));
        assert_eq!(parse_time_ms("2026-11-24"), Ok(1_795_478_400_000));
    }

    #[test]
    fn bad_times_are_rejected() {
        for value in ["", "yesterday", "-5", "99999999999999999999", "2026-13-01", "2026-11-24T25:00:00Z", "1e9"] {
            assert!(parse_time_ms(value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration_ms("60000"), Ok(60_000));
        assert_eq!(parse_duration_ms("500ms"), Ok(500));
        assert_eq!(parse_duration_ms("30s"), Ok(30_000));
        assert_eq!(parse_duration_ms("5m"), Ok(300_000));
        assert_eq!(parse_duration_ms("1h"), Ok(3_600_000));
        assert_eq!(parse_duration_ms("1d"), Ok(86_400_000));
        for value in ["0", "0m", "", "m", "5x", "-5m", "5 m", "400d", "999999999999999999h", "1.5h"] {
            assert!(parse_duration_ms(value).is_err(), "{value:?}");
        }
    }

    #[test]
    fn unknown_and_repeated_parameters_are_named() {
        let err = Params::new(raw(&[("form", "1")]), &["from", "to"]).unwrap_err();
        assert!(err.message().contains("`form`"), "{}", err.message());
        let err = Params::new(raw(&[("from", "1"), ("from", "2")]), &["from"]).unwrap_err();
        assert!(err.message().contains("`from`"), "{}", err.message());
    }

    #[test]
    fn empty_values_are_absent_and_lengths_bounded() {
        let params = Params::new(raw(&[("host", ""), ("q", "x")]), &["host", "q"]).unwrap();
        assert_eq!(params.filter("host").unwrap(), None);
        assert_eq!(params.text("q").unwrap(), Some("x".to_owned()));
        let long = "h".repeat(MAX_FILTER_LEN + 1);
        let params = Params::new(raw(&[("host", &long)]), &["host"]).unwrap();
        assert!(params.filter("host").unwrap_err().message().contains("`host`"));
    }

    #[test]
    fn numbers_and_statuses() {
        let params = Params::new(
            raw(&[("limit", "50"), ("class_uid", "-3"), ("status", "closed"), ("top", "x")]),
            &["limit", "class_uid", "status", "top"],
        )
        .unwrap();
        assert_eq!(params.u32("limit").unwrap(), Some(50));
        assert_eq!(params.i32("class_uid").unwrap(), Some(-3));
        assert_eq!(params.alert_status("status").unwrap(), Some(AlertStatus::Closed));
        assert!(params.u32("top").unwrap_err().message().contains("`top`"));
    }

    #[test]
    fn reversed_range_is_rejected() {
        assert!(check_time_range(Some(2), Some(1)).is_err());
        assert!(check_time_range(Some(1), Some(1)).is_ok());
        assert!(check_time_range(None, Some(1)).is_ok());
    }
}
