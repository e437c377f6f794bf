//! `pixie` jobs against a local stand-in for Vizier's gRPC API.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use serde_json::{json, Value};
use vigil_etl::{EtlOptions, JobControl, JobManager, PixieOptions};
use vigil_pipeline::submit::EventSubmitter;
use vigil_store::{Store, StoreOptions};

const API_KEY: &str = "px-api-test-key";

fn options(address: &str) -> EtlOptions {
    EtlOptions {
        pixie: PixieOptions {
            address: Some(address.to_owned()),
            cluster_id: "11111111-2222-4333-8444-555555555555".into(),
            api_key: Some(API_KEY.into()),
            ..PixieOptions::default()
        },
        ..EtlOptions::default()
    }
}

fn status_of(manager: &JobManager, id: &str) -> Value {
    manager.status().into_iter().find(|s| s["uuid"] == id).expect("the job in status")
}

fn start_request() -> Value {
    json!({"tablename": "http_events", "timestamp": BASE_RFC3339, "podname": "web-1",
           "namespace": "prod", "poll_interval": 1})
}

fn submitted(submitter: &RecordingSubmitter) -> Vec<Value> {
    submitter.records().into_iter().map(|(_, record)| record).collect()
}

#[test]
fn rows_arrive_once_and_the_watermark_follows_the_newest_time() {
    let fake = Arc::new(FakeVizier::default());
    *fake.rows.lock().unwrap() =
        vec![row(BASE_NS - 5, "/before-start"), row(BASE_NS + 1, "/b"), row(BASE_NS + 2, "/c"), row(BASE_NS + 2, "/d")];
    let server = serve(Arc::clone(&fake));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());
    let submitter = Arc::new(RecordingSubmitter::default());
    let manager =
        JobManager::start(store, Arc::clone(&submitter) as Arc<dyn EventSubmitter>, options(&server.address)).unwrap();

    let id = manager.start(&start_request()).unwrap();
    wait_until("the first rows", || submitter.records().len() >= 3);
    let first = fake.scripts()[0].clone();
    assert!(first.contains(&format!("px.DataFrame(table='http_events', start_time={BASE_NS})")), "{first}");
    assert!(first.contains("df = df[df.namespace == 'prod']"), "{first}");
    assert!(first.contains("df = df[df.pod == 'prod/web-1']"), "{first}");
    assert_eq!(fake.api_keys.lock().unwrap()[0].as_deref(), Some(API_KEY));
    let origins: Vec<String> = submitter.records().into_iter().map(|(origin, _)| origin).collect();
    assert!(origins.iter().all(|o| *o == format!("pixie:{id}")), "{origins:?}");

    wait_until("the watermark at the newest row", || status_of(&manager, &id)["watermark"]["time_ns"] == BASE_NS + 2);
    let status = status_of(&manager, &id);
    assert_eq!((status["state"].as_str(), status["rows_read"].as_u64()), (Some("running"), Some(3)));
    assert_eq!(status["tablename"], "http_events");
    assert!(status["last_error"].is_null(), "{status}");

    // A late row with the boundary's exact time and a newer one: both read, nothing twice.
    let polls_before = fake.scripts().len();
    fake.rows.lock().unwrap().extend([row(BASE_NS + 2, "/e"), row(BASE_NS + 9, "/f")]);
    wait_until("the new rows", || submitter.records().len() >= 5);
    wait_until("a few more polls", || fake.scripts().len() >= polls_before + 3);
    let rows = fake.rows.lock().unwrap().clone();
    let mut expected: Vec<Value> = rows[1..].iter().map(expected_json).collect();
    let mut got = submitted(&submitter);
    let key = |v: &Value| (v["time_"].as_i64(), v["req_path"].as_str().map(str::to_owned));
    expected.sort_by_key(key);
    got.sort_by_key(key);
    assert_eq!(got, expected);
    let later = fake.scripts().last().unwrap().clone();
    assert!(later.contains(&format!("start_time={})", BASE_NS + 9)), "{later}");

    manager.stop(&id).unwrap();
    let polls_at_stop = fake.scripts().len();
    std::thread::sleep(Duration::from_millis(2500)); // more than two poll intervals
    assert_eq!(fake.scripts().len(), polls_at_stop, "a stopped job polled");
    assert_eq!(status_of(&manager, &id)["state"], "stopped");
    assert!(matches!(manager.stop("no-such-job"), Err(vigil_etl::JobError::NotFound(_))));
}

