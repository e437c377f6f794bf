//! The write path: batches, duplicates, alert aggregation, checkpoints, reopening.

mod common;

use common::*;
use vigil_store::{AlertChange, AlertQuery, AlertStatus, EventQuery, Store, StoreOptions, WriteBatch};

#[test]
fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<Store>();
}

#[test]
fn a_batch_round_trips() {
    let (_dir, store) = open();
    let mut first = event("e-1", 1_000);
    first.class_uid = None;
    first.host = None;
    first.ocsf = r#"{"class_uid":3002,"nested":{"list":[1,2,3]}}"#.to_string();
    let second = event("e-2", 2_000);
    let batch = WriteBatch {
        events: vec![first.clone(), second.clone()],
        alerts: vec![AlertChange::New(new_alert("a-1", 2_000, &["e-1", "e-2"]))],
        dead_letters: vec![dead_letter(1_500, 77)],
        checkpoints: vec![checkpoint("auth.log", 4096, 2_100)],
        fresh_event_ids: false,
    };
    store.write_batch(&batch).unwrap();

    let stored = store.event("e-1").unwrap().expect("stored");
    assert_eq!(stored.event_id, first.event_id);
    assert_eq!(stored.time_ms, first.time_ms);
    assert_eq!(stored.received_ms, first.received_ms);
    assert_eq!(stored.source, first.source);
    assert_eq!(stored.origin, first.origin);
    assert_eq!(stored.class_uid, None);
    assert_eq!(stored.host, None);
    assert_eq!(stored.src_ip, first.src_ip);
    assert_eq!(stored.user, first.user);
    assert_eq!(stored.ocsf, serde_json::json!({"class_uid": 3002, "nested": {"list": [1, 2, 3]}}));
    assert_eq!(stored.raw, first.raw);
    assert_eq!(store.event("e-2").unwrap().unwrap().class_uid, Some(3002));
    assert_eq!(store.event("nope").unwrap(), None);

    let alert = store.alert("a-1").unwrap().expect("alert stored");
    let written = new_alert("a-1", 2_000, &["e-1", "e-2"]);
    assert_eq!(alert.rule_id, written.rule_id);
    assert_eq!(alert.rule_title, written.rule_title);
    assert_eq!(alert.level, written.level);
    assert_eq!(alert.tags, written.tags);
    assert_eq!(alert.group_key, written.group_key);
    assert_eq!(alert.status, AlertStatus::Open);
    assert_eq!((alert.first_seen_ms, alert.last_seen_ms, alert.count), (2_000, 2_000, 1));
    assert_eq!((alert.host, alert.src_ip, alert.user), (written.host, written.src_ip, written.user));
    assert_eq!(alert.event_ids, vec!["e-1", "e-2"]);
    assert_eq!(alert.details, serde_json::json!({"window": "5m"}));
    assert_eq!(store.alert("nope").unwrap(), None);

    let letters = store.dead_letters(None, None).unwrap();
    assert_eq!(letters.items.len(), 1);
    let letter = &letters.items[0];
    let written = dead_letter(1_500, 77);
    assert_eq!((letter.received_ms, letter.position), (1_500, 77));
    assert_eq!((&letter.origin, &letter.reason, &letter.message), (&written.origin, &written.reason, &written.message));
    assert_eq!((&letter.decoder, &letter.raw), (&written.decoder, &written.raw));

    assert_eq!(store.checkpoints().unwrap(), vec![checkpoint("auth.log", 4096, 2_100)]);
    assert_eq!(store.counts().unwrap(), (2, 1, 1));
    assert_eq!(store.duplicates_ignored(), 0);
}

#[test]
fn an_empty_batch_is_fine() {
    let (_dir, store) = open();
    store.write_batch(&WriteBatch::default()).unwrap();
    assert_eq!(store.counts().unwrap(), (0, 0, 0));
}

