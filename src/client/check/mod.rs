//! `hookwire check`: plays a provider against the user's receiver and
//! grades it against what every provider's guide asks of a receiver
//! (SPEC §15). Events, signatures and timeouts are `send`'s own (the
//! catalogue, [`crate::client::send::sign`] and the policy table); each
//! check changes one thing from a valid event so a failure names one
//! defect. This file is the runner; [`checks`] the checks; [`report`] the
//! human, JSON and JUnit reports.

pub mod checks;
pub mod report;

use std::time::Duration;

use base64::Engine as _;
use hyper::body::Bytes;

use crate::client::http::{Call, Outbound, Outcome};
use crate::client::send::catalogue::{Provider, Webhook, build, unix_now};
use crate::client::send::{human, policy, sign};
use crate::core::headers::Header;

/// Every check, in the order they run (`still-alive` last: it asks whether
/// the receiver survived the others).
pub const NAMES: [&str; 14] = [
    "accepts-valid",
    "answers-in-time",
    "rejects-bad-signature",
    "rejects-tampered-body",
    "rejects-missing-signature",
    "rejects-replayed",
    "survives-duplicate",
    "survives-out-of-order",
    "survives-malformed",
    "survives-unknown-fields",
    "survives-nulls",
    "survives-burst",
    "survives-large",
    "still-alive",
];

/// What `check` does.
pub struct CheckConfig {
    /// The receiver's URL.
    pub to: String,
    /// The provider to play.
    pub provider: Provider,
    /// The event the checks start from (default: the provider's first).
    pub event: Option<String>,
    /// The signing secret, for providers that sign.
    pub secret: Option<String>,
    /// A static auth header the receiver requires (AssemblyAI's kind).
    pub auth_header: Option<Header>,
    /// The checks to run (default: all).
    pub only: Option<Vec<&'static str>>,
    /// The HTTP client.
    pub outbound: Outbound,
}

/// A check's verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// The receiver did what the guides ask.
    Pass,
    /// It did not.
    Fail,
    /// Not applicable (to this provider, or without `--secret`).
    Skip,
}

impl Verdict {
    /// `pass`, `fail` or `skip`, as `--json` writes it.
    pub fn word(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Skip => "skip",
        }
    }
}

/// One check's outcome.
#[derive(Debug, Clone)]
pub struct Graded {
    /// Its name (one of [`NAMES`]).
    pub name: &'static str,
    /// Its verdict.
    pub verdict: Verdict,
    /// What was sent (empty for a skip).
    pub sent: String,
    /// What came back — or, for a skip, why it does not apply.
    pub got: String,
}

/// `--only`'s list, checked against [`NAMES`].
pub fn parse_only(text: &str) -> Result<Vec<&'static str>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| {
            NAMES.iter().copied().find(|n| *n == name).ok_or_else(|| {
                format!(
                    "--only: no check is called {name:?}; the checks are {}",
                    NAMES.join(", ")
                )
            })
        })
        .collect()
}

/// A secret of the same form as `secret` but a different key: what
/// `rejects-bad-signature` signs with (the secret with every byte of its
/// key changed, so a receiver that still trusts exactly this other key can
/// be planted in tests).
pub fn other_secret(provider: Provider, secret: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD;
    if provider == Provider::StandardWebhooks
        && let Ok(key) = crate::core::verify::standard_webhooks::key(secret)
    {
        let key: Vec<u8> = key.iter().map(|b| b ^ 0x5a).collect();
        return format!("whsec_{}", b64.encode(key));
    }
    format!("{secret}-other")
}

/// How the receiver is told a request is genuine.
#[derive(Debug, Clone)]
pub enum Auth {
    /// The provider's signature with this secret.
    Secret(String),
    /// A static header (name, value).
    Header(Header),
    /// Nothing: why the rejects-* checks do not apply.
    Nothing(String),
}

/// A request to the receiver: headers and body, ready to go.
#[derive(Debug, Clone)]
pub struct Req {
    /// Headers in order.
    pub headers: Vec<Header>,
    /// The exact body.
    pub body: Vec<u8>,
}

/// What the receiver did with one request.
#[derive(Debug, Clone)]
pub enum Got {
    /// An answer with this status, after this long.
    Status(u16, Duration),
    /// No answer within the timeout.
    TimedOut(Duration),
    /// No answer at all.
    Unreachable(String),
}

impl Got {
    /// The status, when there was an answer.
    pub fn status(&self) -> Option<u16> {
        match self {
            Got::Status(s, _) => Some(*s),
            _ => None,
        }
    }

    /// How long the answer took.
    pub fn took(&self) -> Option<Duration> {
        match self {
            Got::Status(_, d) => Some(*d),
            _ => None,
        }
    }
}

impl std::fmt::Display for Got {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Got::Status(s, d) => write!(f, "{s} in {}", human(*d)),
            Got::TimedOut(d) => write!(f, "no answer within {}", human(*d)),
            Got::Unreachable(why) => write!(f, "no answer ({why})"),
        }
    }
}

