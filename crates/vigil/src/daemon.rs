//! Wiring of the running daemon, shared by `vigil run` and `vigil demo`: the store, the
//! rule set, the pipeline, the sources, the retention task and the HTTP server — and
//! their orderly shutdown (sources stop, the pipeline drains into the store, the
//! server stops last so the API answers until the end).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context;
use vigil_detect::AggregationConfig;
use vigil_event::LogSource;
use vigil_normalize::SourceKind;
use vigil_pipeline::metrics::Metrics;
use vigil_pipeline::runtime::{Pipeline, PipelineConfig, PipelineReport};
use vigil_pipeline::source::file_tail::{run_file_tail, FileTailConfig};
use vigil_pipeline::source::syslog_net::{serve_syslog_tcp, serve_syslog_udp, SyslogNetOptions};
use vigil_store::{Retention, Store, StoreOptions};

use crate::config::{Config, StartAt};

/// A started daemon.
pub struct Daemon {
    pub store: Arc<Store>,
    pub api_addr: Option<SocketAddr>,
    pub write_token: String,
    pipeline: Option<Pipeline>,
    stop: Arc<AtomicBool>,
    sources: Vec<(String, JoinHandle<()>)>,
    background: Vec<JoinHandle<()>>,
    server: Option<(tokio::runtime::Runtime, tokio::sync::oneshot::Sender<()>, tokio::task::JoinHandle<()>)>,
    jobs: Option<Arc<vigil_etl::JobManager>>,
    pub rules_loaded: usize,
    pub rules_rejected: usize,
}

fn parse_kind(name: &Option<String>) -> anyhow::Result<Option<SourceKind>> {
    name.as_deref().map(|n| n.parse::<SourceKind>().map_err(|e| anyhow::anyhow!("{e}"))).transpose()
}