#[test]
fn checkpoints_are_upserted() {
    let (_dir, store) = open();
    let batch = |checkpoints| WriteBatch { checkpoints, ..WriteBatch::default() };
    store.write_batch(&batch(vec![checkpoint("a", 10, 1), checkpoint("b", 5, 1)])).unwrap();
    store.write_batch(&batch(vec![checkpoint("a", 20, 2)])).unwrap();
    // Two updates of one key inside a batch: the last one wins.
    store.write_batch(&batch(vec![checkpoint("c", 1, 3), checkpoint("c", 2, 4)])).unwrap();
    assert_eq!(
        store.checkpoints().unwrap(),
        vec![checkpoint("a", 20, 2), checkpoint("b", 5, 1), checkpoint("c", 2, 4)]
    );
}

#[test]
fn offsets_beyond_i64_saturate() {
    let (_dir, store) = open();
    let batch = WriteBatch { checkpoints: vec![checkpoint("huge", u64::MAX, 1)], ..WriteBatch::default() };
    store.write_batch(&batch).unwrap();
    assert_eq!(store.checkpoints().unwrap()[0].offset, i64::MAX as u64);
}

#[test]
fn duplicate_event_ids_are_ignored_and_counted() {
    let (dir, store) = open();
    let original = event("e-2", 2_000);
    store.write_batch(&events_batch(vec![event("e-1", 1_000), original.clone()])).unwrap();

    let mut replayed = event("e-2", 9_999);
    replayed.raw = "a different record with the same id".to_string();
    let duplicate_in_batch = event("e-3", 3_000);
    store.write_batch(&events_batch(vec![replayed, event("e-3", 3_000), duplicate_in_batch])).unwrap();

    assert_eq!(store.duplicates_ignored(), 2);
    assert_eq!(store.counts().unwrap().0, 3);
    // The first write stands, and its full-text row is not doubled (the search indexes
    // whatever the background indexer has not reached yet).
    assert_eq!(store.event("e-2").unwrap().unwrap().time_ms, 2_000);
    let found = store.events(&EventQuery { q: Some("different".into()), ..EventQuery::default() }).unwrap();
    assert!(found.items.is_empty());
    assert_eq!(fts_rows(dir.path()), 3, "one full-text row per stored event");
    let all = store.events(&EventQuery::default()).unwrap();
    assert_eq!(all.items.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["e-3", "e-2", "e-1"]);
}

#[test]
fn alert_repeats_aggregate() {
    let (_dir, store) = open();
    let alerts = |alerts| WriteBatch { alerts, ..WriteBatch::default() };
    store.write_batch(&alerts(vec![AlertChange::New(new_alert("a-1", 1_000, &["e-1", "e-2"]))])).unwrap();
    store.write_batch(&alerts(vec![repeat("a-1", 3, 5_000, &["e-2", "e-3"]), repeat("a-1", 2, 4_000, &[])])).unwrap();

    let alert = store.alert("a-1").unwrap().unwrap();
    assert_eq!(alert.count, 6);
    assert_eq!(alert.first_seen_ms, 1_000);
    assert_eq!(alert.last_seen_ms, 5_000, "an older repeat does not move last_seen back");
    assert_eq!(alert.event_ids, vec!["e-1", "e-2", "e-3"], "each event linked once, in link order");
    assert_eq!(store.counts().unwrap().1, 1);
}

#[test]
fn new_and_repeat_in_one_batch_apply_in_order() {
    let (_dir, store) = open();
    let batch = WriteBatch {
        alerts: vec![
            repeat("a-1", 10, 9_000, &["early"]),
            AlertChange::New(new_alert("a-1", 1_000, &["e-1"])),
            repeat("a-1", 2, 3_000, &["e-2"]),
        ],
        ..WriteBatch::default()
    };
    store.write_batch(&batch).unwrap();
    let alert = store.alert("a-1").unwrap().unwrap();
    assert_eq!((alert.count, alert.last_seen_ms), (3, 3_000));
    assert_eq!(alert.event_ids, vec!["e-1", "e-2"]);
}

