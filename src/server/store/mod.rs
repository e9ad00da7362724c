//! The store: bins, captured requests, tunnel positions and deliveries.
//! One interface, two backends: the embedded SQLite file (the default,
//! [`sqlite`]) and PostgreSQL for teams running several replicas
//! ([`postgres`]). Capture, tunnel sessions, live updates and web handlers
//! see only [`Store`].

mod migrate;
mod postgres;
mod sqlite;

pub use migrate::{Copied, copy_sqlite_to_postgres};

use std::path::Path;

use uuid::Uuid;

use crate::core::model::{Bin, CapturedRequest, Delivery, NewRequest, ResponseConfig, RuleConfig};
use crate::core::time::Millis;
use crate::core::verify::{Secrets, Signature};
use crate::server::config::{Database, Durability};

/// What can go wrong below the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// SQLite said no.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL said no, or could not be reached.
    #[error("database error: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The TLS settings for PostgreSQL could not be read.
    #[error("{0}")]
    Tls(String),
    /// No pooled PostgreSQL connection could be had.
    #[error("database connection pool: {0}")]
    Pool(String),
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
    /// Another bin has this alias.
    #[error("the alias is taken by another bin")]
    AliasTaken,
}

/// What one stream of a tunnel (one target) made of a request, to record.
#[derive(Debug)]
pub struct Record {
    /// The request.
    pub request_id: i64,
    /// The stream's target.
    pub target: String,
    /// The delivery to store; `None` when the request was routed to another
    /// target, so only the position moves past it.
    pub delivery: Option<Delivery>,
    /// The stream's position once this is recorded (live stream only).
    pub through: Option<i64>,
}

impl Record {
    /// The highest position given per target.
    fn positions(records: &[Record]) -> Vec<(&str, i64)> {
        let mut out: Vec<(&str, i64)> = Vec::new();
        for r in records {
            let Some(through) = r.through else { continue };
            match out.iter_mut().find(|(t, _)| *t == r.target) {
                Some((_, max)) => *max = (*max).max(through),
                None => out.push((&r.target, through)),
            }
        }
        out
    }
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

/// Which slice of a bin's requests a listing wants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The newest, newest first.
    Newest,
    /// Older than this id, newest first.
    Before(i64),
    /// Newer than this id, oldest first (tailing).
    After(i64),
}

/// A listing request.
#[derive(Debug, Clone)]
pub struct ListQuery {
    /// The bin.
    pub bin: Uuid,
    /// Page size.
    pub limit: usize,
    /// Where the page starts.
    pub cursor: Cursor,
    /// Case-insensitive text to find in method, path, query, headers or body.
    pub search: Option<String>,
    /// Only requests with this method.
    pub method: Option<String>,
    /// False for listings that show only the summary (the inspector's
    /// list): bodies are then not read from disk and left empty.
    pub with_bodies: bool,
}

/// One page of requests and the cursor for the next (the last id), if any.
#[derive(Debug)]
pub struct Page {
    /// The requests, in the order the cursor asks for.
    pub requests: Vec<CapturedRequest>,
    /// Body size of each request (also when bodies were not read).
    pub body_sizes: Vec<usize>,
    /// Pass as `before` (or `after` when tailing) to get the next page.
    pub next: Option<i64>,
}

/// Escapes `%`, `_` and `\` so user text matches literally in LIKE.
pub(crate) fn like_pattern(text: &str) -> String {
    let mut p = String::with_capacity(text.len() + 2);
    p.push('%');
    for ch in text.chars() {
        if matches!(ch, '%' | '_' | '\\') {
            p.push('\\');
        }
        p.push(ch);
    }
    p.push('%');
    p
}

/// A capture with its headers and signature as stored (JSON), encoded on
/// the caller's task to keep the writer's share of each capture small.
struct Encoded {
    req: NewRequest,
    headers: String,
    signature: Option<String>,
}

impl Encoded {
    fn new(req: NewRequest) -> Result<Self, StoreError> {
        Ok(Self {
            headers: to_json(&req.headers)?,
            signature: req.signature.as_ref().map(to_json).transpose()?,
            req,
        })
    }
}

