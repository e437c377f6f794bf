//! The write path of the event database: a batch's events, dead letters and source
//! checkpoints in one immediate transaction, cached statements. (Its alert changes go
//! to the alert file first, alert_file.rs.)

use std::collections::HashSet;

use rusqlite::{params, Connection, Transaction, TransactionBehavior};

use crate::model::{Checkpoint, NewDeadLetter, WriteBatch};
use crate::StoreError;

/// What a committed batch changed, for the store's running counters.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WriteOutcome {
    pub events_inserted: u64,
    pub duplicates_ignored: u64,
    pub dead_letters_inserted: u64,
}

/// `stored` holds those of the batch's event ids that are stored already: their events
/// are skipped, as are repeats of an id within the batch. `batch.alerts` is not written
/// here.
pub(crate) fn write_batch(
    conn: &mut Connection,
    batch: &WriteBatch,
    stored: &HashSet<String>,
) -> Result<WriteOutcome, StoreError> {
    let mut outcome = WriteOutcome::default();
    if batch.events.is_empty() && batch.dead_letters.is_empty() && batch.checkpoints.is_empty() {
        return Ok(outcome);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
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
    let additions = [("events", outcome.events_inserted), ("dead_letters", outcome.dead_letters_inserted)];
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
