//! The SQLite backend (the embedded default): one writer thread that
//! group-commits, a small pool of reader connections, and the numbered
//! migrations.
//!
//! Every rusqlite call runs off the async runtime: writes on the writer
//! thread, reads on `spawn_blocking` with a pooled read connection.
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`schema`]: connection settings and the numbered migrations.
//! - [`checkpoint`]: the WAL checkpointer thread.
//! - [`readers`]: the pool of read connections.
//! - [`writer`]: the group-committing writer thread and the capture insert.
//! - [`rows`]: the columns of bins, requests and deliveries, and their row mapping.
//! - [`queries`]: the SQL of bins and requests.
//! - [`tunnels`]: the SQL of tunnel positions and deliveries.
//! - [`team`]: the SQL of tokens and the audit log.

mod checkpoint;
mod queries;
mod readers;
mod rows;
mod schema;
mod team;
mod tunnels;
mod writer;

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, OptionalExtension as _};
use uuid::Uuid;

use readers::Readers;

use super::{AuditRecord, Encoded, ListQuery, Page, Record, StoreError, StoreOptions, TokenRow};
#[cfg(test)]
use crate::server::config::Durability;
use crate::server::store::backend::Backend;
use writer::Writer;

use crate::core::model::{Answer, Bin, CapturedRequest, NewRequest, ResponseConfig, RuleConfig};
use crate::core::payload_schema::{SchemaConfig, SchemaVerdict};
use crate::core::time::Millis;
use crate::core::verify::{Secrets, Signature};

/// Brings the schema of the SQLite file at `path` up to this build's, as
/// `serve` would on start: `hookwire migrate` reads the newest columns.
pub(super) fn upgrade(path: &Path) -> Result<(), StoreError> {
    let mut conn = Connection::open(path)?;
    schema::configure(&conn, crate::server::config::Durability::Process)?;
    schema::migrate(&mut conn)
}

/// Cheap, cloneable handle to the database (shallow: clones share the
/// writer thread and the reader pool).
#[derive(Clone)]
pub struct Sqlite {
    writer: Writer,
    readers: Arc<Readers>,
    _checkpointer: Arc<checkpoint::Checkpointer>,
}

/// How many read connections run queries at once: enough for the inspector
/// and the API on a small machine without starving the writer of CPU.
const READERS: usize = 4;

impl Sqlite {
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

    /// [`Backend::capture_then`] without a commit hook (the unit tests).
    #[cfg(test)]
    async fn capture(
        &self,
        req: NewRequest,
        on_id: impl FnOnce(i64) + Send + 'static,
    ) -> Result<Option<i64>, StoreError> {
        self.capture_then(req, on_id, None).await
    }
}

