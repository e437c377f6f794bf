//! Opening connections and migrating the schema (`PRAGMA user_version` is the version).

use std::path::Path;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags};

use crate::StoreError;

/// How long a connection waits for another one's lock before giving up with `SQLITE_BUSY`.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Statements each connection keeps prepared; event queries vary with their filters.
const STATEMENT_CACHE: usize = 64;

/// Migrations, in order; migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    MIGRATION_1,
    MIGRATION_2,
    crate::honeypot::HONEYPOT_MIGRATION,
    MIGRATION_4,
    MIGRATION_5,
    MIGRATION_6,
    MIGRATION_7,
];

/// The version this build writes.
pub(crate) const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// Per-source reads (`GET /tetragon`, honeypot analytics), polling jobs and imported
/// STIX objects.
const MIGRATION_2: &str = r#"
CREATE INDEX events_source_time ON events(source, time_ms);
-- Alerts of an event (`fetch-stix` looks them up by event).
CREATE INDEX alert_events_event ON alert_events(event_id);

-- Polling (ETL) jobs; rows survive restarts so a job resumes from its watermark.
CREATE TABLE etl_jobs (
    job_id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL,
    -- The start request as JSON text.
    spec TEXT NOT NULL,
    -- running | stopped | failed
    state TEXT NOT NULL,
    -- Kind-specific position (a time in ns for Pixie, file offsets for files), JSON text.
    watermark TEXT NOT NULL,
    rows_read INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- STIX objects imported from outside (validated bundles), one row per object version.
CREATE TABLE stix_objects (
    id INTEGER PRIMARY KEY,
    stix_id TEXT NOT NULL,
    stix_type TEXT NOT NULL,
    -- `modified` (or `created`, for objects without one) as the object states it.
    version TEXT NOT NULL,
    added_ms INTEGER NOT NULL,
    object TEXT NOT NULL
);
CREATE UNIQUE INDEX stix_objects_version ON stix_objects(stix_id, version);
CREATE INDEX stix_objects_added ON stix_objects(added_ms);
"#;

/// Full-text indexing moves to a background indexer (see `fts.rs`): `indexed_to` is the
/// highest event id already in `events_fts`. Every event of an existing store was
/// indexed by its writer, so the mark starts at the newest one.
const MIGRATION_4: &str = r#"
CREATE TABLE fts_progress (
    only_row INTEGER PRIMARY KEY CHECK (only_row = 0),
    indexed_to INTEGER NOT NULL
);
INSERT INTO fts_progress (only_row, indexed_to) SELECT 0, coalesce(max(id), 0) FROM events;
-- An event the indexer has not reached has no FTS row to delete.
DROP TRIGGER events_fts_delete;
CREATE TRIGGER events_fts_delete AFTER DELETE ON events
WHEN old.id <= (SELECT indexed_to FROM fts_progress) BEGIN
    DELETE FROM events_fts WHERE rowid = old.id;
END;
"#;

/// The full-text index moves to a file of its own (`fts.rs` says why); it is rebuilt
/// there by the background indexer, from the first event.
const MIGRATION_5: &str = r#"
DROP TRIGGER IF EXISTS events_fts_delete;
DROP TABLE IF EXISTS events_fts;
DROP TABLE IF EXISTS fts_progress;
"#;

/// Lookups by event id move to a map in the index file (`fts.rs` says why), which the
/// background indexer fills from the first event.
const MIGRATION_6: &str = r#"
DROP INDEX IF EXISTS events_event_id;
"#;

/// Alerts move to a file of their own (alert_file.rs says why). Moving rows between
/// files needs ATTACH, which a migration's transaction cannot do, so
/// `alert_file::move_out_of_event_database` does it when the store opens; this version
/// only keeps older builds, which would look for the alerts here, from opening the store.
const MIGRATION_7: &str = "";

const MIGRATION_1: &str = r#"
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    event_id TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    received_ms INTEGER NOT NULL,
    source TEXT NOT NULL,
    origin TEXT NOT NULL,
    class_uid INTEGER,
    host TEXT,
    src_ip TEXT,
    user TEXT,
    ocsf TEXT NOT NULL,
    raw TEXT NOT NULL
);
CREATE UNIQUE INDEX events_event_id ON events(event_id);
CREATE INDEX events_time ON events(time_ms);
CREATE INDEX events_class_time ON events(class_uid, time_ms);
CREATE INDEX events_host_time ON events(host, time_ms);
CREATE INDEX events_src_ip_time ON events(src_ip, time_ms);
CREATE INDEX events_user_time ON events(user, time_ms);

