//! Correlation rules (Sigma correlation rules specification v2.1) end to end: YAML
//! collections with `---`, base rules matched on JSON events, observations fed to the
//! correlator, detections read back.

mod common;

use common::*;
use serde_json::json;

/// `2024-01-01T00:00:00Z` plus `seconds`.
fn at(seconds: u32) -> String {
    let t = chrono::DateTime::from_timestamp(1_704_067_200 + i64::from(seconds), 0).expect("valid time");
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// An event at `seconds` with the given extra fields.
fn event(seconds: u32, fields: serde_json::Value) -> String {
    let mut map = fields.as_object().cloned().unwrap_or_default();
    map.insert("@timestamp".into(), json!(at(seconds)));
    serde_json::Value::Object(map).to_string()
}

fn base_rule(title: &str, name: &str, id: &str, selection: &str) -> String {
    format!(
        "title: {title}\nid: {id}\nname: {name}\nlogsource: {{product: test}}\ndetection:\n  sel:\n    {selection}\n  condition: sel\n"
    )
}

fn failed() -> String {
    base_rule("failed", "failed_login", "5638f7c0-ac70-491d-8465-2a65075e0d86", "action: failed")
}

fn ok() -> String {
    base_rule("ok", "successful_login", "4d0a2c83-c62c-4ed4-b475-c7e23a9269b8", "action: ok")
}

fn run(text: &str, events: &[String]) -> CorrelationRun {
    let compiled = compile_ok(text);
    run_correlations(&compiled, events, Some(&test_logsource()))
}

fn correlation(title: &str, body: &str) -> String {
    let mut text = format!("title: {title}\ncorrelation:\n");
    for line in body.lines() {
        text.push_str("  ");
        text.push_str(line);
        text.push('\n');
    }
    text
}

fn group<'a>(d: &'a vigil_sigma::correlate::CorrelationDetection, name: &str) -> Option<&'a str> {
    d.group.iter().find(|(n, _)| n == name).and_then(|(_, v)| v.as_deref())
}

#[test]
fn event_count_per_group() {
    let text = [
        failed(),
        correlation(
            "many failed",
            "type: event_count\nrules: [failed_login]\ngroup-by: [User]\ntimespan: 1m\ncondition: {gte: 3}",
        ),
    ]
    .join("---\n");
    let events = vec![
        event(0, json!({"action": "failed", "User": "alice"})),
        event(10, json!({"action": "failed", "User": "bob"})),
        event(20, json!({"action": "failed", "User": "alice"})),
        event(25, json!({"action": "ok", "User": "alice"})),
        event(30, json!({"action": "failed", "User": "bob"})),
        event(40, json!({"action": "failed", "User": "alice"})),
    ];
    let r = run(&text, &events);
    assert_eq!(r.fired(), ["many failed"]);
    let d = &r.detections[0];
    assert_eq!(group(d, "User"), Some("alice"));
    assert_eq!(d.event_count, 3);
    assert_eq!(d.event_refs, [0, 2, 5]);
    assert_eq!(d.last_ms - d.first_ms, 40_000);
}

#[test]
fn event_count_window_expires() {
    let text = [
        failed(),
        correlation(
            "many failed",
            "type: event_count\nrules: [failed_login]\ngroup-by: [User]\ntimespan: 1m\ncondition: {gte: 3}",
        ),
    ]
    .join("---\n");
    // Three events, but never three within one minute.
    let spread = vec![
        event(0, json!({"action": "failed", "User": "carol"})),
        event(50, json!({"action": "failed", "User": "carol"})),
        event(120, json!({"action": "failed", "User": "carol"})),
        event(175, json!({"action": "failed", "User": "carol"})),
    ];
    assert!(run(&text, &spread).detections.is_empty());
    // Exactly at the window's end is still inside (inclusive window).
    let edge = vec![
        event(0, json!({"action": "failed", "User": "carol"})),
        event(30, json!({"action": "failed", "User": "carol"})),
        event(60, json!({"action": "failed", "User": "carol"})),
    ];
    assert_eq!(run(&text, &edge).fired(), ["many failed"]);
}

