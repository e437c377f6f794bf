//! The OpenAPI 3.1 description of every endpoint, served at `/api/openapi.json`.
//!
//! Written by hand rather than derived from the handlers: the handlers parse their query
//! strings strictly themselves (see `params.rs`), so derive macros would describe a
//! different contract from the one enforced. Two guards keep it honest: a unit test
//! checks that every route the router declares is described here, and schemathesis
//! runs against the live server in CI (`tests/openapi.rs`).

use std::sync::{Arc, OnceLock};

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};

use crate::AppState;

mod features;
mod sharing;

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new().route("/api/openapi.json", get(serve))
}

async fn serve() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| serde_json::to_string(&document()).expect("the document serializes"));
    (StatusCode::OK, [(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], text.as_str())
        .into_response()
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    for (path, item) in core_paths().into_iter().chain(features::paths()) {
        paths.insert(path, item);
    }
    let mut schemas = core_schemas();
    schemas.extend(features::schemas());
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Vigil",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Vigil's HTTP API: event ingest, queries over the embedded store, alerts, \
                statistics, honeypot analytics, STIX / TAXII sharing and polling jobs. Every \
                error body is `{\"error\": \"...\"}` (TAXII endpoints use TAXII error messages). \
                Writes need `Authorization: Bearer <write token>`; reads need the read token \
                when one is configured.",
            "license": { "name": "Apache-2.0", "identifier": "Apache-2.0" }
        },
        "servers": [{ "url": "/" }],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": { "type": "http", "scheme": "bearer", "description": "The write token (or, for reads, the read token)." },
                "basic": { "type": "http", "scheme": "basic", "description": "TAXII only: any user name, the read or write token as password." }
            },
            "responses": {
                "BadRequest": error_response("The request is malformed; the message says why."),
                "Unauthorized": error_response("Missing or wrong bearer token."),
                "NotFound": error_response("No such resource."),
                "TooLarge": error_response("The body or the number of records exceeds the limit."),
                "Unavailable": error_response("The daemon is shutting down or the feature is not configured.")
            }
        }
    })
}

pub(crate) fn error_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } }
    })
}

pub(crate) fn json_response(description: &str, schema: Value) -> Value {
    json!({ "description": description, "content": { "application/json": { "schema": schema } } })
}

pub(crate) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

/// A query parameter.
pub(crate) fn query(name: &str, description: &str, schema: Value) -> Value {
    json!({ "name": name, "in": "query", "required": false, "description": description, "schema": schema })
}

/// An integer query parameter. An empty value means "absent" for every parameter (HTML
/// forms send empty fields), so the empty string is part of the documented domain.
pub(crate) fn integer_query(name: &str, description: &str, integer: Value) -> Value {
    query(name, description, json!({ "anyOf": [integer, { "type": "string", "maxLength": 0 }] }))
}

/// A path parameter.
pub(crate) fn path_param(name: &str, description: &str) -> Value {
    json!({ "name": name, "in": "path", "required": true, "description": description, "schema": { "type": "string" } })
}

/// A time bound: RFC 3339 / ISO 8601 (UTC when no offset), a date, or epoch milliseconds.
pub(crate) fn time_param(name: &str, description: &str) -> Value {
    query(
        name,
        &format!("{description} RFC 3339 / ISO 8601 (UTC when no offset) or epoch milliseconds."),
        json!({ "type": "string" }),
    )
}

pub(crate) fn limit_param(max: u32) -> Value {
    query(
        "limit",
        &format!("Page size; clamped to 1..={max}."),
        json!({ "type": "integer", "minimum": 0, "maximum": 4294967295u64 }),
    )
}

fn filter(name: &str, description: &str) -> Value {
    query(name, description, json!({ "type": "string", "maxLength": 512 }))
}

fn cursor() -> Value {
    query("cursor", "Opaque cursor: the previous page's `next`.", json!({ "type": "string", "maxLength": 2048 }))
}

