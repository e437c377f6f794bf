//! `kubescape scan --format json` reports → one OCSF Compliance Finding (2003) per failed
//! control and resource. Passed, skipped and excepted controls yield nothing.
//!
//! The record is the whole report. Two result shapes exist:
//! - v2 (`metadata.scanMetadata.formatVersion: "v2"`, Kubescape ≥ 2.9): each control of a
//!   result has `status.status` (`passed` / `failed` / `skipped`); exceptions turn a
//!   failure into `passed` with `subStatus: "w/exceptions"`;
//! - v1 (no `formatVersion`): controls have no status; a control failed when one of its
//!   `rules` has `status: "failed"` and no `exception` (an excepted failure is counted as
//!   "excluded" in `summaryDetails`). Measured: this reproduces the report's own
//!   `failedResources` counters exactly.

use crate::json_check::{not_value_safe, value_safe};
use std::collections::HashMap;

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use vigil_event::LogSource;

use super::{is_go_zero_time, parse_error, score_factor_severity, stable_uid, text, Kind, Text};
use crate::ocsf::{self, Class, K8sContext};
use crate::{DeadLetterReason, DecodeError, Decoder, Normalized, RawRecord, SourceKind};

/// Largest report accepted. Real reports of a small cluster are 1–2 MB; a large cluster's
/// can reach tens of MB.
const MAX_RECORD: usize = 256 << 20;

/// Stateless: every record is self-contained. (Braced, so `decoder_for`'s `::default()`
/// is not a lint on a unit struct.)
#[derive(Default)]
pub(crate) struct KubescapeScanDecoder {}

impl Decoder for KubescapeScanDecoder {
    fn kind(&self) -> SourceKind {
        SourceKind::KubescapeScan
    }

    fn decode(&mut self, record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
        if record.len() > MAX_RECORD {
            return Err(DecodeError::new(
                DeadLetterReason::TooLarge,
                format!("Kubescape scan report of {} bytes exceeds the {} byte limit", record.len(), MAX_RECORD),
            ));
        }
        decode_report(record, out)
    }
}

#[derive(Deserialize)]
struct Report<'a> {
    #[serde(rename = "clusterName", borrow)]
    cluster_name: Option<Text<'a>>,
    #[serde(rename = "generationTime", borrow)]
    generation_time: Option<Text<'a>>,
    #[serde(rename = "reportGUID", borrow)]
    report_guid: Option<Text<'a>>,
    #[serde(borrow)]
    metadata: Option<ReportMetadata<'a>>,
    #[serde(rename = "summaryDetails", borrow)]
    summary: Option<Summary<'a>>,
    /// Absent → missing field; `null` (Go's nil slice: nothing scanned) → no findings.
    #[serde(borrow, default, deserialize_with = "present")]
    results: Option<Option<Vec<ResourceResult<'a>>>>,
    #[serde(borrow)]
    resources: Option<Vec<Resource<'a>>>,
}

/// Tells an absent field (`None`) from a `null` one (`Some(None)`).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Deserialize)]
struct ReportMetadata<'a> {
    #[serde(rename = "scanMetadata", borrow)]
    scan: Option<ScanMetadata<'a>>,
}

#[derive(Deserialize)]
struct ScanMetadata<'a> {
    #[serde(rename = "kubescapeVersion", borrow)]
    kubescape_version: Option<Text<'a>>,
    #[serde(rename = "formatVersion", borrow)]
    format_version: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Summary<'a> {
    /// controlID → summary (score factor, category).
    #[serde(borrow)]
    controls: Option<HashMap<String, ControlSummary<'a>>>,
    #[serde(borrow)]
    frameworks: Option<Vec<Framework<'a>>>,
}

#[derive(Deserialize)]
struct ControlSummary<'a> {
    #[serde(rename = "scoreFactor")]
    score_factor: Option<f64>,
    #[serde(borrow)]
    category: Option<Category<'a>>,
}

#[derive(Deserialize)]
struct Category<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Framework<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    /// Only the control ids (the keys) matter.
    #[serde(default)]
    controls: Keys,
}

/// The keys of a JSON object, values skipped.
#[derive(Default)]
struct Keys(Vec<String>);