#[test]
fn event_count_without_group_by_and_with_missing_group_field() {
    let text = [
        failed(),
        correlation("any failed", "type: event_count\nrules: [failed_login]\ntimespan: 1m\ncondition: {gte: 2}"),
        correlation(
            "per host",
            "type: event_count\nrules: [failed_login]\ngroup-by: [Host]\ntimespan: 1m\ncondition: {gte: 2}",
        ),
    ]
    .join("---\n");
    let events =
        vec![event(0, json!({"action": "failed", "User": "a"})), event(1, json!({"action": "failed", "User": "b"}))];
    // Without group-by every event counts together; events lacking a group-by field do
    // not count (documented engine behaviour).
    assert_eq!(run(&text, &events).fired(), ["any failed"]);
}

#[test]
fn value_count_distinct_values() {
    let text = [
        failed(),
        correlation(
            "user spray",
            "type: value_count\nrules: [failed_login]\ngroup-by: [Host]\ntimespan: 5m\ncondition: {field: User, gte: 3}",
        ),
    ]
    .join("---\n");
    let events = vec![
        event(0, json!({"action": "failed", "Host": "h1", "User": "a"})),
        event(1, json!({"action": "failed", "Host": "h2", "User": "a"})),
        event(2, json!({"action": "failed", "Host": "h1", "User": "a"})),
        event(3, json!({"action": "failed", "Host": "h2", "User": "a"})),
        event(4, json!({"action": "failed", "Host": "h1", "User": "b"})),
        event(5, json!({"action": "failed", "Host": "h2", "User": "a"})),
        event(6, json!({"action": "failed", "Host": "h1", "User": "c"})),
    ];
    let r = run(&text, &events);
    assert_eq!(r.fired(), ["user spray"]);
    assert_eq!(group(&r.detections[0], "Host"), Some("h1"));
    assert_eq!(r.detections[0].value, 3.0);
}

#[test]
fn temporal_is_unordered() {
    let text = [
        failed(),
        ok(),
        correlation("both", "type: temporal\nrules: [failed_login, successful_login]\ngroup-by: [User]\ntimespan: 1m"),
    ]
    .join("---\n");
    let ok_then_failed =
        vec![event(0, json!({"action": "ok", "User": "u"})), event(10, json!({"action": "failed", "User": "u"}))];
    assert_eq!(run(&text, &ok_then_failed).fired(), ["both"]);
    let failed_then_ok =
        vec![event(0, json!({"action": "failed", "User": "u"})), event(10, json!({"action": "ok", "User": "u"}))];
    assert_eq!(run(&text, &failed_then_ok).fired(), ["both"]);
    // Different groups, or too far apart: nothing.
    let other_users =
        vec![event(0, json!({"action": "failed", "User": "u"})), event(10, json!({"action": "ok", "User": "v"}))];
    assert!(run(&text, &other_users).detections.is_empty());
    let far = vec![event(0, json!({"action": "failed", "User": "u"})), event(61, json!({"action": "ok", "User": "u"}))];
    assert!(run(&text, &far).detections.is_empty());
    // One rule twice is not both rules.
    let same =
        vec![event(0, json!({"action": "failed", "User": "u"})), event(1, json!({"action": "failed", "User": "u"}))];
    assert!(run(&text, &same).detections.is_empty());
}

#[test]
fn temporal_ordered_requires_rule_order() {
    let text = [
        failed(),
        ok(),
        correlation(
            "failed then ok",
            "type: temporal_ordered\nrules: [failed_login, successful_login]\ngroup-by: [User]\ntimespan: 1m",
        ),
    ]
    .join("---\n");
    let right =
        vec![event(0, json!({"action": "failed", "User": "u"})), event(10, json!({"action": "ok", "User": "u"}))];
    let r = run(&text, &right);
    assert_eq!(r.fired(), ["failed then ok"]);
    assert_eq!(r.detections[0].event_refs, [0, 1]);
    let wrong =
        vec![event(0, json!({"action": "ok", "User": "u"})), event(10, json!({"action": "failed", "User": "u"}))];
    assert!(run(&text, &wrong).detections.is_empty());
}

