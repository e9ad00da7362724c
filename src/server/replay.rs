//! Replay: a stored request sent again to the bin's connected tunnels
//! (optionally edited first), waiting a bounded time for their answers.
//! The API and the inspector's Replay buttons both come here.

use std::sync::Arc;
use std::time::Duration;

use uuid::Uuid;

use crate::core::model::{Delivery, Edits};
use crate::core::time::now_millis;
use crate::server::error::AppError;
use crate::server::state::AppState;

/// How long a replay waits for the tunnels' answers.
const REPLAY_WAIT: Duration = Duration::from_secs(10);

/// What a replay came to.
#[derive(Debug)]
pub struct Replayed {
    /// The tunnels it was sent to.
    pub tunnels: Vec<String>,
    /// The answers that came within the wait.
    pub deliveries: Vec<Delivery>,
    /// False when some did not (they are recorded when they do).
    pub complete: bool,
}

/// Sends stored request `rid` of `bin` to the bin's connected tunnels
/// (only to tunnel `only`, when given) again, with `edits` applied (the
/// stored request never changes).
pub async fn replay(
    state: &AppState,
    bin: Uuid,
    rid: i64,
    edits: Option<Edits>,
    only: Option<&str>,
) -> Result<Replayed, AppError> {
    let stored = state
        .store
        .request(bin, rid)
        .await?
        .ok_or_else(AppError::no_request)?;
    let edits = edits.filter(|e| !e.is_empty());
    if let Some(e) = &edits {
        // Checked here so the caller hears what is wrong; the session
        // applies them to the copy it reads.
        e.apply(&mut stored.req.clone())
            .map_err(AppError::BadRequest)?;
    }
    let asked = state.hub.replay(bin, rid, edits.map(Arc::new), only);
    if let (Some(name), true) = (only, asked.is_empty()) {
        return Err(AppError::Conflict(format!(
            "no tunnel named {name:?} is connected to this bin: start `hookwire tunnel <capture-url> --name {name}` or leave out ?tunnel= to replay to every tunnel"
        )));
    }
    if asked.is_empty() {
        return Err(AppError::Conflict(
            "no tunnel is connected to this bin: start `hookwire tunnel <capture-url> --to http://localhost:3000` and try again"
                .into(),
        ));
    }
    let tunnels: Vec<String> = asked.iter().map(|(n, _)| n.clone()).collect();
    // Every target's answer that comes within the wait: one target whose
    // app is down must not hide the others' answers.
    let deadline = tokio::time::Instant::now() + REPLAY_WAIT;
    let answers =
        futures_util::future::join_all(asked.into_iter().map(|(name, mut rx)| async move {
            let mut answers = Vec::new();
            loop {
                match tokio::time::timeout_at(deadline, rx.recv()).await {
                    Ok(Some((target, r))) => answers.push((name.clone(), target, r)),
                    Ok(None) => return (answers, true),
                    Err(_) => return (answers, false),
                }
            }
        }))
        .await;
    let complete = answers.iter().all(|(_, done)| *done);
    let deliveries = answers
        .into_iter()
        .flat_map(|(a, _)| a)
        .map(|(tunnel, target, r)| Delivery {
            tunnel,
            target,
            skipped: false,
            replay: true,
            status: r.status,
            headers: r.headers,
            body: r.body,
            latency_ms: r.latency_ms,
            delivered_at: now_millis(),
            error: r.error,
        })
        .collect();
    Ok(Replayed {
        tunnels,
        deliveries,
        complete,
    })
}