#[test]
fn linked_events_are_capped() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions { max_linked_events: 3 }).unwrap();
    let alerts = |alerts| WriteBatch { alerts, ..WriteBatch::default() };
    store.write_batch(&alerts(vec![AlertChange::New(new_alert("a-1", 1_000, &["e-1", "e-2"]))])).unwrap();
    store.write_batch(&alerts(vec![repeat("a-1", 5, 2_000, &["e-1", "e-3", "e-4", "e-5", "e-6", "e-7"])])).unwrap();
    store.write_batch(&alerts(vec![repeat("a-1", 1, 3_000, &["e-8"])])).unwrap();
    let alert = store.alert("a-1").unwrap().unwrap();
    assert_eq!(alert.event_ids, vec!["e-1", "e-2", "e-3"]);
    assert_eq!(alert.count, 7, "occurrences past the cap still count");

    let many: Vec<String> = (0..10).map(|i| format!("n-{i}")).collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    store.write_batch(&alerts(vec![AlertChange::New(new_alert("a-2", 1_000, &many))])).unwrap();
    assert_eq!(store.alert("a-2").unwrap().unwrap().event_ids, vec!["n-0", "n-1", "n-2"]);
}

#[test]
fn a_repeat_of_an_unknown_alert_is_ignored() {
    let (_dir, store) = open();
    let batch = WriteBatch {
        events: vec![event("e-1", 1)],
        alerts: vec![repeat("ghost", 4, 10, &["e-1"])],
        ..WriteBatch::default()
    };
    store.write_batch(&batch).unwrap();
    assert_eq!(store.counts().unwrap(), (1, 0, 0));
    assert_eq!(store.alert("ghost").unwrap(), None);
}

#[test]
fn a_replayed_new_alert_keeps_the_first() {
    let (_dir, store) = open();
    let alerts = |alerts| WriteBatch { alerts, ..WriteBatch::default() };
    store.write_batch(&alerts(vec![AlertChange::New(new_alert("a-1", 1_000, &["e-1"]))])).unwrap();
    store.write_batch(&alerts(vec![repeat("a-1", 1, 2_000, &[])])).unwrap();
    store.write_batch(&alerts(vec![AlertChange::New(new_alert("a-1", 1_000, &["e-9"]))])).unwrap();
    let alert = store.alert("a-1").unwrap().unwrap();
    assert_eq!((alert.count, alert.event_ids.as_slice()), (2, ["e-1".to_string()].as_slice()));
    assert_eq!(store.counts().unwrap().1, 1);
}

#[test]
fn alert_counts_saturate() {
    let (_dir, store) = open();
    let mut alert = new_alert("a-1", 1_000, &[]);
    alert.count = u64::MAX;
    let batch =
        WriteBatch { alerts: vec![AlertChange::New(alert), repeat("a-1", u64::MAX, 1, &[])], ..WriteBatch::default() };
    store.write_batch(&batch).unwrap();
    assert_eq!(store.alert("a-1").unwrap().unwrap().count, i64::MAX as u64);
}

#[test]
fn alert_status_changes() {
    let (_dir, store) = open();
    let batch = WriteBatch {
        alerts: vec![
            AlertChange::New(new_alert("a-1", 1_000, &["e-1"])),
            AlertChange::New(new_alert("a-2", 2_000, &[])),
        ],
        ..WriteBatch::default()
    };
    store.write_batch(&batch).unwrap();

    let updated = store.set_alert_status("a-1", AlertStatus::Acknowledged).unwrap().expect("known alert");
    assert_eq!(updated.status, AlertStatus::Acknowledged);
    assert_eq!(updated.event_ids, vec!["e-1"]);
    assert_eq!(store.alert("a-1").unwrap().unwrap().status, AlertStatus::Acknowledged);
    assert_eq!(store.set_alert_status("nope", AlertStatus::Closed).unwrap(), None);

    let open_alerts = store.alerts(&AlertQuery { status: Some(AlertStatus::Open), ..AlertQuery::default() }).unwrap();
    assert_eq!(open_alerts.items.iter().map(|a| a.alert_id.as_str()).collect::<Vec<_>>(), ["a-2"]);
    store.set_alert_status("a-1", AlertStatus::Closed).unwrap();
    let closed = store.alerts(&AlertQuery { status: Some(AlertStatus::Closed), ..AlertQuery::default() }).unwrap();
    assert_eq!(closed.items.iter().map(|a| a.alert_id.as_str()).collect::<Vec<_>>(), ["a-1"]);
}

