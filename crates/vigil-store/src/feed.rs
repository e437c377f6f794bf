//! Reads in insertion order for feeds (TAXII collections, the seed endpoints
//! `GET /tetragon` / `GET /kubescape`): keyset paging on the row id, filters on the
//! Kubernetes context carried in the OCSF object.
//!
//! Feeds page on the rowid because it only grows: a row inserted while a client pages is
//! after every position handed out so far, so a client following its positions sees
//! every row exactly once, whatever the rows' own timestamps say.

use rusqlite::types::Value;
use rusqlite::{params, params_from_iter};

use crate::model::{AlertRow, EventRow};
use crate::rows::{alert_row, attach_event_ids, event_row, ALERT_COLUMNS, EVENT_COLUMNS};
use crate::{Store, StoreError};

/// Most rows one feed read returns, whatever the caller asks for.
pub(crate) const MAX_FEED_ROWS: usize = 10_000;

/// Most event ids [`Store::alerts_linked_to`] looks up at once.
pub(crate) const MAX_LINKED_LOOKUP: usize = 10_000;

/// Most alerts [`Store::alerts_linked_to`] returns.
const MAX_LINKED_ALERTS: i64 = 10_000;

fn feed_limit(limit: usize) -> i64 {
    limit.clamp(1, MAX_FEED_ROWS) as i64
}

impl Store {
    /// Events after rowid `after_row`, in insertion order, as (rowid, event). With
    /// `received_after_ms`, only events received after that time.
    pub fn feed_events(
        &self,
        after_row: i64,
        received_after_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, EventRow)>, StoreError> {
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events
             WHERE id > ?1 AND (?2 IS NULL OR received_ms > ?2)
             ORDER BY id LIMIT ?3"
        );
        let conn = self.readers.get()?;
        let rows = conn
            .prepare_cached(&sql)?
            .query_map(params![after_row, received_after_ms, feed_limit(limit)], event_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Alerts (with their linked events) after rowid `after_row`, in insertion order, as
    /// (rowid, alert). With `first_seen_after_ms`, only alerts first seen after that time.
    pub fn feed_alerts(
        &self,
        after_row: i64,
        first_seen_after_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, AlertRow)>, StoreError> {
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts
             WHERE id > ?1 AND (?2 IS NULL OR first_seen_ms > ?2)
             ORDER BY id LIMIT ?3"
        );
        self.alerts_with_links(&sql, params![after_row, first_seen_after_ms, feed_limit(limit)])
    }

    /// The first stored alert of each rule, for rules whose first alert comes after rowid
    /// `after_row`, in insertion order, as (rowid, alert): one row per rule that has
    /// alerts. With `first_seen_after_ms`, only rules whose first alert was first seen
    /// after that time.
    pub fn feed_rule_first_alerts(
        &self,
        after_row: i64,
        first_seen_after_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<(i64, AlertRow)>, StoreError> {
        // `alerts_rule_last_seen` covers (rule_id, rowid), so the grouping reads the index only.
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts
             WHERE id IN (SELECT min(id) FROM alerts GROUP BY rule_id)
               AND id > ?1 AND (?2 IS NULL OR first_seen_ms > ?2)
             ORDER BY id LIMIT ?3"
        );
        self.alerts_with_links(&sql, params![after_row, first_seen_after_ms, feed_limit(limit)])
    }

