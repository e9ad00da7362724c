//! The single writer thread. It owns the only read-write connection and
//! batches whatever jobs are queued into one transaction (group commit):
//! under load one fsync-free WAL commit serves hundreds of captures, and each
//! caller is answered only after the commit that holds its write.
//!
//! Jobs are single statements or tolerate being partly applied when a
//! later statement fails: a savepoint per job would copy every page it
//! touches to a sub-journal, on the hot path, for an error that in practice
//! fails the whole commit anyway.

use std::collections::HashMap;

use rusqlite::{Connection, TransactionBehavior, params};
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use super::StoreError;
use crate::core::model::NewRequest;
use crate::server::store::answer_columns;

/// Jobs taken into one transaction at most: bounds how long the first
/// caller of a batch waits behind the others.
const MAX_BATCH: usize = 256;

/// Jobs that may wait for the writer before callers feel back-pressure.
const QUEUE: usize = 4096;

/// State the writer keeps between jobs. Only the writer touches the tables,
/// so what it caches here stays exact.
pub(super) struct WriterState {
    /// A bin keeps at most this many of its newest requests; 0 = no cap.
    cap: u64,
    /// Request count per bin, loaded on first capture; lets the per-bin cap
    /// cost nothing until a bin is full.
    counts: HashMap<Uuid, u64>,
    /// Bins over the cap in the batch under way: trimmed once, just before
    /// the commit, so a burst of k captures costs one delete of k rows.
    over_cap: Vec<Uuid>,
}

impl WriterState {
    /// Drops the cached count of one bin (after deletes).
    pub(super) fn forget(&mut self, bin: Uuid) {
        self.counts.remove(&bin);
    }

    /// Drops every cached count (after a purge or a failed commit).
    pub(super) fn forget_all(&mut self) {
        self.counts.clear();
    }

    /// Deletes the oldest requests of each bin the batch took over its cap.
    fn trim(&mut self, tx: &Connection) -> Result<(), StoreError> {
        let cap = self.cap;
        for id in self.over_cap.drain(..) {
            let Some(count) = self.counts.get_mut(&id) else {
                continue;
            };
            if *count > cap {
                tx.prepare_cached(
                    "DELETE FROM requests WHERE id IN
                       (SELECT id FROM requests WHERE bin_id = ?1 ORDER BY id LIMIT ?2)",
                )?
                .execute(params![id.hyphenated().to_string(), *count - cap])?;
                *count = cap;
            }
        }
        Ok(())
    }
}

/// A queued write: run inside the batch transaction, answered after commit.
trait Job: Send {
    fn run(&mut self, tx: &Connection, state: &mut WriterState);
    fn finish(self: Box<Self>, commit: Result<(), &str>);
}

/// Runs on the writer thread after the commit that holds a job's write,
/// before its caller hears of it: jobs finish in commit order, so hooks see
/// captures in id order.
pub(super) type AfterCommit<T> = Box<dyn FnOnce(&T) + Send>;

struct Pending<T, F> {
    f: Option<F>,
    out: Option<Result<T, StoreError>>,
    after: Option<AfterCommit<T>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T, F> Job for Pending<T, F>
where
    T: Send,
    F: FnOnce(&Connection, &mut WriterState) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, tx: &Connection, state: &mut WriterState) {
        if let Some(f) = self.f.take() {
            self.out = Some(f(tx, state));
        }
    }

    fn finish(self: Box<Self>, commit: Result<(), &str>) {
        let out = match commit {
            Ok(()) => self.out.unwrap_or(Err(StoreError::Closed)),
            Err(e) => Err(StoreError::CommitFailed(e.to_owned())),
        };
        if let (Ok(value), Some(after)) = (&out, self.after) {
            after(value);
        }
        // The caller may have gone (client hung up); the write stands.
        let _ = self.reply.send(out);
    }
}

/// Handle to the writer thread; the thread ends when every handle is gone
/// and the queue is drained.
#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Box<dyn Job>>,
}

impl Writer {
    pub(super) fn start(conn: Connection, cap: u64) -> (Self, std::thread::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let state = WriterState {
            cap,
            counts: HashMap::new(),
            over_cap: Vec::new(),
        };
        let join = std::thread::Builder::new()
            .name("hookwire-writer".into())
            .spawn(move || run_loop(conn, rx, state))
            .expect("spawning the writer thread");
        (Self { tx }, join)
    }

