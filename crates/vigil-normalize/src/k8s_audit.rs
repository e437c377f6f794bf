//! Kubernetes API server audit events (`audit.k8s.io/v1` and `v1beta1` `Event`, the
//! webhook backend's `EventList` batches), and the two managed-cluster wrappers:
//!
//! - GKE: a Cloud Logging `LogEntry` whose `protoPayload` is a
//!   `type.googleapis.com/google.cloud.audit.AuditLog` (`methodName`
//!   `io.k8s.core.v1.pods.create`, `resourceName` `core/v1/namespaces/default/pods/x`,
//!   `authenticationInfo.principalEmail`, `requestMetadata.callerIp`, `status` a
//!   google.rpc.Status, the request object in `request`). Shapes:
//!   https://cloud.google.com/logging/docs/reference/v2/rest/v2/LogEntry,
//!   https://cloud.google.com/logging/docs/reference/audit/auditlog/rest/Shared.Types/AuditLog,
//!   https://cloud.google.com/kubernetes-engine/docs/how-to/audit-logging.
//! - AKS: an Azure Monitor diagnostic record (`category` `kube-audit` or
//!   `kube-audit-admin`) with the audit event in `properties.log`, as an object or as a
//!   JSON string.
//!
//! Every event becomes an OCSF API Activity. SigmaHQ's Kubernetes rules read the audit
//! event's own field names (`verb`, `objectRef.resource`, `responseStatus.code`); for
//! the plain event those come from the raw record (`Normalized::sigma_json` splices
//! it), for the wrappers the decoder puts the inner event's fields into the Sigma view
//! at the top level, so the same rules match. Two fields the rules name that no audit
//! event has at the top level — `hostPath` and `capabilities` — are lifted out of the
//! request's pod spec (see [`PodSpec`]).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use vigil_event::{LogSource, Timestamp};

use crate::doc::Doc;
use crate::ocsf::{self, activity, Class};
use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, RawRecord, SourceKind};

/// Audit events with large request/response objects reach a few hundred KiB; webhook
/// batches (`EventList`) a few MiB. Beyond this the record is not decoded.
const MAX_RECORD_BYTES: usize = 32 << 20;

/// Whether `record` is an audit event or one of its wrappers. An audit event has an
/// `auditID` and a `verb` (also found escaped inside an AKS string-wrapped `log`); GKE
/// entries have a `protoPayload` from the `k8s.io` service.
pub(crate) fn looks_like(record: &str) -> bool {
    let has = |needle: &[u8]| memchr::memmem::find(record.as_bytes(), needle).is_some();
    (has(b"auditID") && has(b"verb")) || (has(b"\"protoPayload\"") && has(b"\"k8s.io\""))
}

/// Stateless: every audit record is self-contained. (Braced, so `decoder_for`'s
/// `::default()` stays valid for a decoder that may gain state.)
#[derive(Default)]
pub(crate) struct K8sAuditDecoder {}

impl Decoder for K8sAuditDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::K8sAudit
    }

    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        if record.len() > MAX_RECORD_BYTES {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("audit record of {} bytes exceeds the {MAX_RECORD_BYTES}-byte bound", record.len()),
            ));
        }
        let trimmed = record.trim_start();
        if trimmed.starts_with('[') {
            // A JSON array of events (an EventList's items written out as one document).
            let items: Vec<&RawValue> = serde_json::from_str(record).map_err(|e| diagnose(record, &e, &[]))?;
            return decode_items(&items, out);
        }
        let top: Top<'_> = serde_json::from_str(record).map_err(|e| diagnose(record, &e, TOP_FIELDS))?;
        if let Some(payload) = top.proto_payload {
            return decode_gke(&top, payload, record, out);
        }
        if let Some(properties) = top.properties {
            return decode_aks(&top, properties, record, out);
        }
        if top.items.is_some() || top.kind.as_deref() == Some("EventList") {
            let items = top.items.as_deref().unwrap_or_default();
            return decode_items(items, out);
        }
        let event = plain_event(&top, record, &Wrapper::default())?;
        out.push(event);
        Ok(())
    }
}

/// The members of every shape this decoder reads, parsed in one pass: an audit
/// `Event`, an `EventList`, a GKE `LogEntry`, an AKS diagnostic record. Large nested
/// objects are kept as raw text and read only when needed.
#[derive(Deserialize)]
struct Top<'a> {
    #[serde(borrow)]
    kind: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiVersion")]
    api_version: Option<Cow<'a, str>>,
    #[serde(borrow)]
    level: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "auditID")]
    audit_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    stage: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "requestURI")]
    request_uri: Option<Cow<'a, str>>,
    #[serde(borrow)]
    verb: Option<Cow<'a, str>>,
    #[serde(borrow)]
    user: Option<UserInfo<'a>>,
    #[serde(borrow, rename = "impersonatedUser")]
    impersonated_user: Option<UserInfo<'a>>,
    #[serde(borrow, rename = "sourceIPs")]
    source_ips: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, rename = "userAgent")]
    user_agent: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "objectRef")]
    object_ref: Option<ObjectRef<'a>>,
    #[serde(borrow, rename = "responseStatus")]
    response_status: Option<ResponseStatus<'a>>,
    #[serde(borrow, rename = "requestObject")]
    request_object: Option<&'a RawValue>,
    #[serde(borrow, rename = "requestReceivedTimestamp")]
    request_received: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "stageTimestamp")]
    stage_timestamp: Option<Cow<'a, str>>,
    /// v1beta1 events, and GKE `LogEntry`.
    #[serde(borrow)]
    timestamp: Option<Cow<'a, str>>,
    #[serde(borrow)]
    metadata: Option<ObjectMeta<'a>>,
    #[serde(borrow)]
    annotations: Option<Annotations<'a>>,
    // EventList
    #[serde(borrow)]
    items: Option<Vec<&'a RawValue>>,
    // GKE LogEntry
    #[serde(borrow, rename = "protoPayload")]
    proto_payload: Option<&'a RawValue>,
    #[serde(borrow)]
    resource: Option<&'a RawValue>,
    #[serde(borrow)]
    labels: Option<&'a RawValue>,
    #[serde(borrow)]
    operation: Option<&'a RawValue>,
    // AKS diagnostic record
    #[serde(borrow)]
    properties: Option<&'a RawValue>,
    #[serde(borrow)]
    category: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "resourceId")]
    resource_id: Option<Cow<'a, str>>,
    #[serde(borrow)]
    time: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct UserInfo<'a> {
    #[serde(borrow)]
    username: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uid: Option<Cow<'a, str>>,
    #[serde(borrow)]
    groups: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize, Default)]
