//! The write path: one batch, one immediate transaction, cached statements.

use std::collections::HashSet;

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::model::{AlertChange, AlertStatus, Checkpoint, NewAlert, NewDeadLetter, WriteBatch};
use crate::StoreError;

/// What a committed batch changed, for the store's running counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteOutcome {
    pub events_inserted: u64,
    pub duplicates_ignored: u64,
    pub alerts_inserted: u64,
    pub dead_letters_inserted: u64,
}

/// `stored` holds those of the batch's event ids that are stored already: their events
/// are skipped, as are repeats of an id within the batch.
pub(crate) fn write_batch(
    conn: &mut Connection,
    batch: &WriteBatch,
    stored: &HashSet<String>,
    max_linked_events: usize,
) -> Result<WriteOutcome, StoreError> {
    let mut outcome = WriteOutcome::default();
    if batch.is_empty() {
        return Ok(outcome);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    for change in &batch.alerts {
        match change {
            AlertChange::New(alert) => {
                if insert_alert(&tx, alert, max_linked_events)? {
                    outcome.alerts_inserted += 1;
                }
            }
            AlertChange::Repeat { alert_id, count, last_seen_ms, event_ids } => {
                repeat_alert(&tx, alert_id, *count, *last_seen_ms, event_ids, max_linked_events)?;
            }
        }
    }
    insert_dead_letters(&tx, &batch.dead_letters)?;
    outcome.dead_letters_inserted = batch.dead_letters.len() as u64;
    upsert_checkpoints(&tx, &batch.checkpoints)?;
    insert_events(&tx, batch, stored, &mut outcome)?;
    add_totals(&tx, &outcome)?;
    tx.commit()?;
    Ok(outcome)
}

fn insert_events(
    tx: &Transaction<'_>,
    batch: &WriteBatch,
    stored: &HashSet<String>,
    outcome: &mut WriteOutcome,
) -> Result<(), StoreError> {
    let events = &batch.events;
    if events.is_empty() {
        return Ok(());
    }
    // No unique index on event_id (its random keys made every commit dirty a page per
    // event, see fts.rs): an at-least-once replay is recognised by `stored`, found by
    // the caller, and by `seen` within the batch.
    let mut insert = tx.prepare_cached(
        "INSERT INTO events (event_id, time_ms, received_ms, source, origin, class_uid, host, src_ip, user, ocsf, raw)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )?;
    let mut seen: HashSet<&str> = HashSet::new();
    for event in events {
        if !batch.fresh_event_ids && (stored.contains(&event.event_id) || !seen.insert(&event.event_id)) {
            outcome.duplicates_ignored += 1;
            continue;
        }
        insert.execute(params![
            event.event_id,
            event.time_ms,
            event.received_ms,
            event.source,
            event.origin,
            event.class_uid,
            event.host,
            event.src_ip,
            event.user,
            event.ocsf,
            event.raw,
        ])?;
        // Full-text indexing and the id map are filled later, off this transaction
        // (fts.rs).
        outcome.events_inserted += 1;
    }
    Ok(())
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

fn insert_dead_letters(tx: &Transaction<'_>, dead_letters: &[NewDeadLetter]) -> Result<(), StoreError> {
    if dead_letters.is_empty() {
        return Ok(());
    }
    let mut insert = tx.prepare_cached(
        "INSERT INTO dead_letters (received_ms, origin, position, reason, message, decoder, raw)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?;
    for letter in dead_letters {
        insert.execute(params![
            letter.received_ms,
            letter.origin,
            to_sql_count(letter.position),
            letter.reason,
            letter.message,
            letter.decoder,
            letter.raw,
        ])?;
    }
    Ok(())
}

fn upsert_checkpoints(tx: &Transaction<'_>, checkpoints: &[Checkpoint]) -> Result<(), StoreError> {
    if checkpoints.is_empty() {
        return Ok(());
    }
    let mut upsert = tx.prepare_cached(
        r#"INSERT INTO checkpoints ("key", location, "offset", updated_ms) VALUES (?1, ?2, ?3, ?4)
           ON CONFLICT ("key") DO UPDATE
           SET location = excluded.location, "offset" = excluded."offset", updated_ms = excluded.updated_ms"#,
    )?;
    for checkpoint in checkpoints {
        upsert.execute(params![
            checkpoint.key,
            checkpoint.location,
            to_sql_count(checkpoint.offset),
            checkpoint.updated_ms
        ])?;
    }
    Ok(())
}

fn add_totals(tx: &Transaction<'_>, outcome: &WriteOutcome) -> Result<(), StoreError> {
    let additions = [
        ("events", outcome.events_inserted),
        ("alerts", outcome.alerts_inserted),
        ("dead_letters", outcome.dead_letters_inserted),
    ];
    for (name, added) in additions {
        if added > 0 {
            adjust_total(tx, name, to_sql_count(added))?;
        }
    }
    Ok(())
}

/// Adds `delta` (negative for deletions) to one of the `totals` counters.
pub(crate) fn adjust_total(conn: &Connection, name: &str, delta: i64) -> Result<(), StoreError> {
    conn.prepare_cached("UPDATE totals SET n = max(n + ?2, 0) WHERE name = ?1")?.execute(params![name, delta])?;
    Ok(())
}

/// SQLite integers are signed; counts and offsets past `i64::MAX` cannot occur in
/// practice, and saturating beats wrapping to a negative number.
pub(crate) fn to_sql_count(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// The inverse of [`to_sql_count`]; a negative value (never written by us) reads as 0.
pub(crate) fn from_sql_count(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}
