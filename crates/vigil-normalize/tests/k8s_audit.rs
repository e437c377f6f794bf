//! Kubernetes audit decoder on the samples in `$VIGIL_CORPUS/samples/k8s-audit`:
//!
//! - `falco-trace-files/*.json`: despite the extension, JSON *lines* (one audit event
//!   per line, some files with several, blank lines between); each line is a record.
//!   `fal_01_003.json` (`{"kind": 0}`) is Falco's own negative test input, not an audit
//!   event: it is sniffed as generic JSON, and the audit decoder rejects it.
//! - `elastic-integrations/*.log`: JSON lines — plain v1 events, a GKE `LogEntry`, and
//!   AKS diagnostic records with the event as an object or as a JSON string.
//!
//! Every record is sniffed as a Kubernetes audit record and decodes; a corrupted copy
//! yields the expected dead letters while its good lines still decode; one snapshot per
//! audit API version and wrapper.

use std::path::{Path, PathBuf};

use serde_json::json;
use vigil_normalize::{decoder_for, AutoDecoder, DeadLetterReason, Normalized, SourceKind};

fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_CORPUS") {
        Some(p) => {
            let p = PathBuf::from(p);
            Some(if p.is_absolute() { p } else { Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(p) })
        }
        None => {
            assert!(std::env::var("CI").as_deref() != Ok("true"), "VIGIL_CORPUS must be set when CI=true");
            eprintln!("skipped: VIGIL_CORPUS not set");
            None
        }
    }
}

fn files_in(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> =
        std::fs::read_dir(dir).expect("sample dir").map(|e| e.expect("entry").path()).filter(|p| p.is_file()).collect();
    v.sort();
    v
}

fn lines(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("UTF-8 sample");
    text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_owned).collect()
}

/// Records that are not audit events, with the reason.
const NOT_AUDIT: &[(&str, &str)] =
    &[("fal_01_003.json", "Falco's negative test input `{\"kind\": 0}`, no audit event")];

#[test]
fn every_sample_record_is_sniffed_and_decoded() {
    let Some(root) = corpus() else { return };
    let base = root.join("samples/k8s-audit");
    let mut files = files_in(&base.join("falco-trace-files"));
    files.extend(files_in(&base.join("elastic-integrations")));
    assert_eq!(files.len(), 49);
    let mut auto = AutoDecoder::new(None);
    let (mut records, mut events) = (0, 0);
    for file in &files {
        let name = file.file_name().and_then(|n| n.to_str()).expect("name");
        for (i, line) in lines(file).iter().enumerate() {
            let mut out = Vec::new();
            let result = auto.decode(line, &mut out);
            if NOT_AUDIT.iter().any(|(n, _)| *n == name) {
                assert_eq!(result, Ok(SourceKind::Json), "{name}");
                let err = decoder_for(SourceKind::K8sAudit).decode(line, &mut out).expect_err("not an audit event");
                assert_eq!(err.reason, DeadLetterReason::InvalidField, "{err}");
                continue;
            }
            let kind = result.unwrap_or_else(|e| panic!("{name}:{}: {e}", i + 1));
            assert_eq!(kind, SourceKind::K8sAudit, "{name}:{}", i + 1);
            assert_eq!(out.len(), 1);
            let n = &out[0];
            assert!(n.time.is_some(), "{name}:{}: no time", i + 1);
            assert_eq!(n.ocsf["class_uid"], 6003);
            assert!(n.ocsf["api"]["operation"].is_string());
            // The Sigma view always exposes the audit field names at the top level.
            let view: serde_json::Value = serde_json::from_str(&n.sigma_json()).expect("sigma view is JSON");
            assert!(view["verb"].is_string(), "{name}:{}: no verb in {view}", i + 1);
            records += 1;
            events += out.len();
        }
    }
    assert_eq!((records, events), (57, 57));
}

