//! Fills the search index in the background, a small batch per writer job,
//! so captures never wait for it; search covers the rest with LIKE.

use std::time::Duration;

use crate::state::AppState;

/// Requests indexed per writer job: a few milliseconds of the writer.
const BATCH: usize = 200;

/// Pause between catch-ups.
const EVERY: Duration = Duration::from_millis(250);

/// Starts the indexer; it runs until the returned handle is aborted.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            loop {
                match state.store.index_batch(BATCH).await {
                    Ok(n) if n == BATCH => tokio::task::yield_now().await,
                    Ok(_) => break,
                    Err(e) => {
                        state.metrics.db_error();
                        tracing::error!(error = %e, "search indexing failed");
                        break;
                    }
                }
            }
        }
    })
}
