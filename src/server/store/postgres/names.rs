//! A tunnel name is held by one session in the whole cluster. Each replica
//! keeps one connection for the names its sessions hold: a session-level
//! advisory lock per (bin, name), taken with `pg_try_advisory_lock` and
//! released when the session ends, or by PostgreSQL itself when the
//! replica dies (its connection goes). A new session first announces its
//! claim (the holder's replica then ends the older session, see
//! `cluster.rs`), then tries the lock until the older session has let go:
//! after recording every answer it got, so the new one resumes exactly
//! after them.

use std::sync::Arc;
use std::time::{Duration, Instant};

use sha2::{Digest as _, Sha256};
use tokio_postgres::Client;
use uuid::Uuid;

use super::listener;
use crate::server::store::StoreError;

/// How often a waiting session tries the lock again.
const RETRY: Duration = Duration::from_millis(50);

/// How often it repeats its claim while it waits (a notification sent
/// while the holder's replica was reconnecting is lost).
const RECLAIM: Duration = Duration::from_secs(2);

/// The replica's connection for name locks, opened again if it is lost
/// (PostgreSQL then released its locks; sessions that held names on it
/// are not told yet, see the README).
pub(super) struct Names {
    client: tokio::sync::Mutex<Arc<Client>>,
    config: tokio_postgres::Config,
    tls: super::Tls,
    replica: u64,
}

/// A held name; dropping it releases its locks.
pub struct NameHold {
    client: Arc<Client>,
    keys: Vec<i64>,
}

/// The advisory lock key of a name: 64 bits of a hash of bin and name.
fn key(bin: Uuid, name: &str) -> i64 {
    key_of(bin, name, b"")
}

/// The lock a session takes once it has its position and relays: how
/// every replica lists the bin's connected tunnels.
fn attached_key(bin: Uuid, name: &str) -> i64 {
    key_of(bin, name, b"attached")
}

/// The lock a passthrough session takes with it: how other replicas know
/// a capture of the bin should wait for an app's answer.
fn passthrough_key(bin: Uuid, name: &str) -> i64 {
    key_of(bin, name, b"passthrough")
}

fn key_of(bin: Uuid, name: &str, what: &[u8]) -> i64 {
    let digest = Sha256::new()
        .chain_update(bin.as_bytes())
        .chain_update(name.as_bytes())
        .chain_update(what)
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl Names {
    pub(super) fn new(
        client: Client,
        config: tokio_postgres::Config,
        tls: super::Tls,
        replica: u64,
    ) -> Self {
        Self {
            client: tokio::sync::Mutex::new(Arc::new(client)),
            config,
            tls,
            replica,
        }
    }

    /// The connection, opened again if it was lost.
    async fn client(&self) -> Result<Arc<Client>, StoreError> {
        let mut client = self.client.lock().await;
        if client.is_closed() {
            tracing::warn!("the tunnel-name connection was lost; opening it again");
            *client = Arc::new(super::connect(&self.config, &self.tls).await?);
        }
        Ok(client.clone())
    }

    /// The bin's tunnel names whose `key` lock some replica holds.
    async fn held(&self, bin: Uuid, key: fn(Uuid, &str) -> i64) -> Result<Vec<String>, StoreError> {
        let client = self.client().await?;
        let names: Vec<String> = client
            .query(
                "SELECT DISTINCT name FROM tunnels WHERE bin_id = $1 ORDER BY name",
                &[&bin],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        if names.is_empty() {
            return Ok(names);
        }
        let keys: Vec<i64> = names.iter().map(|n| key(bin, n)).collect();
        // A bigint advisory key is split over classid (high half) and objid.
        let held: Vec<i64> = client
            .query(
                "SELECT (classid::bigint << 32) | objid::bigint FROM pg_locks
                 WHERE locktype = 'advisory' AND granted AND objsubid = 1
                   AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                   AND ((classid::bigint << 32) | objid::bigint) = ANY($1)",
                &[&keys],
            )
            .await?
            .iter()
            .map(|r| r.get(0))
            .collect();
        Ok(names
            .into_iter()
            .zip(keys)
            .filter(|(_, k)| held.contains(k))
            .map(|(n, _)| n)
            .collect())
    }

    /// The bin's tunnels connected to any replica.
    pub(super) async fn connected(&self, bin: Uuid) -> Result<Vec<String>, StoreError> {
        self.held(bin, attached_key).await
    }

    /// True when a passthrough session of the bin is connected to any
    /// replica: one of its names' passthrough locks is held.
    pub(super) async fn passthrough_held(&self, bin: Uuid) -> Result<bool, StoreError> {
        Ok(!self.held(bin, passthrough_key).await?.is_empty())
    }

    /// Claims the name and waits until this replica holds it, or until
    /// `wanted` says the claim is no longer wanted (`None`).
    pub(super) async fn hold(
        &self,
        bin: Uuid,
        name: &str,
        ticket: u64,
        wanted: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<NameHold>, StoreError> {
        let key = key(bin, name);
        let claim = listener::claim_payload(self.replica, bin, name, ticket);
        let mut claimed: Option<Instant> = None;
        loop {
            if !wanted() {
                return Ok(None);
            }
            let client = self.client().await?;
            if claimed.is_none_or(|at| at.elapsed() >= RECLAIM) {
                client
                    .execute("SELECT pg_notify($1, $2)", &[&listener::CHANNEL, &claim])
                    .await?;
                claimed = Some(Instant::now());
            }
            let mine: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?
                .get(0);
            if mine {
                return Ok(Some(NameHold {
                    client,
                    keys: vec![key],
                }));
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

impl NameHold {
    /// The session has its position and relays: it is listed as
    /// connected, and for `passthrough` captures on every replica wait for
    /// its answers. (The older session released these locks before its
    /// name lock, so they are free.)
    pub(crate) async fn attached(
        &mut self,
        bin: Uuid,
        name: &str,
        passthrough: bool,
    ) -> Result<(), StoreError> {
        let mut keys = vec![attached_key(bin, name)];
        if passthrough {
            keys.push(passthrough_key(bin, name));
        }
        for key in keys {
            let got: bool = self
                .client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?
                .get(0);
            if got {
                self.keys.push(key);
            }
        }
        Ok(())
    }
}

impl Drop for NameHold {
    fn drop(&mut self) {
        let (client, keys) = (self.client.clone(), std::mem::take(&mut self.keys));
        // Unlocking needs a round trip; a runtime that is shutting down
        // closes the connection, which releases the lock all the same.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                for key in keys.iter().rev() {
                    if let Err(e) = client
                        .execute("SELECT pg_advisory_unlock($1)", &[key])
                        .await
                    {
                        tracing::warn!(error = %e, "releasing a tunnel name");
                    }
                }
            });
        }
    }
}
