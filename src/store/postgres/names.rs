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
use crate::store::StoreError;

/// How often a waiting session tries the lock again.
const RETRY: Duration = Duration::from_millis(50);

/// How often it repeats its claim while it waits (a notification sent
/// while the holder's replica was reconnecting is lost).
const RECLAIM: Duration = Duration::from_secs(2);

/// The replica's connection for name locks.
pub(super) struct Names {
    client: Arc<Client>,
    replica: u64,
}

/// A held name; dropping it releases the lock.
pub struct NameHold {
    client: Arc<Client>,
    key: i64,
}

/// The advisory lock key of a name: 64 bits of a hash of bin and name.
fn key(bin: Uuid, name: &str) -> i64 {
    let digest = Sha256::new()
        .chain_update(bin.as_bytes())
        .chain_update(name.as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl Names {
    pub(super) fn new(client: Client, replica: u64) -> Self {
        Self {
            client: Arc::new(client),
            replica,
        }
    }

    /// Claims the name and waits until this replica holds it.
    pub(super) async fn hold(&self, bin: Uuid, name: &str) -> Result<NameHold, StoreError> {
        let key = key(bin, name);
        let claim = listener::claim_payload(self.replica, bin, name);
        let mut claimed: Option<Instant> = None;
        loop {
            if claimed.is_none_or(|at| at.elapsed() >= RECLAIM) {
                self.client
                    .execute("SELECT pg_notify($1, $2)", &[&listener::CHANNEL, &claim])
                    .await?;
                claimed = Some(Instant::now());
            }
            let mine: bool = self
                .client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await?
                .get(0);
            if mine {
                return Ok(NameHold {
                    client: self.client.clone(),
                    key,
                });
            }
            tokio::time::sleep(RETRY).await;
        }
    }
}

impl Drop for NameHold {
    fn drop(&mut self) {
        let (client, key) = (self.client.clone(), self.key);
        // Unlocking needs a round trip; a runtime that is shutting down
        // closes the connection, which releases the lock all the same.
        if let Ok(rt) = tokio::runtime::Handle::try_current() {
            rt.spawn(async move {
                if let Err(e) = client
                    .execute("SELECT pg_advisory_unlock($1)", &[&key])
                    .await
                {
                    tracing::warn!(error = %e, "releasing a tunnel name");
                }
            });
        }
    }
}
