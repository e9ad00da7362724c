//! Housekeeping in the background: the purge of requests older than
//! `--retention`, and the recount of stored bytes for `--max-stored-bytes`.

use std::sync::Arc;
use std::time::Duration;

use crate::core::time::now_millis;
use crate::server::limits::StoredBytes;
use crate::server::metrics::Metrics;
use crate::server::store::Store;

/// Rows deleted per writer job, so a large purge never holds up captures
/// for long.
const PURGE_BATCH: usize = 1000;

/// Longest pause between purges.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// The housekeeping loop: runs until dropped (its owner, the server,
/// holds it in a `JoinSet`, which aborts it). Ends at once when there is
/// no retention and no quota.
pub async fn run(
    store: Store,
    metrics: Arc<Metrics>,
    retention: Option<Duration>,
    quota: Option<Arc<StoredBytes>>,
) {
    if retention.is_none() && quota.is_none() {
        return;
    }
    // A short retention is checked often enough to hold to it roughly.
    let every = retention.map_or(MAX_INTERVAL, |r| {
        (r / 2).clamp(Duration::from_millis(100), MAX_INTERVAL)
    });
    // The first round waits a period: the server counted the stored bytes
    // before it began to serve (see [`recount`]).
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if let Some(retention) = retention {
            purge(&store, &metrics, retention).await;
        }
        if let Some(quota) = &quota {
            recount(&store, quota).await;
        }
    }
}

/// Sets the quota's total from what the database holds. A capture that
/// reserved its bytes but has not committed when the count is read is
/// left out until the next count, so the server counts once before it
/// serves (nothing is in flight then) and then once a period.
pub async fn recount(store: &Store, quota: &StoredBytes) {
    match store.stored_bytes().await {
        Ok(used) => quota.recount(used),
        Err(e) => tracing::error!(error = %e, "counting stored bytes failed"),
    }
}

/// Deletes what is older than the retention, a batch at a time.
async fn purge(store: &Store, metrics: &Metrics, retention: Duration) {
    let keep_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
    let cutoff = now_millis().saturating_sub(keep_ms);
    let mut purged = 0;
    loop {
        match store.purge_before(cutoff, PURGE_BATCH).await {
            Ok(n) => {
                purged += n;
                if n < PURGE_BATCH {
                    break;
                }
            }
            Err(e) => {
                metrics.db_error();
                tracing::error!(error = %e, "retention purge failed");
                break;
            }
        }
    }
    if purged > 0 {
        tracing::info!(purged, "purged requests older than the retention");
    }
}
