//! `/pixie-etl/*` over HTTP, with a real job manager (file jobs; Pixie validation).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{RecordingSubmitter, Reply, READ_TOKEN, WRITE_TOKEN};
use serde_json::{json, Value};
use vigil_etl::{EtlOptions, JobControl, JobManager, PixieOptions};
use vigil_pipeline::submit::EventSubmitter;
use vigil_server::{AppState, ServerConfig};
use vigil_store::{Store, StoreOptions};

struct EtlServer {
    base_url: String,
    agent: ureq::Agent,
    submitter: Arc<RecordingSubmitter>,
    files: tempfile::TempDir,
    _store_dir: tempfile::TempDir,
    _runtime: tokio::runtime::Runtime,
}

fn serve(with_jobs: bool, read_token: Option<&str>) -> EtlServer {
    let store_dir = tempfile::tempdir().unwrap();
    let files = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(store_dir.path(), StoreOptions::default()).unwrap());
    let submitter = Arc::new(RecordingSubmitter::new());
    // A Pixie address nothing answers on: pixie requests validate, their polls fail.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let options = EtlOptions {
        pixie: PixieOptions { address: Some(format!("http://127.0.0.1:{port}")), ..PixieOptions::default() },
        file_roots: vec![files.path().to_owned()],
        ..EtlOptions::default()
    };
    let jobs = with_jobs.then(|| {
        let manager =
            JobManager::start(Arc::clone(&store), Arc::clone(&submitter) as Arc<dyn EventSubmitter>, options).unwrap();
        manager as Arc<dyn JobControl>
    });
    let mut config = ServerConfig::new(WRITE_TOKEN);
    config.read_token = read_token.map(str::to_owned);
    let state = AppState {
        store,
        submitter: Arc::clone(&submitter) as Arc<dyn EventSubmitter>,
        metrics: Arc::new(String::new),
        config,
        rules: Arc::new(vigil_stix::RuleCatalog::default()),
        jobs,
        geoip: None,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let base_url = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(vigil_server::serve(listener, state, std::future::pending()));
    let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
    EtlServer { base_url, agent, submitter, files, _store_dir: store_dir, _runtime: runtime }
}

fn finish(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(err) => panic!("transport error: {err}"),
    };
    let status = response.status();
    Reply { status, headers: Default::default(), body: response.into_string().unwrap() }
}

impl EtlServer {
    fn post(&self, path: &str, body: &str, token: Option<&str>) -> Reply {
        let mut request = self.agent.post(&format!("{}{path}", self.base_url)).set("Content-Type", "application/json");
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        finish(request.send_string(body))
    }

    fn status(&self, token: Option<&str>) -> Reply {
        let mut request = self.agent.get(&format!("{}/pixie-etl/status", self.base_url));
        if let Some(token) = token {
            request = request.set("Authorization", &format!("Bearer {token}"));
        }
        finish(request.call())
    }

    fn job(&self, id: &str) -> Value {
        let jobs = self.status(Some(WRITE_TOKEN)).json()["jobs"].as_array().unwrap().clone();
        jobs.into_iter().find(|job| job["uuid"] == id).expect("the job in status")
    }
}

fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn without_a_job_manager_every_route_is_503() {
    let server = serve(false, None);
    assert_eq!(server.post("/pixie-etl/start", r#"{"tablename":"t"}"#, Some(WRITE_TOKEN)).status, 503);
    assert_eq!(server.post("/pixie-etl/stop", r#"{"uuid":"x"}"#, Some(WRITE_TOKEN)).status, 503);
    let status = server.status(None);
    assert_eq!(status.status, 503);
    assert!(status.error().contains("not enabled"));
}

#[test]
fn writes_need_the_write_token_and_status_the_read_token() {
    let server = serve(true, Some(READ_TOKEN));
    let start = r#"{"kind":"file","path":"/etc/passwd"}"#;
    assert_eq!(server.post("/pixie-etl/start", start, None).status, 401);
    assert_eq!(server.post("/pixie-etl/start", start, Some(READ_TOKEN)).status, 401);
    assert_eq!(server.post("/pixie-etl/stop", r#"{"uuid":"x"}"#, Some(READ_TOKEN)).status, 401);
    assert_eq!(server.status(None).status, 401);
    assert_eq!(server.status(Some("wrong")).status, 401);
    let listed = server.status(Some(READ_TOKEN));
    assert_eq!(listed.status, 200);
    assert_eq!(listed.json(), json!({"jobs": []}));
}

#[test]
fn a_file_job_starts_reports_and_stops() {
    let server = serve(true, None);
    let log = server.files.path().join("app.log");
    std::fs::write(&log, "first line\nsecond line\n").unwrap();
    let request = json!({"kind": "file", "path": log, "poll_interval": 1}).to_string();
    let started = server.post("/pixie-etl/start", &request, Some(WRITE_TOKEN));
    assert_eq!(started.status, 200, "{}", started.body);
    let id = started.json()["uuid"].as_str().unwrap().to_owned();
    assert!(common::is_uuid_v4(&id), "{id}");

    wait_until("the lines", || server.submitter.calls().iter().map(|(_, r)| r.len()).sum::<usize>() == 2);
    let canonical = std::fs::canonicalize(&log).unwrap();
    let calls = server.submitter.calls();
    assert_eq!(calls[0].0, format!("etl-file:{}", canonical.display()));
    assert_eq!(calls.iter().flat_map(|(_, r)| r.clone()).collect::<Vec<_>>(), ["first line", "second line"]);
    wait_until("rows_read in status", || server.job(&id)["rows_read"] == 2);
    let job = server.job(&id);
    assert_eq!((job["kind"].as_str(), job["state"].as_str()), (Some("file"), Some("running")));
    assert_eq!(job["path"].as_str(), log.to_str());

    let stopped = server.post("/pixie-etl/stop", &json!({"uuid": id}).to_string(), Some(WRITE_TOKEN));
    assert_eq!(stopped.status, 200, "{}", stopped.body);
    assert_eq!(server.job(&id)["state"], "stopped");
    let unknown =
        server.post("/pixie-etl/stop", r#"{"uuid":"00000000-0000-4000-8000-000000000000"}"#, Some(WRITE_TOKEN));
    assert_eq!(unknown.status, 404);
}

#[test]
fn a_pixie_job_starts_and_its_failures_show_in_status() {
    let server = serve(true, None);
    let request = r#"{"tablename":"http_events","timestamp":"-5m","poll_interval":1}"#;
    let started = server.post("/pixie-etl/start", request, Some(WRITE_TOKEN));
    assert_eq!(started.status, 200, "{}", started.body);
    let id = started.json()["uuid"].as_str().unwrap().to_owned();
    wait_until("a poll error", || server.job(&id)["last_error"].is_string());
    let job = server.job(&id);
    assert_eq!((job["kind"].as_str(), job["tablename"].as_str()), (Some("pixie"), Some("http_events")));
    assert!(job["watermark"]["time_ns"].is_i64(), "{job}");
}

#[test]
fn bad_requests_are_400_with_a_reason() {
    let server = serve(true, None);
    let outside = tempfile::NamedTempFile::new().unwrap();
    let cases = [
        (r#"{"kind":"kafka"}"#.to_owned(), "unknown kind"),
        (r#"{"timestamp":"-5m"}"#.to_owned(), "tablename"),
        (r#"{"tablename":"http_events","timestamp":"next tuesday"}"#.to_owned(), "timestamp"),
        (r#"{"tablename":"http_events","poll_interval":0}"#.to_owned(), "poll_interval"),
        (r#"{"tablename":"http_events","poll_interval":100000}"#.to_owned(), "poll_interval"),
        (r#"{"tablename":"http_events","colour":"red"}"#.to_owned(), "unknown field"),
        (r#"{"tablename":"x') + px.evil('"}"#.to_owned(), "tablename"),
        (json!({"kind": "file", "path": outside.path()}).to_string(), "outside"),
        ("{not json".to_owned(), "malformed JSON"),
        ("[1,2]".to_owned(), "JSON object"),
    ];
    for (body, reason) in cases {
        let reply = server.post("/pixie-etl/start", &body, Some(WRITE_TOKEN));
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(reply.error().contains(reason), "{body}: {}", reply.body);
    }
    for (body, reason) in [("{}", "required"), (r#"{"uuid":5}"#, "string"), (r#"{"uuid":"a","x":1}"#, "unknown field")]
    {
        let reply = server.post("/pixie-etl/stop", body, Some(WRITE_TOKEN));
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert!(reply.error().contains(reason), "{body}: {}", reply.body);
    }
    let huge = format!(r#"{{"tablename":"{}"}}"#, "a".repeat(20_000));
    assert_eq!(server.post("/pixie-etl/start", &huge, Some(WRITE_TOKEN)).status, 413);
    assert_eq!(server.status(None).json(), json!({"jobs": []}), "no bad request made a job");
}