struct ObjectRef<'a> {
    #[serde(borrow)]
    resource: Option<Cow<'a, str>>,
    #[serde(borrow)]
    subresource: Option<Cow<'a, str>>,
    #[serde(borrow)]
    namespace: Option<Cow<'a, str>>,
    #[serde(borrow)]
    name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    uid: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiGroup")]
    api_group: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "apiVersion")]
    api_version: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ResponseStatus<'a> {
    code: Option<i64>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
    #[serde(borrow)]
    reason: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct ObjectMeta<'a> {
    #[serde(borrow, rename = "creationTimestamp")]
    creation_timestamp: Option<Cow<'a, str>>,
}

/// The authorizer's annotations (audit `annotations`, GKE `labels`).
#[derive(Deserialize, Default)]
struct Annotations<'a> {
    #[serde(borrow, rename = "authorization.k8s.io/decision")]
    decision: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "authorization.k8s.io/reason")]
    reason: Option<Cow<'a, str>>,
}

/// Top-level fields and their JSON types, for error messages on the slow path.
const TOP_FIELDS: &[(&str, Expect)] = &[
    ("kind", Expect::Str),
    ("apiVersion", Expect::Str),
    ("level", Expect::Str),
    ("auditID", Expect::Str),
    ("stage", Expect::Str),
    ("requestURI", Expect::Str),
    ("verb", Expect::Str),
    ("user", Expect::Object),
    ("user.username", Expect::Str),
    ("user.uid", Expect::Str),
    ("user.groups", Expect::StrArray),
    ("impersonatedUser", Expect::Object),
    ("impersonatedUser.username", Expect::Str),
    ("impersonatedUser.uid", Expect::Str),
    ("impersonatedUser.groups", Expect::StrArray),
    ("sourceIPs", Expect::StrArray),
    ("userAgent", Expect::Str),
    ("objectRef", Expect::Object),
    ("objectRef.resource", Expect::Str),
    ("objectRef.subresource", Expect::Str),
    ("objectRef.namespace", Expect::Str),
    ("objectRef.name", Expect::Str),
    ("objectRef.uid", Expect::Str),
    ("objectRef.apiGroup", Expect::Str),
    ("objectRef.apiVersion", Expect::Str),
    ("responseStatus", Expect::Object),
    ("responseStatus.code", Expect::Int),
    ("responseStatus.message", Expect::Str),
    ("responseStatus.reason", Expect::Str),
    ("requestReceivedTimestamp", Expect::Str),
    ("stageTimestamp", Expect::Str),
    ("timestamp", Expect::Str),
    ("metadata", Expect::Object),
    ("metadata.creationTimestamp", Expect::Str),
    ("annotations", Expect::Object),
    ("annotations.authorization.k8s.io/decision", Expect::Str),
    ("annotations.authorization.k8s.io/reason", Expect::Str),
    ("items", Expect::Array),
    ("category", Expect::Str),
    ("resourceId", Expect::Str),
    ("time", Expect::Str),
];

const GKE_FIELDS: &[(&str, Expect)] = &[
    ("serviceName", Expect::Str),
    ("methodName", Expect::Str),
    ("resourceName", Expect::Str),
    ("authenticationInfo", Expect::Object),
    ("authenticationInfo.principalEmail", Expect::Str),
    ("requestMetadata", Expect::Object),
    ("requestMetadata.callerIp", Expect::Str),
    ("requestMetadata.callerSuppliedUserAgent", Expect::Str),
    ("status", Expect::Object),
    ("status.code", Expect::Int),
    ("status.message", Expect::Str),
];

#[derive(Debug, Clone, Copy)]
enum Expect {
    Str,
    Int,
    StrArray,
    Array,
    Object,
}

/// Turns a failed typed parse into an actionable error (not JSON; not an object; which
/// field has which unexpected type). Runs only on the error path.
fn diagnose(record: &str, err: &serde_json::Error, fields: &[(&str, Expect)]) -> DecodeError {
    let value: Value = match serde_json::from_str(record) {
        Ok(v) => v,
        Err(e) => return DecodeError::invalid_json(&e),
    };
    if !(value.is_object() || value.is_array()) {
        return DecodeError::new(DeadLetterReason::UnknownFormat, "a Kubernetes audit record must be a JSON object");
    }
    for (path, expect) in fields {
        let Some(v) = lookup(&value, path) else { continue };
        let ok = match expect {
            Expect::Str => v.is_string(),
            Expect::Int => v.is_i64() || v.is_u64(),
            Expect::StrArray => v.as_array().is_some_and(|a| a.iter().all(|x| x.is_string() || x.is_null())),
            Expect::Array => v.is_array(),
            Expect::Object => v.is_object(),
        };
        if !ok && !v.is_null() {
            let want = match expect {
                Expect::Str => "a string",
                Expect::Int => "an integer",
                Expect::StrArray => "an array of strings",
                Expect::Array => "an array",
                Expect::Object => "an object",
            };
            return DecodeError::new(
                DeadLetterReason::InvalidField,
                format!("audit field `{path}` must be {want}, found {}", json_kind(v)),
            );
        }
    }
    DecodeError::new(DeadLetterReason::InvalidField, format!("audit record does not parse: {err}"))
}

/// Looks up `a.b.c`, where annotation keys themselves contain dots: the first segment
/// names a member, the rest is tried whole before splitting further.
fn lookup<'v>(value: &'v Value, path: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    if let Some(v) = object.get(path) {
        return Some(v);
    }
    let (head, rest) = path.split_once('.')?;
    lookup(object.get(head)?, rest)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn truncate(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn k8s_logsource() -> LogSource {
    // SigmaHQ's Kubernetes audit rules name product + service, most also category
    // `application`; a rule covers an event only if every part it names matches.
    LogSource::new(Some("kubernetes"), Some("application"), Some("audit"))
}

/// Where an audit event came from, beyond the event itself.
#[derive(Default)]
struct Wrapper<'a> {
    /// `metadata.log_provider`.
    provider: Option<&'static str>,
    cloud: Option<&'static str>,
    cluster: Option<&'a str>,
    region: Option<&'a str>,
    project: Option<&'a str>,
    /// Wrapper fields worth keeping (`unmapped.<key>`).
    extra: Vec<(&'static str, Value)>,
}

/// An audit event, from whichever shape, as the OCSF builder needs it.
#[derive(Default)]
struct Audit<'a> {
    verb: &'a str,
    audit_id: Option<&'a str>,
    api_version: Option<&'a str>,
    level: Option<&'a str>,
    stage: Option<&'a str>,
    request_uri: Option<&'a str>,
    user_agent: Option<&'a str>,
    username: Option<&'a str>,
    user_uid: Option<&'a str>,
    groups: Vec<&'a str>,
    impersonated: Option<&'a str>,
    source_ips: Vec<&'a str>,
    object: ObjectView<'a>,
    code: Option<i64>,
    status_message: Option<&'a str>,
    decision: Option<&'a str>,
    reason: Option<&'a str>,
    time: Option<Timestamp>,
}

