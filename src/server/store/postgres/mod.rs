//! The PostgreSQL backend, for a team instance of several replicas sharing
//! one database. Captures go through one group-committing writer
//! task per replica (writer.rs, where the argument for id order across
//! replicas is); every other statement runs on a pooled connection.
//! Search uses `pg_trgm`: always caught up, so there is no indexer.
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`schema`]: the numbered migrations, run once for the cluster.
//! - [`listener`]: notifications between replicas.
//! - [`names`]: tunnel names held cluster-wide.
//! - [`writer`]: the group-committing capture writer task.
//! - [`queries`]: row mapping and the SQL of bins and requests.
//! - [`tunnels`]: the SQL of tunnel positions and deliveries (reads rows through [`queries`]).
//! - [`team`]: the SQL of tokens and the audit log.

mod listener;
mod names;
mod queries;
mod schema;
mod team;
mod tunnels;
mod writer;

use std::collections::HashMap;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use uuid::Uuid;

use super::{
    AuditRecord, Encoded, Event, ListQuery, Page, Record, StoreError, StoreOptions, TokenRow,
};
use crate::core::model::{Answer, Bin, CapturedRequest, NewRequest, ResponseConfig, RuleConfig};
use crate::core::payload_schema::{SchemaConfig, SchemaVerdict};
use crate::core::time::Millis;
use crate::core::verify::{Secrets, Signature};
use crate::server::config::Durability;
use crate::server::store::backend::Backend;
pub use names::NameHold;
pub(super) use queries::search_doc_of;
pub(super) use schema::migrate as migrate_schema;
pub(super) use writer::CAPTURE_LOCK;
use writer::{Capture, Writer};

/// Pooled connections for everything but captures.
const POOL_SIZE: usize = 8;

/// The advisory lock a retention purge holds, so replicas purge one at a
/// time.
const PURGE_LOCK: i64 = 0x686f_6f6b_7075_7267;

/// Handle to the database: the capture writer and the pool.
#[derive(Clone)]
pub(super) struct Postgres {
    writer: Writer,
    pool: Pool,
    listener: std::sync::Arc<listener::Listener>,
    names: std::sync::Arc<names::Names>,
    /// Signs this replica's notifications.
    replica: u64,
    /// Per bin: when other replicas' passthrough tunnels were last looked
    /// up, and whether there was one.
    passthrough_seen: std::sync::Arc<std::sync::Mutex<HashMap<Uuid, (std::time::Instant, bool)>>>,
}

/// How long a passthrough lookup stands: a tunnel connected to another
/// replica is waited for from at most this long after it connected.
const PASSTHROUGH_FRESH: std::time::Duration = std::time::Duration::from_secs(1);

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        Self::Pool(e.to_string())
    }
}

/// A transaction that deletes requests: it takes the capture lock first
/// (see `writer::CAPTURE_LOCK` for the deadlock this avoids).
async fn deleting(
    conn: &mut deadpool_postgres::Object,
) -> Result<deadpool_postgres::Transaction<'_>, StoreError> {
    let tx = conn.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&writer::CAPTURE_LOCK])
        .await?;
    Ok(tx)
}

/// How connections speak TLS: when the server offers it (`sslmode=prefer`,
/// the default) or must (`?sslmode=require`), with certificates checked
/// against the public roots and `--db-ca-cert`.
pub(crate) type Tls = tokio_postgres_rustls::MakeRustlsConnect;

/// [`Tls`] from a rustls client config.
pub(crate) fn tls(config: &tokio_rustls::rustls::ClientConfig) -> Tls {
    tokio_postgres_rustls::MakeRustlsConnect::new(config.clone())
}

/// A connection of its own (the writer's, the migrations'), its I/O
/// driven by a task that ends when the client is dropped.
async fn connect(
    config: &tokio_postgres::Config,
    tls: &Tls,
) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = config.connect(tls.clone()).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "postgres connection ended");
        }
    });
    Ok(client)
}

