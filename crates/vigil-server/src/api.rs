//! The read API over the store (`/api/...`), the alert status update, `/healthz` and
//! `/metrics`. Store calls block on SQLite, so each runs on the blocking pool.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use vigil_store::{
    AlertQuery, AlertRow, DeadLetterRow, EventQuery, EventRow, Page, Stats, StatsQuery, Store, StoreError,
};

use crate::auth::{ReadAccess, WriteAccess};
use crate::error::ApiError;
use crate::ingest::read_body;
use crate::params::{check_time_range, parse_alert_status, Params, RawQuery};
use crate::AppState;

/// Ids are UUIDs; anything much longer cannot exist and is not worth a store lookup.
const MAX_ID_LEN: usize = 128;
/// `PATCH /api/alerts/{id}` bodies are one small object.
const MAX_PATCH_BODY_BYTES: usize = 4096;

/// Runs a store call on the blocking pool and maps its error to a response.
async fn with_store<T, F>(state: &AppState, call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = Arc::clone(&state.store);
    match tokio::task::spawn_blocking(move || call(&store)).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(join_error) => Err(ApiError::internal(format_args!("store task: {join_error}"))),
    }
}

/// The `{id}` path segment; `None` when it cannot name anything stored.
fn path_id(path: Result<Path<String>, PathRejection>) -> Result<Option<String>, ApiError> {
    let Path(id) = path.map_err(|_| ApiError::bad_request("the id in the path cannot be decoded"))?;
    Ok((id.len() <= MAX_ID_LEN).then_some(id))
}

pub(crate) async fn list_events(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    raw: RawQuery,
) -> Result<Json<Page<EventRow>>, ApiError> {
    let params =
        Params::new(raw, &["from", "to", "class_uid", "source", "host", "src_ip", "user", "q", "cursor", "limit"])?;
    let query = EventQuery {
        from_ms: params.time_ms("from")?,
        to_ms: params.time_ms("to")?,
        class_uid: params.i32("class_uid")?,
        source: params.filter("source")?,
        host: params.filter("host")?,
        src_ip: params.filter("src_ip")?,
        user: params.filter("user")?,
        q: params.text("q")?,
        cursor: params.text("cursor")?,
        limit: params.u32("limit")?,
    };
    check_time_range(query.from_ms, query.to_ms)?;
    Ok(Json(with_store(&state, move |store| store.events(&query)).await?))
}

pub(crate) async fn get_event(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<EventRow>, ApiError> {
    let id = path_id(path)?.ok_or_else(|| ApiError::not_found("event"))?;
    let event = with_store(&state, move |store| store.event(&id)).await?;
    event.map(Json).ok_or_else(|| ApiError::not_found("event"))
}

pub(crate) async fn list_alerts(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    raw: RawQuery,
) -> Result<Json<Page<AlertRow>>, ApiError> {
    let params = Params::new(raw, &["from", "to", "status", "rule_id", "level", "host", "cursor", "limit"])?;
    let query = AlertQuery {
        from_ms: params.time_ms("from")?,
        to_ms: params.time_ms("to")?,
        status: params.alert_status("status")?,
        rule_id: params.filter("rule_id")?,
        level: params.filter("level")?,
        host: params.filter("host")?,
        cursor: params.text("cursor")?,
        limit: params.u32("limit")?,
    };
    check_time_range(query.from_ms, query.to_ms)?;
    Ok(Json(with_store(&state, move |store| store.alerts(&query)).await?))
}

pub(crate) async fn get_alert(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    path: Result<Path<String>, PathRejection>,
) -> Result<Json<AlertRow>, ApiError> {
    let id = path_id(path)?.ok_or_else(|| ApiError::not_found("alert"))?;
    let alert = with_store(&state, move |store| store.alert(&id)).await?;
    alert.map(Json).ok_or_else(|| ApiError::not_found("alert"))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusChange {
    status: String,
}

pub(crate) async fn patch_alert(
    State(state): State<Arc<AppState>>,
    _: WriteAccess,
    path: Result<Path<String>, PathRejection>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<AlertRow>, ApiError> {
    let id = path_id(path)?;
    let bytes = read_body(body, &headers, MAX_PATCH_BODY_BYTES).await?;
    let change: StatusChange = serde_json::from_slice(&bytes)
        .map_err(|err| ApiError::bad_request(format!("expected {{\"status\": \"...\"}}: {err}")))?;
    let status = parse_alert_status(&change.status)
        .ok_or_else(|| ApiError::bad_request("`status` must be open, acknowledged or closed"))?;
    let id = id.ok_or_else(|| ApiError::not_found("alert"))?;
    let updated = with_store(&state, move |store| store.set_alert_status(&id, status)).await?;
    updated.map(Json).ok_or_else(|| ApiError::not_found("alert"))
}

pub(crate) async fn stats(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    raw: RawQuery,
) -> Result<Json<Stats>, ApiError> {
    let params = Params::new(raw, &["from", "to", "bucket", "top"])?;
    let query = StatsQuery {
        from_ms: params.time_ms("from")?,
        to_ms: params.time_ms("to")?,
        bucket_ms: params.bucket_ms("bucket")?,
        top: params.u32("top")?,
    };
    check_time_range(query.from_ms, query.to_ms)?;
    Ok(Json(with_store(&state, move |store| store.stats(&query)).await?))
}

pub(crate) async fn dead_letters(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    raw: RawQuery,
) -> Result<Json<Page<DeadLetterRow>>, ApiError> {
    let params = Params::new(raw, &["cursor", "limit"])?;
    let cursor = params.text("cursor")?;
    let limit = params.u32("limit")?;
    Ok(Json(with_store(&state, move |store| store.dead_letters(cursor.as_deref(), limit)).await?))
}

pub(crate) async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

pub(crate) async fn metrics(State(state): State<Arc<AppState>>, _: ReadAccess) -> Result<Response, ApiError> {
    // Rendering may read counters from the store: treat it as blocking too.
    let render = Arc::clone(&state.metrics);
    let text = tokio::task::spawn_blocking(move || render())
        .await
        .map_err(|err| ApiError::internal(format_args!("metrics task: {err}")))?;
    let content_type = HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8");
    Ok((StatusCode::OK, [(header::CONTENT_TYPE, content_type)], text).into_response())
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("route")
}
