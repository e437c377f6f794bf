//! Whole-range scans, oldest first (re-hunts over stored events, exports).

use rusqlite::{params, Connection};

use crate::model::EventRow;
use crate::rows::{event_row, EVENT_COLUMNS};
use crate::StoreError;

/// Largest chunk handed to the callback at once.
pub(crate) const MAX_SCAN_CHUNK: usize = 10_000;

/// Each chunk is its own statement, finished before the callback runs, so a slow
/// consumer never holds a read snapshot (which would stop WAL checkpoints).
pub(crate) fn scan_events(
    conn: &Connection,
    from_ms: Option<i64>,
    to_ms: Option<i64>,
    chunk: usize,
    each: &mut dyn FnMut(Vec<EventRow>) -> bool,
) -> Result<u64, StoreError> {
    let chunk = chunk.clamp(1, MAX_SCAN_CHUNK);
    let to_ms = to_ms.unwrap_or(i64::MAX);
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE time_ms < ?1 AND time_ms >= ?2 AND (time_ms > ?2 OR id > ?3)
         ORDER BY time_ms, id LIMIT ?4"
    );
    let mut delivered = 0u64;
    // Keyset position: everything at or before (time_ms, id) has been handed over.
    let mut after_time = from_ms.unwrap_or(i64::MIN);
    let mut after_id = i64::MIN;
    loop {
        let rows = conn
            .prepare_cached(&sql)?
            .query_map(params![to_ms, after_time, after_id, chunk as i64], event_row)?
            .collect::<Result<Vec<_>, _>>()?;
        let Some((last_id, last_event)) = rows.last() else { break };
        (after_time, after_id) = (last_event.time_ms, *last_id);
        let full = rows.len() == chunk;
        delivered += rows.len() as u64;
        let events = rows.into_iter().map(|(_, event)| event).collect();
        if !each(events) || !full {
            break;
        }
    }
    Ok(delivered)
}
