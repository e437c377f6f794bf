//! Full-text indexing and the event-id map, off the write path and out of the event
//! database.
//!
//! `write_batch` stores events without touching FTS5; a background thread adds them to
//! `events_fts` in its own short transactions, oldest first, and `fts_progress`
//! remembers the highest event id indexed so far. A full-text search first indexes
//! whatever is still pending, so its results never miss a committed event.
//!
//! The index lives in its own SQLite file ([`FTS_FILE_NAME`]) with its own connection,
//! which attaches the event database only to read it. Why a second file: SQLite allows
//! one writer per database file, and tokenizing plus segment merges cost about as much
//! CPU as storing the events (perf, 20k Tetragon events/s: writer thread 35 %, indexer
//! 31 % of the samples). In the same file the indexer held the only write lock for
//! tens of milliseconds per chunk, the pipeline's commits queued behind it, and the two
//! ran one after the other on a two-core machine. In its own file each has its own
//! write lock: they run side by side, and an alert's commit never waits for indexing.
//!
//! The same thread maps each event's `event_id` to its row (`event_id_terms`,
//! `id_terms_progress`): lookups by id read the map, plus the few newest events above
//! its mark (query.rs). The map is a second FTS5 table holding one term per event, a
//! 64-bit hash of its id ([`id_term`]), rather than a B-tree keyed by the id: event ids
//! are random (UUID v4), so each chunk of inserts into a B-tree dirtied pages all over
//! it and the cost grew with the store (SQLite, 16 KiB pages, chunks of 8,192: 15.6
//! µs per event at 0.8M events, 34.5 at 2.5M, 43 at 4.9M), while FTS5 writes sorted
//! segments and merges them (4.5-5.0 µs per event throughout; a lookup costs about the
//! same as in the B-tree). A hash can collide: readers check the event's own id.
//!
//! Consistency between the two files: event ids (`events.id`, the FTS rowid) only
//! grow, except that SQLite hands the ids of the newest events out again after they
//! are deleted. Retention therefore deletes an event's FTS row before the event
//! ([`FtsIndex::delete_rows`]), and afterwards, with the event writer's lock still held,
//! drops any row above the highest id left and lowers the mark to it
//! ([`FtsIndex::reconcile`]). The store does the same when it opens, which repairs an
//! index left behind by a crash between those steps or found beside another database.

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{params, Connection, TransactionBehavior};

use crate::pool::lock;
use crate::StoreError;

/// The full-text index file inside the store's directory.
pub const FTS_FILE_NAME: &str = "vigil-fts.db";

/// Events indexed per transaction. Each transaction ends in a new FTS5 segment and a
/// round of merging, so larger chunks cost less per event: over the 525k-record daemon
/// bench the index caught up with the events 22 s after the start with 2,000, 16 s with
/// 8,192. (A 16 MiB FTS5 term buffer instead of the default 1 MiB gained another ~5 %,
/// within the noise, for 15-30 MB more RSS: not taken.) A search waiting for the index
/// connection waits for at most one chunk (~0.2 s).
pub(crate) const INDEX_CHUNK: i64 = 8192;

/// The longest an event waits for the indexer when fewer than a chunk are pending
/// (searches index what is pending themselves, so this only delays the background
/// work, never a result).
const INDEX_INTERVAL: Duration = Duration::from_millis(1000);

