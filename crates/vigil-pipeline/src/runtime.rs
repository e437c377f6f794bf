//! The daemon's graph, thread by thread:
//!
//! ```text
//! sources ──(decode in the source's thread)──▶ inlet ─▶ sequencer ─▶ workers ×N ─▶ writer ─────▶ committer
//!  file tail, stdin, syslog, HTTP                 bounded      numbers     rule         reorders,      events, dead
//!                                                 channel      batches     evaluation   correlates,    letters and
//!                                                                                       aggregates,    checkpoints
//!                                                                                       commits alerts
//! ```
//!
//! Decoding happens in each source's own thread because decoders keep per-stream state;
//! rule evaluation, the expensive part, runs on every core; correlation and alert
//! aggregation run on the writer thread in batch order. The writer commits alerts
//! itself, to the store's alert file, the moment they open; the events, dead letters
//! and source checkpoints of the batches behind them go to the committer thread. An
//! alert thus never waits for event commits, which can stall for tens of milliseconds
//! under load (vigil-store's alert_file.rs), and a checkpoint is committed only after
//! the alerts and events it covers, so it never gets ahead of the data.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{bounded, select, Receiver, SendTimeoutError, Sender, TrySendError};
use vigil_detect::{AggregationConfig, AlertStage, AlertUpdate, EventContext, EventMatcher, MatchResult};
use vigil_event::LogSource;
use vigil_sigma::RuleSet;
use vigil_store::{AlertChange, Checkpoint, NewAlert, NewDeadLetter, NewEvent, Store, WriteBatch};

use crate::decode::{cap, DecodedEvent};
use crate::metrics::Metrics;

#[derive(Debug, Clone)]
pub struct PipelineConfig {
    /// Rule-evaluation threads; 0 = one per core.
    pub workers: usize,
    /// Capacity of each channel, in batches.
    pub queue_batches: usize,
    /// A store transaction is committed once this many events are pending …
    /// (the writer fills the next batch while the committer writes one, so up to
    /// twice this many are held in memory)
    pub commit_max_events: usize,
    /// … or this long after the oldest pending one arrived.
    pub commit_interval: Duration,
    pub aggregation: AggregationConfig,
    /// How long correlation windows wait for late events.
    pub correlation_lateness_ms: i64,
    /// Logsource for events that carry none.
    pub default_logsource: Option<LogSource>,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            workers: 0,
            queue_batches: 8,
            commit_max_events: 10_000,
            commit_interval: Duration::from_millis(200),
            aggregation: AggregationConfig::default(),
            correlation_lateness_ms: 5_000,
            default_logsource: None,
        }
    }
}

/// One decoded event with its id.
pub(crate) struct PendingEvent {
    pub event_id: String,
    pub decoded: DecodedEvent,
}

/// A decoded batch on its way to the workers.
pub(crate) struct DecodedBatch {
    pub origin: Arc<str>,
    pub received_ms: i64,
    pub events: Vec<PendingEvent>,
    pub dead: Vec<NewDeadLetter>,
    pub checkpoint: Option<Checkpoint>,
}

struct Evaluated {
    seq: u64,
    batch: DecodedBatch,
    /// (event index, what it matched), only for events that matched something.
    matches: Vec<(usize, MatchResult)>,
    time_ms: Vec<Option<i64>>,
}

/// The entry of the graph, shared by every source. Senders hold the read lock while
/// sending, so closing (the write lock) waits for sends in flight and none follow.
pub(crate) struct Inlet {
    tx: RwLock<Option<Sender<DecodedBatch>>>,
}

pub(crate) enum InletError {
    Full,
    Closed,
}

impl Inlet {
    /// Blocks while the pipeline is full.
    pub fn send(&self, batch: DecodedBatch) -> Result<(), InletError> {
        let guard = self.tx.read().expect("inlet lock");
        match guard.as_ref() {
            Some(tx) => tx.send(batch).map_err(|_| InletError::Closed),
            None => Err(InletError::Closed),
        }
    }

    pub fn try_send(&self, batch: DecodedBatch) -> Result<(), InletError> {
        let guard = self.tx.read().expect("inlet lock");
        match guard.as_ref() {
            Some(tx) => tx.try_send(batch).map_err(|e| match e {
                TrySendError::Full(_) => InletError::Full,
                TrySendError::Disconnected(_) => InletError::Closed,
            }),
            None => Err(InletError::Closed),
        }
    }

