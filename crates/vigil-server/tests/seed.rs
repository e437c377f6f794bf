//! Hive Sentinel's seed endpoints against a live server: `GET /tetragon`, `GET /kubescape`
//! and their `/fetch-stix` forms — selection by source, pod, namespace, since and limit,
//! parameter errors, auth, and the STIX bundle (checked by the OASIS validator when
//! `$VIGIL_PYTHON` has it).

mod common;

use std::collections::HashSet;
use std::path::PathBuf;
use std::process::Command;

use common::*;
use serde_json::Value;
use vigil_store::{AlertChange, NewAlert, NewEvent, Store, WriteBatch};

const TETRAGON: usize = 120;
const KUBESCAPE: usize = 6;

/// Tetragon event `i` at BASE + i s in pod `api-{i % 3}`, namespace `prod` (even) or
/// `dev` (odd); its raw record carries `n: i`.
fn tetragon(i: usize) -> NewEvent {
    let pod = format!("api-{}", i % 3);
    let namespace = if i % 2 == 0 { "prod" } else { "dev" };
    let ocsf = serde_json::json!({
        "class_uid": 1007,
        "process": {"pid": 500 + i, "cmd_line": format!("/bin/sh -c job{i}"), "file": {"path": "/bin/sh"}},
        "unmapped": {"k8s": {"pod": pod, "namespace": namespace}},
    });
    let raw = serde_json::json!({"process_exec": {"process": {"pod": {"name": pod, "namespace": namespace}}}, "n": i});
    event_of("tetragon", i, ocsf, raw.to_string())
}

fn kubescape(i: usize) -> NewEvent {
    let ocsf = serde_json::json!({
        "class_uid": 2004,
        "unmapped": {"k8s": {"pod": format!("web-{i}"), "namespace": "web"}},
    });
    let raw = serde_json::json!({"RuleID": "R0006", "RuntimeK8sDetails": {"podName": format!("web-{i}")}, "n": i});
    event_of("kubescape", 1000 + i, ocsf, raw.to_string())
}

fn event_of(source: &str, i: usize, ocsf: Value, raw: String) -> NewEvent {
    NewEvent {
        event_id: event_id(i),
        time_ms: BASE_MS + i as i64 * 1000,
        received_ms: BASE_MS + i as i64 * 1000 + 1,
        source: source.to_owned(),
        origin: "http".to_owned(),
        class_uid: ocsf["class_uid"].as_i64().map(|c| c as i32),
        host: Some("node-1".to_owned()),
        src_ip: None,
        user: None,
        ocsf: ocsf.to_string(),
        raw,
    }
}

/// Another source with the same pod, which must never show up.
fn syslog(i: usize) -> NewEvent {
    let ocsf = serde_json::json!({"class_uid": 3002, "unmapped": {"k8s": {"pod": "api-0", "namespace": "prod"}}});
    event_of("syslog", 2000 + i, ocsf, format!("{{\"syslog\":{i}}}"))
}

fn fill(store: &Store) {
    let mut events: Vec<NewEvent> = (0..TETRAGON).map(tetragon).collect();
    events.extend((0..KUBESCAPE).map(kubescape));
    events.extend((0..3).map(syslog));
    // Tetragon events 117 and 118 (in the newest page) raised one alert.
    let alert = NewAlert {
        alert_id: alert_id(1),
        rule_id: "shell-in-pod".to_owned(),
        rule_title: "Shell in pod".to_owned(),
        level: "high".to_owned(),
        tags: vec!["attack.execution".to_owned(), "attack.t1059.004".to_owned()],
        group_key: "api".to_owned(),
        first_seen_ms: BASE_MS + 117_000,
        last_seen_ms: BASE_MS + 118_000,
        count: 2,
        host: Some("node-1".to_owned()),
        src_ip: None,
        user: None,
        event_ids: vec![event_id(117), event_id(118)],
        details: "{}".to_owned(),
    };
    store.write_batch(&WriteBatch { events, alerts: vec![AlertChange::New(alert)], ..WriteBatch::default() }).unwrap();
}

/// The `n` of each raw record returned, in order.
fn numbers(reply: &Reply) -> Vec<u64> {
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.json().as_array().expect("a JSON array").iter().map(|record| record["n"].as_u64().unwrap()).collect()
}

#[test]
fn tetragon_serves_raw_records_newest_first() {
    let server = TestServer::start_with(config(), fill);
    let reply = server.get("/tetragon", None);
    assert_eq!(reply.header("content-type"), Some("application/json"));
    let records = reply.json();
    assert_eq!(records[0], serde_json::from_str::<Value>(&tetragon(119).raw).unwrap(), "the record as it arrived");
    // Default limit 100: the newest hundred of 120, newest first.
    assert_eq!(numbers(&reply), (20..TETRAGON as u64).rev().collect::<Vec<_>>());
    assert_eq!(numbers(&server.get("/tetragon?limit=3", None)), [119, 118, 117]);
    assert_eq!(numbers(&server.get("/tetragon?limit=1000", None)).len(), TETRAGON);
    assert_eq!(numbers(&server.get("/kubescape", None)), [5, 4, 3, 2, 1, 0]);
}