#[test]
fn corrupted_copy_yields_the_expected_dead_letters() {
    let Some(root) = corpus() else { return };
    let file = root.join("samples/k8s-audit/falco-trace-files/create_configmap_sensitive_values.json");
    let mut records = lines(&file);
    assert_eq!(records.len(), 6);
    let good = records.clone();
    let mutated = [
        (good[0][..good[0].len() / 3].to_owned(), DeadLetterReason::InvalidJson),
        (good[1].replacen(r#""code":201"#, r#""code":"Created""#, 1), DeadLetterReason::InvalidField),
        (good[2].replacen(r#""verb":"create""#, r#""verb":null"#, 1), DeadLetterReason::MissingField),
        (good[3].replacen(r#""kind":"Event""#, r#""kind":"ConfigMap""#, 1), DeadLetterReason::UnknownFormat),
        (
            good[4].replacen(r#""requestReceivedTimestamp":""#, r#""requestReceivedTimestamp":"at "#, 1),
            DeadLetterReason::InvalidField,
        ),
    ];
    for (line, _) in &mutated {
        assert!(!good.contains(line), "mutation had no effect");
    }
    let expected: Vec<DeadLetterReason> = mutated.iter().map(|(_, r)| *r).collect();
    records.extend(mutated.into_iter().map(|(l, _)| l));
    let mut auto = AutoDecoder::new(None);
    let mut decoded = 0;
    let mut reasons = Vec::new();
    for line in &records {
        let mut out = Vec::new();
        match auto.decode(line, &mut out) {
            Ok(kind) => {
                assert_eq!(kind, SourceKind::K8sAudit);
                decoded += out.len();
            }
            Err(e) => reasons.push(e.reason),
        }
    }
    assert_eq!(decoded, good.len(), "every good line still decodes");
    assert_eq!(reasons, expected);
}

fn view(n: &Normalized) -> serde_json::Value {
    json!({"time": n.time, "logsource": n.logsource, "ocsf": n.ocsf, "sigma": n.sigma})
}

fn decode_one(record: &str) -> Normalized {
    let mut out = Vec::new();
    let kind = AutoDecoder::new(None).decode(record, &mut out).expect("decodes");
    assert_eq!(kind, SourceKind::K8sAudit);
    assert_eq!(out.len(), 1);
    out.pop().expect("one")
}

/// A GKE `LogEntry` for `kubectl run` (pods.create) — hand-made, since no real GKE
/// Kubernetes resource entry is in the corpus: fields per Google's LogEntry and
/// AuditLog references and the GKE audit logging guide.
pub const GKE_POD_CREATE: &str = r#"{"insertId":"5b1c7f2e-0b8a-4e43-9d61-0c6f0c3a1b2d","logName":"projects/acme-prod/logs/cloudaudit.googleapis.com%2Factivity","operation":{"first":true,"id":"5b1c7f2e-0b8a-4e43-9d61-0c6f0c3a1b2d","last":true,"producer":"k8s.io"},"protoPayload":{"@type":"type.googleapis.com/google.cloud.audit.AuditLog","authenticationInfo":{"principalEmail":"dev@acme.example"},"authorizationInfo":[{"granted":true,"permission":"io.k8s.core.v1.pods.create","resource":"core/v1/namespaces/kube-system/pods/debug"}],"methodName":"io.k8s.core.v1.pods.create","request":{"@type":"core.k8s.io/v1.Pod","apiVersion":"v1","kind":"Pod","metadata":{"name":"debug","namespace":"kube-system"},"spec":{"containers":[{"image":"busybox","name":"debug","securityContext":{"capabilities":{"add":["SYS_ADMIN"]}}}],"hostPID":true,"volumes":[{"hostPath":{"path":"/"},"name":"host"}]}},"requestMetadata":{"callerIp":"198.51.100.23","callerSuppliedUserAgent":"kubectl/v1.29.2 (linux/amd64) kubernetes/4b8e819"},"resourceName":"core/v1/namespaces/kube-system/pods/debug","serviceName":"k8s.io","status":{}},"receiveTimestamp":"2025-07-14T09:12:03.512345678Z","resource":{"labels":{"cluster_name":"prod-eu","location":"europe-west1","project_id":"acme-prod"},"type":"k8s_cluster"},"severity":"NOTICE","timestamp":"2025-07-14T09:12:01.101234Z"}"#;

#[test]
fn snapshot_one_event_per_api_version_and_wrapper() {
    let Some(root) = corpus() else { return };
    let base = root.join("samples/k8s-audit");
    let falco = |f: &str| lines(&base.join("falco-trace-files").join(f)).remove(0);
    let elastic = lines(&base.join("elastic-integrations/test-audit.log"));
    let aks_string = lines(&base.join("elastic-integrations/test-kube-audit-aks-string-wrapped.log")).remove(0);
    let cases = [
        // audit.k8s.io/v1beta1, with a full request object (privileged container).
        ("v1beta1", falco("create_nginx_pod_privileged.json")),
        // audit.k8s.io/v1, Metadata level.
        ("v1", falco("create_kube_system_secret.json")),
        // No apiVersion / kind-first ordering (Falco's 2018 captures): an exec.
        ("no_api_version", falco("exec_pod.json")),
        ("gke", elastic[3].clone()),
        ("gke_pod_create", GKE_POD_CREATE.to_owned()),
        ("aks_object", elastic[4].clone()),
        ("aks_string", aks_string),
    ];
    for (name, record) in cases {
        insta::assert_json_snapshot!(name, view(&decode_one(&record)));
    }
    // An EventList (webhook batch) of two sample events: one event per item.
    let list = format!(
        r#"{{"kind":"EventList","apiVersion":"audit.k8s.io/v1","metadata":{{}},"items":[{},{}]}}"#,
        falco("create_secret.json"),
        falco("delete_secret.json")
    );
    let mut out = Vec::new();
    assert_eq!(AutoDecoder::new(None).decode(&list, &mut out), Ok(SourceKind::K8sAudit));
    let views: Vec<serde_json::Value> = out.iter().map(view).collect();
    insta::assert_json_snapshot!("event_list", views);
}