#[test]
fn value_sum() {
    let text = [
        base_rule("web", "website_access", "9d1f5c3e-0000-4000-8000-000000000001", "action: upload"),
        correlation(
            "exfil",
            "type: value_sum\nrules: [website_access]\ngroup-by: [SourceIP]\ntimespan: 1h\ncondition: {field: bytes_sent, gt: 1000}",
        ),
    ]
    .join("---\n");
    let events = vec![
        event(0, json!({"action": "upload", "SourceIP": "10.0.0.1", "bytes_sent": 600})),
        event(1, json!({"action": "upload", "SourceIP": "10.0.0.2", "bytes_sent": 900})),
        event(2, json!({"action": "upload", "SourceIP": "10.0.0.1", "bytes_sent": "500"})),
        event(3, json!({"action": "upload", "SourceIP": "10.0.0.2", "bytes_sent": 100})),
    ];
    let r = run(&text, &events);
    assert_eq!(r.fired(), ["exfil"]);
    assert_eq!(group(&r.detections[0], "SourceIP"), Some("10.0.0.1"));
    assert_eq!(r.detections[0].value, 1100.0);
}

#[test]
fn value_avg() {
    let text = [
        base_rule("traffic", "traffic", "9d1f5c3e-0000-4000-8000-000000000002", "action: conn"),
        correlation(
            "avg out",
            "type: value_avg\nrules: [traffic]\ngroup-by: [SourceIP]\ntimespan: 1h\ncondition: {field: BytesOut, gt: 400}",
        ),
    ]
    .join("---\n");
    let events = vec![
        event(0, json!({"action": "conn", "SourceIP": "a", "BytesOut": 100})),
        event(1, json!({"action": "conn", "SourceIP": "b", "BytesOut": 100})),
        event(2, json!({"action": "conn", "SourceIP": "a", "BytesOut": 900})),
        event(3, json!({"action": "conn", "SourceIP": "b", "BytesOut": 200})),
    ];
    let r = run(&text, &events);
    assert_eq!(r.fired(), ["avg out"]);
    assert_eq!(group(&r.detections[0], "SourceIP"), Some("a"));
    assert_eq!(r.detections[0].value, 500.0);
}

#[test]
fn value_percentile() {
    let text = [
        base_rule("proc", "process_creation", "9d1f5c3e-0000-4000-8000-000000000003", "action: spawn"),
        correlation(
            "rare process",
            "type: value_percentile\nrules: [process_creation]\ngroup-by: [ComputerName]\ntimespan: 24h\ncondition: {field: Image, lte: 10}",
        ),
    ]
    .join("---\n");
    let mut events: Vec<String> =
        (0..19).map(|i| event(i, json!({"action": "spawn", "ComputerName": "pc", "Image": "common.exe"}))).collect();
    events.push(event(30, json!({"action": "spawn", "ComputerName": "pc", "Image": "rare.exe"})));
    let r = run(&text, &events);
    assert_eq!(r.fired(), ["rare process"], "{:?}", r.detections);
    assert_eq!(r.detections[0].event_refs, [19]);
    assert_eq!(r.detections[0].value, 5.0);
}

/// The specification's example "Failed Logins Followed by Successful Login", verbatim
/// (Windows Security events routed by the built-in pipeline).
const SPEC_CHAIN: &str = "title: Correlation - Multiple Failed Logins Followed by Successful Login
id: b180ead8-d58f-40b2-ae54-c8940995b9b6
status: experimental
description: Detects multiple failed logins by a single user followed by a successful login of that user
references:
    - https://reference.com
author: Florian Roth (Nextron Systems)
date: 2023-06-16
correlation:
    type: temporal_ordered
    rules:
        - multiple_failed_login
        - successful_login
    group-by:
        - User
    timespan: 10m
falsepositives:
    - Unlikely
level: high
---
title: Multiple failed logons
id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41
description: Detects multiple failed logins within a certain amount of time
name: multiple_failed_login
correlation:
    type: event_count
    rules:
        - failed_login
    group-by:
        - User
    timespan: 10m
    condition:
        gte: 10
---
title: Single failed login
id: 53ba33fd-3a50-4468-a5ef-c583635cfa92
name: failed_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 529
            - 4625
    condition: selection