#[test]
fn a_restarted_manager_resumes_from_the_persisted_watermark() {
    let fake = Arc::new(FakeVizier::default());
    *fake.rows.lock().unwrap() = vec![row(BASE_NS + 1, "/old-1"), row(BASE_NS + 3, "/old-2")];
    let server = serve(Arc::clone(&fake));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());

    let first_submitter = Arc::new(RecordingSubmitter::default());
    let manager = JobManager::start(
        Arc::clone(&store),
        Arc::clone(&first_submitter) as Arc<dyn EventSubmitter>,
        options(&server.address),
    )
    .unwrap();
    let id = manager.start(&start_request()).unwrap();
    wait_until("the watermark persisted", || {
        store.etl_job(&id).unwrap().is_some_and(|job| job.watermark.contains(&(BASE_NS + 3).to_string()))
    });
    manager.shutdown();
    drop(manager);
    assert_eq!(store.etl_job(&id).unwrap().unwrap().state, "running", "shutdown keeps jobs running");
    assert_eq!(first_submitter.records().len(), 2);

    fake.rows.lock().unwrap().push(row(BASE_NS + 7, "/new"));
    let scripts_before = fake.scripts().len();
    let second_submitter = Arc::new(RecordingSubmitter::default());
    let resumed = JobManager::start(
        Arc::clone(&store),
        Arc::clone(&second_submitter) as Arc<dyn EventSubmitter>,
        options(&server.address),
    )
    .unwrap();
    wait_until("the new row after the restart", || !second_submitter.records().is_empty());
    let resumed_script = fake.scripts()[scripts_before].clone();
    assert!(resumed_script.contains(&format!("start_time={})", BASE_NS + 3)), "{resumed_script}");
    wait_until("another poll", || fake.scripts().len() >= scripts_before + 2);
    assert_eq!(submitted(&second_submitter), vec![expected_json(&row(BASE_NS + 7, "/new"))]);
    let status = status_of(&resumed, &id);
    assert_eq!((status["state"].as_str(), status["rows_read"].as_u64()), (Some("running"), Some(3)));
}

#[test]
fn an_error_status_is_reported_and_polling_goes_on() {
    let fake = Arc::new(FakeVizier::default());
    *fake.rows.lock().unwrap() = vec![row(BASE_NS + 1, "/a")];
    *fake.error.lock().unwrap() = Some((3, "Table 'http_events' not found".into()));
    let server = serve(Arc::clone(&fake));
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());
    let submitter = Arc::new(RecordingSubmitter::default());
    // The pipeline is full at first: the rows must wait, not be dropped.
    *submitter.refuse_full.lock().unwrap() = 1;
    let manager = JobManager::start(
        Arc::clone(&store),
        Arc::clone(&submitter) as Arc<dyn EventSubmitter>,
        options(&server.address),
    )
    .unwrap();
    let id = manager.start(&start_request()).unwrap();
    wait_until("the error in status", || status_of(&manager, &id)["last_error"].is_string());
    let status = status_of(&manager, &id);
    assert!(status["last_error"].as_str().unwrap().contains("Table 'http_events' not found"), "{status}");
    assert_eq!(status["state"], "running");
    assert_eq!(status["watermark"]["time_ns"], BASE_NS);
    assert!(store.etl_job(&id).unwrap().unwrap().last_error.unwrap().contains("not found"));

    *fake.error.lock().unwrap() = None;
    wait_until("rows after the error cleared", || !submitter.records().is_empty());
    assert_eq!(submitted(&submitter), vec![expected_json(&row(BASE_NS + 1, "/a"))]);
    wait_until("the error cleared in status", || status_of(&manager, &id)["last_error"].is_null());
}

#[test]
fn an_unreachable_vizier_is_an_error_not_a_crash() {
    // A port nothing listens on: bind, note, release.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());
    let submitter = Arc::new(RecordingSubmitter::default());
    let manager =
        JobManager::start(store, submitter as Arc<dyn EventSubmitter>, options(&format!("http://127.0.0.1:{port}")))
            .unwrap();
    let id = manager.start(&start_request()).unwrap();
    wait_until("a connection error", || status_of(&manager, &id)["last_error"].is_string());
    manager.stop(&id).unwrap();
}

#[test]
fn bad_options_are_refused_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());
    let submitter: Arc<dyn EventSubmitter> = Arc::new(RecordingSubmitter::default());
    for address in ["ftp://host:1", "not a url"] {
        let refused = JobManager::start(Arc::clone(&store), Arc::clone(&submitter), options(address));
        assert!(matches!(refused, Err(vigil_etl::JobError::Config(_))), "{address}");
    }
}
