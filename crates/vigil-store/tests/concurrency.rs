//! Readers on other threads while the writer commits.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use common::*;
use vigil_store::{EventQuery, StatsQuery, WriteBatch};

#[test]
fn readers_query_while_the_writer_commits() {
    let (_dir, store) = open();
    let store = Arc::new(store);
    let done = Arc::new(AtomicBool::new(false));
    const BATCHES: i64 = 60;
    const PER_BATCH: usize = 200;

    let readers: Vec<_> = (0..3)
        .map(|reader| {
            let store = Arc::clone(&store);
            let done = Arc::clone(&done);
            std::thread::spawn(move || {
                let mut last_count = 0;
                let mut queries = 0u64;
                loop {
                    let finished = done.load(Ordering::Acquire);
                    let (count, _, _) = store.counts().unwrap();
                    assert!(count >= last_count, "counts never go back");
                    assert_eq!(count % PER_BATCH as u64, 0, "a batch is seen whole or not at all");
                    last_count = count;
                    match reader {
                        0 => {
                            let page = store.events(&EventQuery { limit: Some(50), ..Default::default() }).unwrap();
                            assert!(page.items.windows(2).all(|w| w[0].time_ms >= w[1].time_ms));
                        }
                        1 => {
                            let page = store.events(&EventQuery { q: Some("password".into()), ..Default::default() });
                            assert!(page.unwrap().items.len() <= 100);
                        }
                        _ => {
                            let stats = store.stats(&StatsQuery::default()).unwrap();
                            assert!(stats.events >= count);
                        }
                    }
                    queries += 1;
                    if finished {
                        return (queries, last_count);
                    }
                }
            })
        })
        .collect();

    for batch in 0..BATCHES {
        let events = events(&format!("b{batch}"), PER_BATCH, batch * 1_000);
        let checkpoint = checkpoint("auth.log", (batch as u64 + 1) * 100, batch);
        store.write_batch(&WriteBatch { events, checkpoints: vec![checkpoint], ..Default::default() }).unwrap();
    }
    done.store(true, Ordering::Release);
    for reader in readers {
        let (queries, last_count) = reader.join().expect("reader panicked");
        assert!(queries > 0);
        assert_eq!(
            last_count,
            BATCHES as u64 * PER_BATCH as u64,
            "the last read after the writer finished sees it all"
        );
    }
    assert_eq!(store.checkpoints().unwrap()[0].offset, BATCHES as u64 * 100);
}
