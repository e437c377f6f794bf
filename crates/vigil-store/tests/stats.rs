//! Dashboard statistics, checked against numbers computed here from what was written.

mod common;

use std::collections::HashMap;

use common::*;
use vigil_store::{AlertChange, NewAlert, NewEvent, StatsQuery, StoreError, TopEntry, WriteBatch};

fn scenario() -> (Vec<NewEvent>, Vec<NewAlert>) {
    let events = (0..200i64)
        .map(|i| {
            let mut e = event(&format!("e-{i}"), 10_000 + (i * 37) % 5_000);
            e.host = if i % 9 == 0 { None } else { Some(format!("host-{}", (i * i) % 7)) };
            e.src_ip = if i % 4 == 0 { None } else { Some(format!("10.0.0.{}", i % 11)) };
            e.user = if i % 3 == 0 { None } else { Some(format!("user-{}", i % 5)) };
            e
        })
        .collect();
    let alerts = (0..40i64)
        .map(|i| {
            let mut a = new_alert(&format!("a-{i}"), 9_000 + i * 200, &[]);
            a.last_seen_ms = a.first_seen_ms + (i % 3) * 1_000;
            a.rule_title = format!("rule {}", i % 6);
            a.count = (i % 5 + 1) as u64;
            a
        })
        .collect();
    (events, alerts)
}

fn tops<'a>(values: impl Iterator<Item = (&'a str, u64)>, n: usize) -> Vec<TopEntry> {
    let mut counts: HashMap<&str, u64> = HashMap::new();
    for (value, count) in values {
        *counts.entry(value).or_default() += count;
    }
    let mut entries: Vec<TopEntry> =
        counts.into_iter().map(|(value, count)| TopEntry { value: value.into(), count }).collect();
    entries.sort_by(|a, b| b.count.cmp(&a.count).then(a.value.cmp(&b.value)));
    entries.truncate(n);
    entries
}

#[test]
fn buckets_and_tops_match_an_independent_count() {
    let (_dir, store) = open();
    let (events, alerts) = scenario();
    store
        .write_batch(&WriteBatch {
            events: events.clone(),
            alerts: alerts.iter().cloned().map(AlertChange::New).collect(),
            dead_letters: vec![dead_letter(1, 1), dead_letter(2, 2)],
            ..Default::default()
        })
        .unwrap();

    let (from_ms, to_ms, bucket_ms) = (11_000i64, 14_000i64, 700i64);
    let stats = store
        .stats(&StatsQuery { from_ms: Some(from_ms), to_ms: Some(to_ms), bucket_ms: Some(bucket_ms), top: Some(3) })
        .unwrap();
    assert_eq!((stats.events, stats.alerts, stats.dead_letters), (200, 40, 2));

    let starts: Vec<i64> = stats.buckets.iter().map(|b| b.start_ms).collect();
    assert_eq!(starts, [11_000, 11_700, 12_400, 13_100, 13_800]);
    for bucket in &stats.buckets {
        let end = (bucket.start_ms + bucket_ms).min(to_ms);
        let in_bucket = |t: i64| t >= bucket.start_ms && t < end;
        assert_eq!(bucket.events, events.iter().filter(|e| in_bucket(e.time_ms)).count() as u64, "{bucket:?}");
        assert_eq!(bucket.alerts, alerts.iter().filter(|a| in_bucket(a.first_seen_ms)).count() as u64, "{bucket:?}");
    }
    assert!(stats.buckets.iter().map(|b| b.events).sum::<u64>() > 0);

    let in_range: Vec<&NewEvent> = events.iter().filter(|e| e.time_ms >= from_ms && e.time_ms < to_ms).collect();
    assert_eq!(stats.top_hosts, tops(in_range.iter().filter_map(|e| e.host.as_deref()).map(|h| (h, 1)), 3));
    assert_eq!(stats.top_src_ips, tops(in_range.iter().filter_map(|e| e.src_ip.as_deref()).map(|h| (h, 1)), 3));
    assert_eq!(stats.top_users, tops(in_range.iter().filter_map(|e| e.user.as_deref()).map(|h| (h, 1)), 3));
    let active = alerts.iter().filter(|a| a.last_seen_ms >= from_ms && a.first_seen_ms < to_ms);
    assert_eq!(stats.top_rules, tops(active.map(|a| (a.rule_title.as_str(), a.count)), 3));
    assert_eq!(stats.top_hosts.len(), 3);
}

#[test]
fn default_range_is_the_day_ending_at_the_newest_event() {
    let (_dir, store) = open();
    let day = 24 * 60 * 60 * 1000i64;
    let newest = 50 * day;
    let times = [newest - 2 * day, newest - day, newest - day + 1, newest - 60_000, newest];
    let events: Vec<NewEvent> = times.iter().enumerate().map(|(i, t)| event(&format!("e-{i}"), *t)).collect();
    store.write_batch(&events_batch(events)).unwrap();

    let stats = store.stats(&StatsQuery::default()).unwrap();
    assert!(stats.buckets.len() <= 1000);
    assert_eq!(stats.buckets.first().unwrap().start_ms, newest + 1 - day);
    let width = stats.buckets[1].start_ms - stats.buckets[0].start_ms;
    assert!(stats.buckets.last().unwrap().start_ms + width > newest);
    // The event exactly a day before `newest` falls just outside [newest + 1 - day, newest + 1).
    assert_eq!(stats.buckets.iter().map(|b| b.events).sum::<u64>(), 3);
    assert_eq!(stats.top_hosts, vec![TopEntry { value: "web-1".into(), count: 3 }]);
}

#[test]
fn an_empty_store_has_empty_stats() {
    let (_dir, store) = open();
    let stats = store.stats(&StatsQuery::default()).unwrap();
    assert_eq!((stats.events, stats.alerts, stats.dead_letters), (0, 0, 0));
    assert!(!stats.buckets.is_empty() && stats.buckets.iter().all(|b| b.events == 0 && b.alerts == 0));
    assert!(stats.top_rules.is_empty() && stats.top_hosts.is_empty());
}

#[test]
fn inverted_ranges_are_invalid_queries() {
    let (_dir, store) = open();
    let stats = store.stats(&StatsQuery { from_ms: Some(10), to_ms: Some(5), ..Default::default() });
    assert!(matches!(stats, Err(StoreError::InvalidQuery(_))));
}
