//! Step 4, commit: the capture written, and everyone waiting for it told —
//! a passthrough waiter registered inside the transaction, connected
//! tunnels right after the commit, open inspector pages after that.

use std::sync::Arc;

use tokio::sync::oneshot;
use uuid::Uuid;

use crate::core::model::{CapturedRequest, NewRequest};
use crate::server::error::AppError;
use crate::server::services::hub::AppAnswer;
use crate::server::services::live::Summary;
use crate::server::state::AppState;

/// What runs right after the commit, on the writer, with the new id.
type OnCommit = Box<dyn FnOnce(i64) + Send>;

/// Stores `new` and returns its id; `answer` (a passthrough tunnel's
/// answer to wait for) is registered under the id before any tunnel can
/// see the request. A step of its own because what happens around the
/// write — in the transaction, on the writer after it, after the await —
/// is ordered by the store, not by this function's lines.
pub async fn commit(
    state: &AppState,
    new: NewRequest,
    answer: Option<oneshot::Sender<AppAnswer>>,
) -> Result<i64, AppError> {
    let bin_id = new.bin_id;
    let hub = state.hub.clone();
    // Only when the bin is watched (inspector pages, `hookwire
    // tail`/`wait`): the summary for their live lists.
    let summary = state.live.watched(bin_id).then(|| Summary::new(0, &new));
    let on_commit = wake_tunnels(state, &new);
    let id = state
        .store
        .capture_then(
            new,
            move |id| {
                if let Some(tx) = answer {
                    hub.expect_answer(id, tx);
                }
            },
            Some(on_commit),
        )
        .await?
        .ok_or_else(AppError::no_bin)?;
    tell_pages(state, bin_id, id, summary);
    Ok(id)
}

/// The commit hook that wakes the bin's tunnels. When this process writes
/// every capture, connected tunnels get the capture in memory, in commit
/// order. With several replicas one replica's hooks do not see the
/// others' captures, so sessions read them all from the database and the
/// hook only wakes them (on the writer, not after the await: a sender
/// that hangs up meanwhile must not leave them asleep).
fn wake_tunnels(state: &AppState, new: &NewRequest) -> OnCommit {
    let bin_id = new.bin_id;
    let hub = state.hub.clone();
    if state.store.sole_writer() {
        let req = state.hub.watched(bin_id).then(|| new.clone());
        Box::new(move |id| match req {
            Some(req) => {
                let deliveries = Vec::new();
                let request = Arc::new(CapturedRequest {
                    id,
                    req,
                    deliveries,
                });
                hub.offer(bin_id, request);
            }
            // A tunnel that connected meanwhile reads it from the database.
            None => hub.notify(bin_id),
        })
    } else {
        Box::new(move |_| hub.notify(bin_id))
    }
}

/// Publishes the committed capture `id` to the bin's open inspector pages
/// (and `hookwire tail`/`wait`), from the `summary` made before the
/// commit when the bin was watched then.
fn tell_pages(state: &AppState, bin_id: Uuid, id: i64, summary: Option<Summary>) {
    match summary {
        Some(summary) => state.live.publish(Summary { id, ..summary }),
        // Watched since `commit` looked: a watcher that subscribed while
        // this was being written read the list before the commit, so it
        // must hear of it. Rare: read back off the sender's path.
        None if state.live.watched(bin_id) => {
            let (live, store) = (state.live.clone(), state.store.clone());
            tokio::spawn(async move { live.publish_stored(&store, bin_id, id).await });
        }
        None => {}
    }
}
