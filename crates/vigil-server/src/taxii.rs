//! TAXII 2.1: discovery, the API root, collections (alerts, indicators, observed-data),
//! objects with `added_after` / `limit` / `next` paging, manifests; TAXII media types.
//!
//! Read-only: every collection is built on the fly from the store (no STIX is stored).
//!
//! - `observed-data`: per stored event, its observed-data object and observables. Date
//!   added: the event's `received_ms`.
//! - `alerts`: per stored alert, its sighting; the first alert of each rule also carries
//!   the rule's indicator, attack patterns and relationships. Date added: the alert's
//!   `first_seen_ms` (the store keeps no insertion time for alerts).
//! - `indicators`: per rule that has alerts, its indicator, attack patterns and
//!   relationships. Date added: `first_seen_ms` of the rule's first stored alert.
//!
//! Paging walks the rows in insertion order (rowid), so rows added while a client pages
//! land after every `next` handed out: every object of every row is delivered exactly
//! once. `next` is opaque: the row to resume in and how many of its objects were sent.
//! Objects several rows share (an IP address seen by two events, an attack pattern of
//! two rules) appear once per page and again, identical, on a later page that needs them.
//!
//! Each object has one version: `modified`, else `created`, else its date added
//! (observables); `match[version]` `last` / `first` / `all` all select it, a timestamp
//! selects it when equal.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use vigil_stix::RuleCatalog;
use vigil_store::{Store, StoreError};

use crate::auth::constant_time_eq;
use crate::params::parse_time_ms;
use crate::AppState;

/// What every TAXII response is, errors included.
pub(crate) const TAXII_MEDIA_TYPE: &str = "application/taxii+json;version=2.1";
/// What the collections hold.
const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";

const API_ROOT_PATH: &str = "/taxii2/api/";
/// Objects per page when the client gives no `limit`.
const DEFAULT_LIMIT: usize = 100;
/// Most objects per page, whatever the client asks for.
const MAX_LIMIT: usize = 1000;
/// Most store rows one request turns into STIX. A page with selective `match[...]`
/// filters may end early (`more: true`, fewer objects) rather than convert the whole store.
const MAX_ROWS_PER_REQUEST: usize = 5000;
/// Rows read from the store per round.
const ROWS_PER_ROUND: usize = 200;
/// Most values in one `match[...]` filter and longest value accepted.
const MAX_MATCH_VALUES: usize = 100;
const MAX_PARAM_LEN: usize = 4096;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CollectionKind {
    Alerts,
    Indicators,
    ObservedData,
}

struct CollectionInfo {
    kind: CollectionKind,
    /// Fixed, so clients can keep it across restarts.
    id: &'static str,
    alias: &'static str,
    title: &'static str,
    description: &'static str,
}

const COLLECTIONS: [CollectionInfo; 3] = [
    CollectionInfo {
        kind: CollectionKind::Alerts,
        id: "e8a39c7a-753e-479d-9742-c46f04c88864",
        alias: "alerts",
        title: "Vigil alerts",
        description: "Sightings of Sigma rule indicators, one per alert, with the indicators, attack patterns \
                      and relationships they need.",
    },
    CollectionInfo {
        kind: CollectionKind::Indicators,
        id: "bf5d907f-03b2-4201-9b17-918735a4a545",
        alias: "indicators",
        title: "Vigil indicators",
        description: "One indicator (pattern_type sigma) per rule that raised alerts, with its ATT&CK attack \
                      patterns.",
    },
    CollectionInfo {
        kind: CollectionKind::ObservedData,
        id: "8b00d049-8847-477d-a8b4-e50d441a5b28",
        alias: "observed-data",
        title: "Vigil observed data",
        description: "One observed-data object per stored event, with its observables.",
    },
];

fn collection(id: &str) -> Result<&'static CollectionInfo, TaxiiError> {
    COLLECTIONS
        .iter()
        .find(|c| c.id.eq_ignore_ascii_case(id) || c.alias == id)
        .ok_or_else(|| TaxiiError::not_found("no such collection"))
}

