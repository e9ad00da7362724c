//! The SQLite store: one writer thread that group-commits, a small pool of
//! reader connections, and the numbered migrations.
//!
//! Every rusqlite call runs off the async runtime: writes on the writer
//! thread, reads on `spawn_blocking` with a pooled read connection.

mod checkpoint;
mod queries;
mod readers;
mod schema;
mod tunnels;
mod writer;

use std::path::Path;
use std::sync::Arc;

use rusqlite::Connection;
use uuid::Uuid;

pub use queries::{Cursor, ListQuery, Page};
use readers::Readers;
use writer::Writer;

use crate::model::{Bin, CapturedRequest, Delivery, Millis, NewRequest, ResponseConfig};

/// What can go wrong below the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row did not decode (a JSON column edited by hand, say).
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The writer thread or a reader task is gone: the server is stopping.
    #[error("the store is shut down")]
    Closed,
}

/// Store limits applied by the writer on every capture.
#[derive(Debug, Clone, Copy)]
pub struct StoreLimits {
    /// A bin keeps at most this many of its newest requests; 0 = no cap.
    pub max_requests_per_bin: u64,
}

/// Cheap, cloneable handle to the database (shallow: clones share the
/// writer thread and the reader pool).
#[derive(Clone)]
pub struct Store {
    writer: Writer,
    readers: Arc<Readers>,
    _checkpointer: Arc<checkpoint::Checkpointer>,
}

/// How many read connections run queries at once: enough for the inspector
/// and the API on a small machine without starving the writer of CPU.
const READERS: usize = 4;

