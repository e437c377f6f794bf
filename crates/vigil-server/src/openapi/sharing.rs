//! The OpenAPI description of the sharing endpoints: the seed endpoints (Hive Sentinel's
//! contract) and TAXII 2.1.

use serde_json::{json, Map, Value};

use super::{integer_query, path_param, query, read_operation, schema_ref, time_param};

const TAXII: &str = "application/taxii+json;version=2.1";
const STIX: &str = "application/stix+json;version=2.1";

fn seed_params(with_part: bool) -> Vec<Value> {
    let mut params = vec![
        query("pod", "Kubernetes pod name.", json!({ "type": "string", "maxLength": 512 })),
        query("namespace", "Kubernetes namespace.", json!({ "type": "string", "maxLength": 512 })),
        time_param("since", "Events at or after this time."),
        integer_query(
            "limit",
            "Most events, 1 to 1000; default 100.",
            json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
        ),
    ];
    if with_part {
        params.push(integer_query(
            "part",
            "Which bundle (0-based) when the result is split; see the X-Vigil-Bundle-Parts header.",
            json!({ "type": "integer", "minimum": 0 }),
        ));
    }
    params
}

fn seed_paths() -> Vec<(String, Value)> {
    let mut paths = Vec::new();
    for source in ["tetragon", "kubescape"] {
        let raw = read_operation(
            &format!("Raw {source} events from the store, newest first"),
            seed_params(false),
            json!({
                "description": "The records as they arrived.",
                "content": { "application/json": { "schema": { "type": "array", "items": {
                    "description": "The record: a JSON object as received, or its text when it is not JSON."
                } } } }
            }),
        );
        let stix = read_operation(
            &format!("The same {source} events, and the alerts linked to them, as a STIX 2.1 bundle"),
            seed_params(true),
            json!({
                "description": "A STIX 2.1 bundle.",
                "headers": {
                    "X-Vigil-Bundle-Part": { "schema": { "type": "integer" } },
                    "X-Vigil-Bundle-Parts": { "schema": { "type": "integer" } }
                },
                "content": { STIX: { "schema": schema_ref("StixBundle") } }
            }),
        );
        paths.push((format!("/{source}"), json!({ "get": raw })));
        paths.push((format!("/{source}/fetch-stix"), json!({ "get": stix })));
    }
    paths
}

/// A TAXII response: the TAXII media type, TAXII errors.
fn taxii_get(summary: &str, parameters: Vec<Value>, schema: Value, date_headers: bool) -> Value {
    let error = json!({ "description": "A TAXII error message.", "content": { TAXII: { "schema": schema_ref("TaxiiError") } } });
    let mut ok = json!({ "description": "OK.", "content": { TAXII: { "schema": schema } } });
    if date_headers {
        ok["headers"] = json!({
            "X-TAXII-Date-Added-First": { "schema": { "type": "string" } },
            "X-TAXII-Date-Added-Last": { "schema": { "type": "string" } }
        });
    }
    json!({
        "summary": summary,
        "parameters": parameters,
        "security": [{}, { "bearer": [] }, { "basic": [] }],
        "responses": { "200": ok, "400": error, "401": error, "404": error, "406": error }
    })
}

fn paging_params(all: bool) -> Vec<Value> {
    let mut params = vec![
        query("added_after", "Only objects added after this time (RFC 3339).", json!({ "type": "string" })),
        query("limit", "Objects per page; 1 to 1000, default 100.", json!({ "type": "string" })),
        query("next", "The previous page's `next`.", json!({ "type": "string" })),
        query("match[version]", "last, first, all, or a timestamp.", json!({ "type": "string" })),
        query("match[spec_version]", "Only 2.1 objects exist here.", json!({ "type": "string" })),
    ];
    if all {
        params.push(query("match[id]", "Comma-separated STIX ids.", json!({ "type": "string" })));
        params.push(query("match[type]", "Comma-separated STIX types.", json!({ "type": "string" })));
    }
    params
}