fn collection_resource(info: &CollectionInfo) -> Value {
    json!({
        "id": info.id,
        "title": info.title,
        "description": info.description,
        "alias": info.alias,
        "can_read": true,
        "can_write": false,
        "media_types": [STIX_MEDIA_TYPE],
    })
}

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/taxii2/", get(discovery))
        .route("/taxii2/api/", get(api_root))
        .route("/taxii2/api/collections/", get(collections))
        .route("/taxii2/api/collections/{collection_id}/", get(get_collection))
        .route("/taxii2/api/collections/{collection_id}/objects/", get(get_objects).post(add_objects))
        .route("/taxii2/api/collections/{collection_id}/manifest/", get(get_manifest))
        .route("/taxii2/api/collections/{collection_id}/objects/{object_id}/", get(get_object).delete(delete_object))
        .route("/taxii2/api/collections/{collection_id}/objects/{object_id}/versions/", get(get_versions))
        .route("/taxii2", get(taxii_not_found))
        .route("/taxii2/{*rest}", get(taxii_not_found))
}

// ---- errors ----

/// A TAXII error message (`title`, `description`, `http_status`), sent with the TAXII
/// media type.
#[derive(Debug)]
pub(crate) struct TaxiiError {
    status: StatusCode,
    title: &'static str,
    description: String,
}

impl TaxiiError {
    fn new(status: StatusCode, title: &'static str, description: impl Into<String>) -> TaxiiError {
        TaxiiError { status, title, description: description.into() }
    }

    fn bad_request(description: impl Into<String>) -> TaxiiError {
        TaxiiError::new(StatusCode::BAD_REQUEST, "Bad request", description)
    }

    fn not_found(description: impl Into<String>) -> TaxiiError {
        TaxiiError::new(StatusCode::NOT_FOUND, "Not found", description)
    }

    fn unauthorized() -> TaxiiError {
        TaxiiError::new(
            StatusCode::UNAUTHORIZED,
            "Unauthorized",
            "missing or invalid token (Authorization: Bearer <token>, or Basic with the token as password)",
        )
    }

    fn internal(detail: impl std::fmt::Display) -> TaxiiError {
        eprintln!("vigil-server: taxii: internal error: {detail}");
        TaxiiError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error", "internal server error")
    }
}

impl From<StoreError> for TaxiiError {
    fn from(err: StoreError) -> TaxiiError {
        match err {
            StoreError::InvalidQuery(message) => TaxiiError::bad_request(message),
            other => TaxiiError::internal(format_args!("store: {other}")),
        }
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        let body = json!({
            "title": self.title,
            "description": self.description,
            "http_status": self.status.as_str(),
        });
        let mut response = (self.status, body.to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA_TYPE));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"vigil-taxii\", Bearer realm=\"vigil-taxii\""),
            );
        }
        response
    }
}

async fn taxii_not_found(_: TaxiiRead, _: TaxiiAccept) -> TaxiiError {
    TaxiiError::not_found("no such TAXII resource")
}

// ---- access and content negotiation ----

/// Proof that the request may read: no read token is configured, or the request carries
/// the read or the write token, as `Bearer <token>` or as the password of HTTP Basic
/// (what TAXII clients such as taxii2-client send; the user name is ignored).
pub(crate) struct TaxiiRead;

impl FromRequestParts<Arc<AppState>> for TaxiiRead {
    type Rejection = TaxiiError;

    async fn from_request_parts(parts: &mut Parts, state: &Arc<AppState>) -> Result<Self, TaxiiError> {
        let Some(read_token) = state.config.read_token.as_deref() else {
            return Ok(TaxiiRead);
        };
        let presented = presented_token(&parts.headers).ok_or_else(TaxiiError::unauthorized)?;
        // Both comparisons always run, so the time taken does not tell which was close.
        let is_reader = token_matches(&presented, read_token);
        let is_writer = token_matches(&presented, &state.config.write_token);
        if is_reader | is_writer {
            Ok(TaxiiRead)
        } else {
            Err(TaxiiError::unauthorized())
        }
    }
}

fn token_matches(presented: &[u8], expected: &str) -> bool {
    !expected.is_empty() && constant_time_eq(presented, expected.as_bytes())
}