/// Schema of the index file (idempotent: run at every open).
const FTS_SCHEMA: &str = r#"
-- Contentless: the text lives in `events.raw` only. `contentless_delete` lets retention
-- remove a row by rowid without handing the original text back to FTS5.
CREATE VIRTUAL TABLE IF NOT EXISTS events_fts USING fts5(raw, content='', contentless_delete=1);
-- `indexed_to`: the highest event id whose text is in `events_fts`.
CREATE TABLE IF NOT EXISTS fts_progress (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 0),
    indexed_to INTEGER NOT NULL
);
INSERT OR IGNORE INTO fts_progress (only_row, indexed_to) VALUES (0, 0);
-- `event_id` -> `events.id`, for lookups by event id: rowid = `events.id`, one term
-- per row, `id_term(event_id)` (module docs). Kept here, filled by the same thread,
-- instead of as an index on `events`: event ids are random (UUID v4), so such an index
-- dirtied about one page per stored event in every commit, most of the event
-- database's WAL volume (measured without it: +40 % file -> store throughput, p99 alert
-- latency at 10k events/s 45 -> 13 ms). `mapped_to`: the highest event id mapped.
CREATE VIRTUAL TABLE IF NOT EXISTS event_id_terms USING fts5(term, content='', contentless_delete=1, detail=none);
CREATE TABLE IF NOT EXISTS id_terms_progress (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 0),
    mapped_to INTEGER NOT NULL
);
INSERT OR IGNORE INTO id_terms_progress (only_row, mapped_to) VALUES (0, 0);
-- The B-tree map of earlier versions: the FTS5 map above is rebuilt from the events
-- (the indexer starts it from 0), so the old one goes.
DROP TABLE IF EXISTS event_ids;
DROP TABLE IF EXISTS id_progress;
"#;

/// The index's connection. Every write to the index file goes through it, so its
/// transactions never race each other.
pub(crate) struct FtsIndex {
    conn: Mutex<Connection>,
}

