//! The OpenAPI description of the sharing (seed, TAXII), honeypot and ETL endpoints.

use serde_json::{json, Map, Value};

use super::{error_response, integer_query, json_response, path_param, read_operation, schema_ref, time_param};

pub(super) fn paths() -> Vec<(String, Value)> {
    let mut paths = honeypot_paths();
    paths.extend(etl_paths());
    paths.extend(super::sharing::paths());
    paths
}

pub(super) fn schemas() -> Map<String, Value> {
    let mut schemas = honeypot_schemas();
    schemas.extend(etl_schemas());
    schemas.extend(super::sharing::schemas());
    schemas
}

fn bounded_count(name: &str, description: &str) -> Value {
    integer_query(
        name,
        &format!("{description} 1 to 1000; default 10."),
        json!({ "type": "integer", "minimum": 1, "maximum": 1000 }),
    )
}

fn with_404(mut operation: Value) -> Value {
    operation["responses"]["404"] = json!({ "$ref": "#/components/responses/NotFound" });
    operation
}

fn honeypot_paths() -> Vec<(String, Value)> {
    let range =
        || vec![time_param("from", "Records at or after this time."), time_param("to", "Records before this time.")];
    let items = |item: &str| json!({ "type": "object", "required": ["items"], "properties": { "items": { "type": "array", "items": schema_ref(item) } } });
    let session = with_404(read_operation(
        "One Cowrie session: connection, authentication attempts, commands, transfers and its raw records",
        vec![path_param("id", "The Cowrie session id.")],
        json_response("The session.", schema_ref("HoneypotSession")),
    ));
    let mut stats_params = range();
    stats_params.push(bounded_count("top", "Entries per top list;"));
    let stats = read_operation(
        "Honeypot statistics over a time range",
        stats_params,
        json_response("Statistics.", schema_ref("HoneypotStats")),
    );
    let mut top_params = range();
    top_params.push(bounded_count("limit", "Entries;"));
    let credentials = read_operation(
        "Most tried (username, password) pairs",
        top_params.clone(),
        json_response("Pairs, most tried first.", items("CredentialCount")),
    );
    let commands = read_operation(
        "Most run commands",
        top_params,
        json_response("Commands, most run first.", items("CommandCount")),
    );
    let ip = with_404(read_operation(
        "What one source IP did against the honeypot",
        vec![json!({
            "name": "ip", "in": "path", "required": true, "description": "An IPv4 or IPv6 address.",
            "schema": { "anyOf": [{ "type": "string", "format": "ipv4" }, { "type": "string", "format": "ipv6" }] }
        })],
        json_response("Per-IP intelligence.", schema_ref("IpIntel")),
    ));
    vec![
        ("/api/honeypot/sessions/{id}".into(), json!({ "get": session })),
        ("/api/honeypot/stats".into(), json!({ "get": stats })),
        ("/api/honeypot/credentials/top".into(), json!({ "get": credentials })),
        ("/api/honeypot/commands/top".into(), json!({ "get": commands })),
        ("/api/honeypot/ips/{ip}".into(), json!({ "get": ip })),
    ]
}

