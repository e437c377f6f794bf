//! WAL checkpoints beside the writer, not inside its commits.
//!
//! With SQLite's automatic checkpoints, the commit that pushes the WAL past the
//! threshold also copies every page the WAL holds into the database file and syncs it
//! (tens to hundreds of milliseconds with 16 KiB pages and a random-keyed index), and
//! every batch behind it, alerts included, waits. Here a thread with its own
//! connection does the copying with PASSIVE checkpoints, which never block a commit,
//! and only the last, short pass takes the writer's mutex: SQLite starts the WAL over
//! from its beginning only when a write transaction begins after a checkpoint copied
//! all of it, which commits arriving every few milliseconds would otherwise never let
//! happen, so the WAL would grow without bound.
//!
//! That last pass syncs the WAL and the database file while the writer waits: 20-100 ms
//! each under heavy ingest on our test machine. The event database pays it every round
//! ([`FinalPass::EveryRound`]); the alert file, whose commits someone is waiting for,
//! only once its WAL is large ([`FinalPass::AtFrames`]) — between its sparse commits an
//! unlocked pass usually copies everything, and then the next commit restarts the WAL
//! without any pause at all.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::Connection;

use crate::pool::lock;
use crate::StoreError;

/// How often a checkpoint round runs.
const ROUND_INTERVAL: Duration = Duration::from_millis(500);

/// Unlocked passes per round at most, before the final pass under the writer's mutex.
const MAX_UNLOCKED_PASSES: usize = 4;

/// WAL frames appended during an unlocked pass below which the next pass is the final
/// one: copying them is short enough to hold the writer for (~1 ms of page copies).
const FEW_FRAMES: i64 = 64;

/// When a round ends with the pass under the writer's mutex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FinalPass {
    EveryRound,
    /// Only when the unlocked passes leave a WAL of at least this many frames.
    AtFrames(i64),
}

/// What one `PRAGMA wal_checkpoint` reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CheckpointResult {
    /// A reader or writer kept it from finishing.
    pub busy: bool,
    /// Frames in the WAL.
    pub log_frames: i64,
    /// Frames copied into the database (all of them when equal to `log_frames`).
    pub checkpointed: i64,
}

pub(crate) fn passive(conn: &Connection) -> Result<CheckpointResult, StoreError> {
    Ok(conn.query_row("PRAGMA main.wal_checkpoint(PASSIVE)", [], |row| {
        Ok(CheckpointResult { busy: row.get::<_, i64>(0)? != 0, log_frames: row.get(1)?, checkpointed: row.get(2)? })
    })?)
}

/// One round: unlocked passes while commits keep adding frames, then a last pass under
/// the writer's mutex (when `final_pass` says so) so the next commit can restart the WAL.
pub(crate) fn round(
    own: &Connection,
    writer: &Mutex<Connection>,
    final_pass: FinalPass,
) -> Result<CheckpointResult, StoreError> {
    let mut before = passive(own)?;
    if before.log_frames == 0 {
        return Ok(before);
    }
    for _ in 1..MAX_UNLOCKED_PASSES {
        let after = passive(own)?;
        let appended = after.log_frames - before.log_frames;
        before = after;
        // A restart (log_frames fell) or a quiet writer: time for the final pass.
        if appended < FEW_FRAMES {
            break;
        }
    }
    match final_pass {
        FinalPass::AtFrames(frames) if before.log_frames < frames => Ok(before),
        _ => passive(&lock(writer)),
    }
}