#[derive(Default)]
struct ObjectView<'a> {
    resource: Option<&'a str>,
    subresource: Option<&'a str>,
    namespace: Option<&'a str>,
    name: Option<&'a str>,
    uid: Option<&'a str>,
    api_group: Option<&'a str>,
    api_version: Option<&'a str>,
}

fn parse_time(field: &str, text: &str) -> Result<Timestamp, DecodeError> {
    vigil_event::parse_timestamp(text).ok_or_else(|| {
        DecodeError::new(
            DeadLetterReason::InvalidField,
            format!("audit field `{field}` is not an RFC 3339 time: {:?}", truncate(text, 60)),
        )
    })
}

/// The view of a plain audit `Event` (also the inner event of an AKS record).
fn audit_view<'t>(top: &'t Top<'_>) -> Result<Audit<'t>, DecodeError> {
    if let Some(kind) = top.kind.as_deref() {
        if kind != "Event" {
            return Err(DecodeError::new(
                DeadLetterReason::UnknownFormat,
                format!("`kind` is {:?}; a Kubernetes audit record is an Event or an EventList", truncate(kind, 40)),
            ));
        }
    }
    let verb = top.verb.as_deref().ok_or_else(|| DecodeError::missing("verb"))?;
    let audit_id = top.audit_id.as_deref().ok_or_else(|| DecodeError::missing("auditID"))?;
    // requestReceivedTimestamp (v1; v1beta1 wrote `timestamp`) is when the API server
    // got the request — the event time for every stage of one request.
    let candidates = [
        ("requestReceivedTimestamp", top.request_received.as_deref()),
        ("timestamp", top.timestamp.as_deref()),
        ("stageTimestamp", top.stage_timestamp.as_deref()),
        ("metadata.creationTimestamp", top.metadata.as_ref().and_then(|m| m.creation_timestamp.as_deref())),
    ];
    let time = match candidates.iter().find_map(|(f, t)| t.map(|t| (*f, t))) {
        Some((field, text)) => Some(parse_time(field, text)?),
        None => None,
    };
    let object = top.object_ref.as_ref().map(object_view).unwrap_or_default();
    let annotations = top.annotations.as_ref();
    Ok(Audit {
        verb,
        audit_id: Some(audit_id),
        api_version: top.api_version.as_deref(),
        level: top.level.as_deref(),
        stage: top.stage.as_deref(),
        request_uri: top.request_uri.as_deref(),
        user_agent: top.user_agent.as_deref(),
        username: top.user.as_ref().and_then(|u| u.username.as_deref()),
        user_uid: top.user.as_ref().and_then(|u| u.uid.as_deref()),
        groups: top
            .user
            .as_ref()
            .and_then(|u| u.groups.as_ref())
            .map(|g| g.iter().map(|s| &**s).collect())
            .unwrap_or_default(),
        impersonated: top.impersonated_user.as_ref().and_then(|u| u.username.as_deref()),
        source_ips: top.source_ips.as_ref().map(|v| v.iter().map(|s| &**s).collect()).unwrap_or_default(),
        object,
        code: top.response_status.as_ref().and_then(|s| s.code),
        status_message: top.response_status.as_ref().and_then(|s| s.message.as_deref().or(s.reason.as_deref())),
        decision: annotations.and_then(|a| a.decision.as_deref()),
        reason: annotations.and_then(|a| a.reason.as_deref()).filter(|r| !r.is_empty()),
        time,
    })
}

fn object_view<'t>(o: &'t ObjectRef<'_>) -> ObjectView<'t> {
    ObjectView {
        resource: o.resource.as_deref(),
        subresource: o.subresource.as_deref(),
        namespace: o.namespace.as_deref(),
        name: o.name.as_deref(),
        uid: o.uid.as_deref(),
        api_group: o.api_group.as_deref().filter(|g| !g.is_empty()),
        api_version: o.api_version.as_deref(),
    }
}

/// A plain audit event; `record` is its text (the whole line, or one list item).
fn plain_event(top: &Top<'_>, record: &str, wrapper: &Wrapper<'_>) -> Result<Normalized, DecodeError> {
    let audit = audit_view(top)?;
    let mut sigma = Map::new();
    pod_spec_fields(audit.object.resource, top.request_object, &mut sigma);
    Ok(Normalized {
        source: SourceKind::K8sAudit,
        time: audit.time,
        logsource: k8s_logsource(),
        ocsf: build_ocsf(&audit, wrapper),
        sigma: sigma.into(),
        raw: RawRecord::Json(record.to_owned()),
    })
}

