//! Paged reads for the API: events, alerts and dead letters, newest first, with keyset
//! cursors; single lookups; checkpoints and row counts.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter, Connection, ErrorCode, OptionalExtension};

use crate::cursor::{page_limit, Cursor};
use crate::model::{AlertQuery, AlertRow, Checkpoint, DeadLetterRow, EventQuery, EventRow, Page};
use crate::rows::{
    alert_row, attach_event_ids, dead_letter_row, event_row, ALERT_COLUMNS, DEAD_LETTER_COLUMNS, EVENT_COLUMNS,
};
use crate::write::from_sql_count;
use crate::StoreError;

/// Longest full-text query accepted; FTS5 work grows with the number of terms.
pub(crate) const MAX_FTS_QUERY_BYTES: usize = 2048;

/// A WHERE clause built from static SQL fragments and bound values, never from input text.
#[derive(Default)]
struct Filter {
    clauses: Vec<&'static str>,
    values: Vec<Value>,
}

impl Filter {
    fn add(&mut self, clause: &'static str, values: impl IntoIterator<Item = Value>) {
        self.clauses.push(clause);
        self.values.extend(values);
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", self.clauses.join(" AND "))
        }
    }
}

pub(crate) fn events(conn: &Connection, query: &EventQuery) -> Result<Page<EventRow>, StoreError> {
    let limit = page_limit(query.limit);
    let cursor = Cursor::decode_optional(query.cursor.as_deref())?;
    let fts_query = fts_query(query.q.as_deref())?;

    let mut filter = Filter::default();
    if let Some(from_ms) = query.from_ms {
        filter.add("time_ms >= ?", [Value::Integer(from_ms)]);
    }
    if let Some(to_ms) = query.to_ms {
        filter.add("time_ms < ?", [Value::Integer(to_ms)]);
    }
    if let Some(class_uid) = query.class_uid {
        filter.add("class_uid = ?", [Value::Integer(class_uid.into())]);
    }
    if let Some(source) = &query.source {
        filter.add("source = ?", [Value::Text(source.clone())]);
    }
    if let Some(host) = &query.host {
        filter.add("host = ?", [Value::Text(host.clone())]);
    }
    if let Some(src_ip) = &query.src_ip {
        filter.add("src_ip = ?", [Value::Text(src_ip.clone())]);
    }
    if let Some(user) = &query.user {
        filter.add("user = ?", [Value::Text(user.clone())]);
    }
    if let Some(fts_query) = fts_query {
        filter.add(
            "id IN (SELECT rowid FROM fts.events_fts WHERE events_fts MATCH ?)",
            [Value::Text(fts_query.to_string())],
        );
    }
    if let Some(cursor) = cursor {
        // The first term gives the planner a range on the time index; the second breaks ties.
        filter.add(
            "time_ms <= ? AND (time_ms < ? OR id < ?)",
            [Value::Integer(cursor.key), Value::Integer(cursor.key), Value::Integer(cursor.id)],
        );
    }
    filter.values.push(Value::Integer(limit as i64 + 1));
    let sql = format!("SELECT {EVENT_COLUMNS} FROM events {} ORDER BY time_ms DESC, id DESC LIMIT ?", filter.sql());

    let run = || -> rusqlite::Result<Vec<(i64, EventRow)>> {
        let mut select = conn.prepare_cached(&sql)?;
        let rows = select.query_map(params_from_iter(filter.values.iter()), event_row)?;
        rows.collect()
    };
    let rows = run().map_err(|err| if fts_query.is_some() { fts_error(err) } else { StoreError::Sqlite(err) })?;
    Ok(page(rows, limit, |event| event.time_ms))
}

/// `conn` is a reader (the index file attached as `fts`). Events the indexer has mapped
/// are found through the map (by the id's hash term, so the id itself is checked on
/// the row); the newest, not mapped yet, by a scan of the ids above its mark: at most a
/// chunk plus about a second of events (fts.rs).
pub(crate) fn event(conn: &Connection, event_id: &str) -> Result<Option<EventRow>, StoreError> {
    let sql = format!(
        "SELECT {EVENT_COLUMNS} FROM events
         WHERE id IN (SELECT rowid FROM fts.event_id_terms WHERE event_id_terms MATCH ?2) AND event_id = ?1
         UNION ALL
         SELECT {EVENT_COLUMNS} FROM events
         WHERE id > (SELECT mapped_to FROM fts.id_terms_progress) AND event_id = ?1
         LIMIT 1"
    );
    let found =
        conn.prepare_cached(&sql)?.query_row(params![event_id, crate::fts::id_term(event_id)], event_row).optional()?;
    Ok(found.map(|(_, event)| event))
}