impl<'de> Deserialize<'de> for Keys {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeysVisitor;
        impl<'de> Visitor<'de> for KeysVisitor {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("an object keyed by control id")
            }
            fn visit_unit<E: serde::de::Error>(self) -> Result<Keys, E> {
                Ok(Keys::default())
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Keys, M::Error> {
                let mut keys = Vec::new();
                while let Some((key, IgnoredAny)) = map.next_entry::<String, IgnoredAny>()? {
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
        }
        deserializer.deserialize_any(KeysVisitor)
    }
}

#[derive(Deserialize)]
struct ResourceResult<'a> {
    #[serde(rename = "resourceID", borrow)]
    resource_id: Option<Text<'a>>,
    /// Kept raw: each failed control's own text is the raw record of its finding.
    #[serde(borrow)]
    controls: Option<Vec<&'a RawValue>>,
}

#[derive(Deserialize)]
struct ControlResult<'a> {
    #[serde(rename = "controlID", borrow)]
    control_id: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    /// v2: `{"status": "failed", "subStatus": …}`.
    #[serde(borrow)]
    status: Option<ControlStatus<'a>>,
    #[serde(borrow)]
    rules: Option<Vec<RuleResult<'a>>>,
}

#[derive(Deserialize)]
struct ControlStatus<'a> {
    #[serde(borrow)]
    status: Option<Text<'a>>,
    #[serde(rename = "subStatus", borrow)]
    sub_status: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct RuleResult<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    status: Option<Text<'a>>,
    /// v1: an exception policy matched this failure.
    exception: Option<IgnoredAny>,
    #[serde(borrow)]
    paths: Option<Vec<RulePath<'a>>>,
}

#[derive(Deserialize)]
struct RulePath<'a> {
    #[serde(rename = "failedPath", borrow)]
    failed_path: Option<Text<'a>>,
    #[serde(rename = "reviewPath", borrow)]
    review_path: Option<Text<'a>>,
    #[serde(rename = "deletePath", borrow)]
    delete_path: Option<Text<'a>>,
    #[serde(rename = "fixPath", borrow)]
    fix_path: Option<FixPath<'a>>,
}

#[derive(Deserialize)]
struct FixPath<'a> {
    #[serde(borrow)]
    path: Option<Text<'a>>,
    #[serde(borrow)]
    value: Option<Text<'a>>,
}

#[derive(Deserialize)]
struct Resource<'a> {
    #[serde(rename = "resourceID", borrow)]
    resource_id: Option<Text<'a>>,
    #[serde(borrow)]
    object: Option<ResourceObject<'a>>,
}

/// A Kubernetes object (`kind`, `apiVersion`, `metadata`), or Kubescape's synthetic
/// related-objects resource (RBAC subject) with `kind` / `name` / `namespace` at the top.
#[derive(Deserialize)]
struct ResourceObject<'a> {
    #[serde(borrow)]
    kind: Option<Text<'a>>,
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    namespace: Option<Text<'a>>,
    #[serde(borrow)]
    metadata: Option<ObjectMeta<'a>>,
}

#[derive(Deserialize)]
struct ObjectMeta<'a> {
    #[serde(borrow)]
    name: Option<Text<'a>>,
    #[serde(borrow)]
    namespace: Option<Text<'a>>,
    #[serde(borrow)]
    uid: Option<Text<'a>>,
}

const REPORT_FIELDS: &[(&str, Kind)] = &[
    ("clusterName", Kind::Str),
    ("generationTime", Kind::Str),
    ("reportGUID", Kind::Str),
    ("metadata", Kind::Obj),
    ("summaryDetails", Kind::Obj),
    ("summaryDetails.controls", Kind::Obj),
    ("summaryDetails.frameworks", Kind::Arr),
    ("results", Kind::Arr),
    ("resources", Kind::Arr),
];

const CONTROL_FIELDS: &[(&str, Kind)] = &[
    ("controlID", Kind::Str),
    ("name", Kind::Str),
    ("status", Kind::Obj),
    ("status.status", Kind::Str),
    ("rules", Kind::Arr),
];

/// What the finding says about the resource.
struct ResourceView<'r> {
    kind: Option<&'r str>,
    name: Option<&'r str>,
    namespace: Option<&'r str>,
    uid: Option<&'r str>,
}

