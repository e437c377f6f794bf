//! Reads: every filter, keyset paging, full-text search, hostile input.

mod common;

use common::*;
use proptest::prelude::*;
use vigil_store::{AlertChange, AlertQuery, EventQuery, NewEvent, Store, StoreError, WriteBatch};

/// 60 events whose attributes cycle with different periods, so every filter (and
/// every pair of filters) selects a different subset; some times are shared.
fn varied_events() -> Vec<NewEvent> {
    (0..60)
        .map(|i: i64| {
            let mut e = event(&format!("v-{i}"), 1_000 + (i / 2) * 10);
            e.class_uid = if i % 5 == 0 { None } else { Some(1000 + (i % 3) as i32) };
            e.source = ["syslog", "tetragon"][(i % 2) as usize].to_string();
            e.host = if i % 7 == 0 { None } else { Some(format!("host-{}", i % 4)) };
            e.src_ip = if i % 6 == 0 { None } else { Some(format!("10.0.0.{}", i % 5)) };
            e.user = if i % 4 == 0 { None } else { Some(["alice", "bob", "carol"][(i % 3) as usize].to_string()) };
            e.raw = format!("record {i} {}", if i % 9 == 0 { "needle" } else { "hay" });
            e
        })
        .collect()
}

/// Newest first as the store orders them: time descending, then insertion descending.
fn expected_ids(events: &[NewEvent], keep: impl Fn(&NewEvent) -> bool) -> Vec<String> {
    let mut kept: Vec<(usize, &NewEvent)> = events.iter().enumerate().filter(|(_, e)| keep(e)).collect();
    kept.sort_by(|(ia, a), (ib, b)| b.time_ms.cmp(&a.time_ms).then(ib.cmp(ia)));
    kept.into_iter().map(|(_, e)| e.event_id.clone()).collect()
}

fn all_pages(store: &Store, query: &EventQuery) -> Vec<String> {
    let mut ids = Vec::new();
    let mut query = query.clone();
    loop {
        let page = store.events(&query).unwrap();
        ids.extend(page.items.into_iter().map(|e| e.event_id));
        match page.next {
            Some(next) => query.cursor = Some(next),
            None => return ids,
        }
    }
}

#[test]
fn every_event_filter_selects_what_it_says() {
    let (_dir, store) = open();
    let events = varied_events();
    store.write_batch(&events_batch(events.clone())).unwrap();

    type Keep = Box<dyn Fn(&NewEvent) -> bool>;
    let cases: Vec<(EventQuery, Keep)> = vec![
        (EventQuery::default(), Box::new(|_| true)),
        (EventQuery { from_ms: Some(1_100), ..Default::default() }, Box::new(|e| e.time_ms >= 1_100)),
        (EventQuery { to_ms: Some(1_100), ..Default::default() }, Box::new(|e| e.time_ms < 1_100)),
        (
            EventQuery { from_ms: Some(1_050), to_ms: Some(1_200), ..Default::default() },
            Box::new(|e| (1_050..1_200).contains(&e.time_ms)),
        ),
        (EventQuery { class_uid: Some(1001), ..Default::default() }, Box::new(|e| e.class_uid == Some(1001))),
        (EventQuery { source: Some("tetragon".into()), ..Default::default() }, Box::new(|e| e.source == "tetragon")),
        (
            EventQuery { host: Some("host-2".into()), ..Default::default() },
            Box::new(|e| e.host.as_deref() == Some("host-2")),
        ),
        (
            EventQuery { src_ip: Some("10.0.0.3".into()), ..Default::default() },
            Box::new(|e| e.src_ip.as_deref() == Some("10.0.0.3")),
        ),
        (EventQuery { user: Some("bob".into()), ..Default::default() }, Box::new(|e| e.user.as_deref() == Some("bob"))),
        (EventQuery { q: Some("needle".into()), ..Default::default() }, Box::new(|e| e.raw.contains("needle"))),
        (
            EventQuery {
                from_ms: Some(1_020),
                source: Some("syslog".into()),
                user: Some("carol".into()),
                host: Some("host-0".into()),
                ..Default::default()
            },
            Box::new(|e| {
                e.time_ms >= 1_020
                    && e.source == "syslog"
                    && e.user.as_deref() == Some("carol")
                    && e.host.as_deref() == Some("host-0")
            }),
        ),
        (
            EventQuery { q: Some("hay".into()), src_ip: Some("10.0.0.1".into()), ..Default::default() },
            Box::new(|e| e.raw.contains("hay") && e.src_ip.as_deref() == Some("10.0.0.1")),
        ),
        (EventQuery { host: Some("nowhere".into()), ..Default::default() }, Box::new(|_| false)),
    ];
    for (query, keep) in cases {
        let expected = expected_ids(&events, keep);
        assert!(expected.len() < events.len() || query == EventQuery::default(), "{query:?} selects something");
        let first_page = store.events(&query).unwrap();
        assert_eq!(first_page.items.iter().map(|e| e.event_id.clone()).collect::<Vec<_>>(), expected, "{query:?}");
        assert_eq!(first_page.next, None);
        let paged = all_pages(&store, &EventQuery { limit: Some(4), ..query.clone() });
        assert_eq!(paged, expected, "{query:?} in pages of 4");
    }
}

