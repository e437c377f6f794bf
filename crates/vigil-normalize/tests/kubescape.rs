//! Kubescape decoders on the real samples in `$VIGIL_CORPUS/samples/kubescape`:
//! - node-agent stdout alerts (`node-agent/*.jsonl`, one logrus JSON line per record):
//!   every line is sniffed as a Kubescape alert and decodes, except the truncated README
//!   snippets listed in [`MALFORMED`]; every RuleID seen is in the rule catalogue;
//! - the HTTP exporter's `RuntimeAlerts` envelope, built here from a sample line (no
//!   captured envelope exists): one event per alert;
//! - scan reports (`scan-results/*.json`, each file ONE record): one finding per failed
//!   (control, resource), matching the report's own `failedResources` counters;
//! - corrupted copies yield the expected dead letters while good records still decode;
//! - snapshots of one event per alert file shape, the envelope, and one finding per
//!   report format version.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::{json, Map, Value};
use vigil_normalize::{sniff_record, AutoDecoder, DeadLetterReason, Normalized, SourceKind};

/// The corpus root, or `None` (test skipped) when `VIGIL_CORPUS` is unset — except in
/// CI, where a missing corpus is a failure.
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

const ALERT_FILES: [&str; 4] = [
    "stdout_alerts_honeycluster.jsonl",
    "stdout_alerts_honeycluster_webapp_attack.jsonl",
    "stdout_alerts_k8sstormcenter-bob_dedup.jsonl",
    "stdout_alerts_k8sstormcenter-bob_partial_snippets.jsonl",
];

