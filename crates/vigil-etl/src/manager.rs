//! The job manager: one thread per running job (each with its own single-threaded tokio
//! runtime for the gRPC client), progress kept in memory and persisted after each poll.
//!
//! Owning a runtime per job thread, rather than sharing one, means the manager holds no
//! runtime that could be dropped inside the HTTP server's async context (which panics),
//! and a slow job never delays another.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::sync::watch;
use vigil_pipeline::submit::EventSubmitter;
use vigil_store::Store;

use crate::file::{self, FileWatermark};
use crate::pixie::{self, PixieClient, PixieWatermark, PollError};
use crate::spec::{FileSpec, JobSpec, PixieSpec};
use crate::submit::Interrupted;
use crate::{EtlOptions, JobControl, JobError};

const RUNNING: &str = "running";
const STOPPED: &str = "stopped";
const FAILED: &str = "failed";
/// Longest last-error text kept (a Pixie compiler error can be long).
const MAX_ERROR_BYTES: usize = 2048;

/// Starts, stops, resumes and reports polling jobs. See the crate docs for the
/// delivery guarantee.
pub struct JobManager {
    context: Arc<Context>,
    jobs: Mutex<BTreeMap<String, Job>>,
}

struct Context {
    store: Arc<Store>,
    submitter: Arc<dyn EventSubmitter>,
    options: EtlOptions,
}

struct Job {
    shared: Arc<JobShared>,
    runner: Option<Runner>,
}

struct Runner {
    stop: watch::Sender<bool>,
    thread: JoinHandle<()>,
}

/// What the job thread and status calls share.
struct JobShared {
    id: String,
    kind: String,
    /// The start request as given (stored as the job's spec).
    request: Value,
    /// `None` when a stored request no longer validates (the job is `failed`).
    spec: Option<JobSpec>,
    created_ms: i64,
    progress: Mutex<Progress>,
}

struct Progress {
    state: &'static str,
    /// The watermark as persisted (JSON text).
    watermark: String,
    rows_read: u64,
    last_error: Option<String>,
    polls: u64,
    last_poll_ms: Option<i64>,
    updated_ms: i64,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn now_ns() -> i64 {
    chrono::Utc::now().timestamp_nanos_opt().unwrap_or(i64::MAX)
}

fn bounded(mut message: String) -> String {
    if message.len() > MAX_ERROR_BYTES {
        let mut end = MAX_ERROR_BYTES;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push('…');
    }
    message
}

impl JobManager {
    /// Checks `options`, loads every stored job, and resumes those in state `running`
    /// from their persisted watermark. A stored job that can no longer run (its kind
    /// disabled, its file outside the roots now, a corrupt watermark) is marked `failed`
    /// with the reason as its last error.
    pub fn start(
        store: Arc<Store>,
        submitter: Arc<dyn EventSubmitter>,
        options: EtlOptions,
    ) -> Result<Arc<JobManager>, JobError> {
        if options.pixie.address.is_some() {
            pixie::endpoint(&options.pixie)?;
        }
        let stored = store.etl_jobs()?;
        let manager = Arc::new(JobManager {
            context: Arc::new(Context { store, submitter, options }),
            jobs: Mutex::new(BTreeMap::new()),
        });
        for row in stored {
            let request: Value = serde_json::from_str(&row.spec).unwrap_or(Value::Null);
            let spec = JobSpec::parse(&request, &manager.context.options, now_ns());
            let resumable = spec.as_ref().map_err(ToString::to_string).and_then(|spec| {
                check_watermark(spec, &row.watermark).map_err(|why| format!("stored watermark: {why}"))
            });
            let mut progress = Progress {
                state: match row.state.as_str() {
                    RUNNING => RUNNING,
                    STOPPED => STOPPED,
                    _ => FAILED,
                },
                watermark: row.watermark,
                rows_read: row.rows_read,
                last_error: row.last_error,
                polls: 0,
                last_poll_ms: None,
                updated_ms: row.updated_ms,
            };
            if let (RUNNING, Err(why)) = (progress.state, &resumable) {
                progress.state = FAILED;
                progress.last_error = Some(bounded(format!("cannot resume: {why}")));
                progress.updated_ms = now_ms();
                manager.context.store.update_etl_job(
                    &row.job_id,
                    FAILED,
                    &progress.watermark,
                    progress.rows_read,
                    progress.last_error.as_deref(),
                    progress.updated_ms,
                )?;
            }
            let shared = Arc::new(JobShared {
                id: row.job_id.clone(),
                kind: row.kind,
                request,
                spec: spec.ok(),
                created_ms: row.created_ms,
                progress: Mutex::new(progress),
            });
            let runner = if lock(&shared.progress).state == RUNNING {
                Some(spawn(Arc::clone(&shared), Arc::clone(&manager.context))?)
            } else {
                None
            };
            lock(&manager.jobs).insert(row.job_id, Job { shared, runner });
        }
        Ok(manager)
    }

