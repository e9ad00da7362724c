//! Fills the search index in the background, a small batch per writer job
//! and only while no capture waits for the writer: trigram indexing costs
//! tens of microseconds a request, and in line with a burst it would hold
//! captures back. Search covers what is not indexed yet with LIKE.

use std::sync::Arc;
use std::time::Duration;

use crate::server::metrics::Metrics;
use crate::server::store::Store;

/// Requests indexed per writer job: about a millisecond of the writer, the
/// most a capture arriving meanwhile waits.
const BATCH: usize = 32;

/// Pause between catch-ups.
const EVERY: Duration = Duration::from_millis(250);

/// The indexing loop: runs until dropped (its owner, the server, holds it
/// in a `JoinSet`, which aborts it).
pub async fn run(store: Store, metrics: Arc<Metrics>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        while store.writer_idle() {
            match store.index_batch(BATCH).await {
                Ok(n) if n == BATCH => tokio::task::yield_now().await,
                Ok(_) => break,
                Err(e) => {
                    metrics.db_error();
                    tracing::error!(error = %e, "search indexing failed");
                    break;
                }
            }
        }
    }
}