/// The token of `Authorization: Bearer <token>` or the password of `Basic <base64>`.
fn presented_token(headers: &HeaderMap) -> Option<Vec<u8>> {
    let value = headers.get(header::AUTHORIZATION)?.as_bytes();
    let split = value.iter().position(|&b| b == b' ')?;
    let (scheme, rest) = value.split_at(split);
    let rest = rest.trim_ascii();
    if rest.is_empty() {
        return None;
    }
    if scheme.eq_ignore_ascii_case(b"bearer") {
        Some(rest.to_vec())
    } else if scheme.eq_ignore_ascii_case(b"basic") {
        let decoded = decode_base64(rest)?;
        let colon = decoded.iter().position(|&b| b == b':')?;
        let password = decoded[colon + 1..].to_vec();
        (!password.is_empty()).then_some(password)
    } else {
        None
    }
}

/// Standard base64 with optional padding; `None` on anything else.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    fn sextet(byte: u8) -> Option<u32> {
        Some(match byte {
            b'A'..=b'Z' => byte - b'A',
            b'a'..=b'z' => byte - b'a' + 26,
            b'0'..=b'9' => byte - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    }
    // Credentials are short; a huge header is not worth decoding.
    if text.len() > 4096 {
        return None;
    }
    let unpadded = match text {
        [head @ .., b'=', b'='] => head,
        [head @ .., b'='] => head,
        _ => text,
    };
    if unpadded.len() % 4 == 1 || (unpadded.len() != text.len() && text.len() % 4 != 0) {
        return None;
    }
    let mut out = Vec::with_capacity(unpadded.len() * 3 / 4);
    for chunk in unpadded.chunks(4) {
        let mut bits = 0u32;
        for &byte in chunk {
            bits = (bits << 6) | sextet(byte)?;
        }
        bits <<= 6 * (4 - chunk.len() as u32);
        let bytes = bits.to_be_bytes();
        out.extend_from_slice(&bytes[1..chunk.len()]);
    }
    Some(out)
}

/// Proof that the client accepts the TAXII 2.1 media type: `Accept` names
/// `application/taxii+json` (without a version or with `version=2.1`), `application/*`
/// or `*/*`, or is absent. Anything else is 406.
pub(crate) struct TaxiiAccept;

impl<S: Send + Sync> FromRequestParts<S> for TaxiiAccept {
    type Rejection = TaxiiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, TaxiiError> {
        let values: Vec<&HeaderValue> = parts.headers.get_all(header::ACCEPT).iter().collect();
        if values.is_empty() {
            return Ok(TaxiiAccept);
        }
        let accepted = values.iter().any(|value| value.to_str().is_ok_and(accepts_taxii_21));
        if accepted {
            Ok(TaxiiAccept)
        } else {
            Err(TaxiiError::new(
                StatusCode::NOT_ACCEPTABLE,
                "Not acceptable",
                format!("this server answers with {TAXII_MEDIA_TYPE}"),
            ))
        }
    }
}

fn accepts_taxii_21(accept: &str) -> bool {
    accept.split(',').any(|range| {
        let mut parts = range.split(';');
        let media = parts.next().unwrap_or("").trim().to_ascii_lowercase();
        let mut version = None;
        let mut quality_zero = false;
        for param in parts {
            let Some((name, value)) = param.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            match name.trim().to_ascii_lowercase().as_str() {
                "version" => version = Some(value.to_owned()),
                "q" => quality_zero = value.parse::<f32>().is_ok_and(|q| q <= 0.0),
                _ => {}
            }
        }
        let version_ok = version.as_deref().is_none_or(|v| v == "2.1");
        !quality_zero && version_ok && matches!(media.as_str(), "application/taxii+json" | "application/*" | "*/*")
    })
}

// ---- query parameters ----

/// The query string's pairs; unknown, repeated or oversized ones are a 400 naming them.
fn query_pairs(uri: &Uri, allowed: &[&str]) -> Result<HashMap<String, String>, TaxiiError> {
    let Query(pairs) = Query::<Vec<(String, String)>>::try_from_uri(uri)
        .map_err(|_| TaxiiError::bad_request("the query string cannot be decoded"))?;
    let mut kept = HashMap::new();
    for (name, value) in pairs {
        if !allowed.contains(&name.as_str()) {
            let shown: String = name.chars().take(64).collect();
            let expected = if allowed.is_empty() { "none".to_owned() } else { allowed.join(", ") };
            return Err(TaxiiError::bad_request(format!("unknown query parameter `{shown}` (expected: {expected})")));
        }
        if value.len() > MAX_PARAM_LEN {
            return Err(TaxiiError::bad_request(format!(
                "query parameter `{name}` is longer than {MAX_PARAM_LEN} bytes"
            )));
        }
        if kept.contains_key(&name) {
            return Err(TaxiiError::bad_request(format!("query parameter `{name}` given more than once")));
        }
        if !value.is_empty() {
            kept.insert(name, value);
        }
    }
    Ok(kept)
}