    /// Stops every job thread and waits for them. Jobs stay `running` in the store, so
    /// the next [`JobManager::start`] resumes them. Later starts are refused.
    pub fn shutdown(&self) {
        let runners: Vec<Runner> = lock(&self.jobs).values_mut().filter_map(|job| job.runner.take()).collect();
        for runner in &runners {
            let _ = runner.stop.send(true);
        }
        for runner in runners {
            let _ = runner.thread.join();
        }
    }
}

impl Drop for JobManager {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A stored watermark must parse as the kind's; the job would otherwise restart from
/// scratch silently.
fn check_watermark(spec: &JobSpec, watermark: &str) -> Result<(), String> {
    match spec {
        JobSpec::Pixie(_) => serde_json::from_str::<PixieWatermark>(watermark).map(drop),
        JobSpec::File(_) => serde_json::from_str::<FileWatermark>(watermark).map(drop),
    }
    .map_err(|err| err.to_string())
}

fn initial_watermark(spec: &JobSpec) -> String {
    match spec {
        JobSpec::Pixie(spec) => json!(PixieWatermark::starting_at(spec.start_ns)).to_string(),
        // A new file job reads its files from the start.
        JobSpec::File(_) => json!(FileWatermark::default()).to_string(),
    }
}

fn spawn(shared: Arc<JobShared>, context: Arc<Context>) -> Result<Runner, JobError> {
    let (stop, stop_receiver) = watch::channel(false);
    let name = format!("etl-{}", shared.id.get(..8).unwrap_or(&shared.id));
    let thread = std::thread::Builder::new()
        .name(name)
        .spawn(move || run_job(&shared, &context, stop_receiver))
        .map_err(|err| JobError::Store(format!("cannot start the job's thread: {err}")))?;
    Ok(Runner { stop, thread })
}

impl JobControl for JobManager {
    fn start(&self, request: &Value) -> Result<String, JobError> {
        let spec = JobSpec::parse(request, &self.context.options, now_ns())?;
        let mut jobs = lock(&self.jobs);
        let running = jobs.values().filter(|job| job.runner.is_some()).count();
        if running >= self.context.options.max_jobs {
            return Err(JobError::BadRequest(format!(
                "{running} jobs are running already, the most allowed; stop one first"
            )));
        }
        let id = uuid::Uuid::new_v4().to_string();
        let watermark = initial_watermark(&spec);
        let created_ms = now_ms();
        self.context.store.insert_etl_job(&id, spec.kind(), &request.to_string(), RUNNING, &watermark, created_ms)?;
        let shared = Arc::new(JobShared {
            id: id.clone(),
            kind: spec.kind().to_owned(),
            request: request.clone(),
            spec: Some(spec),
            created_ms,
            progress: Mutex::new(Progress {
                state: RUNNING,
                watermark,
                rows_read: 0,
                last_error: None,
                polls: 0,
                last_poll_ms: None,
                updated_ms: created_ms,
            }),
        });
        let runner = spawn(Arc::clone(&shared), Arc::clone(&self.context))?;
        jobs.insert(id.clone(), Job { shared, runner: Some(runner) });
        Ok(id)
    }