fn honeypot_schemas() -> Map<String, Value> {
    let string_or_null = json!({ "type": ["string", "null"] });
    let int_or_null = json!({ "type": ["integer", "null"] });
    let category = json!({ "type": "string", "enum": ["miner", "persistence", "lateral_movement", "execution", "download", "recon", "other"] });
    let categories = json!({ "type": "array", "items": category });
    let transfer = json!({
        "type": "object",
        "required": ["time_ms"],
        "properties": {
            "time_ms": { "type": "integer" },
            "url": string_or_null, "filename": string_or_null, "shasum": string_or_null,
            "outfile": string_or_null, "destfile": string_or_null
        }
    });
    let top_values = json!({ "type": "array", "items": schema_ref("TopValue") });
    let schemas = json!({
        "TopValue": {
            "type": "object",
            "required": ["value", "count"],
            "properties": { "value": string_or_null, "count": { "type": "integer", "minimum": 0 } }
        },
        "CredentialCount": {
            "type": "object",
            "required": ["username", "password", "count", "first_seen_ms", "last_seen_ms", "success"],
            "properties": {
                "username": string_or_null, "password": string_or_null,
                "count": { "type": "integer", "minimum": 1 },
                "first_seen_ms": { "type": "integer" }, "last_seen_ms": { "type": "integer" },
                "success": { "type": "boolean", "description": "Whether any attempt with this pair succeeded." }
            }
        },
        "CommandCount": {
            "type": "object",
            "required": ["input", "count", "category", "categories"],
            "properties": {
                "input": string_or_null, "count": { "type": "integer", "minimum": 1 },
                "category": category, "categories": categories
            }
        },
        "HoneypotSession": {
            "type": "object",
            "required": ["session", "auth_attempts", "commands", "downloads", "uploads", "record_count", "raw", "truncated"],
            "properties": {
                "session": { "type": "string" },
                "src_ip": string_or_null, "src_port": int_or_null, "dst_ip": string_or_null, "dst_port": int_or_null,
                "sensor": string_or_null, "protocol": string_or_null, "client_version": string_or_null, "hassh": string_or_null,
                "start_ms": int_or_null, "end_ms": int_or_null,
                "duration_secs": { "type": ["number", "null"] },
                "auth_attempts": { "type": "array", "items": {
                    "type": "object",
                    "required": ["time_ms", "username", "password", "success"],
                    "properties": { "time_ms": { "type": "integer" }, "username": string_or_null, "password": string_or_null, "success": { "type": "boolean" } }
                } },
                "commands": { "type": "array", "items": {
                    "type": "object",
                    "required": ["time_ms", "input", "category", "categories", "failed"],
                    "properties": { "time_ms": { "type": "integer" }, "input": { "type": "string" }, "category": category, "categories": categories, "failed": { "type": "boolean" } }
                } },
                "downloads": { "type": "array", "items": transfer },
                "uploads": { "type": "array", "items": transfer },
                "record_count": { "type": "integer", "minimum": 0 },
                "raw": { "type": "array", "items": { "type": "string" } },
                "truncated": { "type": "boolean" }
            }
        },
        "HoneypotStats": {
            "type": "object",
            "required": ["sessions", "unique_src_ips", "login_attempts", "failed_logins", "successful_logins", "commands",
                         "failed_commands", "downloads", "uploads", "top_credentials", "top_usernames", "top_passwords",
                         "top_commands", "top_src_ips"],
            "properties": {
                "from_ms": int_or_null, "to_ms": int_or_null,
                "sessions": { "type": "integer", "minimum": 0 }, "unique_src_ips": { "type": "integer", "minimum": 0 },
                "login_attempts": { "type": "integer", "minimum": 0 }, "failed_logins": { "type": "integer", "minimum": 0 },
                "successful_logins": { "type": "integer", "minimum": 0 }, "commands": { "type": "integer", "minimum": 0 },
                "failed_commands": { "type": "integer", "minimum": 0 }, "downloads": { "type": "integer", "minimum": 0 },
                "uploads": { "type": "integer", "minimum": 0 },
                "top_credentials": { "type": "array", "items": schema_ref("CredentialCount") },
                "top_usernames": top_values, "top_passwords": top_values,
                "top_commands": { "type": "array", "items": schema_ref("CommandCount") },
                "top_src_ips": top_values
            }
        },
        "IpIntel": {
            "type": "object",
            "required": ["ip", "first_seen_ms", "last_seen_ms", "records", "sessions", "login_attempts", "successful_logins",
                         "commands", "downloads", "uploads", "command_categories", "top_usernames", "score"],
            "properties": {
                "ip": { "type": "string" },
                "first_seen_ms": { "type": "integer" }, "last_seen_ms": { "type": "integer" },
                "records": { "type": "integer", "minimum": 0 }, "sessions": { "type": "integer", "minimum": 0 },
                "login_attempts": { "type": "integer", "minimum": 0 }, "successful_logins": { "type": "integer", "minimum": 0 },
                "commands": { "type": "integer", "minimum": 0 }, "downloads": { "type": "integer", "minimum": 0 },
                "uploads": { "type": "integer", "minimum": 0 },
                "command_categories": categories,
                "top_usernames": top_values,
                "score": { "type": "integer", "minimum": 0, "maximum": 100, "description": "Behaviour score; see docs/honeypot.md." },
                "geo": {
                    "description": "Present when GeoIP databases are configured; null when they do not know the address.",
                    "type": ["object", "null"],
                    "properties": {
                        "asn": { "type": "integer" }, "as_organization": { "type": "string" },
                        "country_code": { "type": "string" }, "country_name": { "type": "string" }
                    }
                }
            }
        }
    });
    match schemas {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

fn etl_paths() -> Vec<(String, Value)> {
    let write = |summary: &str, body: Value, ok: Value| {
        json!({
            "summary": summary,
            "security": [{ "bearer": [] }],
            "requestBody": { "required": true, "content": { "application/json": { "schema": body } } },
            "responses": {
                "200": ok,
                "400": { "$ref": "#/components/responses/BadRequest" },
                "401": { "$ref": "#/components/responses/Unauthorized" },
                "404": { "$ref": "#/components/responses/NotFound" },
                "413": { "$ref": "#/components/responses/TooLarge" },
                "500": error_response("The job could not be persisted."),
                "503": { "$ref": "#/components/responses/Unavailable" }
            }
        })
    };
    let uuid = json!({ "type": "object", "required": ["uuid"], "properties": { "uuid": { "type": "string" } } });
    let mut start = write("Start a polling job", schema_ref("EtlStart"), json_response("The job's id.", uuid.clone()));
    start["responses"].as_object_mut().expect("responses").remove("404");
    let stop = write(
        "Stop a job (it stays listed as stopped)",
        json!({ "type": "object", "required": ["uuid"], "additionalProperties": false, "properties": { "uuid": { "type": "string" } } }),
        json_response("Stopped.", json!({ "type": "object" })),
    );
    let mut status = read_operation(
        "Every job with its watermark, rows read and last error",
        vec![],
        json_response(
            "The jobs.",
            json!({
                "type": "object",
                "required": ["jobs"],
                "properties": { "jobs": { "type": "array", "items": schema_ref("EtlJob") } }
            }),
        ),
    );
    status["responses"]["503"] = json!({ "$ref": "#/components/responses/Unavailable" });
    status["responses"].as_object_mut().expect("responses").remove("400");
    vec![
        ("/pixie-etl/start".into(), json!({ "post": start })),
        ("/pixie-etl/stop".into(), json!({ "post": stop })),
        ("/pixie-etl/status".into(), json!({ "get": status })),
    ]
}

fn etl_schemas() -> Map<String, Value> {
    let schemas = json!({
        "EtlStart": {
            "description": "A Pixie job (`kind` absent or `pixie`: `tablename` required) or a file job (`kind: file`: `path` required, under the configured roots).",
            "type": "object",
            "properties": {
                "kind": { "type": "string", "enum": ["pixie", "file"] },
                "tablename": { "type": "string", "description": "Pixie table, e.g. http_events." },
                "timestamp": { "description": "Start time: RFC 3339, epoch s / ms / ns, or relative such as -5m. Default: now.", "type": ["string", "integer"] },
                "podname": { "type": "string" },
                "namespace": { "type": "string" },
                "path": { "type": "string" },
                "poll_interval": { "type": "integer", "minimum": 1, "maximum": 86400, "description": "Seconds; default 30." }
            }
        },
        "EtlJob": {
            "type": "object",
            "required": ["uuid", "kind", "state"],
            "properties": {
                "uuid": { "type": "string" },
                "kind": { "type": "string" },
                "state": { "type": "string", "enum": ["running", "stopped", "failed"] },
                "watermark": {},
                "rows_read": { "type": "integer", "minimum": 0 },
                "last_error": { "type": ["string", "null"] }
            }
        }
    });
    match schemas {
        Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}
