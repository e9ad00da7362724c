//! WAL checkpoints on their own thread and connection. Left to SQLite's
//! automatic checkpoint, they run inside a capture's commit on the writer
//! thread, with an fsync: every few thousand captures, one batch would
//! wait milliseconds. A passive checkpoint here never blocks the writer.

use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

use rusqlite::Connection;

use super::StoreError;

/// How often the WAL is copied back into the database file.
const EVERY: Duration = Duration::from_millis(200);

/// WAL pages after which the writer checkpoints by itself all the same: a
/// bound on the WAL should this thread fall behind.
pub(super) const WRITER_FALLBACK_PAGES: u32 = 16_384;

/// Stops the checkpointer when dropped (after a last checkpoint).
pub(super) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(super) fn start(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(Duration::from_secs(5))?;
        let (tx, rx) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("hookwire-checkpoint".into())
            .spawn(move || {
                loop {
                    let stopping = matches!(
                        rx.recv_timeout(EVERY),
                        Err(mpsc::RecvTimeoutError::Disconnected)
                    );
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))
                    {
                        tracing::warn!(error = %e, "WAL checkpoint failed");
                    }
                    if stopping {
                        return;
                    }
                }
            })
            .map_err(|e| StoreError::Thread(format!("the checkpointer: {e}")))?;
        Ok(Self { _stop: tx })
    }
}