-- Contentless: the text lives in `events.raw` only. `contentless_delete` lets retention
-- remove a row by rowid without handing the original text back to FTS5.
-- Rows are added by the writer, not by an INSERT trigger: a trigger makes every event
-- INSERT open a statement savepoint, and FTS5 flushes its pending terms to a new segment
-- at each savepoint, i.e. once per event (measured: half the write throughput). Deletes
-- (retention, one statement per chunk) go through a trigger, so no path can miss them.
CREATE VIRTUAL TABLE events_fts USING fts5(raw, content='', contentless_delete=1);
CREATE TRIGGER events_fts_delete AFTER DELETE ON events BEGIN
    DELETE FROM events_fts WHERE rowid = old.id;
END;

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    alert_id TEXT NOT NULL,
    rule_id TEXT NOT NULL,
    rule_title TEXT NOT NULL,
    level TEXT NOT NULL,
    tags TEXT NOT NULL,
    group_key TEXT NOT NULL,
    status TEXT NOT NULL,
    first_seen_ms INTEGER NOT NULL,
    last_seen_ms INTEGER NOT NULL,
    count INTEGER NOT NULL,
    host TEXT,
    src_ip TEXT,
    user TEXT,
    details TEXT NOT NULL
);
CREATE UNIQUE INDEX alerts_alert_id ON alerts(alert_id);
CREATE INDEX alerts_last_seen ON alerts(last_seen_ms);
CREATE INDEX alerts_first_seen ON alerts(first_seen_ms);
CREATE INDEX alerts_rule_last_seen ON alerts(rule_id, last_seen_ms);
CREATE INDEX alerts_status_last_seen ON alerts(status, last_seen_ms);

-- Linked events in link order (rowid); the unique index also serves lookups per alert.
CREATE TABLE alert_events (
    alert_id TEXT NOT NULL,
    event_id TEXT NOT NULL
);
CREATE UNIQUE INDEX alert_events_link ON alert_events(alert_id, event_id);

CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY,
    received_ms INTEGER NOT NULL,
    origin TEXT NOT NULL,
    position INTEGER NOT NULL,
    reason TEXT NOT NULL,
    message TEXT NOT NULL,
    decoder TEXT,
    raw TEXT NOT NULL
);
CREATE INDEX dead_letters_received ON dead_letters(received_ms);

CREATE TABLE checkpoints (
    "key" TEXT PRIMARY KEY NOT NULL,
    location TEXT NOT NULL,
    "offset" INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);