fn decode_items(items: &[&RawValue], out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
    // All or nothing: a failed item dead-letters the whole list (which the dead letter
    // then holds intact), rather than silently dropping that item.
    let start = out.len();
    for (i, item) in items.iter().enumerate() {
        let text = item.get();
        let result = serde_json::from_str::<Top<'_>>(text)
            .map_err(|e| diagnose(text, &e, TOP_FIELDS))
            .and_then(|top| plain_event(&top, text, &Wrapper::default()));
        match result {
            Ok(n) => out.push(n),
            Err(e) => {
                out.truncate(start);
                return Err(DecodeError::new(e.reason, format!("EventList item {i}: {}", e.message)));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------
// AKS

#[derive(Deserialize)]
struct AksProperties<'a> {
    #[serde(borrow)]
    log: Option<&'a RawValue>,
}

fn decode_aks(
    top: &Top<'_>,
    properties: &RawValue,
    record: &str,
    out: &mut Vec<Normalized>,
) -> Result<(), DecodeError> {
    if let Some(category) = top.category.as_deref().filter(|c| !c.starts_with("kube-audit")) {
        return Err(DecodeError::new(
            DeadLetterReason::UnknownFormat,
            format!("AKS diagnostic category {:?} is not kube-audit / kube-audit-admin", truncate(category, 60)),
        ));
    }
    let props: AksProperties<'_> = serde_json::from_str(properties.get()).map_err(|_| {
        DecodeError::new(DeadLetterReason::InvalidField, "AKS field `properties` must be an object with a `log` member")
    })?;
    let log = props.log.ok_or_else(|| DecodeError::missing("properties.log"))?;
    // `log` is the audit event as an object, or (kube-audit category) as a JSON string.
    let inner: Cow<'_, str> = if log.get().starts_with('"') {
        let s: Cow<'_, str> = serde_json::from_str(log.get())
            .map_err(|e| DecodeError::new(DeadLetterReason::InvalidField, format!("AKS `properties.log`: {e}")))?;
        s
    } else {
        Cow::Borrowed(log.get())
    };
    let wrapped_err = |e: DecodeError| DecodeError::new(e.reason, format!("AKS `properties.log`: {}", e.message));
    let event: Top<'_> = serde_json::from_str(&inner).map_err(|e| wrapped_err(diagnose(&inner, &e, TOP_FIELDS)))?;
    let mut audit = audit_view(&event).map_err(wrapped_err)?;
    if audit.time.is_none() {
        if let Some(t) = top.time.as_deref() {
            audit.time = Some(parse_time("time", t)?);
        }
    }
    // The inner event's own members become the Sigma view, so rules on `verb`,
    // `objectRef.resource`, `requestObject…` see what they would see unwrapped.
    let mut sigma = match serde_json::from_str::<Value>(&inner) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    pod_spec_fields(audit.object.resource, event.request_object, &mut sigma);
    let mut wrapper =
        Wrapper { provider: Some("Azure Monitor (AKS diagnostic logs)"), cloud: Some("Azure"), ..Default::default() };
    // resourceId: /SUBSCRIPTIONS/…/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/<name>
    if let Some(id) = top.resource_id.as_deref() {
        wrapper.cluster = managed_cluster_name(id);
        wrapper.extra.push(("azure.resource_id", id.into()));
    }
    if let Some(c) = top.category.as_deref() {
        wrapper.extra.push(("azure.category", c.into()));
    }
    out.push(Normalized {
        source: SourceKind::K8sAudit,
        time: audit.time,
        logsource: k8s_logsource(),
        ocsf: build_ocsf(&audit, &wrapper),
        sigma: sigma.into(),
        raw: RawRecord::Json(record.to_owned()),
    });
    Ok(())
}

fn managed_cluster_name(resource_id: &str) -> Option<&str> {
    let mut parts = resource_id.split('/');
    parts.by_ref().find(|p| p.eq_ignore_ascii_case("managedClusters"))?;
    parts.next().filter(|n| !n.is_empty())
}

// ---------------------------------------------------------------------------------
// GKE

#[derive(Deserialize)]
struct AuditLog<'a> {
    #[serde(borrow, rename = "serviceName")]
    service_name: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "methodName")]
    method_name: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "resourceName")]
    resource_name: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "authenticationInfo")]
    authentication_info: Option<AuthenticationInfo<'a>>,
    #[serde(borrow, rename = "requestMetadata")]
    request_metadata: Option<RequestMetadata<'a>>,
    #[serde(borrow)]
    status: Option<RpcStatus<'a>>,
    #[serde(borrow)]
    request: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct AuthenticationInfo<'a> {
    #[serde(borrow, rename = "principalEmail")]
    principal_email: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RequestMetadata<'a> {
    #[serde(borrow, rename = "callerIp")]
    caller_ip: Option<Cow<'a, str>>,
    #[serde(borrow, rename = "callerSuppliedUserAgent")]
    user_agent: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct RpcStatus<'a> {
    code: Option<i64>,
    #[serde(borrow)]
    message: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct MonitoredResource<'a> {
    #[serde(borrow)]
    labels: Option<ResourceLabels<'a>>,
}

#[derive(Deserialize)]
struct ResourceLabels<'a> {
    #[serde(borrow)]
    cluster_name: Option<Cow<'a, str>>,
    #[serde(borrow)]
    location: Option<Cow<'a, str>>,
    #[serde(borrow)]
    project_id: Option<Cow<'a, str>>,
}

#[derive(Deserialize)]
struct Operation<'a> {
    #[serde(borrow)]
    id: Option<Cow<'a, str>>,
}

/// google.rpc.Code → the HTTP status the API server answered with, per the mapping
/// documented in google/rpc/code.proto. GKE logs only the RPC code.
fn http_status(rpc: i64) -> Option<i64> {
    Some(match rpc {
        0 => 200,
        1 => 499,
        2 | 13 | 15 => 500,
        3 | 9 | 11 => 400,
        4 => 504,
        5 => 404,
        6 | 10 => 409,
        7 => 403,
        8 => 429,
        12 => 501,
        14 => 503,
        16 => 401,
        _ => return None,
    })
}

/// `resourceName` `core/v1/namespaces/default/pods/nginx/exec` → group (core = ""),
/// version, namespace, resource, name, subresource. Non-resource paths (`readyz`,
/// `apis`) give nothing.
fn parse_resource_name(name: &str) -> Option<ObjectView<'_>> {
    let mut segs = name.split('/').filter(|s| !s.is_empty());
    let group = segs.next()?;
    let version = segs.next().filter(|v| v.starts_with('v') && v[1..].starts_with(|c: char| c.is_ascii_digit()))?;
    let rest: Vec<&str> = segs.take(5).collect();
    let (namespace, rest) = match rest.as_slice() {
        ["namespaces", ns, tail @ ..] if !tail.is_empty() => (Some(*ns), tail),
        other => (None, other),
    };
    let resource = *rest.first()?;
    Some(ObjectView {
        resource: Some(resource),
        name: rest.get(1).copied(),
        subresource: rest.get(2).copied(),
        namespace,
        uid: None,
        api_group: Some(group).filter(|g| *g != "core"),
        api_version: Some(version),
    })
}