    fn close(&self) {
        self.tx.write().expect("inlet lock").take();
    }
}

/// What the pipeline did, reported at shutdown.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PipelineReport {
    pub events_stored: u64,
    pub alerts_new: u64,
    pub alerts_repeated: u64,
    pub dead_letters: u64,
    pub commit_failures: u64,
}

/// A running pipeline.
pub struct Pipeline {
    inlet: Arc<Inlet>,
    metrics: Arc<Metrics>,
    threads: Vec<JoinHandle<()>>,
}

impl Pipeline {
    pub fn start(rules: Arc<RuleSet>, store: Arc<Store>, config: PipelineConfig, metrics: Arc<Metrics>) -> Pipeline {
        let workers = if config.workers == 0 {
            std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1)
        } else {
            config.workers
        };
        let capacity = config.queue_batches.max(1);
        let (inlet_tx, inlet_rx) = bounded::<DecodedBatch>(capacity);
        let (work_tx, work_rx) = bounded::<(u64, DecodedBatch)>(capacity);
        let (done_tx, done_rx) = bounded::<Evaluated>(capacity);
        {
            let rx = inlet_rx.clone();
            metrics.add_queue_probe("inlet", Box::new(move || rx.len()));
            let rx = work_rx.clone();
            metrics.add_queue_probe("detect", Box::new(move || rx.len()));
            let rx = done_rx.clone();
            metrics.add_queue_probe("store", Box::new(move || rx.len()));
            // Weak: the metrics (shared with the API) must not keep the store open.
            let store = Arc::downgrade(&store);
            metrics.add_gauge(
                "vigil_fts_backlog_events",
                "Stored events not yet in the full-text index (the indexer's lag).",
                Box::new(move || store.upgrade().and_then(|s| s.full_text_backlog().ok())),
            );
        }
        let mut threads = Vec::new();
        threads.push(
            std::thread::Builder::new()
                .name("vigil-sequencer".into())
                .spawn(move || {
                    // Numbers batches in arrival order so the writer can restore it.
                    for (seq, batch) in inlet_rx.into_iter().enumerate() {
                        if work_tx.send((seq as u64, batch)).is_err() {
                            break;
                        }
                    }
                })
                .expect("spawn sequencer"),
        );
        for i in 0..workers {
            let rules = Arc::clone(&rules);
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            let default_logsource = config.default_logsource.clone();
            threads.push(
                std::thread::Builder::new()
                    .name(format!("vigil-detect-{i}"))
                    .spawn(move || {
                        let mut matcher = EventMatcher::new(&rules);
                        matcher.set_default_logsource(default_logsource);
                        for (seq, batch) in work_rx {
                            let evaluated = evaluate(&mut matcher, seq, batch);
                            if done_tx.send(evaluated).is_err() {
                                break;
                            }
                        }
                    })
                    .expect("spawn worker"),
            );
        }
        drop(done_tx);
        drop(work_rx);
        // A rendezvous: a hand-over succeeds only while the committer waits for one, so
        // whatever becomes due during a commit stays with the writer and goes into the
        // next commit together (group commit), and at most one transaction's worth of
        // events is in the committer's hands.
        let (handover_tx, handover_rx) = bounded::<Handover>(0);
        let (idle_tx, idle_rx) = bounded::<()>(1);
        let committer_store = Arc::clone(&store);
        let committer_metrics = Arc::clone(&metrics);
        threads.push(
            std::thread::Builder::new()
                .name("vigil-committer".into())
                .spawn(move || run_committer(&committer_store, &committer_metrics, &handover_rx, &idle_tx))
                .expect("spawn committer"),
        );
        let writer_metrics = Arc::clone(&metrics);
        threads.push(
            std::thread::Builder::new()
                .name("vigil-writer".into())
                .spawn(move || {
                    let committer = Committer { handover: handover_tx, idle: idle_rx };
                    Writer::new(&rules, &store, &config, &writer_metrics, committer).run(done_rx)
                })
                .expect("spawn writer"),
        );
        Pipeline { inlet: Arc::new(Inlet { tx: RwLock::new(Some(inlet_tx)) }), metrics, threads }
    }

    pub fn metrics(&self) -> Arc<Metrics> {
        Arc::clone(&self.metrics)
    }

    pub(crate) fn inlet(&self) -> Arc<Inlet> {
        Arc::clone(&self.inlet)
    }

    /// Stops taking input, drains everything in flight into the store, closes
    /// correlation windows and returns what was done. Sources should be stopped first;
    /// their later sends fail with [`SinkClosed`](crate::source::SinkClosed).
    pub fn shutdown(self) -> PipelineReport {
        self.inlet.close();
        for t in self.threads {
            let _ = t.join();
        }
        let m = &self.metrics;
        PipelineReport {
            events_stored: m.events_stored.load(Ordering::Relaxed),
            alerts_new: m.alerts_new.load(Ordering::Relaxed),
            alerts_repeated: m.alerts_repeated.load(Ordering::Relaxed),
            dead_letters: m.dead_letters_total(),
            commit_failures: m.commit_failures.load(Ordering::Relaxed),
        }
    }
}