impl FtsIndex {
    /// Opens (creating when absent) the index beside the event database `db_path`,
    /// which is attached as `store` for reading.
    pub(crate) fn open(fts_path: &Path, db_path: &Path) -> Result<FtsIndex, StoreError> {
        let conn = crate::schema::open_index_file(fts_path)?;
        conn.execute_batch(FTS_SCHEMA)?;
        conn.execute("ATTACH DATABASE ?1 AS store", [crate::schema::utf8(db_path)?])?;
        Ok(FtsIndex { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        lock(&self.conn)
    }

    /// Indexes up to `max_rows` pending events in one transaction; returns how many.
    pub(crate) fn index_pending(&self, max_rows: i64) -> Result<usize, StoreError> {
        index_pending(&mut self.conn(), max_rows)
    }

    /// Indexes everything pending, a chunk per transaction.
    pub(crate) fn index_all(&self) -> Result<(), StoreError> {
        while self.index_pending(INDEX_CHUNK)? > 0 {}
        Ok(())
    }

    /// Removes the rows of events about to be deleted (those already indexed or
    /// mapped): the events must still be there, their ids are read from them.
    pub(crate) fn delete_rows(&self, ids: &[i64]) -> Result<(), StoreError> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mapped_to: i64 =
                tx.prepare_cached("SELECT mapped_to FROM id_terms_progress")?.query_row([], |r| r.get(0))?;
            let mut unmap = tx.prepare_cached("DELETE FROM event_id_terms WHERE rowid = ?1")?;
            for &id in ids.iter().filter(|&&id| id <= mapped_to) {
                unmap.execute([id])?;
            }
        }
        {
            let indexed_to: i64 =
                tx.prepare_cached("SELECT indexed_to FROM fts_progress")?.query_row([], |r| r.get(0))?;
            let mut delete = tx.prepare_cached("DELETE FROM events_fts WHERE rowid = ?1")?;
            for &id in ids.iter().filter(|&&id| id <= indexed_to) {
                delete.execute([id])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// `max_id` is the highest event id in the store: rows above it belong to deleted
    /// events whose ids may be handed out again, and the mark must not stay above it,
    /// or reused ids would never be indexed. The caller keeps new events out meanwhile.
    pub(crate) fn reconcile(&self, max_id: i64) -> Result<(), StoreError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let indexed_to: i64 = tx.prepare_cached("SELECT indexed_to FROM fts_progress")?.query_row([], |r| r.get(0))?;
        let mapped_to: i64 =
            tx.prepare_cached("SELECT mapped_to FROM id_terms_progress")?.query_row([], |r| r.get(0))?;
        if mapped_to > max_id {
            // Only when the map got ahead of the events (a crash mid-retention, an
            // index file beside another database).
            tx.prepare_cached("DELETE FROM event_id_terms WHERE rowid > ?1")?.execute([max_id])?;
            tx.prepare_cached("UPDATE id_terms_progress SET mapped_to = ?1")?.execute([max_id])?;
        }
        if indexed_to > max_id {
            tx.prepare_cached("DELETE FROM events_fts WHERE rowid > ?1")?.execute([max_id])?;
            tx.prepare_cached("UPDATE fts_progress SET indexed_to = ?1")?.execute([max_id])?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Returns free pages to the file system and folds the WAL back into the file.
    pub(crate) fn reclaim_space(&self) -> Result<(), StoreError> {
        let conn = self.conn();
        crate::retention::drain(&conn, "PRAGMA main.incremental_vacuum")?;
        crate::retention::drain(&conn, "PRAGMA main.wal_checkpoint(TRUNCATE)")?;
        Ok(())
    }
}

/// The map's term for an event id: `e` and the 16 hex digits of its 64-bit FNV-1a hash
/// (stable across builds: terms are stored). One token for FTS5's tokenizer, whatever
/// the id looks like, and a bounded size.
pub(crate) fn id_term(event_id: &str) -> String {
    let hash =
        event_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3));
    format!("e{hash:016x}")
}

/// An FTS5 query matching the map rows of any of `event_ids` (not empty): their terms,
/// joined by OR.
pub(crate) fn id_terms_query<'a>(event_ids: impl IntoIterator<Item = &'a str>) -> String {
    let terms: Vec<String> = event_ids.into_iter().map(id_term).collect();
    terms.join(" OR ")
}

fn index_pending(conn: &mut Connection, max_rows: i64) -> Result<usize, StoreError> {
    loop {
        // The texts are read first, in statements of their own, and indexed after. A
        // read of the event database that lasted as long as the indexing (tens of ms
        // per chunk, more at low priority) held a WAL snapshot all that time: the
        // checkpointer cannot copy frames past an open reader's snapshot nor restart
        // the WAL under it, and the event writer's commits grew slower and spikier
        // (measured at 10k events/s: p99 alert latency 84-207 ms before, 35-50 after).
        let indexed_to: i64 =
            conn.prepare_cached("SELECT indexed_to FROM fts_progress")?.query_row([], |r| r.get(0))?;
        let mapped_to: i64 =
            conn.prepare_cached("SELECT mapped_to FROM id_terms_progress")?.query_row([], |r| r.get(0))?;
        // The two marks differ only after the map was added to an existing index file:
        // the map then catches up from its own mark.
        let from = indexed_to.min(mapped_to);
        // The text only of events not indexed yet: when the map catches up on its own
        // (an index file from before it), the rest needs only the ids.
        let rows: Vec<(i64, String, Option<String>)> = conn
            .prepare_cached(
                "SELECT id, event_id, CASE WHEN id > ?3 THEN raw END FROM store.events
                 WHERE id > ?1 ORDER BY id LIMIT ?2",
            )?
            .query_map(params![from, max_rows, indexed_to], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
            .collect::<Result<_, _>>()?;
        let Some(&(upto, _, _)) = rows.last() else {
            return Ok(0);
        };
        // Deferred, and the progress rows written first: BEGIN IMMEDIATE would also
        // take the attached event database's write lock, which the pipeline's commits
        // must not wait for; the first write takes the index's lock before any read.
        // The marks must still be where they were when the texts were read (another
        // process's indexer may have moved them meanwhile: then read again). They go
        // first, and the map's rows before the full-text rows, because once FTS5 holds
        // pending terms a later statement's savepoint would make it flush them to a
        // segment of their own.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Deferred)?;
        let moved = tx
            .prepare_cached("UPDATE fts_progress SET indexed_to = max(indexed_to, ?1) WHERE indexed_to = ?2")?
            .execute(params![upto, indexed_to])?
            + tx.prepare_cached("UPDATE id_terms_progress SET mapped_to = max(mapped_to, ?1) WHERE mapped_to = ?2")?
                .execute(params![upto, mapped_to])?;
        if moved < 2 {
            continue;
        }
        {
            let mut map = tx.prepare_cached("INSERT INTO event_id_terms (rowid, term) VALUES (?1, ?2)")?;
            for (id, event_id, _) in rows.iter().filter(|(id, _, _)| *id > mapped_to) {
                map.execute(params![id, id_term(event_id)])?;
            }
        }
        {
            let mut insert = tx.prepare_cached("INSERT INTO events_fts (rowid, raw) VALUES (?1, ?2)")?;
            for (id, _, raw) in rows.iter().filter(|(id, _, _)| *id > indexed_to) {
                insert.execute(params![id, raw.as_deref().unwrap_or_default()])?;
            }
        }
        tx.commit()?;
        return Ok(rows.len());
    }
}

/// The background indexer thread; stopped and joined on drop.
pub(crate) struct Indexer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    stop: AtomicBool,
    /// Events committed since the indexer last started a round.
    unindexed: AtomicU64,
    woken: Mutex<bool>,
    wake: Condvar,
}

impl Indexer {
    pub(crate) fn start(index: Arc<FtsIndex>) -> Result<Indexer, StoreError> {
        let shared = Arc::new(Shared {
            stop: AtomicBool::new(false),
            unindexed: AtomicU64::new(0),
            woken: Mutex::new(false),
            wake: Condvar::new(),
        });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new().name("vigil-fts".into()).spawn(move || run(&index, &thread_shared))?;
        Ok(Indexer { shared, thread: Some(thread) })
    }

