//! A fixed pool of read-only connections used from `spawn_blocking`, so
//! reads never block the async runtime nor wait behind the writer (WAL).

use std::path::Path;
use std::sync::Mutex;

use rusqlite::{Connection, OpenFlags};
use tokio::sync::Semaphore;

use super::StoreError;

pub(super) struct Readers {
    /// Idle connections. A std mutex: held only to push or pop, never
    /// across an `.await`.
    idle: Mutex<Vec<Connection>>,
    /// One permit per connection, so a popped connection always exists.
    permits: Semaphore,
}

impl Readers {
    pub(super) fn open(path: &Path, n: usize) -> Result<Self, StoreError> {
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conns = (0..n)
            .map(|_| {
                let c = Connection::open_with_flags(path, flags)?;
                c.busy_timeout(std::time::Duration::from_secs(5))?;
                Ok(c)
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(Self {
            idle: Mutex::new(conns),
            permits: Semaphore::new(n),
        })
    }

    /// Runs `f` with a read connection on the blocking thread pool.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, StoreError> + Send + 'static,
    {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| StoreError::Closed)?;
        let conn = self
            .idle
            .lock()
            .map_err(|_| StoreError::Closed)?
            .pop()
            .ok_or(StoreError::Closed)?;
        let (conn, out) = tokio::task::spawn_blocking(move || {
            let out = f(&conn);
            (conn, out)
        })
        .await
        .map_err(|_| StoreError::Closed)?;
        self.idle.lock().map_err(|_| StoreError::Closed)?.push(conn);
        out
    }
}
