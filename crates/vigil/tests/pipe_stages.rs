//! `vigil parse | vigil detect | vigil sink` through the real binary and real pipes:
//! every line a stage writes validates against its contract in `schemas/`, the stages
//! compose, and bad lines are counted, not fatal.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use serde_json::{json, Value};
use vigil_store::{AlertQuery, Store, StoreOptions};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().expect("repo root")
}

fn vigil() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_vigil"));
    command.current_dir(repo_root());
    command
}

/// Runs one stage with `input` on its stdin.
fn stage(args: &[&str], input: &[u8]) -> Output {
    let mut child = vigil()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil starts");
    let mut stdin = child.stdin.take().expect("stdin");
    let input = input.to_vec();
    // Written from another thread: a stage may fill its stdout before reading all input.
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    let output = child.wait_with_output().expect("vigil runs");
    writer.join().expect("writer");
    output
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn json_lines(bytes: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

/// The JSON lines among the human messages on stderr (parse's default dead-letter output).
fn json_lines_of_stderr(o: &Output) -> Vec<Value> {
    stderr(o).lines().filter(|l| l.starts_with('{')).map(|l| serde_json::from_str(l).expect("JSON")).collect()
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vigil-pipe-stages-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The shared corpus, or `None` (with a visible message) when it is not configured.
/// Under CI the corpus is required.
fn corpus() -> Option<PathBuf> {
    match std::env::var_os("VIGIL_CORPUS") {
        Some(p) => {
            let p = PathBuf::from(p);
            let p = if p.is_relative() { repo_root().join(p) } else { p };
            assert!(p.is_dir(), "VIGIL_CORPUS={} is not a directory", p.display());
            Some(p)
        }
        None if std::env::var("CI").as_deref() == Ok("true") => panic!("VIGIL_CORPUS must be set under CI"),
        None => {
            eprintln!("skipped: VIGIL_CORPUS not set");
            None
        }
    }
}

struct Contracts {
    raw: jsonschema::Validator,
    event: jsonschema::Validator,
    alert: jsonschema::Validator,
    dead_letter: jsonschema::Validator,
}

fn contracts() -> Contracts {
    let load = |name: &str| {
        let path = repo_root().join("schemas").join(name);
        let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).expect("schema file")).expect("JSON");
        assert_eq!(schema["$schema"], "https://json-schema.org/draft/2020-12/schema", "{name}");
        if let Err(e) = jsonschema::draft202012::meta::validate(&schema) {
            panic!("{name} is not a valid 2020-12 schema: {e}");
        }
        jsonschema::draft202012::options().should_validate_formats(true).build(&schema).expect("schema compiles")
    };
    Contracts {
        raw: load("raw-event.schema.json"),
        event: load("enriched-event.schema.json"),
        alert: load("alert.schema.json"),
        dead_letter: load("dead-letter.schema.json"),
    }
}

#[track_caller]
fn assert_valid(validator: &jsonschema::Validator, line: &Value) {
    if let Err(e) = validator.validate(line) {
        panic!("{e} (at {}) in {line}", e.instance_path);
    }
}

impl Contracts {
    /// Checks every line against the contract its `kind` names.
    #[track_caller]
    fn assert_lines_valid(&self, lines: &[Value]) {
        for line in lines {
            let validator = match line["kind"].as_str() {
                Some("event") => &self.event,
                Some("alert") => &self.alert,
                Some("dead_letter") => &self.dead_letter,
                Some("raw") => &self.raw,
                other => panic!("unexpected kind {other:?} in {line}"),
            };
            assert_valid(validator, line);
        }
    }
}

const BRUTE_FORCE_ID: &str = "d8ce9685-5269-4de6-8c43-501e9c7a782e";

/// Ten failed logins of one address in 20 s (loghub LabSZ, as in the rule's own tests).
const BRUTE_FORCE: [&str; 10] = [
    "Dec 10 10:54:29 LabSZ sshd[24868]: Failed password for invalid user zhangyan from 183.62.140.253 port 33521 ssh2",
    "Dec 10 10:54:31 LabSZ sshd[24870]: Failed password for invalid user dff from 183.62.140.253 port 33902 ssh2",
    "Dec 10 10:54:33 LabSZ sshd[24872]: Failed password for root from 183.62.140.253 port 34263 ssh2",
    "Dec 10 10:54:35 LabSZ sshd[24874]: Failed password for root from 183.62.140.253 port 34712 ssh2",
    "Dec 10 10:54:37 LabSZ sshd[24877]: Failed password for root from 183.62.140.253 port 35013 ssh2",
    "Dec 10 10:54:39 LabSZ sshd[24879]: Failed password for root from 183.62.140.253 port 35457 ssh2",
    "Dec 10 10:54:41 LabSZ sshd[24882]: Failed password for root from 183.62.140.253 port 35825 ssh2",
    "Dec 10 10:54:43 LabSZ sshd[24884]: Failed password for root from 183.62.140.253 port 36196 ssh2",
    "Dec 10 10:54:45 LabSZ sshd[24886]: Failed password for root from 183.62.140.253 port 36525 ssh2",
    "Dec 10 10:54:47 LabSZ sshd[24888]: Failed password for root from 183.62.140.253 port 36961 ssh2",
];

fn brute_force_input() -> String {
    BRUTE_FORCE.iter().map(|l| format!("{l}\n")).collect()
}

/// A rule that reports every failed password on its own, for alert aggregation.
const FAILED_PASSWORD_RULE: &str = r#"
title: sshd failed password
id: 5b0f3e1c-2a4d-4c7e-9f61-0c8d2e7a9b13
logsource:
  product: linux
  service: sshd
detection:
  selection:
    message|startswith: 'Failed password for '
  condition: selection
level: low
"#;

const EVENT_ID: &str = "0b5e9a4c-3c1e-4a59-9f0e-2d8f7c6b5a41";

fn sample_event() -> Value {
    json!({"kind": "event", "event_id": EVENT_ID, "time_ms": 1, "received_ms": 2, "source": "syslog",
           "origin": "stdin", "class_uid": 3002, "host": "h", "src_ip": null, "user": null,
           "logsource": {"product": "linux", "service": "sshd"}, "sigma": {"message": "m"}, "ocsf": {}, "raw": "m"})
}

fn sample_new_alert() -> Value {
    json!({"kind": "alert", "change": "new", "alert_id": EVENT_ID, "rule_id": "r", "rule_title": "R",
           "level": "low", "tags": [], "group_key": "", "first_seen_ms": 1, "last_seen_ms": 1, "count": 1,
           "host": null, "src_ip": null, "user": null, "event_ids": [EVENT_ID], "details": {}})
}

fn with(mut value: Value, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> Value {
    edit(value.as_object_mut().expect("object"));
    value
}

#[test]
fn the_schemas_and_the_stages_accept_and_refuse_the_same_lines() {
    let c = contracts();
    let event = sample_event();
    let new = sample_new_alert();
    let repeat = json!({"kind": "alert", "change": "repeat", "alert_id": EVENT_ID, "count": 3,
                        "last_seen_ms": 5, "event_ids": []});
    let letter = json!({"kind": "dead_letter", "received_ms": 1, "origin": "stdin", "position": 3,
                        "reason": "invalid_json", "message": "m", "decoder": null, "raw": "{"});
    let set = |value: &Value, name: &str, v: Value| with(value.clone(), |o| drop(o.insert(name.into(), v)));
    let unset = |value: &Value, name: &str| with(value.clone(), |o| drop(o.remove(name)));
    let broken = [
        set(&event, "extra", json!(1)),
        unset(&event, "user"),
        unset(&event, "time_ms"),
        set(&event, "event_id", json!("E-1")),
        set(&event, "event_id", json!(EVENT_ID.to_uppercase())),
        set(&event, "source", json!("nope")),
        set(&event, "sigma", json!("text")),
        set(&event, "origin", json!("")),
        set(&event, "logsource", json!({"product": "linux", "os": "x"})),
        set(&event, "class_uid", json!(1.5)),
        unset(&new, "rule_id"),
        set(&new, "count", json!(0)),
        set(&new, "details", json!([])),
        set(&new, "event_ids", json!(["x"])),
        set(&repeat, "rule_id", json!("r")),
        set(&repeat, "change", json!("again")),
        set(&letter, "raw", json!("x".repeat(4097))),
        set(&letter, "position", json!(-1)),
        unset(&letter, "decoder"),
        json!({"kind": "other"}),
    ];
    for line in [&event, &new, &repeat, &letter] {
        assert_valid(
            match line["kind"].as_str() {
                Some("event") => &c.event,
                Some("alert") => &c.alert,
                _ => &c.dead_letter,
            },
            line,
        );
    }
    for line in &broken {
        let refused = match line["kind"].as_str() {
            Some("event") => !c.event.is_valid(line),
            Some("alert") => !c.alert.is_valid(line),
            Some("dead_letter") => !c.dead_letter.is_valid(line),
            _ => true,
        };
        assert!(refused, "the schema accepts {line}");
    }
    let input: String = [&event, &new, &repeat, &letter].into_iter().chain(&broken).map(|l| format!("{l}\n")).collect();
    let dir = temp_dir("contracts");
    let out = stage(&["sink", "--store", dir.to_str().unwrap()], input.as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stderr(&out).contains(&format!("; {} invalid lines", broken.len())), "{}", stderr(&out));
    let store = Store::open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(store.counts().unwrap(), (1, 1, 1));
    assert_eq!(store.alert(EVENT_ID).unwrap().expect("the alert").count, 4, "the repeat was applied");

    assert_valid(&c.raw, &json!({"kind": "raw", "raw": "a line"}));
    assert!(!c.raw.is_valid(&json!({"kind": "raw", "raw": "a line", "source": "Syslog"})));
    assert!(!c.raw.is_valid(&json!({"kind": "raw"})));
}

#[test]
fn parse_writes_valid_enriched_events_for_the_bundled_examples() {
    let c = contracts();
    let out = vigil().args(["parse", "examples/hunt/events.jsonl"]).output().expect("vigil runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let events = json_lines(&out.stdout);
    assert_eq!(events.len(), 12, "{}", stderr(&out));
    c.assert_lines_valid(&events);
    assert!(events.iter().all(|e| e["source"] == "windows" && e["origin"] == "file:examples/hunt/events.jsonl"));
    let ids: BTreeSet<&str> = events.iter().map(|e| e["event_id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 12, "event ids are distinct");
    assert_eq!(events[0]["time_ms"], 1_795_165_201_000_i64, "2026-11-20T09:00:01Z");
    assert_eq!(events[0]["sigma"]["Computer"], "ws17.corp.example");
}

#[test]
fn pretty_printed_json_records_still_give_one_event_per_line() {
    let c = contracts();
    let dir = temp_dir("pretty");
    let record = json!({"eventid": "cowrie.command.input", "input": "uname -a", "message": "CMD: uname -a",
                        "sensor": "hp1", "timestamp": "2026-03-27T03:19:20.1Z", "src_ip": "198.51.100.7",
                        "session": "4a1f84ff5555"});
    let file = dir.join("pretty.json");
    std::fs::write(&file, serde_json::to_string_pretty(&json!([record, record])).unwrap()).unwrap();
    let out = vigil().args(["parse", file.to_str().unwrap()]).output().expect("vigil runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let events = json_lines(&out.stdout);
    c.assert_lines_valid(&events);
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["sigma"]["CommandLine"], "uname -a");
    assert!(events[0]["raw"].as_str().unwrap().contains('\n'), "the record is kept as written");
}

#[test]
fn parse_writes_valid_enriched_events_for_every_corpus_source() {
    let c = contracts();
    let Some(corpus) = corpus() else { return };
    let samples = corpus.join("samples");
    let inputs = [
        "linux-auth",
        "cowrie/bilal05tariq-aws-simulated",
        "tetragon/testdata_events.jsonl",
        "tetragon/third-party",
        "k8s-audit",
        "falco",
        "kubescape/node-agent/stdout_alerts_honeycluster.jsonl",
        "kubescape/scan-results",
        "otrf-security-datasets/linux/sh_arp_cache_2020-11-10074812.log",
    ];
    let dir = temp_dir("corpus");
    let dead = dir.join("dead.ndjson");
    let mut args = vec!["parse".to_owned(), "--dead-letter".to_owned(), dead.display().to_string()];
    args.extend(inputs.iter().map(|i| samples.join(i).display().to_string()));
    let out = vigil().args(&args).output().expect("vigil runs");
    assert!(out.status.success(), "{}", stderr(&out));
    let events = json_lines(&out.stdout);
    c.assert_lines_valid(&events);
    assert!(events.iter().all(|e| e["kind"] == "event"), "only events on stdout");
    let mut per_source: BTreeMap<&str, usize> = BTreeMap::new();
    for e in &events {
        *per_source.entry(e["source"].as_str().unwrap()).or_default() += 1;
    }
    for source in ["syslog", "cowrie", "tetragon", "k8s-audit", "falco", "kubescape", "kubescape-scan", "auditd"] {
        assert!(per_source.get(source).is_some_and(|n| *n > 0), "no {source} events: {per_source:?}");
    }
    let letters = json_lines(&std::fs::read(&dead).expect("dead-letter file"));
    c.assert_lines_valid(&letters);
    assert!(letters.iter().all(|l| l["kind"] == "dead_letter"));
    assert!(stderr(&out).contains(&format!("vigil parse: {} events", events.len())), "{}", stderr(&out));
}

#[test]
fn parse_then_detect_raises_the_brute_force_after_the_events_that_complete_it() {
    let c = contracts();
    let parsed = stage(&["parse"], brute_force_input().as_bytes());
    assert!(parsed.status.success(), "{}", stderr(&parsed));
    let detected = stage(&["detect", "--rules", "rules/ssh"], &parsed.stdout);
    assert!(detected.status.success(), "{}", stderr(&detected));
    let lines = json_lines(&detected.stdout);
    c.assert_lines_valid(&lines);
    let event_ids: Vec<&str> =
        lines.iter().filter(|l| l["kind"] == "event").map(|l| l["event_id"].as_str().unwrap()).collect();
    assert_eq!(event_ids.len(), 10, "events are written through");
    let parsed_lines = json_lines(&parsed.stdout);
    let input_ids: Vec<&str> = parsed_lines.iter().map(|l| l["event_id"].as_str().unwrap()).collect();
    assert_eq!(event_ids, input_ids, "same events, same order");
    let at = lines.iter().position(|l| l["rule_id"] == BRUTE_FORCE_ID).expect("the brute-force alert");
    let alert = &lines[at];
    assert_eq!(lines[..at].iter().filter(|l| l["kind"] == "event").count(), 10, "after the tenth event");
    assert_eq!((alert["kind"].as_str(), alert["change"].as_str()), (Some("alert"), Some("new")));
    assert_eq!(alert["details"]["correlation"], "event_count");
    assert_eq!(alert["details"]["group"]["SourceIp"], "183.62.140.253");
    assert_eq!(alert["src_ip"], "183.62.140.253");
    let linked: Vec<&str> = alert["event_ids"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(linked, event_ids, "the alert links the ten events");
    assert!(stderr(&detected).contains("10 events, 1 new alerts"), "{}", stderr(&detected));

    let alerts_only = stage(&["detect", "--alerts-only", "--rules", "rules/ssh"], &parsed.stdout);
    let lines = json_lines(&alerts_only.stdout);
    c.assert_lines_valid(&lines);
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0]["rule_id"], BRUTE_FORCE_ID);
}

/// Starts `vigil args…` reading from `stdin`, writing to a pipe.
fn spawn(args: &[&str], stdin: Stdio) -> Child {
    vigil().args(args).stdin(stdin).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("vigil starts")
}

#[test]
fn parse_detect_sink_through_unix_pipes_fill_a_store() {
    let c = contracts();
    let dir = temp_dir("chain");
    let rule = dir.join("failed_password.yml");
    std::fs::write(&rule, FAILED_PASSWORD_RULE).unwrap();
    let input = dir.join("auth.log");
    std::fs::write(&input, format!("{}this line is no known format\n", brute_force_input())).unwrap();
    let dead = dir.join("dead.ndjson");
    let store_dir = dir.join("store");

    let mut parse = spawn(&["parse", "--dead-letter", dead.to_str().unwrap(), input.to_str().unwrap()], Stdio::null());
    let parse_out = parse.stdout.take().unwrap();
    let rules = ["detect", "--aggregation-window", "10m", "--rules", "rules/ssh", rule.to_str().unwrap()];
    let mut detect = spawn(&rules, Stdio::from(parse_out));
    let detect_out = detect.stdout.take().unwrap();
    let sink = spawn(&["sink", "--store", store_dir.to_str().unwrap(), "--batch", "4"], Stdio::from(detect_out));
    let sink = sink.wait_with_output().unwrap();
    let (parse, detect) = (parse.wait_with_output().unwrap(), detect.wait_with_output().unwrap());
    for (name, out) in [("parse", &parse), ("detect", &detect), ("sink", &sink)] {
        assert!(out.status.success(), "{name}: {}", stderr(out));
    }
    // Three users failed (zhangyan, dff, root): three alerts of the failed-password rule,
    // root's seven later failures folded into repeats, and the brute force.
    assert!(stderr(&detect).contains("10 events, 4 new alerts, 7 repeats"), "{}", stderr(&detect));
    assert!(stderr(&sink).contains("stored 10 events"), "{}", stderr(&sink));

    let letters = json_lines(&std::fs::read(&dead).unwrap());
    c.assert_lines_valid(&letters);
    assert_eq!(letters.len(), 1);
    assert_eq!((letters[0]["reason"].as_str(), letters[0]["position"].as_u64()), (Some("unknown_format"), Some(11)));
    // Dead letters are contract lines too: the sink stores them.
    let stored_letters = stage(&["sink", "--store", store_dir.to_str().unwrap()], &std::fs::read(&dead).unwrap());
    assert!(stored_letters.status.success(), "{}", stderr(&stored_letters));

    let store = Store::open(&store_dir, StoreOptions::default()).unwrap();
    assert_eq!(store.counts().unwrap(), (10, 4, 1));
    let alerts = store.alerts(&AlertQuery::default()).unwrap().items;
    let brute_force = alerts.iter().find(|a| a.rule_id == BRUTE_FORCE_ID).expect("brute-force alert stored");
    assert_eq!(brute_force.event_ids.len(), 10);
    for id in &brute_force.event_ids {
        let event = store.event(id).unwrap().expect("linked events are stored");
        assert_eq!(event.src_ip.as_deref(), Some("183.62.140.253"));
        assert!(event.origin.starts_with("file:") && event.origin.ends_with("auth.log"));
    }
    let root = alerts.iter().find(|a| a.rule_title == "sshd failed password" && a.user.as_deref() == Some("root"));
    let root = root.expect("root's failed-password alert");
    assert_eq!((root.count, root.event_ids.len()), (8, 8));
    assert!(root.last_seen_ms > root.first_seen_ms);
}

#[test]
fn raw_envelopes_carry_origin_source_and_receive_time_and_round_trip() {
    let c = contracts();
    let envelopes = [
        json!({"kind": "raw", "raw": BRUTE_FORCE[2], "origin": "collector-7", "source": "syslog", "received_ms": 1234}),
        json!({"raw": "{\"eventid\":\"cowrie.login.failed\",\"username\":\"u\",\"password\":\"p\",\"src_ip\":\"198.51.100.7\",\"session\":\"s1\",\"timestamp\":\"2026-03-20T01:45:11.2Z\"}", "kind": "raw"}),
    ];
    let refused = [
        json!({"kind": "raw", "raw": BRUTE_FORCE[3], "source": "Syslog"}),
        json!({"kind": "raw", "raw": BRUTE_FORCE[3], "note": "extra"}),
    ];
    for e in &envelopes {
        assert_valid(&c.raw, e);
    }
    for e in &refused {
        assert!(!c.raw.is_valid(e), "the schema refuses {e}");
    }
    let input: String = envelopes.iter().chain(&refused).map(|e| format!("{e}\n")).collect();
    let out = stage(&["parse"], format!("{input}{}\n", BRUTE_FORCE[4]).as_bytes());
    assert!(out.status.success(), "{}", stderr(&out));
    let events = json_lines(&out.stdout);
    c.assert_lines_valid(&events);
    let summary: Vec<(&str, &str, &str)> = events
        .iter()
        .map(|e| (e["source"].as_str().unwrap(), e["origin"].as_str().unwrap(), e["raw"].as_str().unwrap()))
        .collect();
    assert_eq!(
        summary,
        [
            ("syslog", "collector-7", BRUTE_FORCE[2]),
            ("cowrie", "stdin", envelopes[1]["raw"].as_str().unwrap()),
            ("syslog", "stdin", BRUTE_FORCE[4]),
        ]
    );
    assert_eq!(events[0]["received_ms"], 1234);
    assert_ne!(events[1]["received_ms"], 1234);
    let letters = json_lines_of_stderr(&out);
    c.assert_lines_valid(&letters);
    let reasons: Vec<(u64, &str)> =
        letters.iter().map(|l| (l["position"].as_u64().unwrap(), l["reason"].as_str().unwrap())).collect();
    assert_eq!(reasons, [(3, "invalid_envelope"), (4, "invalid_envelope")]);

    // An event's record, wrapped again with its origin, source and receive time, decodes
    // to the same event (with a new id).
    let rewrapped: String = events
        .iter()
        .map(|e| {
            let envelope = json!({"kind": "raw", "raw": e["raw"], "origin": e["origin"], "source": e["source"],
                                  "received_ms": e["received_ms"]});
            assert_valid(&c.raw, &envelope);
            format!("{envelope}\n")
        })
        .collect();
    let again = stage(&["parse"], rewrapped.as_bytes());
    let again = json_lines(&again.stdout);
    assert_eq!(again.len(), events.len());
    for (first, second) in events.iter().zip(&again) {
        assert_ne!(first["event_id"], second["event_id"]);
        let without_id = |e: &Value| with(e.clone(), |o| drop(o.remove("event_id")));
        assert_eq!(without_id(first), without_id(second));
    }
}

#[test]
fn bad_lines_are_counted_and_every_stage_goes_on() {
    let c = contracts();
    // parse: unknown text, invalid UTF-8, broken JSON between good lines.
    let mut input = format!("{}\njust words\n", BRUTE_FORCE[0]).into_bytes();
    input.extend_from_slice(b"\xff\xfe not text\n{\"eventid\":\"cowrie.login\n");
    input.extend_from_slice(format!("{}\n", BRUTE_FORCE[1]).as_bytes());
    let parsed = stage(&["parse"], &input);
    assert!(parsed.status.success(), "{}", stderr(&parsed));
    let events = json_lines(&parsed.stdout);
    assert_eq!(events.len(), 2);
    let letters = json_lines_of_stderr(&parsed);
    c.assert_lines_valid(&letters);
    let reasons: Vec<&str> = letters.iter().map(|l| l["reason"].as_str().unwrap()).collect();
    assert_eq!(reasons, ["unknown_format", "invalid_utf8", "invalid_json"]);

    // detect and sink: lines that break each contract in a different way.
    let good = serde_json::to_string(&events[0]).unwrap();
    let letter = serde_json::to_string(&letters[0]).unwrap();
    let upper_case_id = good.replace(events[0]["event_id"].as_str().unwrap(), &EVENT_ID.to_uppercase());
    let extra_member = good.replacen('{', "{\"extra\":1,", 1);
    let without_user = serde_json::to_string(&with(events[1].clone(), |o| drop(o.remove("user")))).unwrap();
    let bad: Vec<String> = vec![
        "not json".into(),
        r#"{"kind":"raw","raw":"x"}"#.into(),
        r#"{"kind":"nope"}"#.into(),
        good[..good.len() / 2].into(),
        upper_case_id,
        extra_member,
        without_user,
    ];
    let mut lines: Vec<u8> = bad.iter().flat_map(|l| format!("{l}\n").into_bytes()).collect();
    lines.extend_from_slice(b"\xff\n\n");
    lines.extend_from_slice(format!("{good}\n{letter}\n").as_bytes());

    let detected = stage(&["detect", "--rules", "rules/ssh"], &lines);
    assert!(detected.status.success(), "{}", stderr(&detected));
    let through = json_lines(&detected.stdout);
    c.assert_lines_valid(&through);
    let kinds: Vec<&str> = through.iter().map(|l| l["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["event", "dead_letter"], "the good event and the upstream dead letter");
    assert_eq!(through[0]["event_id"], events[0]["event_id"]);
    assert!(
        stderr(&detected).contains(
            "1 events, 0 new alerts, 0 repeats, 1 lines passed through, 0 events not evaluable, 8 invalid lines"
        ),
        "{}",
        stderr(&detected)
    );
    assert!(stderr(&detected).contains("line 2 skipped: a raw event"), "{}", stderr(&detected));

    let dir = temp_dir("bad-lines");
    let sunk = stage(&["sink", "--store", dir.to_str().unwrap()], &lines);
    assert!(sunk.status.success(), "{}", stderr(&sunk));
    assert!(stderr(&sunk).contains("8 invalid lines"), "{}", stderr(&sunk));
    let store = Store::open(&dir, StoreOptions::default()).unwrap();
    assert_eq!(store.counts().unwrap(), (1, 0, 1));
}

#[test]
fn a_live_stream_is_flushed_while_its_input_stays_open() {
    use std::io::BufRead;
    let mut parse = vigil()
        .args(["parse"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil starts");
    let parse_out = parse.stdout.take().unwrap();
    let mut detect = vigil()
        .args(["detect", "--rules", "rules/ssh"])
        .stdin(Stdio::from(parse_out))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil starts");
    let detect_out = std::io::BufReader::new(detect.stdout.take().unwrap());
    let mut parse_in = parse.stdin.take().unwrap();
    parse_in.write_all(brute_force_input().as_bytes()).unwrap();
    parse_in.flush().unwrap();
    // Input stays open. Were output held until the end, the read below would never
    // return: a watchdog ends the stages after a generous while so the test fails
    // instead of hanging.
    let children = std::sync::Arc::new(std::sync::Mutex::new(vec![parse, detect]));
    let (done, watchdog_wait) = std::sync::mpsc::channel::<()>();
    let watchdog = {
        let children = std::sync::Arc::clone(&children);
        std::thread::spawn(move || {
            if watchdog_wait.recv_timeout(std::time::Duration::from_secs(120)).is_err() {
                for child in children.lock().unwrap().iter_mut() {
                    let _ = child.kill();
                }
            }
        })
    };
    let mut events = 0;
    let mut alert = None;
    for line in detect_out.lines() {
        let line: Value = serde_json::from_str(&line.unwrap()).unwrap();
        if line["kind"] == "event" {
            events += 1;
        } else if line["rule_id"] == BRUTE_FORCE_ID {
            alert = Some(line);
            break;
        }
    }
    let _ = done.send(());
    watchdog.join().unwrap();
    drop(parse_in);
    for child in children.lock().unwrap().iter_mut() {
        let _ = child.wait();
    }
    assert_eq!(events, 10);
    assert!(alert.is_some(), "the alert arrived while the input was still open");
}
