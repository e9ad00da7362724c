//! The capture handler: any method, any sub-path of `/{bin_id}` (or of a
//! bin's alias). Applies the body limit, picks the response rule that
//! answers (if any), stores the request, waits for its commit, then
//! answers: with the rule, a passthrough tunnel's app, or the bin's
//! configured response.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use tokio::sync::oneshot;

use crate::core::matcher::Subject;
use crate::core::model::{Action, CapturedRequest, NewRequest};
use crate::core::protocol::{REQUEST_ID_HEADER, RelayResponse};
use crate::core::time::now_millis;
use crate::server::error::AppError;
use crate::server::metrics::Reject;
use crate::server::services::bins::{CachedBin, PreparedResponse};
use crate::server::services::hub::Hub;
use crate::server::services::live::Summary;
use crate::server::services::rules::HANG_LIMIT;
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

/// How long a capture waits for a passthrough tunnel's answer before it
/// answers with the bin's own response (the request is still delivered).
pub const PASSTHROUGH_DEADLINE: Duration = Duration::from_secs(10);

/// Handles every request to a capture URL.
async fn capture(State(state): State<AppState>, req: Request) -> Response {
    let started = Instant::now();
    match store_request(&state, req).await {
        Ok(Stored {
            id,
            size,
            bin,
            answer,
            ruled,
        }) => {
            if let Some(ruled) = ruled {
                // A hang is counted when stored, not when the sender gave up.
                let hangs = bin
                    .rules
                    .get(ruled.rule)
                    .is_some_and(|r| r.action == Action::Hang);
                if hangs {
                    state.metrics.captured(size, started.elapsed());
                }
                let out = answer_by_rule(&state, &bin, ruled, id).await;
                if !hangs {
                    state.metrics.captured(size, started.elapsed());
                }
                return out;
            }
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
            prepared(resp, id)
        }
        Err(e) => {
            match &e {
                AppError::NotFound(_) => state.metrics.rejected(Reject::UnknownBin),
                AppError::PayloadTooLarge(_) => state.metrics.rejected(Reject::BodyTooLarge),
                AppError::BadRequest(_) => state.metrics.rejected(Reject::BadBody),
                AppError::TooManyRequests(_) => state.metrics.rejected(Reject::RateLimited),
                AppError::InsufficientStorage(_) => state.metrics.rejected(Reject::Quota),
                AppError::BodyTimeout(_) => state.metrics.rejected(Reject::BodyTimeout),
                AppError::Store(_) | AppError::Internal(_) => state.metrics.db_error(),
                AppError::Forbidden(_) | AppError::Conflict(_) | AppError::Unauthorized(_) => {}
            }
            e.into_response()
        }
    }
}

/// Stops waiting for a passthrough answer when dropped (answered, timed
/// out, or the sender gone).
struct ForgetAnswer<'a>(&'a Hub, i64);

impl Drop for ForgetAnswer<'_> {
    fn drop(&mut self) {
        self.0.forget_answer(self.1);
    }
}

/// A stored capture.
struct Stored {
    id: i64,
    /// Body size.
    size: usize,
    bin: Arc<CachedBin>,
    /// The passthrough tunnel's answer to wait for, if one is connected.
    answer: Option<oneshot::Receiver<RelayResponse>>,
    /// The rule that answers, if one matched.
    ruled: Option<Ruled>,
}

/// A rule that answers a capture, with what its templates read.
struct Ruled {
    /// Index into the bin's rules.
    rule: usize,
    method: String,
    path: String,
    query: String,
    headers: Vec<crate::core::headers::Header>,
    body: Bytes,
    /// The body as choosing the rule parsed it (templates read it again).
    json: Option<Option<serde_json::Value>>,
}

/// Marks a response the server must not send: the connection is dropped
/// instead (a rule's `close`, or `hang` at its end). See `server.rs`.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// The answer of a response rule: its rendered response after its delay,
/// or no answer at all (`close`, `hang`).
async fn answer_by_rule(state: &AppState, bin: &CachedBin, ruled: Ruled, id: i64) -> Response {
    let Some(rule) = bin.rules.get(ruled.rule) else {
        return prepared(&bin.response, id);
    };
    match rule.action {
        Action::Respond => {}
        Action::Close => return dropped(),
        Action::Hang => {
            // Until the sender gives up (hyper drops this future when it
            // hangs up), the limit, or the server stops; past the number
            // of hangs allowed at once, the connection is closed at once.
            if let Ok(_slot) = state.hanging.clone().try_acquire_owned() {
                let mut stopping = state.stopping.subscribe();
                let _ = tokio::time::timeout(HANG_LIMIT, stopping.wait_for(|s| *s)).await;
            }
            return dropped();
        }
    }
    let subject = Subject::new(
        &ruled.method,
        &ruled.path,
        &ruled.query,
        &ruled.headers,
        &ruled.body,
    )
    .with_parsed(ruled.json);
    let rendered = rule.render(&subject, id);
    if !rule.delay.is_zero() {
        tokio::time::sleep(rule.delay).await;
    }
    let mut out = prepared(
        &PreparedResponse::new(
            rendered.status,
            &rendered.headers,
            rendered.body,
            Duration::ZERO,
        ),
        id,
    );
    // A template can echo what the sender sent: never as a page that runs
    // in this origin.
    out.headers_mut().append(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox"),
    );
    out
}