fn decode_report(record: &str, out: &mut Vec<Normalized>) -> Result<(), DecodeError> {
    let report: Report<'_> =
        serde_json::from_str(record).map_err(|e| parse_error(&e, record, "a Kubescape scan report", REPORT_FIELDS))?;
    let results = match report.results {
        None => return Err(DecodeError::missing("results")),
        Some(None) => return Ok(()),
        Some(Some(results)) => results,
    };
    let time = match text(&report.generation_time) {
        Some(s) => match vigil_event::parse_timestamp(s) {
            Some(t) if is_go_zero_time(&t) => None,
            Some(t) => Some(t),
            None => {
                return Err(DecodeError::new(
                    DeadLetterReason::InvalidField,
                    format!("field `generationTime` is not a timestamp: {s:?}"),
                ))
            }
        },
        None => None,
    };
    let scan = report.metadata.as_ref().and_then(|m| m.scan.as_ref());
    let version = scan.and_then(|s| text(&s.kubescape_version));
    let format_version = scan.and_then(|s| text(&s.format_version)).unwrap_or("v1");
    let cluster = text(&report.cluster_name);
    let report_key = text(&report.report_guid)
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{}|{}", cluster.unwrap_or(""), text(&report.generation_time).unwrap_or("")));

    let empty = HashMap::new();
    let control_summary = report.summary.as_ref().and_then(|s| s.controls.as_ref()).unwrap_or(&empty);
    let mut frameworks_of: HashMap<&str, Vec<&str>> = HashMap::new();
    for fw in report.summary.iter().flat_map(|s| s.frameworks.iter().flatten()) {
        let Some(name) = text(&fw.name) else { continue };
        for control in &fw.controls.0 {
            frameworks_of.entry(control.as_str()).or_default().push(name);
        }
    }
    let resources: HashMap<&str, &ResourceObject<'_>> =
        report.resources.iter().flatten().filter_map(|r| Some((text(&r.resource_id)?, r.object.as_ref()?))).collect();

    for (i, result) in results.iter().enumerate() {
        let resource_id =
            text(&result.resource_id).ok_or_else(|| DecodeError::missing(&format!("results[{i}].resourceID")))?;
        let object = resources.get(resource_id);
        let meta = object.and_then(|o| o.metadata.as_ref());
        let resource = ResourceView {
            kind: object.and_then(|o| text(&o.kind)),
            name: meta.and_then(|m| text(&m.name)).or(object.and_then(|o| text(&o.name))),
            namespace: meta.and_then(|m| text(&m.namespace)).or(object.and_then(|o| text(&o.namespace))),
            uid: meta.and_then(|m| text(&m.uid)),
        };
        for (j, raw) in result.controls.iter().flatten().enumerate() {
            let control: ControlResult<'_> = serde_json::from_str(raw.get()).map_err(|e| {
                let mut err = parse_error(&e, raw.get(), "a scan control result", CONTROL_FIELDS);
                err.message = format!("results[{i}].controls[{j}]: {}", err.message);
                err
            })?;
            if !failed(&control) {
                continue;
            }
            let control_id = text(&control.control_id)
                .ok_or_else(|| DecodeError::missing(&format!("results[{i}].controls[{j}].controlID")))?;
            // The control's text is the finding's raw record (spliced into the Sigma view).
            if !value_safe(raw.get()) {
                return Err(not_value_safe(&format!("results[{i}].controls[{j}]")));
            }
            let summary = control_summary.get(control_id);
            let ctx = FindingContext {
                time,
                version,
                format_version,
                cluster,
                report_key: &report_key,
                resource_id,
                resource: &resource,
                frameworks: frameworks_of.get(control_id).map(Vec::as_slice).unwrap_or_default(),
                score_factor: summary.and_then(|s| s.score_factor),
                category: summary.and_then(|s| s.category.as_ref()).and_then(|c| text(&c.name)),
            };
            out.push(finding(&ctx, control_id, &control, raw.get()));
        }
    }
    Ok(())
}

/// v2 status when present, else the v1 rule rule (a non-excepted failed rule).
fn failed(control: &ControlResult<'_>) -> bool {
    match control.status.as_ref().and_then(|s| text(&s.status)) {
        Some(status) => status == "failed",
        None => control.rules.iter().flatten().any(|r| text(&r.status) == Some("failed") && r.exception.is_none()),
    }
}

struct FindingContext<'r> {
    time: Option<vigil_event::Timestamp>,
    version: Option<&'r str>,
    format_version: &'r str,
    cluster: Option<&'r str>,
    report_key: &'r str,
    resource_id: &'r str,
    resource: &'r ResourceView<'r>,
    frameworks: &'r [&'r str],
    score_factor: Option<f64>,
    category: Option<&'r str>,
}