#[test]
fn reopening_keeps_data_and_checkpoints() {
    let dir = tempfile::tempdir().unwrap();
    let store_dir = dir.path().join("nested").join("store");
    {
        let store = Store::open(&store_dir, StoreOptions::default()).unwrap();
        let batch = WriteBatch {
            events: events("e", 10, 1_000),
            alerts: vec![AlertChange::New(new_alert("a-1", 1_000, &["e-0"]))],
            dead_letters: vec![dead_letter(5, 1)],
            checkpoints: vec![checkpoint("auth.log", 123, 9)],
            fresh_event_ids: false,
        };
        store.write_batch(&batch).unwrap();
    }
    assert!(store_dir.join("vigil.db").exists());
    let store = Store::open(&store_dir, StoreOptions::default()).unwrap();
    assert_eq!(store.counts().unwrap(), (10, 1, 1));
    assert_eq!(store.checkpoints().unwrap(), vec![checkpoint("auth.log", 123, 9)]);
    assert_eq!(
        store.events(&EventQuery { q: Some("\"e-7\"".into()), ..EventQuery::default() }).unwrap().items.len(),
        1
    );
    assert_eq!(store.alert("a-1").unwrap().unwrap().event_ids, vec!["e-0"]);
    // Writing on goes on from where it was.
    store.write_batch(&events_batch(events("e", 12, 1_000))).unwrap();
    assert_eq!(store.counts().unwrap().0, 12);
    assert_eq!(store.duplicates_ignored(), 10, "the counter starts at zero on open");
}

#[test]
fn the_background_indexer_catches_up_without_a_search() {
    let (dir, store) = open();
    store.write_batch(&events_batch(events("bg", 50, 1_000))).unwrap();
    // Polls (not a timing assertion): the indexer runs at least once a second.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while fts_rows(dir.path()) < 50 {
        assert!(std::time::Instant::now() < deadline, "the indexer never caught up");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert_eq!(fts_rows(dir.path()), 50);
}

#[test]
fn a_search_sees_every_committed_event_at_once() {
    let (_dir, store) = open();
    for round in 0..5 {
        let mut e = event(&format!("s-{round}"), 1_000 + round);
        e.raw = format!("needle{round} in a haystack");
        store.write_batch(&events_batch(vec![e])).unwrap();
        let q = Some(format!("needle{round}"));
        let found = store.events(&EventQuery { q, ..EventQuery::default() }).unwrap();
        assert_eq!(found.items.len(), 1, "round {round}");
    }
}

#[test]
fn the_full_text_backlog_counts_what_the_index_has_not_reached() {
    let (_dir, store) = open();
    assert_eq!(store.full_text_backlog().unwrap(), 0, "an empty store");
    store.write_batch(&events_batch(events("lag", 50, 1_000))).unwrap();
    // The background indexer may or may not have run yet; it never indexes more
    // than was committed.
    assert!(store.full_text_backlog().unwrap() <= 50);
    // A search indexes everything pending first.
    store.events(&EventQuery { q: Some("lag".into()), ..EventQuery::default() }).unwrap();
    assert_eq!(store.full_text_backlog().unwrap(), 0);
}

