//! The whole graph against a real store: records in through a stream sink, events,
//! aggregated alerts, correlation alerts, dead letters and the checkpoint out in the
//! store.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use vigil_detect::AggregationConfig;
use vigil_pipeline::metrics::Metrics;
use vigil_pipeline::runtime::{Pipeline, PipelineConfig};
use vigil_pipeline::source::{RawBatch, RawLine};
use vigil_sigma::{Pipeline as SigmaPipeline, PipelineSet};
use vigil_store::{AlertQuery, Checkpoint, EventQuery, Store, StoreOptions};

fn rule_pack() -> Arc<vigil_sigma::RuleSet> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../rules"));
    let loaded = vigil_sigma::loader::load_paths(&[dir]).expect("rule pack loads");
    let compiled = loaded.compile(&PipelineSet::new(vec![SigmaPipeline::builtin_windows()]));
    Arc::new(compiled.rules)
}

/// A pipeline with the rule pack over a fresh store in a temporary directory.
fn start(config: PipelineConfig) -> (tempfile::TempDir, Arc<Store>, Pipeline) {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(dir.path(), StoreOptions::default()).unwrap());
    let pipeline = Pipeline::start(rule_pack(), Arc::clone(&store), config, Arc::new(Metrics::default()));
    (dir, store, pipeline)
}

fn lines(texts: &[String], start: u64) -> Vec<RawLine> {
    let mut position = start;
    texts
        .iter()
        .map(|t| {
            position += t.len() as u64 + 1;
            RawLine { position, text: t.clone() }
        })
        .collect()
}

/// The value of one sample (`name` with its labels) in the rendered metrics, if present.
fn sample(metrics: &Metrics, name: &str) -> Option<u64> {
    let prefix = format!("{name} ");
    metrics.render().lines().find_map(|l| l.strip_prefix(&prefix)).map(|n| n.parse().unwrap())
}

#[test]
fn events_alerts_dead_letters_and_checkpoints_reach_the_store() {
    let (_dir, store, pipeline) = start(PipelineConfig {
        workers: 2,
        commit_interval: Duration::from_millis(20),
        aggregation: AggregationConfig { window_ms: 60_000, max_linked_events: 100 },
        ..PipelineConfig::default()
    });
    let factory = pipeline.sink_factory();
    let mut sink = factory.open("file:/var/log/auth.log", None);

    // Twelve failed passwords from one address in 24 s: the brute-force correlation.
    let mut texts: Vec<String> = (0..12)
        .map(|i| {
            format!(
                "Nov 24 10:00:{:02} web1 sshd[{}]: Failed password for root from 203.0.113.7 port {} ssh2",
                i * 2,
                1000 + i,
                40000 + i
            )
        })
        .collect();
    // Three su-to-root lines by the same user on the same host: one aggregated alert.
    for s in 0..3 {
        texts.push(format!("Nov 24 10:01:{:02} web1 su[4242]: (to root) alice on pts/0", s * 10));
    }
    // Garbage that no decoder takes.
    texts.push("\u{1}\u{2} not a log line at all".into());
    let first = lines(&texts, 0);
    let end = first.last().unwrap().position;
    sink.send(RawBatch {
        lines: first,
        bad: vec![],
        checkpoint: Some(Checkpoint {
            key: "fp:test".into(),
            location: "/var/log/auth.log".into(),
            offset: end,
            updated_ms: 1,
        }),
    })
    .unwrap();
    sink.finish().unwrap();
    drop(sink);
    drop(factory);
    let report = pipeline.shutdown();

    assert_eq!(report.events_stored, 15, "{report:?}");
    assert_eq!(report.dead_letters, 1);
    let (events, alerts, dead) = store.counts().unwrap();
    assert_eq!((events, dead), (15, 1));

    let all = store.alerts(&AlertQuery::default()).unwrap().items;
    let su: Vec<_> = all.iter().filter(|a| a.rule_id == "ae65e296-08a5-4a19-a507-db8340c9633e").collect();
    assert_eq!(su.len(), 1, "repeats of the su alert collapse: {all:#?}");
    assert_eq!(su[0].count, 3);
    assert_eq!(su[0].event_ids.len(), 3);
    let brute: Vec<_> = all.iter().filter(|a| a.rule_id == "d8ce9685-5269-4de6-8c43-501e9c7a782e").collect();
    assert_eq!(brute.len(), 1, "one brute-force alert: {all:#?}");
    assert_eq!(brute[0].src_ip.as_deref(), Some("203.0.113.7"));
    assert!(brute[0].event_ids.len() >= 10, "the correlation links its events");
    assert_eq!(alerts as usize, all.len());

    // The linked events are stored and findable.
    let linked = store.event(&su[0].event_ids[0]).unwrap().expect("linked event stored");
    assert!(linked.raw.contains("(to root) alice"));
    let by_ip = store.events(&EventQuery { src_ip: Some("203.0.113.7".into()), ..Default::default() }).unwrap();
    assert_eq!(by_ip.items.len(), 12);

    let checkpoints = store.checkpoints().unwrap();
    assert_eq!(checkpoints.len(), 1);
    assert_eq!(checkpoints[0].offset, end);
}