fn finding(ctx: &FindingContext<'_>, control_id: &str, control: &ControlResult<'_>, raw: &str) -> Normalized {
    let name = text(&control.name).unwrap_or(control_id);
    let res = ctx.resource;
    let mut event = ocsf::base(Class::ComplianceFinding, ocsf::activity::FINDING_CREATE, ctx.time, "Kubescape");
    ocsf::set_severity(&mut event, ctx.score_factor.map(score_factor_severity).unwrap_or(0));
    let subject = match (res.kind, res.namespace, res.name) {
        (Some(k), Some(ns), Some(n)) => format!("{k} {ns}/{n}"),
        (Some(k), None, Some(n)) => format!("{k} {n}"),
        _ => ctx.resource_id.to_owned(),
    };
    ocsf::set(&mut event, "message", format!("{control_id} {name}: failed for {subject}"));
    ocsf::set(&mut event, "metadata.product.feature.name", "scan");
    ocsf::set(&mut event, "metadata.product.version", ctx.version.map(Value::from).unwrap_or(Value::Null));
    ocsf::set(&mut event, "metadata.event_code", control_id);

    let mut info = json!({
        "uid": stable_uid(&[ctx.report_key, control_id, ctx.resource_id]),
        "title": name,
        "analytic": {"uid": control_id, "name": name, "type_id": 1, "type": "Rule"},
    });
    if let Some(cat) = ctx.category {
        info["types"] = json!([cat]);
    }
    event.insert("finding_info", info);

    let mut compliance = json!({
        "control": control_id,
        "standards": ctx.frameworks,
        "status_id": 3,
        "status": "Fail",
    });
    if let Some(sub) = control.status.as_ref().and_then(|s| text(&s.sub_status)) {
        compliance["status_detail"] = sub.into();
    }
    event.insert("compliance", compliance);

    let mut resource = Map::new();
    resource.insert("uid".into(), ctx.resource_id.into());
    for (key, value) in [("type", res.kind), ("name", res.name), ("namespace", res.namespace)] {
        if let Some(v) = value {
            resource.insert(key.into(), v.into());
        }
    }
    if let Some(uid) = res.uid {
        resource.insert("uid_alt".into(), uid.into());
    }
    event.insert("resources", Value::Array(vec![Value::Object(resource)]));
    ocsf::k8s_context(
        &mut event,
        &K8sContext { cluster: ctx.cluster, namespace: res.namespace, ..K8sContext::default() },
    );

    // The failing rules and where they point: what a person needs to fix it.
    let failed_rules: Vec<&str> = control
        .rules
        .iter()
        .flatten()
        .filter(|r| text(&r.status) == Some("failed"))
        .filter_map(|r| text(&r.name))
        .collect();
    let mut fix = Vec::new();
    let mut failed_paths = Vec::new();
    for path in control.rules.iter().flatten().flat_map(|r| r.paths.iter().flatten()) {
        for p in [&path.failed_path, &path.review_path, &path.delete_path] {
            if let Some(p) = text(p) {
                failed_paths.push(p);
            }
        }
        if let Some(fp) = &path.fix_path {
            if let Some(p) = text(&fp.path) {
                fix.push(json!({"path": p, "value": text(&fp.value).unwrap_or("")}));
            }
        }
    }
    ocsf::set(&mut event, "unmapped.kubescape.format_version", ctx.format_version);
    if !failed_rules.is_empty() {
        ocsf::set(&mut event, "unmapped.kubescape.rules", json!(failed_rules));
    }
    if !failed_paths.is_empty() {
        ocsf::set(&mut event, "unmapped.kubescape.failed_paths", json!(failed_paths));
    }
    if !fix.is_empty() {
        ocsf::set(&mut event, "unmapped.kubescape.fix_paths", Value::Array(fix));
    }

    let mut sigma = Map::new();
    sigma.insert("ControlID".into(), control_id.into());
    sigma.insert("ControlName".into(), name.into());
    if let Some(score) = ctx.score_factor {
        // Whole numbers (all real score factors) as integers: `7`, not `7.0`.
        let value =
            if score.fract() == 0.0 && (0.0..1e15).contains(&score) { json!(score as u64) } else { json!(score) };
        sigma.insert("ScoreFactor".into(), value);
    }
    sigma.insert("ResourceID".into(), ctx.resource_id.into());
    for (key, value) in [("ResourceKind", res.kind), ("ResourceName", res.name), ("Namespace", res.namespace)] {
        if let Some(v) = value {
            sigma.insert(key.into(), v.into());
        }
    }
    if !ctx.frameworks.is_empty() {
        sigma.insert("Frameworks".into(), json!(ctx.frameworks));
    }
    if let Some(c) = ctx.cluster {
        sigma.insert("Cluster".into(), c.into());
    }

    Normalized {
        source: SourceKind::KubescapeScan,
        time: ctx.time,
        logsource: LogSource::new(Some("kubescape"), None, Some("scan")),
        ocsf: event,
        sigma: sigma.into(),
        raw: RawRecord::Json(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(record: &str) -> Result<Vec<Normalized>, DecodeError> {
        let mut out = Vec::new();
        KubescapeScanDecoder::default().decode(record, &mut out).map(|()| out)
    }

    const V2: &str = r#"{"clusterName":"k3d","generationTime":"2024-03-01T10:00:00Z","reportGUID":"g1",
        "metadata":{"scanMetadata":{"kubescapeVersion":"v3.0.1","formatVersion":"v2"}},
        "summaryDetails":{"controls":{"C-0055":{"scoreFactor":4,"category":{"name":"Workload"}},"C-0017":{"scoreFactor":7}},
            "frameworks":[{"name":"NSA","controls":{"C-0055":{},"C-0017":{}}},{"name":"MITRE","controls":{"C-0017":{}}}]},
        "results":[{"resourceID":"apps/v1/default/Deployment/web","controls":[
            {"controlID":"C-0055","name":"Linux hardening","status":{"status":"failed"},"rules":[{"name":"linux-hardening","status":"failed","paths":[{"fixPath":{"path":"spec.a","value":"YOUR_VALUE"}}]}]},
            {"controlID":"C-0017","name":"Immutable container filesystem","status":{"status":"passed","subStatus":"w/exceptions"},"rules":[]}]}],
        "resources":[{"resourceID":"apps/v1/default/Deployment/web","object":{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default"}}}]}"#;

    #[test]
    fn v2_failed_controls_only() {
        let out = decode(V2).unwrap();
        assert_eq!(out.len(), 1);
        let n = &out[0];
        assert_eq!(n.ocsf["class_uid"], 2003);
        assert_eq!(n.ocsf["compliance"]["control"], "C-0055");
        assert_eq!(n.ocsf["compliance"]["standards"], json!(["NSA"]));
        assert_eq!(n.ocsf["severity_id"], 3);
        assert_eq!(n.ocsf["resources"][0]["type"], "Deployment");
        assert_eq!(n.ocsf["resources"][0]["namespace"], "default");
        assert_eq!(n.sigma["ControlID"], "C-0055");
        assert!(n.raw.as_str().starts_with("{\"controlID\":\"C-0055\""));
    }

    #[test]
    fn v1_excepted_failures_are_not_findings() {
        let record = r#"{"summaryDetails":{"controls":{"C-1":{"scoreFactor":9}}},"results":[{"resourceID":"r","controls":[
            {"controlID":"C-1","name":"a","rules":[{"name":"x","status":"failed"}]},
            {"controlID":"C-2","name":"b","rules":[{"name":"y","status":"failed","exception":{"name":"e"}}]},
            {"controlID":"C-3","name":"c","rules":[{"name":"z","status":"passed"}]}]}],"resources":[]}"#;
        let out = decode(record).unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].ocsf["severity_id"], 5);
        assert_eq!(out[0].ocsf["resources"][0]["uid"], "r");
    }

    #[test]
    fn bad_reports_get_the_right_reason() {
        let reason = |r: &str| decode(r).unwrap_err().reason;
        assert_eq!(reason(&V2[..100]), DeadLetterReason::InvalidJson);
        assert_eq!(reason(r#"{"summaryDetails":{}}"#), DeadLetterReason::MissingField);
        let e = decode(&V2.replace(r#""results":["#, r#""results":7,"x":["#)).unwrap_err();
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        assert!(e.message.contains("`results`"), "{}", e.message);
        let e = decode(&V2.replace(r#""status":{"status":"failed"}"#, r#""status":{"status":3}"#)).unwrap_err();
        assert_eq!(e.reason, DeadLetterReason::InvalidField);
        assert!(e.message.contains("results[0].controls[0]") && e.message.contains("status.status"), "{}", e.message);
        assert_eq!(reason(&V2.replace("2024-03-01T10:00:00Z", "later")), DeadLetterReason::InvalidField);
        assert!(decode(r#"{"summaryDetails":{},"results":null}"#).unwrap().is_empty());
    }
}
