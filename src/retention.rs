//! The background purge of requests older than `--retention`.

use std::time::Duration;

use crate::model::now_millis;
use crate::state::AppState;

/// Rows deleted per writer job, so a large purge never holds up captures
/// for long.
const PURGE_BATCH: usize = 1000;

/// Longest pause between purges.
const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// Starts the purge loop; it runs until the returned handle is aborted.
/// Does nothing when retention is off.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let Some(retention) = state.config.retention else {
            return;
        };
        // A short retention is checked often enough to hold to it roughly.
        let every = (retention / 2).clamp(Duration::from_millis(100), MAX_INTERVAL);
        let keep_ms = i64::try_from(retention.as_millis()).unwrap_or(i64::MAX);
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let cutoff = now_millis().saturating_sub(keep_ms);
            let mut purged = 0;
            loop {
                match state.store.purge_before(cutoff, PURGE_BATCH).await {
                    Ok(n) => {
                        purged += n;
                        if n < PURGE_BATCH {
                            break;
                        }
                    }
                    Err(e) => {
                        state.metrics.db_error();
                        tracing::error!(error = %e, "retention purge failed");
                        break;
                    }
                }
            }
            if purged > 0 {
                tracing::info!(purged, "purged requests older than the retention");
            }
        }
    })
}
