//! `GET /bins/{bin_id}/events`: a Server-Sent Events stream of each new
//! request's summary (`request`), and of answers known only later (`answered`) (from [`crate::server::services::live`]) for an open inspector page.
//! The page still works without it (reload).

use std::convert::Infallible;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use futures_util::Stream;
use tokio::sync::broadcast;

use serde_json::json;

use super::bin_id;
use crate::server::error::AppError;
use crate::server::services::live::Update;
use crate::server::state::AppState;
use crate::server::web::auth::Principal;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/bins/{bin_id}/events", get(events))
}

/// `GET /bins/{bin_id}/events`.
async fn events(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, AppError> {
    let bin = bin_id(&id)?;
    state.bins.cached(bin).await?;
    let sub = state.live.subscribe(bin);
    let stopping = state.stopping.subscribe();
    // State: the subscription, the shutdown signal, the token's
    // revocation, and whether the stream has said its last word (a reload
    // order).
    let stream = futures_util::stream::unfold(
        (sub, stopping, principal.revocation, false),
        move |(mut sub, mut stopping, revocation, done)| async move {
            if done {
                return None;
            }
            loop {
                tokio::select! {
                    msg = sub.rx.recv() => match msg {
                        Ok(u) if u.bin() == bin => {
                            let event = match u {
                                Update::Request(s) => Event::default()
                                    .event("request")
                                    .data(serde_json::to_string(&s).unwrap_or_default()),
                                Update::Answered { id, response, .. } => Event::default()
                                    .event("answered")
                                    .data(json!({ "id": id, "response": response }).to_string()),
                            };
                            return Some((Ok(event), (sub, stopping, revocation, false)));
                        }
                        Ok(_) => {}
                        // Too far behind: the page reloads to catch up.
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let event = Event::default().event("reload").data("lagged");
                            return Some((Ok(event), (sub, stopping, revocation, true)));
                        }
                        Err(broadcast::error::RecvError::Closed) => return None,
                    },
                    _ = stopping.changed() => return None,
                    // A revoked token's page stops hearing of captures.
                    () = revocation.wait() => return None,
                }
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
