//! Vigil's embedded store: events (OCSF + raw, full-text searchable), alerts with their
//! aggregation counters, dead letters, and source checkpoints. A batch's events, dead
//! letters and checkpoints are one SQLite transaction, its alerts one more in their own
//! file committed just before, so a checkpoint never gets ahead of the data it covers.

mod alert_file;
mod checkpoint;
mod cursor;
mod feed;
mod fts;
pub mod honeypot;
mod jobs;
mod model;
mod pool;
mod query;
mod retention;
mod rows;
mod scan;
mod schema;
mod stats;
mod stix_objects;
mod write;

pub use jobs::{EtlJobRow, MAX_LISTED_ETL_JOBS};
pub use model::*;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use rusqlite::Connection;

use crate::pool::{lock, ReaderPool};

/// The database file inside the store's directory.
pub const DB_FILE_NAME: &str = "vigil.db";

pub use alert_file::ALERTS_FILE_NAME;
pub use fts::FTS_FILE_NAME;

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("sqlite: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// A caller's mistake (bad cursor, FTS syntax error, unknown alert): the API answers 400.
    #[error("invalid query: {0}")]
    InvalidQuery(String),
}

/// The alert file's WAL size (4 KiB frames, so 64 MiB) at which its checkpointer
/// pauses the alert writer to restart it (checkpoint.rs). At the latency bench's 200
/// alerts/s, aggregation off, that is once every ~15 s.
const ALERT_WAL_RESTART_FRAMES: i64 = 16384;

/// Tuning knobs; `Default` is what `vigil run` uses.
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// Most event ids linked to one alert (later ones only raise the count).
    pub max_linked_events: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { max_linked_events: 100 }
    }
}

/// The store. `Send + Sync`: one writer connection behind a mutex for events, another
/// for alerts, which live in a file of their own (alert_file.rs); reads use a small
/// pool of read-only connections, which WAL lets run while the writers commit. The
/// full-text index is a third file with its own connection (fts.rs), and WAL
/// checkpoints run in threads of their own (checkpoint.rs).
pub struct Store {
    db_path: PathBuf,
    fts_path: PathBuf,
    alerts_path: PathBuf,
    options: StoreOptions,
    pub(crate) writer: Arc<Mutex<Connection>>,
    alert_writer: Arc<Mutex<Connection>>,
    readers: ReaderPool,
    duplicates_ignored: AtomicU64,
    fts: Arc<fts::FtsIndex>,
    /// Declared after the connections they use: dropped (stopped and joined) first.
    _checkpointer: checkpoint::Checkpointer,
    _alert_checkpointer: checkpoint::Checkpointer,
    /// Declared last: dropped (stopped and joined) after nothing else needs the index.
    indexer: fts::Indexer,
}