-- Row counts kept by the store itself: count(*) over millions of events is a full index scan.
CREATE TABLE totals (
    name TEXT PRIMARY KEY NOT NULL,
    n INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO totals(name, n) VALUES ('events', 0), ('alerts', 0), ('dead_letters', 0);
"#;

/// The writer: WAL, `synchronous=NORMAL`, and the schema migrated to [`SCHEMA_VERSION`].
///
/// NORMAL in WAL mode means a commit appends to the WAL without an fsync; the WAL is
/// synced at each checkpoint. A committed transaction therefore survives the process
/// dying (kill -9, a panic: the data is in the OS page cache) and the database is never
/// corrupted, but an OS crash or power cut may roll back the last commits. That keeps
/// the checkpoint invariant: a source checkpoint is written in the same transaction as
/// the events it covers, so a lost commit loses both, and the source re-reads from the
/// older checkpoint (at-least-once, as after any crash). What it does lose on power
/// failure is HTTP-pushed events from those commits — which were acknowledged when
/// queued, before any commit, so FULL never made them durable either. One fsync per
/// commit was what kept small, frequent commits (low alert latency) expensive.
pub(crate) fn open_writer(db_path: &Path) -> Result<Connection, StoreError> {
    // No automatic checkpoints: SQLite would run them inside whichever commit crosses
    // the threshold, copying up to the whole WAL into the database and syncing it while
    // the pipeline waits for that commit. The store's checkpointer thread does it beside
    // the writer instead (checkpoint.rs).
    // Page caches: 16 MiB here, 8 MiB for the index and each reader. Twice that made
    // no difference to throughput or alert latency (file -> store over 525k records,
    // 20k events/s over HTTP; the OS page cache serves the rest) but cost ~30-45 MB
    // of RSS once the caches had filled.
    let mut conn = open_wal_file(
        db_path,
        WalFile { what: "the store", page_size: EVENT_PAGE_SIZE, cache_kib: 16384, automatic_checkpoints: false },
    )?;
    // A hand-over of 10k events dirties ~30 MB of pages, more than the cache holds:
    // SQLite then spilled pages to the WAL mid-transaction and wrote the index pages
    // that changed again a second time at commit. Without spilling the cache grows for
    // the transaction and shrinks back after (every transaction on this connection is
    // bounded: hand-overs, retention's 5,000-row chunks). daemon-file.sh 20000 30, 3
    // alternating pairs: 48.0 / 50.0 / 48.8k -> 51.4 / 53.1 / 54.3k events/s stored,
    // RSS 228-233 vs 216-236 MB.
    conn.execute_batch("PRAGMA cache_spill = OFF;")?;
    migrate(&mut conn)?;
    Ok(conn)
}

/// Page size of the event database and the full-text index: 16 KiB (rather than 4)
/// wrote events ~1.5x faster in our measurements: fewer WAL frames and B-tree splits
/// per event.
const EVENT_PAGE_SIZE: u32 = 16384;

/// Page size of the alert file: its commits are a few small rows scattered over seven
/// indexes, and every page one touches is a whole WAL frame.
const ALERT_PAGE_SIZE: u32 = 4096;

/// How one of the store's files is opened.
struct WalFile {
    /// Names the file in errors.
    what: &'static str,
    /// Takes effect only when the file is created.
    page_size: u32,
    cache_kib: u32,
    /// False when a checkpointer thread of the store's runs them (checkpoint.rs).
    automatic_checkpoints: bool,
}

/// A read-write connection to one of the store's files, created when absent, in WAL
/// mode with `synchronous=NORMAL` (see [`open_writer`]), temporary tables in memory and
/// the WAL cut back to 64 MiB after a restart.
fn open_wal_file(path: &Path, file: WalFile) -> Result<Connection, StoreError> {
    let WalFile { what, page_size, cache_kib, automatic_checkpoints } = file;
    let conn = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // Both only take effect before the first table exists, hence first. Without
    // incremental auto-vacuum deleted pages are never given back to the file system.
    if is_fresh(&conn)? {
        // The value is our own integer (PRAGMA takes no parameters).
        conn.execute_batch(&format!("PRAGMA page_size = {page_size}; PRAGMA auto_vacuum = INCREMENTAL;"))?;
    }
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::Io(std::io::Error::other(format!("cannot switch {what} to WAL (mode is {mode})"))));
    }
    // The values are our own integers (PRAGMA takes no parameters).
    conn.execute_batch(&format!(
        "PRAGMA synchronous = NORMAL;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -{cache_kib};
         PRAGMA journal_size_limit = 67108864;"
    ))?;
    if !automatic_checkpoints {
        conn.execute_batch("PRAGMA wal_autocheckpoint = 0;")?;
    }
    Ok(conn)
}

/// A second read-write connection to the event database, for the checkpointer: WAL
/// checkpoints run on it without the writer's mutex.
pub(crate) fn open_checkpointer(db_path: &Path) -> Result<Connection, StoreError> {
    let conn =
        Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.execute_batch("PRAGMA synchronous = NORMAL; PRAGMA wal_autocheckpoint = 0;")?;
    Ok(conn)
}

