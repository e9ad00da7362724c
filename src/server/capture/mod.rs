//! The capture handler: any method, any sub-path of `/{bin_id}` (or of a
//! bin's alias). Applies the body limit, picks the response rule that
//! answers (if any), stores the request, waits for its commit, then
//! answers: with the rule, a passthrough tunnel's app, or the bin's
//! configured response.
//!
//! The handler reads top to bottom as the steps, one function each.
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`body`]: a body read whole within a size limit and a deadline.
//! - [`admit`](mod@admit): step 1: the bin, its rate limit, the body's size, the quota.
//! - [`record`](mod@record): step 2: the request as it will be stored.
//! - [`choose`]: step 3: who answers — a rule, or a passthrough tunnel's app.
//! - [`commit`](mod@commit): step 4: the write, and the tunnels and pages told of it.
//! - [`answer`](mod@answer): step 5: the response (after any wait), or the refusal.

pub mod admit;
pub mod answer;
pub mod body;
pub mod choose;
pub mod commit;
pub mod record;

pub use answer::{DropConnection, PASSTHROUGH_DEADLINE};
pub use body::{BodyError, read_limited};

use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::response::Response;
use axum::routing::any;

use crate::server::capture::admit::{Admitted, admit};
use crate::server::capture::answer::{Stored, answer, refuse};
use crate::server::capture::choose::{choose_rule, known_answer, passthrough};
use crate::server::capture::commit::commit;
use crate::server::capture::record::record;
use crate::server::error::AppError;
use crate::server::state::AppState;

/// The capture routes: any method on the bare capture URL and any
/// sub-path of it.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/{bin_id}", any(capture))
        .route("/{bin_id}/", any(capture))
        .route("/{bin_id}/{*path}", any(capture))
}

/// Splits a raw URI path into the bin segment and the sub-path after it
/// (`/` when there is none). The sub-path stays exactly as sent.
fn split_path(path: &str) -> (&str, &str) {
    let rest = path.strip_prefix('/').unwrap_or(path);
    match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    }
}

/// Handles every request to a capture URL: stored, then answered; or
/// refused.
async fn capture(State(state): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    match store_request(&state, req).await {
        Ok(stored) => answer(&state, stored, started).await,
        Err(e) => refuse(&state, e),
    }
}

/// Reads, checks and commits one capture, then wakes the bin's tunnels:
/// steps 1 to 4.
async fn store_request(state: &AppState, req: Request) -> Result<Stored, AppError> {
    let (parts, body) = req.into_parts();
    let (segment, path) = split_path(parts.uri.path());
    let Admitted { bin_id, bin, body } = admit(state, segment, &parts.headers, body).await?;
    let size = body.len();
    let mut new = record(state, &parts, bin_id, &bin.secrets, path, body);
    // On the sender's path: measured at well under 10% of a capture
    // (docs/schemas.md), so no deferred verdict to wait for.
    new.schema = new.verdict(&bin.schemas);
    // The guard is held until the commit where the database counts
    // arrivals (replicas).
    let (ruled, _counting) = choose_rule(state, &bin, &mut new).await?;
    let (answer_tx, answer) = passthrough(state, bin_id, ruled.is_some()).await;
    // Stored with the capture when already known (no second write).
    new.answer = known_answer(&bin, ruled.as_ref(), answer.is_some());
    let recorded = new.answer.clone();
    let id = commit(state, new, answer_tx).await?;
    Ok(Stored {
        id,
        bin_id,
        size,
        bin,
        answer,
        ruled,
        recorded,
    })
}

#[cfg(test)]
mod tests {
    use super::split_path;

    #[test]
    fn split_keeps_raw_sub_path() {
        assert_eq!(split_path("/abc"), ("abc", "/"));
        assert_eq!(split_path("/abc/"), ("abc", "/"));
        assert_eq!(split_path("/abc/x/%2Fy"), ("abc", "/x/%2Fy"));
    }
}