/// A prepared response (the bin's, or a rule's rendered one) as the
/// answer to stored capture `id`.
fn prepared(resp: &PreparedResponse, id: i64) -> Response {
    let mut out = Response::new(Body::from(resp.body.clone()));
    *out.status_mut() = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::OK);
    let headers = out.headers_mut();
    headers.clone_from(&resp.headers);
    headers.insert(REQUEST_ID_HEADER, HeaderValue::from(id));
    out
}

fn dropped() -> Response {
    let mut out = Response::new(Body::empty());
    out.extensions_mut().insert(DropConnection);
    out
}

/// Reads, checks and commits one capture, then wakes the bin's tunnels.
async fn store_request(state: &AppState, req: Request) -> Result<Stored, AppError> {
    let (parts, body) = req.into_parts();
    let (bin_segment, path) = split_path(parts.uri.path());
    let bin_id = state.bins.resolve(bin_segment).await?;
    let bin = state.bins.cached(bin_id).await?;
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
    let body = read_limited(body, limit, deadline)
        .await
        .map_err(|e| match e {
            BodyError::TooLarge => AppError::PayloadTooLarge(limit),
            BodyError::TimedOut => AppError::BodyTimeout(deadline.as_secs()),
            BodyError::Broken(e) => AppError::BadRequest(format!(
                "the request body could not be read ({e}); send it again"
            )),
        })?;
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
        rule: None,
    };
    new.derive(&bin.secrets, || state.base_url(&parts.headers));
    // Held until the commit where the database counts arrivals (replicas).
    let mut _counting = None;
    let ruled = if bin.rules.is_empty() {
        None
    } else {
        let subject = Subject::new(&new.method, &new.path, &new.query, &new.headers, &new.body);
        let attempt = match &new.retry_key {
            Some(key) if bin.rules.counts_attempts(&subject) => {
                let (n, guard) = state.bins.arrival(bin_id, key).await?;
                _counting = guard;
                n
            }
            Some(key) => {
                state.bins.note_arrival(bin_id, key);
                1
            }
            None => 1,
        };
        let chosen = bin
            .rules
            .choose(&subject, attempt)
            .map(|(i, rule)| (i, rule.name.clone()));
        let json = subject.into_parsed();
        chosen.map(|(i, name)| {
            new.rule = Some(name);
            Ruled {
                rule: i,
                method: new.method.clone(),
                path: new.path.clone(),
                query: new.query.clone(),
                headers: new.headers.clone(),
                body: new.body.clone(),
                json,
            }
        })
    };
    // The answer is awaited from inside the transaction, before any tunnel
    // can see (and answer) the request. A rule's answer wins over the app's.
    let passthrough = ruled.is_none()
        && (state.hub.has_passthrough(bin_id)
            || (!state.store.sole_writer() && state.store.passthrough_elsewhere(bin_id).await));
    let (answer_tx, answer_rx) = if passthrough {
        let (tx, rx) = oneshot::channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    };
    let hub = state.hub.clone();
    // Only when the bin is watched (inspector pages, `hookwire
    // tail`/`wait`): the summary for their live lists.
    let summary = state.live.watched(bin_id).then(|| Summary::new(0, &new));
    // Right after the commit, on the writer: connected tunnels get the
    // capture in memory, in commit order, when this process writes every
    // capture. With several replicas one replica's hooks do not see the
    // others' captures, so sessions read them all from the database and
    // the hook only wakes them (here, not after the await below: a sender
    // that hangs up meanwhile must not leave them asleep).
    let on_commit: Box<dyn FnOnce(i64) + Send> = if state.store.sole_writer() {
        let hub = state.hub.clone();
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
        let hub = state.hub.clone();
        Box::new(move |_| hub.notify(bin_id))
    };
    let id = state
        .store
        .capture_then(
            new,
            move |id| {
                if let Some(tx) = answer_tx {
                    hub.expect_answer(id, tx);
                }
            },
            Some(on_commit),
        )
        .await?
        .ok_or_else(AppError::no_bin)?;
    match summary {
        Some(summary) => state.live.publish(Summary { id, ..summary }),
        // Watched since the check above: a watcher that subscribed while
        // this was being written read the list before the commit, so it
        // must hear of it. Rare: read back off the sender's path.
        None if state.live.watched(bin_id) => {
            let (live, store) = (state.live.clone(), state.store.clone());
            tokio::spawn(async move { live.publish_stored(&store, bin_id, id).await });
        }
        None => {}
    }
    Ok(Stored {
        id,
        size,
        bin,
        answer: answer_rx,
        ruled,
    })
}

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
