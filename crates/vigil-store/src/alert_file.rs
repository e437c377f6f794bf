//! Alerts in a database file of their own ([`ALERTS_FILE_NAME`]), written by their own
//! connection.
//!
//! Why a second writer: an alert is what someone is waiting for, and in the event
//! database it had to wait for everything the events cost. Each commit there appends
//! hundreds of KiB of event pages to the WAL, and each WAL restart needs a last
//! checkpoint pass under the writer's lock whose fsyncs took 20-270 ms under ingest
//! load (checkpoint.rs) — so an alert's commit, even alone, stalled behind them (p99
//! event → alert latency 70-400 ms at 15-20k events/s). Here an alert commit writes a
//! few 4 KiB pages to a WAL that grows by a few MiB a minute: it costs well under a
//! millisecond however busy the event database is (measured beside a 15k events/s
//! daemon: p50 0.5 ms, p99 3.4 ms with no checkpoint in the way), and this file's
//! checkpoints are rare and short.
//!
//! The price is that an alert and the events it links to are no longer one
//! transaction: the pipeline commits the alert first and the events (with their source
//! checkpoint) after. A crash between the two re-reads those events from the older
//! checkpoint, as after any crash, and detects the alert again: at-least-once, like
//! events. Readers attach this file, so queries join alerts with events as before.

use std::path::Path;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::model::{AlertChange, AlertStatus, NewAlert};
use crate::write::to_sql_count;
use crate::StoreError;

/// The alert database inside the store's directory.
pub const ALERTS_FILE_NAME: &str = "vigil-alerts.db";

