//! Dashboard statistics: totals, a histogram over a time range, and top lists.

use rusqlite::{params, Connection};

use crate::model::{Bucket, Stats, StatsQuery, TopEntry};
use crate::query::counts;
use crate::StoreError;

const DAY_MS: i64 = 24 * 60 * 60 * 1000;
const DEFAULT_BUCKET_MS: i64 = 60_000;
const MAX_BUCKETS: i64 = 1000;
const DEFAULT_TOP: u32 = 10;
const MAX_TOP: u32 = 100;

/// The histogram's range and bucket width once defaults and clamps are applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Histogram {
    pub from_ms: i64,
    pub to_ms: i64,
    pub bucket_ms: i64,
    pub buckets: usize,
}

/// Totals cover the whole store; buckets and top lists cover `[from_ms, to_ms)` (events by
/// `time_ms`; alerts by `first_seen_ms` in buckets, and alerts active in the range for
/// `top_rules`). One read transaction, so every number comes from the same snapshot.
pub(crate) fn stats(conn: &mut Connection, query: &StatsQuery, now_ms: i64) -> Result<Stats, StoreError> {
    let snapshot = conn.transaction()?;
    let (events, alerts, dead_letters) = counts(&snapshot)?;
    let newest_event_ms: Option<i64> = snapshot.query_row("SELECT max(time_ms) FROM events", [], |row| row.get(0))?;
    let histogram = histogram(query, newest_event_ms, now_ms)?;
    let top = i64::from(query.top.unwrap_or(DEFAULT_TOP).clamp(1, MAX_TOP));

    let mut buckets: Vec<Bucket> = (0..histogram.buckets)
        .map(|index| Bucket { start_ms: histogram.from_ms + index as i64 * histogram.bucket_ms, events: 0, alerts: 0 })
        .collect();
    for (index, n) in bucket_counts(&snapshot, "events", "time_ms", &histogram)? {
        buckets[index].events = n;
    }
    for (index, n) in bucket_counts(&snapshot, "alerts", "first_seen_ms", &histogram)? {
        buckets[index].alerts = n;
    }

    // total() rather than sum(): sum() fails on integer overflow, total() cannot.
    let top_rules = top_entries(
        &snapshot,
        "SELECT rule_title, CAST(total(count) AS INTEGER) AS n FROM alerts
         WHERE last_seen_ms >= ?1 AND first_seen_ms < ?2
         GROUP BY rule_title ORDER BY n DESC, rule_title LIMIT ?3",
        &histogram,
        top,
    )?;
    let top_hosts = top_entries(&snapshot, &top_events_sql("host"), &histogram, top)?;
    let top_src_ips = top_entries(&snapshot, &top_events_sql("src_ip"), &histogram, top)?;
    let top_users = top_entries(&snapshot, &top_events_sql("user"), &histogram, top)?;

    Ok(Stats { events, alerts, dead_letters, buckets, top_rules, top_hosts, top_src_ips, top_users })
}

/// Defaults: the 24 hours ending just after the newest event (or now, in an empty
/// store); one-minute buckets, widened until there are at most 1000.
pub(crate) fn histogram(
    query: &StatsQuery,
    newest_event_ms: Option<i64>,
    now_ms: i64,
) -> Result<Histogram, StoreError> {
    let to_ms = match (query.to_ms, query.from_ms) {
        (Some(to_ms), _) => to_ms,
        (None, from_ms) => {
            let to_ms = newest_event_ms.map_or(now_ms, |newest| newest.saturating_add(1));
            match from_ms {
                Some(from_ms) if to_ms <= from_ms => from_ms.saturating_add(DAY_MS),
                _ => to_ms,
            }
        }
    };
    let from_ms = query.from_ms.unwrap_or(to_ms.saturating_sub(DAY_MS));
    if from_ms >= to_ms {
        return Err(StoreError::InvalidQuery("from_ms must be before to_ms".to_string()));
    }
    let span_ms = to_ms.checked_sub(from_ms).ok_or_else(|| StoreError::InvalidQuery("time range too wide".into()))?;
    let narrowest_ms = div_ceil(span_ms, MAX_BUCKETS);
    let bucket_ms = query.bucket_ms.unwrap_or(DEFAULT_BUCKET_MS).max(narrowest_ms).max(1);
    let buckets = div_ceil(span_ms, bucket_ms);
    debug_assert!(buckets <= MAX_BUCKETS);
    Ok(Histogram { from_ms, to_ms, bucket_ms, buckets: buckets as usize })
}

