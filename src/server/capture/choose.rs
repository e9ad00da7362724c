//! Step 3, choose who answers: a response rule that matches, else the
//! passthrough tunnel's app when one is connected, else (later) the bin's
//! own response. Both are decided before the commit: the rule's name is
//! stored with the capture, and a tunnel's answer is awaited from inside
//! the transaction, before any tunnel can see (and answer) the request.

use axum::body::Bytes;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::core::headers::Header;
use crate::core::matcher::Subject;
use crate::core::model::{Action, Answer, AnsweredBy, NewRequest};
use crate::server::error::AppError;
use crate::server::services::bins::{AttemptGuard, CachedBin};
use crate::server::services::hub::AppAnswer;
use crate::server::state::AppState;

/// A rule that answers a capture, with what its templates read.
pub struct Ruled {
    /// Index into the bin's rules.
    pub rule: usize,
    /// The capture's method (a copy: the request itself moves into the
    /// store).
    pub method: String,
    /// Its sub-path.
    pub path: String,
    /// Its query.
    pub query: String,
    /// Its headers.
    pub headers: Vec<Header>,
    /// Its body.
    pub body: Bytes,
    /// The body as choosing the rule parsed it (templates read it again).
    pub json: Option<Option<serde_json::Value>>,
}

/// The rule of `bin` that answers `new`, if any (and its name noted on
/// `new`), with the guard to hold until the commit where the database
/// counts the webhook's arrivals (replicas). A step of its own because a
/// rule may ask which arrival of a webhook this is: counting it takes the
/// bin's arrival counts (or a lock), which only bins with rules pay for.
pub async fn choose_rule(
    state: &AppState,
    bin: &CachedBin,
    new: &mut NewRequest,
) -> Result<(Option<Ruled>, Option<AttemptGuard>), AppError> {
    if bin.rules.is_empty() {
        return Ok((None, None));
    }
    let bin_id = new.bin_id;
    let mut counting = None;
    let subject = Subject::new(&new.method, &new.path, &new.query, &new.headers, &new.body)
        .with_schema(new.schema.as_ref().map(|v| v.valid));
    let attempt = match &new.retry_key {
        Some(key) if bin.rules.counts_attempts(&subject) => {
            let (n, guard) = state.bins.arrival(bin_id, key).await?;
            counting = guard;
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
    let ruled = chosen.map(|(i, name)| {
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
    });
    Ok((ruled, counting))
}

/// The channel a passthrough tunnel's answer comes back on, when no rule
/// answers and a passthrough tunnel is connected (here or, with replicas,
/// to another replica). A step of its own because asking the other
/// replicas is a database read, made only when nothing nearer decided.
pub async fn passthrough(
    state: &AppState,
    bin_id: Uuid,
    ruled: bool,
) -> (
    Option<oneshot::Sender<AppAnswer>>,
    Option<oneshot::Receiver<AppAnswer>>,
) {
    // A rule's answer wins over the app's.
    let passthrough = !ruled
        && (state.hub.has_passthrough(bin_id)
            || (!state.store.sole_writer() && state.store.passthrough_elsewhere(bin_id).await));
    if passthrough {
        let (tx, rx) = oneshot::channel();
        (Some(tx), Some(rx))
    } else {
        (None, None)
    }
}

/// What the sender will get back, when it is known before the commit —
/// a rule's answer, or the bin's own response — so that the capture's
/// insert records it (no second write). `None` while a passthrough
/// tunnel's app may still answer: that is recorded after the answer (see
/// `answer::Recorder`). A sender that gives up during a delay is
/// recorded then, too.
pub fn known_answer(bin: &CachedBin, ruled: Option<&Ruled>, passthrough: bool) -> Option<Answer> {
    if let Some(rule) = ruled.and_then(|r| bin.rules.get(r.rule)) {
        let name = Some(rule.name.clone());
        return Some(match rule.action {
            Action::Respond => Answer {
                status: Some(sent_status(rule.status())),
                by: AnsweredBy::Rule,
                name,
            },
            // The connection is dropped, at once or at the hang's end.
            Action::Close | Action::Hang => Answer {
                status: None,
                by: AnsweredBy::None,
                name,
            },
        });
    }
    (!passthrough).then(|| bin_answer(bin))
}

/// The bin's own response, as its sender gets it.
pub fn bin_answer(bin: &CachedBin) -> Answer {
    Answer {
        status: Some(sent_status(bin.response.status)),
        by: AnsweredBy::Bin,
        name: None,
    }
}

/// The status a configured one is sent as: one that is not a status code
/// (a row edited by hand) goes out as 200.
pub fn sent_status(status: u16) -> u16 {
    axum::http::StatusCode::from_u16(status).map_or(200, |s| s.as_u16())
}
