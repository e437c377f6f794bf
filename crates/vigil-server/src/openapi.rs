//! The OpenAPI 3.1 description of every endpoint, served at `/api/openapi.json`.

use std::sync::Arc;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