fn decode_gke(top: &Top<'_>, payload: &RawValue, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
    let log: AuditLog<'_> = serde_json::from_str(payload.get()).map_err(|e| {
        let d = diagnose(payload.get(), &e, GKE_FIELDS);
        DecodeError::new(d.reason, format!("GKE `protoPayload`: {}", d.message))
    })?;
    if let Some(service) = log.service_name.as_deref().filter(|s| *s != "k8s.io") {
        return Err(DecodeError::new(
            DeadLetterReason::UnknownFormat,
            format!(
                "GKE audit entry from service {:?}, not k8s.io: not a Kubernetes audit event",
                truncate(service, 60)
            ),
        ));
    }
    let method = log.method_name.as_deref().ok_or_else(|| DecodeError::missing("protoPayload.methodName"))?;
    // io.k8s.core.v1.pods.create → create; io.k8s.get (non-resource) → get.
    let verb = method.rsplit('.').next().unwrap_or(method);
    let resource_name = log.resource_name.as_deref();
    let object = resource_name.and_then(parse_resource_name).unwrap_or_default();
    let time = match top.timestamp.as_deref() {
        Some(t) => Some(parse_time("timestamp", t)?),
        None => None,
    };
    let labels: Annotations<'_> = top.labels.and_then(|l| serde_json::from_str(l.get()).ok()).unwrap_or_default();
    let operation: Option<Operation<'_>> = top.operation.and_then(|o| serde_json::from_str(o.get()).ok());
    let rpc_code = log.status.as_ref().map(|s| s.code.unwrap_or(0));
    let audit = Audit {
        verb,
        // GKE carries the audit ID as the LogEntry's operation id (shared by the
        // stages of one request).
        audit_id: operation.as_ref().and_then(|o| o.id.as_deref()),
        username: log.authentication_info.as_ref().and_then(|a| a.principal_email.as_deref()),
        source_ips: log.request_metadata.as_ref().and_then(|m| m.caller_ip.as_deref()).into_iter().collect(),
        user_agent: log.request_metadata.as_ref().and_then(|m| m.user_agent.as_deref()),
        object,
        code: rpc_code.and_then(http_status),
        status_message: log.status.as_ref().and_then(|s| s.message.as_deref()).filter(|m| !m.is_empty()),
        decision: labels.decision.as_deref(),
        reason: labels.reason.as_deref().filter(|r| !r.is_empty()),
        time,
        ..Default::default()
    };

    // The Sigma view: the audit event's field names, so the same rules apply.
    let mut sigma = Map::new();
    sigma.insert("verb".into(), verb.into());
    if let Some(id) = audit.audit_id {
        sigma.insert("auditID".into(), id.into());
    }
    if let Some(u) = audit.username {
        sigma.insert("user".into(), json!({ "username": u }));
    }
    if !audit.source_ips.is_empty() {
        sigma.insert("sourceIPs".into(), json!(audit.source_ips));
    }
    if let Some(ua) = audit.user_agent {
        sigma.insert("userAgent".into(), ua.into());
    }
    let o = &audit.object;
    let mut object_ref = Map::new();
    for (k, v) in [
        ("resource", o.resource),
        ("subresource", o.subresource),
        ("namespace", o.namespace),
        ("name", o.name),
        ("apiGroup", o.api_group),
        ("apiVersion", o.api_version),
    ] {
        if let Some(v) = v {
            object_ref.insert(k.into(), v.into());
        }
    }
    if !object_ref.is_empty() {
        sigma.insert("objectRef".into(), Value::Object(object_ref));
    }
    if let Some(c) = audit.code {
        sigma.insert("responseStatus".into(), json!({ "code": c }));
    }
    if let Some(a) = audit.decision {
        let mut ann = Map::new();
        ann.insert("authorization.k8s.io/decision".into(), a.into());
        if let Some(r) = audit.reason {
            ann.insert("authorization.k8s.io/reason".into(), r.into());
        }
        sigma.insert("annotations".into(), Value::Object(ann));
    }
    if let Some(req) = log.request {
        if let Ok(v) = serde_json::from_str::<Value>(req.get()) {
            sigma.insert("requestObject".into(), v);
        }
    }
    pod_spec_fields(audit.object.resource, log.request, &mut sigma);

    let resource: Option<MonitoredResource<'_>> = top.resource.and_then(|r| serde_json::from_str(r.get()).ok());
    let labels = resource.as_ref().and_then(|r| r.labels.as_ref());
    let mut wrapper = Wrapper {
        provider: Some("Google Cloud Logging (GKE audit logs)"),
        cloud: Some("GCP"),
        cluster: labels.and_then(|l| l.cluster_name.as_deref()),
        region: labels.and_then(|l| l.location.as_deref()),
        project: labels.and_then(|l| l.project_id.as_deref()),
        extra: Vec::new(),
    };
    wrapper.extra.push(("gcp.method_name", method.into()));
    if let Some(r) = resource_name {
        wrapper.extra.push(("gcp.resource_name", r.into()));
    }
    if let Some(s) = log.service_name.as_deref() {
        wrapper.extra.push(("gcp.service_name", s.into()));
    }
    if let Some(c) = rpc_code {
        wrapper.extra.push(("gcp.status_code", c.into()));
    }
    out.push(Normalized {
        source: SourceKind::K8sAudit,
        time,
        logsource: k8s_logsource(),
        ocsf: build_ocsf(&audit, &wrapper),
        sigma: sigma.into(),
        raw: RawRecord::Json(record.to_owned()),
    });
    Ok(())
}

// ---------------------------------------------------------------------------------
// Pod spec fields for the Sigma view

/// The parts of a request object that say how pods run. Pods carry them in `spec`,
/// workloads in `spec.template.spec`, CronJobs in `spec.jobTemplate.spec.template.spec`.
#[derive(Deserialize)]
struct Workload<'a> {
    #[serde(borrow)]
    spec: Option<PodSpec<'a>>,
}

#[derive(Deserialize)]
struct PodSpec<'a> {
    #[serde(borrow)]
    containers: Option<Vec<Container<'a>>>,
    #[serde(borrow, rename = "initContainers")]
    init_containers: Option<Vec<Container<'a>>>,
    #[serde(borrow, rename = "ephemeralContainers")]
    ephemeral_containers: Option<Vec<Container<'a>>>,
    #[serde(borrow)]
    volumes: Option<Vec<Volume<'a>>>,
    #[serde(borrow)]
    template: Option<Box<Workload<'a>>>,
    #[serde(borrow, rename = "jobTemplate")]
    job_template: Option<Box<Workload<'a>>>,
}

#[derive(Deserialize)]
struct Container<'a> {
    #[serde(borrow, rename = "securityContext")]
    security_context: Option<SecurityContext<'a>>,
}

#[derive(Deserialize)]
struct SecurityContext<'a> {
    #[serde(borrow)]
    capabilities: Option<Capabilities<'a>>,
}

#[derive(Deserialize)]
struct Capabilities<'a> {
    #[serde(borrow)]
    add: Option<Vec<Cow<'a, str>>>,
}

#[derive(Deserialize)]
struct Volume<'a> {
    #[serde(borrow, rename = "hostPath")]
    host_path: Option<HostPath<'a>>,
}

#[derive(Deserialize)]
struct HostPath<'a> {
    #[serde(borrow)]
    path: Option<Cow<'a, str>>,
}

