//! Full-text indexing off the write path. `write_batch` stores events without touching
//! FTS5; a background thread adds them to `events_fts` in its own short transactions,
//! oldest first, and `fts_progress` remembers the highest event id indexed so far.
//!
//! Why: FTS5 tokenizing and segment merges were about a quarter of the writer's time,
//! and they sat in the same transaction as the alerts, so they delayed every alert. Now
//! a batch commits without them, and the index follows within a round
//! ([`INDEX_INTERVAL`]). A full-text search first indexes whatever is still pending,
//! so its results never miss a committed event.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};

use crate::pool::lock;
use crate::StoreError;

/// Events indexed per transaction: small enough that the pipeline's next commit, which
/// waits for the writer connection, is not held up for long; large enough that FTS5
/// writes few small segments (500 made the index markedly larger).
pub(crate) const INDEX_CHUNK: i64 = 2000;

/// How long the indexer sleeps between rounds when nobody wakes it; commits wake it.
const INDEX_INTERVAL: Duration = Duration::from_millis(100);

/// Indexes up to `max_rows` pending events in one transaction; returns how many.
pub(crate) fn index_pending(conn: &mut Connection, max_rows: i64) -> Result<usize, StoreError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let indexed_to: i64 = tx.prepare_cached("SELECT indexed_to FROM fts_progress")?.query_row([], |r| r.get(0))?;
    let upto: Option<i64> = tx
        .prepare_cached("SELECT max(id) FROM (SELECT id FROM events WHERE id > ?1 ORDER BY id LIMIT ?2)")?
        .query_row(params![indexed_to, max_rows], |r| r.get(0))?;
    let Some(upto) = upto else {
        return Ok(0);
    };
    // The progress row first: once FTS5 holds pending terms, a later statement's
    // savepoint would make it flush them to a segment of their own.
    tx.prepare_cached("UPDATE fts_progress SET indexed_to = ?1")?.execute([upto])?;
    let added = tx
        .prepare_cached("INSERT INTO events_fts (rowid, raw) SELECT id, raw FROM events WHERE id > ?1 AND id <= ?2")?
        .execute(params![indexed_to, upto])?;
    tx.commit()?;
    Ok(added)
}

/// Indexes everything pending, a chunk per transaction.
pub(crate) fn index_all(writer: &Mutex<Connection>) -> Result<(), StoreError> {
    while index_pending(&mut lock(writer), INDEX_CHUNK)? > 0 {}
    Ok(())
}

/// After retention deleted events: if the newest ones went, SQLite hands their ids out
/// again, and a reused id at or below `indexed_to` would never be indexed. Lowering the
/// mark to the highest id left keeps every remaining event on the right side of it.
pub(crate) fn clamp_progress(conn: &Connection) -> Result<(), StoreError> {
    conn.prepare_cached(
        "UPDATE fts_progress SET indexed_to = min(indexed_to, (SELECT coalesce(max(id), 0) FROM events))",
    )?
    .execute([])?;
    Ok(())
}

/// The background indexer thread; stopped and joined on drop.
pub(crate) struct Indexer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    woken: Mutex<bool>,
    wake: Condvar,
}

impl Indexer {
    pub(crate) fn start(writer: Arc<Mutex<Connection>>) -> Result<Indexer, StoreError> {
        let shared = Arc::new(Shared { stop: AtomicBool::new(false), woken: Mutex::new(false), wake: Condvar::new() });
        let thread_shared = Arc::clone(&shared);
        let thread =
            std::thread::Builder::new().name("vigil-fts".into()).spawn(move || run(&writer, &thread_shared))?;
        Ok(Indexer { shared, thread: Some(thread) })
    }

    /// Something was committed: index it soon.
    pub(crate) fn wake(&self) {
        *lock(&self.shared.woken) = true;
        self.shared.wake.notify_one();
    }
}

impl Drop for Indexer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
        self.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(writer: &Mutex<Connection>, shared: &Shared) {
    loop {
        {
            let woken = lock(&shared.woken);
            let (mut woken, _) = shared
                .wake
                .wait_timeout_while(woken, INDEX_INTERVAL, |w| !*w)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *woken = false;
        }
        if shared.stop.load(Ordering::Relaxed) {
            // Whatever is left is indexed by the next indexer or search.
            return;
        }
        // One chunk per transaction, the writer mutex released in between so the
        // pipeline's commits interleave with the catch-up.
        loop {
            match index_pending(&mut lock(writer), INDEX_CHUNK) {
                Ok(n) if n > 0 && !shared.stop.load(Ordering::Relaxed) => {
                    // The mutex is not fair: without a pause this thread could take it
                    // straight back and keep a waiting commit out for the whole catch-up.
                    std::thread::yield_now();
                    continue;
                }
                Ok(_) => break,
                Err(e) => {
                    // SQLITE_BUSY from another process, a full disk: retry next round.
                    eprintln!("vigil: full-text indexing failed (will retry): {e}");
                    break;
                }
            }
        }
        // Pace the rounds: a burst of commits is indexed together, in fewer segments.
        std::thread::sleep(INDEX_INTERVAL / 4);
    }
}
