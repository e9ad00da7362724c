//! Webhook receivers written for the tests: one correct, and one per check
//! with exactly that check's defect (otherwise correct). They verify
//! signatures with hookwire's own verifiers (`hookwire::core::verify`);
//! the SDK receivers in tests/sdk prove the events genuine independently.

use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hookwire::client::send::catalogue::{PROVIDERS, Provider};
use hookwire::core::verify::{self, Signed};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use crate::common::tunnel::Seen;

/// The one thing a receiver gets wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defect {
    /// No defect: what every guide asks.
    Correct,
    /// Answers 503 to its first request (not ready yet).
    ColdStart,
    /// Does slow work inline on its 5th accepted event, past the timeout.
    SlowOnce,
    /// Still accepts a rotated-out secret (the one check signs with).
    TrustsOtherSecret,
    /// Skips verification for a signature it has verified before.
    TrustsSeenSignature,
    /// Verifies only when a signature header is present.
    VerifiesOnlyWhenSigned,
    /// Never looks at the signed timestamp's age.
    IgnoresTimestamp,
    /// A unique index on the raw body: a second delivery errors (500).
    FailsOnDuplicate,
    /// Errors (500) on a Stripe event older than one already stored for
    /// the same object.
    AssumesOrder,
    /// Errors (500) when the body is not JSON.
    CrashesOnMalformed,
    /// Errors (500) on a field or Stripe event type it does not know.
    Strict,
    /// Errors (500) when Stripe's request.id is null.
    CrashesOnNull,
    /// Answers 503 when more than 8 requests are in flight.
    Overloaded,
    /// Errors (500) on bodies over 256 KiB.
    SmallBodyLimit,
    /// After a body over 512 KiB (answered 200), answers 503 to everything.
    DiesAfterLarge,
}

struct State {
    provider: Provider,
    secret: String,
    /// A static header (name, value) instead of a signature.
    header: Option<(String, String)>,
    defect: Defect,
    requests: AtomicUsize,
    accepted: AtomicUsize,
    in_flight: AtomicUsize,
    seen_signatures: Mutex<HashSet<String>>,
    seen_bodies: Mutex<HashSet<Vec<u8>>>,
    created: Mutex<HashMap<String, i64>>,
    dead: Mutex<bool>,
}