/// Resources whose request objects carry a pod spec.
const POD_SPEC_RESOURCES: &[&str] = &[
    "pods",
    "deployments",
    "daemonsets",
    "statefulsets",
    "replicasets",
    "replicationcontrollers",
    "jobs",
    "cronjobs",
    "podtemplates",
];

/// SigmaHQ's "Container With A hostPath Mount Created" and "Privileged Container
/// Deployed" rules test top-level `hostPath` and `capabilities`, which an audit event
/// only has deep in `requestObject`. They are lifted out: `hostPath` = the paths of
/// hostPath volumes, `capabilities` = capabilities containers *add* (a `drop` list is
/// hardening, not privilege, so it is not lifted). `securityContext.privileged` is not
/// turned into a capability: the event does not name one. The request object is
/// optional and free-form (patches, other kinds): anything unexpected is ignored.
fn pod_spec_fields(resource: Option<&str>, request: Option<&RawValue>, sigma: &mut Map<String, Value>) {
    let (Some(resource), Some(request)) = (resource, request) else { return };
    if !POD_SPEC_RESOURCES.contains(&resource) {
        return;
    }
    let text = request.get();
    let has = |needle: &[u8]| memchr::memmem::find(text.as_bytes(), needle).is_some();
    if !has(b"hostPath") && !has(b"capabilities") {
        return;
    }
    let Ok(workload) = serde_json::from_str::<Workload<'_>>(text) else { return };
    let mut host_paths: Vec<Value> = Vec::new();
    let mut caps: Vec<Value> = Vec::new();
    let mut spec = workload.spec.as_ref();
    // template / jobTemplate nest at most twice (CronJob); the bound guards odd input.
    for _ in 0..4 {
        let Some(s) = spec else { break };
        for v in s.volumes.iter().flatten() {
            if let Some(p) = v.host_path.as_ref().and_then(|h| h.path.as_deref()) {
                host_paths.push(p.into());
            }
        }
        let containers = [&s.containers, &s.init_containers, &s.ephemeral_containers];
        for c in containers.into_iter().flatten().flatten() {
            let added =
                c.security_context.as_ref().and_then(|sc| sc.capabilities.as_ref()).and_then(|c| c.add.as_ref());
            for cap in added.into_iter().flatten() {
                caps.push(cap.as_ref().into());
            }
        }
        spec = s.template.as_ref().or(s.job_template.as_ref()).and_then(|w| w.spec.as_ref());
    }
    if !host_paths.is_empty() {
        sigma.insert("hostPath".into(), Value::Array(host_paths));
    }
    if !caps.is_empty() {
        sigma.insert("capabilities".into(), Value::Array(caps));
    }
}

// ---------------------------------------------------------------------------------
// OCSF

fn activity_of(verb: &str) -> u8 {
    match verb {
        "create" => activity::API_CREATE,
        "get" | "list" | "watch" => activity::API_READ,
        "update" | "patch" => activity::API_UPDATE,
        "delete" | "deletecollection" => activity::API_DELETE,
        _ => activity::OTHER,
    }
}

