//! The store: bins, captured requests, tunnel positions and deliveries.
//! One interface, two backends: the embedded SQLite file (the default,
//! [`sqlite`]) and PostgreSQL for teams running several replicas
//! ([`postgres`]). Capture, tunnel sessions, live updates and web handlers
//! see only [`Store`]. This module owns the types both backends share and
//! opens the store; the operations are declared in [`backend`].
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`backend`]: the [`backend::Backend`] trait, every operation declared once, and [`Store`]'s dispatch.
//! - [`sqlite`]: the SQLite backend.
//! - [`postgres`]: the PostgreSQL backend.
//! - [`migrate`]: copying an SQLite database into PostgreSQL.
//! - [`open_error`]: why the database did not open, said once, in words with the fix.

mod backend;
mod migrate;
mod open_error;
mod postgres;
mod sqlite;

pub use migrate::{Copied, copy_sqlite_to_postgres};

use std::path::Path;

use uuid::Uuid;

use crate::core::time::Millis;

use crate::core::model::{Answer, AnsweredBy, CapturedRequest, Delivery, NewRequest};
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

/// Where a tunnel name starts on a bin.
#[derive(Debug, Clone)]
pub struct Opened {
    /// Per target, the id up to which it has had every request.
    pub positions: Vec<i64>,
    /// Requests already in the bin that the name skips: it is new to the
    /// bin and did not ask for `from_start` (its user should hear of it).
    pub skipped: u64,
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
    /// Only requests whose payload schema verdict is this (`true`:
    /// valid); requests no schema applied to are never listed with it.
    pub schema: Option<bool>,
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

/// An answer as its three stored columns (`response_status`,
/// `response_by`, `response_name`; all null when not recorded).
fn answer_columns(a: Option<&Answer>) -> (Option<i32>, Option<&'static str>, Option<&str>) {
    match a {
        Some(a) => (
            a.status.map(i32::from),
            Some(a.by.as_str()),
            a.name.as_deref(),
        ),
        None => (None, None, None),
    }
}

/// The answer of three stored columns (see [`answer_columns`]): none when
/// `by` is null (requests stored before answers were recorded).
fn answer_of(
    status: Option<i32>,
    by: Option<&str>,
    name: Option<String>,
) -> Result<Option<Answer>, StoreError> {
    let Some(by) = by else {
        return Ok(None);
    };
    let by = AnsweredBy::parse(by)
        .ok_or_else(|| StoreError::Corrupt(format!("unknown response_by {by:?}")))?;
    let status = status
        .map(u16::try_from)
        .transpose()
        .map_err(|e| StoreError::Corrupt(format!("response_status: {e}")))?;
    Ok(Some(Answer { status, by, name }))
}

/// A capture with its headers and signature as stored (JSON), encoded on
/// the caller's task to keep the writer's share of each capture small.
struct Encoded {
    req: NewRequest,
    headers: String,
    signature: Option<String>,
    schema: Option<String>,
}

impl Encoded {
    fn new(req: NewRequest) -> Result<Self, StoreError> {
        Ok(Self {
            headers: to_json(&req.headers)?,
            signature: req.signature.as_ref().map(to_json).transpose()?,
            schema: req.schema.as_ref().map(to_json).transpose()?,
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
    /// A token was created or revoked on another replica: the tokens are
    /// read again (a revoked one is refused from then on).
    TokensChanged,
    /// Notifications may have been missed (the listening connection was
    /// re-established): whoever waits for captures should look again.
    Resync,
}

/// A token of a team instance as stored: its hashes, never the token
/// (see `services::tokens` for how they are made).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// Unique; what the audit log names.
    pub name: String,
    /// What it may do.
    pub scope: crate::core::scope::Scope,
    /// The token's keyed hash: what a bearer token is looked up by.
    pub hash: String,
    /// The keyed hash of its inspector session cookie.
    pub session_hash: String,
    /// When it was made.
    pub created_at: Millis,
    /// When it last authorised a request, as last written (written at
    /// most once a minute per replica, not per request).
    pub last_used_at: Option<Millis>,
}

/// One entry of the audit log: who changed what, when, from where. Never
/// a secret or a token: `action` is a fixed name and `target` an id or a
/// token's name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// Increasing; 0 for an entry not stored yet.
    pub id: i64,
    /// When.
    pub at: Millis,
    /// The token's name, the proxy's user, `operator` or `anonymous`.
    pub who: String,
    /// How `who` signed in: `token`, `operator`, `proxy` or `open`.
    pub via: String,
    /// The client's address.
    pub address: String,
    /// What was done (`bin.mint`, `rules.set`, `token.revoke`, …).
    pub action: String,
    /// What it was done to: a bin id, `BIN/requests/ID`, a token's name.
    pub target: Option<String>,
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

/// Cheap, cloneable handle to the database. Its operations are declared
/// (and documented) once, in [`backend::Backend`].
#[derive(Clone)]
pub struct Store {
    engine: Engine,
}

/// The backend a [`Store`] runs on. An enum that each operation matches
/// once (the dispatch [`backend`] generates), not an `Arc<dyn Backend>`:
/// an `async fn` called through a trait object must box its future, which
/// would cost every capture a heap allocation on the hot path. Matched
/// here, the backend's future is stored inline in the caller's, and
/// dispatch allocates nothing.
#[derive(Clone)]
enum Engine {
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

impl Store {
    /// Why `db` did not open, in words with the fix (see [`open_error`]).
    pub fn open_error(db: &Database, err: &StoreError) -> String {
        open_error::in_words(db, err)
    }

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
                engine: Engine::Sqlite(sqlite),
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
                        engine: Engine::Postgres(pg),
                    },
                    Writer::Task(join),
                ))
            }
        }
    }

    /// [`Self::capture_then`] without a commit hook.
    pub async fn capture(
        &self,
        req: NewRequest,
        on_id: impl FnOnce(i64) + Send + 'static,
    ) -> Result<Option<i64>, StoreError> {
        self.capture_then(req, on_id, None).await
    }
}