fn evaluate(matcher: &mut EventMatcher<'_>, seq: u64, mut batch: DecodedBatch) -> Evaluated {
    let mut matches = Vec::new();
    let mut time_ms = Vec::with_capacity(batch.events.len());
    let mut result = MatchResult::default();
    let mut failed = Vec::new();
    for (i, event) in batch.events.iter().enumerate() {
        let d = &event.decoded;
        let t = d.time.map(|t| t.timestamp_millis());
        match matcher.evaluate(&d.sigma_json, d.logsource.as_ref(), t, event_ref(seq, i), &mut result) {
            Ok(()) => {
                time_ms.push(result.time_ms);
                if !result.is_empty() {
                    matches.push((i, std::mem::take(&mut result)));
                }
            }
            Err(e) => {
                time_ms.push(t);
                failed.push((i, e.to_string()));
            }
        }
    }
    // Events the evaluator could not read are dead letters, not stored events.
    for (i, message) in failed.into_iter().rev() {
        let event = batch.events.remove(i);
        time_ms.remove(i);
        for m in matches.iter_mut().filter(|(j, _)| *j > i) {
            m.0 -= 1;
        }
        batch.dead.push(NewDeadLetter {
            received_ms: batch.received_ms,
            origin: batch.origin.to_string(),
            position: event.decoded.position,
            reason: "invalid_json".into(),
            message,
            decoder: event.decoded.stored.as_ref().map(|s| s.source.to_owned()),
            raw: cap(&event.decoded.sigma_json).to_owned(),
        });
    }
    Evaluated { seq, batch, matches, time_ms }
}

/// Event references increase with batch order and position in the batch, as the alert
/// stage requires.
fn event_ref(seq: u64, index: usize) -> u64 {
    (seq << 24) | (index as u64 & 0xff_ffff)
}

/// Events, dead letters and checkpoints the writer hands to the committer.
struct Handover {
    batch: WriteBatch,
    /// The last one (shutdown): give up after a few failed attempts instead of
    /// retrying for ever.
    last: bool,
}

/// The writer's ends of the channels to the committer thread.
struct Committer {
    handover: Sender<Handover>,
    /// Signalled each time the committer starts waiting for a hand-over.
    idle: Receiver<()>,
}

/// The writer thread: restores batch order, runs correlations and aggregation, commits
/// alerts, and hands the rest to the committer.
struct Writer<'a> {
    store: &'a Store,
    config: &'a PipelineConfig,
    metrics: &'a Metrics,
    stage: AlertStage<'a>,
    committer: Committer,
    /// Events, dead letters and checkpoints not yet handed over (`alerts` stays empty).
    pending: WriteBatch,
    checkpoints: BTreeMap<String, Checkpoint>,
    oldest_pending: Option<Instant>,
    /// A new alert was committed since the last hand-over: its events go next, now
    /// rather than at the end of the interval, so that they are found soon after it.
    events_due: bool,
    /// The last hand-over found the committer busy.
    handover_blocked: bool,
    updates: Vec<AlertUpdate>,
    /// Alert changes not committed yet: repeats (count updates) wait for the next new
    /// alert or hand-over, so an alert storm that aggregation folds costs no extra
    /// commits.
    alert_changes: Vec<AlertChange>,
    /// Newest event time seen, and when (wall clock) it was seen: the correlation clock
    /// moves on with wall time while no events come.
    watermark: Option<(i64, Instant)>,
    alert_titles: rustc_hash::FxHashMap<String, String>,
}