/// Records that really are malformed: (file, 1-based line, reason, why).
const MALFORMED: &[(&str, usize, DeadLetterReason, &str)] = &[
    (
        "stdout_alerts_k8sstormcenter-bob_partial_snippets.jsonl",
        3,
        DeadLetterReason::MissingField,
        "README excerpt cut after sha1Hash: no timestamp anywhere (node-agent always writes \
         BaseRuntimeMetadata.timestamp, and the logrus `time` is gone too)",
    ),
    (
        "stdout_alerts_k8sstormcenter-bob_partial_snippets.jsonl",
        4,
        DeadLetterReason::MissingField,
        "README excerpt cut after sha1Hash: no timestamp anywhere",
    ),
    (
        "stdout_alerts_k8sstormcenter-bob_partial_snippets.jsonl",
        6,
        DeadLetterReason::MissingField,
        "README excerpt cut after sha1Hash: no timestamp anywhere",
    ),
    (
        "stdout_alerts_k8sstormcenter-bob_partial_snippets.jsonl",
        10,
        DeadLetterReason::MissingField,
        "README excerpt cut after sha1Hash: no timestamp anywhere",
    ),
];
// The other 9 snippet lines keep alertName, arguments, infectedPID, severity and
// timestamp (only RuleID and the Kubernetes/process blocks are cut, which node-agent's
// exporter field filter can also do): they decode, without ATT&CK mapping.

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` cut to at most `len` bytes, on a character boundary.
fn cut(text: &str, len: usize) -> &str {
    let end = (0..=len.min(text.len())).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
    &text[..end]
}

fn lines(text: &str) -> Vec<(usize, &str)> {
    text.lines().enumerate().map(|(i, l)| (i + 1, l.trim())).filter(|(_, l)| !l.is_empty()).collect()
}

/// The normalized view a snapshot pins.
fn view(n: &Normalized) -> Value {
    json!({
        "logsource": n.logsource,
        "time": n.time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        "ocsf": n.ocsf,
        "sigma": n.sigma,
    })
}

fn decode_alert_line(auto: &mut AutoDecoder, line: &str) -> Result<Vec<Normalized>, vigil_normalize::DecodeError> {
    let mut out = Vec::new();
    let kind = auto.decode(line, &mut out)?;
    assert_eq!(kind, SourceKind::KubescapeAlert, "{line}");
    Ok(out)
}

#[test]
fn every_alert_line_is_sniffed_and_decoded() {
    let Some(root) = corpus() else { return };
    let dir = root.join("samples/kubescape/node-agent");
    let mut auto = AutoDecoder::new(None);
    let mut rule_ids = BTreeSet::new();
    let mut total = 0;
    for file in ALERT_FILES {
        let text = read(&dir.join(file));
        let mut decoded = 0;
        for (no, line) in lines(&text) {
            assert_eq!(sniff_record(line), Some(SourceKind::KubescapeAlert), "{file}:{no}");
            let expected = MALFORMED.iter().find(|m| m.0 == file && m.1 == no);
            match (decode_alert_line(&mut auto, line), expected) {
                (Ok(out), None) => {
                    assert_eq!(out.len(), 1, "{file}:{no}");
                    let n = &out[0];
                    assert_eq!(n.source, SourceKind::KubescapeAlert);
                    assert_eq!(n.ocsf["class_uid"], 2004);
                    assert!(n.time.is_some(), "{file}:{no}: no event time");
                    assert!(n.ocsf["finding_info"]["title"].is_string());
                    if let Some(id) = n.sigma.as_value().get("RuleID").and_then(Value::as_str) {
                        rule_ids.insert(id.to_owned());
                        // The catalogue knows it: analytic and ATT&CK mapping are filled.
                        assert_eq!(n.ocsf["finding_info"]["analytic"]["uid"], id);
                        let attack = &n.ocsf["finding_info"]["attacks"][0];
                        assert!(attack["technique"]["uid"].as_str().is_some_and(|t| t.starts_with('T')), "{id}");
                        assert!(attack["tactic"]["uid"].as_str().is_some_and(|t| t.starts_with("TA")), "{id}");
                        // Full samples always know the process and its Kubernetes place.
                        assert!(n.sigma.as_value().get("ProcessId").is_some(), "{file}:{no}");
                        assert!(n.ocsf["unmapped"]["k8s"]["namespace"].is_string(), "{file}:{no}");
                    }
                    decoded += 1;
                }
                (Err(e), Some((_, _, reason, why))) => {
                    assert_eq!(e.reason, *reason, "{file}:{no} ({why}): {e}");
                }
                (Ok(_), Some(m)) => panic!("{file}:{no} should be a dead letter: {}", m.3),
                (Err(e), None) => panic!("{file}:{no}: {e}"),
            }
        }
        total += decoded;
        eprintln!("{file}: {decoded} events");
    }
    assert_eq!(total, 191 + 10 + 283 + 9);
    let expected: BTreeSet<String> =
        ["R0001", "R0002", "R0003", "R0004", "R0005", "R0006", "R0009", "R0010", "R1001", "R1030"]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
    assert_eq!(rule_ids, expected, "RuleIDs seen in the samples");
}

/// A stdout line rewritten as the HTTP exporter sends it: the alert flattened
/// (armotypes.RuntimeAlert inlines BaseRuntimeAlert and RuntimeAlertK8sDetails), the
/// process tree at `spec.processTree`.
fn envelope_from(lines: &[&str]) -> String {
    let mut alerts = Vec::new();
    let mut tree = Value::Null;
    for line in lines {
        let v: Value = serde_json::from_str(line).expect("sample line is JSON");
        let mut flat = Map::new();
        for block in ["BaseRuntimeMetadata", "RuntimeK8sDetails"] {
            if let Some(Value::Object(m)) = v.get(block) {
                flat.extend(m.clone());
            }
        }
        flat.insert("ruleID".into(), v["RuleID"].clone());
        flat.insert("message".into(), v["message"].clone());
        flat.insert("hostName".into(), "node-agent-x7k2p".into());
        flat.insert("nodeName".into(), v["event"]["k8s"]["node"].clone());
        flat.insert("alertType".into(), 0.into());
        alerts.push(Value::Object(flat));
        tree = v["RuntimeProcessDetails"].clone();
    }
    json!({"kind": "RuntimeAlerts", "apiVersion": "kubescape.io/v1", "spec": {"alerts": alerts, "processTree": tree, "cloudMetadata": {}}})
        .to_string()
}

#[test]
fn http_envelope_yields_one_event_per_alert() {
    let Some(root) = corpus() else { return };
    let text = read(&root.join("samples/kubescape/node-agent/stdout_alerts_k8sstormcenter-bob_dedup.jsonl"));
    // Two alerts of the same process (same tree), as one bulk.
    let all = lines(&text);
    let r0009: Vec<&str> = all.iter().map(|(_, l)| *l).filter(|l| l.contains("\"RuleID\":\"R0009\"")).collect();
    let record = envelope_from(&[r0009[0], r0009[0]]);
    assert_eq!(sniff_record(&record), Some(SourceKind::KubescapeAlert));
    let mut out = Vec::new();
    AutoDecoder::new(None).decode(&record, &mut out).expect("envelope decodes");
    assert_eq!(out.len(), 2);
    let n = &out[0];
    assert_eq!(n.sigma["RuleID"], "R0009");
    assert_eq!(n.sigma["Image"], "/usr/bin/tetragon");
    assert_eq!(n.ocsf["finding_info"]["attacks"][0]["technique"]["uid"], "T1218");
    insta::assert_json_snapshot!("alert_http_envelope", view(n));
}

#[test]
fn snapshot_one_alert_per_sample_file() {
    let Some(root) = corpus() else { return };
    let dir = root.join("samples/kubescape/node-agent");
    // (file, which line): a shape representative of each file.
    let picks = [
        ("honeycluster", ALERT_FILES[0], "\"RuleID\":\"R0010\""),
        ("webapp_attack", ALERT_FILES[1], "\"RuleID\":\"R0001\""),
        ("bob_dedup", ALERT_FILES[2], "\"RuleID\":\"R0005\""),
        ("partial_snippet", ALERT_FILES[3], "\"Unexpected process launched\""),
    ];
    for (name, file, needle) in picks {
        let text = read(&dir.join(file));
        let line = lines(&text).into_iter().map(|(_, l)| l).find(|l| l.contains(needle)).expect("pick exists");
        let out = decode_alert_line(&mut AutoDecoder::new(None), line).expect("decodes");
        insta::assert_json_snapshot!(format!("alert_{name}"), view(&out[0]));
    }
}

#[test]
fn corrupted_alert_copy_yields_the_right_dead_letters() {
    let Some(root) = corpus() else { return };
    let text = read(&root.join("samples/kubescape/node-agent/stdout_alerts_k8sstormcenter-bob_dedup.jsonl"));
    let mut records: Vec<String> = lines(&text).into_iter().map(|(_, l)| l.to_owned()).collect();
    let edit = |line: &str, f: &dyn Fn(&mut Value)| {
        let mut v: Value = serde_json::from_str(line).expect("JSON");
        f(&mut v);
        v.to_string()
    };
    let mut expected = Vec::new();
    // Truncated mid-record (a partial write).
    records[1] = cut(&records[1], records[1].len() / 2).to_owned();
    expected.push((1, DeadLetterReason::InvalidJson));
    // A pid that is text.
    records[4] = edit(&records[4], &|v| v["BaseRuntimeMetadata"]["infectedPID"] = "4242".into());
    expected.push((4, DeadLetterReason::InvalidField));
    // A timestamp that is no time.
    records[7] = edit(&records[7], &|v| v["BaseRuntimeMetadata"]["timestamp"] = "half past nine".into());
    expected.push((7, DeadLetterReason::InvalidField));
    // Every time removed.
    records[10] = edit(&records[10], &|v| {
        v["BaseRuntimeMetadata"].as_object_mut().expect("object").remove("timestamp");
        v["event"].as_object_mut().expect("object").remove("timestamp");
        v.as_object_mut().expect("object").remove("time");
    });
    expected.push((10, DeadLetterReason::MissingField));
    // Neither a rule id nor an alert name.
    records[13] = edit(&records[13], &|v| {
        v["BaseRuntimeMetadata"].as_object_mut().expect("object").remove("alertName");
        v.as_object_mut().expect("object").remove("RuleID");
    });
    expected.push((13, DeadLetterReason::MissingField));
    // The process tree is a string.
    records[16] = edit(&records[16], &|v| v["RuntimeProcessDetails"]["processTree"] = "sh".into());
    expected.push((16, DeadLetterReason::InvalidField));

    let mut auto = AutoDecoder::new(None);
    let mut good = 0;
    let mut dead = Vec::new();
    for (i, record) in records.iter().enumerate() {
        let mut out = Vec::new();
        match auto.decode(record, &mut out) {
            Ok(kind) => {
                assert_eq!(kind, SourceKind::KubescapeAlert);
                good += out.len();
            }
            Err(e) => {
                assert!(!e.message.is_empty());
                dead.push((i, e.reason));
            }
        }
    }
    assert_eq!(dead, expected);
    assert_eq!(good, records.len() - expected.len());
}

/// Each report's failed (control, resource) pairs, from its own summary counters.
fn failed_resources(report: &Value) -> u64 {
    report["summaryDetails"]["controls"]
        .as_object()
        .expect("summaryDetails.controls")
        .values()
        .map(|c| c["ResourceCounters"]["failedResources"].as_u64().unwrap_or(0))
        .sum()
}

#[test]
fn every_scan_report_is_sniffed_and_decoded() {
    let Some(root) = corpus() else { return };
    let dir = root.join("samples/kubescape/scan-results");
    let mut files: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("scan dir").map(|e| e.expect("entry").path()).collect();
    files.sort();
    assert_eq!(files.len(), 4);
    let mut versions = BTreeSet::new();
    for path in files {
        let name = path.file_name().and_then(|n| n.to_str()).expect("name").to_owned();
        let record = read(&path);
        assert_eq!(sniff_record(&record), Some(SourceKind::KubescapeScan), "{name}");
        let mut out = Vec::new();
        let kind = AutoDecoder::new(None).decode(&record, &mut out).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(kind, SourceKind::KubescapeScan);
        let report: Value = serde_json::from_str(&record).expect("JSON");
        assert_eq!(out.len() as u64, failed_resources(&report), "{name}: findings vs failedResources");
        let mut uids = BTreeSet::new();
        for n in &out {
            assert_eq!(n.ocsf["class_uid"], 2003);
            assert_eq!(n.ocsf["compliance"]["status_id"], 3);
            assert!(n.ocsf["compliance"]["standards"].as_array().is_some_and(|s| !s.is_empty()), "{name}");
            assert!((1..=5).contains(&n.ocsf["severity_id"].as_u64().unwrap_or(0)), "{name}: severity");
            assert!(uids.insert(n.ocsf["finding_info"]["uid"].as_str().expect("uid").to_owned()), "uid unique");
        }
        eprintln!("{name}: {} findings", out.len());
        versions.extend(
            out.iter().filter_map(|n| n.ocsf["unmapped"]["kubescape"]["format_version"].as_str()).map(str::to_owned),
        );
    }
    assert_eq!(versions, ["v1", "v2"].iter().map(|s| (*s).to_owned()).collect());
}

#[test]
fn snapshot_one_finding_per_format_version() {
    let Some(root) = corpus() else { return };
    let dir = root.join("samples/kubescape/scan-results");
    // v1: a repository scan (kubescape 2.x); v2: a k3d cluster scan (kubescape 3.0.1),
    // on a namespaced workload.
    for (version, file, control, resource) in [
        ("v1", "defectdojo_many_findings.json", "C-0017", "Deployment/paymentservice"),
        ("v2", "scape-a-lyzer_k3d_sample.json", "C-0055", "kube-system/Deployment/local-path-provisioner"),
    ] {
        let mut out = Vec::new();
        AutoDecoder::new(None).decode(&read(&dir.join(file)), &mut out).expect("decodes");
        let n = out
            .iter()
            .find(|n| {
                n.sigma["ControlID"] == control && n.sigma["ResourceID"].as_str().is_some_and(|r| r.ends_with(resource))
            })
            .unwrap_or_else(|| panic!("{file}: no {control} finding on {resource}"));
        assert_eq!(n.ocsf["unmapped"]["kubescape"]["format_version"], version);
        insta::assert_json_snapshot!(format!("scan_finding_{version}"), view(n));
    }
}

#[test]
fn corrupted_scan_reports_yield_the_right_dead_letters() {
    let Some(root) = corpus() else { return };
    let record = read(&root.join("samples/kubescape/scan-results/defectdojo_with_a_failure.json"));
    let mut report: Value = serde_json::from_str(&record).expect("JSON");
    let decode = |text: &str| {
        let mut out = Vec::new();
        AutoDecoder::new(None).decode(text, &mut out).map(|_| out.len())
    };
    assert_eq!(decode(&record), Ok(3));
    // Cut short (a partial download).
    assert_eq!(decode(cut(&record, record.len() * 2 / 3)).unwrap_err().reason, DeadLetterReason::InvalidJson);
    // A control whose status is a number.
    report["results"][0]["controls"][2]["status"]["status"] = 3.into();
    let e = decode(&report.to_string()).unwrap_err();
    assert_eq!(e.reason, DeadLetterReason::InvalidField, "{e}");
    assert!(e.message.contains("results[0].controls[2]"), "{e}");
    // No results at all.
    report.as_object_mut().expect("object").remove("results");
    assert_eq!(decode(&report.to_string()).unwrap_err().reason, DeadLetterReason::MissingField);
}