---
title: Successful login
id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8
description: Detects a successful login
name: successful_login
logsource:
    product: windows
    service: security
detection:
    selection:
        EventID:
            - 528
            - 4624
    condition: selection
";

fn security(seconds: u32, event_id: u32, user: &str) -> String {
    event(seconds, json!({"Channel": "Security", "EventID": event_id, "User": user}))
}

#[test]
fn chained_correlation_from_the_specification() {
    let compiled = compile_ok_with(SPEC_CHAIN, &windows_pipeline());
    let correlations = compiled.rules.correlations();
    assert_eq!(correlations.len(), 2);
    let outer = "Correlation - Multiple Failed Logins Followed by Successful Login";
    for c in correlations {
        // Only the outermost correlation reports; the inner one is a step of the chain.
        assert_eq!(c.emit, c.meta.title == outer, "{}", c.meta.title);
    }
    for r in compiled.rules.rules() {
        assert!(!r.emit, "base rule `{}` is referenced without generate", r.meta.title);
    }

    let mut events: Vec<String> = (0..10).map(|i| security(i * 5, 4625, "alice")).collect();
    events.push(security(100, 4624, "alice"));
    // Another user: one failure short, then a success.
    events.extend((0..9).map(|i| security(200 + i, 4625, "bob")));
    events.push(security(300, 4624, "bob"));
    let r = run_correlations(&compiled, &events, None);
    assert!(r.matched[0].contains(&"Single failed login".to_string()), "{:?}", r.matched[0]);
    assert_eq!(r.fired(), [outer]);
    assert_eq!(group(&r.detections[0], "User"), Some("alice"));

    // Success before the failures: no detection.
    let mut reversed = vec![security(0, 4624, "carol")];
    reversed.extend((0..10).map(|i| security(10 + i, 4625, "carol")));
    assert!(run_correlations(&compiled, &reversed, None).detections.is_empty());

    // Success after the timespan of the chain.
    let mut late: Vec<String> = (0..10).map(|i| security(i, 4625, "dave")).collect();
    late.push(security(10 + 601, 4624, "dave"));
    assert!(run_correlations(&compiled, &late, None).detections.is_empty());
}

#[test]
fn references_by_id_and_by_name() {
    let text = [
        failed(),
        ok(),
        correlation(
            "mixed refs",
            "type: temporal\nrules:\n  - 5638f7c0-ac70-491d-8465-2a65075e0d86\n  - successful_login\ngroup-by: [User]\ntimespan: 1m",
        ),
    ]
    .join("---\n");
    let compiled = compile_ok(&text);
    let sources: Vec<_> = compiled.rules.correlations()[0].input_sources().collect();
    assert_eq!(sources.len(), 2);
    let events =
        vec![event(0, json!({"action": "failed", "User": "u"})), event(1, json!({"action": "ok", "User": "u"}))];
    assert_eq!(run_correlations(&compiled, &events, Some(&test_logsource())).fired(), ["mixed refs"]);
}

#[test]
fn correlation_before_its_rules_in_the_file() {
    let text = [
        correlation(
            "first",
            "type: event_count\nrules: [failed_login]\ngroup-by: [User]\ntimespan: 1m\ncondition: {gte: 2}",
        ),
        failed(),
    ]
    .join("---\n");
    let events =
        vec![event(0, json!({"action": "failed", "User": "u"})), event(1, json!({"action": "failed", "User": "u"}))];
    assert_eq!(run(&text, &events).fired(), ["first"]);
}