/// Schema of the alert file (idempotent: run at every open). The tables and indexes
/// are those the event database held up to schema version 6.
const ALERTS_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS alerts (
    id INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    level TEXT NOT NULL,
    tags TEXT NOT NULL,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    host TEXT,
    src_ip TEXT,
    user TEXT,
    details TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS alerts_alert_id ON alerts(alert_id);
CREATE INDEX IF NOT EXISTS alerts_last_seen ON alerts(last_seen_ms);
CREATE INDEX IF NOT EXISTS alerts_first_seen ON alerts(first_seen_ms);
CREATE INDEX IF NOT EXISTS alerts_rule_last_seen ON alerts(rule_id, last_seen_ms);
CREATE INDEX IF NOT EXISTS alerts_status_last_seen ON alerts(status, last_seen_ms);

-- Linked events in link order (rowid); the unique index also serves lookups per alert.
CREATE TABLE IF NOT EXISTS alert_events (
    alert_id TEXT NOT NULL,
    event_id TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS alert_events_link ON alert_events(alert_id, event_id);
-- Alerts of an event (`fetch-stix` looks them up by event).
CREATE INDEX IF NOT EXISTS alert_events_event ON alert_events(event_id);

-- The alert count, kept here for the same reason as the event database's `totals`.
CREATE TABLE IF NOT EXISTS alert_totals (
    name TEXT PRIMARY KEY NOT NULL,
    n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT OR IGNORE INTO alert_totals (name, n) VALUES ('alerts', 0);
"#;

/// Opens (creating when absent) the alert file and brings its schema up to date.
pub(crate) fn open(path: &Path) -> Result<Connection, StoreError> {
    let conn = crate::schema::open_alert_file(path)?;
    conn.execute_batch(ALERTS_SCHEMA)?;
    Ok(conn)
}

/// Moves the alerts of a store written before they had a file of their own out of the
/// event database (`main` of `events`), which is left without them. Idempotent: the
/// copy ignores rows present already, so a crash between the two files' commits (each
/// file commits on its own in WAL mode) is repaired by the next open doing it again.
pub(crate) fn move_out_of_event_database(events: &Connection, alerts_path: &Path) -> Result<bool, StoreError> {
    let has_alerts: i64 = events.query_row(
        "SELECT count(*) FROM main.sqlite_schema WHERE type = 'table' AND name = 'alerts'",
        [],
        |row| row.get(0),
    )?;
    if has_alerts == 0 {
        return Ok(false);
    }
    let path = crate::schema::utf8(alerts_path)?;
    events.execute("ATTACH DATABASE ?1 AS alert_file", [path])?;
    let moved = events.execute_batch(
        "BEGIN IMMEDIATE;
         INSERT OR IGNORE INTO alert_file.alerts SELECT * FROM main.alerts ORDER BY id;
         INSERT OR IGNORE INTO alert_file.alert_events (alert_id, event_id)
             SELECT alert_id, event_id FROM main.alert_events ORDER BY rowid;
         UPDATE alert_file.alert_totals SET n = (SELECT count(*) FROM alert_file.alerts) WHERE name = 'alerts';
         DROP TABLE main.alert_events;
         DROP TABLE main.alerts;
         DELETE FROM main.totals WHERE name = 'alerts';
         COMMIT;",
    );
    if moved.is_err() && !events.is_autocommit() {
        let _ = events.execute_batch("ROLLBACK");
    }
    let detached = events.execute_batch("DETACH DATABASE alert_file");
    moved?;
    detached?;
    Ok(true)
}

/// Alert changes, in order, in one transaction; returns how many new alerts were
/// inserted (a `New` whose id exists already is a replay and keeps the stored alert).
pub(crate) fn write_alerts(
    conn: &mut Connection,
    changes: &[AlertChange],
    max_linked_events: usize,
) -> Result<u64, StoreError> {
    if changes.is_empty() {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut inserted = 0u64;
    for change in changes {
        match change {
            AlertChange::New(alert) => {
                if insert_alert(&tx, alert, max_linked_events)? {
                    inserted += 1;
                }
            }
            AlertChange::Repeat { alert_id, count, last_seen_ms, event_ids } => {
                repeat_alert(&tx, alert_id, *count, *last_seen_ms, event_ids, max_linked_events)?;
            }
        }
    }
    if inserted > 0 {
        tx.prepare_cached("UPDATE alert_totals SET n = max(n + ?1, 0) WHERE name = 'alerts'")?
            .execute([to_sql_count(inserted)])?;
    }
    tx.commit()?;
    Ok(inserted)
}

/// False when no such alert.
pub(crate) fn set_status(conn: &Connection, alert_id: &str, status: AlertStatus) -> Result<bool, StoreError> {
    let updated = conn
        .prepare_cached("UPDATE alerts SET status = ?2 WHERE alert_id = ?1")?
        .execute([alert_id, status.as_str()])?;
    Ok(updated > 0)
}

/// False when the alert id already exists (a replayed batch): the first write stands.
fn insert_alert(tx: &Transaction<'_>, alert: &NewAlert, max_linked_events: usize) -> Result<bool, StoreError> {
    let tags = serde_json::to_string(&alert.tags).unwrap_or_else(|_| "[]".to_string());
    let inserted = tx
        .prepare_cached(
            "INSERT INTO alerts (alert_id, rule_id, rule_title, level, tags, group_key, status,
                                 first_seen_ms, last_seen_ms, count, host, src_ip, user, details)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)
             ON CONFLICT (alert_id) DO NOTHING",
        )?
        .execute(params![
            alert.alert_id,
            alert.rule_id,
            alert.rule_title,
            alert.level,
            tags,
            alert.group_key,
            AlertStatus::Open.as_str(),
            alert.first_seen_ms,
            alert.last_seen_ms,
            to_sql_count(alert.count),
            alert.host,
            alert.src_ip,
            alert.user,
            alert.details,
        ])?;
    if inserted == 0 {
        return Ok(false);
    }
    link_events(tx, &alert.alert_id, &alert.event_ids, 0, max_linked_events)?;
    Ok(true)
}

/// A repeat of an alert this store never saw (its `New` was lost to retention or to a
/// different store) is ignored: the detector cannot do anything better with an error.
fn repeat_alert(
    tx: &Transaction<'_>,
    alert_id: &str,
    count: u64,
    last_seen_ms: i64,
    event_ids: &[String],
    max_linked_events: usize,
) -> Result<(), StoreError> {
    // The CASE keeps the sum an integer: SQLite turns an overflowing sum into a REAL.
    let updated = tx
        .prepare_cached(
            "UPDATE alerts
             SET count = CASE WHEN count > 9223372036854775807 - ?2 THEN 9223372036854775807 ELSE count + ?2 END,
                 last_seen_ms = max(last_seen_ms, ?3)
             WHERE alert_id = ?1",
        )?
        .execute(params![alert_id, to_sql_count(count), last_seen_ms])?;
    if updated == 0 || event_ids.is_empty() {
        return Ok(());
    }
    let linked: i64 = tx
        .prepare_cached("SELECT count(*) FROM alert_events WHERE alert_id = ?1")?
        .query_row([alert_id], |row| row.get(0))
        .optional()?
        .unwrap_or(0);
    link_events(tx, alert_id, event_ids, usize::try_from(linked).unwrap_or(usize::MAX), max_linked_events)
}

fn link_events(
    tx: &Transaction<'_>,
    alert_id: &str,
    event_ids: &[String],
    already_linked: usize,
    max_linked_events: usize,
) -> Result<(), StoreError> {
    let mut linked = already_linked;
    if linked >= max_linked_events || event_ids.is_empty() {
        return Ok(());
    }
    let mut link = tx.prepare_cached("INSERT OR IGNORE INTO alert_events (alert_id, event_id) VALUES (?1, ?2)")?;
    for event_id in event_ids {
        if linked >= max_linked_events {
            break;
        }
        linked += link.execute(params![alert_id, event_id])?;
    }
    Ok(())
}
