//! Hive Sentinel's seed endpoints: `GET /tetragon`, `GET /kubescape` (raw events from the
//! store) and their `/fetch-stix` forms (the same events as STIX bundles).
//!
//! - Selection: events whose decoder was `tetragon` / `kubescape` (Kubescape runtime
//!   alerts; scan results are source `kubescape-scan` and not served here), newest event
//!   time first. `pod` and `namespace` match the Kubernetes context the decoders put at
//!   `unmapped.k8s.pod` / `unmapped.k8s.namespace` of the OCSF object; `since` (RFC 3339
//!   or epoch ms) keeps events at or after that time; `limit` is 1..=1000, default 100.
//! - `GET /<source>`: a JSON array of the raw records as they arrived (parsed JSON; a
//!   record that is not JSON comes back as a string).
//! - `GET /<source>/fetch-stix`: `vigil_stix::bundles` over the selected events and the
//!   alerts linked to them. When the result is split (bundle limits), `part` (0-based,
//!   default 0) picks a bundle; `X-Vigil-Bundle-Part` / `X-Vigil-Bundle-Parts` say which
//!   one this is and how many there are. Split bundles are deterministic for the same
//!   store contents.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_stix::BundleLimits;
use vigil_store::EventRow;

use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::params::{Params, RawQuery};
use crate::AppState;

const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;
const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
/// The bundle sent when nothing matched: STIX ids are UUIDs, and an empty selection is
/// always the same (empty) bundle.
const EMPTY_BUNDLE_ID: &str = "bundle--5b0c6f52-4f7e-4d53-9a57-1f0e8d2c3b41";

type AppRef = State<Arc<AppState>>;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/tetragon", get(|s: AppRef, a: ReadAccess, q: RawQuery| raw_events(s, a, q, "tetragon")))
        .route("/kubescape", get(|s: AppRef, a: ReadAccess, q: RawQuery| raw_events(s, a, q, "kubescape")))
        .route("/tetragon/fetch-stix", get(|s: AppRef, a: ReadAccess, q: RawQuery| stix(s, a, q, "tetragon")))
        .route("/kubescape/fetch-stix", get(|s: AppRef, a: ReadAccess, q: RawQuery| stix(s, a, q, "kubescape")))
}

struct Selection {
    pod: Option<String>,
    namespace: Option<String>,
    since_ms: Option<i64>,
    limit: u32,
}

fn selection(params: &Params) -> Result<Selection, ApiError> {
    let limit = match params.u32("limit")? {
        None => DEFAULT_LIMIT,
        Some(limit) if (1..=MAX_LIMIT).contains(&limit) => limit,
        Some(_) => return Err(ApiError::bad_param("limit", format_args!("expected 1 to {MAX_LIMIT}"))),
    };
    Ok(Selection {
        pod: params.filter("pod")?,
        namespace: params.filter("namespace")?,
        since_ms: params.time_ms("since")?,
        limit,
    })
}

async fn select(state: &AppState, source: &'static str, selection: Selection) -> Result<Vec<EventRow>, ApiError> {
    let store = Arc::clone(&state.store);
    let task = tokio::task::spawn_blocking(move || {
        store.source_events(
            source,
            selection.pod.as_deref(),
            selection.namespace.as_deref(),
            selection.since_ms,
            selection.limit as usize,
        )
    });
    match task.await {
        Ok(result) => Ok(result?),
        Err(join_error) => Err(ApiError::internal(format_args!("store task: {join_error}"))),
    }
}

async fn raw_events(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    raw: RawQuery,
    source: &'static str,
) -> Result<Json<Vec<Value>>, ApiError> {
    let params = Params::new(raw, &["pod", "namespace", "since", "limit"])?;
    let events = select(&state, source, selection(&params)?).await?;
    let records =
        events.into_iter().map(|event| serde_json::from_str(&event.raw).unwrap_or(Value::String(event.raw))).collect();
    Ok(Json(records))
}

async fn stix(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    raw: RawQuery,
    source: &'static str,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["pod", "namespace", "since", "limit", "part"])?;
    let part = params.u32("part")?.unwrap_or(0) as usize;
    let events = select(&state, source, selection(&params)?).await?;
    let store = Arc::clone(&state.store);
    let catalog = Arc::clone(&state.rules);
    let task = tokio::task::spawn_blocking(move || {
        let event_ids: Vec<String> = events.iter().map(|event| event.event_id.clone()).collect();
        let alerts = store.alerts_linked_to(&event_ids)?;
        Ok::<_, vigil_store::StoreError>(vigil_stix::bundles(&events, &alerts, &catalog, BundleLimits::default()))
    });
    let mut bundles = match task.await {
        Ok(result) => result?,
        Err(join_error) => return Err(ApiError::internal(format_args!("stix task: {join_error}"))),
    };
    if bundles.is_empty() {
        bundles.push(json!({ "type": "bundle", "id": EMPTY_BUNDLE_ID }));
    }
    let parts = bundles.len();
    if part >= parts {
        return Err(ApiError::bad_param("part", format_args!("there are {parts} bundle(s), numbered from 0")));
    }
    let bundle = bundles.swap_remove(part);
    let mut response = (StatusCode::OK, bundle.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(STIX_MEDIA_TYPE));
    headers.insert("x-vigil-bundle-part", HeaderValue::from(part));
    headers.insert("x-vigil-bundle-parts", HeaderValue::from(parts));
    Ok(response)
}
