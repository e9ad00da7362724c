//! Step 5, answer: the response to a stored capture — the rule's, the
//! passthrough tunnel's app's, or the bin's own — and the refusal of one
//! that was not stored. Every capture is counted in `/metrics` here, once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::core::matcher::Subject;
use crate::core::model::{Action, Answer, AnsweredBy};
use crate::core::protocol::{REQUEST_ID_HEADER, RelayResponse};
use crate::server::capture::choose::{Ruled, bin_answer, sent_status};
use crate::server::error::AppError;
use crate::server::metrics::Reject;
use crate::server::services::bins::{CachedBin, PreparedResponse};
use crate::server::services::hub::{AppAnswer, Hub};
use crate::server::services::rules::HANG_LIMIT;
use crate::server::state::AppState;

/// How long a capture waits for a passthrough tunnel's answer before it
/// answers with the bin's own response (the request is still delivered).
pub const PASSTHROUGH_DEADLINE: Duration = Duration::from_secs(10);

/// A stored capture, and who answers it.
pub struct Stored {
    /// Its id.
    pub id: i64,
    /// Its bin's id.
    pub bin_id: Uuid,
    /// Body size.
    pub size: usize,
    /// Its bin, as the capture read it.
    pub bin: Arc<CachedBin>,
    /// The passthrough tunnel's answer to wait for, if one is connected.
    pub answer: Option<oneshot::Receiver<AppAnswer>>,
    /// The rule that answers, if one matched.
    pub ruled: Option<Ruled>,
    /// What its insert recorded as the sender's answer (see
    /// [`choose::known_answer`](super::choose::known_answer)).
    pub recorded: Option<Answer>,
}

/// Marks a response the server must not send: the connection is dropped
/// instead (a rule's `close`, or `hang` at its end). See `http.rs`.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

/// Answers a stored capture: by its rule, else by the passthrough app if
/// it answers in time, else with the bin's response after its delay. A
/// step of its own because it runs after the commit and may wait long
/// (delays, the app, a hang): when the capture counts as done depends on
/// the answer, and so does what is recorded as sent (see [`Recorder`]).
pub async fn answer(state: &AppState, stored: Stored, started: Instant) -> Response {
    let Stored {
        id,
        bin_id,
        size,
        bin,
        answer,
        ruled,
        recorded,
    } = stored;
    let mut record = Recorder::new(state, bin_id, id, recorded);
    if let Some(ruled) = ruled {
        // A hang is counted when stored, not when the sender gave up.
        let hangs = bin
            .rules
            .get(ruled.rule)
            .is_some_and(|r| r.action == Action::Hang);
        if hangs {
            state.metrics.captured(size, started.elapsed());
        }
        let out = by_rule(state, &bin, ruled, id, &mut record).await;
        if !hangs {
            state.metrics.captured(size, started.elapsed());
        }
        return out;
    }
    if let Some(answer) = answer
        && let Some((app, tunnel)) = by_app(&state.hub, answer, id).await
    {
        record.sent(Answer {
            status: Some(app.status().as_u16()),
            by: AnsweredBy::Tunnel,
            name: Some(tunnel),
        });
        state.metrics.captured(size, started.elapsed());
        return app;
    }
    let resp = &bin.response;
    if !resp.delay.is_zero() {
        tokio::time::sleep(resp.delay).await;
    }
    record.sent(bin_answer(&bin));
    state.metrics.captured(size, started.elapsed());
    prepared(resp, id)
}

/// What the sender of capture `id` got back, kept exact where the insert
/// could not know it: it holds "no answer, the sender gave up" until an
/// answer is about to be sent, then that answer. When dropped (the answer
/// returned to hyper, or the sender hung up and hyper dropped this future
/// mid-wait) it writes what it holds if that differs from what the insert
/// stored: one UPDATE, in a task of its own, so the sender never waits for
/// it. That happens for a passthrough capture (decided only after the
/// commit: the app's answer, or on its timeout or failure the bin's
/// response) and for a sender that gives up during a delay; every other
/// capture's answer was stored by its insert and writes nothing more.
///
/// Deriving a passthrough answer from the tunnel's delivery row instead
/// would not be exact: the delivery is recorded also when the app answered
/// after the deadline (the bin's response answered), and with several
/// targets only the first answer reached the sender.
struct Recorder<'a> {
    state: &'a AppState,
    bin: Uuid,
    id: i64,
    /// What the capture's insert stored.
    stored: Option<Answer>,
    /// What the sender got, as far as is known now.
    now: Answer,
}

impl<'a> Recorder<'a> {
    fn new(state: &'a AppState, bin: Uuid, id: i64, stored: Option<Answer>) -> Self {
        Self {
            state,
            bin,
            id,
            stored,
            now: Answer::gave_up(),
        }
    }

    /// `answer` is what goes to the sender (set just before it is
    /// returned, after any wait).
    fn sent(&mut self, answer: Answer) {
        self.now = answer;
    }
}

impl Drop for Recorder<'_> {
    fn drop(&mut self) {
        if self.stored.as_ref() == Some(&self.now) {
            return;
        }
        // Dropped off the runtime only when it is shutting down.
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (store, live, bin, id) = (
            self.state.store.clone(),
            self.state.live.clone(),
            self.bin,
            self.id,
        );
        let answer = std::mem::replace(&mut self.now, Answer::gave_up());
        runtime.spawn(async move {
            match store.set_answer(id, answer.clone()).await {
                // Open pages put the answer on the request they listed.
                Ok(()) => live.publish_answer(bin, id, answer),
                Err(e) => tracing::warn!(error = %e, id, "recording what a sender got back"),
            }
        });
    }
}

/// The refusal of a capture that was not stored, counted by why.
pub fn refuse(state: &AppState, e: AppError) -> Response {
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

/// The answer of a response rule: its rendered response after its delay,
/// or no answer at all (`close`, `hang`).
async fn by_rule(
    state: &AppState,
    bin: &CachedBin,
    ruled: Ruled,
    id: i64,
    record: &mut Recorder<'_>,
) -> Response {
    let Some(rule) = bin.rules.get(ruled.rule) else {
        record.sent(bin_answer(bin));
        return prepared(&bin.response, id);
    };
    // As the insert stored it: a sender that gives up during a hang got
    // no answer either way.
    let no_answer = || Answer {
        status: None,
        by: AnsweredBy::None,
        name: Some(rule.name.clone()),
    };
    match rule.action {
        Action::Respond => {}
        Action::Close => {
            record.sent(no_answer());
            return dropped();
        }
        Action::Hang => {
            record.sent(no_answer());
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
    record.sent(Answer {
        status: Some(sent_status(rendered.status)),
        by: AnsweredBy::Rule,
        name: Some(rule.name.clone()),
    });
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

/// The passthrough app's answer and the tunnel that relayed it, if it
/// comes within the deadline with a status (else the bin's response
/// answers; the request is delivered anyway).
async fn by_app(
    hub: &Hub,
    answer: oneshot::Receiver<AppAnswer>,
    id: i64,
) -> Option<(Response, String)> {
    // Also forgets the waiter when the sender hangs up mid-wait.
    let _forget = ForgetAnswer(hub, id);
    match tokio::time::timeout(PASSTHROUGH_DEADLINE, answer).await {
        Ok(Ok(app)) if app.resp.status.is_some() => Some((app_response(app.resp, id), app.tunnel)),
        _ => None,
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

/// No answer: the connection is dropped (see [`DropConnection`]).
fn dropped() -> Response {
    let mut out = Response::new(Body::empty());
    out.extensions_mut().insert(DropConnection);
    out
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