#[test]
fn limits_are_clamped() {
    let (_dir, store) = open();
    store.write_batch(&events_batch(events("e", 1_100, 0))).unwrap();
    let page = |limit| store.events(&EventQuery { limit, ..Default::default() }).unwrap();
    assert_eq!(page(None).items.len(), 100);
    assert_eq!(page(Some(0)).items.len(), 1);
    assert_eq!(page(Some(5_000)).items.len(), 1_000);
    assert!(page(Some(5_000)).next.is_some());
    assert_eq!(page(Some(1_100)).items.len(), 1_000);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Keyset paging visits every row exactly once, in order, even with many equal times.
    #[test]
    fn paging_visits_every_row_once(
        times in proptest::collection::vec(0i64..15, 0..80),
        limit in 1u32..9,
        batch_size in 1usize..30,
    ) {
        let (_dir, store) = open();
        let events: Vec<NewEvent> = times.iter().enumerate().map(|(i, t)| event(&format!("p-{i}"), *t)).collect();
        for chunk in events.chunks(batch_size) {
            store.write_batch(&events_batch(chunk.to_vec())).unwrap();
        }
        let paged = all_pages(&store, &EventQuery { limit: Some(limit), ..Default::default() });
        prop_assert_eq!(paged, expected_ids(&events, |_| true));
        let ranged = all_pages(&store, &EventQuery { limit: Some(limit), from_ms: Some(3), to_ms: Some(11), ..Default::default() });
        prop_assert_eq!(ranged, expected_ids(&events, |e| (3..11).contains(&e.time_ms)));
    }

    /// Whatever the search box holds, the answer is rows or a 400, never a 500 or a panic.
    #[test]
    fn hostile_full_text_queries_are_rows_or_invalid(q in "\\PC{0,60}") {
        let (_dir, store) = open();
        store.write_batch(&events_batch(events("h", 5, 0))).unwrap();
        match store.events(&EventQuery { q: Some(q.clone()), ..Default::default() }) {
            Ok(_) | Err(StoreError::InvalidQuery(_)) => {}
            Err(other) => prop_assert!(false, "{:?} gave {:?}", q, other),
        }
    }

    #[test]
    fn hostile_query_syntax_characters(q in "[\"()*:^+\\-{}NEAROTD ,a-c0-2]{0,40}") {
        let (_dir, store) = open();
        store.write_batch(&events_batch(events("h", 5, 0))).unwrap();
        match store.events(&EventQuery { q: Some(q.clone()), ..Default::default() }) {
            Ok(_) | Err(StoreError::InvalidQuery(_)) => {}
            Err(other) => prop_assert!(false, "{:?} gave {:?}", q, other),
        }
    }
}