#[test]
fn aliases_from_the_specification() {
    let text = "title: internal error
name: internal_error
logsource: {product: test}
detection:
    selection:
        http.response.status_code: 500
    condition: selection
---
title: new network connection
name: new_network_connection
logsource: {product: test}
detection:
    selection:
        event.category: network
        event.type: connection
        event.outcome: success
    condition: selection
---
title: error then connection
correlation:
    type: temporal
    rules:
        - internal_error
        - new_network_connection
    group-by:
        - internal_ip
        - remote_ip
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
";
    let error = |t: u32, dst: &str, src: &str| {
        event(t, json!({"http": {"response": {"status_code": 500}}, "destination": {"ip": dst}, "source": {"ip": src}}))
    };
    let conn = |t: u32, src: &str, dst: &str| {
        event(
            t,
            json!({"event": {"category": "network", "type": "connection", "outcome": "success"},
                   "source": {"ip": src}, "destination": {"ip": dst}}),
        )
    };
    let r = run(text, &[error(0, "10.0.0.1", "192.0.2.7"), conn(5, "10.0.0.1", "192.0.2.7")]);
    assert_eq!(r.fired(), ["error then connection"]);
    assert_eq!(group(&r.detections[0], "internal_ip"), Some("10.0.0.1"));
    assert_eq!(group(&r.detections[0], "remote_ip"), Some("192.0.2.7"));
    // Same addresses in the same fields (not swapped): different groups.
    assert!(run(text, &[error(0, "10.0.0.1", "192.0.2.7"), conn(5, "192.0.2.7", "10.0.0.1")]).detections.is_empty());
    // Beyond 10 s.
    assert!(run(text, &[error(0, "10.0.0.1", "192.0.2.7"), conn(11, "10.0.0.1", "192.0.2.7")]).detections.is_empty());
}

#[test]
fn generate_controls_whether_base_rules_report() {
    let corr = |generate: &str| {
        correlation(
            "c",
            &format!(
                "type: event_count\nrules: [failed_login]\ngroup-by: [User]\ntimespan: 1m\ncondition: {{gte: 2}}{generate}"
            ),
        )
    };
    let unrelated = base_rule("unrelated", "unrelated", "9d1f5c3e-0000-4000-8000-000000000009", "x: y");
    let emits = |text: &str| -> Vec<(String, bool)> {
        compile_ok(text).rules.rules().iter().map(|r| (r.meta.title.clone(), r.emit)).collect()
    };
    let without = [failed(), unrelated.clone(), corr("")].join("---\n");
    assert_eq!(emits(&without), [("failed".to_string(), false), ("unrelated".to_string(), true)]);
    let with = [failed(), unrelated, corr("\ngenerate: true")].join("---\n");
    assert_eq!(emits(&with), [("failed".to_string(), true), ("unrelated".to_string(), true)]);
    // Matches of non-emitting rules are still reported by the evaluator (they feed
    // correlations); `emit` tells the caller whether to show them.
    let r = run(&without, &[event(0, json!({"action": "failed", "User": "u"}))]);
    assert_eq!(r.matched[0], ["failed"]);
}

#[test]
fn generate_on_one_correlation_is_enough() {
    let text = [
        failed(),
        correlation(
            "c1",
            "type: event_count\nrules: [failed_login]\ngroup-by: [User]\ntimespan: 1m\ncondition: {gte: 2}",
        ),
        correlation(
            "c2",
            "type: event_count\nrules: [failed_login]\ngroup-by: [Host]\ntimespan: 1m\ncondition: {gte: 2}\ngenerate: true",
        ),
    ]
    .join("---\n");
    assert!(compile_ok(&text).rules.rules()[0].emit);
}

#[test]
fn unresolved_reference_is_rejected() {
    let text = [
        failed(),
        correlation(
            "dangling",
            "type: event_count\nrules: [failed_login, no_such_rule]\ngroup-by: [User]\ntimespan: 1m\ncondition: {gte: 2}",
        ),
    ]
    .join("---\n");
    assert_eq!(error_kinds(&text), ["unresolved-reference"]);
    // The base rule itself still loads and reports on its own.
    let compiled = compile_with(&text, &no_pipeline());
    assert_eq!(compiled.rules.rules().len(), 1);
    assert!(compiled.rules.rules()[0].emit);
}