/// Which of `events`' ids are stored already. `conn` is a reader (the index file
/// attached as `fts`): mapped ids through the map (their hash terms, all in one query;
/// the ids are checked on the rows), the newest through the ids above its mark; one
/// statement, so one snapshot of both files.
pub(crate) fn stored_event_ids(
    conn: &Connection,
    events: &[crate::NewEvent],
) -> Result<std::collections::HashSet<String>, StoreError> {
    if events.is_empty() {
        return Ok(Default::default());
    }
    let ids: Vec<&str> = events.iter().map(|e| e.event_id.as_str()).collect();
    let terms = crate::fts::id_terms_query(ids.iter().copied());
    let ids = serde_json::to_string(&ids).map_err(|err| StoreError::InvalidQuery(err.to_string()))?;
    let found = conn
        .prepare_cached(
            "WITH tail AS MATERIALIZED (
                 SELECT event_id FROM events WHERE id > (SELECT mapped_to FROM fts.id_terms_progress)
             ),
             mapped AS MATERIALIZED (
                 SELECT event_id FROM events
                 WHERE id IN (SELECT rowid FROM fts.event_id_terms WHERE event_id_terms MATCH ?2)
             )
             SELECT DISTINCT j.value FROM json_each(?1) AS j
             WHERE j.value IN mapped OR j.value IN tail",
        )?
        .query_map(params![ids, terms], |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(found)
}

/// `from_ms` / `to_ms` select the alerts active in the window: last seen at or after
/// `from_ms` and first seen before `to_ms`.
pub(crate) fn alerts(conn: &Connection, query: &AlertQuery) -> Result<Page<AlertRow>, StoreError> {
    let limit = page_limit(query.limit);
    let cursor = Cursor::decode_optional(query.cursor.as_deref())?;

    let mut filter = Filter::default();
    if let Some(from_ms) = query.from_ms {
        filter.add("last_seen_ms >= ?", [Value::Integer(from_ms)]);
    }
    if let Some(to_ms) = query.to_ms {
        filter.add("first_seen_ms < ?", [Value::Integer(to_ms)]);
    }
    if let Some(status) = query.status {
        filter.add("status = ?", [Value::Text(status.as_str().to_string())]);
    }
    if let Some(rule_id) = &query.rule_id {
        filter.add("rule_id = ?", [Value::Text(rule_id.clone())]);
    }
    if let Some(level) = &query.level {
        filter.add("level = ?", [Value::Text(level.clone())]);
    }
    if let Some(host) = &query.host {
        filter.add("host = ?", [Value::Text(host.clone())]);
    }
    if let Some(cursor) = cursor {
        filter.add(
            "last_seen_ms <= ? AND (last_seen_ms < ? OR id < ?)",
            [Value::Integer(cursor.key), Value::Integer(cursor.key), Value::Integer(cursor.id)],
        );
    }
    filter.values.push(Value::Integer(limit as i64 + 1));
    let sql =
        format!("SELECT {ALERT_COLUMNS} FROM alerts {} ORDER BY last_seen_ms DESC, id DESC LIMIT ?", filter.sql());

    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(filter.values.iter()), alert_row)?
        .collect::<Result<Vec<_>, _>>()?;
    let mut alerts = page(rows, limit, |alert| alert.last_seen_ms);
    attach_event_ids(conn, &mut alerts.items)?;
    Ok(alerts)
}

pub(crate) fn alert(conn: &Connection, alert_id: &str) -> Result<Option<AlertRow>, StoreError> {
    let sql = format!("SELECT {ALERT_COLUMNS} FROM alerts WHERE alert_id = ?1");
    let Some((_, alert)) = conn.prepare_cached(&sql)?.query_row([alert_id], alert_row).optional()? else {
        return Ok(None);
    };
    let mut found = [alert];
    attach_event_ids(conn, &mut found)?;
    let [alert] = found;
    Ok(Some(alert))
}