#[test]
fn a_reused_event_id_after_retention_is_still_indexed() {
    let (dir, store) = open();
    let mut old = event("late-but-newest", 10);
    old.raw = "oldrecord".into();
    store.write_batch(&events_batch(vec![event("a", 5_000), old])).unwrap();
    // Indexes both; the newest row (highest id) is the oldest by time.
    assert_eq!(
        store.events(&EventQuery { q: Some("oldrecord".into()), ..EventQuery::default() }).unwrap().items.len(),
        1
    );
    let report =
        store.apply_retention(&vigil_store::Retention { max_age_ms: Some(1_000), max_bytes: None }, 2_000).unwrap();
    assert_eq!(report.events_deleted, 1);
    // SQLite gives the deleted row's id to the next insert.
    let mut next = event("b", 6_000);
    next.raw = "freshrecord".into();
    store.write_batch(&events_batch(vec![next])).unwrap();
    let found = store.events(&EventQuery { q: Some("freshrecord".into()), ..EventQuery::default() }).unwrap();
    assert_eq!(found.items.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["b"]);
    assert!(store
        .events(&EventQuery { q: Some("oldrecord".into()), ..EventQuery::default() })
        .unwrap()
        .items
        .is_empty());
    assert_eq!(fts_rows(dir.path()), 2);
    // The id map followed: the deleted event's row went, the reused id maps the new one.
    assert_eq!(mapped_ids(dir.path()), (2, 2));
    assert_eq!(store.event("b").unwrap().unwrap().time_ms, 6_000);
    assert!(store.event("late-but-newest").unwrap().is_none());
    assert_eq!(store.event("a").unwrap().unwrap().time_ms, 5_000);
}

/// A store written by schema version 4 (the full-text index inside `vigil.db`)
/// upgrades: the old index is dropped and rebuilt, once, in its own file.
#[test]
fn a_version_4_store_moves_its_index_to_its_own_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let mut e = event("v4", 1_000);
        e.raw = "legacyrecord".into();
        store.write_batch(&events_batch(vec![e])).unwrap();
    }
    {
        // Back to what version 4 looked like: the index and its progress in vigil.db.
        std::fs::remove_file(dir.path().join("vigil-fts.db")).unwrap();
        let _ = std::fs::remove_file(dir.path().join("vigil-fts.db-wal"));
        let _ = std::fs::remove_file(dir.path().join("vigil-fts.db-shm"));
        let conn = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
        conn.execute_batch(
            "CREATE VIRTUAL TABLE events_fts USING fts5(raw, content='', contentless_delete=1);
             INSERT INTO events_fts (rowid, raw) SELECT id, raw FROM events;
             CREATE TABLE fts_progress (only_row INTEGER PRIMARY KEY, indexed_to INTEGER NOT NULL);
             INSERT INTO fts_progress VALUES (0, 1);
             CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
                 DELETE FROM events_fts WHERE rowid = old.id;
             END;
             PRAGMA user_version = 4;",
        )
        .unwrap();
    }
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let found = store.events(&EventQuery { q: Some("legacyrecord".into()), ..EventQuery::default() }).unwrap();
    assert_eq!(found.items.len(), 1);
    assert_eq!(fts_rows(dir.path()), 1, "indexed once, in the index file");
    let conn = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
    let left: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name LIKE 'events_fts%' OR name = 'fts_progress'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the old index is gone from vigil.db");
    let id_index: i64 =
        conn.query_row("SELECT count(*) FROM sqlite_schema WHERE name = 'events_event_id'", [], |r| r.get(0)).unwrap();
    assert_eq!(id_index, 0, "event ids are mapped in the index file, not indexed in vigil.db");
    assert_eq!(store.event("v4").unwrap().unwrap().raw, "legacyrecord");
    let mut e = event("v5", 2_000);
    e.raw = "newrecord".into();
    store.write_batch(&events_batch(vec![e])).unwrap();
    assert_eq!(
        store.events(&EventQuery { q: Some("newrecord".into()), ..EventQuery::default() }).unwrap().items.len(),
        1
    );
}

