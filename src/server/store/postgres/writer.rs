//! The capture writer: one task per replica, with its own connection,
//! takes every capture waiting (up to [`MAX_BATCH`]) into one transaction
//! and answers each only after that transaction committed (group commit).
//!
//! **Ids become visible in id order, on every replica.** Each batch takes
//! one transaction-scoped advisory lock ([`CAPTURE_LOCK`]) before it draws
//! ids from `requests_id_seq`, and holds it until its commit. So when a
//! batch draws ids, every batch that drew smaller ids has already committed
//! or rolled back: no transaction can commit an id below one that is
//! already visible. A tunnel that has seen id N has therefore seen every
//! request below N that will ever exist (ids of a rolled-back batch are
//! simply never used), and its position (`delivered_through`, plus the
//! deliveries recorded above it) can never skip a late commit; deliveries
//! are recorded once per (request, name), so nothing goes twice to a name.
//! The price is that batches of different replicas commit one after
//! another; group commit keeps that to one lock hand-over per batch.

use std::collections::{BTreeMap, HashSet};

use tokio::sync::{mpsc, oneshot};
use tokio_postgres::{Client, Statement};
use uuid::Uuid;

use super::listener;
use crate::core::model::NewRequest;
use crate::server::store::{StoreError, answer_columns};

/// Captures taken into one transaction at most.
const MAX_BATCH: usize = 256;

/// Captures that may wait for the writer before callers feel back-pressure.
const QUEUE: usize = 4096;

/// The advisory lock every capture batch holds from its first id to its
/// commit (any constant no other user of the database takes). Deletes take
/// it too: a batch locks a bin's row and then deletes its oldest requests,
/// a delete removes requests and then (by trigger) updates the bin's row,
/// and taking this lock first keeps the two from deadlocking.
pub(crate) const CAPTURE_LOCK: i64 = 0x686f_6f6b_6361_7074;

/// One capture waiting for the writer.
pub(super) struct Capture {
    pub req: NewRequest,
    /// `req.headers` and `req.signature` as JSON, and the text search
    /// looks in, prepared by the caller.
    pub headers: String,
    pub signature: Option<String>,
    /// `req.schema` as JSON.
    pub schema: Option<String>,
    pub search_doc: String,
    /// Runs with the new id before the commit (see `Store::capture`).
    pub on_id: Box<dyn FnOnce(i64) + Send>,
    /// Runs with the new id after the commit, in id order.
    pub on_commit: Option<Box<dyn FnOnce(i64) + Send>>,
    pub reply: oneshot::Sender<Result<Option<i64>, StoreError>>,
}

/// Handle to the writer task; the task ends when every handle is gone and
/// the queue is drained.
#[derive(Clone)]
pub(super) struct Writer {
    tx: mpsc::Sender<Capture>,
}

impl Writer {
    /// Starts the writer on a connection of its own (`setup`: statements
    /// for the session, e.g. `synchronous_commit`); reconnects with `config`
    /// when the connection is lost. `replica` signs the batch's
    /// notifications (see listener.rs).
    pub(super) async fn start(
        config: tokio_postgres::Config,
        tls: super::Tls,
        setup: &'static str,
        cap: u64,
        replica: u64,
    ) -> Result<(Self, tokio::task::JoinHandle<()>), StoreError> {
        let conn = Conn::open(&config, &tls, setup).await?;
        let (tx, rx) = mpsc::channel(QUEUE);
        let task = tokio::spawn(run(conn, config, tls, setup, rx, cap, replica));
        Ok((Self { tx }, task))
    }

    /// True when no capture waits for the writer.
    pub(super) fn idle(&self) -> bool {
        self.tx.capacity() == self.tx.max_capacity()
    }