#[test]
fn pod_namespace_and_since_filter() {
    let server = TestServer::start_with(config(), fill);
    let expected = |keep: &dyn Fn(u64) -> bool| (0..TETRAGON as u64).rev().filter(|&i| keep(i)).collect::<Vec<_>>();
    assert_eq!(numbers(&server.get("/tetragon?pod=api-1&limit=1000", None)), expected(&|i| i % 3 == 1));
    assert_eq!(numbers(&server.get("/tetragon?namespace=dev&limit=1000", None)), expected(&|i| i % 2 == 1));
    assert_eq!(numbers(&server.get("/tetragon?pod=api-0&namespace=prod&limit=1000", None)), expected(&|i| i % 6 == 0));
    assert!(numbers(&server.get("/tetragon?pod=web-1", None)).is_empty(), "a kubescape pod is not a tetragon pod");
    assert_eq!(numbers(&server.get("/kubescape?pod=web-1", None)), [1]);

    // Since, inclusive, as epoch ms and as RFC 3339 (BASE is 2026-11-24T10:00:00Z).
    let since_ms = BASE_MS + 110_000;
    assert_eq!(numbers(&server.get(&format!("/tetragon?since={since_ms}"), None)), expected(&|i| i >= 110));
    assert_eq!(numbers(&server.get("/tetragon?since=2026-11-24T10:01:50Z", None)), expected(&|i| i >= 110));
    assert_eq!(numbers(&server.get("/tetragon?since=2026-11-24T11:01:50%2B01:00", None)), expected(&|i| i >= 110));
    assert_eq!(numbers(&server.get("/tetragon?since=2026-11-24T10:01:50Z&namespace=prod&limit=2", None)), [118, 116]);
}

#[test]
fn bad_parameters_are_400_naming_them() {
    let server = TestServer::start_with(config(), fill);
    for (query, named) in [
        ("podd=x", "`podd`"),
        ("limit=0", "`limit`"),
        ("limit=1001", "`limit`"),
        ("limit=-5", "`limit`"),
        ("since=yesterday", "`since`"),
        ("pod=a&pod=b", "`pod`"),
    ] {
        for path in ["/tetragon", "/kubescape/fetch-stix"] {
            let reply = server.get(&format!("{path}?{query}"), None);
            assert_eq!(reply.status, 400, "{path}?{query}: {}", reply.body);
            assert!(reply.error().contains(named), "{path}?{query}: {}", reply.error());
        }
    }
    let reply = server.get("/tetragon?part=1", None);
    assert!(reply.status == 400 && reply.error().contains("`part`"), "part is for fetch-stix only");
    let reply = server.get("/tetragon/fetch-stix?part=1", None);
    assert!(reply.status == 400 && reply.error().contains("`part`"), "{}", reply.body);
}

#[test]
fn reads_need_the_read_token_when_set() {
    let mut config = config();
    config.read_token = Some(READ_TOKEN.to_owned());
    let server = TestServer::start_with(config, fill);
    for path in ["/tetragon", "/kubescape", "/tetragon/fetch-stix", "/kubescape/fetch-stix"] {
        assert_eq!(server.get(path, None).status, 401, "{path}");
        assert_eq!(server.get(path, Some("wrong")).status, 401, "{path}");
        assert_eq!(server.get(path, Some(READ_TOKEN)).status, 200, "{path}");
        assert_eq!(server.get(path, Some(WRITE_TOKEN)).status, 200, "{path}");
    }
}

fn bundle_ids(bundle: &Value) -> Vec<String> {
    bundle["objects"].as_array().unwrap().iter().map(|o| o["id"].as_str().unwrap().to_owned()).collect()
}