/// A store written by schema version 6 (alerts inside `vigil.db`) upgrades: its alerts,
/// links and alert count move to the alert file, once, and stay readable and writable.
#[test]
fn a_version_6_store_moves_its_alerts_to_their_own_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store.write_batch(&events_batch(vec![event("e-1", 1_000), event("e-2", 2_000)])).unwrap();
    }
    {
        // Back to what version 6 looked like: the alert tables and their count in vigil.db.
        for suffix in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(dir.path().join(format!("vigil-alerts.db{suffix}")));
        }
        let conn = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE alerts (
                 id INTEGER PRIMARY KEY, alert_id TEXT NOT NULL, rule_id TEXT NOT NULL,
                 rule_title TEXT NOT NULL, level TEXT NOT NULL, tags TEXT NOT NULL,
                 group_key TEXT NOT NULL, status TEXT NOT NULL, first_seen_ms INTEGER NOT NULL,
                 last_seen_ms INTEGER NOT NULL, count INTEGER NOT NULL, host TEXT, src_ip TEXT,
                 user TEXT, details TEXT NOT NULL);
             CREATE UNIQUE INDEX alerts_alert_id ON alerts(alert_id);
             CREATE TABLE alert_events (alert_id TEXT NOT NULL, event_id TEXT NOT NULL);
             CREATE UNIQUE INDEX alert_events_link ON alert_events(alert_id, event_id);
             CREATE INDEX alert_events_event ON alert_events(event_id);
             INSERT INTO alerts VALUES (7, 'old-1', 'rule-1', 'Old rule', 'high', '[\"attack.t1110\"]', 'g',
                                        'acknowledged', 1000, 2000, 5, 'web-1', NULL, 'root', '{}');
             INSERT INTO alert_events VALUES ('old-1', 'e-2'), ('old-1', 'e-1');
             INSERT INTO totals (name, n) VALUES ('alerts', 1);
             PRAGMA user_version = 6;",
        )
        .unwrap();
    }
    for _ in 0..2 {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let old = store.alert("old-1").unwrap().expect("moved, not lost");
        assert_eq!((old.count, old.status, old.last_seen_ms), (5, AlertStatus::Acknowledged, 2000));
        assert_eq!(old.event_ids, ["e-2", "e-1"], "links keep their order");
        assert_eq!(store.counts().unwrap(), (2, 1, 0));
    }
    let conn = rusqlite::Connection::open(dir.path().join("vigil.db")).unwrap();
    let left: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name IN ('alerts', 'alert_events')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(left, 0, "the alert tables are gone from vigil.db");
    let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
    assert_eq!(version, 7);

    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let batch =
        WriteBatch { alerts: vec![AlertChange::New(new_alert("new-1", 3_000, &["e-1"]))], ..Default::default() };
    store.write_batch(&batch).unwrap();
    assert_eq!(store.counts().unwrap(), (2, 2, 0));
    assert_eq!(store.alerts_linked_to(&["e-1".to_owned()]).unwrap().len(), 2, "old and new links, one lookup");
}

/// An index file that is ahead of the events (a crash between retention's two steps,
/// or an index left beside a new database) is cut back on open: no stale row can match
/// an event that reuses its id.
#[test]
fn an_index_ahead_of_the_events_is_repaired_on_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let mut e = event("gone", 1_000);
        e.raw = "staleword".into();
        store.write_batch(&events_batch(vec![e])).unwrap();
        store.events(&EventQuery { q: Some("staleword".into()), ..EventQuery::default() }).unwrap();
    }
    for name in ["vigil.db", "vigil.db-wal", "vigil.db-shm"] {
        let _ = std::fs::remove_file(dir.path().join(name));
    }
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let mut e = event("fresh", 2_000);
    e.raw = "freshword".into();
    store.write_batch(&events_batch(vec![e])).unwrap();
    let stale = store.events(&EventQuery { q: Some("staleword".into()), ..EventQuery::default() }).unwrap();
    assert!(stale.items.is_empty(), "the new event 1 does not match the old event 1's text");
    let fresh = store.events(&EventQuery { q: Some("freshword".into()), ..EventQuery::default() }).unwrap();
    assert_eq!(fresh.items.len(), 1);
    assert!(store.event("gone").unwrap().is_none(), "the old event's id left the map");
    assert_eq!(store.event("fresh").unwrap().unwrap().raw, "freshword");
}

