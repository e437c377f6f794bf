//! Hive Sentinel's seed endpoints: `GET /tetragon`, `GET /kubescape` (raw events from the
//! store) and their `/fetch-stix` forms (the same events as STIX bundles).

use std::sync::Arc;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