#[test]
fn http_submissions_are_refused_when_the_pipeline_is_full_and_closed_after_shutdown() {
    let (dir, _store, pipeline) = start(PipelineConfig { workers: 1, queue_batches: 1, ..PipelineConfig::default() });
    let submitter = pipeline.submitter();
    // A store that cannot commit (another writer holds the lock) stalls the writer;
    // the channels fill behind it and HTTP submissions must be refused, not queued
    // without bound or dropped.
    let blocker = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
    blocker.execute_batch("BEGIN EXCLUSIVE").unwrap();
    let record = r#"{"eventid":"cowrie.session.connect","src_ip":"198.51.100.1","src_port":4242,"dst_ip":"10.0.0.1","dst_port":22,"session":"abc","protocol":"ssh","message":"New connection","sensor":"s","timestamp":"2026-11-24T10:00:00.000000Z"}"#;
    let mut accepted = 0u64;
    let mut refused = 0u64;
    while refused == 0 && accepted < 1_000_000 {
        match submitter.submit("http", vec![record.to_string(); 50]) {
            Ok(ids) => {
                assert_eq!(ids.len(), 50);
                accepted += 50;
            }
            Err(vigil_pipeline::submit::SubmitError::Full { retry_after_secs }) => {
                assert!(retry_after_secs >= 1);
                refused += 1;
            }
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert!(refused > 0, "a saturated pipeline refuses");
    blocker.execute_batch("COMMIT").unwrap();
    drop(blocker);
    let report = pipeline.shutdown();
    assert_eq!(report.events_stored, accepted, "every accepted event is stored");
    assert_eq!(submitter.submit("http", vec![record.to_string()]), Err(vigil_pipeline::submit::SubmitError::Closed));
}

#[test]
fn a_new_alert_is_committed_at_once_and_the_events_before_it_follow() {
    let (_dir, store, pipeline) = start(PipelineConfig {
        workers: 1,
        // Far longer than the test: only a new alert can make the batch due.
        commit_interval: Duration::from_secs(3600),
        aggregation: AggregationConfig { window_ms: 60_000, max_linked_events: 100 },
        ..PipelineConfig::default()
    });
    let factory = pipeline.sink_factory();
    let mut sink = factory.open("file:/var/log/auth.log", None);
    let send = |sink: &mut Box<dyn vigil_pipeline::source::BatchSink>, texts: &[String], start: u64| {
        sink.send(RawBatch { lines: lines(texts, start), bad: vec![], checkpoint: None }).unwrap();
    };
    let quiet =
        vec!["Nov 24 10:00:00 web1 sshd[1000]: Accepted publickey for bob from 10.0.0.5 port 50000 ssh2".to_string()];
    send(&mut sink, &quiet, 0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(store.counts().unwrap().0, 0, "an event that raises no alert waits for the commit interval");

    let su = vec!["Nov 24 10:00:05 web1 su[4242]: (to root) alice on pts/0".to_string()];
    send(&mut sink, &su, 200);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.counts().unwrap() != (2, 1, 0) {
        assert!(
            std::time::Instant::now() < deadline,
            "the new alert and every event pending with it were not committed before the interval: {:?}",
            store.counts().unwrap()
        );
        std::thread::sleep(Duration::from_millis(10));
    }

    // A repeat only updates the count: it waits for the interval (here: shutdown).
    send(&mut sink, &su, 400);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(store.counts().unwrap().0, 2, "a repeat of an open alert does not force a commit");
    assert_eq!(store.alerts(&AlertQuery::default()).unwrap().items[0].count, 1, "nor an alert commit");
    sink.finish().unwrap();
    drop(sink);
    drop(factory);
    let report = pipeline.shutdown();
    assert_eq!(report.events_stored, 3);
    let all = store.alerts(&AlertQuery::default()).unwrap().items;
    assert_eq!((all.len(), all[0].count), (1, 2));
}

/// Alerts go to a file of their own: an event database that cannot commit (its write
/// lock held, as during a slow WAL checkpoint) delays the events, not the alerts.
#[test]
fn alerts_are_stored_while_event_commits_are_stalled() {
    let (dir, store, pipeline) = start(PipelineConfig {
        workers: 1,
        aggregation: AggregationConfig { window_ms: 0, max_linked_events: 100 },
        ..PipelineConfig::default()
    });
    let factory = pipeline.sink_factory();
    let mut sink = factory.open("file:/var/log/auth.log", None);
    let blocker = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let users = ["alice", "bob", "carol"];
    for (i, user) in users.iter().enumerate() {
        let su = vec![format!("Nov 24 10:00:0{i} web1 su[424{i}]: (to root) {user} on pts/0")];
        let checkpoint = Some(vigil_store::Checkpoint {
            key: "auth".into(),
            location: "/var/log/auth.log".into(),
            offset: (i as u64 + 1) * 100,
            updated_ms: 0,
        });
        sink.send(RawBatch { lines: lines(&su, i as u64 * 100), bad: vec![], checkpoint }).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.counts().unwrap().1 < users.len() as u64 {
        assert!(std::time::Instant::now() < deadline, "the alerts waited for the stalled event database");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(store.counts().unwrap().0, 0, "the events are still waiting for the lock");
    assert!(store.checkpoints().unwrap().is_empty(), "and so is the checkpoint that covers them");
    let alert_writes = sample(&pipeline.metrics(), "vigil_alert_write_seconds_count").unwrap_or(0);
    assert!(alert_writes >= 1, "alert commits are measured: {alert_writes}");
    blocker.execute_batch("ROLLBACK").unwrap();
    drop(sink);
    drop(factory);
    let report = pipeline.shutdown();
    assert_eq!((report.events_stored, report.alerts_new), (3, 3));
    assert_eq!(store.checkpoints().unwrap()[0].offset, 300);
}

#[test]
fn batches_that_queue_behind_a_slow_commit_share_the_next_one() {
    let (dir, store, pipeline) = start(PipelineConfig {
        workers: 1,
        commit_interval: Duration::from_secs(3600),
        // Every line opens an alert of its own, so every batch is due at once.
        aggregation: AggregationConfig { window_ms: 0, max_linked_events: 100 },
        ..PipelineConfig::default()
    });
    let metrics = pipeline.metrics();
    let factory = pipeline.sink_factory();
    let mut sink = factory.open("file:/var/log/auth.log", None);
    // Another connection holds the database's write lock: the writer's first commit
    // waits for it (busy timeout), as behind a slow disk sync.
    let blocker = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
    blocker.execute_batch("BEGIN IMMEDIATE").unwrap();
    let users = ["alice", "bob", "carol", "dave", "erin"];
    for (i, user) in users.iter().enumerate() {
        let su = vec![format!("Nov 24 10:00:0{i} web1 su[424{i}]: (to root) {user} on pts/0")];
        sink.send(RawBatch { lines: lines(&su, i as u64 * 100), bad: vec![], checkpoint: None }).unwrap();
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let depth = |queue: &str| sample(&metrics, &format!("vigil_queue_depth{{queue=\"{queue}\"}}")).unwrap_or(0);
    // Detection is quick; the writer is stuck in its first commit (with one batch or
    // more), so the others end up in its queue.
    while depth("inlet") + depth("detect") > 0 {
        assert!(std::time::Instant::now() < deadline, "the batches never reached the writer's queue");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(200));
    blocker.execute_batch("ROLLBACK").unwrap();
    while store.counts().unwrap().0 < users.len() as u64 {
        assert!(std::time::Instant::now() < deadline, "the events were not committed");
        std::thread::sleep(Duration::from_millis(10));
    }
    let commits = metrics.commits.load(std::sync::atomic::Ordering::Relaxed);
    assert!(commits <= 2, "5 due batches queued behind one commit took {commits} commits");
    drop(sink);
    drop(factory);
    let report = pipeline.shutdown();
    assert_eq!(report.events_stored, users.len() as u64);
}

#[test]
fn metrics_report_how_far_the_full_text_index_is_behind() {
    let (_dir, store, pipeline) =
        start(PipelineConfig { workers: 1, commit_interval: Duration::from_millis(20), ..PipelineConfig::default() });
    let metrics = pipeline.metrics();
    let backlog = || sample(&metrics, "vigil_fts_backlog_events");
    assert_eq!(backlog(), Some(0), "an empty store");
    let factory = pipeline.sink_factory();
    let mut sink = factory.open("file:/var/log/auth.log", None);
    let text =
        vec!["Nov 24 10:00:00 web1 sshd[1000]: Accepted publickey for bob from 10.0.0.5 port 50000 ssh2".to_string()];
    sink.send(RawBatch { lines: lines(&text, 0), bad: vec![], checkpoint: None }).unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.counts().unwrap().0 == 0 {
        assert!(std::time::Instant::now() < deadline, "the event was not stored");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(backlog().is_some_and(|n| n <= 1));
    store.events(&EventQuery { q: Some("publickey".into()), ..EventQuery::default() }).unwrap();
    assert_eq!(backlog(), Some(0), "a search indexed the event");
    drop(sink);
    drop(factory);
    pipeline.shutdown();
    drop(store);
    assert_eq!(backlog(), None, "the store is closed: the gauge is left out");
}

#[test]
fn metrics_report_the_correlation_groups_being_counted() {
    let (_dir, _store, pipeline) =
        start(PipelineConfig { commit_interval: Duration::from_millis(20), ..PipelineConfig::default() });
    let factory = pipeline.sink_factory();
    let mut sink = factory.open("file:/var/log/auth.log", None);
    // Two failed logins from each of five addresses: below every threshold, so each
    // address is a live group of the SSH correlations (brute force, spraying, success
    // after failures), and nothing fires.
    let texts: Vec<String> = (0..10)
        .map(|i| {
            format!(
                "Nov 24 10:00:{:02} web1 sshd[{}]: Failed password for root from 198.51.100.{} port {} ssh2",
                i,
                2000 + i,
                i % 5,
                41000 + i
            )
        })
        .collect();
    sink.send(RawBatch { lines: lines(&texts, 0), bad: vec![], checkpoint: None }).unwrap();
    let metrics = pipeline.metrics();
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let mut groups = 0;
    while std::time::Instant::now() < deadline {
        groups = sample(&metrics, "vigil_correlation_groups").unwrap_or(0);
        if groups >= 10 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!((10..=15).contains(&groups), "five addresses in two or three correlations: {groups}");
    assert_eq!(sample(&metrics, "vigil_correlation_groups_shed_total"), Some(0));
    assert_eq!(sample(&metrics, "vigil_correlation_observations_dropped_total{reason=\"late\"}"), Some(0));
    sink.finish().unwrap();
    drop(sink);
    drop(factory);
    pipeline.shutdown();
}
