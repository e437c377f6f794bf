//! A real server on 127.0.0.1:0 over a real store in a temporary directory, a recording
//! test double for the pipeline, and a small blocking client.

#![allow(dead_code)] // each test file uses a different part of this module

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tempfile::TempDir;
use vigil_pipeline::submit::{EventSubmitter, SubmitError};
use vigil_server::{AppState, ServerConfig};
use vigil_store::{AlertChange, NewAlert, NewDeadLetter, NewEvent, Store, StoreOptions, WriteBatch};

pub const WRITE_TOKEN: &str = "write-secret-0123456789";
pub const READ_TOKEN: &str = "read-secret-9876543210";
pub const METRICS_TEXT: &str = "# TYPE vigil_events_total counter\nvigil_events_total 42\n";
/// 2026-11-24T10:00:00Z
pub const BASE_MS: i64 = 1_795_514_400_000;
pub const MINUTE_MS: i64 = 60_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubmitMode {
    Accept,
    Full {
        retry_after_secs: u32,
    },
    Closed,
    /// A bug in the pipeline: the server must still answer.
    Panic,
}

/// Records what it is given and answers with fresh UUID v4 ids, or refuses as told.
pub struct RecordingSubmitter {
    pub mode: Mutex<SubmitMode>,
    pub calls: Mutex<Vec<(String, Vec<String>)>>,
}

impl RecordingSubmitter {
    pub fn new() -> RecordingSubmitter {
        RecordingSubmitter { mode: Mutex::new(SubmitMode::Accept), calls: Mutex::new(Vec::new()) }
    }

    pub fn set_mode(&self, mode: SubmitMode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub fn calls(&self) -> Vec<(String, Vec<String>)> {
        self.calls.lock().unwrap().clone()
    }
}

impl EventSubmitter for RecordingSubmitter {
    fn submit(&self, origin: &str, records: Vec<String>) -> Result<Vec<String>, SubmitError> {
        let mode = *self.mode.lock().unwrap(); // not held across the panic below
        match mode {
            SubmitMode::Accept => {}
            SubmitMode::Full { retry_after_secs } => return Err(SubmitError::Full { retry_after_secs }),
            SubmitMode::Closed => return Err(SubmitError::Closed),
            SubmitMode::Panic => panic!("test submitter told to panic"),
        }
        let ids = records.iter().map(|_| uuid::Uuid::new_v4().to_string()).collect();
        self.calls.lock().unwrap().push((origin.to_owned(), records));
        Ok(ids)
    }
}

pub struct TestServer {
    pub base_url: String,
    pub addr: std::net::SocketAddr,
    pub submitter: Arc<RecordingSubmitter>,
    pub store: Arc<Store>,
    pub agent: ureq::Agent,
    runtime: tokio::runtime::Runtime,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    served: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    _dir: TempDir,
}

impl TestServer {
    pub fn start(config: ServerConfig) -> TestServer {
        TestServer::start_with(config, |_| {})
    }

    /// Opens a store, lets `fill` write to it, then serves it.
    pub fn start_with(config: ServerConfig, fill: impl FnOnce(&Store)) -> TestServer {
        TestServer::start_with_state(config, fill, |_| {})
    }

    /// As [`TestServer::start_with`], then lets `customize` change the state before serving.
    pub fn start_with_state(
        config: ServerConfig,
        fill: impl FnOnce(&Store),
        customize: impl FnOnce(&mut AppState),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());
        fill(&store);
        let submitter = Arc::new(RecordingSubmitter::new());
        let mut state = AppState {
            store: Arc::clone(&store),
            submitter: Arc::clone(&submitter) as Arc<dyn EventSubmitter>,
            metrics: Arc::new(|| METRICS_TEXT.to_owned()),
            config,
            rules: Arc::new(vigil_stix::RuleCatalog::default()),
            jobs: None,
            geoip: None,
        };
        customize(&mut state);
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, shutdown_signal) = tokio::sync::oneshot::channel::<()>();
        let served = runtime.spawn(vigil_server::serve(listener, state, async move {
            let _ = shutdown_signal.await;
        }));
        // A safety net against a hung test, not a timing assertion.
        let agent = ureq::AgentBuilder::new().timeout(Duration::from_secs(60)).build();
        TestServer {
            base_url: format!("http://{addr}"),
            addr,
            submitter,
            store,
            agent,
            runtime,
            shutdown: Some(shutdown),
            served: Some(served),
            _dir: dir,
        }
    }

    /// Signals shutdown and returns what `serve` returned.
    pub fn stop(mut self) -> std::io::Result<()> {
        let _ = self.shutdown.take().unwrap().send(());
        let served = self.served.take().unwrap();
        self.runtime.block_on(served).unwrap()
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base_url)
    }

    pub fn get(&self, path_and_query: &str, token: Option<&str>) -> Reply {
        let request = self.agent.get(&self.url(path_and_query));
        finish(with_token(request, token).call())
    }

    pub fn post_events(&self, body: &str, content_type: Option<&str>) -> Reply {
        self.post_raw("/events", body.as_bytes(), content_type, Some(WRITE_TOKEN))
    }

    pub fn post_raw(&self, path: &str, body: &[u8], content_type: Option<&str>, token: Option<&str>) -> Reply {
        let mut request = with_token(self.agent.post(&self.url(path)), token);
        if let Some(content_type) = content_type {
            request = request.set("Content-Type", content_type);
        }
        finish(request.send_bytes(body))
    }

    pub fn patch(&self, path: &str, body: &str, token: Option<&str>) -> Reply {
        let request =
            with_token(self.agent.request("PATCH", &self.url(path)), token).set("Content-Type", "application/json");
        finish(request.send_string(body))
    }

    /// Writes a whole request before reading anything, as most clients do: the head, then
    /// after a pause (the server has decided by then) the body in small writes. Returns the
    /// status and body of the reply.
    pub fn raw_request_written_in_full(&self, head: &str, body: &[u8]) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        stream.write_all(head.as_bytes()).unwrap();
        std::thread::sleep(Duration::from_millis(300));
        for chunk in body.chunks(4096) {
            stream.write_all(chunk).expect("the server still reads the body");
            std::thread::sleep(Duration::from_millis(1));
        }
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        (status, body)
    }

    /// Sends `GET <target>` byte for byte (no client-side URL normalisation) and returns
    /// the status and body.
    pub fn raw_get(&self, target: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        write!(stream, "GET {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).unwrap();
        let response = String::from_utf8_lossy(&response).into_owned();
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).expect("a status line");
        let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).unwrap_or_default();
        (status, body)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}