/// A stored JSON column, decoded.
fn from_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// A value for a JSON column.
fn to_json<T: serde::Serialize>(v: &T) -> Result<String, StoreError> {
    serde_json::to_string(v).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// What other replicas did, as far as this one must know (PostgreSQL).
#[derive(Debug, Clone)]
pub enum Event {
    /// Another replica committed this capture.
    Captured {
        /// Its bin.
        bin: Uuid,
        /// Its id.
        id: i64,
    },
    /// A session of another replica claimed this tunnel name: a session
    /// of this replica holding it must end.
    Claimed {
        /// The bin.
        bin: Uuid,
        /// The tunnel's name.
        name: String,
        /// When it was claimed (see `hub::Claim::ticket`).
        ticket: u64,
    },
    /// A passthrough tunnel on another replica had these requests
    /// answered, and the answers are recorded as deliveries.
    Answered {
        /// The bin.
        bin: Uuid,
        /// The tunnel that relayed them.
        name: String,
        /// The requests answered.
        ids: Vec<i64>,
    },
    /// Another replica changed or deleted this bin (response, secrets,
    /// rules, alias): what this one cached of it is stale.
    BinChanged {
        /// The bin.
        bin: Uuid,
    },
    /// Notifications may have been missed (the listening connection was
    /// re-established): whoever waits for captures should look again.
    Resync,
}

/// A tunnel name held cluster-wide (see [`Store::hold_name`]); released
/// when dropped.
pub struct NameHold(Option<postgres::NameHold>);

impl NameHold {
    /// The session has read its position and relays: other replicas now
    /// list it as connected and, for `passthrough`, make captures wait for
    /// its answers.
    pub async fn attached(
        &mut self,
        bin: Uuid,
        name: &str,
        passthrough: bool,
    ) -> Result<(), StoreError> {
        match &mut self.0 {
            Some(hold) => hold.attached(bin, name, passthrough).await,
            None => Ok(()),
        }
    }
}

/// Cheap, cloneable handle to the database.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// The store's writer, to wait for at shutdown: it drains its queue once
/// every [`Store`] handle is gone.
pub enum Writer {
    /// SQLite's writer thread.
    Thread(std::thread::JoinHandle<()>),
    /// PostgreSQL's writer task.
    Task(tokio::task::JoinHandle<()>),
}

impl Writer {
    /// Waits until the writer committed what it held and stopped.
    pub async fn join(self) -> Result<(), String> {
        match self {
            Self::Thread(t) => tokio::task::spawn_blocking(move || t.join())
                .await
                .map_err(|e| e.to_string())?
                .map_err(|_| "the database writer thread panicked".to_owned()),
            Self::Task(t) => t.await.map_err(|e| e.to_string()),
        }
    }
}

/// Runs the same call on whichever backend the store has.
macro_rules! each {
    ($self:expr, $b:ident => $call:expr) => {
        match &$self.backend {
            Backend::Sqlite($b) => $call,
            Backend::Postgres($b) => $call,
        }
    };
}

impl Store {
    /// Opens (creating if needed) the SQLite database at `path`, runs
    /// pending migrations and starts the writer thread. Also returns the
    /// writer thread's handle so the caller can wait for it to drain at
    /// shutdown.
    pub fn open(
        path: &Path,
        options: StoreOptions,
    ) -> Result<(Self, std::thread::JoinHandle<()>), StoreError> {
        let (sqlite, join) = sqlite::Sqlite::open(path, options)?;
        Ok((
            Self {
                backend: Backend::Sqlite(sqlite),
            },
            join,
        ))
    }

    /// Opens the database `--db` names: an SQLite file (see [`Self::open`])
    /// or a PostgreSQL database (migrated once for the cluster).
    /// `ca_cert`: certificates to trust, besides the public roots, when
    /// PostgreSQL speaks TLS (`--db-ca-cert`); read only for PostgreSQL.
    pub async fn connect(
        db: &Database,
        options: StoreOptions,
        ca_cert: Option<&Path>,
    ) -> Result<(Self, Writer), StoreError> {
        match db {
            Database::Sqlite(path) => {
                let path = path.clone();
                let (store, join) = tokio::task::spawn_blocking(move || Self::open(&path, options))
                    .await
                    .map_err(|e| StoreError::Thread(e.to_string()))??;
                Ok((store, Writer::Thread(join)))
            }
            Database::Postgres(url) => {
                let tls = crate::core::tls::client_config(ca_cert, "--db-ca-cert")
                    .map_err(|e| StoreError::Tls(format!("{e:#}")))?;
                let (pg, join) = postgres::Postgres::open(url, options, tls).await?;
                Ok((
                    Self {
                        backend: Backend::Postgres(pg),
                    },
                    Writer::Task(join),
                ))
            }
        }
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
    /// done, in commit order (= id order) with every other capture's:
    /// tunnels get live captures in memory through it, none out of order.
    pub async fn capture_then(
        &self,
        req: NewRequest,
        on_id: impl FnOnce(i64) + Send + 'static,
        on_commit: Option<Box<dyn FnOnce(i64) + Send>>,
    ) -> Result<Option<i64>, StoreError> {
        let capture = Encoded::new(req)?;
        each!(self, b => b.capture_then(capture, on_id, on_commit).await)
    }

    /// Registers tunnel `name`'s targets on a bin; returns, per target, the
    /// id up to which it has had every request.
    pub async fn open_tunnel(
        &self,
        bin: Uuid,
        name: String,
        targets: Vec<String>,
        from_start: bool,
    ) -> Result<Vec<i64>, StoreError> {
        each!(self, b => b.open_tunnel(bin, name, targets, from_start).await)
    }

    /// Requests after `after` that `stream` (tunnel name, target) has not
    /// had, oldest first.
    pub async fn pending(
        &self,
        bin: Uuid,
        stream: (String, String),
        after: i64,
        limit: usize,
    ) -> Result<Vec<CapturedRequest>, StoreError> {
        each!(self, b => b.pending(bin, stream, after, limit).await)
    }

    /// Stores tunnel `name`'s records and moves each target's position to
    /// its highest `through`, in one transaction. For a `passthrough`
    /// tunnel the other replicas hear of the answers (a capture there may
    /// wait for one).
    pub async fn record_deliveries(
        &self,
        bin: Uuid,
        name: String,
        records: Vec<Record>,
        passthrough: bool,
    ) -> Result<(), StoreError> {
        match &self.backend {
            Backend::Sqlite(b) => b.record_deliveries(bin, name, records).await,
            Backend::Postgres(b) => b.record_deliveries(bin, name, records, passthrough).await,
        }
    }

    /// Names of the bin's tunnels connected to any replica (PostgreSQL);
    /// `None` when this process is the only one (the hub knows).
    pub async fn connected_tunnels(&self, bin: Uuid) -> Result<Option<Vec<String>>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(None),
            Backend::Postgres(b) => b.connected_tunnels(bin).await.map(Some),
        }
    }

    /// True when a passthrough tunnel of the bin is connected to another
    /// replica (PostgreSQL; checked at most once a second per bin). This
    /// replica's own tunnels are the hub's to know.
    pub async fn passthrough_elsewhere(&self, bin: Uuid) -> bool {
        match &self.backend {
            Backend::Sqlite(_) => false,
            Backend::Postgres(b) => b.passthrough_elsewhere(bin).await,
        }
    }

    /// Creates a bin with the default response.
    pub async fn create_bin(&self, bin: Bin) -> Result<(), StoreError> {
        each!(self, b => b.create_bin(bin).await)
    }

    /// Replaces a bin's response; false when the bin does not exist.
    pub async fn set_response(&self, id: Uuid, resp: ResponseConfig) -> Result<bool, StoreError> {
        each!(self, b => b.set_response(id, resp).await)
    }

    /// Sets or clears a bin's alias; false when the bin does not exist,
    /// [`StoreError::AliasTaken`] when another bin has it.
    pub async fn set_alias(&self, id: Uuid, alias: Option<String>) -> Result<bool, StoreError> {
        each!(self, b => b.set_alias(id, alias).await)
    }

    /// Replaces a bin's response rules; false when the bin does not exist.
    pub async fn set_rules(&self, id: Uuid, rules: Vec<RuleConfig>) -> Result<bool, StoreError> {
        each!(self, b => b.set_rules(id, rules).await)
    }

    /// The bin an alias names, if any.
    pub async fn bin_by_alias(&self, alias: String) -> Result<Option<Uuid>, StoreError> {
        each!(self, b => b.bin_by_alias(alias).await)
    }

    /// Replaces a bin's verification secrets; false when the bin does not
    /// exist.
    pub async fn set_secrets(&self, id: Uuid, secrets: Secrets) -> Result<bool, StoreError> {
        each!(self, b => b.set_secrets(id, secrets).await)
    }

    /// Stores re-checked signatures of requests.
    pub async fn set_signatures(
        &self,
        checked: Vec<(i64, Option<Signature>)>,
    ) -> Result<(), StoreError> {
        each!(self, b => b.set_signatures(checked).await)
    }

    /// Deletes a bin and its requests; false when it did not exist.
    pub async fn delete_bin(&self, id: Uuid) -> Result<bool, StoreError> {
        each!(self, b => b.delete_bin(id).await)
    }

    /// Deletes one request, or all of a bin's; returns how many went.
    pub async fn delete_requests(&self, bin: Uuid, id: Option<i64>) -> Result<usize, StoreError> {
        each!(self, b => b.delete_requests(bin, id).await)
    }

    /// Deletes up to `batch` requests received before `cutoff`; returns how
    /// many went. Called in a loop so one purge never holds the writer long.
    pub async fn purge_before(&self, cutoff: Millis, batch: usize) -> Result<usize, StoreError> {
        each!(self, b => b.purge_before(cutoff, batch).await)
    }

    /// One bin, if it exists.
    pub async fn bin(&self, id: Uuid) -> Result<Option<Bin>, StoreError> {
        each!(self, b => b.bin(id).await)
    }

    /// The most recently created bins, newest first.
    pub async fn recent_bins(&self, limit: usize) -> Result<Vec<(Bin, u64)>, StoreError> {
        each!(self, b => b.recent_bins(limit).await)
    }

    /// A page of a bin's requests.
    pub async fn list_requests(&self, q: ListQuery) -> Result<Page, StoreError> {
        each!(self, b => b.list_requests(q).await)
    }

    /// One request of a bin.
    pub async fn request(&self, bin: Uuid, id: i64) -> Result<Option<CapturedRequest>, StoreError> {
        each!(self, b => b.request(bin, id).await)
    }

    /// How many requests a bin holds.
    pub async fn count(&self, bin: Uuid) -> Result<u64, StoreError> {
        each!(self, b => b.count(bin).await)
    }

    /// How many of a bin's requests carry each idempotency key.
    pub async fn retry_counts(&self, bin: Uuid) -> Result<Vec<(String, u64)>, StoreError> {
        each!(self, b => b.retry_counts(bin).await)
    }

    /// Every request of a bin sharing an idempotency key, oldest first.
    pub async fn attempts(&self, bin: Uuid, key: String) -> Result<Vec<(i64, Millis)>, StoreError> {
        each!(self, b => b.attempts(bin, key).await)
    }

    /// True when no write waits: background work (indexing) can run
    /// without delaying captures.
    pub fn writer_idle(&self) -> bool {
        each!(self, b => b.writer_idle())
    }

    /// Adds up to `batch` new requests to the search index; returns how
    /// many (0 once it has caught up).
    pub async fn index_batch(&self, batch: usize) -> Result<usize, StoreError> {
        each!(self, b => b.index_batch(batch).await)
    }

    /// When the oldest request the search index has not reached arrived;
    /// `None` when the index has caught up.
    pub async fn oldest_unindexed(&self) -> Result<Option<Millis>, StoreError> {
        each!(self, b => b.oldest_unindexed().await)
    }

    /// Requests waiting for delivery, over every tunnel name ever connected
    /// (a stopped laptop's backlog counts).
    pub async fn tunnel_backlog(&self) -> Result<u64, StoreError> {
        each!(self, b => b.tunnel_backlog().await)
    }

    /// Body bytes stored by all bins.
    pub async fn stored_bytes(&self) -> Result<u64, StoreError> {
        each!(self, b => b.stored_bytes().await)
    }

    /// Holds tunnel `name` of `bin` for the whole cluster until the
    /// returned hold is dropped: asks the replica holding it to end that
    /// session and waits until it has (PostgreSQL). A single SQLite process
    /// has only its own sessions, which the hub already orders.
    /// `ticket` orders claims across replicas; `wanted` is asked between
    /// attempts, and `None` comes back once it says no (a newer connection
    /// took the name meanwhile).
    pub async fn hold_name(
        &self,
        bin: Uuid,
        name: &str,
        ticket: u64,
        wanted: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<NameHold>, StoreError> {
        match &self.backend {
            Backend::Sqlite(_) => Ok(Some(NameHold(None))),
            Backend::Postgres(b) => Ok(b
                .hold_name(bin, name, ticket, wanted)
                .await?
                .map(|hold| NameHold(Some(hold)))),
        }
    }

    /// Captures other replicas commit, from now on; `None` when this
    /// process is the database's only writer (SQLite).
    pub fn events(&self) -> Option<tokio::sync::broadcast::Receiver<Event>> {
        match &self.backend {
            Backend::Sqlite(_) => None,
            Backend::Postgres(b) => Some(b.events()),
        }
    }

    /// True when this process is the database's only writer, so the
    /// commit hooks of [`Self::capture_then`] see every capture, in id
    /// order: tunnels may then take captures in memory. With several
    /// replicas a tunnel must read them from the database.
    pub fn sole_writer(&self) -> bool {
        matches!(self.backend, Backend::Sqlite(_))
    }

    /// True when a read query succeeds: what `/healthz` reports.
    pub async fn healthy(&self) -> bool {
        each!(self, b => b.healthy().await)
    }
}