/// Where a page starts: rows before `row` are done, and so are the first `skip` objects
/// of row `row`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    row: i64,
    skip: u32,
}

impl Position {
    const START: Position = Position { row: 0, skip: 0 };

    fn encode(self) -> String {
        format!("{:016x}{:08x}", self.row as u64, self.skip)
    }

    fn decode(text: &str) -> Option<Position> {
        if text.len() != 24 || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        let row = u64::from_str_radix(&text[..16], 16).ok()? as i64;
        let skip = u32::from_str_radix(&text[16..], 16).ok()?;
        (row >= 0).then_some(Position { row, skip })
    }
}

#[derive(Debug, Default)]
struct Filter {
    added_after_ms: Option<i64>,
    limit: usize,
    start: Option<Position>,
    ids: Option<Vec<String>>,
    types: Option<Vec<String>>,
    /// `None`: any version (`last`, `first`, `all` or no filter: each object has one).
    versions_ms: Option<Vec<i64>>,
    spec_versions: Option<Vec<String>>,
}

fn match_values(params: &HashMap<String, String>, name: &str) -> Result<Option<Vec<String>>, TaxiiError> {
    let Some(value) = params.get(name) else { return Ok(None) };
    let values: Vec<String> = value.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect();
    if values.len() > MAX_MATCH_VALUES {
        return Err(TaxiiError::bad_request(format!("`{name}` has more than {MAX_MATCH_VALUES} values")));
    }
    Ok(Some(values))
}

fn filter_from(params: &HashMap<String, String>) -> Result<Filter, TaxiiError> {
    let added_after_ms = params
        .get("added_after")
        .map(|value| {
            parse_time_ms(value).map_err(|why| TaxiiError::bad_request(format!("query parameter `added_after`: {why}")))
        })
        .transpose()?;
    let limit = match params.get("limit") {
        None => DEFAULT_LIMIT,
        Some(value) => match value.parse::<u64>() {
            Ok(n) if n >= 1 => n.min(MAX_LIMIT as u64) as usize,
            _ => return Err(TaxiiError::bad_request("query parameter `limit`: expected a positive integer")),
        },
    };
    let start = params
        .get("next")
        .map(|value| {
            Position::decode(value).ok_or_else(|| TaxiiError::bad_request("query parameter `next`: malformed"))
        })
        .transpose()?;
    let versions_ms =
        match match_values(params, "match[version]")? {
            None => None,
            Some(values) => {
                let mut times = Vec::new();
                let mut any = false;
                for value in &values {
                    match value.as_str() {
                        "last" | "first" | "all" => any = true,
                        other => times.push(parse_time_ms(other).map_err(|why| {
                            TaxiiError::bad_request(format!("query parameter `match[version]`: {why}"))
                        })?),
                    }
                }
                (!any).then_some(times)
            }
        };
    Ok(Filter {
        added_after_ms,
        limit,
        start,
        ids: match_values(params, "match[id]")?,
        types: match_values(params, "match[type]")?,
        versions_ms,
        spec_versions: match_values(params, "match[spec_version]")?,
    })
}

// ---- building pages ----

/// One store row as STIX: its objects (duplicates within the row removed) and the time
/// it counts as added.
struct RowObjects {
    row: i64,
    date_added_ms: i64,
    objects: Vec<Value>,
}

struct Selected {
    date_added_ms: i64,
    object: Value,
}

struct PageOut {
    items: Vec<Selected>,
    next: Option<Position>,
}

fn dedup_by_id(objects: Vec<Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    objects.into_iter().filter(|object| seen.insert(object_id(object).to_owned())).collect()
}

fn object_id(object: &Value) -> &str {
    object.get("id").and_then(Value::as_str).unwrap_or("")
}

