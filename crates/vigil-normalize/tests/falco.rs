//! Falco decoder on the real samples in `$VIGIL_CORPUS/samples/falco` (json_output
//! alerts, one per line — `falco-test_single_rule_with_cat_write.json` is JSON lines
//! despite its name): every line is sniffed as Falco and decodes; the plain-text output
//! file is not Falco JSON and is not claimed; a corrupted copy yields the expected dead
//! letters while its good lines still decode; one snapshot per event type (a syscall
//! alert, a k8s_audit alert).

use std::path::{Path, PathBuf};

use serde_json::{json, Value};
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

/// JSON-lines sample files and their line counts.
const JSON_FILES: [(&str, usize); 3] = [
    ("elastic-integrations_test-falco_first4.jsonl", 4),
    ("falco-test_single_rule_with_cat_write.json", 8),
    ("k8s_audit_source_example_anonymous_request.jsonl", 1),
];

/// Not json_output: Falco's plain-text output (`json_output: false`) of the same 8
/// alerts as the `.json` file. Out of scope (no structure beyond time, priority and the
/// rendered message); it must not be mistaken for Falco JSON.
const TEXT_FILE: &str = "falco-test_single_rule_with_cat_write.txt";

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect()
}

fn view(n: &Normalized) -> Value {
    json!({
        "logsource": n.logsource,
        "time": n.time.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)),
        "ocsf": n.ocsf,
        "sigma": n.sigma,
    })
}

fn decode(auto: &mut AutoDecoder, line: &str) -> Result<Normalized, vigil_normalize::DecodeError> {
    let mut out = Vec::new();
    let kind = auto.decode(line, &mut out)?;
    assert_eq!(kind, SourceKind::Falco, "{line}");
    assert_eq!(out.len(), 1);
    Ok(out.remove(0))
}

#[test]
fn every_sample_line_is_sniffed_and_decoded() {
    let Some(root) = corpus() else { return };
    let dir = root.join("samples/falco");
    let mut auto = AutoDecoder::new(None);
    for (file, count) in JSON_FILES {
        let text = read(&dir.join(file));
        let records = lines(&text);
        assert_eq!(records.len(), count, "{file}");
        for (i, line) in records.iter().enumerate() {
            assert_eq!(sniff_record(line), Some(SourceKind::Falco), "{file}:{}", i + 1);
            let n = decode(&mut auto, line).unwrap_or_else(|e| panic!("{file}:{}: {e}", i + 1));
            assert_eq!(n.ocsf["class_uid"], 2004);
            assert!(n.time.is_some());
            assert!((1..=5).contains(&n.ocsf["severity_id"].as_u64().unwrap_or(0)));
            assert_eq!(n.sigma["Rule"], n.ocsf["finding_info"]["title"]);
        }
    }
    for line in lines(&read(&dir.join(TEXT_FILE))) {
        assert_ne!(sniff_record(line), Some(SourceKind::Falco), "{line}");
    }
}

#[test]
fn snapshot_one_alert_per_event_type() {
    let Some(root) = corpus() else { return };
    let dir = root.join("samples/falco");
    let syscall = read(&dir.join(JSON_FILES[0].0));
    // The richest syscall alert: parent executable, command lines, container image.
    let line = lines(&syscall).into_iter().find(|l| l.contains("Run shell untrusted")).expect("sample line");
    let n = decode(&mut AutoDecoder::new(None), line).expect("decodes");
    assert_eq!(n.sigma["Image"], "/bin/bash");
    assert_eq!(n.sigma["ParentImage"], "/bin/event-generator");
    insta::assert_json_snapshot!("falco_syscall", view(&n));

    let audit = read(&dir.join(JSON_FILES[2].0));
    let n = decode(&mut AutoDecoder::new(None), lines(&audit)[0]).expect("decodes");
    assert_eq!(n.ocsf["metadata"]["log_name"], "k8s_audit");
    assert_eq!(n.sigma["User"], "system:anonymous");
    insta::assert_json_snapshot!("falco_k8s_audit", view(&n));
}

#[test]
fn corrupted_copy_yields_the_right_dead_letters() {
    let Some(root) = corpus() else { return };
    let dir = root.join("samples/falco");
    let mut records: Vec<String> = Vec::new();
    for (file, _) in JSON_FILES {
        records.extend(lines(&read(&dir.join(file))).into_iter().map(str::to_owned));
    }
    let edit = |line: &str, f: &dyn Fn(&mut Value)| {
        let mut v: Value = serde_json::from_str(line).expect("JSON");
        f(&mut v);
        v.to_string()
    };
    let mut expected = Vec::new();
    let half = records[0].len() / 2;
    records[0] = records[0][..half].to_owned(); // ASCII sample: any byte is a boundary
    expected.push((0, DeadLetterReason::InvalidJson));
    records[1] = edit(&records[1], &|v| {
        v.as_object_mut().expect("object").remove("rule");
    });
    expected.push((1, DeadLetterReason::MissingField));
    records[2] = edit(&records[2], &|v| v["priority"] = "Loud".into());
    expected.push((2, DeadLetterReason::InvalidField));
    records[5] = edit(&records[5], &|v| v["time"] = "last tuesday".into());
    expected.push((5, DeadLetterReason::InvalidField));
    records[7] = edit(&records[7], &|v| v["tags"] = "filesystem".into());
    expected.push((7, DeadLetterReason::InvalidField));

    let mut auto = AutoDecoder::new(None);
    let mut dead = Vec::new();
    let mut good = 0;
    for (i, record) in records.iter().enumerate() {
        match decode(&mut auto, record) {
            Ok(_) => good += 1,
            Err(e) => {
                assert!(!e.message.is_empty());
                dead.push((i, e.reason));
            }
        }
    }
    assert_eq!(dead, expected);
    assert_eq!(good, records.len() - expected.len());
}
