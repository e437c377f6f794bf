//! The OpenAPI description of the sharing (seed, TAXII), honeypot and ETL endpoints.

use serde_json::{Map, Value};

pub(super) fn paths() -> Vec<(String, Value)> {
    Vec::new()
}

pub(super) fn schemas() -> Map<String, Value> {
    Map::new()
}