/// A receiver on 127.0.0.1; dropping it stops it.
pub struct Receiver {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Receiver {
    /// A receiver of `provider`'s webhooks signed with `secret` (or, with
    /// `header`, authenticated by that static header).
    pub async fn start(
        provider: &str,
        secret: &str,
        header: Option<(&str, &str)>,
        defect: Defect,
    ) -> Self {
        let provider = PROVIDERS
            .into_iter()
            .find(|p| p.name() == provider)
            .expect("a provider of send");
        let state = Arc::new(State {
            provider,
            secret: secret.to_owned(),
            header: header.map(|(n, v)| (n.to_owned(), v.to_owned())),
            defect,
            requests: AtomicUsize::new(0),
            accepted: AtomicUsize::new(0),
            in_flight: AtomicUsize::new(0),
            seen_signatures: Mutex::default(),
            seen_bodies: Mutex::default(),
            created: Mutex::default(),
            dead: Mutex::new(false),
        });
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = state.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req| handle(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self { addr, task }
    }

    /// The receiver's webhook URL.
    pub fn url(&self) -> String {
        format!("http://{}/webhooks", self.addr)
    }
}

fn status(code: u16) -> Result<Response<Full<Bytes>>, Infallible> {
    let mut res = Response::new(Full::new(Bytes::new()));
    *res.status_mut() = hyper::StatusCode::from_u16(code).expect("status");
    Ok(res)
}

/// Unix seconds the request says it was signed at.
fn signed_at(headers: &[(String, String)]) -> Option<i64> {
    let get = |n: &str| hookwire::core::headers::get(headers, n);
    let stripe_t = get("stripe-signature").and_then(|v| {
        v.split(',')
            .find_map(|part| part.strip_prefix("t="))
            .map(str::to_owned)
    });
    stripe_t
        .or_else(|| get("webhook-timestamp").map(str::to_owned))
        .or_else(|| get("x-slack-request-timestamp").map(str::to_owned))
        .and_then(|t| t.parse().ok())
}

fn verified(state: &State, req: &Signed<'_>, secret: &str) -> bool {
    if let Some((name, value)) = &state.header {
        return req.header(name) == Some(value.as_str());
    }
    let result = match state.provider {
        Provider::Stripe => verify::stripe::verify(secret, req),
        Provider::Github => verify::github::verify(secret, req),
        Provider::StandardWebhooks => verify::standard_webhooks::verify(secret, req),
        Provider::Slack => verify::slack::verify(secret, req),
        Provider::Shopify => verify::shopify::verify(secret, req),
        Provider::Twilio => verify::twilio::verify(secret, req),
        _ => Err(verify::Failure::BadSignature),
    };
    result.is_ok()
}

/// The request is genuine, as this receiver (with its defect) judges it.
fn authentic(state: &State, headers: &[(String, String)], body: &[u8], url: &str) -> bool {
    let names: Vec<&str> = match &state.header {
        Some((n, _)) => vec![n.as_str()],
        None => hookwire::client::send::sign::header_names(state.provider).to_vec(),
    };
    let shown: Vec<&str> = names
        .iter()
        .filter_map(|n| hookwire::core::headers::get(headers, n))
        .collect();
    if shown.is_empty() && state.defect == Defect::VerifiesOnlyWhenSigned {
        return true;
    }
    let key = shown.join("\n");
    if state.defect == Defect::TrustsSeenSignature
        && state.seen_signatures.lock().expect("lock").contains(&key)
    {
        return true;
    }
    let received_at = match (state.defect, signed_at(headers)) {
        (Defect::IgnoresTimestamp, Some(t)) => t * 1000,
        _ => hookwire::core::time::now_millis(),
    };
    let req = Signed {
        headers,
        body,
        received_at,
        url,
    };
    let mut ok = verified(state, &req, &state.secret);
    if !ok && state.defect == Defect::TrustsOtherSecret {
        let other = hookwire::client::check::other_secret(state.provider, &state.secret);
        ok = verified(state, &req, &other);
    }
    if ok {
        state.seen_signatures.lock().expect("lock").insert(key);
    }
    ok
}

const STRIPE_TYPES: [&str; 4] = [
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "checkout.session.completed",
    "charge.refunded",
];

/// The receiver's own handling of a genuine event: `Err(status)` where a
/// defect makes it fail.
fn process(state: &State, body: &[u8]) -> Result<(), u16> {
    let d = state.defect;
    if d == Defect::FailsOnDuplicate
        && !state
            .seen_bodies
            .lock()
            .expect("lock")
            .insert(body.to_vec())
    {
        return Err(500);
    }
    if d == Defect::SmallBodyLimit && body.len() > 256 * 1024 {
        return Err(500);
    }
    if state.provider == Provider::Twilio {
        return Ok(());
    }
    let json: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(_) if d == Defect::CrashesOnMalformed => return Err(500),
        Err(_) => return Err(400),
    };
    match d {
        Defect::Strict
            if json.get("hookwire_unknown_field").is_some()
                || !STRIPE_TYPES.contains(&json["type"].as_str().unwrap_or_default()) =>
        {
            Err(500)
        }
        Defect::CrashesOnNull if json["request"]["id"].is_null() => Err(500),
        Defect::AssumesOrder => {
            let object = json["data"]["object"]["id"].as_str().unwrap_or_default();
            let created = json["created"].as_i64().unwrap_or_default();
            let mut stored = state.created.lock().expect("lock");
            let newest = stored.entry(object.to_owned()).or_insert(created);
            if created < *newest {
                return Err(500);
            }
            *newest = created;
            Ok(())
        }
        _ => Ok(()),
    }
}

async fn handle(
    state: Arc<State>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let Seen {
        target,
        headers,
        body,
        ..
    } = Seen::read(req).await;
    let n = state.requests.fetch_add(1, Ordering::SeqCst);
    if state.defect == Defect::ColdStart && n == 0 {
        return status(503);
    }
    if *state.dead.lock().expect("lock") {
        return status(503);
    }
    let flying = state.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    let answer = async {
        if state.defect == Defect::Overloaded {
            // Long enough for a burst's requests to overlap.
            tokio::time::sleep(Duration::from_millis(20)).await;
            if flying > 8 {
                return 503;
            }
        }
        let host = hookwire::core::headers::get(&headers, "host").unwrap_or_default();
        let url = format!("http://{host}{target}");
        if !authentic(&state, &headers, &body, &url) {
            return 401;
        }
        if let Err(code) = process(&state, &body) {
            return code;
        }
        let accepted = state.accepted.fetch_add(1, Ordering::SeqCst) + 1;
        if state.defect == Defect::SlowOnce && accepted == 5 {
            // Past every provider's timeout that the tests use (Slack: 3 s).
            tokio::time::sleep(Duration::from_secs(4)).await;
        }
        if state.defect == Defect::DiesAfterLarge && body.len() > 512 * 1024 {
            *state.dead.lock().expect("lock") = true;
        }
        200
    };
    let code = answer.await;
    state.in_flight.fetch_sub(1, Ordering::SeqCst);
    status(code)
}