/// Indexes everything pending, through a full-text search (which does that first).
fn index_now(store: &Store) {
    store.events(&EventQuery { q: Some("nothingmatchesthis".into()), ..EventQuery::default() }).unwrap();
}

fn mapped_ids(dir: &std::path::Path) -> (i64, i64) {
    let conn = rusqlite::Connection::open(dir.join("vigil-fts.db")).unwrap();
    let rows = conn.query_row("SELECT count(*) FROM event_id_terms", [], |r| r.get(0)).unwrap();
    let mark = conn.query_row("SELECT mapped_to FROM id_terms_progress", [], |r| r.get(0)).unwrap();
    (rows, mark)
}

#[test]
fn events_are_found_by_id_and_replays_skipped_whether_or_not_the_map_has_them() {
    let (dir, store) = open();
    store.write_batch(&events_batch(vec![event("a", 1_000), event("b", 2_000)])).unwrap();
    index_now(&store);
    assert_eq!(mapped_ids(dir.path()), (2, 2), "the indexer maps every event id");
    assert_eq!(store.event("a").unwrap().unwrap().time_ms, 1_000);

    // The map emptied, as in a store migrated from before it: lookups and replays go
    // through the events above the mark, and the indexer fills the map back in.
    {
        let conn = rusqlite::Connection::open(dir.path().join("vigil-fts.db")).unwrap();
        conn.execute_batch(
            "INSERT INTO event_id_terms (event_id_terms) VALUES ('delete-all');
             UPDATE id_terms_progress SET mapped_to = 0;",
        )
        .unwrap();
    }
    assert_eq!(store.event("b").unwrap().unwrap().time_ms, 2_000, "found above the mark");
    // Replays: "a" stored, "c" new but twice in the batch.
    store.write_batch(&events_batch(vec![event("a", 1_000), event("c", 3_000), event("c", 3_000)])).unwrap();
    assert_eq!(store.duplicates_ignored(), 2);
    index_now(&store);
    assert_eq!(mapped_ids(dir.path()), (3, 3), "the map caught up from its own mark");
    assert_eq!(fts_rows(dir.path()), 3, "and the full-text rows were not added twice");
    // Replays of mapped ids.
    store.write_batch(&events_batch(vec![event("b", 2_000), event("c", 3_000), event("d", 4_000)])).unwrap();
    assert_eq!(store.duplicates_ignored(), 4);
    assert_eq!(store.counts().unwrap().0, 4);
    assert_eq!(store.event("c").unwrap().unwrap().time_ms, 3_000);
    assert_eq!(store.event("d").unwrap().unwrap().time_ms, 4_000);
    assert!(store.event("nope").unwrap().is_none());

    // A batch that declares its ids fresh is not looked up.
    let fresh = WriteBatch { events: vec![event("e", 5_000)], fresh_event_ids: true, ..WriteBatch::default() };
    store.write_batch(&fresh).unwrap();
    assert_eq!(store.duplicates_ignored(), 4);
    assert_eq!(store.event("e").unwrap().unwrap().time_ms, 5_000);
}

/// The map's term for an event id, as the store writes it. A stored format: a change
/// would orphan the maps of existing stores, hence spelled out here too.
fn id_term(event_id: &str) -> String {
    let hash =
        event_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3));
    format!("e{hash:016x}")
}