/// The checkpointer thread; stopped and joined on drop.
pub(crate) struct Checkpointer {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

struct Shared {
    stop: Mutex<bool>,
    wake: Condvar,
    failing: AtomicBool,
}

impl Checkpointer {
    pub(crate) fn start(
        db_path: &Path,
        writer: Arc<Mutex<Connection>>,
        final_pass: FinalPass,
    ) -> Result<Checkpointer, StoreError> {
        let own = crate::schema::open_checkpointer(db_path)?;
        let shared =
            Arc::new(Shared { stop: Mutex::new(false), wake: Condvar::new(), failing: AtomicBool::new(false) });
        let thread_shared = Arc::clone(&shared);
        let thread = std::thread::Builder::new()
            .name("vigil-checkpoint".into())
            .spawn(move || run(&own, &writer, final_pass, &thread_shared))?;
        Ok(Checkpointer { shared, thread: Some(thread) })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        *lock(&self.shared.stop) = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn run(own: &Connection, writer: &Mutex<Connection>, final_pass: FinalPass, shared: &Shared) {
    loop {
        {
            let stop = lock(&shared.stop);
            let (stop, _) = shared
                .wake
                .wait_timeout_while(stop, ROUND_INTERVAL, |stop| !*stop)
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if *stop {
                return;
            }
        }
        match round(own, writer, final_pass) {
            Ok(_) => shared.failing.store(false, Ordering::Relaxed),
            Err(e) => {
                // Say it once per failing spell, not every half second.
                if !shared.failing.swap(true, Ordering::Relaxed) {
                    eprintln!("vigil: WAL checkpoint failed (will retry): {e}");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open(dir: &Path) -> (Arc<Mutex<Connection>>, Connection) {
        let db = dir.join("t.db");
        let writer = Connection::open(&db).unwrap();
        writer
            .execute_batch(
                "PRAGMA journal_mode = WAL; PRAGMA wal_autocheckpoint = 0;
                 CREATE TABLE t (x BLOB);",
            )
            .unwrap();
        (Arc::new(Mutex::new(writer)), crate::schema::open_checkpointer(&db).unwrap())
    }

    fn write(writer: &Mutex<Connection>, rows: usize) {
        let conn = lock(writer);
        for _ in 0..rows {
            conn.execute("INSERT INTO t VALUES (randomblob(3000))", []).unwrap();
        }
    }

    #[test]
    fn a_round_copies_the_whole_wal_and_the_next_commit_restarts_it() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, own) = open(dir.path());
        write(&writer, 200);
        let before = passive(&own).unwrap();
        assert!(before.log_frames > 50, "{before:?}");

        let after = round(&own, &writer, FinalPass::EveryRound).unwrap();
        assert!(!after.busy);
        assert_eq!(after.checkpointed, after.log_frames, "everything copied: {after:?}");
        // The next write starts the WAL over: few frames, not the old ones plus new.
        write(&writer, 1);
        let restarted = passive(&own).unwrap();
        assert!(restarted.log_frames < 10, "WAL restarted from its beginning: {restarted:?}");
    }

    #[test]
    fn below_its_frame_count_a_round_never_waits_for_the_writer() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, own) = open(dir.path());
        write(&writer, 200);
        // The writer busy (mid-commit, say) for as long as this guard lives.
        let busy = lock(&writer);
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        let shared_writer = Arc::clone(&writer);
        std::thread::spawn(move || {
            let _ = done_tx.send(round(&own, &shared_writer, FinalPass::AtFrames(1_000_000)).unwrap());
        });
        let result = done_rx.recv_timeout(Duration::from_secs(10)).expect("the round waited for the writer");
        drop(busy);
        // With the writer quiet the unlocked passes copied everything, so the next
        // commit restarts the WAL without a locked pass.
        assert_eq!(result.checkpointed, result.log_frames, "{result:?}");
        write(&writer, 1);
        let restarted = passive(&crate::schema::open_checkpointer(&dir.path().join("t.db")).unwrap()).unwrap();
        assert!(restarted.log_frames < 10, "WAL restarted from its beginning: {restarted:?}");
    }

    #[test]
    fn the_thread_folds_the_wal_into_the_database_by_itself() {
        let dir = tempfile::tempdir().unwrap();
        let (writer, _) = open(dir.path());
        let db = dir.path().join("t.db");
        let checkpointer = Checkpointer::start(&db, Arc::clone(&writer), FinalPass::EveryRound).unwrap();
        let empty = std::fs::metadata(&db).unwrap().len();
        write(&writer, 200);
        // No automatic checkpoints on this connection: only the thread can grow the file.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&db).unwrap().len() < empty + 200 * 3000 {
            assert!(std::time::Instant::now() < deadline, "no checkpoint within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        drop(checkpointer);
    }
}