impl Daemon {
    pub fn start(config: &Config) -> anyhow::Result<Daemon> {
        let store = Arc::new(
            Store::open(&config.store.dir, StoreOptions::default())
                .with_context(|| format!("opening the store in {}", config.store.dir.display()))?,
        );
        let pipelines = crate::rules::pipelines(&config.rules.pipelines, true)?;
        let compiled = crate::rules::compile(&config.rules.paths, &pipelines)?;
        let rules_rejected = compiled.errors.len();
        let rules = Arc::new(compiled.rules);
        let rules_loaded = rules.rules().len() + rules.correlations().len();
        let metrics = Arc::new(Metrics::default());
        let pipeline = Pipeline::start(
            Arc::clone(&rules),
            Arc::clone(&store),
            PipelineConfig {
                workers: config.detect.workers,
                aggregation: AggregationConfig {
                    window_ms: config.detect.aggregation_window.as_millis() as i64,
                    ..AggregationConfig::default()
                },
                correlation_lateness_ms: config.detect.correlation_lateness.as_millis() as i64,
                default_logsource: config.detect.default_logsource.as_deref().map(LogSource::from_path),
                commit_interval: config.store.commit_interval,
                ..PipelineConfig::default()
            },
            Arc::clone(&metrics),
        );
        let stop = Arc::new(AtomicBool::new(false));
        let mut daemon = Daemon {
            store: Arc::clone(&store),
            api_addr: None,
            write_token: config.api.write_token.clone().filter(|t| !t.is_empty()).unwrap_or_else(random_token),
            pipeline: None,
            stop: Arc::clone(&stop),
            sources: Vec::new(),
            background: Vec::new(),
            server: None,
            jobs: None,
            rules_loaded,
            rules_rejected,
        };
        let factory = pipeline.sink_factory();
        let checkpoints = store.checkpoints().context("reading source checkpoints")?;
        for (i, file) in config.sources.file.iter().enumerate() {
            let tail = FileTailConfig {
                paths: file.paths.clone(),
                kind: parse_kind(&file.source)?,
                poll_interval: file.poll_interval,
                start_at_end: file.start_at == StartAt::End,
                ..FileTailConfig::default()
            };
            let (factory, stop, checkpoints) = (Arc::clone(&factory), Arc::clone(&stop), checkpoints.clone());
            let name = format!("file source {}", i + 1);
            let handle = std::thread::Builder::new().name(format!("vigil-tail-{i}")).spawn(move || {
                if let Err(e) = run_file_tail(&tail, &checkpoints, &*factory, &stop) {
                    eprintln!("vigil: file source stopped: {e}");
                }
            })?;
            daemon.sources.push((name, handle));
        }
        if let Some(syslog) = &config.sources.syslog {
            let options = SyslogNetOptions::default();
            if let Some(addr) = syslog.udp {
                let socket =
                    std::net::UdpSocket::bind(addr).with_context(|| format!("binding syslog UDP on {addr}"))?;
                let (factory, stop, options) = (Arc::clone(&factory), Arc::clone(&stop), options.clone());
                let handle = std::thread::Builder::new().name("vigil-syslog-udp".into()).spawn(move || {
                    if let Err(e) = serve_syslog_udp(socket, &*factory, &stop, &options) {
                        eprintln!("vigil: syslog UDP source stopped: {e}");
                    }
                })?;
                daemon.sources.push(("syslog udp".into(), handle));
            }
            if let Some(addr) = syslog.tcp {
                let listener =
                    std::net::TcpListener::bind(addr).with_context(|| format!("binding syslog TCP on {addr}"))?;
                let (factory, stop) = (Arc::clone(&factory), Arc::clone(&stop));
                let handle = std::thread::Builder::new().name("vigil-syslog-tcp".into()).spawn(move || {
                    if let Err(e) = serve_syslog_tcp(listener, &*factory, &stop, &options) {
                        eprintln!("vigil: syslog TCP source stopped: {e}");
                    }
                })?;
                daemon.sources.push(("syslog tcp".into(), handle));
            }
        }
        if let Some(stdin) = config.sources.stdin.as_ref().filter(|s| s.enabled) {
            let kind = parse_kind(&stdin.source)?;
            let factory = Arc::clone(&factory);
            let handle = std::thread::Builder::new().name("vigil-stdin".into()).spawn(move || {
                let mut input = std::io::stdin().lock();
                if let Err(e) =
                    vigil_pipeline::source::stdin::run_reader(&mut input, "stdin", kind, &*factory, 1000, 1 << 20)
                {
                    eprintln!("vigil: stdin source stopped: {e}");
                }
            })?;
            // stdin ends on its own (EOF); it is not waited for at shutdown.
            daemon.background.push(handle);
        }
        let retention = Retention {
            max_age_ms: config.store.retention_max_age.map(|d| d.as_millis() as i64),
            max_bytes: config.store.retention_max_bytes,
        };
        if retention.max_age_ms.is_some() || retention.max_bytes.is_some() {
            let (store, stop) = (Arc::clone(&store), Arc::clone(&stop));
            let interval = config.store.retention_interval.max(Duration::from_secs(1));
            daemon.background.push(
                std::thread::Builder::new()
                    .name("vigil-retention".into())
                    .spawn(move || retention_loop(&store, retention, interval, &stop))?,
            );
        }
        if config.api.enabled {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("vigil-http")
                .enable_all()
                .build()
                .context("starting the HTTP runtime")?;
            let listener = runtime
                .block_on(tokio::net::TcpListener::bind(config.api.listen))
                .with_context(|| format!("binding the API on {}", config.api.listen))?;
            daemon.api_addr = Some(listener.local_addr()?);
            let render = {
                let metrics = Arc::clone(&metrics);
                Arc::new(move || metrics.render()) as Arc<dyn Fn() -> String + Send + Sync>
            };
            let rule_paths: Vec<&std::path::Path> = config.rules.paths.iter().map(PathBuf::as_path).collect();
            let catalog = vigil_stix::RuleCatalog::from_rule_paths(&rule_paths)
                .context("reading the rules for STIX indicators")?;
            let geoip = if config.honeypot.geoip_databases.is_empty() {
                None
            } else {
                let geoip = vigil_server::honeypot::GeoIp::open_all(&config.honeypot.geoip_databases)
                    .context("opening honeypot.geoip_databases")?;
                Some(Arc::new(geoip))
            };
            if config.etl.enabled {
                let options = vigil_etl::EtlOptions {
                    pixie: vigil_etl::PixieOptions {
                        address: config.etl.pixie_address.clone().filter(|a| !a.is_empty()),
                        cluster_id: config.etl.pixie_cluster_id.clone().unwrap_or_default(),
                        api_key: config.etl.pixie_api_key.clone().filter(|k| !k.is_empty()),
                        api_client: String::new(),
                        tls_ca_file: config.etl.pixie_tls_ca_file.clone(),
                        request_timeout: config.etl.pixie_timeout,
                    },
                    file_roots: config.etl.file_roots.clone(),
                    max_jobs: config.etl.max_jobs,
                    ..vigil_etl::EtlOptions::default()
                };
                let manager = vigil_etl::JobManager::start(Arc::clone(&store), pipeline.submitter(), options)
                    .context("starting the ETL jobs")?;
                daemon.jobs = Some(manager);
            }
            let state = vigil_server::AppState {
                store: Arc::clone(&store),
                submitter: pipeline.submitter(),
                metrics: render,
                config: vigil_server::ServerConfig {
                    write_token: daemon.write_token.clone(),
                    read_token: config.api.read_token.clone().filter(|t| !t.is_empty()),
                    max_body_bytes: config.api.max_body_bytes as usize,
                    max_events_per_request: config.api.max_events_per_request,
                },
                rules: Arc::new(catalog),
                jobs: daemon.jobs.clone().map(|jobs| jobs as Arc<dyn vigil_etl::JobControl>),
                geoip,
            };
            let (tx, rx) = tokio::sync::oneshot::channel::<()>();
            let task = runtime.spawn(async move {
                let shutdown = async move {
                    let _ = rx.await;
                };
                if let Err(e) = vigil_server::serve(listener, state, shutdown).await {
                    eprintln!("vigil: API server stopped: {e}");
                }
            });
            daemon.server = Some((runtime, tx, task));
        }
        daemon.pipeline = Some(pipeline);
        Ok(daemon)
    }