/// Everything a check needs: the receiver, the provider, its timeout.
#[derive(Clone)]
pub struct Ctx {
    /// The receiver's URL.
    pub to: String,
    /// The provider played.
    pub provider: Provider,
    /// The event checks start from.
    pub event: Option<String>,
    /// How requests are made genuine.
    pub auth: Auth,
    /// The provider's timeout (never scaled: a receiver must meet it).
    pub timeout: Duration,
    outbound: Outbound,
}

impl Ctx {
    /// A fresh event of the kind the checks start from.
    pub fn event(&self) -> Result<Webhook, String> {
        build(self.provider, self.event.as_deref())
    }

    /// `w` as the provider sends it: its headers, the auth header and a
    /// signature made at `at` with `secret` (default: the real one).
    pub fn signed_with(&self, w: &Webhook, secret: Option<&str>, at: i64) -> Result<Req, String> {
        let mut headers = w.headers.clone();
        match &self.auth {
            Auth::Secret(real) => {
                let signing = sign::Signing {
                    provider: w.provider,
                    secret: secret.unwrap_or(real),
                    delivery_id: &w.delivery_id,
                    url: &self.to,
                    at,
                };
                headers.extend(sign::headers(signing, &w.body)?);
            }
            Auth::Header(h) => headers.push(h.clone()),
            Auth::Nothing(_) => {}
        }
        Ok(Req {
            headers,
            body: w.body.clone(),
        })
    }

    /// `w` signed now with the real secret.
    pub fn signed(&self, w: &Webhook) -> Result<Req, String> {
        self.signed_with(w, None, unix_now())
    }

    /// Sends one request and waits at most the provider's timeout.
    pub async fn send(&self, req: &Req) -> Result<Got, String> {
        let call = Call {
            method: "POST",
            url: &self.to,
            headers: &req.headers,
            body: Bytes::from(req.body.clone()),
        };
        let (outcome, took) = self.outbound.call(call, self.timeout).await?;
        Ok(match outcome {
            Outcome::Answered(a) => Got::Status(a.status, took),
            Outcome::TimedOut => Got::TimedOut(self.timeout),
            Outcome::Unreachable(why) => Got::Unreachable(why.to_string()),
        })
    }
}

/// Runs the selected checks in order. `Err` when they cannot run: nothing
/// answers at `--to`, or the flags do not fit the provider.
pub async fn run(cfg: &CheckConfig) -> Result<Vec<Graded>, String> {
    let p = cfg.provider;
    build(p, cfg.event.as_deref())?;
    let secret = cfg.secret.clone().filter(|s| !s.is_empty());
    crate::client::send::check(&build(p, cfg.event.as_deref())?, secret.as_deref())?;
    let auth = match (secret, &cfg.auth_header) {
        (Some(s), _) => Auth::Secret(s),
        (None, Some(h)) => Auth::Header(h.clone()),
        (None, None) if p.signs() => Auth::Nothing(format!(
            "no --secret given: hookwire cannot sign as {} (give the receiver's signing secret)",
            p.name()
        )),
        (None, None) => Auth::Nothing(format!(
            "{} does not sign its webhooks and no --auth-header was given",
            p.name()
        )),
    };
    reachable(&cfg.to).await?;
    let ctx = Ctx {
        to: cfg.to.clone(),
        provider: p,
        event: cfg.event.clone(),
        auth,
        timeout: policy::of(p).timeout,
        outbound: cfg.outbound.clone(),
    };
    let progress = crate::core::term::Stream::Stderr.colour();
    let mut graded = Vec::new();
    for name in NAMES {
        if cfg.only.as_ref().is_some_and(|only| !only.contains(&name)) {
            continue;
        }
        // A check can wait for the provider's timeout several times: on a
        // terminal, say which one is running (one line, rewritten).
        if progress {
            eprint!("\r\x1b[2Kchecking {name}…");
        }
        graded.push(checks::run(&ctx, name).await?);
    }
    if progress {
        eprint!("\r\x1b[2K");
    }
    Ok(graded)
}

/// `Err` in words when nothing accepts a connection at `url`: every check
/// would fail for a reason that is not the receiver's code.
async fn reachable(url: &str) -> Result<(), String> {
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| format!("--to {url:?} is not a URL: {e}"))?;
    let host = uri.host().unwrap_or("localhost").trim_matches(['[', ']']);
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    let connect = tokio::net::TcpStream::connect((host, port));
    match tokio::time::timeout(Duration::from_secs(5), connect).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(format!(
            "nothing is listening at {url} ({e}): start your receiver first, or fix --to"
        )),
        Err(_) => Err(format!(
            "{url} did not accept a connection within 5 s: start your receiver first, or fix --to"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_takes_known_names_in_any_order() {
        assert_eq!(
            parse_only("still-alive, accepts-valid"),
            Ok(vec!["still-alive", "accepts-valid"])
        );
        let err = parse_only("accepts-valid,replays").expect_err("unknown name");
        assert!(
            err.contains("\"replays\"") && err.contains("survives-large"),
            "{err}"
        );
    }

    #[test]
    fn the_other_secret_differs_and_keeps_the_form() {
        let sw = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let other = other_secret(Provider::StandardWebhooks, sw);
        assert_ne!(other, sw);
        crate::core::verify::standard_webhooks::key(&other).expect("a Standard Webhooks key");
        assert_ne!(other_secret(Provider::Stripe, "whsec_x"), "whsec_x");
    }
}
