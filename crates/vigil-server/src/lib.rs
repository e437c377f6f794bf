//! Vigil's HTTP side: event ingest (`POST /events`), the read API over the store
//! (`/api/...`), `/healthz` and Prometheus `/metrics`.
//!
//! Every response is JSON except `/metrics`; every error is `{"error": "..."}`. Writes
//! need the write token; reads need the read token (or the write token) when one is set.

mod api;
mod auth;
mod error;
mod etl;
pub mod honeypot;
mod ingest;
mod openapi;
mod params;
mod seed;
mod taxii;

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::http::{header, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tower_http::catch_panic::CatchPanicLayer;
use vigil_pipeline::submit::EventSubmitter;
use vigil_store::Store;

use crate::error::ApiError;

/// Default for [`ServerConfig::max_body_bytes`]: 16 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Default for [`ServerConfig::max_events_per_request`].
pub const DEFAULT_MAX_EVENTS_PER_REQUEST: usize = 10_000;

/// Access and size limits. `Debug` shows whether tokens are set, never their values.
#[derive(Clone)]
pub struct ServerConfig {
    /// Required for `POST /events` and `PATCH /api/alerts/{id}` as `Authorization:
    /// Bearer <token>`. An empty token refuses every write.
    pub write_token: String,
    /// When set, reads (`/api/...`, `/metrics`) need it or the write token.
    pub read_token: Option<String>,
    /// Larger request bodies get 413.
    pub max_body_bytes: usize,
    /// Requests with more events get 413.
    pub max_events_per_request: usize,
}

impl ServerConfig {
    /// Open reads, default limits.
    pub fn new(write_token: impl Into<String>) -> ServerConfig {
        ServerConfig {
            write_token: write_token.into(),
            read_token: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_events_per_request: DEFAULT_MAX_EVENTS_PER_REQUEST,
        }
    }
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("write_token", &"<redacted>")
            .field("read_token", &self.read_token.as_ref().map(|_| "<redacted>"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_events_per_request", &self.max_events_per_request)
            .finish()
    }
}

/// What the handlers share.
#[derive(Clone)]
pub struct AppState {
    pub store: Arc<Store>,
    pub submitter: Arc<dyn EventSubmitter>,
    /// Renders the Prometheus text exposition (the pipeline owns the counters).
    pub metrics: Arc<dyn Fn() -> String + Send + Sync>,
    pub config: ServerConfig,
    /// Rules by id, for STIX indicators (TAXII, `fetch-stix`).
    pub rules: Arc<vigil_stix::RuleCatalog>,
    /// Polling jobs (`/pixie-etl/...`); `None` answers those endpoints with 503.
    pub jobs: Option<Arc<dyn vigil_etl::JobControl>>,
    /// Optional MaxMind-format database for ASN / country in honeypot IP intelligence.
    pub geoip: Option<Arc<honeypot::GeoIp>>,
}

/// The whole HTTP surface, ready to serve or to test with `oneshot`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/events", post(ingest::post_events))
        .route("/api/events", get(api::list_events))
        .route("/api/events/{event_id}", get(api::get_event))
        .route("/api/alerts", get(api::list_alerts))
        .route("/api/alerts/{alert_id}", get(api::get_alert).patch(api::patch_alert))
        .route("/api/stats", get(api::stats))
        .route("/api/dead-letters", get(api::dead_letters))
        .route("/healthz", get(api::healthz))
        .route("/metrics", get(api::metrics))
        .merge(seed::routes())
        .merge(taxii::routes())
        .merge(honeypot::routes())
        .merge(etl::routes())
        .merge(openapi::routes())
        .fallback(api::not_found)
        .with_state(Arc::new(state))
        // Innermost first: a panic becomes a 500 that still gets JSON and the headers.
        .layer(CatchPanicLayer::custom(panic_response))
        .layer(middleware::from_fn(shape_errors))
        .layer(middleware::from_fn(security_headers))
}

/// Serves until `shutdown` completes, then stops accepting and lets requests in flight
/// finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state)).with_graceful_shutdown(shutdown).await
}

fn panic_response(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let detail = panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    ApiError::internal(format_args!("handler panicked: {detail}")).into_response()
}

/// Shapes every error response. Responses axum makes itself (405 Method Not Allowed, a
/// rejection we did not map) carry plain text or nothing: they get a JSON body like ours.
/// An error to a request that carried a body closes the connection: the body may be
/// unread (a 401 or 413 is decided before reading), and a client reusing the connection
/// would otherwise race hyper closing it.
async fn shape_errors(request: Request, next: Next) -> Response {
    let request_has_body = request.headers().contains_key(header::TRANSFER_ENCODING)
        || request.headers().get(header::CONTENT_LENGTH).is_some_and(|len| len.as_bytes() != b"0");
    let mut response = next.run(request).await;
    let status = response.status();
    if !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if request_has_body {
        response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json") || v.starts_with("application/taxii+json"));
    if is_json {
        return response;
    }
    let message = status.canonical_reason().unwrap_or("error").to_ascii_lowercase();
    let (mut parts, _) = response.into_parts();
    let body = serde_json::json!({ "error": message }).to_string();
    parts.headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// Responses are data for programs, never pages to render, frame or cache.
async fn security_headers(request: Request, next: Next) -> Response {
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("frame-ancestors 'none'"));
    response
}
