//! Fills the search index in the background, a small batch per writer job.
//! Trigram indexing costs tens of microseconds a request, and in line with
//! a burst it would hold captures back, so the indexer works while no
//! capture waits for the writer — unless the oldest request it has not
//! reached is older than [`LAG_LIMIT`]: then it takes its turn in the
//! writer's queue like any capture, so search keeps up under sustained load
//! too (SPEC §8: searchable within 5 s), at the cost of some capture
//! throughput. Search covers what is not indexed yet with LIKE.

use std::sync::Arc;
use std::time::Duration;

use crate::metrics::Metrics;
use crate::store::Store;
use crate::time::now_millis;

/// Requests indexed per writer job: about a millisecond of the writer, the
/// most a capture arriving meanwhile waits.
const BATCH: usize = 32;

/// Pause between catch-ups.
const EVERY: Duration = Duration::from_millis(250);

/// Past this lag the indexer no longer waits for an idle writer.
const LAG_LIMIT: Duration = Duration::from_secs(2);

/// The indexing loop: runs until dropped (its owner, the server, holds it
/// in a `JoinSet`, which aborts it).
pub async fn run(store: Store, metrics: Arc<Metrics>) {
    let mut tick = tokio::time::interval(EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        while store.writer_idle() || lagging(&store).await {
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

/// True when a request has waited for the index longer than [`LAG_LIMIT`].
async fn lagging(store: &Store) -> bool {
    let limit = i64::try_from(LAG_LIMIT.as_millis()).unwrap_or(i64::MAX);
    matches!(
        store.oldest_unindexed().await,
        Ok(Some(at)) if now_millis().saturating_sub(at) > limit
    )
}
