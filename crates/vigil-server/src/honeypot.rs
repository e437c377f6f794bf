//! Honeypot analytics (from Cowrie events in the store): `/api/honeypot/sessions/{id}`,
//! `/api/honeypot/stats`, `/api/honeypot/credentials/top`, `/api/honeypot/commands/top`,
//! `/api/honeypot/ips/{ip}`.

use std::net::IpAddr;
use std::path::Path as FsPath;
use std::sync::Arc;

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use vigil_store::{Store, StoreError};

use crate::auth::ReadAccess;
use crate::error::ApiError;
use crate::params::{check_time_range, Params, RawQuery};
use crate::AppState;

/// Cowrie session ids are 12 hex digits (older releases: 8); anything much longer
/// names nothing.
const MAX_SESSION_ID_LEN: usize = 64;
/// Largest `limit` / `top`.
const MAX_LIMIT: u32 = 1000;

/// Why a GeoIP database could not be opened.
#[derive(Debug, thiserror::Error)]
#[error("GeoIP database {path}: {source}")]
pub struct GeoIpError {
    path: String,
    #[source]
    source: maxminddb::MaxMindDbError,
}

/// A MaxMind-format (GeoLite2 / GeoIP2 ASN and Country) database, when configured.
///
/// Holds one or more databases (an ASN one and a Country or City one, typically); a
/// lookup asks each and keeps the first answer for each attribute.
pub struct GeoIp {
    readers: Vec<maxminddb::Reader<Vec<u8>>>,
}

/// What the databases know of one address.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GeoInfo {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asn: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub as_organization: Option<String>,
    /// ISO 3166-1 alpha-2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_code: Option<String>,
    /// English name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub country_name: Option<String>,
}

impl GeoInfo {
    fn is_empty(&self) -> bool {
        *self == GeoInfo::default()
    }
}

/// The attributes of a GeoLite2 / GeoIP2 ASN, Country or City record that we read; a
/// database of one kind leaves the others' absent.
#[derive(Deserialize)]
struct GeoRecord<'a> {
    autonomous_system_number: Option<u32>,
    #[serde(borrow)]
    autonomous_system_organization: Option<&'a str>,
    #[serde(borrow)]
    country: Option<CountryRecord<'a>>,
    /// Where the network is registered: the fallback for addresses without a located
    /// country (anycast, satellite).
    #[serde(borrow)]
    registered_country: Option<CountryRecord<'a>>,
}

#[derive(Deserialize)]
struct CountryRecord<'a> {
    #[serde(borrow)]
    iso_code: Option<&'a str>,
    #[serde(borrow)]
    names: Option<std::collections::BTreeMap<&'a str, &'a str>>,
}

impl GeoIp {
    /// Opens one database (ASN, Country or City).
    pub fn open(path: impl AsRef<FsPath>) -> Result<GeoIp, GeoIpError> {
        GeoIp::open_all([path])
    }

    /// Opens several databases, asked in the order given.
    pub fn open_all<P: AsRef<FsPath>>(paths: impl IntoIterator<Item = P>) -> Result<GeoIp, GeoIpError> {
        let readers = paths
            .into_iter()
            .map(|path| {
                let path = path.as_ref();
                maxminddb::Reader::open_readfile(path)
                    .map_err(|source| GeoIpError { path: path.display().to_string(), source })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(GeoIp { readers })
    }

    /// What the databases know of `ip`. A database that cannot answer (an IPv6 address
    /// in an IPv4-only database, a corrupt record) adds nothing.
    pub fn lookup(&self, ip: IpAddr) -> GeoInfo {
        let mut info = GeoInfo::default();
        for reader in &self.readers {
            if let Ok(Some(record)) = reader.lookup::<GeoRecord<'_>>(ip) {
                merge(&mut info, &record);
            }
        }
        info
    }
}

/// Fills the attributes `info` lacks from `record`.
fn merge(info: &mut GeoInfo, record: &GeoRecord<'_>) {
    info.asn = info.asn.or(record.autonomous_system_number);
    if info.as_organization.is_none() {
        info.as_organization = record.autonomous_system_organization.map(str::to_owned);
    }
    for country in [&record.country, &record.registered_country].into_iter().flatten() {
        if info.country_code.is_none() {
            info.country_code = country.iso_code.map(str::to_owned);
        }
        if info.country_name.is_none() {
            info.country_name = country.names.as_ref().and_then(|names| names.get("en")).map(|name| (*name).to_owned());
        }
    }
}

pub(crate) fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/honeypot/sessions/{id}", get(session))
        .route("/api/honeypot/stats", get(stats))
        .route("/api/honeypot/credentials/top", get(credentials_top))
        .route("/api/honeypot/commands/top", get(commands_top))
        .route("/api/honeypot/ips/{ip}", get(ip_intel))
}

/// Runs a store call on the blocking pool (SQLite blocks) and maps its error.
async fn with_store<T, F>(state: &AppState, call: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    let store = Arc::clone(&state.store);
    match tokio::task::spawn_blocking(move || call(&store)).await {
        Ok(result) => result.map_err(ApiError::from),
        Err(join_error) => Err(ApiError::internal(format_args!("store task: {join_error}"))),
    }
}

fn json<T: Serialize>(value: T) -> Response {
    Json(value).into_response()
}

/// `limit` (or `top`): 1 to [`MAX_LIMIT`]; out of range is the caller's mistake.
fn limit(params: &Params, name: &str) -> Result<Option<u32>, ApiError> {
    match params.u32(name)? {
        Some(n) if n == 0 || n > MAX_LIMIT => Err(ApiError::bad_param(name, format_args!("must be 1 to {MAX_LIMIT}"))),
        other => Ok(other),
    }
}