    /// `events` were committed: the indexer starts at once when a whole chunk is
    /// waiting, else at the end of its interval. Waking it for every commit (every few
    /// milliseconds at 20k events/s) made it index in small, costly chunks.
    pub(crate) fn committed(&self, events: u64) {
        let waiting = self.shared.unindexed.fetch_add(events, Ordering::Relaxed) + events;
        if waiting >= INDEX_CHUNK as u64 {
            self.wake();
        }
    }

    fn wake(&self) {
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

/// Indexing is the one store task that can wait: on a busy machine the scheduler
/// should give the cores to decoding, detection and the commits that make alerts
/// visible, and let the index catch up when they idle (a search indexes what is still
/// pending first, so waiting never hides an event). Nice 10 weighs about a tenth of a
/// normal thread under contention and costs nothing on an idle machine.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain system calls on the calling thread's own id; no memory is shared.
    // On Linux `PRIO_PROCESS` with a thread id sets that thread's nice value only.
    unsafe {
        let tid = libc::gettid();
        if libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 10) != 0 {
            eprintln!("vigil: could not lower the full-text indexer's priority (it runs at normal priority)");
        }
    }
}

fn run(index: &FtsIndex, shared: &Shared) {
    lower_priority();
    loop {
        {
            let woken = lock(&shared.woken);
            let (mut woken, _) = shared
                .wake
                .wait_timeout_while(woken, INDEX_INTERVAL, |w| !*w)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            *woken = false;
        }
        shared.unindexed.store(0, Ordering::Relaxed);
        if shared.stop.load(Ordering::Relaxed) {
            // Whatever is left is indexed by the next indexer or search.
            return;
        }
        // One chunk per transaction, the connection released in between so a search
        // or retention interleaves with a long catch-up. A chunk that was not full
        // caught up: what commits add meanwhile waits for the next round, in one chunk
        // instead of a trickle of small ones.
        loop {
            match index.index_pending(INDEX_CHUNK) {
                Ok(n) if n as i64 == INDEX_CHUNK && !shared.stop.load(Ordering::Relaxed) => {
                    // The mutex is not fair: without a pause this thread could take it
                    // straight back and keep a waiting search out for the whole catch-up.
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
    }
}
