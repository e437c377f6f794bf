//! Test doubles: a Vizier gRPC server serving a canned table, and a recording pipeline.

#![allow(dead_code)] // each test file uses a different part

use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio_stream::Stream;
use tonic::{Request, Response, Status};
use vigil_etl::vizierpb::column::ColData;
use vigil_etl::vizierpb::execute_script_response::Result as Reply;
use vigil_etl::vizierpb::relation::ColumnInfo;
use vigil_etl::vizierpb::vizier_service_server::{VizierService, VizierServiceServer};
use vigil_etl::vizierpb::*;
use vigil_pipeline::submit::{EventSubmitter, SubmitError};

/// 2026-11-24T09:53:20Z in ns.
pub const BASE_NS: i64 = 1_795_514_000_000_000_000;
pub const BASE_RFC3339: &str = "2026-11-24T09:53:20Z";

#[derive(Debug, Clone)]
pub struct CannedRow {
    pub time_ns: i64,
    pub upid: (u64, u64),
    pub req_path: String,
    pub resp_status: i64,
    pub latency: f64,
    pub encrypted: bool,
}

pub fn row(time_ns: i64, path: &str) -> CannedRow {
    CannedRow { time_ns, upid: (7, 42), req_path: path.to_owned(), resp_status: 200, latency: 1.5, encrypted: false }
}

/// The JSON object the job must submit for `row` (written out here, not by the code
/// under test).
pub fn expected_json(row: &CannedRow) -> serde_json::Value {
    let upid = format!("{:016x}{:016x}", row.upid.0, row.upid.1);
    let upid = format!("{}-{}-{}-{}-{}", &upid[0..8], &upid[8..12], &upid[12..16], &upid[16..20], &upid[20..32]);
    serde_json::json!({
        "time_": row.time_ns,
        "upid": upid,
        "req_path": row.req_path,
        "resp_status": row.resp_status,
        "latency": row.latency,
        "encrypted": row.encrypted,
        "pod": "prod/web-1",
        "namespace": "prod",
        "pixie_table": "http_events",
    })
}

#[derive(Default)]
pub struct FakeVizier {
    pub rows: Mutex<Vec<CannedRow>>,
    /// Every request's script, in order.
    pub scripts: Mutex<Vec<String>>,
    pub api_keys: Mutex<Vec<Option<String>>>,
    /// When set, every call answers with this non-zero status.
    pub error: Mutex<Option<(i32, String)>>,
}

impl FakeVizier {
    pub fn scripts(&self) -> Vec<String> {
        self.scripts.lock().unwrap().clone()
    }
}

/// Pixie's `start_time` is inclusive: rows at or after it.
fn start_time_of(script: &str) -> i64 {
    let rest = script.split("start_time=").nth(1).expect("a start_time in the script");
    rest[..rest.find(')').unwrap()].parse().expect("an integer start_time")
}

fn column(name: &str, data_type: DataType) -> ColumnInfo {
    ColumnInfo { column_name: name.to_owned(), column_type: data_type as i32, ..ColumnInfo::default() }
}

fn batch(rows: &[CannedRow], eos: bool) -> ExecuteScriptResponse {
    let cols = vec![
        ColData::Time64nsData(Time64NsColumn { data: rows.iter().map(|r| r.time_ns).collect() }),
        ColData::Uint128Data(UInt128Column {
            data: rows.iter().map(|r| UInt128 { high: r.upid.0, low: r.upid.1 }).collect(),
        }),
        ColData::StringData(StringColumn { data: rows.iter().map(|r| r.req_path.clone().into_bytes()).collect() }),
        ColData::Int64Data(Int64Column { data: rows.iter().map(|r| r.resp_status).collect() }),
        ColData::Float64Data(Float64Column { data: rows.iter().map(|r| r.latency).collect() }),
        ColData::BooleanData(BooleanColumn { data: rows.iter().map(|r| r.encrypted).collect() }),
        ColData::StringData(StringColumn { data: rows.iter().map(|_| b"prod/web-1".to_vec()).collect() }),
        ColData::StringData(StringColumn { data: rows.iter().map(|_| b"prod".to_vec()).collect() }),
    ];
    ExecuteScriptResponse {
        status: Some(vigil_etl::vizierpb::Status { code: 0, ..Default::default() }),
        result: Some(Reply::Data(QueryData {
            batch: Some(RowBatchData {
                table_id: "table-1".into(),
                cols: cols.into_iter().map(|c| Column { col_data: Some(c) }).collect(),
                num_rows: rows.len() as i64,
                eow: eos,
                eos,
            }),
            ..QueryData::default()
        })),
        ..ExecuteScriptResponse::default()
    }
}

type ResponseStream = Pin<Box<dyn Stream<Item = Result<ExecuteScriptResponse, Status>> + Send>>;

