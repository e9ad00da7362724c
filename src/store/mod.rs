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

use rusqlite::{Connection, OptionalExtension as _};
use uuid::Uuid;

pub use queries::{Cursor, ListQuery, Page};
use readers::Readers;
use writer::Writer;

use crate::config::Durability;
use crate::model::{Bin, CapturedRequest, Delivery, NewRequest, ResponseConfig};
use crate::time::Millis;
use crate::verify::{Secrets, Signature};

/// What can go wrong below the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// A stored row did not decode (a JSON column edited by hand, say), or
    /// a value did not encode.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    /// The batch transaction holding the write did not commit.
    #[error("commit failed: {0}")]
    CommitFailed(String),
    /// The database was written by a newer hookwire.
    #[error("{0}")]
    Schema(String),
    /// A store thread could not be started.
    #[error("cannot start a database thread: {0}")]
    Thread(String),
    /// The writer thread or a reader task is gone: the server is stopping.
    #[error("the store is shut down")]
    Closed,
}

/// How the store is run: the per-bin cap the writer applies on every
/// capture, and when a commit counts as durable.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoreOptions {
    /// A bin keeps at most this many of its newest requests; 0 = no cap.
    pub max_requests_per_bin: u64,
    /// `Fsync`: every commit is flushed to the disk before it returns.
    pub durability: Durability,
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
        options: StoreOptions,
    ) -> Result<(Self, std::thread::JoinHandle<()>), StoreError> {
        let mut conn = Connection::open(path)?;
        schema::configure(&conn, options.durability)?;
        schema::migrate(&mut conn)?;
        conn.pragma_update(
            None,
            "wal_autocheckpoint",
            checkpoint::WRITER_FALLBACK_PAGES,
        )?;
        let checkpointer = checkpoint::Checkpointer::start(path)?;
        let readers = Readers::open(path, READERS)?;
        let (writer, join) = Writer::start(conn, options.max_requests_per_bin);
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
        self.capture_then(req, on_id, None).await
    }

    /// [`Self::capture`], and `on_commit` with the new id once its commit is
    /// done, on the writer thread, in commit order (= id order) with every
    /// other capture's: tunnels get live captures in memory through it,
    /// none out of order.
    pub async fn capture_then(
        &self,
        req: NewRequest,
        on_id: impl FnOnce(i64) + Send + 'static,
        on_commit: Option<Box<dyn FnOnce(i64) + Send>>,
    ) -> Result<Option<i64>, StoreError> {
        // Serialised here, on the caller's thread, to keep the writer's
        // share of each capture small.
        let headers = queries::to_json(&req.headers)?;
        let signature = req.signature.as_ref().map(queries::to_json).transpose()?;
        let after = on_commit.map(|f| -> writer::AfterCommit<Option<i64>> {
            Box::new(move |id: &Option<i64>| {
                if let Some(id) = *id {
                    f(id);
                }
            })
        });
        self.writer
            .run_then(
                move |tx, state| {
                    let id =
                        writer::insert_request(tx, state, &req, &headers, signature.as_deref())?;
                    if let Some(id) = id {
                        on_id(id);
                    }
                    Ok(id)
                },
                after,
            )
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

    /// Stores one tunnel's deliveries, each `(request id, delivery,
    /// through)`, and moves the tunnel's position to the highest `through`,
    /// in one writer job.
    pub async fn record_deliveries(
        &self,
        bin: Uuid,
        records: Vec<(i64, Delivery, Option<i64>)>,
    ) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| tunnels::record_deliveries(tx, bin, &records))
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
    pub async fn set_secrets(&self, id: Uuid, secrets: Secrets) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| queries::update_secrets(tx, id, &secrets))
            .await
    }

    /// Stores re-checked signatures of requests.
    pub async fn set_signatures(
        &self,
        checked: Vec<(i64, Option<Signature>)>,
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

    /// Every request of a bin sharing an idempotency key, oldest first.
    pub async fn attempts(&self, bin: Uuid, key: String) -> Result<Vec<(i64, Millis)>, StoreError> {
        self.readers
            .run(move |c| queries::attempts(c, bin, &key))
            .await
    }

    /// True when no write waits: background work (indexing) can run
    /// without delaying captures.
    pub fn writer_idle(&self) -> bool {
        self.writer.idle()
    }

    /// Adds up to `batch` new requests to the search index; returns how
    /// many (0 once it has caught up).
    pub async fn index_batch(&self, batch: usize) -> Result<usize, StoreError> {
        self.writer
            .run(move |tx, _| queries::index_batch(tx, batch))
            .await
    }

    /// When the oldest request the search index has not reached arrived;
    /// `None` when the index has caught up.
    pub async fn oldest_unindexed(&self) -> Result<Option<Millis>, StoreError> {
        self.readers
            .run(|c| {
                Ok(c.prepare_cached(
                    "SELECT received_at FROM requests
                     WHERE id > (SELECT indexed_through FROM fts_state) ORDER BY id LIMIT 1",
                )?
                .query_row([], |r| r.get(0))
                .optional()?)
            })
            .await
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::now_millis;

    fn request(bin: Uuid, method: &str, path: &str, body: &str) -> NewRequest {
        NewRequest {
            bin_id: bin,
            received_at: now_millis(),
            method: method.into(),
            path: path.into(),
            query: String::new(),
            headers: vec![("x-provider".into(), "AssemblyAI".into())],
            remote_addr: "127.0.0.1:1".into(),
            body: body.as_bytes().to_vec().into(),
            signature: None,
            retry_key: None,
        }
    }

    fn query(bin: Uuid, search: Option<&str>, method: Option<&str>) -> ListQuery {
        ListQuery {
            bin,
            limit: 50,
            cursor: Cursor::Newest,
            search: search.map(str::to_owned),
            with_bodies: false,
            method: method.map(str::to_owned),
        }
    }

    /// A store in `dir` with one bin, keeping `cap` requests per bin.
    async fn store_with_bin(dir: &std::path::Path, cap: u64) -> (Store, Uuid) {
        let (store, _writer) = Store::open(
            &dir.join("s.db"),
            StoreOptions {
                max_requests_per_bin: cap,
                ..StoreOptions::default()
            },
        )
        .expect("open");
        let bin = Uuid::new_v4();
        store
            .create_bin(Bin {
                id: bin,
                created_at: now_millis(),
                response: ResponseConfig::default(),
                secrets: Secrets::default(),
            })
            .await
            .expect("bin");
        (store, bin)
    }

    /// `--durability` reaches the writer's connection: FULL flushes the
    /// WAL at every commit, NORMAL leaves it to the OS.
    #[tokio::test]
    async fn durability_sets_how_commits_are_flushed() {
        for (durability, expected) in [(Durability::Process, 1), (Durability::Fsync, 2)] {
            let dir = tempfile::tempdir().expect("dir");
            let (store, _writer) = Store::open(
                &dir.path().join("d.db"),
                StoreOptions {
                    durability,
                    ..StoreOptions::default()
                },
            )
            .expect("open");
            let synchronous: i64 = store
                .writer
                .run(|tx, _| Ok(tx.pragma_query_value(None, "synchronous", |r| r.get(0))?))
                .await
                .expect("pragma");
            assert_eq!(synchronous, expected, "{durability:?}");
        }
    }

    #[tokio::test]
    async fn search_uses_the_index_and_the_unindexed_tail() {
        let dir = tempfile::tempdir().expect("dir");
        let (store, bin) = store_with_bin(dir.path(), 0).await;
        let ids = |page: Page| page.requests.iter().map(|r| r.id).collect::<Vec<_>>();
        let a = store
            .capture(
                request(bin, "POST", "/a", r#"{"transcript_id":"needle-1"}"#),
                |_| {},
            )
            .await
            .expect("a")
            .expect("id");
        let b = store
            .capture(request(bin, "GET", "/b", "plain text"), |_| {})
            .await
            .expect("b")
            .expect("id");
        assert_eq!(store.index_batch(100).await.expect("index"), 2);
        assert_eq!(store.index_batch(100).await.expect("index"), 0, "caught up");
        // Indexed: found through FTS, case-insensitively, as a substring.
        assert_eq!(
            ids(store
                .list_requests(query(bin, Some("NEEDLE"), None))
                .await
                .expect("q")),
            [a]
        );
        assert_eq!(
            ids(store
                .list_requests(query(bin, Some("assemblyai"), None))
                .await
                .expect("q")),
            [b, a]
        );
        // Not indexed yet: found through LIKE.
        let c = store
            .capture(request(bin, "PUT", "/c", "needle-2"), |_| {})
            .await
            .expect("c")
            .expect("id");
        assert_eq!(
            ids(store
                .list_requests(query(bin, Some("needle"), None))
                .await
                .expect("q")),
            [c, a]
        );
        // Shorter than a trigram: LIKE everywhere.
        assert_eq!(
            ids(store
                .list_requests(query(bin, Some("/b"), None))
                .await
                .expect("q")),
            [b]
        );
        // Method filter, alone and with search.
        assert_eq!(
            ids(store
                .list_requests(query(bin, None, Some("GET")))
                .await
                .expect("q")),
            [b]
        );
        assert_eq!(
            ids(store
                .list_requests(query(bin, Some("needle"), Some("PUT")))
                .await
                .expect("q")),
            [c]
        );
        // Deleted requests leave the index.
        store.delete_requests(bin, Some(a)).await.expect("delete");
        store.index_batch(100).await.expect("index");
        assert_eq!(
            ids(store
                .list_requests(query(bin, Some("needle"), None))
                .await
                .expect("q")),
            [c]
        );
        // Quotes in the text are literal.
        assert!(
            ids(store
                .list_requests(query(bin, Some(r#"x"y"#), None))
                .await
                .expect("q"))
            .is_empty()
        );
    }

    #[tokio::test]
    async fn trimmed_requests_leave_the_index_after_the_capture_batch() {
        let dir = tempfile::tempdir().expect("dir");
        let (store, bin) = store_with_bin(dir.path(), 2).await;
        let capture = |n: usize| {
            let store = store.clone();
            async move {
                store
                    .capture(request(bin, "POST", "/", &format!("needle-{n}")), |_| {})
                    .await
                    .expect("capture")
                    .expect("id")
            }
        };
        let first = capture(1).await;
        capture(2).await;
        while store.index_batch(100).await.expect("index") > 0 {}
        // The cap trims the first, already indexed: its index entry waits
        // for the indexer instead of costing the capture batch.
        let third = capture(3).await;
        let count = |sql: &'static str| {
            let store = store.clone();
            async move {
                store
                    .readers
                    .run(move |c| Ok(c.query_row(sql, [], |r| r.get::<_, i64>(0))?))
                    .await
                    .expect("count")
            }
        };
        assert_eq!(count("SELECT COUNT(*) FROM fts_deleted").await, 1);
        let found: Vec<i64> = store
            .list_requests(query(bin, Some("needle"), None))
            .await
            .expect("q")
            .requests
            .iter()
            .map(|r| r.id)
            .collect();
        assert!(
            !found.contains(&first) && found.contains(&third),
            "{found:?}"
        );
        // The indexer removes the entry, then indexes the new request.
        assert_eq!(store.index_batch(100).await.expect("purge"), 1);
        assert_eq!(count("SELECT COUNT(*) FROM fts_deleted").await, 0);
        assert_eq!(store.index_batch(100).await.expect("index"), 1);
        assert_eq!(store.index_batch(100).await.expect("index"), 0);
        assert_eq!(
            count("SELECT COUNT(*) FROM requests_fts WHERE requests_fts MATCH '\"needle\"'").await,
            2,
            "only the two kept requests are in the index"
        );
    }
}
