//! TAXII 2.1: discovery, the API root, collections (alerts, indicators, observed-data),
//! objects with `added_after` / `limit` / `next` paging, manifests; TAXII media types.

use std::sync::Arc;

use axum::Router;

use crate::AppState;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