    /// Queues a capture and waits for the commit of its batch.
    pub(super) async fn capture(
        &self,
        capture: impl FnOnce(oneshot::Sender<Result<Option<i64>, StoreError>>) -> Capture,
    ) -> Result<Option<i64>, StoreError> {
        let (reply, rx) = oneshot::channel();
        self.tx
            .send(capture(reply))
            .await
            .map_err(|_| StoreError::Closed)?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

/// The writer's connection and its prepared statements.
struct Conn {
    client: Client,
    ids: Statement,
    insert: Statement,
}

impl Conn {
    async fn open(
        config: &tokio_postgres::Config,
        tls: &super::Tls,
        setup: &str,
    ) -> Result<Self, StoreError> {
        let client = super::connect(config, tls).await?;
        client.batch_execute(setup).await?;
        let ids = client
            .prepare("SELECT nextval('requests_id_seq') FROM generate_series(1, $1::bigint)")
            .await?;
        let insert = client
            .prepare(
                "INSERT INTO requests (id, bin_id, received_at, method, path, query, headers,
                                       remote_addr, body, signature, retry_key, search_doc, rule,
                                       response_status, response_by, response_name, schema)
                 SELECT u.* FROM unnest($1::bigint[], $2::uuid[], $3::bigint[], $4::text[],
                                        $5::text[], $6::text[], $7::text[], $8::text[],
                                        $9::bytea[], $10::text[], $11::text[], $12::text[],
                                        $13::text[], $14::integer[], $15::text[], $16::text[],
                                        $17::text[])
                   AS u(id, bin_id, received_at, method, path, query, headers, remote_addr,
                        body, signature, retry_key, search_doc, rule, response_status,
                        response_by, response_name, schema)
                 WHERE EXISTS (SELECT 1 FROM bins b WHERE b.id = u.bin_id)
                 RETURNING id",
            )
            .await?;
        Ok(Self {
            client,
            ids,
            insert,
        })
    }
}

/// Longest a batch may take before its connection is given up.
const BATCH_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);

/// How long the writer waits before connecting again after a failure.
const RECONNECT_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);

async fn run(
    conn: Conn,
    config: tokio_postgres::Config,
    tls: super::Tls,
    setup: &'static str,
    mut rx: mpsc::Receiver<Capture>,
    cap: u64,
    replica: u64,
) {
    let mut conn = Some(conn);
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = rx.recv().await {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(c) => batch.push(c),
                Err(_) => break,
            }
        }
        // A lost connection (database restarted, network cut) is opened
        // again; captures that arrive meanwhile are refused, not held.
        if conn.as_ref().is_none_or(|c| c.client.is_closed()) {
            conn = match Conn::open(&config, &tls, setup).await {
                Ok(c) => Some(c),
                Err(e) => {
                    tracing::error!(error = %e, "cannot reach PostgreSQL");
                    let n = batch.len();
                    finish(batch.drain(..), (0..n).map(|_| Err(commit_failed(&e))));
                    tokio::time::sleep(RECONNECT_PAUSE).await;
                    None
                }
            };
        }
        let Some(client) = conn.as_mut() else {
            continue;
        };
        let Ok(committed) =
            tokio::time::timeout(BATCH_LIMIT, commit(client, &mut batch, cap, replica)).await
        else {
            // Whether it committed is unknown: none is acknowledged (a
            // sender retries; the retry shares the idempotency key).
            tracing::error!(
                captures = batch.len(),
                "capture batch timed out; reconnecting"
            );
            conn = None;
            let n = batch.len();
            let why = "the database did not answer in time";
            finish(batch.drain(..), (0..n).map(|_| Err(commit_failed(why))));
            continue;
        };
        match committed {
            Ok(ids) => finish(batch.drain(..), ids.into_iter().map(Ok)),
            // One bad capture (its bin deleted by another replica midway)
            // must not fail the others: each goes again on its own.
            Err(e) if batch.len() > 1 => {
                tracing::warn!(error = %e, captures = batch.len(), "batch failed; retrying one by one");
                for c in std::mem::take(&mut batch) {
                    let mut one = vec![c];
                    let result = commit(client, &mut one, cap, replica).await;
                    let result = result.map(|ids| ids[0]).map_err(commit_failed);
                    finish(one.into_iter(), std::iter::once(result));
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "capture commit failed");
                let n = batch.len();
                finish(batch.drain(..), (0..n).map(|_| Err(commit_failed(&e))));
            }
        }
    }
    tracing::debug!("postgres writer drained and stopped");
}

fn commit_failed(e: impl std::fmt::Display) -> StoreError {
    StoreError::CommitFailed(e.to_string())
}

/// Answers each capture, running its commit hook first, in id order.
fn finish(
    captures: impl Iterator<Item = Capture>,
    results: impl Iterator<Item = Result<Option<i64>, StoreError>>,
) {
    for (c, result) in captures.zip(results) {
        if let (Ok(Some(id)), Some(hook)) = (&result, c.on_commit) {
            hook(*id);
        }
        // The caller may have gone (client hung up); the write stands.
        let _ = c.reply.send(result);
    }
}

/// One text column of the batch, for `unnest`.
fn column(batch: &[Capture], f: fn(&Capture) -> &str) -> Vec<&str> {
    batch.iter().map(f).collect()
}

