//! `POST /pixie-etl/start`, `POST /pixie-etl/stop`, `GET /pixie-etl/status` over
//! [`vigil_etl::JobControl`] (Hive Sentinel's `pixie-etl` contract).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::{json, Value};
use vigil_etl::{JobControl, JobError};

use crate::auth::{ReadAccess, WriteAccess};
use crate::error::ApiError;
use crate::ingest::read_body;
use crate::AppState;

/// Start and stop requests are small JSON objects.
const MAX_JOB_REQUEST_BYTES: usize = 16 * 1024;
/// A job id is a UUID; anything much longer is not one.
const MAX_JOB_ID_BYTES: usize = 64;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/pixie-etl/start", post(start_job))
        .route("/pixie-etl/stop", post(stop_job))
        .route("/pixie-etl/status", get(job_status))
}

fn jobs(state: &AppState) -> Result<Arc<dyn JobControl>, ApiError> {
    state
        .jobs
        .clone()
        .ok_or_else(|| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "ETL jobs are not enabled on this server"))
}

fn job_error(err: JobError) -> ApiError {
    match err {
        JobError::BadRequest(why) => ApiError::bad_request(why),
        JobError::NotFound(id) => ApiError::not_found(&format!("job {id}")),
        JobError::Store(_) | JobError::Config(_) => ApiError::internal(err),
    }
}

async fn json_body(body: Body, headers: &HeaderMap) -> Result<Value, ApiError> {
    let bytes = read_body(body, headers, MAX_JOB_REQUEST_BYTES).await?;
    let value: Value =
        serde_json::from_slice(&bytes).map_err(|err| ApiError::bad_request(format!("malformed JSON: {err}")))?;
    if !value.is_object() {
        return Err(ApiError::bad_request("the body must be a JSON object"));
    }
    Ok(value)
}

/// Starting validates, writes the store and spawns a thread; stopping joins one:
/// blocking work, off the async threads.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, JobError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(work).await.map_err(ApiError::internal)?.map_err(job_error)
}

async fn start_job(
    State(state): State<Arc<AppState>>,
    _: WriteAccess,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let jobs = jobs(&state)?;
    let request = json_body(body, &headers).await?;
    let id = blocking(move || jobs.start(&request)).await?;
    Ok((StatusCode::OK, Json(json!({ "uuid": id }))).into_response())
}

async fn stop_job(
    State(state): State<Arc<AppState>>,
    _: WriteAccess,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let jobs = jobs(&state)?;
    let request = json_body(body, &headers).await?;
    let fields = request.as_object().expect("checked to be an object");
    if let Some(unknown) = fields.keys().find(|key| key.as_str() != "uuid") {
        return Err(ApiError::bad_request(format!("unknown field `{}` (expected only `uuid`)", truncate(unknown))));
    }
    let id = match fields.get("uuid") {
        Some(Value::String(id)) if !id.is_empty() && id.len() <= MAX_JOB_ID_BYTES => id.clone(),
        Some(Value::String(_)) => return Err(ApiError::bad_request("`uuid` is not a job id")),
        Some(_) => return Err(ApiError::bad_request("`uuid` must be a string")),
        None => return Err(ApiError::bad_request("`uuid` is required")),
    };
    let stopped = id.clone();
    blocking(move || jobs.stop(&stopped)).await?;
    Ok((StatusCode::OK, Json(json!({ "uuid": id, "state": "stopped" }))).into_response())
}

async fn job_status(State(state): State<Arc<AppState>>, _: ReadAccess) -> Result<Response, ApiError> {
    let jobs = jobs(&state)?;
    let statuses = tokio::task::spawn_blocking(move || jobs.status()).await.map_err(ApiError::internal)?;
    Ok(Json(json!({ "jobs": statuses })).into_response())
}

fn truncate(text: &str) -> &str {
    let mut end = text.len().min(64);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
