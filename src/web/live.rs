//! Live updates for open inspector pages: `GET /bins/{bin_id}/events`, a
//! Server-Sent Events stream of each new request's summary. The page still
//! works without it (reload).

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use super::inspector::bin_id;
use crate::error::AppError;
use crate::model::{NewRequest, rfc3339};
use crate::state::AppState;

/// Summaries buffered per subscriber before it lags (and reloads).
pub const CAPACITY: usize = 1024;

/// What a page needs to add a request to its list.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The bin.
    #[serde(skip)]
    pub bin: Uuid,
    /// Request id.
    pub id: i64,
    /// Method.
    pub method: String,
    /// Sub-path and query, as the list shows them.
    pub target: String,
    /// Arrival, RFC 3339.
    pub time: String,
    /// Body size in bytes.
    pub size: usize,
    /// Signature check, if any.
    pub signature: Option<crate::verify::Signature>,
}

impl Summary {
    /// The summary of a just-stored request.
    pub fn new(id: i64, r: &NewRequest) -> Self {
        Self {
            bin: r.bin_id,
            id,
            method: r.method.clone(),
            target: r.target(),
            time: rfc3339(r.received_at),
            size: r.body.len(),
            signature: r.signature.clone(),
        }
    }
}

/// `GET /bins/{bin_id}/events`.
pub async fn events(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let bin = bin_id(&id)?;
    state.cached_bin(bin).await?;
    let rx = state.live.subscribe();
    let stopping = state.stopping.subscribe();
    // State: the subscription, the shutdown signal, and whether the stream
    // has said its last word (a reload order).
    let stream = futures_util::stream::unfold(
        (rx, stopping, false),
        move |(mut rx, mut stopping, done)| async move {
            if done {
                return None;
            }
            loop {
                tokio::select! {
                    msg = rx.recv() => match msg {
                        Ok(s) if s.bin == bin => {
                            let data = serde_json::to_string(&s).unwrap_or_default();
                            let event = Event::default().event("request").data(data);
                            return Some((Ok(event), (rx, stopping, false)));
                        }
                        Ok(_) => {}
                        // Too far behind: the page reloads to catch up.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let event = Event::default().event("reload").data("lagged");
                            return Some((Ok(event), (rx, stopping, true)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = stopping.changed() => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