#[test]
fn a_map_row_whose_term_collides_never_returns_another_event() {
    let (dir, store) = open();
    store.write_batch(&events_batch(vec![event("a", 1_000), event("b", 2_000)])).unwrap();
    index_now(&store);
    let conn = rusqlite::Connection::open(dir.path().join("vigil-fts.db")).unwrap();
    conn.execute_batch("CREATE VIRTUAL TABLE temp.terms USING fts5vocab(main, 'event_id_terms', 'row');").unwrap();
    let mut terms: Vec<String> = conn
        .prepare("SELECT term FROM temp.terms")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    terms.sort();
    let mut expected = vec![id_term("a"), id_term("b")];
    expected.sort();
    assert_eq!(terms, expected, "one term per event, in the stored format");
    // Event "b"'s row now carries the term of "other": what a 64-bit hash collision
    // between the two ids would look like.
    conn.execute("DELETE FROM event_id_terms WHERE rowid = 2", []).unwrap();
    conn.execute("INSERT INTO event_id_terms (rowid, term) VALUES (2, ?1)", [id_term("other")]).unwrap();
    assert!(store.event("other").unwrap().is_none(), "the row's own id is checked");
    assert_eq!(store.event("a").unwrap().unwrap().time_ms, 1_000);
    // A batch with "other" is new events, not a replay of "b".
    store.write_batch(&events_batch(vec![event("other", 3_000)])).unwrap();
    assert_eq!(store.duplicates_ignored(), 0);
    assert_eq!(store.event("other").unwrap().unwrap().time_ms, 3_000);
}

#[test]
fn a_replay_of_thousands_of_mapped_events_is_recognised_in_one_lookup() {
    let (_dir, store) = open();
    let batch = events("r", 5_000, 0);
    store.write_batch(&events_batch(batch.clone())).unwrap();
    index_now(&store);
    store.write_batch(&events_batch(batch)).unwrap();
    assert_eq!(store.duplicates_ignored(), 5_000);
    assert_eq!(store.counts().unwrap().0, 5_000);
}

#[test]
fn an_index_file_with_the_old_b_tree_map_gets_the_new_map() {
    let (dir, store) = open();
    store.write_batch(&events_batch(vec![event("a", 1_000), event("b", 2_000)])).unwrap();
    index_now(&store);
    drop(store);
    // An index file as earlier versions left it: the B-tree map, no FTS5 map.
    {
        let conn = rusqlite::Connection::open(dir.path().join("vigil-fts.db")).unwrap();
        conn.execute_batch(
            "DROP TABLE event_id_terms; DROP TABLE id_terms_progress;
             CREATE TABLE event_ids (event_id TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID;
             INSERT INTO event_ids VALUES ('a', 1), ('b', 2);
             CREATE TABLE id_progress (only_row INTEGER PRIMARY KEY, mapped_to INTEGER NOT NULL);
             INSERT INTO id_progress VALUES (0, 2);",
        )
        .unwrap();
    }
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("vigil-fts.db")).unwrap();
    let old: i64 = conn
        .query_row("SELECT count(*) FROM sqlite_schema WHERE name IN ('event_ids', 'id_progress')", [], |r| r.get(0))
        .unwrap();
    assert_eq!(old, 0, "the old map is gone");
    assert_eq!(store.event("a").unwrap().unwrap().time_ms, 1_000, "found above the new map's mark");
    index_now(&store);
    assert_eq!(mapped_ids(dir.path()), (2, 2), "the new map was filled from the events");
    assert_eq!(fts_rows(dir.path()), 2, "the full-text rows were not added twice");
    assert_eq!(store.event("b").unwrap().unwrap().time_ms, 2_000);
}

#[test]
fn a_map_ahead_of_the_events_is_cut_back_when_the_store_opens() {
    let (dir, store) = open();
    store.write_batch(&events_batch(vec![event("a", 1_000), event("b", 2_000), event("c", 3_000)])).unwrap();
    index_now(&store);
    assert_eq!(mapped_ids(dir.path()), (3, 3));
    drop(store);
    // As after a crash between retention's steps: the newest events are gone from the
    // event file, their map rows are not.
    rusqlite::Connection::open(dir.path().join("vigil.db"))
        .unwrap()
        .execute("DELETE FROM events WHERE id > 1", [])
        .unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    assert_eq!(mapped_ids(dir.path()), (1, 1), "rows and mark cut back to the highest event");
    // The freed ids are handed out again, and mapped to their new events.
    store.write_batch(&events_batch(vec![event("d", 4_000)])).unwrap();
    index_now(&store);
    assert_eq!(mapped_ids(dir.path()), (2, 2));
    assert!(store.event("b").unwrap().is_none());
    assert_eq!(store.event("d").unwrap().unwrap().time_ms, 4_000);
}
