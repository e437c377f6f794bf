//! `POST /pixie-etl/start`, `POST /pixie-etl/stop`, `GET /pixie-etl/status` over
//! [`vigil_etl::JobControl`].

use std::sync::Arc;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
