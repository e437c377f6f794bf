//! Honeypot analytics (from Cowrie events in the store): `/api/honeypot/sessions/{id}`,
//! `/api/honeypot/stats`, `/api/honeypot/credentials/top`, `/api/honeypot/commands/top`,
//! `/api/honeypot/ips/{ip}`.

use std::sync::Arc;

use axum::Router;

use crate::AppState;

/// A MaxMind-format (GeoLite2 / GeoIP2 ASN and Country) database, when configured.
pub struct GeoIp {}

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
}