    /// For each of `rule_ids`, the rowid of its first stored alert (rules without alerts
    /// are left out).
    pub fn first_alert_rows(&self, rule_ids: &[String]) -> Result<Vec<(String, i64)>, StoreError> {
        if rule_ids.is_empty() {
            return Ok(Vec::new());
        }
        if rule_ids.len() > MAX_LINKED_LOOKUP {
            return Err(StoreError::InvalidQuery(format!("more than {MAX_LINKED_LOOKUP} rule ids")));
        }
        let ids = serde_json::to_string(rule_ids).map_err(|err| StoreError::InvalidQuery(err.to_string()))?;
        let conn = self.readers.get()?;
        let rows = conn
            .prepare_cached(
                "SELECT rule_id, min(id) FROM alerts WHERE rule_id IN (SELECT value FROM json_each(?1)) GROUP BY rule_id",
            )?
            .query_map([ids], |row| Ok((row.get(0)?, row.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Events of one `source`, newest first (`time_ms`, then insertion order), optionally
    /// only those at or after `since_ms` and those whose Kubernetes context
    /// (`unmapped.k8s.pod` / `unmapped.k8s.namespace` in the OCSF object) matches.
    pub fn source_events(
        &self,
        source: &str,
        pod: Option<&str>,
        namespace: Option<&str>,
        since_ms: Option<i64>,
        limit: usize,
    ) -> Result<Vec<EventRow>, StoreError> {
        let mut clauses = vec!["source = ?"];
        let mut values = vec![Value::Text(source.to_owned())];
        if let Some(since_ms) = since_ms {
            clauses.push("time_ms >= ?");
            values.push(Value::Integer(since_ms));
        }
        // `json_valid` first: the OCSF text is stored unchecked, and json_extract over text
        // that is not JSON is an error, which must not turn one bad row into a failed read.
        if let Some(pod) = pod {
            clauses.push("(CASE WHEN json_valid(ocsf) THEN json_extract(ocsf, '$.unmapped.k8s.pod') END) = ?");
            values.push(Value::Text(pod.to_owned()));
        }
        if let Some(namespace) = namespace {
            clauses.push("(CASE WHEN json_valid(ocsf) THEN json_extract(ocsf, '$.unmapped.k8s.namespace') END) = ?");
            values.push(Value::Text(namespace.to_owned()));
        }
        values.push(Value::Integer(feed_limit(limit)));
        let sql = format!(
            "SELECT {EVENT_COLUMNS} FROM events WHERE {} ORDER BY time_ms DESC, id DESC LIMIT ?",
            clauses.join(" AND ")
        );
        let conn = self.readers.get()?;
        let rows = conn
            .prepare_cached(&sql)?
            .query_map(params_from_iter(values.iter()), event_row)?
            .map(|row| row.map(|(_, event)| event))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(rows)
    }

    /// Alerts linked to any of `event_ids` (at most [`MAX_LINKED_LOOKUP`] ids), in
    /// insertion order, with their linked events.
    pub fn alerts_linked_to(&self, event_ids: &[String]) -> Result<Vec<AlertRow>, StoreError> {
        if event_ids.is_empty() {
            return Ok(Vec::new());
        }
        if event_ids.len() > MAX_LINKED_LOOKUP {
            return Err(StoreError::InvalidQuery(format!("more than {MAX_LINKED_LOOKUP} event ids")));
        }
        // One bound JSON array rather than a statement per id count.
        let ids = serde_json::to_string(event_ids).map_err(|err| StoreError::InvalidQuery(err.to_string()))?;
        let sql = format!(
            "SELECT {ALERT_COLUMNS} FROM alerts
             WHERE alert_id IN (SELECT alert_id FROM alert_events
                                WHERE event_id IN (SELECT value FROM json_each(?1)))
             ORDER BY id LIMIT ?2"
        );
        let alerts = self.alerts_with_links(&sql, params![ids, MAX_LINKED_ALERTS])?;
        Ok(alerts.into_iter().map(|(_, alert)| alert).collect())
    }

    fn alerts_with_links(&self, sql: &str, params: impl rusqlite::Params) -> Result<Vec<(i64, AlertRow)>, StoreError> {
        let conn = self.readers.get()?;
        let rows = conn.prepare_cached(sql)?.query_map(params, alert_row)?.collect::<Result<Vec<_>, _>>()?;
        let (row_ids, mut alerts): (Vec<i64>, Vec<AlertRow>) = rows.into_iter().unzip();
        attach_event_ids(&conn, &mut alerts)?;
        Ok(row_ids.into_iter().zip(alerts).collect())
    }
}

#[cfg(test)]
mod tests {
    use crate::model::{AlertChange, NewAlert, NewEvent, WriteBatch};
    use crate::{Store, StoreOptions};

    fn event(i: i64, source: &str, ocsf: &str) -> NewEvent {
        NewEvent {
            event_id: format!("event-{i}"),
            // Event time runs backwards, so insertion order and time order disagree.
            time_ms: 1_000_000 - i * 1000,
            received_ms: 5_000 + i,
            source: source.to_owned(),
            origin: "test".to_owned(),
            class_uid: None,
            host: None,
            src_ip: None,
            user: None,
            ocsf: ocsf.to_owned(),
            raw: format!("{{\"n\":{i}}}"),
        }
    }

    fn alert(i: i64, rule: &str, events: &[i64]) -> AlertChange {
        AlertChange::New(NewAlert {
            alert_id: format!("alert-{i}"),
            rule_id: rule.to_owned(),
            rule_title: rule.to_owned(),
            level: "high".to_owned(),
            tags: Vec::new(),
            group_key: String::new(),
            first_seen_ms: 100 + i,
            last_seen_ms: 200 + i,
            count: 1,
            host: None,
            src_ip: None,
            user: None,
            event_ids: events.iter().map(|e| format!("event-{e}")).collect(),
            details: "{}".to_owned(),
        })
    }

    fn k8s(pod: &str, namespace: &str) -> String {
        format!(r#"{{"unmapped":{{"k8s":{{"pod":"{pod}","namespace":"{namespace}"}}}}}}"#)
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let events = vec![
            event(0, "tetragon", &k8s("web-1", "prod")),
            event(1, "tetragon", &k8s("web-2", "prod")),
            event(2, "kubescape", &k8s("web-1", "prod")),
            event(3, "tetragon", "not json at all"),
            event(4, "tetragon", &k8s("db-1", "data")),
        ];
        let alerts = vec![alert(0, "rule-a", &[0]), alert(1, "rule-b", &[1, 2]), alert(2, "rule-a", &[4])];
        store.write_batch(&WriteBatch { events, alerts, ..WriteBatch::default() }).unwrap();
        (dir, store)
    }

    fn event_ids(rows: &[(i64, crate::EventRow)]) -> Vec<&str> {
        rows.iter().map(|(_, e)| e.event_id.as_str()).collect()
    }

    #[test]
    fn events_page_in_insertion_order_and_resume_after_the_last_row() {
        let (_dir, store) = store();
        let first = store.feed_events(0, None, 2).unwrap();
        assert_eq!(event_ids(&first), ["event-0", "event-1"]);
        let rest = store.feed_events(first[1].0, None, 10).unwrap();
        assert_eq!(event_ids(&rest), ["event-2", "event-3", "event-4"]);
        let received_late = store.feed_events(0, Some(5_002), 10).unwrap();
        assert_eq!(event_ids(&received_late), ["event-3", "event-4"]);
    }

    #[test]
    fn one_first_alert_per_rule() {
        let (_dir, store) = store();
        let firsts = store.feed_rule_first_alerts(0, None, 10).unwrap();
        let ids: Vec<_> = firsts.iter().map(|(_, a)| a.alert_id.as_str()).collect();
        assert_eq!(ids, ["alert-0", "alert-1"]);
        assert_eq!(firsts[1].1.event_ids, ["event-1", "event-2"]);
        let after_first = store.feed_rule_first_alerts(firsts[0].0, None, 10).unwrap();
        assert_eq!(after_first.len(), 1);
        let all = store.feed_alerts(0, Some(100), 10).unwrap();
        assert_eq!(all.iter().map(|(_, a)| a.alert_id.as_str()).collect::<Vec<_>>(), ["alert-1", "alert-2"]);
        let mut first_rows = store.first_alert_rows(&["rule-a".to_owned(), "rule-z".to_owned()]).unwrap();
        first_rows.sort();
        assert_eq!(first_rows, [("rule-a".to_owned(), firsts[0].0)]);
    }

    #[test]
    fn source_events_filter_on_kubernetes_context_and_survive_bad_ocsf() {
        let (_dir, store) = store();
        let names = |rows: Vec<crate::EventRow>| rows.into_iter().map(|e| e.event_id).collect::<Vec<_>>();
        // Newest event time first.
        assert_eq!(
            names(store.source_events("tetragon", None, None, None, 10).unwrap()),
            ["event-0", "event-1", "event-3", "event-4"]
        );
        assert_eq!(names(store.source_events("tetragon", Some("web-1"), None, None, 10).unwrap()), ["event-0"]);
        assert_eq!(
            names(store.source_events("tetragon", None, Some("prod"), None, 10).unwrap()),
            ["event-0", "event-1"]
        );
        assert_eq!(
            names(store.source_events("tetragon", None, None, Some(1_000_000 - 3000), 10).unwrap()),
            ["event-0", "event-1", "event-3"]
        );
        assert_eq!(names(store.source_events("kubescape", Some("web-1"), Some("prod"), None, 1).unwrap()), ["event-2"]);
    }

    #[test]
    fn linked_alerts_are_found_from_their_events() {
        let (_dir, store) = store();
        let found = store.alerts_linked_to(&["event-2".to_owned(), "event-4".to_owned()]).unwrap();
        assert_eq!(found.iter().map(|a| a.alert_id.as_str()).collect::<Vec<_>>(), ["alert-1", "alert-2"]);
        assert!(store.alerts_linked_to(&["event-3".to_owned()]).unwrap().is_empty());
        assert!(store.alerts_linked_to(&[]).unwrap().is_empty());
    }
}
