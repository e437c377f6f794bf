//! Which rules apply to which events (logsource routing) and what processing pipelines
//! do to rules: Windows channel / event id routing, declared and default logsources,
//! field mappings, value replacements, added conditions.

mod common;

use common::*;
use serde_json::json;
use vigil_event::LogSource;
use vigil_sigma::{Compiled, Evaluator};

const PROC_CREATION: &str = "title: whoami
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\\whoami.exe'
  condition: sel
";

const SECURITY_SERVICE: &str = "title: user created
logsource: {product: windows, service: security}
detection:
  sel:
    EventID: 4720
  condition: sel
";

const LINUX: &str = "title: linux whoami
logsource: {product: linux, category: process_creation}
detection:
  sel:
    Image|endswith: '/whoami'
  condition: sel
";

fn titles(compiled: &Compiled, event: &str, declared: Option<&LogSource>) -> Vec<String> {
    let mut evaluator = Evaluator::new(&compiled.rules);
    let mut out = Vec::new();
    evaluator.evaluate_json(event, declared, &mut out).expect("valid JSON");
    out.iter().map(|r| compiled.rules.rules()[*r as usize].meta.title.clone()).collect()
}

fn sysmon(event_id: u32, fields: serde_json::Value) -> String {
    let mut map = fields.as_object().cloned().unwrap_or_default();
    map.insert("Channel".into(), json!("Microsoft-Windows-Sysmon/Operational"));
    map.insert("EventID".into(), json!(event_id));
    serde_json::Value::Object(map).to_string()
}

#[test]
fn windows_events_route_by_channel_and_event_id() {
    let compiled = compile_ok_with(&[PROC_CREATION, SECURITY_SERVICE, LINUX].join("---\n"), &windows_pipeline());
    let whoami = json!({"Image": "C:\\Windows\\System32\\whoami.exe"});
    assert_eq!(titles(&compiled, &sysmon(1, whoami.clone()), None), ["whoami"]);
    // Same fields, another Sysmon event id (network connection): not process creation.
    assert!(titles(&compiled, &sysmon(3, whoami.clone()), None).is_empty());
    // Channel names compare case-insensitively.
    let lower = json!({"Channel": "microsoft-windows-sysmon/operational", "EventID": 1, "Image": "x\\whoami.exe"});
    assert_eq!(titles(&compiled, &lower.to_string(), None), ["whoami"]);
    // A service rule: every event id of its channel.
    let security = json!({"Channel": "Security", "EventID": 4720}).to_string();
    assert_eq!(titles(&compiled, &security, None), ["user created"]);
    let system = json!({"Channel": "System", "EventID": 4720}).to_string();
    assert!(titles(&compiled, &system, None).is_empty());
}

#[test]
fn security_4688_uses_the_mapped_field_names() {
    let compiled = compile_ok_with(PROC_CREATION, &windows_pipeline());
    let event = json!({"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\Windows\\System32\\whoami.exe"});
    assert_eq!(titles(&compiled, &event.to_string(), None), ["whoami"]);
    let other = json!({"Channel": "Security", "EventID": 4688, "NewProcessName": "C:\\Windows\\cmd.exe"});
    assert!(titles(&compiled, &other.to_string(), None).is_empty());
}

#[test]
fn null_and_exists_false_over_mapped_fields_need_every_field_absent() {
    let rule = "title: no parent
logsource: {product: windows, category: process_creation}
detection:
  sel:
    Image|endswith: '\\whoami.exe'
  filter:
    ParentImage: null
  condition: sel and filter
";
    let compiled = compile_ok_with(rule, &windows_pipeline());
    let without_parent = sysmon(1, json!({"Image": "a\\whoami.exe"}));
    assert_eq!(titles(&compiled, &without_parent, None), ["no parent"]);
    let with_parent = sysmon(1, json!({"Image": "a\\whoami.exe", "ParentImage": "b.exe"}));
    assert!(titles(&compiled, &with_parent, None).is_empty());
    let security = json!({"Channel": "Security", "EventID": 4688, "NewProcessName": "a\\whoami.exe", "ParentProcessName": "b.exe"});
    assert!(titles(&compiled, &security.to_string(), None).is_empty());
}

#[test]
fn nested_evtx_shaped_events_use_flat_sigma_names() {
    let compiled = compile_ok_with(PROC_CREATION, &windows_pipeline());
    let nested = json!({"Event": {
        "System": {"Channel": "Microsoft-Windows-Sysmon/Operational", "EventID": 1,
                   "Provider": {"#attributes": {"Name": "Microsoft-Windows-Sysmon"}}},
        "EventData": {"Image": "C:\\Windows\\System32\\whoami.exe"}}});
    assert_eq!(titles(&compiled, &nested.to_string(), None), ["whoami"]);
}