#[test]
fn fetch_stix_bundles_the_selected_events_and_their_alerts() {
    let server = TestServer::start_with(config(), fill);
    let reply = server.get("/tetragon/fetch-stix?limit=5&namespace=prod", None);
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.header("content-type"), Some("application/stix+json;version=2.1"));
    assert_eq!(reply.header("x-vigil-bundle-part"), Some("0"));
    assert_eq!(reply.header("x-vigil-bundle-parts"), Some("1"));
    let bundle = reply.json();
    assert_eq!(bundle["type"], "bundle");
    let objects = bundle["objects"].as_array().unwrap();
    let ids: HashSet<String> = bundle_ids(&bundle).into_iter().collect();
    assert_eq!(ids.len(), objects.len(), "no duplicates");

    // The newest five prod events: 118, 116, 114, 112, 110.
    let selected: HashSet<String> =
        [118, 116, 114, 112, 110].iter().map(|&i| vigil_stix::observed_data_id(&event_id(i))).collect();
    let observed: HashSet<String> =
        objects.iter().filter(|o| o["type"] == "observed-data").map(|o| o["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(observed, selected);
    // Event 118 is linked to the alert: its sighting and the rule's indicator come along.
    let sighting = objects.iter().find(|o| o["type"] == "sighting").expect("the linked alert's sighting");
    assert_eq!(sighting["sighting_of_ref"], vigil_stix::indicator_id("shell-in-pod").as_str());
    assert!(ids.contains(&vigil_stix::indicator_id("shell-in-pod")));

    // No linked alert in the selection: no sighting.
    let quiet = server.get("/tetragon/fetch-stix?limit=3&namespace=dev&pod=api-2&since=0", None).json();
    let quiet_objects = quiet["objects"].as_array().unwrap();
    assert_eq!(quiet_objects.iter().filter(|o| o["type"] == "observed-data").count(), 3);
    assert!(quiet_objects.iter().all(|o| o["type"] != "sighting"), "events 119, 113, 107 raised no alert");

    // Nothing selected: still a bundle.
    let empty = server.get("/kubescape/fetch-stix?pod=nobody", None);
    assert_eq!(empty.status, 200);
    let empty = empty.json();
    assert_eq!(empty["type"], "bundle");
    assert!(empty["objects"].as_array().is_none_or(|objects| objects.iter().all(|o| o["type"] != "observed-data")));
}

/// `stix2_validator` beside `$VIGIL_PYTHON`: a visible skip locally, a failure under CI=true.
fn validator() -> Option<PathBuf> {
    let found = std::env::var_os("VIGIL_PYTHON")
        .map(PathBuf::from)
        .and_then(|python| python.parent().map(|bin| bin.join("stix2_validator")))
        .filter(|path| path.is_file());
    if found.is_none() {
        let why = "stix2_validator not found: set VIGIL_PYTHON to a Python with stix2-validator installed";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{why}");
        eprintln!("skipped: {why}");
    }
    found
}

/// Serves the filled store with a rule catalog that knows the alert's rule (the test
/// server's catalog is empty), as `vigil run` does with its rule pack loaded. Returns the
/// base URL; the runtime and directory live as long as the returned guard.
fn serve_with_catalog() -> (String, tokio::runtime::Runtime, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(Store::open(dir.path(), vigil_store::StoreOptions::default()).unwrap());
    fill(&store);
    let mut catalog = vigil_stix::RuleCatalog::default();
    catalog.insert(vigil_stix::RuleInfo {
        id: "shell-in-pod".to_owned(),
        title: "Shell in pod".to_owned(),
        description: Some("A shell started inside an application container.".to_owned()),
        level: Some("high".to_owned()),
        tags: vec!["attack.execution".to_owned(), "attack.t1059.004".to_owned()],
        references: Vec::new(),
        yaml: Some("title: Shell in pod\nlogsource: {product: linux}\ndetection: {sel: {Image|endswith: /sh}, condition: sel}\n".to_owned()),
    });
    let state = vigil_server::AppState {
        store,
        submitter: std::sync::Arc::new(RecordingSubmitter::new()),
        metrics: std::sync::Arc::new(String::new),
        config: config(),
        rules: std::sync::Arc::new(catalog),
        jobs: None,
        geoip: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(vigil_server::serve(listener, state, std::future::pending()));
    (base, runtime, dir)
}

#[test]
fn fetch_stix_bundles_pass_the_oasis_validator() {
    let Some(validator) = validator() else { return };
    let (base, _runtime, _dir) = serve_with_catalog();
    let agent = ureq::AgentBuilder::new().timeout(std::time::Duration::from_secs(60)).build();
    let dir = tempfile::tempdir().unwrap();
    for (name, path) in [
        ("tetragon.json", "/tetragon/fetch-stix?limit=20"),
        ("kubescape.json", "/kubescape/fetch-stix"),
        ("empty.json", "/kubescape/fetch-stix?pod=nobody"),
    ] {
        let response = agent.get(&format!("{base}{path}")).call().unwrap_or_else(|err| panic!("{path}: {err}"));
        let reply =
            Reply { status: response.status(), headers: Default::default(), body: response.into_string().unwrap() };
        assert_eq!(reply.status, 200, "{path}: {}", reply.body);
        assert!(reply.body.contains("sighting") || name != "tetragon.json", "the alert is in the selection");
        let file = dir.path().join(name);
        std::fs::write(&file, &reply.body).unwrap();
        let output = Command::new(&validator).arg("--strict").arg(&file).output().expect("run stix2_validator");
        assert!(
            output.status.success(),
            "{path} fails validation:\n{}\n{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