pub(crate) fn dead_letters(
    conn: &Connection,
    cursor: Option<&str>,
    limit: Option<u32>,
) -> Result<Page<DeadLetterRow>, StoreError> {
    let limit = page_limit(limit);
    let cursor = Cursor::decode_optional(cursor)?;
    let mut filter = Filter::default();
    if let Some(cursor) = cursor {
        filter.add(
            "received_ms <= ? AND (received_ms < ? OR id < ?)",
            [Value::Integer(cursor.key), Value::Integer(cursor.key), Value::Integer(cursor.id)],
        );
    }
    filter.values.push(Value::Integer(limit as i64 + 1));
    let sql = format!(
        "SELECT {DEAD_LETTER_COLUMNS} FROM dead_letters {} ORDER BY received_ms DESC, id DESC LIMIT ?",
        filter.sql()
    );
    let rows = conn
        .prepare_cached(&sql)?
        .query_map(params_from_iter(filter.values.iter()), |row| {
            dead_letter_row(row).map(|letter| (letter.id, letter))
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(page(rows, limit, |letter| letter.received_ms))
}

pub(crate) fn checkpoints(conn: &Connection) -> Result<Vec<Checkpoint>, StoreError> {
    let mut select =
        conn.prepare_cached(r#"SELECT "key", location, "offset", updated_ms FROM checkpoints ORDER BY "key""#)?;
    let checkpoints = select
        .query_map([], |row| {
            Ok(Checkpoint {
                key: row.get(0)?,
                location: row.get(1)?,
                offset: from_sql_count(row.get(2)?),
                updated_ms: row.get(3)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(checkpoints)
}

/// (events, alerts, dead letters), from the counters the writer keeps.
/// The highest event id stored (0 when none).
pub(crate) fn max_event_id(conn: &Connection) -> Result<i64, StoreError> {
    Ok(conn.prepare_cached("SELECT coalesce(max(id), 0) FROM events")?.query_row([], |row| row.get(0))?)
}

/// `conn` is a reader (the index file attached as `fts`).
pub(crate) fn full_text_backlog(conn: &Connection) -> Result<u64, StoreError> {
    let backlog: i64 = conn
        .prepare_cached(
            "SELECT max(0, (SELECT coalesce(max(id), 0) FROM events) - (SELECT indexed_to FROM fts.fts_progress))",
        )?
        .query_row([], |row| row.get(0))?;
    Ok(crate::write::from_sql_count(backlog))
}

/// Stored events, from the event database alone (any connection to it).
pub(crate) fn event_total(conn: &Connection) -> Result<u64, StoreError> {
    let n: i64 = conn.prepare_cached("SELECT n FROM totals WHERE name = 'events'")?.query_row([], |row| row.get(0))?;
    Ok(from_sql_count(n))
}

pub(crate) fn counts(conn: &Connection) -> Result<(u64, u64, u64), StoreError> {
    let mut select = conn.prepare_cached("SELECT name, n FROM totals UNION ALL SELECT name, n FROM alert_totals")?;
    let mut counts = (0, 0, 0);
    let mut rows = select.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get(0)?;
        let n = from_sql_count(row.get(1)?);
        match name.as_str() {
            "events" => counts.0 = n,
            "alerts" => counts.1 = n,
            "dead_letters" => counts.2 = n,
            _ => {}
        }
    }
    Ok(counts)
}

/// A blank query means "no full-text filter" (an empty search box).
fn fts_query(q: Option<&str>) -> Result<Option<&str>, StoreError> {
    let Some(q) = q.filter(|q| !q.trim().is_empty()) else { return Ok(None) };
    if q.len() > MAX_FTS_QUERY_BYTES {
        return Err(StoreError::InvalidQuery(format!("full-text query longer than {MAX_FTS_QUERY_BYTES} bytes")));
    }
    Ok(Some(q))
}

/// Our SQL is fixed and valid, so a generic SQL error while a MATCH runs comes from the
/// caller's FTS5 expression (syntax error, unknown column filter …): their mistake.
fn fts_error(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(failure, message) if failure.code == ErrorCode::Unknown => {
            StoreError::InvalidQuery(format!("full-text query: {}", message.as_deref().unwrap_or("syntax error")))
        }
        _ => StoreError::Sqlite(err),
    }
}

/// Cuts the extra row fetched to learn whether another page follows.
fn page<T>(mut rows: Vec<(i64, T)>, limit: usize, sort_key: impl Fn(&T) -> i64) -> Page<T> {
    let next = if rows.len() > limit {
        rows.truncate(limit);
        rows.last().map(|(id, item)| Cursor { key: sort_key(item), id: *id }.encode())
    } else {
        None
    };
    Page { items: rows.into_iter().map(|(_, item)| item).collect(), next }
}