impl Postgres {
    /// Connects, runs pending migrations (once for the cluster, under a
    /// lock) and starts the writer task.
    pub(super) async fn open(
        url: &str,
        options: StoreOptions,
        tls_config: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StoreError> {
        let tls = tls(&tls_config);
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            StoreError::Schema(format!("--db {url:?} is not a PostgreSQL URL: {e}"))
        })?;
        // A replica cut off from the network is noticed in seconds, not
        // after the kernel's two hours: it may hold the capture lock.
        config.keepalives_idle(std::time::Duration::from_secs(10));
        schema::migrate(&mut connect(&config, &tls).await?).await?;
        // A killed hookwire loses nothing either way: PostgreSQL has the
        // commit. `fsync` also waits for PostgreSQL's WAL flush. A writer
        // stalled inside a batch (a paused process) loses its session
        // after 10 s, and with it the capture lock the other replicas
        // wait for.
        let setup = match options.durability {
            Durability::Process => {
                "SET synchronous_commit = off; SET idle_in_transaction_session_timeout = '10s'"
            }
            Durability::Fsync => {
                "SET synchronous_commit = on; SET idle_in_transaction_session_timeout = '10s'"
            }
        };
        // Tells this replica's notifications from the others'.
        let replica = Uuid::new_v4().as_u64_pair().0;
        let listener = std::sync::Arc::new(listener::Listener::start(
            config.clone(),
            tls.clone(),
            replica,
        ));
        let (writer, join) = Writer::start(
            config.clone(),
            tls.clone(),
            setup,
            options.max_requests_per_bin,
            replica,
        )
        .await?;
        let names = std::sync::Arc::new(names::Names::new(
            connect(&config, &tls).await?,
            config.clone(),
            tls.clone(),
            replica,
        ));
        let manager = Manager::from_config(
            config,
            tls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StoreError::Pool(e.to_string()))?;
        Ok((
            Self {
                writer,
                pool,
                listener,
                names,
                replica,
                passthrough_seen: std::sync::Arc::default(),
            },
            join,
        ))
    }

    /// Tells the other replicas that bin `id` changed (after the change
    /// committed): they drop what they cached of it.
    /// A failure is logged, not returned: the change itself committed.
    async fn changed(&self, conn: &deadpool_postgres::Client, id: Uuid) -> Result<(), StoreError> {
        let payload = listener::bin_payload(self.replica, id);
        let sent = conn
            .execute("SELECT pg_notify($1, $2)", &[&listener::CHANNEL, &payload])
            .await;
        if let Err(e) = sent {
            tracing::warn!(bin = %id, error = %e, "telling other replicas of a changed bin");
        }
        Ok(())
    }

    /// Tells the other replicas that the tokens changed (after the change
    /// committed): they read them again, so a revoked token is refused
    /// everywhere at once. A failure is logged: the change committed.
    async fn tokens_changed(&self, conn: &deadpool_postgres::Client) {
        let payload = listener::tokens_payload(self.replica);
        let sent = conn
            .execute("SELECT pg_notify($1, $2)", &[&listener::CHANNEL, &payload])
            .await;
        if let Err(e) = sent {
            tracing::warn!(error = %e, "telling other replicas of changed tokens");
        }
    }
}