/// Rows after `after_row` (at most `count`), as STIX.
fn load_rows(
    store: &Store,
    kind: CollectionKind,
    catalog: &RuleCatalog,
    after_row: i64,
    added_after_ms: Option<i64>,
    count: usize,
) -> Result<Vec<RowObjects>, StoreError> {
    Ok(match kind {
        CollectionKind::ObservedData => store
            .feed_events(after_row, added_after_ms, count)?
            .into_iter()
            .map(|(row, event)| RowObjects {
                row,
                date_added_ms: event.received_ms,
                objects: dedup_by_id(vigil_stix::event_objects(&event)),
            })
            .collect(),
        CollectionKind::Indicators => store
            .feed_rule_first_alerts(after_row, added_after_ms, count)?
            .into_iter()
            .map(|(row, alert)| RowObjects {
                row,
                date_added_ms: alert.first_seen_ms,
                objects: dedup_by_id(vigil_stix::rule_objects(&alert.rule_id, Some(&alert), catalog)),
            })
            .collect(),
        CollectionKind::Alerts => {
            let alerts = store.feed_alerts(after_row, added_after_ms, count)?;
            let mut rule_ids: Vec<String> = alerts.iter().map(|(_, alert)| alert.rule_id.clone()).collect();
            rule_ids.sort();
            rule_ids.dedup();
            let first_rows: HashMap<String, i64> = store.first_alert_rows(&rule_ids)?.into_iter().collect();
            alerts
                .into_iter()
                .map(|(row, alert)| {
                    let mut objects = vigil_stix::alert_objects(&alert, catalog);
                    // The rule's own objects travel with its first alert only, so each
                    // indicator is in the collection once, not once per alert.
                    if first_rows.get(&alert.rule_id) != Some(&row) {
                        let rule_object_ids: HashSet<String> =
                            vigil_stix::rule_objects(&alert.rule_id, Some(&alert), catalog)
                                .iter()
                                .map(|object| object_id(object).to_owned())
                                .collect();
                        objects.retain(|object| !rule_object_ids.contains(object_id(object)));
                    }
                    RowObjects { row, date_added_ms: alert.first_seen_ms, objects: dedup_by_id(objects) }
                })
                .collect()
        }
    })
}

/// The object's version: `modified`, else `created`, else its date added.
fn version_of(object: &Value, date_added_ms: i64) -> String {
    object
        .get("modified")
        .or_else(|| object.get("created"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .unwrap_or_else(|| timestamp(date_added_ms))
}

fn timestamp(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| "1970-01-01T00:00:00.000Z".to_owned())
}

fn matches(filter: &Filter, object: &Value, date_added_ms: i64) -> bool {
    let text = |name: &str| object.get(name).and_then(Value::as_str).unwrap_or("");
    if filter.ids.as_ref().is_some_and(|ids| !ids.iter().any(|id| id == text("id"))) {
        return false;
    }
    if filter.types.as_ref().is_some_and(|types| !types.iter().any(|t| t == text("type"))) {
        return false;
    }
    if let Some(wanted) = &filter.spec_versions {
        let spec_version = object.get("spec_version").and_then(Value::as_str).unwrap_or("2.1");
        if !wanted.iter().any(|v| v == spec_version) {
            return false;
        }
    }
    if let Some(versions_ms) = &filter.versions_ms {
        let Ok(version_ms) = parse_time_ms(&version_of(object, date_added_ms)) else { return false };
        if !versions_ms.contains(&version_ms) {
            return false;
        }
    }
    true
}

/// One page of the collection: at most `filter.limit` matching objects, in row order,
/// each object once per page.
fn select_page(
    store: &Store,
    kind: CollectionKind,
    catalog: &RuleCatalog,
    filter: &Filter,
) -> Result<PageOut, StoreError> {
    let mut position = filter.start.unwrap_or(Position::START);
    let mut items = Vec::new();
    let mut on_page = HashSet::new();
    let mut rows_converted = 0usize;
    loop {
        if rows_converted >= MAX_ROWS_PER_REQUEST {
            return Ok(PageOut { items, next: Some(position) });
        }
        let round = ROWS_PER_ROUND.min(MAX_ROWS_PER_REQUEST - rows_converted);
        let rows = load_rows(store, kind, catalog, position.row.saturating_sub(1), filter.added_after_ms, round)?;
        let complete_round = rows.len() == round;
        for row in rows {
            rows_converted += 1;
            let skip = if row.row == position.row { position.skip as usize } else { 0 };
            for (index, object) in row.objects.into_iter().enumerate().skip(skip) {
                if items.len() == filter.limit {
                    let skip = u32::try_from(index).unwrap_or(u32::MAX);
                    return Ok(PageOut { items, next: Some(Position { row: row.row, skip }) });
                }
                if matches(filter, &object, row.date_added_ms) && on_page.insert(object_id(&object).to_owned()) {
                    items.push(Selected { date_added_ms: row.date_added_ms, object });
                }
            }
            position = Position { row: row.row.saturating_add(1), skip: 0 };
        }
        if !complete_round {
            return Ok(PageOut { items, next: None });
        }
    }
}

async fn page_of(state: &AppState, kind: CollectionKind, filter: Filter) -> Result<(PageOut, Filter), TaxiiError> {
    let store = Arc::clone(&state.store);
    let catalog = Arc::clone(&state.rules);
    let task = tokio::task::spawn_blocking(move || {
        let page = select_page(&store, kind, &catalog, &filter);
        (page, filter)
    });
    match task.await {
        Ok((page, filter)) => Ok((page?, filter)),
        Err(join_error) => Err(TaxiiError::internal(format_args!("taxii task: {join_error}"))),
    }
}

// ---- responses ----

fn taxii_response(status: StatusCode, body: &Value, page: Option<&PageOut>) -> Response {
    let mut response = (status, body.to_string()).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_MEDIA_TYPE));
    if let Some(page) = page {
        if let (Some(first), Some(last)) = (page.items.first(), page.items.last()) {
            for (name, ms) in
                [("x-taxii-date-added-first", first.date_added_ms), ("x-taxii-date-added-last", last.date_added_ms)]
            {
                if let Ok(value) = HeaderValue::from_str(&timestamp(ms)) {
                    headers.insert(name, value);
                }
            }
        }
    }
    response
}

