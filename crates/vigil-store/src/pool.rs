//! Read-only connections, checked out per query and returned afterwards, so API reads
//! never wait for the writer's mutex.

use std::ops::{Deref, DerefMut};
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};

use rusqlite::Connection;

use crate::schema::open_reader;
use crate::StoreError;

/// Idle readers kept open; more may exist while many queries run at once.
const MAX_IDLE_READERS: usize = 4;

pub(crate) struct ReaderPool {
    db_path: PathBuf,
    fts_path: PathBuf,
    alerts_path: PathBuf,
    idle: Mutex<Vec<Connection>>,
}

impl ReaderPool {
    pub(crate) fn new(db_path: PathBuf, fts_path: PathBuf, alerts_path: PathBuf) -> ReaderPool {
        ReaderPool { db_path, fts_path, alerts_path, idle: Mutex::new(Vec::new()) }
    }

    pub(crate) fn get(&self) -> Result<PooledReader<'_>, StoreError> {
        let idle = lock(&self.idle).pop();
        let conn = match idle {
            Some(conn) => conn,
            None => open_reader(&self.db_path, &self.fts_path, &self.alerts_path)?,
        };
        Ok(PooledReader { pool: self, conn: Some(conn) })
    }
}

pub(crate) struct PooledReader<'a> {
    pool: &'a ReaderPool,
    conn: Option<Connection>,
}

impl Deref for PooledReader<'_> {
    type Target = Connection;
    fn deref(&self) -> &Connection {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl DerefMut for PooledReader<'_> {
    fn deref_mut(&mut self) -> &mut Connection {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for PooledReader<'_> {
    fn drop(&mut self) {
        let Some(conn) = self.conn.take() else { return };
        // A connection left inside a transaction (a panic mid-read) would pin an old
        // snapshot forever; let it close instead.
        if !conn.is_autocommit() {
            return;
        }
        let mut idle = lock(&self.pool.idle);
        if idle.len() < MAX_IDLE_READERS {
            idle.push(conn);
        }
    }
}

/// A poisoned mutex only means a panic elsewhere; rusqlite rolls back an unfinished
/// transaction when it unwinds, so the connection inside is still sound.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
