//! Retention: drop what is too old, then the oldest events until the files fit the cap,
//! and give the freed pages back to the file system.
//!
//! Deletions run in transactions of [`DELETE_CHUNK`] rows, taking the writer's mutex
//! for each one only, so ingestion carries on between them. The full-text rows of a
//! chunk of events go first, from the index's own file (fts.rs says why in that order).

use rusqlite::{params, Connection};

use crate::model::{Retention, RetentionReport};
use crate::query::event_total;
use crate::write::adjust_total;
use crate::{Store, StoreError};

/// Rows deleted per transaction.
const DELETE_CHUNK: i64 = 5000;

pub(crate) fn apply_retention(store: &Store, policy: &Retention, now_ms: i64) -> Result<RetentionReport, StoreError> {
    let mut report = RetentionReport::default();
    if let Some(max_age_ms) = policy.max_age_ms {
        let cutoff_ms = now_ms.saturating_sub(max_age_ms.max(0));
        report.events_deleted += delete_events_before(store, cutoff_ms)?;
        report.dead_letters_deleted += delete_dead_letters_before(store, cutoff_ms)?;
    }
    if report.events_deleted + report.dead_letters_deleted > 0 || policy.max_bytes.is_some() {
        reclaim_space(store)?;
    }
    if let Some(max_bytes) = policy.max_bytes {
        report.events_deleted += shrink_to(store, max_bytes)?;
    }
    report.bytes_after = store.size_bytes()?;
    Ok(report)
}

fn delete_events_before(store: &Store, cutoff_ms: i64) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let chunk = delete_events(
            store,
            "SELECT id FROM events WHERE time_ms < ?1 ORDER BY time_ms LIMIT ?2",
            params![cutoff_ms, DELETE_CHUNK],
        )?;
        deleted += chunk;
        if chunk < DELETE_CHUNK as u64 {
            return Ok(deleted);
        }
    }
}

fn delete_dead_letters_before(store: &Store, cutoff_ms: i64) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let chunk = delete_chunk(
            &mut store.writer(),
            "DELETE FROM dead_letters WHERE id IN
                (SELECT id FROM dead_letters WHERE received_ms < ?1 ORDER BY received_ms LIMIT ?2)",
            params![cutoff_ms, DELETE_CHUNK],
            "dead_letters",
        )?;
        deleted += chunk;
        if chunk < DELETE_CHUNK as u64 {
            return Ok(deleted);
        }
    }
}

/// Deletes the oldest events until the files are under `max_bytes`. Stops early when no
/// event is left, or when a checkpoint cannot finish (a long read holds the WAL): the
/// size would not move however many events went, so the next run carries on instead.
fn shrink_to(store: &Store, max_bytes: u64) -> Result<u64, StoreError> {
    let mut deleted = 0;
    loop {
        let size = store.size_bytes()?;
        if size <= max_bytes {
            return Ok(deleted);
        }
        let events = event_total(&store.writer())?;
        if events == 0 {
            return Ok(deleted);
        }
        // Events are most of the file, so their share of the excess estimates how many
        // must go; at least 1% per round keeps the number of rounds small.
        let excess = size - max_bytes;
        let estimate = (u128::from(events) * u128::from(excess)).div_ceil(u128::from(size)) as u64;
        let mut remaining = estimate.max(events / 100).clamp(1, events);
        let mut round_deleted = 0;
        while remaining > 0 {
            let chunk = delete_events(
                store,
                "SELECT id FROM events ORDER BY time_ms, id LIMIT ?1",
                params![remaining.min(DELETE_CHUNK as u64) as i64],
            )?;
            if chunk == 0 {
                break;
            }
            round_deleted += chunk;
            remaining = remaining.saturating_sub(chunk);
        }
        deleted += round_deleted;
        if round_deleted == 0 || !reclaim_space(store)? {
            return Ok(deleted);
        }
    }
}

/// Deletes the events `select` picks (at most a chunk): their full-text rows first,
/// then the events in one transaction, and — with the writer's mutex still held, so no
/// new event can take a freed id meanwhile — the index is brought back under the
/// highest id left.
fn delete_events(store: &Store, select: &str, params: impl rusqlite::Params) -> Result<u64, StoreError> {
    let ids: Vec<i64> = {
        let writer = store.writer();
        let mut statement = writer.prepare_cached(select)?;
        let rows = statement.query_map(params, |row| row.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    if ids.is_empty() {
        return Ok(0);
    }
    store.fts().delete_rows(&ids)?;
    let mut writer = store.writer();
    let tx = writer.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let mut deleted = 0;
    {
        let mut delete = tx.prepare_cached("DELETE FROM events WHERE id = ?1")?;
        for id in &ids {
            deleted += delete.execute([id])?;
        }
    }
    if deleted > 0 {
        adjust_total(&tx, "events", -(deleted as i64))?;
    }
    let max_id = crate::query::max_event_id(&tx)?;
    tx.commit()?;
    store.fts().reconcile(max_id)?;
    drop(writer);
    Ok(deleted as u64)
}

/// One DELETE in its own transaction, keeping the `totals` counter in step.
fn delete_chunk(
    conn: &mut Connection,
    sql: &str,
    params: impl rusqlite::Params,
    total: &str,
) -> Result<u64, StoreError> {
    let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
    let deleted = tx.prepare_cached(sql)?.execute(params)?;
    if deleted > 0 {
        adjust_total(&tx, total, -(deleted as i64))?;
    }
    tx.commit()?;
    Ok(deleted as u64)
}

/// Returns free pages to the file system and folds the WALs back into the databases.
/// False when readers kept the event database's checkpoint from completing. (FTS5
/// needs no help here: with `contentless_delete` it rewrites segments once enough of
/// their rows are gone.) The alert file's WAL is folded too, so that the size measured
/// next does not depend on when its checkpointer last ran.
fn reclaim_space(store: &Store) -> Result<bool, StoreError> {
    store.fts().reclaim_space()?;
    store.fold_alert_wal()?;
    drain(&store.writer(), "PRAGMA incremental_vacuum")?;
    truncate_wal(&store.writer)
}

/// Copies the whole WAL of `writer`'s database into it and empties it; false when that
/// could not finish. A checkpointer thread's pass makes SQLite answer busy at once
/// instead of waiting (it made retention stop short of its size cap now and then), so
/// a busy answer is retried for up to a second; a long read holding the WAL outlasts
/// that, and the next retention run carries on.
pub(crate) fn truncate_wal(writer: &std::sync::Mutex<Connection>) -> Result<bool, StoreError> {
    for _ in 0..100 {
        let busy: i64 = crate::pool::lock(writer).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| row.get(0))?;
        if busy == 0 {
            return Ok(true);
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    Ok(false)
}

/// Steps a statement to completion, whatever rows it returns.
pub(crate) fn drain(conn: &Connection, sql: &str) -> Result<(), StoreError> {
    let mut statement = conn.prepare(sql)?;
    let mut rows = statement.query([])?;
    while rows.next()?.is_some() {}
    Ok(())
}