/// `numerator / denominator` rounded up, for positive operands (`i64::div_ceil` is unstable).
fn div_ceil(numerator: i64, denominator: i64) -> i64 {
    numerator / denominator + i64::from(numerator % denominator != 0)
}

/// (bucket index, rows) for the non-empty buckets. `column - from_ms` cannot overflow:
/// the column lies in `[from_ms, to_ms)` and that span fits in an i64.
fn bucket_counts(
    conn: &Connection,
    table: &'static str,
    column: &'static str,
    histogram: &Histogram,
) -> Result<Vec<(usize, u64)>, StoreError> {
    let sql = format!(
        "SELECT ({column} - ?1) / ?2 AS bucket, count(*) FROM {table}
         WHERE {column} >= ?1 AND {column} < ?3 GROUP BY bucket"
    );
    let mut select = conn.prepare_cached(&sql)?;
    let rows = select.query_map(params![histogram.from_ms, histogram.bucket_ms, histogram.to_ms], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, i64>(1)?))
    })?;
    let mut counts = Vec::new();
    for row in rows {
        let (bucket, n) = row?;
        if let Ok(index) = usize::try_from(bucket) {
            if index < histogram.buckets {
                counts.push((index, u64::try_from(n).unwrap_or(0)));
            }
        }
    }
    Ok(counts)
}

fn top_events_sql(column: &'static str) -> String {
    format!(
        "SELECT {column}, count(*) AS n FROM events
         WHERE {column} IS NOT NULL AND time_ms >= ?1 AND time_ms < ?2
         GROUP BY {column} ORDER BY n DESC, {column} LIMIT ?3"
    )
}

fn top_entries(conn: &Connection, sql: &str, histogram: &Histogram, top: i64) -> Result<Vec<TopEntry>, StoreError> {
    let mut select = conn.prepare_cached(sql)?;
    let entries = select
        .query_map(params![histogram.from_ms, histogram.to_ms, top], |row| {
            Ok(TopEntry { value: row.get(0)?, count: u64::try_from(row.get::<_, i64>(1)?).unwrap_or(0) })
        })?
        .collect::<Result<_, _>>()?;
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(from_ms: Option<i64>, to_ms: Option<i64>, bucket_ms: Option<i64>) -> StatsQuery {
        StatsQuery { from_ms, to_ms, bucket_ms, top: None }
    }

    #[test]
    fn defaults_to_the_day_ending_at_the_newest_event() {
        let h = histogram(&query(None, None, None), Some(10 * DAY_MS), 0).unwrap();
        assert_eq!(h.to_ms, 10 * DAY_MS + 1);
        assert_eq!(h.from_ms, 9 * DAY_MS + 1);
        // 1440 one-minute buckets would be too many: widened to a thousandth of the day.
        assert_eq!(h.buckets, 1000);
        assert_eq!(h.bucket_ms, 86_400);
    }

    #[test]
    fn empty_store_ends_now() {
        let h = histogram(&query(None, None, Some(3_600_000)), None, 5 * DAY_MS).unwrap();
        assert_eq!((h.from_ms, h.to_ms, h.buckets), (4 * DAY_MS, 5 * DAY_MS, 24));
    }

    #[test]
    fn from_after_the_newest_event_still_gives_a_range() {
        let h = histogram(&query(Some(2 * DAY_MS), None, None), Some(DAY_MS), 0).unwrap();
        assert_eq!(h.to_ms, 3 * DAY_MS);
    }

    #[test]
    fn bad_ranges_are_invalid_queries() {
        assert!(matches!(histogram(&query(Some(5), Some(5), None), None, 0), Err(StoreError::InvalidQuery(_))));
        assert!(matches!(
            histogram(&query(Some(i64::MIN), Some(i64::MAX), None), None, 0),
            Err(StoreError::InvalidQuery(_))
        ));
    }

    #[test]
    fn bucket_width_is_at_least_one_and_buckets_at_most_a_thousand() {
        let narrow = histogram(&query(Some(0), Some(10), Some(-7)), None, 0).unwrap();
        assert_eq!((narrow.bucket_ms, narrow.buckets), (1, 10));
        let wide = histogram(&query(Some(0), Some(i64::MAX), Some(1)), None, 0).unwrap();
        assert!(wide.buckets <= 1000);
    }
}
