//! The capture handler: any method, any sub-path of `/{bin_id}`. Applies the
//! body limit, stores the request, waits for its commit, then answers with
//! the bin's configured response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::error::AppError;
use crate::metrics::Reject;
use crate::model::{NewRequest, ResponseConfig, now_millis};
use crate::state::{AppState, CachedBin};
use crate::tunnel::protocol::RelayResponse;
use crate::verify::{Secrets, Signature, Signed};
use crate::web::live::Summary;

/// Response header naming the stored request's id.
pub const REQUEST_ID_HEADER: &str = "x-hookwire-request-id";

/// Checks a request against its bin's secrets. `base` is the public base
/// URL the sender was given (Twilio signs the full URL).
pub fn verify_request(secrets: &Secrets, r: &NewRequest, base: &str) -> Option<Signature> {
    let mut url = format!("{base}/{}", r.bin_id);
    if r.path != "/" {
        url.push_str(&r.path);
    }
    if !r.query.is_empty() {
        url.push('?');
        url.push_str(&r.query);
    }
    crate::verify::check(
        secrets,
        &Signed {
            headers: &r.headers,
            body: &r.body,
            received_at: r.received_at,
            url: &url,
        },
    )
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

/// How long a capture waits for a passthrough tunnel's answer before it
/// answers with the bin's own response (the request is still delivered).
pub const PASSTHROUGH_DEADLINE: Duration = Duration::from_secs(10);

/// Handles every request to a capture URL.
pub async fn capture(State(state): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    match store_request(&state, req).await {
        Ok((id, size, bin, answer)) => {
            let resp = &bin.response;
            if let Some(answer) = answer {
                // Also forgets the waiter when the sender hangs up mid-wait.
                let _forget = ForgetAnswer(&state.hub, id);
                let answered = tokio::time::timeout(PASSTHROUGH_DEADLINE, answer).await;
                if let Ok(Ok(app)) = answered
                    && app.status.is_some()
                {
                    state.metrics.captured(size, started.elapsed());
                    return app_response(app, id);
                }
            }
            if !resp.delay.is_zero() {
                tokio::time::sleep(resp.delay).await;
            }
            state.metrics.captured(size, started.elapsed());
            resp.to_response(id)
        }
        Err(e) => {
            match &e {
                AppError::NotFound(_) => state.metrics.rejected(Reject::UnknownBin),
                AppError::PayloadTooLarge(_) => state.metrics.rejected(Reject::BodyTooLarge),
                AppError::BadRequest(_) => state.metrics.rejected(Reject::BadBody),
                AppError::TooManyRequests(_) => state.metrics.rejected(Reject::RateLimited),
                AppError::InsufficientStorage(_) => state.metrics.rejected(Reject::Quota),
                AppError::BodyTimeout(_) => state.metrics.rejected(Reject::BodyTimeout),
                AppError::Store(_) => state.metrics.db_error(),
                AppError::Forbidden(_) | AppError::Conflict(_) | AppError::Unauthorized(_) => {}
            }
            e.into_response()
        }
    }
}

/// Stops waiting for a passthrough answer when dropped (answered, timed
/// out, or the sender gone).
struct ForgetAnswer<'a>(&'a crate::tunnel::hub::Hub, i64);

impl Drop for ForgetAnswer<'_> {
    fn drop(&mut self) {
        self.0.forget_answer(self.1);
    }
}

/// A stored capture: its id, body size, the bin's response, and the
/// passthrough tunnel's answer to wait for, if one is connected.
type Stored = (
    i64,
    usize,
    Arc<CachedBin>,
    Option<oneshot::Receiver<RelayResponse>>,
);