fn with_token(request: ureq::Request, token: Option<&str>) -> ureq::Request {
    match token {
        Some(token) => request.set("Authorization", &format!("Bearer {token}")),
        None => request,
    }
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    /// Lower-case names.
    pub headers: HashMap<String, String>,
    pub body: String,
}

impl Reply {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body).unwrap_or_else(|err| panic!("not JSON ({err}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    /// The `error` message of a JSON error body.
    pub fn error(&self) -> String {
        self.json()["error"].as_str().unwrap_or_else(|| panic!("no error message in {:?}", self.body)).to_owned()
    }
}

fn finish(result: Result<ureq::Response, ureq::Error>) -> Reply {
    let response = match result {
        Ok(response) => response,
        Err(ureq::Error::Status(_, response)) => response,
        Err(err) => panic!("transport error: {err}"),
    };
    let status = response.status();
    let headers = response
        .headers_names()
        .into_iter()
        .map(|name| (name.clone(), response.header(&name).unwrap_or("").to_owned()))
        .collect();
    let body = response.into_string().unwrap();
    Reply { status, headers, body }
}

pub fn config() -> ServerConfig {
    ServerConfig::new(WRITE_TOKEN)
}

pub fn is_uuid_v4(text: &str) -> bool {
    uuid::Uuid::parse_str(text).is_ok_and(|id| id.get_version_num() == 4 && id.hyphenated().to_string() == text)
}

// ---- store fixture ----

pub const EVENT_COUNT: usize = 20;
pub const DEAD_LETTER_COUNT: usize = 5;

/// Event `i` happens at BASE + i minutes; even ones on host `web-1` from `syslog`
/// (class 3002, src_ip 203.0.113.i, user alice), odd ones on `db-1` from `tetragon`
/// (class 1007, user bob). Event 7's raw text holds the word `needlework`.
pub fn event(i: usize) -> NewEvent {
    let even = i % 2 == 0;
    let raw = if i == 7 { "proc exec needlework /usr/bin/curl".to_owned() } else { format!("record number {i}") };
    NewEvent {
        event_id: event_id(i),
        time_ms: BASE_MS + i as i64 * MINUTE_MS,
        received_ms: BASE_MS + i as i64 * MINUTE_MS + 5,
        source: if even { "syslog" } else { "tetragon" }.to_owned(),
        origin: "file:/var/log/test.log".to_owned(),
        class_uid: Some(if even { 3002 } else { 1007 }),
        host: Some(if even { "web-1" } else { "db-1" }.to_owned()),
        src_ip: even.then(|| format!("203.0.113.{i}")),
        user: Some(if even { "alice" } else { "bob" }.to_owned()),
        ocsf: format!("{{\"class_uid\":{},\"n\":{i}}}", if even { 3002 } else { 1007 }),
        raw,
    }
}

/// Deterministic UUID-v4-shaped ids, so tests can name events.
pub fn event_id(i: usize) -> String {
    format!("00000000-0000-4000-8000-{i:012}")
}

pub fn alert_id(i: usize) -> String {
    format!("00000000-0000-4000-9000-{i:012}")
}

/// Alert `i` (0..3): rule `rule-i`, levels high / critical / low, on `web-1` except the last.
pub fn alert(i: usize) -> NewAlert {
    NewAlert {
        alert_id: alert_id(i),
        rule_id: format!("rule-{i}"),
        rule_title: format!("Rule number {i}"),
        level: ["high", "critical", "low"][i].to_owned(),
        tags: vec!["attack.t1110".to_owned()],
        group_key: format!("group-{i}"),
        first_seen_ms: BASE_MS + i as i64 * MINUTE_MS,
        last_seen_ms: BASE_MS + (i as i64 + 1) * MINUTE_MS,
        count: 1 + i as u64,
        host: Some(if i < 2 { "web-1" } else { "db-1" }.to_owned()),
        src_ip: None,
        user: None,
        event_ids: vec![event_id(i)],
        details: "{}".to_owned(),
    }
}

pub fn fill_store(store: &Store) {
    let batch = WriteBatch {
        events: (0..EVENT_COUNT).map(event).collect(),
        fresh_event_ids: false,
        alerts: (0..3).map(|i| AlertChange::New(alert(i))).collect(),
        dead_letters: (0..DEAD_LETTER_COUNT)
            .map(|i| NewDeadLetter {
                received_ms: BASE_MS + i as i64,
                origin: "http".to_owned(),
                position: i as u64,
                reason: "invalid_json".to_owned(),
                message: format!("bad record {i}"),
                decoder: None,
                raw: "{oops".to_owned(),
            })
            .collect(),
        checkpoints: Vec::new(),
    };
    store.write_batch(&batch).unwrap();
}
