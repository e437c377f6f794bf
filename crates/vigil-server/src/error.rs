//! The one error type handlers return. Every error leaves as JSON `{"error": "..."}`
//! (plus `line`/`column` for ingest parse errors), never as a plain-text rejection.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use vigil_store::StoreError;

/// Where in a request body a parse error is, 1-based.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BodyPosition {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
    position: Option<BodyPosition>,
    retry_after_secs: Option<u32>,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError { status, message: message.into(), position: None, retry_after_secs: None }
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, message)
    }

    pub fn bad_param(name: &str, why: impl std::fmt::Display) -> ApiError {
        ApiError::bad_request(format!("query parameter `{name}`: {why}"))
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, format!("{what} not found"))
    }

    pub fn unauthorized() -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "missing or invalid bearer token")
    }

    pub fn too_large(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, message)
    }

    /// A failure that is ours, not the caller's: the detail goes to the log, the caller
    /// gets a generic message.
    pub fn internal(detail: impl std::fmt::Display) -> ApiError {
        eprintln!("vigil-server: internal error: {detail}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal server error")
    }

    pub fn at(mut self, position: BodyPosition) -> ApiError {
        self.position = Some(position);
        self
    }

    pub fn retry_after(mut self, secs: u32) -> ApiError {
        self.retry_after_secs = Some(secs);
        self
    }

    #[cfg(test)]
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> ApiError {
        match err {
            StoreError::InvalidQuery(message) => ApiError::bad_request(message),
            other => ApiError::internal(format_args!("store: {other}")),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::Map::new();
        body.insert("error".into(), self.message.into());
        if let Some(position) = self.position {
            body.insert("line".into(), position.line.into());
            body.insert("column".into(), position.column.into());
        }
        let mut response = (self.status, Json(serde_json::Value::Object(body))).into_response();
        let headers = response.headers_mut();
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if let Some(secs) = self.retry_after_secs {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}