    fn stop(&self, job_id: &str) -> Result<(), JobError> {
        let (shared, runner) = {
            let mut jobs = lock(&self.jobs);
            let job = jobs.get_mut(job_id).ok_or_else(|| JobError::NotFound(job_id.to_owned()))?;
            (Arc::clone(&job.shared), job.runner.take())
        };
        if let Some(runner) = runner {
            let _ = runner.stop.send(true);
            let _ = runner.thread.join();
        }
        // After the join: the thread's last persist cannot overwrite this.
        let mut progress = lock(&shared.progress);
        if progress.state == RUNNING {
            progress.state = STOPPED;
            progress.updated_ms = now_ms();
            self.context.store.set_etl_job_state(job_id, STOPPED, progress.updated_ms)?;
        }
        Ok(())
    }

    fn status(&self) -> Vec<Value> {
        let jobs: Vec<Arc<JobShared>> = lock(&self.jobs).values().map(|job| Arc::clone(&job.shared)).collect();
        let mut statuses: Vec<(i64, Value)> = jobs.iter().map(|job| (job.created_ms, job.status())).collect();
        statuses.sort_by_key(|(created_ms, _)| std::cmp::Reverse(*created_ms));
        statuses.into_iter().map(|(_, status)| status).collect()
    }
}

impl JobShared {
    fn status(&self) -> Value {
        let progress = lock(&self.progress);
        let stored: Value = serde_json::from_str(&progress.watermark).unwrap_or(Value::Null);
        let mut status = json!({
            "uuid": self.id,
            "kind": self.kind,
            "state": progress.state,
            "rows_read": progress.rows_read,
            "last_error": progress.last_error,
            "polls": progress.polls,
            "last_poll_ms": progress.last_poll_ms,
            "created_ms": self.created_ms,
            "updated_ms": progress.updated_ms,
        });
        let fields = status.as_object_mut().expect("an object");
        match &self.spec {
            Some(JobSpec::Pixie(spec)) => {
                fields.insert("tablename".into(), json!(spec.table));
                fields.insert("podname".into(), json!(spec.pod));
                fields.insert("namespace".into(), json!(spec.namespace));
                fields.insert("poll_interval".into(), json!(spec.poll_interval.as_secs()));
                // The boundary fingerprints are bookkeeping; their count is enough here.
                let time_ns = stored["time_ns"].as_i64();
                let boundary = stored["boundary"].as_array().map_or(0, Vec::len);
                let time = time_ns.map(|ns| chrono::DateTime::from_timestamp_nanos(ns).to_rfc3339());
                fields
                    .insert("watermark".into(), json!({"time_ns": time_ns, "time": time, "rows_at_time_ns": boundary}));
            }
            Some(JobSpec::File(spec)) => {
                fields.insert("path".into(), json!(spec.requested_path));
                fields.insert("poll_interval".into(), json!(spec.poll_interval.as_secs()));
                fields.insert("watermark".into(), stored);
            }
            None => {
                // Shown as stored; the request is at most the HTTP body limit.
                fields.insert("request".into(), self.request.clone());
                fields.insert("watermark".into(), stored);
            }
        }
        status
    }

    /// Records a poll's outcome in memory and the store.
    fn record(&self, store: &Store, watermark: Option<String>, rows: u64, error: Option<String>, finished_poll: bool) {
        let mut progress = lock(&self.progress);
        if let Some(watermark) = watermark {
            progress.watermark = watermark;
        }
        progress.rows_read += rows;
        let now = now_ms();
        if finished_poll {
            progress.polls += 1;
            progress.last_poll_ms = Some(now);
            progress.last_error = error.map(bounded);
        }
        progress.updated_ms = now;
        let persisted = store.update_etl_job(
            &self.id,
            RUNNING,
            &progress.watermark,
            progress.rows_read,
            progress.last_error.as_deref(),
            now,
        );
        if let Err(err) = persisted {
            eprintln!("vigil-etl: job {}: persisting progress failed: {err}", self.id);
            progress.last_error = Some(bounded(format!("persisting progress failed: {err}")));
        }
    }

