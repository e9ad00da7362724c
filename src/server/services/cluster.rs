//! Replicas sharing one PostgreSQL database: what another replica captured
//! wakes this replica's tunnel sessions of that bin (they read it from the
//! database) and reaches its open inspector pages. A single SQLite process
//! has nothing to listen to. A tunnel name claimed on another replica ends
//! this replica's session of that name; a bin changed on another replica
//! is read again, and so are the tokens when one is made or revoked.

use tokio::sync::broadcast::error::RecvError;

use crate::core::protocol::RelayResponse;
use crate::server::services::bins::Bins;
use crate::server::services::hub::Hub;
use crate::server::services::live::Live;
use crate::server::services::tokens::Tokens;
use crate::server::store::{Event, Store, StoreError};

/// Relays other replicas' captures until the store's events end; returns
/// at once on a store that has none.
pub async fn run(store: Store, bins: Bins, hub: Hub, live: Live, tokens: Tokens) {
    let Some(mut events) = store.events() else {
        return;
    };
    loop {
        match events.recv().await {
            Ok(Event::Captured { bin, id }) => {
                hub.notify(bin);
                if live.watched(bin) {
                    // Read back only for a watched bin: the list shows
                    // what the summary holds.
                    live.publish_stored(&store, bin, id).await;
                }
            }
            // A passthrough tunnel elsewhere answered captures made here.
            // Read off this loop, so wake-ups never queue behind reads.
            Ok(Event::Answered { bin, name, ids }) => {
                let waiting: Vec<i64> = ids.into_iter().filter(|id| hub.is_waiting(*id)).collect();
                if !waiting.is_empty() {
                    let (store, hub) = (store.clone(), hub.clone());
                    tokio::spawn(async move {
                        for id in waiting {
                            answer_from_store(&store, &hub, bin, &name, id).await;
                        }
                    });
                }
            }
            // A newer connection with this name on another replica.
            Ok(Event::Claimed { bin, name, ticket }) => hub.kick(bin, &name, ticket),
            // Its response, secrets, rules or alias changed elsewhere.
            Ok(Event::BinChanged { bin }) => bins.forget(bin),
            // A token made or revoked elsewhere: refused here at once.
            Ok(Event::TokensChanged) => reload(&tokens).await,
            // Missed notifications: every session looks at the database,
            // every bin is read again.
            Ok(Event::Resync) | Err(RecvError::Lagged(_)) => {
                bins.forget_all();
                hub.notify_all();
                reload(&tokens).await;
            }
            Err(RecvError::Closed) => return,
        }
    }
}

async fn reload(tokens: &Tokens) {
    if let Err(e) = tokens.reload().await {
        tracing::warn!(error = %e, "reading the tokens another replica changed");
    }
}

/// Hands the recorded answer of `id` by tunnel `name` (its latest live
/// delivery) to the capture waiting for it here.
async fn answer_from_store(store: &Store, hub: &Hub, bin: uuid::Uuid, name: &str, id: i64) {
    let request = match store.request(bin, id).await {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(error = %e, "reading another replica's passthrough answer");
            return;
        }
    };
    // With several targets, the first recorded answer (as on the replica
    // of the tunnel, where the first answer to arrive wins).
    let answer = request.deliveries.into_iter();
    if let Some(d) = answer.filter(|d| d.tunnel == name).find(|d| !d.replay) {
        let answer = RelayResponse {
            seq: 0,
            status: d.status,
            headers: d.headers,
            latency_ms: d.latency_ms,
            error: d.error,
            body: d.body,
        };
        hub.answer(id, name, &answer);
    }
}

/// Names of the bin's connected tunnels, on every replica.
pub async fn connected(
    store: &Store,
    hub: &Hub,
    bin: uuid::Uuid,
) -> Result<Vec<String>, StoreError> {
    Ok(match store.connected_tunnels(bin).await? {
        Some(names) => names,
        None => hub.connected(bin),
    })
}