/// `{more, next?}` plus `key: items` when there are any.
fn envelope(page: &PageOut, key: &str, items: Vec<Value>) -> Value {
    let mut body = Map::new();
    body.insert("more".into(), page.next.is_some().into());
    if let Some(next) = page.next {
        body.insert("next".into(), next.encode().into());
    }
    if !items.is_empty() {
        body.insert(key.into(), Value::Array(items));
    }
    Value::Object(body)
}

/// `http(s)://host` from the request, when it has a plausible `Host`; paths alone
/// otherwise (clients resolve them against the discovery URL).
fn origin(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or("");
    let plausible = !host.is_empty()
        && host.len() <= 255
        && host.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]_".contains(&b));
    if !plausible {
        return String::new();
    }
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

fn path_values<T>(path: Result<Path<T>, PathRejection>) -> Result<T, TaxiiError> {
    path.map(|Path(values)| values).map_err(|_| TaxiiError::bad_request("the path cannot be decoded"))
}

// ---- handlers ----

async fn discovery(_: TaxiiRead, _: TaxiiAccept, headers: HeaderMap, uri: Uri) -> Result<Response, TaxiiError> {
    query_pairs(&uri, &[])?;
    let root = format!("{}{API_ROOT_PATH}", origin(&headers));
    let body = json!({
        "title": "Vigil TAXII 2.1",
        "description": "Alerts, Sigma rule indicators and observed events from the Vigil store, read-only.",
        "default": root,
        "api_roots": [root],
    });
    Ok(taxii_response(StatusCode::OK, &body, None))
}

async fn api_root(
    State(state): State<Arc<AppState>>,
    _: TaxiiRead,
    _: TaxiiAccept,
    uri: Uri,
) -> Result<Response, TaxiiError> {
    query_pairs(&uri, &[])?;
    let body = json!({
        "title": "Vigil",
        "description": "Vigil's detections as STIX 2.1.",
        "versions": [TAXII_MEDIA_TYPE],
        "max_content_length": state.config.max_body_bytes,
    });
    Ok(taxii_response(StatusCode::OK, &body, None))
}

async fn collections(_: TaxiiRead, _: TaxiiAccept, uri: Uri) -> Result<Response, TaxiiError> {
    query_pairs(&uri, &[])?;
    let body = json!({ "collections": COLLECTIONS.iter().map(collection_resource).collect::<Vec<_>>() });
    Ok(taxii_response(StatusCode::OK, &body, None))
}