/// The service: the fake's state is shared with the test.
struct Service(Arc<FakeVizier>);

impl std::ops::Deref for Service {
    type Target = FakeVizier;
    fn deref(&self) -> &FakeVizier {
        &self.0
    }
}

#[tonic::async_trait]
impl VizierService for Service {
    type ExecuteScriptStream = ResponseStream;
    type HealthCheckStream = Pin<Box<dyn Stream<Item = Result<HealthCheckResponse, Status>> + Send>>;

    async fn execute_script(&self, request: Request<ExecuteScriptRequest>) -> Result<Response<ResponseStream>, Status> {
        let key = request.metadata().get("pixie-api-key").map(|v| v.to_str().unwrap().to_owned());
        self.api_keys.lock().unwrap().push(key);
        let script = request.into_inner().query_str;
        self.scripts.lock().unwrap().push(script.clone());
        let mut messages = Vec::new();
        if let Some((code, message)) = self.error.lock().unwrap().clone() {
            messages.push(ExecuteScriptResponse {
                status: Some(vigil_etl::vizierpb::Status { code, message, ..Default::default() }),
                ..ExecuteScriptResponse::default()
            });
        } else {
            let start = start_time_of(&script);
            let rows: Vec<CannedRow> =
                self.rows.lock().unwrap().iter().filter(|r| r.time_ns >= start).cloned().collect();
            let relation = Relation {
                columns: vec![
                    column("time_", DataType::Time64ns),
                    column("upid", DataType::Uint128),
                    column("req_path", DataType::String),
                    column("resp_status", DataType::Int64),
                    column("latency", DataType::Float64),
                    column("encrypted", DataType::Boolean),
                    column("pod", DataType::String),
                    column("namespace", DataType::String),
                ],
            };
            messages.push(ExecuteScriptResponse {
                result: Some(Reply::MetaData(QueryMetadata {
                    relation: Some(relation),
                    name: "vigil_etl".into(),
                    id: "table-1".into(),
                })),
                ..ExecuteScriptResponse::default()
            });
            // Two batches, newest rows first in the second: order within a poll is not time order.
            let (first, second) = rows.split_at(rows.len() / 2);
            messages.push(batch(first, false));
            let mut second = second.to_vec();
            second.reverse();
            messages.push(batch(&second, true));
        }
        let stream: ResponseStream = Box::pin(tokio_stream::iter(messages.into_iter().map(Ok)));
        Ok(Response::new(stream))
    }

    async fn health_check(&self, _: Request<HealthCheckRequest>) -> Result<Response<Self::HealthCheckStream>, Status> {
        Err(Status::unimplemented("not in the fake"))
    }

    async fn generate_o_tel_script(
        &self,
        _: Request<GenerateOTelScriptRequest>,
    ) -> Result<Response<GenerateOTelScriptResponse>, Status> {
        Err(Status::unimplemented("not in the fake"))
    }
}

/// Serves `fake` on 127.0.0.1 (plain gRPC) until dropped; returns `http://addr`.
pub struct FakeVizierServer {
    pub address: String,
    _runtime: tokio::runtime::Runtime,
}

pub fn serve(fake: Arc<FakeVizier>) -> FakeVizierServer {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    runtime.spawn(
        tonic::transport::Server::builder()
            .add_service(VizierServiceServer::new(Service(fake)))
            .serve_with_incoming(tokio_stream::wrappers::TcpListenerStream::new(listener)),
    );
    FakeVizierServer { address, _runtime: runtime }
}

/// Records submissions; can be told to refuse as full a number of times first.
#[derive(Default)]
pub struct RecordingSubmitter {
    pub calls: Mutex<Vec<(String, Vec<String>)>>,
    pub refuse_full: Mutex<u32>,
}

impl RecordingSubmitter {
    pub fn records(&self) -> Vec<(String, serde_json::Value)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(origin, records)| {
                records.iter().map(|r| (origin.clone(), serde_json::from_str(r).expect("JSON records")))
            })
            .collect()
    }

    pub fn lines(&self) -> Vec<(String, String)> {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .flat_map(|(origin, records)| records.iter().map(|r| (origin.clone(), r.clone())))
            .collect()
    }
}

impl EventSubmitter for RecordingSubmitter {
    fn submit(&self, origin: &str, records: Vec<String>) -> Result<Vec<String>, SubmitError> {
        let mut refuse = self.refuse_full.lock().unwrap();
        if *refuse > 0 {
            *refuse -= 1;
            return Err(SubmitError::Full { retry_after_secs: 1 });
        }
        let ids = records.iter().enumerate().map(|(i, _)| format!("id-{i}")).collect();
        self.calls.lock().unwrap().push((origin.to_owned(), records));
        Ok(ids)
    }
}

/// Waits for `condition` with a generous deadline (not a timing assertion).
pub fn wait_until(what: &str, mut condition: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !condition() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}
