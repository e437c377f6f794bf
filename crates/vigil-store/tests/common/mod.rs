//! Builders shared by the integration tests.
#![allow(dead_code)]

use vigil_store::{AlertChange, Checkpoint, NewAlert, NewDeadLetter, NewEvent, Store, StoreOptions, WriteBatch};

pub fn open() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = Store::open(dir.path(), StoreOptions::default()).expect("open");
    (dir, store)
}

pub fn event(event_id: &str, time_ms: i64) -> NewEvent {
    NewEvent {
        event_id: event_id.to_string(),
        time_ms,
        received_ms: time_ms + 5,
        source: "syslog".to_string(),
        origin: "file:/var/log/auth.log".to_string(),
        class_uid: Some(3002),
        host: Some("web-1".to_string()),
        src_ip: Some("10.0.0.1".to_string()),
        user: Some("root".to_string()),
        ocsf: format!(r#"{{"class_uid":3002,"time":{time_ms}}}"#),
        raw: format!("sshd[42]: Failed password for root from 10.0.0.1 port 22 id {event_id}"),
    }
}

/// `n` events with distinct ids, a millisecond apart from `start_ms`.
pub fn events(prefix: &str, n: usize, start_ms: i64) -> Vec<NewEvent> {
    (0..n).map(|i| event(&format!("{prefix}-{i}"), start_ms + i as i64)).collect()
}

pub fn events_batch(events: Vec<NewEvent>) -> WriteBatch {
    WriteBatch { events, ..WriteBatch::default() }
}

pub fn new_alert(alert_id: &str, first_seen_ms: i64, event_ids: &[&str]) -> NewAlert {
    NewAlert {
        alert_id: alert_id.to_string(),
        rule_id: "ssh-brute-force".to_string(),
        rule_title: "SSH brute force".to_string(),
        level: "high".to_string(),
        tags: vec!["attack.t1110".to_string(), "attack.credential-access".to_string()],
        group_key: "src_ip=10.0.0.1".to_string(),
        first_seen_ms,
        last_seen_ms: first_seen_ms,
        count: 1,
        host: Some("web-1".to_string()),
        src_ip: Some("10.0.0.1".to_string()),
        user: Some("root".to_string()),
        event_ids: event_ids.iter().map(|id| id.to_string()).collect(),
        details: r#"{"window":"5m"}"#.to_string(),
    }
}

pub fn repeat(alert_id: &str, count: u64, last_seen_ms: i64, event_ids: &[&str]) -> AlertChange {
    AlertChange::Repeat {
        alert_id: alert_id.to_string(),
        count,
        last_seen_ms,
        event_ids: event_ids.iter().map(|id| id.to_string()).collect(),
    }
}

pub fn dead_letter(received_ms: i64, position: u64) -> NewDeadLetter {
    NewDeadLetter {
        received_ms,
        origin: "file:/var/log/app.jsonl".to_string(),
        position,
        reason: "invalid_json".to_string(),
        message: "expected value at line 1 column 1".to_string(),
        decoder: None,
        raw: "{not json".to_string(),
    }
}

pub fn checkpoint(key: &str, offset: u64, updated_ms: i64) -> Checkpoint {
    Checkpoint { key: key.to_string(), location: format!("/var/log/{key}"), offset, updated_ms }
}

/// Rows in the full-text index, read straight from the file.
pub fn fts_rows(dir: &std::path::Path) -> i64 {
    let conn =
        rusqlite::Connection::open_with_flags(dir.join("vigil-fts.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    conn.query_row("SELECT count(*) FROM events_fts_docsize", [], |row| row.get(0)).unwrap()
}
