//! Turning SQLite rows back into the API's types.

use rusqlite::{Connection, Row};

use crate::model::{AlertRow, AlertStatus, DeadLetterRow, EventRow};
use crate::write::from_sql_count;
use crate::StoreError;

/// Columns read by [`event_row`], rowid first.
pub(crate) const EVENT_COLUMNS: &str =
    "id, event_id, time_ms, received_ms, source, origin, class_uid, host, src_ip, user, ocsf, raw";

/// Columns read by [`alert_row`], rowid first; `event_ids` are filled in separately.
pub(crate) const ALERT_COLUMNS: &str = "id, alert_id, rule_id, rule_title, level, tags, group_key, status, \
     first_seen_ms, last_seen_ms, count, host, src_ip, user, details";

/// Columns read by [`dead_letter_row`].
pub(crate) const DEAD_LETTER_COLUMNS: &str = "id, received_ms, origin, position, reason, message, decoder, raw";

/// (rowid, event).
pub(crate) fn event_row(row: &Row<'_>) -> rusqlite::Result<(i64, EventRow)> {
    let ocsf: String = row.get(10)?;
    Ok((
        row.get(0)?,
        EventRow {
            event_id: row.get(1)?,
            time_ms: row.get(2)?,
            received_ms: row.get(3)?,
            source: row.get(4)?,
            origin: row.get(5)?,
            class_uid: row.get(6)?,
            host: row.get(7)?,
            src_ip: row.get(8)?,
            user: row.get(9)?,
            ocsf: parse_json(ocsf),
            raw: row.get(11)?,
        },
    ))
}

/// (rowid, alert without its linked events).
pub(crate) fn alert_row(row: &Row<'_>) -> rusqlite::Result<(i64, AlertRow)> {
    let tags: String = row.get(5)?;
    let status: String = row.get(7)?;
    let details: String = row.get(14)?;
    Ok((
        row.get(0)?,
        AlertRow {
            alert_id: row.get(1)?,
            rule_id: row.get(2)?,
            rule_title: row.get(3)?,
            level: row.get(4)?,
            tags: serde_json::from_str(&tags).unwrap_or_default(),
            group_key: row.get(6)?,
            status: parse_status(&status),
            first_seen_ms: row.get(8)?,
            last_seen_ms: row.get(9)?,
            count: from_sql_count(row.get(10)?),
            host: row.get(11)?,
            src_ip: row.get(12)?,
            user: row.get(13)?,
            event_ids: Vec::new(),
            details: parse_json(details),
        },
    ))
}

pub(crate) fn dead_letter_row(row: &Row<'_>) -> rusqlite::Result<DeadLetterRow> {
    Ok(DeadLetterRow {
        id: row.get(0)?,
        received_ms: row.get(1)?,
        origin: row.get(2)?,
        position: from_sql_count(row.get(3)?),
        reason: row.get(4)?,
        message: row.get(5)?,
        decoder: row.get(6)?,
        raw: row.get(7)?,
    })
}

/// Fills in each alert's linked events, in link order.
pub(crate) fn attach_event_ids(conn: &Connection, alerts: &mut [AlertRow]) -> Result<(), StoreError> {
    if alerts.is_empty() {
        return Ok(());
    }
    let mut select = conn.prepare_cached("SELECT event_id FROM alert_events WHERE alert_id = ?1 ORDER BY rowid")?;
    for alert in alerts {
        alert.event_ids =
            select.query_map([&alert.alert_id], |row| row.get::<_, String>(0))?.collect::<Result<_, _>>()?;
    }
    Ok(())
}

/// Producers hand JSON text over unchecked (parsing it again on every write would cost
/// throughput); text that turns out not to be JSON comes back as a JSON string.
fn parse_json(text: String) -> serde_json::Value {
    match serde_json::from_str(&text) {
        Ok(value) => value,
        Err(_) => serde_json::Value::String(text),
    }
}

fn parse_status(text: &str) -> AlertStatus {
    match text {
        "acknowledged" => AlertStatus::Acknowledged,
        "closed" => AlertStatus::Closed,
        _ => AlertStatus::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_that_is_not_json_stays_text() {
        assert_eq!(parse_json("{\"a\":1}".into()), serde_json::json!({"a": 1}));
        assert_eq!(parse_json("{oops".into()), serde_json::Value::String("{oops".into()));
    }

    #[test]
    fn statuses_read_back() {
        for status in [AlertStatus::Open, AlertStatus::Acknowledged, AlertStatus::Closed] {
            assert_eq!(parse_status(status.as_str()), status);
        }
    }
}