    pub fn metrics(&self) -> Option<Arc<Metrics>> {
        self.pipeline.as_ref().map(Pipeline::metrics)
    }

    /// Stops the sources, drains the pipeline into the store, then stops the server.
    pub fn stop(mut self) -> PipelineReport {
        self.stop.store(true, Ordering::SeqCst);
        // Jobs first: they feed the pipeline, which must drain after them. Stopped this
        // way they stay `running` in the store and resume on the next start.
        if let Some(jobs) = self.jobs.take() {
            jobs.shutdown();
        }
        for (name, handle) in self.sources.drain(..) {
            if handle.join().is_err() {
                eprintln!("vigil: {name} panicked");
            }
        }
        let report = self.pipeline.take().map(Pipeline::shutdown).unwrap_or_default();
        if let Some((runtime, tx, task)) = self.server.take() {
            let _ = tx.send(());
            let _ = runtime.block_on(async { tokio::time::timeout(Duration::from_secs(5), task).await });
            runtime.shutdown_timeout(Duration::from_secs(1));
        }
        report
    }
}

fn retention_loop(store: &Store, policy: Retention, interval: Duration, stop: &AtomicBool) {
    let step = Duration::from_millis(200);
    let mut waited = interval;
    while !stop.load(Ordering::Relaxed) {
        if waited >= interval {
            waited = Duration::ZERO;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() as i64)
                .unwrap_or(0);
            match store.apply_retention(&policy, now) {
                Ok(r) if r.events_deleted > 0 || r.dead_letters_deleted > 0 => eprintln!(
                    "vigil: retention removed {} events and {} dead letters ({} bytes now)",
                    r.events_deleted, r.dead_letters_deleted, r.bytes_after
                ),
                Ok(_) => {}
                Err(e) => eprintln!("vigil: retention failed: {e}"),
            }
        }
        std::thread::sleep(step);
        waited += step;
    }
}

/// 32 random bytes, hex: a write token for a daemon started without one.
pub fn random_token() -> String {
    let a = uuid::Uuid::new_v4();
    let b = uuid::Uuid::new_v4();
    format!("{}{}", a.simple(), b.simple())
}

/// Where the bundled rule pack is: `./rules` when run from a checkout, else the one
/// beside the sources this binary was built from.
pub fn default_rules_dir() -> PathBuf {
    let local = PathBuf::from("rules");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules"))
}
