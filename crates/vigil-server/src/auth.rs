//! Bearer-token checks, as extractors: a handler states the access it needs in its
//! signature (`_: WriteAccess`), so a route cannot quietly lose its check.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{header, HeaderMap};

use crate::error::ApiError;
use crate::AppState;

/// Proof that the request carries the write token.
pub(crate) struct WriteAccess;

/// Proof that the request may read: no read token is configured, or it carries the read
/// token or the write token (whoever may write may also read).
pub(crate) struct ReadAccess;

impl FromRequestParts<Arc<AppState>> for WriteAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let presented = bearer_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        if token_matches(presented, &state.config.write_token) {
            Ok(WriteAccess)
        } else {
            Err(ApiError::unauthorized())
        }
    }
}

impl FromRequestParts<Arc<AppState>> for ReadAccess {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, ApiError> {
        let Some(read_token) = state.config.read_token.as_deref() else {
            return Ok(ReadAccess);
        };
        let presented = bearer_token(&parts.headers).ok_or_else(ApiError::unauthorized)?;
        // Both comparisons always run, so the time taken does not tell which token was close.
        let is_reader = token_matches(presented, read_token);
        let is_writer = token_matches(presented, &state.config.write_token);
        if is_reader | is_writer {
            Ok(ReadAccess)
        } else {
            Err(ApiError::unauthorized())
        }
    }
}

/// The token of an `Authorization: Bearer <token>` header (scheme case-insensitive).
fn bearer_token(headers: &HeaderMap) -> Option<&[u8]> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let scheme = value.get(..7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") {
        return None;
    }
    let token = value[7..].trim_ascii();
    (!token.is_empty()).then_some(token)
}

/// An empty configured token matches nothing: a blank setting must lock the door, not
/// open it.
fn token_matches(presented: &[u8], expected: &str) -> bool {
    !expected.is_empty() && constant_time_eq(presented, expected.as_bytes())
}

/// Compares in time that depends only on `expected.len()`, not on where the inputs
/// differ nor on the presented length, so response timing leaks nothing about the secret
/// beyond its length.
pub(crate) fn constant_time_eq(presented: &[u8], expected: &[u8]) -> bool {
    let mut difference = u8::from(presented.len() != expected.len());
    for (index, &expected_byte) in expected.iter().enumerate() {
        // Reading the presented byte with wrap-around keeps one load per expected byte
        // whatever the presented length; the length check above already decides a mismatch.
        let presented_byte = match presented.len() {
            0 => 0,
            len => presented[index % len],
        };
        difference |= presented_byte ^ expected_byte;
    }
    std::hint::black_box(difference) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers_with(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        headers
    }

    #[test]
    fn constant_time_eq_agrees_with_plain_equality() {
        let cases: &[(&[u8], &[u8])] = &[
            (b"secret", b"secret"),
            (b"secreT", b"secret"),
            (b"secret!", b"secret"),
            (b"secre", b"secret"),
            (b"", b"secret"),
            (b"", b""),
            (b"secretsecret", b"secret"),
            (b"x", b"xx"),
        ];
        for (presented, expected) in cases {
            assert_eq!(constant_time_eq(presented, expected), presented == expected, "{presented:?} vs {expected:?}");
        }
    }

    #[test]
    fn bearer_scheme_is_case_insensitive_and_token_trimmed() {
        assert_eq!(bearer_token(&headers_with("Bearer abc")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&headers_with("bearer   abc ")), Some(&b"abc"[..]));
        assert_eq!(bearer_token(&headers_with("Basic abc")), None);
        assert_eq!(bearer_token(&headers_with("Bearer ")), None);
        assert_eq!(bearer_token(&headers_with("Bearer")), None);
        assert_eq!(bearer_token(&HeaderMap::new()), None);
    }

    #[test]
    fn empty_configured_token_matches_nothing() {
        assert!(!token_matches(b"", ""));
        assert!(!token_matches(b"anything", ""));
        assert!(token_matches(b"t0ken", "t0ken"));
    }
}