/// Read endpoints: 200 plus the errors every read can give.
pub(crate) fn read_operation(summary: &str, parameters: Vec<Value>, ok: Value) -> Value {
    json!({
        "summary": summary,
        "parameters": parameters,
        "security": [{}, { "bearer": [] }],
        "responses": {
            "200": ok,
            "400": { "$ref": "#/components/responses/BadRequest" },
            "401": { "$ref": "#/components/responses/Unauthorized" }
        }
    })
}

fn core_paths() -> Vec<(String, Value)> {
    let page = |item: &str| {
        json!({
            "type": "object",
            "required": ["items", "next"],
            "properties": {
                "items": { "type": "array", "items": schema_ref(item) },
                "next": { "type": ["string", "null"], "description": "Cursor of the next page; null on the last." }
            }
        })
    };
    let events = read_operation(
        "Stored events, newest first",
        vec![
            time_param("from", "Events at or after this time."),
            time_param("to", "Events before this time."),
            query(
                "class_uid",
                "OCSF class (1007 Process Activity, 3002 Authentication …).",
                json!({ "type": "integer", "minimum": -2147483648i64, "maximum": 2147483647 }),
            ),
            filter("source", "Decoder name (tetragon, cowrie, syslog …)."),
            filter("host", "Host name."),
            filter("src_ip", "Source IP."),
            filter("user", "User name."),
            query(
                "q",
                "Full-text search over raw events (FTS5 query syntax; quote IPs and paths).",
                json!({ "type": "string", "maxLength": 2048 }),
            ),
            cursor(),
            limit_param(1000),
        ],
        json_response("One page of events.", page("Event")),
    );
    let alerts = read_operation(
        "Alerts, most recently seen first",
        vec![
            time_param("from", "Alerts last seen at or after this time."),
            time_param("to", "Alerts first seen before this time."),
            query(
                "status",
                "Alert status; empty means any (as for every parameter).",
                json!({ "type": "string", "enum": ["open", "acknowledged", "closed", ""] }),
            ),
            filter("rule_id", "Rule id."),
            filter("level", "Sigma level."),
            filter("host", "Host name."),
            cursor(),
            limit_param(1000),
        ],
        json_response("One page of alerts.", page("Alert")),
    );
    let stats = read_operation(
        "Counts per time bucket and top rules / hosts / IPs / users",
        vec![
            time_param("from", "Start of the range."),
            time_param("to", "End of the range (exclusive)."),
            query(
                "bucket",
                "Bucket width: milliseconds or a duration such as 30s, 5m, 1h, 1d.",
                json!({ "type": "string" }),
            ),
            query(
                "top",
                "Entries per top list (at most 100).",
                json!({ "type": "integer", "minimum": 0, "maximum": 4294967295u64 }),
            ),
        ],
        json_response("Statistics.", schema_ref("Stats")),
    );
    let dead_letters = read_operation(
        "Records that could not be decoded, newest first",
        vec![cursor(), limit_param(1000)],
        json_response("One page of dead letters.", page("DeadLetter")),
    );
    let mut get_event = read_operation(
        "One stored event",
        vec![path_param("event_id", "The event's UUID.")],
        json_response("The event.", schema_ref("Event")),
    );
    get_event["responses"]["404"] = json!({ "$ref": "#/components/responses/NotFound" });
    let mut get_alert = read_operation(
        "One alert",
        vec![path_param("alert_id", "The alert's UUID.")],
        json_response("The alert.", schema_ref("Alert")),
    );
    get_alert["responses"]["404"] = json!({ "$ref": "#/components/responses/NotFound" });
    let patch_alert = json!({
        "summary": "Set an alert's status",
        "parameters": [path_param("alert_id", "The alert's UUID.")],
        "security": [{ "bearer": [] }],
        "requestBody": {
            "required": true,
            "content": { "application/json": { "schema": {
                "type": "object",
                "required": ["status"],
                "additionalProperties": false,
                "properties": { "status": { "type": "string", "enum": ["open", "acknowledged", "closed"] } }
            } } }
        },
        "responses": {
            "200": json_response("The updated alert.", schema_ref("Alert")),
            "400": { "$ref": "#/components/responses/BadRequest" },
            "401": { "$ref": "#/components/responses/Unauthorized" },
            "404": { "$ref": "#/components/responses/NotFound" },
            "413": { "$ref": "#/components/responses/TooLarge" }
        }
    });
    let post_events = json!({
        "summary": "Submit events: one JSON object, a JSON array of objects, or NDJSON",
        "description": "All or nothing: either every record is queued (202, one UUID v4 per record, in order) or none is. 202 means queued for the pipeline; records that fail to decode later become dead letters.",
        "security": [{ "bearer": [] }],
        "requestBody": {
            "required": true,
            "content": {
                "application/json": { "schema": { "oneOf": [
                    { "type": "object" },
                    { "type": "array", "minItems": 1, "items": { "type": "object" } }
                ] } },
                "application/x-ndjson": { "schema": { "type": "string" } }
            }
        },
        "responses": {
            "202": json_response("Queued.", json!({ "oneOf": [
                { "type": "object", "required": ["event_id"], "properties": { "event_id": { "type": "string", "format": "uuid" } } },
                { "type": "object", "required": ["event_ids"], "properties": { "event_ids": { "type": "array", "items": { "type": "string", "format": "uuid" } } } }
            ] })),
            "400": { "$ref": "#/components/responses/BadRequest" },
            "401": { "$ref": "#/components/responses/Unauthorized" },
            "408": error_response("The body arrived too slowly."),
            "413": { "$ref": "#/components/responses/TooLarge" },
            "429": {
                "description": "The pipeline is saturated; retry after the given seconds.",
                "headers": { "Retry-After": { "schema": { "type": "integer" } } },
                "content": { "application/json": { "schema": schema_ref("Error") } }
            },
            "503": { "$ref": "#/components/responses/Unavailable" }
        }
    });
    let healthz = json!({
        "summary": "Liveness",
        "responses": { "200": json_response("Alive.", json!({ "type": "object", "required": ["status"], "properties": { "status": { "const": "ok" } } })) }
    });
    let mut metrics = read_operation(
        "Prometheus metrics",
        vec![],
        json!({ "description": "Text exposition format 0.0.4.", "content": { "text/plain": { "schema": { "type": "string" } } } }),
    );
    metrics["responses"].as_object_mut().expect("responses").remove("400");
    let openapi = json!({
        "summary": "This document",
        "responses": { "200": json_response("The OpenAPI 3.1 document.", json!({ "type": "object" })) }
    });
    vec![
        ("/events".into(), json!({ "post": post_events })),
        ("/api/events".into(), json!({ "get": events })),
        ("/api/events/{event_id}".into(), json!({ "get": get_event })),
        ("/api/alerts".into(), json!({ "get": alerts })),
        ("/api/alerts/{alert_id}".into(), json!({ "get": get_alert, "patch": patch_alert })),
        ("/api/stats".into(), json!({ "get": stats })),
        ("/api/dead-letters".into(), json!({ "get": dead_letters })),
        ("/healthz".into(), json!({ "get": healthz })),
        ("/metrics".into(), json!({ "get": metrics })),
        ("/api/openapi.json".into(), json!({ "get": openapi })),
    ]
}