#[test]
fn malformed_cursors_are_invalid_queries() {
    let (_dir, store) = open();
    store.write_batch(&events_batch(events("e", 3, 0))).unwrap();
    for cursor in ["", "not-a-cursor", "00", &"0".repeat(31), &"x".repeat(32), "ééééééééééééééééé"] {
        let events = store.events(&EventQuery { cursor: Some(cursor.to_string()), ..Default::default() });
        assert!(matches!(events, Err(StoreError::InvalidQuery(_))), "events {cursor:?}: {events:?}");
        let alerts = store.alerts(&AlertQuery { cursor: Some(cursor.to_string()), ..Default::default() });
        assert!(matches!(alerts, Err(StoreError::InvalidQuery(_))), "alerts {cursor:?}");
        let letters = store.dead_letters(Some(cursor), None);
        assert!(matches!(letters, Err(StoreError::InvalidQuery(_))), "dead letters {cursor:?}");
    }
    // Well-formed but made up: simply a position, so an answer.
    let forged = "7fffffffffffffff8000000000000000";
    assert!(store.events(&EventQuery { cursor: Some(forged.into()), ..Default::default() }).is_ok());
}

#[test]
fn bad_full_text_queries_are_invalid_queries() {
    let (_dir, store) = open();
    store.write_batch(&events_batch(events("e", 3, 0))).unwrap();
    let too_long = "a ".repeat(2_000);
    let deeply_nested = format!("{}a{}", "(".repeat(900), ")".repeat(900));
    for q in ["\"unterminated", "AND", "foo:bar", "(", "NEAR(", "a OR", "*", "10.0.0.1", &too_long, &deeply_nested] {
        let result = store.events(&EventQuery { q: Some(q.to_string()), ..Default::default() });
        assert!(matches!(result, Err(StoreError::InvalidQuery(_))), "{q:.40}: {result:?}");
    }
}

#[test]
fn full_text_search_finds_words_and_phrases() {
    let (_dir, store) = open();
    let mut events = events("e", 4, 0);
    events[1].raw = "Accepted publickey for deploy from 192.168.7.9 port 50514".to_string();
    events[2].raw = "CRON[811]: pam_unix(cron:session): session opened for user deploy".to_string();
    store.write_batch(&events_batch(events)).unwrap();
    let ids = |q: &str| -> Vec<String> {
        let page = store.events(&EventQuery { q: Some(q.to_string()), ..Default::default() }).unwrap();
        page.items.into_iter().map(|e| e.event_id).collect()
    };
    assert_eq!(ids("publickey"), ["e-1"]);
    assert_eq!(ids("DEPLOY"), ["e-2", "e-1"], "case-insensitive, newest first");
    assert_eq!(ids("\"192.168.7.9\""), ["e-1"]);
    assert_eq!(ids("pam_unix AND session"), ["e-2"]);
    assert_eq!(ids("sess*"), ["e-2"]);
    assert_eq!(ids("deploy NOT cron"), ["e-1"]);
    assert!(ids("absent").is_empty());
    assert_eq!(ids("   ").len(), 4, "a blank search box filters nothing");
}

