//! A request body read whole, within a size limit and a deadline (captures
//! and imports both read bodies this way).

use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body_util::{BodyExt, LengthLimitError, Limited};

/// Why a body could not be read whole.
#[derive(Debug)]
pub enum BodyError {
    /// Over the limit.
    TooLarge,
    /// Not all there by the deadline.
    TimedOut,
    /// Cut off or badly framed.
    Broken(String),
}

/// Collects a whole body, refusing it past `limit` bytes or when it has not
/// all arrived within `deadline`: a trickled body must not hold a
/// connection (and its buffer) forever.
pub async fn read_limited(
    body: Body,
    limit: usize,
    deadline: Duration,
) -> Result<Bytes, BodyError> {
    match tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await {
        Err(_) => Err(BodyError::TimedOut),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(BodyError::TooLarge),
        Ok(Err(e)) => Err(BodyError::Broken(e.to_string())),
    }
}