impl Store {
    /// Opens (creating when absent) `dir/vigil.db` in WAL mode and migrates the schema,
    /// and beside it the full-text index `dir/vigil-fts.db` and the alerts,
    /// `dir/vigil-alerts.db`.
    pub fn open(dir: &Path, options: StoreOptions) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir)?;
        let db_path = dir.join(DB_FILE_NAME);
        let fts_path = dir.join(FTS_FILE_NAME);
        let alerts_path = dir.join(ALERTS_FILE_NAME);
        let writer = schema::open_writer(&db_path)?;
        let alert_writer = alert_file::open(&alerts_path)?;
        alert_file::move_out_of_event_database(&writer, &alerts_path)?;
        let fts = Arc::new(fts::FtsIndex::open(&fts_path, &db_path)?);
        // Repairs an index that got ahead of the events (fts.rs): nothing writes yet.
        fts.reconcile(query::max_event_id(&writer)?)?;
        let writer = Arc::new(Mutex::new(writer));
        let alert_writer = Arc::new(Mutex::new(alert_writer));
        let checkpointer =
            checkpoint::Checkpointer::start(&db_path, Arc::clone(&writer), checkpoint::FinalPass::EveryRound)?;
        let alert_checkpointer = checkpoint::Checkpointer::start(
            &alerts_path,
            Arc::clone(&alert_writer),
            checkpoint::FinalPass::AtFrames(ALERT_WAL_RESTART_FRAMES),
        )?;
        let indexer = fts::Indexer::start(Arc::clone(&fts))?;
        Ok(Store {
            readers: ReaderPool::new(db_path.clone(), fts_path.clone(), alerts_path.clone()),
            db_path,
            fts_path,
            alerts_path,
            options,
            writer,
            alert_writer,
            duplicates_ignored: AtomicU64::new(0),
            fts,
            _checkpointer: checkpointer,
            _alert_checkpointer: alert_checkpointer,
            indexer,
        })
    }

    /// Two transactions: the alert changes (in order, [`Store::write_alerts`]), then
    /// events, dead letters and checkpoints. The checkpoints therefore never get ahead
    /// of the alerts either.
    ///
    /// Replays are harmless: an event whose `event_id` is stored already is skipped (and
    /// counted, see [`Store::duplicates_ignored`]), a `New` alert whose `alert_id` exists
    /// keeps the stored one, and a `Repeat` of an unknown alert is ignored.
    pub fn write_batch(&self, batch: &WriteBatch) -> Result<(), StoreError> {
        self.write_alerts(&batch.alerts)?;
        let mut writer = self.writer();
        // Looked up with the writer's mutex held, so that no batch of this store lands
        // between the look-up and the write.
        let stored = if batch.fresh_event_ids || batch.events.is_empty() {
            std::collections::HashSet::new()
        } else {
            // The map brought up to date first: the events above its mark are scanned,
            // and a bulk load that outran the background indexer would make that scan
            // longer with every batch.
            self.fts.index_all()?;
            query::stored_event_ids(&*self.readers.get()?, &batch.events)?
        };
        let outcome = write::write_batch(&mut writer, batch, &stored)?;
        self.duplicates_ignored.fetch_add(outcome.duplicates_ignored, Ordering::Relaxed);
        if outcome.events_inserted > 0 {
            self.indexer.committed(outcome.events_inserted);
        }
        Ok(())
    }

    /// Alert changes, in order, in one transaction of the alert file; returns how many
    /// new alerts it stored. Never waits for event writes or their WAL checkpoints
    /// (alert_file.rs says why).
    pub fn write_alerts(&self, changes: &[AlertChange]) -> Result<u64, StoreError> {
        if changes.is_empty() {
            return Ok(0);
        }
        alert_file::write_alerts(&mut lock(&self.alert_writer), changes, self.options.max_linked_events)
    }

    /// Events skipped by [`Store::write_batch`] because their `event_id` was already
    /// stored, since this store was opened.
    pub fn duplicates_ignored(&self) -> u64 {
        self.duplicates_ignored.load(Ordering::Relaxed)
    }

    /// Every checkpoint, ordered by key.
    pub fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        query::checkpoints(&*self.readers.get()?)
    }

    /// Newest first (`time_ms`, then insertion order). `q` is an FTS5 query over `raw`
    /// (at most 2 KiB; blank means none). A full-text query first indexes the events
    /// the background indexer has not reached yet, so it sees every committed event.
    pub fn events(&self, query: &EventQuery) -> Result<Page<EventRow>, StoreError> {
        if query.q.as_deref().is_some_and(|q| !q.trim().is_empty()) {
            self.fts.index_all()?;
        }
        query::events(&*self.readers.get()?, query)
    }

    pub fn event(&self, event_id: &str) -> Result<Option<EventRow>, StoreError> {
        query::event(&*self.readers.get()?, event_id)
    }

    /// Most recently seen first. `from_ms` / `to_ms` select alerts active in the window
    /// (last seen at or after `from_ms`, first seen before `to_ms`).
    pub fn alerts(&self, query: &AlertQuery) -> Result<Page<AlertRow>, StoreError> {
        query::alerts(&*self.readers.get()?, query)
    }

    pub fn alert(&self, alert_id: &str) -> Result<Option<AlertRow>, StoreError> {
        query::alert(&*self.readers.get()?, alert_id)
    }

    /// `Ok(None)` when no such alert.
    pub fn set_alert_status(&self, alert_id: &str, status: AlertStatus) -> Result<Option<AlertRow>, StoreError> {
        let mut writer = lock(&self.alert_writer);
        let tx = writer.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        let alert = if alert_file::set_status(&tx, alert_id, status)? { query::alert(&tx, alert_id)? } else { None };
        tx.commit()?;
        Ok(alert)
    }

    /// Newest first (`received_ms`, then insertion order).
    pub fn dead_letters(&self, cursor: Option<&str>, limit: Option<u32>) -> Result<Page<DeadLetterRow>, StoreError> {
        query::dead_letters(&*self.readers.get()?, cursor, limit)
    }

    /// Totals over the whole store; buckets and top lists over `[from_ms, to_ms)`, by
    /// default the 24 hours ending at the newest event.
    pub fn stats(&self, query: &StatsQuery) -> Result<Stats, StoreError> {
        stats::stats(&mut *self.readers.get()?, query, chrono::Utc::now().timestamp_millis())
    }

    /// Events with `from_ms <= time_ms < to_ms`, oldest first, in chunks of `chunk`;
    /// stops when `each` returns false.
    pub fn scan_events(
        &self,
        from_ms: Option<i64>,
        to_ms: Option<i64>,
        chunk: usize,
        each: &mut dyn FnMut(Vec<EventRow>) -> bool,
    ) -> Result<u64, StoreError> {
        scan::scan_events(&*self.readers.get()?, from_ms, to_ms, chunk, each)
    }

    /// Deletes events and dead letters older than `now_ms - max_age_ms`, then the oldest
    /// events until [`Store::size_bytes`] is at most `max_bytes` (or no event is left),
    /// and returns the freed space to the file system. Alerts stay.
    pub fn apply_retention(&self, policy: &Retention, now_ms: i64) -> Result<RetentionReport, StoreError> {
        retention::apply_retention(self, policy, now_ms)
    }

    /// Rows per table (events, alerts, dead_letters), for metrics and tests.
    pub fn counts(&self) -> Result<(u64, u64, u64), StoreError> {
        query::counts(&*self.readers.get()?)
    }

    /// Committed events the background indexer has not added to the full-text index
    /// yet: how far behind it is. (A search indexes them first, so they are never
    /// missing from results; a large, growing backlog makes searches slow.)
    pub fn full_text_backlog(&self) -> Result<u64, StoreError> {
        query::full_text_backlog(&*self.readers.get()?)
    }

    /// Size of the store's files on disk: the event database, the full-text index and
    /// the alerts, each with its WAL.
    pub fn size_bytes(&self) -> Result<u64, StoreError> {
        let mut total = 0;
        for path in [&self.db_path, &self.fts_path, &self.alerts_path] {
            let mut wal = path.as_os_str().to_owned();
            wal.push("-wal");
            total += file_len(path)? + file_len(Path::new(&wal))?;
        }
        Ok(total)
    }

    /// Folds the alert file's WAL into it and empties the WAL; used by retention.
    pub(crate) fn fold_alert_wal(&self) -> Result<bool, StoreError> {
        retention::truncate_wal(&self.alert_writer)
    }

    /// The full-text index; used by retention.
    pub(crate) fn fts(&self) -> &fts::FtsIndex {
        &self.fts
    }

    /// The writer connection; also used by retention.
    pub(crate) fn writer(&self) -> MutexGuard<'_, Connection> {
        lock(&self.writer)
    }
}