#[test]
fn alerts_filter_and_page_by_last_seen() {
    let (_dir, store) = open();
    let mut changes = Vec::new();
    for i in 0..30i64 {
        let mut alert = new_alert(&format!("a-{i}"), 1_000 + i * 100, &[]);
        alert.last_seen_ms = alert.first_seen_ms + (i % 4) * 50;
        alert.rule_id = format!("rule-{}", i % 3);
        alert.level = ["low", "high"][(i % 2) as usize].to_string();
        alert.host = if i % 5 == 0 { None } else { Some(format!("h-{}", i % 2)) };
        changes.push(AlertChange::New(alert));
    }
    store.write_batch(&WriteBatch { alerts: changes.clone(), ..Default::default() }).unwrap();
    let written: Vec<_> = changes
        .iter()
        .map(|c| match c {
            AlertChange::New(a) => a.clone(),
            AlertChange::Repeat { .. } => unreachable!(),
        })
        .collect();

    let ids_of = |query: &AlertQuery| -> Vec<String> {
        let mut query = query.clone();
        let mut ids = Vec::new();
        loop {
            let page = store.alerts(&query).unwrap();
            ids.extend(page.items.into_iter().map(|a| a.alert_id));
            match page.next {
                Some(next) => query.cursor = Some(next),
                None => return ids,
            }
        }
    };
    let expected = |keep: &dyn Fn(&vigil_store::NewAlert) -> bool| -> Vec<String> {
        let mut kept: Vec<(usize, &vigil_store::NewAlert)> =
            written.iter().enumerate().filter(|(_, a)| keep(a)).collect();
        kept.sort_by(|(ia, a), (ib, b)| b.last_seen_ms.cmp(&a.last_seen_ms).then(ib.cmp(ia)));
        kept.into_iter().map(|(_, a)| a.alert_id.clone()).collect()
    };

    let base = AlertQuery { limit: Some(4), ..Default::default() };
    assert_eq!(ids_of(&base), expected(&|_| true));
    let q = AlertQuery { rule_id: Some("rule-1".into()), ..base.clone() };
    assert_eq!(ids_of(&q), expected(&|a| a.rule_id == "rule-1"));
    let q = AlertQuery { level: Some("high".into()), ..base.clone() };
    assert_eq!(ids_of(&q), expected(&|a| a.level == "high"));
    let q = AlertQuery { host: Some("h-0".into()), ..base.clone() };
    assert_eq!(ids_of(&q), expected(&|a| a.host.as_deref() == Some("h-0")));
    let q = AlertQuery { from_ms: Some(2_000), to_ms: Some(3_000), ..base.clone() };
    assert_eq!(ids_of(&q), expected(&|a| a.last_seen_ms >= 2_000 && a.first_seen_ms < 3_000));
}

#[test]
fn dead_letters_page_newest_first() {
    let (_dir, store) = open();
    let letters: Vec<_> = (0..25).map(|i| dead_letter(100 + (i % 10), i as u64)).collect();
    store.write_batch(&WriteBatch { dead_letters: letters.clone(), ..Default::default() }).unwrap();
    let mut positions = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store.dead_letters(cursor.as_deref(), Some(7)).unwrap();
        assert!(page.items.len() <= 7);
        positions.extend(page.items.iter().map(|l| l.position));
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let mut expected: Vec<(i64, u64)> = letters.iter().map(|l| (l.received_ms, l.position)).collect();
    expected.sort_by(|a, b| b.cmp(a));
    assert_eq!(positions, expected.into_iter().map(|(_, p)| p).collect::<Vec<_>>());
}

#[test]
fn scans_run_oldest_first_in_chunks() {
    let (_dir, store) = open();
    let mut events = events("s", 50, 0);
    for (i, e) in events.iter_mut().enumerate() {
        e.time_ms = 1_000 - (i as i64 / 3); // inserted newest first, with ties
    }
    store.write_batch(&events_batch(events.clone())).unwrap();

    let mut chunks = Vec::new();
    let delivered = store.scan_events(Some(990), Some(1_000), 4, &mut |chunk| {
        chunks.push(chunk.into_iter().map(|e| e.event_id).collect::<Vec<_>>());
        true
    });
    let mut expected: Vec<(usize, &NewEvent)> =
        events.iter().enumerate().filter(|(_, e)| (990..1_000).contains(&e.time_ms)).collect();
    expected.sort_by(|(ia, a), (ib, b)| a.time_ms.cmp(&b.time_ms).then(ia.cmp(ib)));
    let expected: Vec<String> = expected.into_iter().map(|(_, e)| e.event_id.clone()).collect();
    assert_eq!(delivered.unwrap(), expected.len() as u64);
    assert!(chunks.iter().all(|c| c.len() <= 4 && !c.is_empty()));
    assert_eq!(chunks.concat(), expected);

    let mut seen = 0;
    let stopped = store.scan_events(None, None, 10, &mut |chunk| {
        seen += chunk.len();
        false
    });
    assert_eq!((stopped.unwrap(), seen), (10, 10), "stops when asked");
    assert_eq!(store.scan_events(None, None, 0, &mut |_| true).unwrap(), 50, "a zero chunk still makes progress");
}