/// The operations, as [`Backend`] documents them.
impl Backend for Sqlite {
    async fn capture_then(
        &self,
        req: NewRequest,
        on_id: impl FnOnce(i64) + Send + 'static,
        on_commit: Option<Box<dyn FnOnce(i64) + Send>>,
    ) -> Result<Option<i64>, StoreError> {
        // Encoded here, on the caller's task: the writer only inserts.
        let Encoded {
            req,
            headers,
            signature,
            schema,
        } = Encoded::new(req)?;
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
                    let id = writer::insert_request(
                        tx,
                        state,
                        &req,
                        &headers,
                        signature.as_deref(),
                        schema.as_deref(),
                    )?;
                    if let Some(id) = id {
                        on_id(id);
                    }
                    Ok(id)
                },
                after,
            )
            .await
    }

    async fn open_tunnel(
        &self,
        bin: Uuid,
        name: String,
        targets: Vec<String>,
        from_start: bool,
    ) -> Result<crate::server::store::Opened, StoreError> {
        self.writer
            .run(move |tx, _| tunnels::open_tunnel(tx, bin, &name, &targets, from_start))
            .await
    }

    async fn pending(
        &self,
        bin: Uuid,
        stream: (String, String),
        after: i64,
        limit: usize,
    ) -> Result<Vec<CapturedRequest>, StoreError> {
        self.readers
            .run(move |c| tunnels::pending(c, bin, &stream.0, &stream.1, after, limit))
            .await
    }

    async fn record_deliveries(
        &self,
        bin: Uuid,
        name: String,
        records: Vec<Record>,
        _passthrough: bool,
    ) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| tunnels::record_deliveries(tx, bin, &name, &records))
            .await
    }

    async fn set_alias(&self, id: Uuid, alias: Option<String>) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| queries::update_alias(tx, id, alias.as_deref()))
            .await
    }

    async fn set_rules(&self, id: Uuid, rules: Vec<RuleConfig>) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| queries::update_rules(tx, id, &rules))
            .await
    }

    async fn create_token(&self, token: TokenRow) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| team::insert_token(tx, &token))
            .await
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        self.readers.run(team::tokens).await
    }

    async fn delete_token(&self, name: String) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| team::delete_token(tx, &name))
            .await
    }

    async fn touch_tokens(&self, used: Vec<(String, Millis)>) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| team::touch_tokens(tx, &used))
            .await
    }

    async fn add_audit(&self, entry: AuditRecord) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| team::insert_audit(tx, &entry))
            .await
    }

    async fn audit(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        self.readers
            .run(move |c| team::audit(c, before, limit))
            .await
    }

    async fn bin_by_alias(&self, alias: String) -> Result<Option<Uuid>, StoreError> {
        self.readers
            .run(move |c| queries::bin_by_alias(c, &alias))
            .await
    }

    async fn create_bin(&self, bin: Bin) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| queries::insert_bin(tx, &bin))
            .await
    }

    async fn set_response(&self, id: Uuid, resp: ResponseConfig) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| queries::update_response(tx, id, &resp))
            .await
    }

    async fn set_secrets(&self, id: Uuid, secrets: Secrets) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| queries::update_secrets(tx, id, &secrets))
            .await
    }

    async fn set_schemas(&self, id: Uuid, schemas: Vec<SchemaConfig>) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, _| queries::update_json_column(tx, id, "schemas", &schemas))
            .await
    }

    async fn set_verdicts(
        &self,
        checked: Vec<(i64, Option<SchemaVerdict>)>,
    ) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| queries::update_verdicts(tx, &checked))
            .await
    }

    async fn set_signatures(
        &self,
        checked: Vec<(i64, Option<Signature>)>,
    ) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| queries::update_signatures(tx, &checked))
            .await
    }

    async fn set_answer(&self, id: i64, answer: Answer) -> Result<(), StoreError> {
        self.writer
            .run(move |tx, _| queries::update_answer(tx, id, &answer))
            .await
    }

    async fn delete_bin(&self, id: Uuid) -> Result<bool, StoreError> {
        self.writer
            .run(move |tx, state| {
                state.forget(id);
                queries::delete_bin(tx, id)
            })
            .await
    }

    async fn delete_requests(&self, bin: Uuid, id: Option<i64>) -> Result<usize, StoreError> {
        self.writer
            .run(move |tx, state| {
                state.forget(bin);
                queries::delete_requests(tx, bin, id)
            })
            .await
    }

    async fn purge_before(&self, cutoff: Millis, batch: usize) -> Result<usize, StoreError> {
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

    async fn bin(&self, id: Uuid) -> Result<Option<Bin>, StoreError> {
        self.readers.run(move |c| queries::bin(c, id)).await
    }

    async fn recent_bins(&self, limit: usize) -> Result<Vec<(Bin, u64)>, StoreError> {
        self.readers
            .run(move |c| queries::recent_bins(c, limit))
            .await
    }

    async fn list_requests(&self, q: ListQuery) -> Result<Page, StoreError> {
        self.readers.run(move |c| queries::list_full(c, &q)).await
    }

    async fn request(&self, bin: Uuid, id: i64) -> Result<Option<CapturedRequest>, StoreError> {
        self.readers
            .run(move |c| queries::request(c, bin, id))
            .await
    }

    async fn count(&self, bin: Uuid) -> Result<u64, StoreError> {
        self.readers.run(move |c| queries::count(c, bin)).await
    }

    async fn retry_counts(&self, bin: Uuid) -> Result<Vec<(String, u64)>, StoreError> {
        self.readers
            .run(move |c| queries::retry_counts(c, bin))
            .await
    }

    async fn attempts(&self, bin: Uuid, key: String) -> Result<Vec<(i64, Millis)>, StoreError> {
        self.readers
            .run(move |c| queries::attempts(c, bin, &key))
            .await
    }

    fn writer_idle(&self) -> bool {
        self.writer.idle()
    }

    async fn index_batch(&self, batch: usize) -> Result<usize, StoreError> {
        self.writer
            .run(move |tx, _| queries::index_batch(tx, batch))
            .await
    }

    async fn oldest_unindexed(&self) -> Result<Option<Millis>, StoreError> {
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

    async fn tunnel_backlog(&self) -> Result<u64, StoreError> {
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

    async fn stored_bytes(&self) -> Result<u64, StoreError> {
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

    async fn healthy(&self) -> bool {
        self.readers
            .run(|c| Ok(c.query_row("SELECT 1", [], |r| r.get::<_, i64>(0))?))
            .await
            .is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::time::now_millis;
    use crate::server::store::Cursor;

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
            schema: None,
            retry_key: None,
            rule: None,
            answer: None,
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
            schema: None,
        }
    }

    /// A store in `dir` with one bin, keeping `cap` requests per bin.
    async fn store_with_bin(dir: &std::path::Path, cap: u64) -> (Sqlite, Uuid) {
        let (store, _writer) = Sqlite::open(
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
                alias: None,
                rules: Vec::new(),
                schemas: Vec::new(),
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
            let (store, _writer) = Sqlite::open(
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