impl Store {
    /// Opens (creating if needed) the database at `path`, runs pending
    /// migrations and starts the writer thread. Also returns the writer
    /// thread's handle so the caller can wait for it to drain at shutdown.
    pub fn open(
        path: &Path,
        limits: StoreLimits,
    ) -> Result<(Self, std::thread::JoinHandle<()>), StoreError> {
        let mut conn = Connection::open(path)?;
        schema::configure(&conn)?;
        schema::migrate(&mut conn)?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            checkpoint::WRITER_FALLBACK_PAGES,
        )?;
        let checkpointer = checkpoint::Checkpointer::start(path)?;
        let readers = Readers::open(path, READERS)?;
        let (writer, join) = Writer::start(conn, limits);
        Ok((
            Self {
                writer,
                readers: Arc::new(readers),
                _checkpointer: Arc::new(checkpointer),
            },
            join,
        ))
    }

    /// Stores a captured request; resolves once its transaction committed.
    /// `None` when the bin does not exist (deleted since it was looked up).
    /// `on_id` runs with the new id inside the transaction, before any
    /// reader can see the row: the tunnel uses it to await the answer of a
    /// request no tunnel can have picked up yet.
    pub async fn capture(
        &self,
        req: NewRequest,
        on_id: impl FnOnce(i64) + Send + 'static,
    ) -> Result<Option<i64>, StoreError> {
        // Serialised here, on the caller's thread, to keep the writer's
        // share of each capture small.
        let headers = queries::to_json(&req.headers)?;
        let signature = req.signature.as_ref().map(queries::to_json).transpose()?;
        self.writer
            .run(move |tx, state| {
                let id = writer::insert_request(tx, state, &req, &headers, signature.as_deref())?;
                if let Some(id) = id {
                    on_id(id);
                }
                Ok(id)
            })
            .await
    }

    /// Registers a tunnel name on a bin; returns the id up to which it has
    /// had every request (see `tunnels::open_tunnel`).
    pub async fn open_tunnel(
        &self,
        bin: Uuid,
        name: String,
        from_start: bool,
    ) -> Result<i64, StoreError> {
        self.writer
            .run(move |tx, _| tunnels::open_tunnel(tx, bin, &name, from_start))
            .await
    }

    /// Requests after `after` that tunnel `name` has not had, oldest first.
    pub async fn pending(
        &self,
        bin: Uuid,
        name: String,
        after: i64,
        limit: usize,
    ) -> Result<Vec<CapturedRequest>, StoreError> {
        self.readers
            .run(move |c| tunnels::pending(c, bin, &name, after, limit))
            .await
    }

    /// Stores a delivery and moves the tunnel's position to `through`.
    pub async fn record_delivery(
        &self,
        bin: Uuid,
        request_id: i64,
        delivery: Delivery,
        through: Option<i64>,
    ) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| tunnels::record_delivery(tx, bin, request_id, &delivery, through))
            .await
    }

    /// Creates a bin with the default response.
    pub async fn create_bin(&self, bin: Bin) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| queries::insert_bin(tx, &bin))
            .await
    }

    /// Replaces a bin's response; false when the bin does not exist.
    pub async fn set_response(&self, id: Uuid, resp: ResponseConfig) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| queries::update_response(tx, id, &resp))
            .await
    }

    /// Replaces a bin's verification secrets; false when the bin does not
    /// exist.
    pub async fn set_secrets(
        &self,
        id: Uuid,
        secrets: crate::verify::Secrets,
    ) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| queries::update_secrets(tx, id, &secrets))
            .await
    }

    /// Stores re-checked signatures of requests.
    pub async fn set_signatures(
        &self,
        checked: Vec<(i64, Option<crate::verify::Signature>)>,
    ) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| queries::update_signatures(tx, &checked))
            .await
    }

    /// Deletes a bin and its requests; false when it did not exist.
    pub async fn delete_bin(&self, id: Uuid) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, state| {
                state.forget(id);
                queries::delete_bin(tx, id)
            })
            .await
    }

    /// Deletes one request, or all of a bin's; returns how many went.
    pub async fn delete_requests(&self, bin: Uuid, id: Option<i64>) -> Result<usize, StoreError> {
        self.writer
            .run(move |tx, state| {
                state.forget(bin);
                queries::delete_requests(tx, bin, id)
            })
            .await
    }

    /// Deletes up to `batch` requests received before `cutoff`; returns how
    /// many went. Called in a loop so one purge never holds the writer long.
    pub async fn purge_before(&self, cutoff: Millis, batch: usize) -> Result<usize, StoreError> {
        self.writer
            .run(move |tx, state| {
                let n = queries::purge_before(tx, cutoff, batch)?;
                if n > 0 {
                    state.forget_all();
                }
                Ok(n)
            })
            .await
    }

    /// One bin, if it exists.
    pub async fn bin(&self, id: Uuid) -> Result<Option<Bin>, StoreError> {
        self.readers.run(move |c| queries::bin(c, id)).await
    }

    /// The most recently created bins, newest first.
    pub async fn recent_bins(&self, limit: usize) -> Result<Vec<(Bin, u64)>, StoreError> {
        self.readers
            .run(move |c| queries::recent_bins(c, limit))
            .await
    }

    /// A page of a bin's requests.
    pub async fn list_requests(&self, q: ListQuery) -> Result<Page, StoreError> {
        self.readers.run(move |c| queries::list_full(c, &q)).await
    }

    /// One request of a bin.
    pub async fn request(&self, bin: Uuid, id: i64) -> Result<Option<CapturedRequest>, StoreError> {
        self.readers
            .run(move |c| queries::request(c, bin, id))
            .await
    }

    /// How many requests a bin holds.
    pub async fn count(&self, bin: Uuid) -> Result<u64, StoreError> {
        self.readers.run(move |c| queries::count(c, bin)).await
    }

    /// Requests waiting for delivery, over every tunnel name ever connected
    /// (a stopped laptop's backlog counts).
    pub async fn tunnel_backlog(&self) -> Result<u64, StoreError> {
        self.readers
            .run(|c| {
                Ok(c.query_row(
                    "SELECT COUNT(*) FROM tunnels t JOIN requests r
                       ON r.bin_id = t.bin_id AND r.id > t.delivered_through",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
    }

    /// Body bytes stored by all bins.
    pub async fn stored_bytes(&self) -> Result<u64, StoreError> {
        self.readers
            .run(|c| {
                Ok(c.query_row(
                    "SELECT COALESCE(SUM(length(body)), 0) FROM requests",
                    [],
                    |r| r.get(0),
                )?)
            })
            .await
    }

    /// True when a read query succeeds: what `/healthz` reports.
    pub async fn healthy(&self) -> bool {
        self.readers
            .run(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .is_ok()
    }
}