/// The full-text index file (fts.rs): WAL, `synchronous=NORMAL` like the event
/// database; its own automatic checkpoints are fine, they run in the indexer's thread.
pub(crate) fn open_index_file(fts_path: &Path) -> Result<Connection, StoreError> {
    open_wal_file(
        fts_path,
        WalFile {
            what: "the full-text index",
            page_size: EVENT_PAGE_SIZE,
            cache_kib: 8192,
            automatic_checkpoints: true,
        },
    )
}

/// The alert file's writer (alert_file.rs): WAL, `synchronous=NORMAL` like the event
/// database, and no automatic checkpoints either: its own checkpointer thread runs them.
pub(crate) fn open_alert_file(path: &Path) -> Result<Connection, StoreError> {
    open_wal_file(
        path,
        WalFile {
            what: "the alert database",
            page_size: ALERT_PAGE_SIZE,
            cache_kib: 4096,
            automatic_checkpoints: false,
        },
    )
}

/// `path` as UTF-8, which ATTACH needs.
pub(crate) fn utf8(path: &Path) -> Result<&str, StoreError> {
    path.to_str()
        .ok_or_else(|| StoreError::Io(std::io::Error::other(format!("store path {} is not UTF-8", path.display()))))
}

/// A reader: read-only, so it can never take the write lock; WAL lets it read while
/// the writer commits.
/// The full-text index is attached as `fts` and the alert file as `alert_file`
/// (read-only too: a reader's attachments share its flags); the alert tables are named
/// without their schema, as no other file has tables of those names.
pub(crate) fn open_reader(db_path: &Path, fts_path: &Path, alerts_path: &Path) -> Result<Connection, StoreError> {
    let conn =
        Connection::open_with_flags(db_path, OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    conn.execute_batch("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -8192;")?;
    conn.execute("ATTACH DATABASE ?1 AS fts", [utf8(fts_path)?])?;
    conn.execute("ATTACH DATABASE ?1 AS alert_file", [utf8(alerts_path)?])?;
    Ok(conn)
}

fn is_fresh(conn: &Connection) -> Result<bool, StoreError> {
    let tables: i64 = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
    Ok(tables == 0)
}

fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    if version > SCHEMA_VERSION {
        return Err(StoreError::Io(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            format!("store schema version {version} is newer than this build's {SCHEMA_VERSION}"),
        )));
    }
    let pending = usize::try_from(version).unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(pending) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        tx.execute_batch(sql)?;
        // PRAGMA takes no parameters; the value is our own integer.
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_database_is_incremental_wal_and_current() {
        let dir = tempfile::tempdir().unwrap();
        let conn = open_writer(&dir.path().join("vigil.db")).unwrap();
        let auto_vacuum: i64 = conn.query_row("PRAGMA auto_vacuum", [], |r| r.get(0)).unwrap();
        assert_eq!(auto_vacuum, 2, "incremental");
        let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
        assert_eq!(mode, "wal");
        let page_size: i64 = conn.query_row("PRAGMA page_size", [], |r| r.get(0)).unwrap();
        assert_eq!(page_size, 16384);
        let synchronous: i64 = conn.query_row("PRAGMA synchronous", [], |r| r.get(0)).unwrap();
        assert_eq!(synchronous, 1, "NORMAL");
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0)).unwrap();
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn migrating_twice_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.db");
        drop(open_writer(&path).unwrap());
        let conn = open_writer(&path).unwrap();
        let totals: i64 = conn.query_row("SELECT count(*) FROM totals", [], |r| r.get(0)).unwrap();
        assert_eq!(totals, 3, "the alerts' row goes only when the store moves them (alert_file.rs)");
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("vigil.db");
        let conn = open_writer(&path).unwrap();
        conn.execute_batch(&format!("PRAGMA user_version = {}", SCHEMA_VERSION + 1)).unwrap();
        drop(conn);
        assert!(matches!(open_writer(&path), Err(StoreError::Io(_))));
    }
}