impl<'a> Writer<'a> {
    fn new(
        rules: &'a RuleSet,
        store: &'a Store,
        config: &'a PipelineConfig,
        metrics: &'a Metrics,
        committer: Committer,
    ) -> Self {
        let mut stage = AlertStage::new(rules, config.aggregation);
        stage.set_allowed_lateness(config.correlation_lateness_ms);
        Writer {
            store,
            config,
            metrics,
            stage,
            committer,
            pending: fresh_batch(),
            checkpoints: BTreeMap::new(),
            oldest_pending: None,
            events_due: false,
            handover_blocked: false,
            updates: Vec::new(),
            alert_changes: Vec::new(),
            watermark: None,
            alert_titles: Default::default(),
        }
    }

    fn run(mut self, done: Receiver<Evaluated>) {
        let mut reorder: BTreeMap<u64, Evaluated> = BTreeMap::new();
        let mut next = 0u64;
        let tick = self.config.commit_interval.clamp(Duration::from_millis(1), Duration::from_millis(100));
        let idle = self.committer.idle.clone();
        loop {
            // Wake when the oldest pending event is due, not a whole tick later — unless
            // it is overdue already and waits for the busy committer, whose signal wakes
            // us then.
            let wait = match self.oldest_pending {
                Some(_) if self.handover_blocked => tick,
                Some(t) => self.config.commit_interval.saturating_sub(t.elapsed()).min(tick),
                None => tick,
            };
            let mut committer_idle = false;
            select! {
                recv(done) -> evaluated => {
                    let Ok(evaluated) = evaluated else { break };
                    reorder.insert(evaluated.seq, evaluated);
                    // Whatever queued up meanwhile is absorbed in one go, up to a full
                    // hand-over (what is absorbed stays in memory until committed).
                    let mut queued = self.pending.events.len();
                    while queued < self.config.commit_max_events {
                        let Ok(more) = done.try_recv() else { break };
                        queued += more.batch.events.len().max(1);
                        reorder.insert(more.seq, more);
                    }
                    while let Some(e) = reorder.remove(&next) {
                        self.absorb(e);
                        next += 1;
                    }
                }
                recv(idle) -> _ => committer_idle = true,
                default(wait) => self.advance_clock(),
            }
            self.stage.drain(&mut self.updates);
            self.publish_correlation_state();
            if self.collect_alert_changes() {
                // A new alert is what someone is waiting for: committed now.
                self.commit_alerts(false);
                self.events_due = true;
            }
            let interval_due = self.oldest_pending.is_some_and(|t| t.elapsed() >= self.config.commit_interval);
            let full = self.pending.events.len() >= self.config.commit_max_events;
            if self.events_due || interval_due || full {
                self.hand_over(committer_idle, full, false);
            }
        }
        // Anything left out of order can only follow a gap that will never fill
        // (a worker died): store it anyway.
        for (_, e) in std::mem::take(&mut reorder) {
            self.absorb(e);
        }
        self.stage.finish();
        self.stage.drain(&mut self.updates);
        self.collect_alert_changes();
        self.hand_over(true, true, true);
    }

    fn publish_correlation_state(&self) {
        let engine = self.stage.correlations();
        let stats = engine.stats();
        self.metrics.correlation_state(crate::metrics::CorrelationState {
            live_groups: engine.state_len() as u64,
            shed_groups: stats.shed_groups,
            evicted_groups: stats.evicted_groups,
            dropped_over_cap: stats.dropped_over_cap,
            dropped_late: stats.dropped_late,
        });
    }

