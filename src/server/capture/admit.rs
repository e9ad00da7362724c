//! Step 1, admit: everything that may refuse a capture before anything is
//! stored or answered — the bin must exist, its rate limit allow one more,
//! the body fit the size limit and arrive in time, and the quota have room.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, header};
use uuid::Uuid;

use crate::server::capture::body::{BodyError, read_limited};
use crate::server::error::AppError;
use crate::server::services::bins::CachedBin;
use crate::server::state::AppState;

/// A capture let in: its bin and its whole body.
pub struct Admitted {
    /// The bin the capture URL names.
    pub bin_id: Uuid,
    /// What the capture needs of the bin.
    pub bin: Arc<CachedBin>,
    /// The body, read whole; its bytes are reserved in the quota.
    pub body: Bytes,
}

/// Admits a capture to the bin `segment` names (its id or alias), or says
/// why not. A step of its own because every refusal here is one the
/// sender hears (and `/metrics` counts) before the database is touched;
/// the order is the cheapest check first, the quota last (it reserves).
pub async fn admit(
    state: &AppState,
    segment: &str,
    headers: &HeaderMap,
    body: Body,
) -> Result<Admitted, AppError> {
    let bin_id = state.bins.resolve(segment).await?;
    let bin = state.bins.cached(bin_id).await?;
    if let Some(rate) = &state.rate {
        rate.take(bin_id).map_err(AppError::TooManyRequests)?;
    }
    let body = read_body(state, headers, body).await?;
    if let Some(quota) = &state.quota {
        quota
            .reserve(body.len() as u64)
            .map_err(AppError::InsufficientStorage)?;
    }
    Ok(Admitted { bin_id, bin, body })
}

/// The body within `--max-body-bytes` and the body deadline: refused at
/// once when its declared length is already too much.
async fn read_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Bytes, AppError> {
    let limit = state.config.max_body_bytes;
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::PayloadTooLarge(limit));
    }
    // A trickled body must not hold a connection (and its buffer) forever.
    let deadline = state.config.body_deadline;
    read_limited(body, limit, deadline)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => AppError::PayloadTooLarge(limit),
            BodyError::TimedOut => AppError::BodyTimeout(deadline.as_secs()),
            BodyError::Broken(e) => AppError::BadRequest(format!(
                "the request body could not be read ({e}); send it again"
            )),
        })
}