    fn fail(&self, store: &Store, why: String) {
        let mut progress = lock(&self.progress);
        progress.state = FAILED;
        progress.last_error = Some(bounded(why));
        progress.updated_ms = now_ms();
        if let Err(err) = store.update_etl_job(
            &self.id,
            FAILED,
            &progress.watermark,
            progress.rows_read,
            progress.last_error.as_deref(),
            progress.updated_ms,
        ) {
            eprintln!("vigil-etl: job {}: persisting its failure failed: {err}", self.id);
        }
    }
}

fn run_job(shared: &Arc<JobShared>, context: &Arc<Context>, stop: watch::Receiver<bool>) {
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return shared.fail(&context.store, format!("cannot start the job's runtime: {err}")),
    };
    let Some(spec) = shared.spec.clone() else { return };
    runtime.block_on(async {
        match spec {
            JobSpec::Pixie(spec) => run_pixie(shared, context, &spec, stop).await,
            JobSpec::File(spec) => run_file(shared, context, &spec, stop).await,
        }
    });
}

/// Waits `interval`; false when told to stop first.
async fn pause(interval: Duration, stop: &mut watch::Receiver<bool>) -> bool {
    let slept = tokio::select! {
        _ = tokio::time::sleep(interval) => true,
        _ = stop.wait_for(|stopped| *stopped) => false,
    };
    slept && !*stop.borrow()
}

async fn run_pixie(shared: &JobShared, context: &Context, spec: &PixieSpec, mut stop: watch::Receiver<bool>) {
    let mut client = match PixieClient::new(&context.options.pixie) {
        Ok(client) => client,
        Err(err) => return shared.fail(&context.store, err.to_string()),
    };
    let mut watermark: PixieWatermark = {
        let stored = lock(&shared.progress).watermark.clone();
        serde_json::from_str(&stored).unwrap_or_else(|_| PixieWatermark::starting_at(spec.start_ns))
    };
    let origin = format!("pixie:{}", shared.id);
    loop {
        if *stop.borrow() {
            return;
        }
        let mut stop_in_poll = stop.clone();
        let polled = tokio::select! {
            polled = pixie::poll(&mut client, spec, &watermark, &*context.submitter, &origin, &mut stop_in_poll) => polled,
            _ = stop.wait_for(|stopped| *stopped) => return,
        };
        match polled {
            Ok(result) => {
                watermark = result.watermark;
                shared.record(&context.store, Some(json!(watermark).to_string()), result.rows, None, true);
            }
            Err(PollError::Failed { message, rows }) => shared.record(&context.store, None, rows, Some(message), true),
            Err(PollError::Interrupted(Interrupted::Stopped)) => return,
            Err(PollError::Interrupted(closed)) => {
                shared.record(&context.store, None, 0, Some(closed.to_string()), true);
            }
        }
        if !pause(spec.poll_interval, &mut stop).await {
            return;
        }
    }
}

async fn run_file(shared: &JobShared, context: &Context, spec: &FileSpec, mut stop: watch::Receiver<bool>) {
    let mut watermark: FileWatermark = {
        let stored = lock(&shared.progress).watermark.clone();
        serde_json::from_str(&stored).unwrap_or_default()
    };
    loop {
        if *stop.borrow() {
            return;
        }
        let mut persist = |watermark: &FileWatermark, rows: u64| {
            shared.record(&context.store, Some(json!(watermark).to_string()), rows, None, false);
        };
        let polled = file::poll(
            &spec.path,
            &mut watermark,
            context.options.max_line_bytes,
            &*context.submitter,
            &mut stop,
            &mut persist,
        )
        .await;
        match polled {
            Ok(result) => {
                let error = (!result.problems.is_empty()).then(|| result.problems.join("; "));
                shared.record(&context.store, Some(json!(watermark).to_string()), 0, error, true);
            }
            Err(Interrupted::Stopped) => return,
            Err(closed) => shared.record(&context.store, None, 0, Some(closed.to_string()), true),
        }
        if !pause(spec.poll_interval, &mut stop).await {
            return;
        }
    }
}