#[test]
fn correlation_cycles_are_rejected() {
    let text = [
        failed(),
        "title: c1\nname: c1\ncorrelation:\n  type: temporal\n  rules: [c2, failed_login]\n  group-by: [User]\n  timespan: 1m\n"
            .to_string(),
        "title: c2\nname: c2\ncorrelation:\n  type: temporal\n  rules: [c1, failed_login]\n  group-by: [User]\n  timespan: 1m\n"
            .to_string(),
    ]
    .join("---\n");
    assert_eq!(error_kinds(&text), ["correlation", "correlation"]);
    let selfref =
        "title: c3\nname: c3\ncorrelation:\n  type: event_count\n  rules: [c3]\n  timespan: 1m\n  condition: {gte: 1}\n";
    assert_eq!(error_kinds(selfref), ["correlation"]);
    // A correlation built on a rejected one is rejected too.
    let on_top = format!(
        "{text}---\ntitle: c4\ncorrelation:\n  type: event_count\n  rules: [c1]\n  timespan: 1m\n  condition: {{gte: 1}}\n"
    );
    assert_eq!(error_kinds(&on_top).len(), 3);
}

#[test]
fn malformed_correlations_are_rejected() {
    let bad = [
        "type: nope\nrules: [failed_login]\ntimespan: 1m\ncondition: {gte: 1}",
        "type: event_count\nrules: [failed_login]\ntimespan: 1x\ncondition: {gte: 1}",
        "type: event_count\nrules: [failed_login]\ntimespan: 0s\ncondition: {gte: 1}",
        "type: event_count\nrules: [failed_login]\ntimespan: 1m",
        "type: event_count\nrules: [failed_login]\ntimespan: 1m\ncondition: {bigger: 1}",
        "type: value_count\nrules: [failed_login]\ntimespan: 1m\ncondition: {gte: 1}",
        "type: value_sum\nrules: [failed_login]\ntimespan: 1m\ncondition: {gte: 1}",
        "type: event_count\ntimespan: 1m\ncondition: {gte: 1}",
    ];
    for body in bad {
        let text = [failed(), correlation("bad", body)].join("---\n");
        let kinds = error_kinds(&text);
        assert_eq!(kinds.len(), 1, "{body}: {kinds:?}");
        assert!(["correlation", "structure"].contains(&kinds[0]), "{body}: {kinds:?}");
    }
}

#[test]
fn timespan_units() {
    for (span, gap_ok, gap_too_far) in [("30s", 30, 31), ("2m", 120, 121), ("1h", 3600, 3601), ("1d", 86_400, 86_401)] {
        let text = [
            failed(),
            correlation(
                "pair",
                &format!(
                    "type: event_count\nrules: [failed_login]\ngroup-by: [User]\ntimespan: {span}\ncondition: {{gte: 2}}"
                ),
            ),
        ]
        .join("---\n");
        let pair = |gap: u32| {
            vec![
                event(0, json!({"action": "failed", "User": "u"})),
                event(gap, json!({"action": "failed", "User": "u"})),
            ]
        };
        assert_eq!(run(&text, &pair(gap_ok)).fired(), ["pair"], "{span}");
        assert!(run(&text, &pair(gap_too_far)).detections.is_empty(), "{span}");
    }
}

#[test]
fn events_without_timestamp_do_not_count() {
    let text = [
        failed(),
        correlation(
            "two",
            "type: event_count\nrules: [failed_login]\ngroup-by: [User]\ntimespan: 1m\ncondition: {gte: 2}",
        ),
    ]
    .join("---\n");
    let events = vec![json(json!({"action": "failed", "User": "u"})), json(json!({"action": "failed", "User": "u"}))];
    let r = run(&text, &events);
    assert_eq!(r.matched[0], ["failed"]);
    assert!(r.detections.is_empty());
}

#[test]
fn range_conditions_evaluate_when_the_window_closes() {
    // "101 to 200" style: gt + lte, here 2 < count <= 3.
    let text = [
        failed(),
        correlation(
            "some",
            "type: event_count\nrules: [failed_login]\ngroup-by: [User]\ntimespan: 1m\ncondition: {gt: 2, lte: 3}",
        ),
    ]
    .join("---\n");
    let n = |count: u32, user: &str| -> Vec<String> {
        (0..count).map(|i| event(i, json!({"action": "failed", "User": user}))).collect()
    };
    assert_eq!(run(&text, &n(3, "u")).fired(), ["some"]);
    assert!(run(&text, &n(2, "u")).detections.is_empty());
    assert!(run(&text, &n(4, "u")).detections.is_empty());
}