/// Reads, checks and commits one capture, then wakes the bin's tunnels.
async fn store_request(state: &AppState, req: Request) -> Result<Stored, AppError> {
    let (parts, body) = req.into_parts();
    let (bin_segment, path) = split_path(parts.uri.path());
    let bin_id = Uuid::parse_str(bin_segment).map_err(|_| AppError::no_bin())?;
    let bin = state.cached_bin(bin_id).await?;
    if let Some(rate) = &state.rate {
        rate.take(bin_id).map_err(AppError::TooManyRequests)?;
    }

    let limit = state.config.max_body_bytes;
    let declared = parts
        .headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(AppError::PayloadTooLarge(limit));
    }
    // A trickled body must not hold a connection (and its buffer) forever.
    let deadline = state.config.body_deadline;
    let body = tokio::time::timeout(deadline, read_body(body, limit))
        .await
        .map_err(|_| AppError::BodyTimeout(deadline.as_secs()))??;
    if let Some(quota) = &state.quota {
        quota
            .reserve(body.len() as u64)
            .map_err(AppError::InsufficientStorage)?;
    }

    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.to_string())
        .unwrap_or_default();
    let size = body.len();
    let mut new = NewRequest {
        bin_id,
        received_at: now_millis(),
        method: parts.method.as_str().to_owned(),
        path: path.to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers,
        remote_addr,
        body,
        signature: None,
        retry_key: None,
    };
    // Bodies past this are not parsed for a job id (header ids still count).
    const KEY_BODY_LIMIT: usize = 256 * 1024;
    let key_body: &[u8] = if new.body.len() <= KEY_BODY_LIMIT {
        &new.body
    } else {
        &[]
    };
    new.retry_key = crate::web::retries::idempotency_key(&new.headers, key_body);
    if !bin.secrets.is_empty() {
        let base = state.base_url(&parts.headers);
        new.signature = verify_request(&bin.secrets, &new, &base);
    }
    // The answer is awaited from inside the transaction, before any tunnel
    // can see (and answer) the request.
    let (answer_tx, answer_rx) = if state.hub.has_passthrough(bin_id) {
        let (tx, rx) = oneshot::channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let hub = state.hub.clone();
    // Only when an inspector page is open: the summary for its live list.
    let summary = (state.live.receiver_count() > 0).then(|| Summary::new(0, &new));
    let id = state
        .store
        .capture(new, move |id| {
            if let Some(tx) = answer_tx {
                hub.expect_answer(id, tx);
            }
        })
        .await?
        .ok_or_else(AppError::no_bin)?;
    state.hub.notify(bin_id);
    if let Some(mut summary) = summary {
        summary.id = id;
        let _ = state.live.send(summary);
    }
    Ok((id, size, bin, answer_rx))
}

/// Collects the whole body, refusing it past `limit` bytes.
async fn read_body(body: Body, limit: usize) -> Result<axum::body::Bytes, AppError> {
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
            Err(AppError::PayloadTooLarge(limit))
        }
        Err(e) => Err(AppError::BadRequest(format!(
            "the request body could not be read ({e}); send it again"
        ))),
    }
}

/// The local app's answer, as a passthrough tunnel relayed it.
fn app_response(app: RelayResponse, id: i64) -> Response {
    let mut out = Response::new(Body::from(app.body));
    *out.status_mut() = app
        .status
        .and_then(|s| StatusCode::from_u16(s).ok())
        .unwrap_or(StatusCode::BAD_GATEWAY);
    let headers = out.headers_mut();
    for (name, value) in &app.headers {
        // hyper frames the body itself.
        if name == "content-length" {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::try_from(name.as_str()),
            HeaderValue::try_from(value.as_str()),
        ) {
            headers.append(n, v);
        }
    }
    headers.insert(REQUEST_ID_HEADER, HeaderValue::from(id));
    out
}

/// A bin's response, ready to send: headers parsed once when the response
/// is set, not on every capture.
#[derive(Debug)]
pub struct PreparedResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// Wait after the commit, before answering.
    pub delay: Duration,
}

impl From<&ResponseConfig> for PreparedResponse {
    fn from(resp: &ResponseConfig) -> Self {
        let mut headers = HeaderMap::new();
        // Validated when the config was set; a header that still fails to
        // parse (a row edited by hand) is skipped rather than failing captures.
        for (name, value) in &resp.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                headers.append(n, v);
            }
        }
        Self {
            status: StatusCode::from_u16(resp.status).unwrap_or(StatusCode::OK),
            headers,
            body: Bytes::from(resp.body.clone()),
            delay: Duration::from_millis(resp.delay_ms),
        }
    }
}

impl PreparedResponse {
    /// The answer to a stored capture.
    fn to_response(&self, id: i64) -> Response {
        let mut out = Response::new(Body::from(self.body.clone()));
        *out.status_mut() = self.status;
        let headers = out.headers_mut();
        headers.clone_from(&self.headers);
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from(id));
        out
    }
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