    fn absorb(&mut self, evaluated: Evaluated) {
        let Evaluated { batch, matches, time_ms, seq } = evaluated;
        let origin_class = batch.origin.split(':').next().unwrap_or("unknown").to_owned();
        self.metrics.records_in(&origin_class, (batch.events.len() + batch.dead.len()) as u64);
        let mut matches = matches.into_iter().peekable();
        for (i, (event, t)) in batch.events.into_iter().zip(time_ms).enumerate() {
            let time = t.unwrap_or(batch.received_ms);
            if let Some((_, m)) = matches.next_if(|(j, _)| *j == i) {
                let stored = event.decoded.stored.as_deref();
                let ctx = EventContext {
                    event_ref: event_ref(seq, i),
                    event_id: &event.event_id,
                    time_ms: time,
                    host: stored.and_then(|s| s.host.as_deref()),
                    src_ip: stored.and_then(|s| s.src_ip.as_deref()),
                    user: stored.and_then(|s| s.user.as_deref()),
                };
                self.stage.on_event(&ctx, &m);
            }
            if t.is_some() {
                let newest = self.watermark.map_or(time, |(w, _)| w.max(time));
                self.watermark = Some((newest, Instant::now()));
            }
            let stored = event.decoded.stored.map(|b| *b);
            let (source, class_uid, host, src_ip, user, ocsf, raw) = match stored {
                Some(s) => (s.source, s.class_uid, s.host, s.src_ip, s.user, s.ocsf, s.raw),
                None => ("json", None, None, None, None, "{}".to_owned(), event.decoded.sigma_json),
            };
            self.metrics.events_decoded(source, 1);
            self.pending.events.push(NewEvent {
                event_id: event.event_id,
                time_ms: time,
                received_ms: batch.received_ms,
                source: source.to_owned(),
                origin: batch.origin.to_string(),
                class_uid,
                host,
                src_ip,
                user,
                ocsf,
                raw,
            });
        }
        for dead in &batch.dead {
            self.metrics.dead_letter(&dead.reason);
        }
        self.pending.dead_letters.extend(batch.dead);
        if let Some(cp) = batch.checkpoint {
            self.checkpoints.insert(cp.key.clone(), cp);
        }
        self.oldest_pending.get_or_insert_with(Instant::now);
    }

    fn advance_clock(&mut self) {
        if let Some((watermark, seen)) = self.watermark {
            let idle = seen.elapsed().as_millis() as i64;
            self.stage.advance(watermark.saturating_add(idle));
            self.oldest_pending.get_or_insert_with(Instant::now);
        }
    }

    /// Turns the alert stage's updates into store changes; true when one is a new alert.
    fn collect_alert_changes(&mut self) -> bool {
        let mut new_alert = false;
        for update in self.updates.drain(..) {
            self.alert_changes.push(match update {
                AlertUpdate::New(open) => {
                    new_alert = true;
                    let open = *open;
                    let o = open.occurrence;
                    self.alert_titles.insert(open.alert_id.clone(), o.rule_title.clone());
                    AlertChange::New(NewAlert {
                        alert_id: open.alert_id,
                        rule_id: o.rule_id,
                        rule_title: o.rule_title,
                        level: o.level,
                        tags: o.tags,
                        group_key: o.group_key,
                        first_seen_ms: o.time_ms,
                        last_seen_ms: o.time_ms,
                        count: 1,
                        host: o.host,
                        src_ip: o.src_ip,
                        user: o.user,
                        event_ids: o.event_ids,
                        details: o.details,
                    })
                }
                AlertUpdate::Repeat { alert_id, count, last_seen_ms, event_ids } => {
                    AlertChange::Repeat { alert_id, count, last_seen_ms, event_ids }
                }
            });
        }
        new_alert
    }