/// The operations, as [`Backend`] documents them.
impl Backend for Postgres {
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
        let search_doc = queries::search_doc(&req, &headers);
        self.writer
            .capture(move |reply| Capture {
                req,
                headers,
                signature,
                schema,
                search_doc,
                on_id: Box::new(on_id),
                on_commit,
                reply,
            })
            .await
    }

    async fn open_tunnel(
        &self,
        bin: Uuid,
        name: String,
        targets: Vec<String>,
        from_start: bool,
    ) -> Result<crate::server::store::Opened, StoreError> {
        let conn = self.pool.get().await?;
        tunnels::open_tunnel(&**conn, bin, &name, &targets, from_start).await
    }

    async fn pending(
        &self,
        bin: Uuid,
        stream: (String, String),
        after: i64,
        limit: usize,
    ) -> Result<Vec<CapturedRequest>, StoreError> {
        let conn = self.pool.get().await?;
        let stream = (stream.0.as_str(), stream.1.as_str());
        tunnels::pending(&**conn, bin, stream, after, limit).await
    }

    async fn record_deliveries(
        &self,
        bin: Uuid,
        name: String,
        records: Vec<Record>,
        passthrough: bool,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        tunnels::record_deliveries(&*tx, bin, &name, &records).await?;
        if passthrough {
            // Delivered at the commit: a capture on another replica waiting
            // for one of these reads the recorded answer.
            let ids: Vec<i64> = records
                .iter()
                .filter(|r| r.delivery.as_ref().is_some_and(|d| !d.replay))
                .map(|r| r.request_id)
                .collect();
            for chunk in ids.chunks(listener::PER_NOTIFICATION) {
                let payload = listener::answers_payload(self.replica, bin, &name, chunk);
                tx.execute("SELECT pg_notify($1, $2)", &[&listener::CHANNEL, &payload])
                    .await?;
            }
        }
        Ok(tx.commit().await?)
    }

    async fn set_alias(&self, id: Uuid, alias: Option<String>) -> Result<bool, StoreError> {
        let conn = self.pool.get().await?;
        let found = queries::update_alias(&**conn, id, alias.as_deref()).await?;
        self.changed(&conn, id).await.map(|()| found)
    }

    async fn set_rules(&self, id: Uuid, rules: Vec<RuleConfig>) -> Result<bool, StoreError> {
        let conn = self.pool.get().await?;
        let found = queries::update_rules(&**conn, id, &rules).await?;
        self.changed(&conn, id).await.map(|()| found)
    }

    async fn create_token(&self, token: TokenRow) -> Result<bool, StoreError> {
        let conn = self.pool.get().await?;
        let created = team::insert_token(&**conn, &token).await?;
        self.tokens_changed(&conn).await;
        Ok(created)
    }

    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError> {
        team::tokens(&**self.pool.get().await?).await
    }

    async fn delete_token(&self, name: String) -> Result<bool, StoreError> {
        let conn = self.pool.get().await?;
        let deleted = team::delete_token(&**conn, &name).await?;
        self.tokens_changed(&conn).await;
        Ok(deleted)
    }

    async fn touch_tokens(&self, used: Vec<(String, Millis)>) -> Result<(), StoreError> {
        team::touch_tokens(&**self.pool.get().await?, &used).await
    }

    async fn add_audit(&self, entry: AuditRecord) -> Result<(), StoreError> {
        team::insert_audit(&**self.pool.get().await?, &entry).await
    }

    async fn audit(
        &self,
        before: Option<i64>,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        team::audit(&**self.pool.get().await?, before, limit).await
    }

    async fn bin_by_alias(&self, alias: String) -> Result<Option<Uuid>, StoreError> {
        queries::bin_by_alias(&**self.pool.get().await?, &alias).await
    }

    async fn passthrough_elsewhere(&self, bin: Uuid) -> bool {
        let cached = self
            .passthrough_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&bin)
            .filter(|(at, _)| at.elapsed() < PASSTHROUGH_FRESH)
            .map(|(_, held)| *held);
        if let Some(held) = cached {
            return held;
        }
        let held = self.names.passthrough_held(bin).await.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "checking for passthrough tunnels");
            false
        });
        self.passthrough_seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(bin, (std::time::Instant::now(), held));
        held
    }

    async fn create_bin(&self, bin: Bin) -> Result<(), StoreError> {
        queries::insert_bin(&**self.pool.get().await?, &bin).await
    }

    async fn set_response(&self, id: Uuid, resp: ResponseConfig) -> Result<bool, StoreError> {
        let conn = self.pool.get().await?;
        let found = queries::update_response(&**conn, id, &resp).await?;
        self.changed(&conn, id).await.map(|()| found)
    }

    async fn set_secrets(&self, id: Uuid, secrets: Secrets) -> Result<bool, StoreError> {
        let conn = self.pool.get().await?;
        let found = queries::update_secrets(&**conn, id, &secrets).await?;
        self.changed(&conn, id).await.map(|()| found)
    }

    async fn set_schemas(&self, id: Uuid, schemas: Vec<SchemaConfig>) -> Result<bool, StoreError> {
        let conn = self.pool.get().await?;
        let n = conn
            .execute(
                "UPDATE bins SET schemas = $2 WHERE id = $1",
                &[&id, &super::to_json(&schemas)?],
            )
            .await?;
        self.changed(&conn, id).await.map(|()| n > 0)
    }

    async fn set_verdicts(
        &self,
        checked: Vec<(i64, Option<SchemaVerdict>)>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        let update = tx
            .prepare("UPDATE requests SET schema = $2 WHERE id = $1")
            .await?;
        for (id, v) in &checked {
            let v = v.as_ref().map(super::to_json).transpose()?;
            tx.execute(&update, &[id, &v]).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn set_signatures(
        &self,
        checked: Vec<(i64, Option<Signature>)>,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        let update = tx
            .prepare("UPDATE requests SET signature = $2 WHERE id = $1")
            .await?;
        for (id, sig) in &checked {
            let sig = sig.as_ref().map(super::to_json).transpose()?;
            tx.execute(&update, &[id, &sig]).await?;
        }
        Ok(tx.commit().await?)
    }

    async fn set_answer(&self, id: i64, answer: Answer) -> Result<(), StoreError> {
        let (status, by, name) = super::answer_columns(Some(&answer));
        let conn = self.pool.get().await?;
        let update = conn
            .prepare_cached(
                "UPDATE requests SET response_status = $2, response_by = $3, response_name = $4
                 WHERE id = $1",
            )
            .await?;
        conn.execute(&update, &[&id, &status, &by, &name]).await?;
        Ok(())
    }

    async fn delete_bin(&self, id: Uuid) -> Result<bool, StoreError> {
        let mut conn = self.pool.get().await?;
        let tx = deleting(&mut conn).await?;
        let n = tx.execute("DELETE FROM bins WHERE id = $1", &[&id]).await?;
        tx.commit().await?;
        self.changed(&conn, id).await?;
        Ok(n > 0)
    }

    async fn delete_requests(&self, bin: Uuid, id: Option<i64>) -> Result<usize, StoreError> {
        let mut conn = self.pool.get().await?;
        let tx = deleting(&mut conn).await?;
        let n = match id {
            Some(id) => {
                tx.execute(
                    "DELETE FROM requests WHERE bin_id = $1 AND id = $2",
                    &[&bin, &id],
                )
                .await?
            }
            None => {
                tx.execute("DELETE FROM requests WHERE bin_id = $1", &[&bin])
                    .await?
            }
        };
        tx.commit().await?;
        Ok(usize::try_from(n).unwrap_or(usize::MAX))
    }

    /// One replica purges at a time: the others find the lock taken and
    /// report nothing purged this turn.
    async fn purge_before(&self, cutoff: Millis, batch: usize) -> Result<usize, StoreError> {
        let mut conn = self.pool.get().await?;
        let tx = conn.transaction().await?;
        let mine: bool = tx
            .query_one("SELECT pg_try_advisory_xact_lock($1)", &[&PURGE_LOCK])
            .await?
            .get(0);
        if !mine {
            return Ok(0);
        }
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&writer::CAPTURE_LOCK])
            .await?;
        let n = queries::purge_before(&*tx, cutoff, batch).await?;
        tx.commit().await?;
        Ok(n)
    }

    async fn bin(&self, id: Uuid) -> Result<Option<Bin>, StoreError> {
        queries::bin(&**self.pool.get().await?, id).await
    }

    async fn recent_bins(&self, limit: usize) -> Result<Vec<(Bin, u64)>, StoreError> {
        queries::recent_bins(&**self.pool.get().await?, limit).await
    }

    async fn list_requests(&self, q: ListQuery) -> Result<Page, StoreError> {
        let conn = self.pool.get().await?;
        let mut page = queries::list(&**conn, &q).await?;
        if q.with_bodies {
            queries::attach_deliveries(&**conn, &mut page.requests).await?;
        }
        Ok(page)
    }

    async fn request(&self, bin: Uuid, id: i64) -> Result<Option<CapturedRequest>, StoreError> {
        queries::request(&**self.pool.get().await?, bin, id).await
    }

    async fn count(&self, bin: Uuid) -> Result<u64, StoreError> {
        queries::count(&**self.pool.get().await?, bin).await
    }

    async fn retry_counts(&self, bin: Uuid) -> Result<Vec<(String, u64)>, StoreError> {
        queries::retry_counts(&**self.pool.get().await?, bin).await
    }

    async fn attempts(&self, bin: Uuid, key: String) -> Result<Vec<(i64, Millis)>, StoreError> {
        queries::attempts(&**self.pool.get().await?, bin, &key).await
    }

    fn events(&self) -> Option<tokio::sync::broadcast::Receiver<Event>> {
        Some(self.listener.subscribe())
    }

    /// Other replicas write too.
    fn sole_writer(&self) -> bool {
        false
    }

    async fn connected_tunnels(&self, bin: Uuid) -> Result<Option<Vec<String>>, StoreError> {
        self.names.connected(bin).await.map(Some)
    }

    async fn hold_name(
        &self,
        bin: Uuid,
        name: &str,
        ticket: u64,
        wanted: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<super::NameHold>, StoreError> {
        let hold = self.names.hold(bin, name, ticket, wanted).await?;
        Ok(hold.map(|hold| super::NameHold(Some(hold))))
    }

    fn writer_idle(&self) -> bool {
        self.writer.idle()
    }

    /// The trigram index is kept by PostgreSQL in the insert itself.
    async fn index_batch(&self, _batch: usize) -> Result<usize, StoreError> {
        Ok(0)
    }

    /// Always caught up (see [`Self::index_batch`]).
    async fn oldest_unindexed(&self) -> Result<Option<Millis>, StoreError> {
        Ok(None)
    }

    async fn tunnel_backlog(&self) -> Result<u64, StoreError> {
        let conn = self.pool.get().await?;
        let n: i64 = conn
            .query_one(
                "SELECT COUNT(*) FROM tunnels t JOIN requests r
                   ON r.bin_id = t.bin_id AND r.id > t.delivered_through",
                &[],
            )
            .await?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn stored_bytes(&self) -> Result<u64, StoreError> {
        let conn = self.pool.get().await?;
        let n: i64 = conn
            .query_one(
                "SELECT COALESCE(SUM(octet_length(body)), 0)::bigint FROM requests",
                &[],
            )
            .await?
            .get(0);
        Ok(u64::try_from(n).unwrap_or(0))
    }

    async fn healthy(&self) -> bool {
        match self.pool.get().await {
            Ok(conn) => conn.query_one("SELECT 1", &[]).await.is_ok(),
            Err(_) => false,
        }
    }
}