#[test]
fn chain_with_a_wider_inner_group_by() {
    // The inner correlation groups by host and user; the outer one only by user, which
    // the inner hits carry.
    let text = [
        failed(),
        ok(),
        "title: burst\nname: burst\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [Host, User]\n  timespan: 1m\n  condition: {gte: 2}\n".to_string(),
        correlation(
            "burst then ok",
            "type: temporal_ordered\nrules: [burst, successful_login]\ngroup-by: [User]\ntimespan: 5m",
        ),
    ]
    .join("---\n");
    let events = vec![
        event(0, json!({"action": "failed", "User": "u", "Host": "h1"})),
        event(1, json!({"action": "failed", "User": "u", "Host": "h1"})),
        event(30, json!({"action": "ok", "User": "u", "Host": "h2"})),
    ];
    let r = run(&text, &events);
    assert_eq!(r.fired(), ["burst then ok"]);
    assert_eq!(group(&r.detections[0], "User"), Some("u"));
}

#[test]
fn value_count_over_several_fields_counts_distinct_tuples() {
    let text = [
        failed(),
        correlation(
            "pairs",
            "type: value_count\nrules: [failed_login]\ngroup-by: [Host]\ntimespan: 5m\ncondition: {field: [User, Domain], gte: 3}",
        ),
    ]
    .join("---\n");
    let e = |t: u32, user: &str, domain: &str| {
        event(t, json!({"action": "failed", "Host": "h", "User": user, "Domain": domain}))
    };
    // (a, d1), (a, d2), (b, d1): three distinct pairs from two users and two domains.
    assert_eq!(run(&text, &[e(0, "a", "d1"), e(1, "a", "d2"), e(2, "b", "d1")]).fired(), ["pairs"]);
    assert!(run(&text, &[e(0, "a", "d1"), e(1, "a", "d1"), e(2, "b", "d1")]).detections.is_empty());
}

#[test]
fn evtx_shaped_events_take_their_time_from_the_system_header() {
    let compiled = compile_ok_with(SPEC_CHAIN, &windows_pipeline());
    let nested = |seconds: u32, event_id: u32| {
        json(json!({"Event": {
            "System": {"Channel": "Security", "EventID": event_id,
                       "TimeCreated": {"#attributes": {"SystemTime": at(seconds)}}},
            "EventData": {"User": "erin"}}}))
    };
    let mut events: Vec<String> = (0..10).map(|i| nested(i, 4625)).collect();
    events.push(nested(20, 4624));
    let r = run_correlations(&compiled, &events, None);
    assert_eq!(r.fired(), ["Correlation - Multiple Failed Logins Followed by Successful Login"]);
    // Eleven minutes between the failures and the success: outside the 10m timespan.
    let mut late: Vec<String> = (0..10).map(|i| nested(i, 4625)).collect();
    late.push(nested(9 + 660, 4624));
    assert!(run_correlations(&compiled, &late, None).detections.is_empty());
}

#[test]
fn chain_whose_inner_group_by_differs_from_the_outer() {
    // Spec (temporal_ordered): "Even if the rule many_failed_logins groups by the
    // ComputerName field, the correlation rule only uses its own group-by User."
    let text = [
        failed(),
        ok(),
        "title: burst\nname: burst\ncorrelation:\n  type: event_count\n  rules: [failed_login]\n  group-by: [Host]\n  timespan: 1m\n  condition: {gte: 2}\n".to_string(),
        correlation(
            "burst then ok",
            "type: temporal_ordered\nrules: [burst, successful_login]\ngroup-by: [User]\ntimespan: 5m",
        ),
    ]
    .join("---\n");
    let compiled = compile_ok(&text);
    let events = vec![
        event(0, json!({"action": "failed", "User": "u", "Host": "h"})),
        event(1, json!({"action": "failed", "User": "u", "Host": "h"})),
        event(30, json!({"action": "ok", "User": "u", "Host": "h"})),
    ];
    let r = run_correlations(&compiled, &events, Some(&test_logsource()));
    assert!(
        r.fired() == ["burst then ok"] || !compiled.warnings.is_empty(),
        "neither a detection nor a load warning: {:?}",
        r.detections
    );
}
