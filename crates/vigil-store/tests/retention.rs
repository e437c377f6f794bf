//! Retention by age and by size, and the full-text index kept in step with it.

mod common;

use common::*;
use vigil_store::{AlertChange, EventQuery, NewEvent, Retention, Store, WriteBatch};

fn padded(prefix: &str, n: usize, start_ms: i64) -> Vec<NewEvent> {
    let mut events = events(prefix, n, start_ms);
    for e in &mut events {
        e.raw = format!("{} {}", e.raw, "lorem ipsum dolor sit amet consectetur ".repeat(12));
    }
    events
}

fn fill(store: &Store, batches: i64) {
    for batch in 0..batches {
        store.write_batch(&events_batch(padded(&format!("b{batch}"), 1_000, batch * 1_000))).unwrap();
    }
    // A search indexes whatever the background indexer has not reached, so sizes and
    // full-text row counts below do not depend on its timing.
    store.events(&EventQuery { q: Some("lorem".into()), ..Default::default() }).unwrap();
}

#[test]
fn old_events_and_dead_letters_go() {
    let (dir, store) = open();
    let batch = WriteBatch {
        events: events("e", 12_000, 0),
        alerts: vec![AlertChange::New(new_alert("a-1", 0, &["e-0", "e-1"]))],
        dead_letters: (0..20).map(|i| dead_letter(i * 100, i as u64)).collect(),
        ..Default::default()
    };
    store.write_batch(&batch).unwrap();
    // A search indexes every event first, so the deletes below remove full-text rows too.
    assert_eq!(store.events(&EventQuery { q: Some("\"e-5\"".into()), ..Default::default() }).unwrap().items.len(), 1);

    let report = store.apply_retention(&Retention { max_age_ms: Some(4_000), max_bytes: None }, 15_000).unwrap();
    // Cutoff 11_000: events at 0..11_000 and dead letters received before it go (over
    // several delete transactions).
    assert_eq!((report.events_deleted, report.dead_letters_deleted), (11_000, 20));
    assert_eq!(report.bytes_after, store.size_bytes().unwrap());
    assert_eq!(store.counts().unwrap(), (1_000, 1, 0));
    let oldest = store.events(&EventQuery { to_ms: Some(11_000), ..Default::default() }).unwrap();
    assert!(oldest.items.is_empty());
    assert_eq!(store.event("e-11000").unwrap().unwrap().time_ms, 11_000);
    assert!(store.events(&EventQuery { q: Some("\"e-5\"".into()), ..Default::default() }).unwrap().items.is_empty());
    assert_eq!(fts_rows(dir.path()), 1_000);
    assert_eq!(store.alert("a-1").unwrap().unwrap().event_ids, vec!["e-0", "e-1"], "alerts stay, links dangle");

    let again = store.apply_retention(&Retention { max_age_ms: Some(4_000), max_bytes: None }, 15_000).unwrap();
    assert_eq!((again.events_deleted, again.dead_letters_deleted), (0, 0));
}

#[test]
fn size_cap_deletes_the_oldest_until_under() {
    let (dir, store) = open();
    fill(&store, 20);
    // The WALs first folded into the databases (a cap no event exceeds only reclaims
    // space), so `before` does not depend on when the checkpointer last ran.
    store.apply_retention(&Retention { max_age_ms: None, max_bytes: Some(u64::MAX) }, 0).unwrap();
    let before = store.size_bytes().unwrap();
    let cap = before / 4;

    let report = store.apply_retention(&Retention { max_age_ms: None, max_bytes: Some(cap) }, 0).unwrap();
    assert!(report.bytes_after <= cap, "{} > {cap}", report.bytes_after);
    assert_eq!(report.bytes_after, store.size_bytes().unwrap());
    let (remaining, _, _) = store.counts().unwrap();
    assert!(remaining > 0 && remaining < 20_000 / 2, "{remaining} left");
    assert_eq!(report.events_deleted, 20_000 - remaining);
    assert_eq!(fts_rows(dir.path()), remaining as i64);

    // What is left is exactly the newest events.
    let mut times = Vec::new();
    store
        .scan_events(None, None, 1_000, &mut |chunk| {
            times.extend(chunk.into_iter().map(|e| e.time_ms));
            true
        })
        .unwrap();
    let expected: Vec<i64> = (20_000 - remaining as i64..20_000).collect();
    assert_eq!(times, expected);

    // Space freed is reused: writing on under the cap keeps working.
    fill(&store, 2);
    assert!(store.counts().unwrap().0 > remaining);
}

#[test]
fn an_unreachable_cap_empties_events_and_stops() {
    let (dir, store) = open();
    fill(&store, 3);
    let alert = WriteBatch { alerts: vec![AlertChange::New(new_alert("a-1", 0, &[]))], ..Default::default() };
    store.write_batch(&alert).unwrap();

    let report = store.apply_retention(&Retention { max_age_ms: None, max_bytes: Some(0) }, 0).unwrap();
    assert_eq!(report.events_deleted, 3_000);
    assert_eq!(store.counts().unwrap(), (0, 1, 0));
    assert_eq!(fts_rows(dir.path()), 0);
    assert!(report.bytes_after > 0);

    // Row ids are handed out again once the newest rows are gone; the full-text index
    // must hold only the new text under them.
    let mut fresh = event("fresh", 1);
    fresh.raw = "brand new words".to_string();
    store.write_batch(&events_batch(vec![fresh])).unwrap();
    let search = |q: &str| store.events(&EventQuery { q: Some(q.into()), ..Default::default() }).unwrap().items.len();
    assert_eq!((search("brand"), search("lorem")), (1, 0));
    assert_eq!(fts_rows(dir.path()), 1);
}

#[test]
fn no_policy_deletes_nothing() {
    let (_dir, store) = open();
    fill(&store, 1);
    let report = store.apply_retention(&Retention::default(), i64::MAX).unwrap();
    assert_eq!((report.events_deleted, report.dead_letters_deleted), (0, 0));
    assert_eq!(store.counts().unwrap().0, 1_000);
    // An absurd age never overflows into deleting everything.
    let report = store.apply_retention(&Retention { max_age_ms: Some(i64::MAX), max_bytes: None }, i64::MIN).unwrap();
    assert_eq!(report.events_deleted, 0);
    let report = store.apply_retention(&Retention { max_age_ms: Some(-5), max_bytes: None }, 0).unwrap();
    assert_eq!(report.events_deleted, 0, "a negative age is no age");
}