    /// True when no job waits for the writer (background work can go).
    pub(super) fn idle(&self) -> bool {
        self.tx.capacity() == self.tx.max_capacity()
    }

    /// Queues `f` and waits for the commit of the batch it ran in.
    pub(super) async fn run<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut WriterState) -> Result<T, StoreError> + Send + 'static,
    {
        self.run_then(f, None).await
    }

    /// [`Self::run`], calling `after` with the result on the writer thread
    /// once committed (see [`AfterCommit`]).
    pub(super) async fn run_then<T, F>(
        &self,
        f: F,
        after: Option<AfterCommit<T>>,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &mut WriterState) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, rx) = oneshot::channel();
        let job = Box::new(Pending {
            f: Some(f),
            out: None,
            after,
            reply,
        });
        self.tx.send(job).await.map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

fn run_loop(mut conn: Connection, mut rx: mpsc::Receiver<Box<dyn Job>>, mut state: WriterState) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let commit = run_batch(&mut conn, &mut state, &mut batch);
        if let Err(e) = &commit {
            tracing::error!(error = %e, jobs = batch.len(), "commit failed");
            state.forget_all();
        }
        let commit = commit.as_ref().map(|_| ()).map_err(|e| e.as_str());
        for job in batch.drain(..) {
            job.finish(commit);
        }
    }
    tracing::debug!("writer drained and stopped");
}

fn run_batch(
    conn: &mut Connection,
    state: &mut WriterState,
    batch: &mut [Box<dyn Job>],
) -> Result<(), String> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| e.to_string())?;
    for job in batch.iter_mut() {
        job.run(&tx, state);
    }
    state.trim(&tx).map_err(|e| e.to_string())?;
    tx.commit().map_err(|e| e.to_string())
}

/// Inserts a capture (`headers` and `signature` already JSON) and counts
/// it against its bin's cap. `None` when the bin is gone (the foreign key
/// refuses it).
pub(super) fn insert_request(
    tx: &Connection,
    state: &mut WriterState,
    r: &NewRequest,
    headers: &str,
    signature: Option<&str>,
    schema: Option<&str>,
) -> Result<Option<i64>, StoreError> {
    let bin = r.bin_id.hyphenated().to_string();
    let (status, by, name) = answer_columns(r.answer.as_ref());
    let inserted = tx
        .prepare_cached(
            "INSERT INTO requests
               (bin_id, received_at, method, path, query, headers, remote_addr, body, signature,
                retry_key, rule, response_status, response_by, response_name, schema)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
        )?
        .execute(params![
            bin,
            r.received_at,
            r.method,
            r.path,
            r.query,
            headers,
            r.remote_addr,
            &r.body[..],
            signature,
            r.retry_key,
            r.rule,
            status,
            by,
            name,
            schema
        ]);
    match inserted {
        Ok(_) => {}
        Err(rusqlite::Error::SqliteFailure(e, _))
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY =>
        {
            return Ok(None);
        }
        Err(e) => return Err(e.into()),
    }
    let id = tx.last_insert_rowid();
    count_capture(tx, state, r.bin_id, &bin)?;
    Ok(Some(id))
}

/// Counts a capture against its bin's cap; a bin over it is trimmed at the
/// end of the batch (see [`WriterState::trim`]).
fn count_capture(
    tx: &Connection,
    state: &mut WriterState,
    id: Uuid,
    bin: &str,
) -> Result<(), StoreError> {
    let cap = state.cap;
    if cap == 0 {
        return Ok(());
    }
    let count = match state.counts.get_mut(&id) {
        Some(c) => {
            *c += 1;
            *c
        }
        None => {
            let c: u64 = tx
                .prepare_cached("SELECT COUNT(*) FROM requests WHERE bin_id = ?1")?
                .query_row([bin], |r| r.get(0))?;
            state.counts.insert(id, c);
            c
        }
    };
    if count > cap && !state.over_cap.contains(&id) {
        state.over_cap.push(id);
    }
    Ok(())
}