async fn get_collection(
    _: TaxiiRead,
    _: TaxiiAccept,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, TaxiiError> {
    let info = collection(&path_values(path)?)?;
    query_pairs(&uri, &[])?;
    Ok(taxii_response(StatusCode::OK, &collection_resource(info), None))
}

const OBJECTS_PARAMS: &[&str] =
    &["added_after", "limit", "next", "match[id]", "match[type]", "match[version]", "match[spec_version]"];

async fn get_objects(
    State(state): State<Arc<AppState>>,
    _: TaxiiRead,
    _: TaxiiAccept,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, TaxiiError> {
    let info = collection(&path_values(path)?)?;
    let filter = filter_from(&query_pairs(&uri, OBJECTS_PARAMS)?)?;
    let (page, _) = page_of(&state, info.kind, filter).await?;
    let objects = page.items.iter().map(|item| item.object.clone()).collect();
    Ok(taxii_response(StatusCode::OK, &envelope(&page, "objects", objects), Some(&page)))
}

async fn get_manifest(
    State(state): State<Arc<AppState>>,
    _: TaxiiRead,
    _: TaxiiAccept,
    uri: Uri,
    path: Result<Path<String>, PathRejection>,
) -> Result<Response, TaxiiError> {
    let info = collection(&path_values(path)?)?;
    let filter = filter_from(&query_pairs(&uri, OBJECTS_PARAMS)?)?;
    let (page, _) = page_of(&state, info.kind, filter).await?;
    let records = page
        .items
        .iter()
        .map(|item| {
            json!({
                "id": object_id(&item.object),
                "date_added": timestamp(item.date_added_ms),
                "version": version_of(&item.object, item.date_added_ms),
                "media_type": STIX_MEDIA_TYPE,
            })
        })
        .collect();
    Ok(taxii_response(StatusCode::OK, &envelope(&page, "objects", records), Some(&page)))
}

/// The pages of one object. 404 when a first page (no `next`) finds nothing and the
/// whole collection was searched.
async fn object_page(
    state: &AppState,
    uri: &Uri,
    path: Result<Path<(String, String)>, PathRejection>,
    allowed: &[&str],
) -> Result<PageOut, TaxiiError> {
    let (collection_id, object_id) = path_values(path)?;
    let info = collection(&collection_id)?;
    let params = query_pairs(uri, allowed)?;
    if object_id.len() > 256 {
        return Err(TaxiiError::not_found("no such object"));
    }
    let mut filter = filter_from(&params)?;
    filter.ids = Some(vec![object_id]);
    let (page, filter) = page_of(state, info.kind, filter).await?;
    if page.items.is_empty() && page.next.is_none() && filter.start.is_none() {
        return Err(TaxiiError::not_found("no such object in this collection"));
    }
    Ok(page)
}

async fn get_object(
    State(state): State<Arc<AppState>>,
    _: TaxiiRead,
    _: TaxiiAccept,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, TaxiiError> {
    let page =
        object_page(&state, &uri, path, &["added_after", "limit", "next", "match[version]", "match[spec_version]"])
            .await?;
    let objects = page.items.iter().map(|item| item.object.clone()).collect();
    Ok(taxii_response(StatusCode::OK, &envelope(&page, "objects", objects), Some(&page)))
}

async fn get_versions(
    State(state): State<Arc<AppState>>,
    _: TaxiiRead,
    _: TaxiiAccept,
    uri: Uri,
    path: Result<Path<(String, String)>, PathRejection>,
) -> Result<Response, TaxiiError> {
    let page = object_page(&state, &uri, path, &["added_after", "limit", "next", "match[spec_version]"]).await?;
    let versions = page.items.iter().map(|item| Value::String(version_of(&item.object, item.date_added_ms))).collect();
    Ok(taxii_response(StatusCode::OK, &envelope(&page, "versions", versions), Some(&page)))
}

/// Collections are read-only: an authenticated write is forbidden, not unknown.
async fn add_objects(_: TaxiiRead, _: TaxiiAccept, path: Result<Path<String>, PathRejection>) -> TaxiiError {
    match path_values(path).and_then(|id| collection(&id)) {
        Ok(_) => TaxiiError::new(StatusCode::FORBIDDEN, "Forbidden", "this collection is read-only"),
        Err(err) => err,
    }
}

async fn delete_object(
    _: TaxiiRead,
    _: TaxiiAccept,
    path: Result<Path<(String, String)>, PathRejection>,
) -> TaxiiError {
    match path_values(path).and_then(|(id, _)| collection(&id)) {
        Ok(_) => TaxiiError::new(StatusCode::FORBIDDEN, "Forbidden", "this collection is read-only"),
        Err(err) => err,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_rules() {
        for accepted in [
            "application/taxii+json;version=2.1",
            "application/taxii+json",
            "application/taxii+json; version=\"2.1\"",
            "Application/TAXII+JSON;version=2.1",
            "*/*",
            "application/*",
            "text/html, application/xhtml+xml, */*;q=0.8",
            "application/json, application/taxii+json;version=2.1",
        ] {
            assert!(accepts_taxii_21(accepted), "{accepted}");
        }
        for refused in [
            "application/taxii+json;version=2.0",
            "application/json",
            "application/stix+json;version=2.1",
            "text/html",
            "application/taxii+json;version=2.1;q=0",
            "",
        ] {
            assert!(!accepts_taxii_21(refused), "{refused}");
        }
    }

    #[test]
    fn base64_decodes_and_rejects_garbage() {
        assert_eq!(decode_base64(b"dXNlcjpzZWNyZXQ=").as_deref(), Some(&b"user:secret"[..]));
        assert_eq!(decode_base64(b"YQ==").as_deref(), Some(&b"a"[..]));
        assert_eq!(decode_base64(b"YWI=").as_deref(), Some(&b"ab"[..]));
        assert_eq!(decode_base64(b"YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(decode_base64(b"YWJj").as_deref(), Some(&b"abc"[..]));
        assert_eq!(decode_base64(b"").as_deref(), Some(&b""[..]));
        for bad in [&b"Y"[..], b"YW=j", b"a*bc", b"YQ=", b"=", b"YWJj\n"] {
            assert_eq!(decode_base64(bad), None, "{:?}", String::from_utf8_lossy(bad));
        }
    }

    #[test]
    fn tokens_from_bearer_and_basic() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
            presented_token(&headers)
        };
        assert_eq!(with("Bearer abc").as_deref(), Some(&b"abc"[..]));
        assert_eq!(with("basic dXNlcjpzZWNyZXQ=").as_deref(), Some(&b"secret"[..]));
        // A password may itself hold colons: only the first separates the user.
        assert_eq!(with("Basic dTphOmI=").as_deref(), Some(&b"a:b"[..]));
        assert_eq!(with("Basic dXNlcjo=").as_deref(), None); // empty password
        assert_eq!(with("Basic dXNlcg==").as_deref(), None); // no colon
        assert_eq!(with("Token abc").as_deref(), None);
        assert_eq!(with("Bearer").as_deref(), None);
    }

    #[test]
    fn positions_round_trip_and_reject_garbage() {
        let position = Position { row: 12_345, skip: 7 };
        assert_eq!(Position::decode(&position.encode()), Some(position));
        for bad in ["", "zz", &"0".repeat(23), &"f".repeat(24), &"é".repeat(12)] {
            assert_eq!(Position::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn version_prefers_modified_then_created_then_date_added() {
        let both = json!({"created": "2026-01-01T00:00:00.000Z", "modified": "2026-02-01T00:00:00.000Z"});
        assert_eq!(version_of(&both, 0), "2026-02-01T00:00:00.000Z");
        assert_eq!(version_of(&json!({"created": "2026-01-01T00:00:00.000Z"}), 0), "2026-01-01T00:00:00.000Z");
        assert_eq!(version_of(&json!({"type": "ipv4-addr"}), 1_000), "1970-01-01T00:00:01.000Z");
    }

    #[test]
    fn version_filter_matches_equal_times_in_any_spelling() {
        let object = json!({"id": "x--1", "type": "x", "modified": "2026-02-01T00:00:00.000Z"});
        let filter = |versions: &str| {
            let params = HashMap::from([("match[version]".to_owned(), versions.to_owned())]);
            filter_from(&params).unwrap()
        };
        assert!(matches(&filter("2026-02-01T00:00:00Z"), &object, 0));
        assert!(matches(&filter("last"), &object, 0));
        assert!(matches(&filter("all"), &object, 0));
        assert!(!matches(&filter("2026-02-01T00:00:01Z"), &object, 0));
        assert!(filter_from(&HashMap::from([("match[version]".to_owned(), "soon".to_owned())])).is_err());
    }
}