    /// Commits the alert changes collected so far, retrying until it works: sources
    /// block behind us (backpressure) rather than lose an alert. With `last`, gives up
    /// after a few attempts.
    fn commit_alerts(&mut self, last: bool) {
        if self.alert_changes.is_empty() {
            return;
        }
        let mut backoff = Duration::from_millis(50);
        let mut attempts = 0;
        loop {
            let started = Instant::now();
            match self.store.write_alerts(&self.alert_changes) {
                Ok(_) => {
                    self.metrics.alert_write_latency(started.elapsed().as_secs_f64());
                    break;
                }
                Err(e) => {
                    self.metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                    attempts += 1;
                    eprintln!("vigil: alert commit failed (attempt {attempts}): {e}");
                    if last && attempts >= 5 {
                        eprintln!("vigil: giving up; {} alert changes were not stored", self.alert_changes.len());
                        self.alert_changes.clear();
                        return;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
        for change in self.alert_changes.drain(..) {
            match change {
                AlertChange::New(alert) => {
                    self.metrics.alerts_new.fetch_add(1, Ordering::Relaxed);
                    self.metrics.alert(&alert.rule_title, 1);
                }
                AlertChange::Repeat { alert_id, count, .. } => {
                    self.metrics.alerts_repeated.fetch_add(count, Ordering::Relaxed);
                    if let Some(title) = self.alert_titles.get(&alert_id) {
                        self.metrics.alert(title, count);
                    }
                }
            }
        }
        // The title map only serves metrics of live alerts; keep it bounded.
        if self.alert_titles.len() > 100_000 {
            self.alert_titles.clear();
        }
    }

    /// Hands the pending events, dead letters and checkpoints to the committer, after
    /// committing the alert changes they led to (a checkpoint must not get ahead of
    /// them). While the committer is busy they stay pending and join the next
    /// hand-over, unless `wait` (pending is full, or shutting down): then this blocks
    /// until the committer takes them, which is the backpressure. `committer_idle`: the
    /// committer just said it is waiting for a hand-over.
    fn hand_over(&mut self, committer_idle: bool, wait: bool, last: bool) {
        self.commit_alerts(last);
        self.pending.checkpoints.extend(std::mem::take(&mut self.checkpoints).into_values());
        if self.pending.is_empty() && !last {
            self.oldest_pending = None;
            self.events_due = false;
            self.handover_blocked = false;
            return;
        }
        let handover = Handover { batch: std::mem::replace(&mut self.pending, fresh_batch()), last };
        let sent = if wait {
            self.committer.handover.send(handover).map_err(|e| e.into_inner())
        } else if committer_idle {
            // It signalled just before waiting: it is about to take this, if not already.
            self.committer.handover.send_timeout(handover, Duration::from_millis(50)).map_err(|e| match e {
                SendTimeoutError::Timeout(h) | SendTimeoutError::Disconnected(h) => h,
            })
        } else {
            self.committer.handover.try_send(handover).map_err(|e| match e {
                TrySendError::Full(h) | TrySendError::Disconnected(h) => h,
            })
        };
        match sent {
            Ok(()) => {
                self.oldest_pending = None;
                self.events_due = false;
                self.handover_blocked = false;
                // The committer's signal for the wait that just ended is stale now: it
                // must not make a later hand-over wait for a committer that is busy.
                while self.committer.idle.try_recv().is_ok() {}
            }
            // Busy: kept for the next hand-over. (Disconnected cannot happen: the
            // committer outlives the writer.)
            Err(handover) => {
                self.pending = handover.batch;
                self.handover_blocked = true;
            }
        }
    }
}

/// Every event id the pipeline hands over was drawn by it (ingest.rs): none can be
/// stored already.
fn fresh_batch() -> WriteBatch {
    WriteBatch { fresh_event_ids: true, ..WriteBatch::default() }
}

/// The committer thread: one store transaction per hand-over, retried until it works
/// (sources block behind it rather than lose data; the last one gives up after a few
/// attempts, and its events are re-read from the older checkpoints next time).
fn run_committer(store: &Store, metrics: &Metrics, handovers: &Receiver<Handover>, idle: &Sender<()>) {
    loop {
        let _ = idle.try_send(());
        let Ok(Handover { batch, last }) = handovers.recv() else { return };
        if batch.is_empty() {
            continue;
        }
        let events = batch.events.len() as u64;
        let mut backoff = Duration::from_millis(50);
        let mut attempts = 0;
        loop {
            let started = Instant::now();
            match store.write_batch(&batch) {
                Ok(()) => {
                    metrics.store_latency(started.elapsed().as_secs_f64());
                    metrics.commits.fetch_add(1, Ordering::Relaxed);
                    metrics.events_stored.fetch_add(events, Ordering::Relaxed);
                    break;
                }
                Err(e) => {
                    metrics.commit_failures.fetch_add(1, Ordering::Relaxed);
                    attempts += 1;
                    eprintln!("vigil: store commit failed (attempt {attempts}): {e}");
                    if last && attempts >= 5 {
                        eprintln!("vigil: giving up; {events} events were not stored and will be re-read");
                        break;
                    }
                    std::thread::sleep(backoff);
                    backoff = (backoff * 2).min(Duration::from_secs(5));
                }
            }
        }
    }
}