/// The OCSF API Activity (6003) of an audit event.
fn build_ocsf(a: &Audit<'_>, w: &Wrapper<'_>) -> Doc {
    let activity_id = activity_of(a.verb);
    let mut ev = ocsf::base(Class::ApiActivity, activity_id, a.time, "Kubernetes");
    if activity_id == activity::OTHER {
        ocsf::set(&mut ev, "activity_name", a.verb);
    }
    if let Some(id) = a.audit_id {
        ocsf::set(&mut ev, "metadata.uid", id);
        ocsf::set(&mut ev, "api.request.uid", id);
    }
    if let Some(p) = w.provider {
        ocsf::set(&mut ev, "metadata.log_provider", p);
    }
    ocsf::set(&mut ev, "api.operation", a.verb);
    if let Some(g) = a.object.api_group {
        ocsf::set(&mut ev, "api.group.name", g);
    }
    if let Some(v) = a.object.api_version {
        ocsf::set(&mut ev, "api.version", v);
    }

    let mut user = Map::new();
    if let Some(n) = a.username {
        user.insert("name".into(), n.into());
    }
    if let Some(u) = a.user_uid {
        user.insert("uid".into(), u.into());
    }
    if !a.groups.is_empty() {
        let groups: Vec<Value> = a.groups.iter().map(|g| json!({ "name": g })).collect();
        user.insert("groups".into(), groups.into());
    }
    if !user.is_empty() {
        ocsf::set(&mut ev, "actor.user", Value::Object(user));
    }
    if let Some(d) = a.decision {
        let mut auth = Map::new();
        auth.insert("decision".into(), d.into());
        if let Some(r) = a.reason {
            auth.insert("policy".into(), json!({ "desc": r }));
        }
        ocsf::set(&mut ev, "actor.authorizations", Value::Array(vec![Value::Object(auth)]));
    }
    if let Some(i) = a.impersonated {
        ocsf::set(&mut ev, "unmapped.k8s.impersonated_user", i);
    }

    if let Some((first, rest)) = a.source_ips.split_first() {
        let mut src = ocsf::endpoint(Some(first), None, None);
        if !rest.is_empty() {
            if let Value::Object(m) = &mut src {
                m.insert("intermediate_ips".into(), json!(rest));
            }
        }
        ev.insert("src_endpoint", src);
    }
    if let Some(ua) = a.user_agent {
        ocsf::set(&mut ev, "http_request.user_agent", ua);
    }
    if let Some(uri) = a.request_uri {
        let (path, query) = match uri.split_once('?') {
            Some((p, q)) => (p, Some(q)),
            None => (uri, None),
        };
        ocsf::set(&mut ev, "http_request.url.path", path);
        if let Some(q) = query {
            ocsf::set(&mut ev, "http_request.url.query_string", q);
        }
    }

    let o = &a.object;
    if let Some(resource) = o.resource {
        let mut r = Map::new();
        let kind = match o.subresource {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_owned(),
        };
        r.insert("type".into(), kind.into());
        for (k, v) in [("name", o.name), ("namespace", o.namespace), ("uid", o.uid), ("version", o.api_version)] {
            if let Some(v) = v {
                r.insert(k.into(), v.into());
            }
        }
        if let Some(g) = o.api_group {
            r.insert("group".into(), json!({ "name": g }));
        }
        ev.insert("resources", Value::Array(vec![Value::Object(r)]));
    }

    if let Some(code) = a.code {
        ocsf::set_status(&mut ev, code < 400);
        ocsf::set(&mut ev, "status_code", code.to_string());
        ocsf::set(&mut ev, "api.response.code", code);
    }
    if let Some(m) = a.status_message {
        ocsf::set(&mut ev, "status_detail", m);
    }

    ocsf::k8s_context(&mut ev, &ocsf::K8sContext { cluster: w.cluster, namespace: o.namespace, ..Default::default() });
    if let Some(c) = w.cloud {
        ocsf::set(&mut ev, "cloud.provider", c);
        if let Some(r) = w.region {
            ocsf::set(&mut ev, "cloud.region", r);
        }
        if let Some(p) = w.project {
            ocsf::set(&mut ev, "cloud.project_uid", p);
        }
    }
    for (k, v) in [("stage", a.stage), ("level", a.level), ("audit_api_version", a.api_version)] {
        if let Some(v) = v {
            ev.set_owned_path(&format!("unmapped.k8s.{k}"), v);
        }
    }
    for (k, v) in &w.extra {
        // Keys are paths below `unmapped` (`gcp.status_code`).
        ev.set_owned_path(&format!("unmapped.{k}"), v);
    }
    ev
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(record: &str) -> Result<Vec<Normalized>, DecodeError> {
        let mut out = Vec::new();
        K8sAuditDecoder::default().decode(record, &mut out)?;
        Ok(out)
    }

    fn one(record: &str) -> Normalized {
        let mut v = decode(record).expect("decodes");
        assert_eq!(v.len(), 1);
        v.pop().expect("one")
    }

    const EXEC: &str = r#"{"auditID":"ca1ed9f4","kind":"Event","level":"Request","objectRef":{"apiVersion":"v1","name":"nginx-1","namespace":"default","resource":"pods","subresource":"exec"},"requestReceivedTimestamp":"2018-10-26T13:38:34.181288Z","requestURI":"/api/v1/namespaces/default/pods/nginx-1/exec?command=bash&container=nginx1&stdin=true","responseStatus":{"code":101,"metadata":{}},"sourceIPs":["192.168.99.1"],"stage":"ResponseStarted","timestamp":"2018-10-26T13:38:34Z","user":{"groups":["system:masters","system:authenticated"],"username":"minikube-user"},"verb":"create"}"#;

    #[test]
    fn sniff() {
        assert!(looks_like(EXEC));
        assert!(looks_like(r#"{"protoPayload":{"serviceName":"k8s.io"}}"#));
        assert!(looks_like(r#"{"category":"kube-audit","properties":{"log":"{\"auditID\":\"x\",\"verb\":\"get\"}"}}"#));
        assert!(!looks_like(r#"{"eventid":"cowrie.session.connect"}"#));
        assert!(!looks_like(r#"{"kind": 0}"#));
    }

    #[test]
    fn exec_is_api_create_with_actor_resource_and_status() {
        let n = one(EXEC);
        let e = &n.ocsf;
        assert_eq!(e["class_uid"], 6003);
        assert_eq!(e["activity_id"], 1);
        assert_eq!(e["api"]["operation"], "create");
        assert_eq!(e["api"]["request"]["uid"], "ca1ed9f4");
        assert_eq!(e["api"]["response"]["code"], 101);
        assert_eq!(e["status_id"], 1);
        assert_eq!(e["actor"]["user"]["name"], "minikube-user");
        assert_eq!(e["actor"]["user"]["groups"][0]["name"], "system:masters");
        assert_eq!(e["src_endpoint"]["ip"], "192.168.99.1");
        assert_eq!(e["resources"][0]["type"], "pods/exec");
        assert_eq!(e["resources"][0]["namespace"], "default");
        assert_eq!(e["http_request"]["url"]["path"], "/api/v1/namespaces/default/pods/nginx-1/exec");
        assert_eq!(e["unmapped"]["k8s"]["namespace"], "default");
        assert_eq!(n.logsource, LogSource::new(Some("kubernetes"), Some("application"), Some("audit")));
        assert_eq!(n.time.map(|t| t.timestamp_micros()), Some(1_540_561_114_181_288));
        assert!(n.sigma.is_empty());
        assert!(n.sigma_json().contains(r#""subresource":"exec""#));
    }

    #[test]
    fn verbs_map_to_activities() {
        for (verb, id) in [("get", 2), ("watch", 2), ("patch", 3), ("deletecollection", 4), ("impersonate", 99)] {
            let n = one(&EXEC.replace(r#""verb":"create""#, &format!(r#""verb":"{verb}""#)));
            assert_eq!(n.ocsf["activity_id"], id, "{verb}");
        }
    }

    #[test]
    fn forbidden_is_a_failure() {
        let n = one(&EXEC.replace(r#""code":101"#, r#""code":403,"message":"forbidden""#));
        assert_eq!(n.ocsf["status_id"], 2);
        assert_eq!(n.ocsf["status_detail"], "forbidden");
    }

    #[test]
    fn event_list_yields_each_item_with_its_own_raw_text() {
        let list = format!(r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","items":[{EXEC},{EXEC}]}}"#);
        let v = decode(&list).expect("decodes");
        assert_eq!(v.len(), 2);
        assert_eq!(v[0].raw, RawRecord::Json(EXEC.to_owned()));
        let bad = format!(r#"{{"kind":"EventList","items":[{EXEC},{{"kind":"Event","auditID":"x"}}]}}"#);
        let e = decode(&bad).expect_err("item 1 has no verb");
        assert_eq!(e.reason, DeadLetterReason::MissingField);
        assert!(e.message.starts_with("EventList item 1"), "{e}");
        let array = format!("[{EXEC},{EXEC}]");
        assert_eq!(decode(&array).expect("decodes").len(), 2);
    }

    #[test]
    fn pod_spec_fields_are_lifted_for_pods_only() {
        let pod = r#"{"kind":"Event","auditID":"a","verb":"create","objectRef":{"resource":"pods","namespace":"default"},"requestObject":{"kind":"Pod","spec":{"containers":[{"name":"c","securityContext":{"capabilities":{"add":["SYS_ADMIN"],"drop":["NET_RAW"]}}}],"volumes":[{"name":"h","hostPath":{"path":"/etc","type":""}},{"name":"s","secret":{}}]}}}"#;
        let n = one(pod);
        assert_eq!(n.sigma["hostPath"], json!(["/etc"]));
        assert_eq!(n.sigma["capabilities"], json!(["SYS_ADMIN"]));
        let deploy = r#"{"kind":"Event","auditID":"a","verb":"create","objectRef":{"resource":"deployments"},"requestObject":{"spec":{"template":{"spec":{"volumes":[{"hostPath":{"path":"/"}}]}}}}}"#;
        assert_eq!(one(deploy).sigma["hostPath"], json!(["/"]));
        let cm = pod.replace(r#""resource":"pods""#, r#""resource":"configmaps""#);
        assert!(one(&cm).sigma.is_empty());
        // A free-form request (JSON patch) is ignored, not an error.
        let patch = r#"{"kind":"Event","auditID":"a","verb":"patch","objectRef":{"resource":"pods"},"requestObject":[{"op":"add","path":"/spec/volumes/-","value":{"hostPath":{"path":"/"}}}]}"#;
        assert!(one(patch).sigma.is_empty());
    }

    #[test]
    fn aks_string_and_object_wrapped() {
        let escaped = serde_json::to_string(EXEC).expect("string");
        let string_wrapped = format!(
            r#"{{"category":"kube-audit","properties":{{"log":{escaped},"pod":"kube-apiserver-1"}},"resourceId":"/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.CONTAINERSERVICE/MANAGEDCLUSTERS/PROD-AKS","time":"2025-10-07T16:19:19.647880072Z"}}"#
        );
        let object_wrapped = format!(r#"{{"category":"kube-audit-admin","properties":{{"log":{EXEC}}}}}"#);
        for record in [string_wrapped, object_wrapped] {
            let n = one(&record);
            assert_eq!(n.sigma["verb"], "create");
            assert_eq!(n.sigma["objectRef"]["subresource"], "exec");
            assert_eq!(n.ocsf["actor"]["user"]["name"], "minikube-user");
            assert_eq!(n.ocsf["cloud"]["provider"], "Azure");
            assert_eq!(n.raw, RawRecord::Json(record.clone()));
        }
        let n = one(&format!(
            r#"{{"category":"kube-audit","properties":{{"log":{}}},"resourceId":"/x/managedClusters/c1"}}"#,
            serde_json::to_string(EXEC).expect("s")
        ));
        assert_eq!(n.ocsf["unmapped"]["k8s"]["cluster"], "c1");
        let e = decode(r#"{"category":"kube-audit","properties":{"log":"{not json"}}"#).expect_err("bad inner");
        assert_eq!(e.reason, DeadLetterReason::InvalidJson);
        assert!(e.message.starts_with("AKS"), "{e}");
        let e = decode(r#"{"category":"kube-audit","properties":{"pod":"x"}}"#).expect_err("no log");
        assert_eq!(e.reason, DeadLetterReason::MissingField);
        let e = decode(r#"{"category":"kube-apiserver","properties":{"log":"I1007 verb auditID"}}"#).expect_err("logs");
        assert_eq!(e.reason, DeadLetterReason::UnknownFormat);
    }

    const GKE: &str = r#"{"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"dev@example.com"},"methodName":"io.k8s.core.v1.pods.exec.create","requestMetadata":{"callerIp":"203.0.113.7","callerSuppliedUserAgent":"kubectl/v1.29.0"},"resourceName":"core/v1/namespaces/default/pods/web-0/exec","serviceName":"k8s.io","status":{"code":7,"message":"Forbidden"}},"insertId":"i1","resource":{"type":"k8s_cluster","labels":{"cluster_name":"prod","location":"europe-west1","project_id":"acme"}},"timestamp":"2025-07-13T08:38:39.127266Z","labels":{"authorization.k8s.io/decision":"forbid"},"logName":"projects/acme/logs/cloudaudit.googleapis.com%2Factivity","operation":{"id":"op-1","producer":"k8s.io","first":true,"last":true}}"#;

    #[test]
    fn gke_entries_expose_the_audit_field_names() {
        let n = one(GKE);
        assert_eq!(n.sigma["verb"], "create");
        assert_eq!(
            n.sigma["objectRef"],
            json!({"resource": "pods", "subresource": "exec", "namespace": "default", "name": "web-0", "apiVersion": "v1"})
        );
        assert_eq!(n.sigma["responseStatus"]["code"], 403);
        assert_eq!(n.sigma["user"]["username"], "dev@example.com");
        assert_eq!(n.ocsf["status_id"], 2);
        assert_eq!(n.ocsf["api"]["request"]["uid"], "op-1");
        assert_eq!(n.ocsf["cloud"], json!({"provider": "GCP", "region": "europe-west1", "project_uid": "acme"}));
        assert_eq!(n.ocsf["unmapped"]["k8s"]["cluster"], "prod");
        assert_eq!(n.ocsf["unmapped"]["gcp"]["status_code"], 7);
        let compute = GKE.replace(r#""serviceName":"k8s.io""#, r#""serviceName":"compute.googleapis.com""#);
        assert_eq!(decode(&compute).expect_err("not k8s").reason, DeadLetterReason::UnknownFormat);
    }

    #[test]
    fn gke_resource_names() {
        let o = parse_resource_name("rbac.authorization.k8s.io/v1/clusterrolebindings/admin").expect("resource");
        assert_eq!(
            (o.api_group, o.resource, o.name, o.namespace),
            (Some("rbac.authorization.k8s.io"), Some("clusterrolebindings"), Some("admin"), None)
        );
        let o = parse_resource_name("core/v1/namespaces/foo").expect("namespace object");
        assert_eq!((o.resource, o.name, o.namespace), (Some("namespaces"), Some("foo"), None));
        let o = parse_resource_name("core/v1/namespaces/kube-system/pods").expect("list");
        assert_eq!((o.resource, o.name, o.namespace, o.api_group), (Some("pods"), None, Some("kube-system"), None));
        assert!(parse_resource_name("readyz").is_none());
        assert!(parse_resource_name("apis/apps").is_none());
    }

    #[test]
    fn errors_name_the_field() {
        let e = decode(r#"{"kind": 0}"#).expect_err("kind");
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        assert!(e.message.contains("`kind`"), "{e}");
        let e = decode(&EXEC.replace(r#""code":101"#, r#""code":"101""#)).expect_err("code");
        assert!(e.message.contains("`responseStatus.code`"), "{e}");
        let e = decode(&EXEC.replace(r#""verb":"create","#, "").replace(r#","verb":"create""#, "")).expect_err("verb");
        assert_eq!(e.reason, DeadLetterReason::MissingField);
        let e = decode(r#"{"kind":"Pod","auditID":"a","verb":"get"}"#).expect_err("pod");
        assert_eq!(e.reason, DeadLetterReason::UnknownFormat);
        let e = decode(&EXEC.replace("2018-10-26T13:38:34.181288Z", "later")).expect_err("time");
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        let e = decode(&EXEC[..100]).expect_err("truncated");
        assert_eq!(e.reason, DeadLetterReason::InvalidJson);
        let e = decode("42").expect_err("scalar");
        assert_eq!(e.reason, DeadLetterReason::UnknownFormat);
    }
}