fn time_range(params: &Params) -> Result<(Option<i64>, Option<i64>), ApiError> {
    let from_ms = params.time_ms("from")?;
    let to_ms = params.time_ms("to")?;
    check_time_range(from_ms, to_ms)?;
    Ok((from_ms, to_ms))
}

async fn session(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    path: Result<Path<String>, PathRejection>,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    let Path(id) = path.map_err(|_| ApiError::bad_request("the session id in the path cannot be decoded"))?;
    if id.is_empty() || id.len() > MAX_SESSION_ID_LEN {
        return Err(ApiError::not_found("session"));
    }
    let found = with_store(&state, move |store| store.honeypot_session(&id)).await?;
    found.map(json).ok_or_else(|| ApiError::not_found("session"))
}

async fn stats(State(state): State<Arc<AppState>>, _: ReadAccess, raw: RawQuery) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["from", "to", "top"])?;
    let (from_ms, to_ms) = time_range(&params)?;
    let top = limit(&params, "top")?;
    Ok(json(with_store(&state, move |store| store.honeypot_stats(from_ms, to_ms, top)).await?))
}

async fn credentials_top(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["from", "to", "limit"])?;
    let (from_ms, to_ms) = time_range(&params)?;
    let limit = limit(&params, "limit")?;
    let items = with_store(&state, move |store| store.honeypot_credentials_top(from_ms, to_ms, limit)).await?;
    Ok(json(serde_json::json!({ "items": items })))
}

async fn commands_top(State(state): State<Arc<AppState>>, _: ReadAccess, raw: RawQuery) -> Result<Response, ApiError> {
    let params = Params::new(raw, &["from", "to", "limit"])?;
    let (from_ms, to_ms) = time_range(&params)?;
    let limit = limit(&params, "limit")?;
    let items = with_store(&state, move |store| store.honeypot_commands_top(from_ms, to_ms, limit)).await?;
    Ok(json(serde_json::json!({ "items": items })))
}

async fn ip_intel(
    State(state): State<Arc<AppState>>,
    _: ReadAccess,
    path: Result<Path<String>, PathRejection>,
    raw: RawQuery,
) -> Result<Response, ApiError> {
    Params::new(raw, &[])?;
    let Path(text) = path.map_err(|_| ApiError::bad_request("the IP address in the path cannot be decoded"))?;
    let ip: IpAddr = text
        .parse()
        .map_err(|_| ApiError::bad_request("the path must name an IPv4 or IPv6 address (e.g. 203.0.113.7)"))?;
    // The canonical form, as Cowrie writes addresses (`::ffff:1.2.3.4` stays as given:
    // the store keeps what Cowrie logged).
    let key = ip.to_string();
    let intel = with_store(&state, move |store| store.honeypot_ip(&key)).await?;
    let intel = intel.ok_or_else(|| ApiError::not_found("IP address"))?;
    let mut body = serde_json::to_value(intel).map_err(ApiError::internal)?;
    if let (Some(geoip), Some(object)) = (state.geoip.as_ref(), body.as_object_mut()) {
        let geo = geoip.lookup(ip);
        let geo = if geo.is_empty() {
            serde_json::Value::Null
        } else {
            serde_json::to_value(geo).map_err(ApiError::internal)?
        };
        object.insert("geo".into(), geo);
    }
    Ok(json(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn country<'a>(iso: Option<&'a str>, en: Option<&'a str>) -> CountryRecord<'a> {
        CountryRecord { iso_code: iso, names: en.map(|n| [("en", n), ("de", "x")].into_iter().collect()) }
    }

    #[test]
    fn merge_keeps_the_first_answer_per_attribute() {
        let mut info = GeoInfo::default();
        let asn = GeoRecord {
            autonomous_system_number: Some(64500),
            autonomous_system_organization: Some("Example Net"),
            country: None,
            registered_country: None,
        };
        merge(&mut info, &asn);
        let city = GeoRecord {
            autonomous_system_number: Some(1),
            autonomous_system_organization: None,
            country: Some(country(Some("NL"), Some("Netherlands"))),
            registered_country: Some(country(Some("DE"), Some("Germany"))),
        };
        merge(&mut info, &city);
        assert_eq!(
            info,
            GeoInfo {
                asn: Some(64500),
                as_organization: Some("Example Net".into()),
                country_code: Some("NL".into()),
                country_name: Some("Netherlands".into()),
            }
        );
    }

    #[test]
    fn registered_country_is_the_fallback() {
        let mut info = GeoInfo::default();
        let record = GeoRecord {
            autonomous_system_number: None,
            autonomous_system_organization: None,
            country: Some(country(None, None)),
            registered_country: Some(country(Some("US"), Some("United States"))),
        };
        merge(&mut info, &record);
        assert_eq!(info.country_code.as_deref(), Some("US"));
        assert_eq!(info.country_name.as_deref(), Some("United States"));
        assert!(info.asn.is_none() && !info.is_empty());
    }

    #[test]
    fn opening_a_missing_or_invalid_database_fails_with_its_path() {
        let err = GeoIp::open("/nonexistent/GeoLite2-ASN.mmdb").err().expect("an error");
        assert!(err.to_string().contains("/nonexistent/GeoLite2-ASN.mmdb"), "{err}");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bogus.mmdb");
        std::fs::write(&path, b"not a maxmind database").unwrap();
        assert!(GeoIp::open(&path).is_err());
    }
}