fn core_schemas() -> Map<String, Value> {
    let nullable_string = json!({ "type": ["string", "null"] });
    let top = json!({ "type": "array", "items": schema_ref("TopEntry") });
    let schemas = json!({
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {
                "error": { "type": "string" },
                "line": { "type": "integer", "description": "Where a malformed body went wrong (1-based)." },
                "column": { "type": "integer" }
            }
        },
        "Event": {
            "type": "object",
            "required": ["event_id", "time_ms", "received_ms", "source", "origin", "class_uid", "host", "src_ip", "user", "ocsf", "raw"],
            "properties": {
                "event_id": { "type": "string" },
                "time_ms": { "type": "integer", "description": "When it happened, ms since the Unix epoch (UTC)." },
                "received_ms": { "type": "integer" },
                "source": { "type": "string" },
                "origin": { "type": "string" },
                "class_uid": { "type": ["integer", "null"] },
                "host": nullable_string,
                "src_ip": nullable_string,
                "user": nullable_string,
                "ocsf": { "type": "object", "description": "The normalized OCSF object." },
                "raw": { "type": "string", "description": "The record as it arrived." }
            }
        },
        "Alert": {
            "type": "object",
            "required": ["alert_id", "rule_id", "rule_title", "level", "tags", "group_key", "status", "first_seen_ms", "last_seen_ms", "count", "host", "src_ip", "user", "event_ids", "details"],
            "properties": {
                "alert_id": { "type": "string" },
                "rule_id": { "type": "string" },
                "rule_title": { "type": "string" },
                "level": { "type": "string" },
                "tags": { "type": "array", "items": { "type": "string" } },
                "group_key": { "type": "string" },
                "status": { "type": "string", "enum": ["open", "acknowledged", "closed"] },
                "first_seen_ms": { "type": "integer" },
                "last_seen_ms": { "type": "integer" },
                "count": { "type": "integer", "minimum": 1 },
                "host": nullable_string,
                "src_ip": nullable_string,
                "user": nullable_string,
                "event_ids": { "type": "array", "items": { "type": "string" } },
                "details": { "description": "Correlation details or other context." }
            }
        },
        "DeadLetter": {
            "type": "object",
            "required": ["id", "received_ms", "origin", "position", "reason", "message", "decoder", "raw"],
            "properties": {
                "id": { "type": "integer" },
                "received_ms": { "type": "integer" },
                "origin": { "type": "string" },
                "position": { "type": "integer", "minimum": 0 },
                "reason": { "type": "string" },
                "message": { "type": "string" },
                "decoder": nullable_string,
                "raw": { "type": "string" }
            }
        },
        "TopEntry": {
            "type": "object",
            "required": ["value", "count"],
            "properties": { "value": { "type": "string" }, "count": { "type": "integer", "minimum": 0 } }
        },
        "Stats": {
            "type": "object",
            "required": ["events", "alerts", "dead_letters", "buckets", "top_rules", "top_hosts", "top_src_ips", "top_users"],
            "properties": {
                "events": { "type": "integer", "minimum": 0 },
                "alerts": { "type": "integer", "minimum": 0 },
                "dead_letters": { "type": "integer", "minimum": 0 },
                "buckets": { "type": "array", "items": {
                    "type": "object",
                    "required": ["start_ms", "events", "alerts"],
                    "properties": {
                        "start_ms": { "type": "integer" },
                        "events": { "type": "integer", "minimum": 0 },
                        "alerts": { "type": "integer", "minimum": 0 }
                    }
                } },
                "top_rules": top,
                "top_hosts": top,
                "top_src_ips": top,
                "top_users": top
            }
        }
    });
    match schemas {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every route path the server declares (the string argument of each route call),
    /// read from the sources that declare them.
    fn declared_routes() -> Vec<String> {
        let sources = [
            include_str!("../lib.rs"),
            include_str!("../seed.rs"),
            include_str!("../taxii.rs"),
            include_str!("../honeypot.rs"),
            include_str!("../etl.rs"),
            include_str!("mod.rs"),
        ];
        let mut routes = Vec::new();
        for source in sources {
            for piece in source.split(".route(\"").skip(1) {
                if let Some(end) = piece.find('"') {
                    routes.push(piece[..end].to_owned());
                }
            }
        }
        routes
    }

    #[test]
    fn every_declared_route_is_described() {
        let document = document();
        let paths = document["paths"].as_object().unwrap();
        let routes = declared_routes();
        assert!(routes.len() >= 10, "found only {routes:?}");
        for route in routes {
            // TAXII's catch-alls only turn unknown `/taxii2…` paths into TAXII-shaped 404s.
            if route == "/taxii2" || route.contains("{*") {
                continue;
            }
            assert!(paths.contains_key(&route), "route {route} is not in the OpenAPI document");
        }
    }

    #[test]
    fn every_reference_resolves() {
        let document = document();
        let text = document.to_string();
        for piece in text.split("\"$ref\":\"#/components/").skip(1) {
            let target = &piece[..piece.find('"').unwrap()];
            let (section, name) = target.split_once('/').unwrap();
            assert!(document["components"][section][name].is_object(), "dangling $ref {target}");
        }
    }
}