fn file_len(path: &Path) -> Result<u64, StoreError> {
    match std::fs::metadata(path) {
        Ok(metadata) => Ok(metadata.len()),
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(err) => Err(err.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(event_id: &str, time_ms: i64) -> NewEvent {
        NewEvent {
            event_id: event_id.to_string(),
            time_ms,
            received_ms: time_ms,
            source: "syslog".into(),
            origin: "stdin".into(),
            class_uid: None,
            host: None,
            src_ip: None,
            user: None,
            ocsf: "{}".into(),
            raw: format!("record {event_id}"),
        }
    }

    #[test]
    fn reads_do_not_wait_for_an_open_write_transaction() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store.write_batch(&WriteBatch { events: vec![event("committed", 1)], ..WriteBatch::default() }).unwrap();

        let mut writer = store.writer();
        let tx = writer.transaction().unwrap();
        tx.execute(
            "INSERT INTO events (event_id, time_ms, received_ms, source, origin, ocsf, raw)
             VALUES ('pending', 2, 2, 's', 'o', '{}', 'r')",
            [],
        )
        .unwrap();
        // Same thread, writer mutex held, write transaction open: a read that needed
        // either would never return.
        let page = store.events(&EventQuery::default()).unwrap();
        assert_eq!(page.items.iter().map(|e| e.event_id.as_str()).collect::<Vec<_>>(), ["committed"]);
        tx.commit().unwrap();
        drop(writer);
        assert_eq!(store.events(&EventQuery::default()).unwrap().items.len(), 2);
    }

    #[test]
    fn size_counts_every_database_and_its_wal() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        store.write_batch(&WriteBatch { events: vec![event("e", 1)], ..WriteBatch::default() }).unwrap();
        let on_disk =
            ["vigil.db", "vigil.db-wal", "vigil-fts.db", "vigil-fts.db-wal", "vigil-alerts.db", "vigil-alerts.db-wal"]
                .iter()
                .map(|name| std::fs::metadata(dir.path().join(name)).map(|m| m.len()).unwrap_or(0))
                .sum::<u64>();
        assert!(on_disk > 0);
        assert_eq!(store.size_bytes().unwrap(), on_disk);
    }
}