#[test]
fn declared_logsource_routes_non_windows_events() {
    let compiled = compile_ok_with(&[PROC_CREATION, LINUX].join("---\n"), &windows_pipeline());
    let event = json!({"Image": "/usr/bin/whoami"}).to_string();
    let linux = LogSource::new(Some("linux"), Some("process_creation"), None);
    assert_eq!(titles(&compiled, &event, Some(&linux)), ["linux whoami"]);
    // A rule naming only a product covers events of any category of that product.
    let product_only =
        "title: any linux\nlogsource: {product: linux}\ndetection: {sel: {Image|contains: who}, condition: sel}\n";
    let compiled = compile_ok_with(&[LINUX, product_only].join("---\n"), &windows_pipeline());
    assert_eq!(titles(&compiled, &event, Some(&linux)), ["linux whoami", "any linux"]);
    let linux_other = LogSource::new(Some("linux"), Some("file_event"), None);
    assert_eq!(titles(&compiled, &event, Some(&linux_other)), ["any linux"]);
    // Without a logsource, nothing applies to a non-Windows event.
    assert!(titles(&compiled, &event, None).is_empty());
}

#[test]
fn default_logsource_applies_to_events_without_one() {
    let compiled = compile_ok_with(&[PROC_CREATION, LINUX].join("---\n"), &windows_pipeline());
    let mut evaluator = Evaluator::new(&compiled.rules);
    evaluator.set_default_logsource(Some(LogSource::new(Some("linux"), Some("process_creation"), None)));
    let mut out = Vec::new();
    evaluator.evaluate_json(&json!({"Image": "/usr/bin/whoami"}).to_string(), None, &mut out).expect("valid");
    assert_eq!(out.len(), 1);
    // Windows events keep their channel routing.
    out.clear();
    evaluator.evaluate_json(&sysmon(1, json!({"Image": "x\\whoami.exe"})), None, &mut out).expect("valid");
    assert_eq!(compiled.rules.rules()[out[0] as usize].meta.title, "whoami");
    assert_eq!(evaluator.stats().events, 2);
}

#[test]
fn unrouted_and_invalid_events_are_counted() {
    let compiled = compile_ok_with(PROC_CREATION, &windows_pipeline());
    let mut evaluator = Evaluator::new(&compiled.rules);
    let mut out = Vec::new();
    evaluator.evaluate_json("{\"Image\": \"x\"}", None, &mut out).expect("valid");
    assert!(evaluator.evaluate_json("not json", None, &mut out).is_err());
    let stats = evaluator.stats();
    assert!(stats.unrouted >= 1, "{stats:?}");
    assert!(stats.invalid >= 1, "{stats:?}");
    assert!(out.is_empty());
}

#[test]
fn pipeline_field_mapping_restricted_by_logsource() {
    let p = pipeline(
        "name: m\nfield_mappings:\n  - logsource: {product: test}\n    mapping: {User: [user.name, account]}\n",
    );
    let text = "title: mapped\nlogsource: {product: test}\ndetection: {sel: {User: alice}, condition: sel}\n";
    check_with(
        text,
        &p,
        &[json(json!({"user": {"name": "alice"}})), json(json!({"account": "ALICE"}))],
        &[json(json!({"User": "alice"}))],
    );
    let other = "title: unmapped\nlogsource: {product: test2}\ndetection: {sel: {User: alice}, condition: sel}\n";
    let compiled = compile_ok_with(other, &p);
    let ls = LogSource::new(Some("test2"), None, None);
    assert_eq!(titles(&compiled, &json(json!({"User": "alice"})), Some(&ls)), ["unmapped"]);
}

#[test]
fn pipeline_replace_string_and_add_condition() {
    let p = pipeline(
        "name: t\ntransformations:\n  - type: replace_string\n    field: Path\n    regex: '^C:'\n    replacement: 'D:'\n  - type: add_condition\n    logsource: {product: test}\n    conditions: {tenant: acme}\n",
    );
    let text =
        "title: t\nlogsource: {product: test}\ndetection: {sel: {Path|startswith: 'C:\\Temp'}, condition: sel}\n";
    check_with(
        text,
        &p,
        &[json(json!({"Path": "D:\\Temp\\x", "tenant": "acme"}))],
        &[
            json(json!({"Path": "C:\\Temp\\x", "tenant": "acme"})),
            json(json!({"Path": "D:\\Temp\\x", "tenant": "other"})),
        ],
    );
}

#[test]
fn pipeline_timestamp_fields_drive_correlation_time() {
    let p = pipeline("name: ts\ntimestamp_fields: [when]\n");
    let text = "title: r\nname: r\nlogsource: {product: test}\ndetection: {sel: {a: b}, condition: sel}\n---\n\
                title: c\ncorrelation: {type: event_count, rules: [r], timespan: 1m, condition: {gte: 2}}\n";
    let compiled = compile_ok_with(text, &p);
    let events = vec![
        json(json!({"a": "b", "when": "2024-01-01T00:00:00Z", "@timestamp": "2024-01-01T00:00:00Z"})),
        json(json!({"a": "b", "when": "2024-01-01T00:00:30Z", "@timestamp": "2024-05-01T00:00:00Z"})),
    ];
    assert_eq!(run_correlations(&compiled, &events, Some(&test_logsource())).fired(), ["c"]);
}

#[test]
fn invalid_pipelines_are_rejected() {
    assert!(vigil_sigma::Pipeline::from_yaml("name: x\nunknown_key: 1\n").is_err());
    assert!(vigil_sigma::Pipeline::from_yaml(
        "transformations: [{type: replace_string, regex: '(', replacement: x}]\n"
    )
    .is_err());
    assert!(vigil_sigma::Pipeline::from_yaml("- not a mapping\n").is_err());
}