/// One transaction: the lock, the inserts (pipelined), the per-bin cap,
/// the notifications to the other replicas, then `on_id` of each and the
/// commit. Returns each capture's id (`None`:
/// its bin is gone).
async fn commit(
    conn: &mut Conn,
    batch: &mut [Capture],
    cap: u64,
    replica: u64,
) -> Result<Vec<Option<i64>>, tokio_postgres::Error> {
    let tx = conn.client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CAPTURE_LOCK])
        .await?;
    // Ids first, in order, while holding the lock; then every row in one
    // statement. A row whose bin is gone is left out (its id unused).
    let n = i64::try_from(batch.len()).unwrap_or(i64::MAX);
    let (methods, paths, queries) = (
        column(batch, |c| &c.req.method),
        column(batch, |c| &c.req.path),
        column(batch, |c| &c.req.query),
    );
    let (headers, remotes, docs) = (
        column(batch, |c| &c.headers),
        column(batch, |c| &c.req.remote_addr),
        column(batch, |c| &c.search_doc),
    );
    let bins: Vec<Uuid> = batch.iter().map(|c| c.req.bin_id).collect();
    let received: Vec<i64> = batch.iter().map(|c| c.req.received_at).collect();
    let bodies: Vec<&[u8]> = batch.iter().map(|c| &c.req.body[..]).collect();
    let signatures: Vec<Option<&str>> = batch.iter().map(|c| c.signature.as_deref()).collect();
    let schemas: Vec<Option<&str>> = batch.iter().map(|c| c.schema.as_deref()).collect();
    let retry_keys: Vec<Option<&str>> = batch.iter().map(|c| c.req.retry_key.as_deref()).collect();
    let rules: Vec<Option<&str>> = batch.iter().map(|c| c.req.rule.as_deref()).collect();
    let answers: Vec<_> = batch
        .iter()
        .map(|c| answer_columns(c.req.answer.as_ref()))
        .collect();
    let statuses: Vec<Option<i32>> = answers.iter().map(|a| a.0).collect();
    let answered_by: Vec<Option<&str>> = answers.iter().map(|a| a.1).collect();
    let answer_names: Vec<Option<&str>> = answers.iter().map(|a| a.2).collect();
    let drawn: Vec<i64> = tx
        .query(&conn.ids, &[&n])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let inserted: HashSet<i64> = tx
        .query(
            &conn.insert,
            &[
                &drawn,
                &bins,
                &received,
                &methods,
                &paths,
                &queries,
                &headers,
                &remotes,
                &bodies,
                &signatures,
                &retry_keys,
                &docs,
                &rules,
                &statuses,
                &answered_by,
                &answer_names,
                &schemas,
            ],
        )
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let ids: Vec<Option<i64>> = drawn
        .iter()
        .map(|id| inserted.contains(id).then_some(*id))
        .collect();

    let mut per_bin: BTreeMap<Uuid, i64> = BTreeMap::new();
    for (c, id) in batch.iter().zip(&ids) {
        if id.is_some() {
            *per_bin.entry(c.req.bin_id).or_default() += 1;
        }
    }
    for (bin, n) in per_bin {
        let count: i64 = tx
            .query_one(
                "UPDATE bins SET request_count = request_count + $2 WHERE id = $1
                 RETURNING request_count",
                &[&bin, &n],
            )
            .await?
            .get(0);
        let cap = i64::try_from(cap).unwrap_or(i64::MAX);
        if cap > 0 && count > cap {
            // The trigger on requests brings request_count back to the cap.
            tx.execute(
                "DELETE FROM requests WHERE id IN
                   (SELECT id FROM requests WHERE bin_id = $1 ORDER BY id LIMIT $2)",
                &[&bin, &(count - cap)],
            )
            .await?;
        }
    }
    // Delivered at the commit, after every earlier batch's.
    let stored: Vec<(Uuid, i64)> = batch
        .iter()
        .zip(&ids)
        .filter_map(|(c, id)| id.map(|id| (c.req.bin_id, id)))
        .collect();
    for chunk in stored.chunks(listener::PER_NOTIFICATION) {
        tx.execute(
            "SELECT pg_notify($1, $2)",
            &[&listener::CHANNEL, &listener::payload(replica, chunk)],
        )
        .await?;
    }
    for (c, id) in batch.iter_mut().zip(&ids) {
        if let Some(id) = id {
            let on_id = std::mem::replace(&mut c.on_id, Box::new(|_| {}));
            on_id(*id);
        }
    }
    tx.commit().await?;
    Ok(ids)
}
