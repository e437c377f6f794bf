//! Persistence of polling (ETL) jobs: the `etl_jobs` table. The job runner (vigil-etl)
//! owns the meaning of `spec` and `watermark` (JSON texts); the store only keeps them.

use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::{Store, StoreError};

/// Most jobs [`Store::etl_jobs`] returns (newest first), so a table grown by many
/// start / stop cycles cannot make a status call unbounded.
pub const MAX_LISTED_ETL_JOBS: usize = 10_000;

/// One stored job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EtlJobRow {
    pub job_id: String,
    pub kind: String,
    /// The start request, JSON text.
    pub spec: String,
    /// `running`, `stopped` or `failed`.
    pub state: String,
    /// Kind-specific position, JSON text.
    pub watermark: String,
    pub rows_read: u64,
    pub last_error: Option<String>,
    pub created_ms: i64,
    pub updated_ms: i64,
}

const JOB_COLUMNS: &str = "job_id, kind, spec, state, watermark, rows_read, last_error, created_ms, updated_ms";

fn job_row(row: &Row<'_>) -> rusqlite::Result<EtlJobRow> {
    let rows_read: i64 = row.get(5)?;
    Ok(EtlJobRow {
        job_id: row.get(0)?,
        kind: row.get(1)?,
        spec: row.get(2)?,
        state: row.get(3)?,
        watermark: row.get(4)?,
        rows_read: u64::try_from(rows_read).unwrap_or(0),
        last_error: row.get(6)?,
        created_ms: row.get(7)?,
        updated_ms: row.get(8)?,
    })
}

fn clamp_count(count: u64) -> i64 {
    i64::try_from(count).unwrap_or(i64::MAX)
}

impl Store {
    /// Stores a new job with no rows read and no error, created and updated at `now_ms`.
    /// Fails when `job_id` exists.
    pub fn insert_etl_job(
        &self,
        job_id: &str,
        kind: &str,
        spec: &str,
        state: &str,
        watermark: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        self.writer()
            .prepare_cached(
                "INSERT INTO etl_jobs (job_id, kind, spec, state, watermark, rows_read, last_error, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, 0, NULL, ?6, ?6)",
            )?
            .execute(params![job_id, kind, spec, state, watermark, now_ms])?;
        Ok(())
    }

    /// Sets a job's progress and state. Returns false when no such job is stored.
    pub fn update_etl_job(
        &self,
        job_id: &str,
        state: &str,
        watermark: &str,
        rows_read: u64,
        last_error: Option<&str>,
        updated_ms: i64,
    ) -> Result<bool, StoreError> {
        let changed = self
            .writer()
            .prepare_cached(
                "UPDATE etl_jobs SET state = ?2, watermark = ?3, rows_read = ?4, last_error = ?5, updated_ms = ?6
                 WHERE job_id = ?1",
            )?
            .execute(params![job_id, state, watermark, clamp_count(rows_read), last_error, updated_ms])?;
        Ok(changed > 0)
    }

    /// Sets only a job's state (an explicit stop), keeping its progress.
    pub fn set_etl_job_state(&self, job_id: &str, state: &str, updated_ms: i64) -> Result<bool, StoreError> {
        let changed = self
            .writer()
            .prepare_cached("UPDATE etl_jobs SET state = ?2, updated_ms = ?3 WHERE job_id = ?1")?
            .execute(params![job_id, state, updated_ms])?;
        Ok(changed > 0)
    }

    /// Jobs newest first (by `created_ms`, then id), at most [`MAX_LISTED_ETL_JOBS`].
    pub fn etl_jobs(&self) -> Result<Vec<EtlJobRow>, StoreError> {
        list_jobs(&*self.readers.get()?)
    }

    pub fn etl_job(&self, job_id: &str) -> Result<Option<EtlJobRow>, StoreError> {
        let conn = self.readers.get()?;
        let job = conn
            .prepare_cached(&format!("SELECT {JOB_COLUMNS} FROM etl_jobs WHERE job_id = ?1"))?
            .query_row([job_id], job_row)
            .optional()?;
        Ok(job)
    }
}

fn list_jobs(conn: &Connection) -> Result<Vec<EtlJobRow>, StoreError> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {JOB_COLUMNS} FROM etl_jobs ORDER BY created_ms DESC, job_id DESC LIMIT ?1"
    ))?;
    let rows = statement.query_map([MAX_LISTED_ETL_JOBS as i64], job_row)?;
    Ok(rows.collect::<Result<Vec<_>, _>>()?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::StoreOptions;

    fn insert(store: &Store, job_id: &str, created_ms: i64) -> Result<(), StoreError> {
        store.insert_etl_job(
            job_id,
            "pixie",
            r#"{"tablename":"http_events"}"#,
            "running",
            r#"{"time_ns":5}"#,
            created_ms,
        )
    }

    #[test]
    fn jobs_round_trip_and_update() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        insert(&store, "a", 1).unwrap();
        insert(&store, "b", 2).unwrap();
        assert!(insert(&store, "a", 3).is_err(), "a duplicate id is refused");

        assert!(store.update_etl_job("a", "running", r#"{"time_ns":9}"#, 7, Some("boom"), 10).unwrap());
        assert!(!store.update_etl_job("missing", "running", "{}", 0, None, 10).unwrap());
        assert!(store.set_etl_job_state("b", "stopped", 11).unwrap());

        let a = store.etl_job("a").unwrap().unwrap();
        assert_eq!((a.watermark.as_str(), a.rows_read, a.last_error.as_deref()), (r#"{"time_ns":9}"#, 7, Some("boom")));
        assert_eq!((a.created_ms, a.updated_ms), (1, 10));
        let b = store.etl_job("b").unwrap().unwrap();
        assert_eq!((b.state.as_str(), b.watermark.as_str()), ("stopped", r#"{"time_ns":5}"#));
        assert_eq!(store.etl_job("missing").unwrap(), None);

        let ids: Vec<String> = store.etl_jobs().unwrap().into_iter().map(|j| j.job_id).collect();
        assert_eq!(ids, ["b", "a"]);
    }

    #[test]
    fn hostile_text_is_stored_verbatim() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
        let id = "x'); DROP TABLE etl_jobs; --";
        insert(&store, id, 1).unwrap();
        assert!(store.update_etl_job(id, "failed", "{}", 1, Some("'\"\\\0"), 2).unwrap());
        let stored = store.etl_job(id).unwrap().unwrap();
        assert_eq!((stored.job_id.as_str(), stored.last_error.as_deref()), (id, Some("'\"\\\0")));
        assert_eq!(store.etl_jobs().unwrap().len(), 1);
    }
}