fn taxii_paths() -> Vec<(String, Value)> {
    let collection = path_param("collection_id", "The collection's id or alias (alerts, indicators, observed-data).");
    let object = path_param("object_id", "A STIX id.");
    let envelope = json!({
        "type": "object",
        "properties": {
            "more": { "type": "boolean" },
            "next": { "type": "string" },
            "objects": { "type": "array", "items": { "type": "object" } }
        }
    });
    let mut with_collection = vec![collection.clone()];
    with_collection.extend(paging_params(true));
    let manifest_params = with_collection.clone();
    let mut object_params = vec![collection.clone(), object.clone()];
    object_params.extend(paging_params(false));
    let mut version_params = object_params.clone();
    version_params.retain(|p| p["name"] != "match[version]");
    let read_only = |summary: &str, parameters: Vec<Value>| {
        let error = json!({ "description": "A TAXII error message.", "content": { TAXII: { "schema": schema_ref("TaxiiError") } } });
        json!({
            "summary": summary,
            "parameters": parameters,
            "security": [{ "bearer": [] }, { "basic": [] }],
            "responses": { "401": error, "403": error, "404": error, "406": error }
        })
    };
    let mut objects = json!({
        "get": taxii_get("Objects of a collection, paged", with_collection.clone(), envelope.clone(), true)
    });
    objects["post"] = read_only("Add objects (the collections are read-only: 403)", vec![collection.clone()]);
    let mut one_object = json!({
        "get": taxii_get("One object (all its versions selected by match[version])", object_params.clone(), envelope.clone(), true)
    });
    one_object["delete"] =
        read_only("Delete an object (the collections are read-only: 403)", vec![collection.clone(), object.clone()]);
    vec![
        (
            "/taxii2/".into(),
            json!({ "get": taxii_get("TAXII discovery", vec![], schema_ref("TaxiiDiscovery"), false) }),
        ),
        (
            "/taxii2/api/".into(),
            json!({ "get": taxii_get("The API root", vec![], json!({ "type": "object" }), false) }),
        ),
        (
            "/taxii2/api/collections/".into(),
            json!({ "get": taxii_get("Collections", vec![], json!({ "type": "object", "properties": { "collections": { "type": "array", "items": schema_ref("TaxiiCollection") } } }), false) }),
        ),
        (
            "/taxii2/api/collections/{collection_id}/".into(),
            json!({ "get": taxii_get("One collection", vec![collection.clone()], schema_ref("TaxiiCollection"), false) }),
        ),
        ("/taxii2/api/collections/{collection_id}/objects/".into(), objects),
        (
            "/taxii2/api/collections/{collection_id}/manifest/".into(),
            json!({ "get": taxii_get("Manifest of a collection, paged", manifest_params, json!({ "type": "object" }), true) }),
        ),
        ("/taxii2/api/collections/{collection_id}/objects/{object_id}/".into(), one_object),
        (
            "/taxii2/api/collections/{collection_id}/objects/{object_id}/versions/".into(),
            json!({ "get": taxii_get("Versions of an object", version_params, json!({ "type": "object" }), true) }),
        ),
    ]
}

pub(super) fn paths() -> Vec<(String, Value)> {
    let mut paths = seed_paths();
    paths.extend(taxii_paths());
    paths
}

pub(super) fn schemas() -> Map<String, Value> {
    let schemas = json!({
        "StixBundle": {
            "type": "object",
            "required": ["type", "id"],
            "properties": {
                "type": { "const": "bundle" },
                "id": { "type": "string", "pattern": "^bundle--" },
                "objects": { "type": "array", "items": { "type": "object", "required": ["type", "id"] } }
            }
        },
        "TaxiiError": {
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": { "type": "string" },
                "description": { "type": "string" },
                "http_status": { "type": "string" }
            }
        },
        "TaxiiDiscovery": {
            "type": "object",
            "required": ["title"],
            "properties": {
                "title": { "type": "string" },
                "description": { "type": "string" },
                "default": { "type": "string" },
                "api_roots": { "type": "array", "items": { "type": "string" } }
            }
        },
        "TaxiiCollection": {
            "type": "object",
            "required": ["id", "title", "can_read", "can_write"],
            "properties": {
                "id": { "type": "string" },
                "title": { "type": "string" },
                "description": { "type": "string" },
                "alias": { "type": "string" },
                "can_read": { "type": "boolean" },
                "can_write": { "type": "boolean" },
                "media_types": { "type": "array", "items": { "type": "string" } }
            }
        }
    });
    match schemas {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}
