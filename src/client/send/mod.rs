//! `hookwire send`: plays a provider sending a webhook — its payload, its
//! signature or auth header, its timeout and its retry policy (compressed
//! by `--time-scale`) — and prints one line per attempt.

pub mod catalogue;
pub mod payloads;
pub mod policy;
pub mod schema;
pub mod sign;
pub mod variants;

use std::time::Duration;

use hyper::body::Bytes;
use serde::Serialize;

use crate::client::http::{Call, Outbound, Outcome};
use crate::client::progress;
use crate::core::headers::Header;
use crate::core::term::Stream;
use crate::core::time;
use crate::core::verify;
use catalogue::{Provider, Webhook, unix_now};
use policy::{Failure, Policy, Retries};

/// A scaled timeout never goes below this: an app on this machine still
/// gets the time to answer.
const MIN_TIMEOUT: Duration = Duration::from_millis(100);
/// A pause this long at the real schedule gets a hint (once) that
/// `--time-scale` shortens it: someone trying `send` out may not know.
const HINT_FROM: Duration = Duration::from_secs(30);

/// What `send` does.
pub struct SendConfig {
    /// Where to send.
    pub to: String,
    /// The event, built.
    pub webhook: Webhook,
    /// The signing secret, for providers that sign.
    pub secret: Option<String>,
    /// An extra header on every attempt (AssemblyAI's custom auth header).
    pub auth_header: Option<Header>,
    /// How many retries.
    pub retries: Retries,
    /// Multiplies every pause and timeout.
    pub time_scale: f64,
    /// The per-attempt timeout, exactly (instead of the provider's, scaled).
    pub timeout: Option<Duration>,
    /// Extra deliveries of the same event.
    pub duplicate: u32,
    /// One JSON object on stdout instead of lines.
    pub json: bool,
    /// The HTTP client.
    pub outbound: Outbound,
}

/// One attempt, as `--json` reports it.
#[derive(Debug, Serialize)]
pub struct AttemptReport {
    /// 1-based within its delivery.
    pub attempt: usize,
    /// The answer's status; null without an answer.
    pub status: Option<u16>,
    /// How long it took, in milliseconds (2 decimals).
    pub ms: f64,
    /// Why there was no answer.
    pub error: Option<String>,
}

/// One delivery (the first, or a duplicate) with its attempts.
#[derive(Debug, Serialize)]
pub struct DeliveryReport {
    /// True when its last attempt got a 2xx.
    pub ok: bool,
    /// Its attempts, in order.
    pub attempts: Vec<AttemptReport>,
}

/// The request as first sent.
#[derive(Debug, Serialize)]
struct SentRequest {
    method: &'static str,
    headers: Vec<Header>,
    body: String,
}

/// What `send --json` prints.
#[derive(Debug, Serialize)]
struct Report<'a> {
    provider: &'static str,
    event: &'static str,
    to: &'a str,
    ok: bool,
    deliveries: &'a [DeliveryReport],
    request: Option<SentRequest>,
}

/// `d` as people read it: `100 ms`, `10 s`, `5 min`, `2 h`.
pub fn human(d: Duration) -> String {
    let ms = d.as_secs_f64() * 1000.0;
    if ms < 1000.0 {
        format!("{} ms", ms.round())
    } else if ms < 60_000.0 {
        format!("{} s", (ms / 100.0).round() / 10.0)
    } else if ms < 3_600_000.0 {
        format!("{} min", (ms / 6_000.0).round() / 10.0)
    } else {
        format!("{} h", (ms / 360_000.0).round() / 10.0)
    }
}

impl SendConfig {
    fn policy(&self) -> Policy {
        policy::of(self.webhook.provider)
    }

    fn timeout(&self) -> Duration {
        self.timeout.unwrap_or_else(|| {
            self.policy()
                .timeout
                .mul_f64(self.time_scale)
                .max(MIN_TIMEOUT)
        })
    }

    /// The headers of one attempt: the event's, the auth header, the
    /// signature made now, and Slack's retry headers.
    fn headers(&self, retry: Option<(usize, Failure)>) -> Result<Vec<Header>, String> {
        let w = &self.webhook;
        let mut headers = w.headers.clone();
        if let Some(h) = &self.auth_header {
            headers.push(h.clone());
        }
        if w.provider == Provider::Slack
            && let Some((n, why)) = retry
        {
            headers.push(("x-slack-retry-num".into(), n.to_string()));
            let reason = match why {
                Failure::Status => "http_error",
                Failure::Timeout => "http_timeout",
                Failure::Unreachable => "connection_failed",
            };
            headers.push(("x-slack-retry-reason".into(), reason.into()));
        }
        let Some(secret) = &self.secret else {
            return Ok(headers);
        };
        let signing = sign::Signing {
            provider: w.provider,
            secret,
            delivery_id: &w.delivery_id,
            url: &self.to,
            at: unix_now(),
        };
        headers.extend(sign::headers(signing, &w.body)?);
        Ok(headers)
    }
}

/// Checks what can be checked before anything is sent: a secret for a
/// provider that signs none, a malformed Standard Webhooks secret.
pub fn check(webhook: &Webhook, secret: Option<&str>) -> Result<(), String> {
    let p = webhook.provider;
    match secret {
        Some(_) if !p.signs() => Err(format!(
            "{} does not sign its webhooks, so --secret has nothing to do; \
             use --auth-header NAME=VALUE for a static header (as AssemblyAI sends)",
            p.name()
        )),
        Some(s) if p == Provider::StandardWebhooks => verify::standard_webhooks::key(s)
            .map(|_| ())
            .map_err(|e| format!("--secret: {e}")),
        _ => Ok(()),
    }
}

/// One attempt: sent, answered or not, reported.
async fn attempt(
    cfg: &SendConfig,
    headers: &[Header],
    n: usize,
    timeout: Duration,
) -> anyhow::Result<(AttemptReport, Option<Failure>, bool)> {
    let call = Call {
        method: "POST",
        url: &cfg.to,
        headers,
        body: Bytes::from(cfg.webhook.body.clone()),
    };
    let (outcome, took) = cfg
        .outbound
        .call(call, timeout)
        .await
        .map_err(anyhow::Error::msg)?;
    let (status, error, failure) = match &outcome {
        Outcome::Answered(a) if outcome.is_success() => (Some(a.status), None, None),
        Outcome::Answered(a) => (Some(a.status), None, Some(Failure::Status)),
        Outcome::TimedOut => (
            None,
            Some(format!("timeout after {}", human(timeout))),
            Some(Failure::Timeout),
        ),
        Outcome::Unreachable(why) => (
            None,
            Some(format!("unreachable: {why}")),
            Some(Failure::Unreachable),
        ),
    };
    // The receiver may ask for no retries (Slack's X-Slack-No-Retry).
    let no_retry = match (&outcome, cfg.policy().stop_header) {
        (Outcome::Answered(a), Some(stop)) => {
            crate::core::headers::get(&a.headers, stop).is_some_and(|v| v.trim() == "1")
        }
        _ => false,
    };
    let report = AttemptReport {
        attempt: n,
        status,
        ms: time::ms(took),
        error,
    };
    Ok((report, failure, no_retry))
}

/// One delivery of the event: attempts under the policy until one gets a
/// 2xx, the policy gives up, or it has no retries left.
async fn deliver(
    cfg: &SendConfig,
    prefix: &str,
    first_request: &mut Option<SentRequest>,
    hinted: &mut bool,
) -> anyhow::Result<DeliveryReport> {
    let policy = cfg.policy();
    let timeout = cfg.timeout();
    let mut attempts = Vec::new();
    let mut retry = None;
    let ok = loop {
        let headers = cfg.headers(retry).map_err(anyhow::Error::msg)?;
        first_request.get_or_insert_with(|| SentRequest {
            method: "POST",
            // The auth header is the receiver's secret: not for CI logs.
            headers: headers
                .iter()
                .map(|(n, v)| {
                    let secret = cfg.auth_header.as_ref().is_some_and(|(a, _)| a == n);
                    (n.clone(), if secret { "***".into() } else { v.clone() })
                })
                .collect(),
            body: String::from_utf8_lossy(&cfg.webhook.body).into_owned(),
        });
        let n = attempts.len() + 1;
        let (report, failure, no_retry) = attempt(cfg, &headers, n, timeout).await?;
        if !cfg.json {
            match (report.status, &report.error) {
                (Some(s), _) => println!("{prefix}attempt {n} -> {s} {:.1} ms", report.ms),
                (None, e) => println!("{prefix}attempt {n} -> {}", e.as_deref().unwrap_or("?")),
            }
        }
        attempts.push(report);
        let Some(failure) = failure else {
            break true;
        };
        if no_retry {
            eprintln!(
                "the receiver answered {}: 1, so {} does not retry",
                policy.stop_header.unwrap_or_default(),
                cfg.webhook.provider.name()
            );
            break false;
        }
        if !policy.retry_on.allows(failure) {
            if policy.retries(cfg.retries) > 0 {
                eprintln!(
                    "{} does not retry this failure",
                    cfg.webhook.provider.name()
                );
            }
            break false;
        }
        let Some(pause) = policy.pause(cfg.retries, n - 1) else {
            break false;
        };
        let pause = pause.mul_f64(cfg.time_scale);
        eprintln!(
            "retrying in {} (retry {n} of {})",
            human(pause),
            policy.retries(cfg.retries)
        );
        if pause >= HINT_FROM && cfg.time_scale == 1.0 && !*hinted && Stream::Stderr.is_terminal() {
            *hinted = true;
            eprintln!(
                "(this is {}'s real schedule; to test, --time-scale 0.001 turns {} into {})",
                cfg.webhook.provider.name(),
                human(pause),
                human(pause.mul_f64(0.001))
            );
        }
        progress::countdown(pause, "next attempt in").await;
        retry = Some((n, failure));
    };
    if !cfg.json {
        let last = attempts.last().map_or(String::new(), |a| {
            a.status
                .map_or_else(|| a.error.clone().unwrap_or_default(), |s| s.to_string())
        });
        let plural = if attempts.len() == 1 { "" } else { "s" };
        let verdict = if ok { "delivered" } else { "not delivered" };
        println!(
            "{prefix}{verdict}: {last} after {} attempt{plural}",
            attempts.len()
        );
    }
    Ok(DeliveryReport { ok, attempts })
}

/// Sends the event and its duplicates, printing as it goes. True when the
/// last attempt of every delivery got a 2xx.
pub async fn run(cfg: &SendConfig) -> anyhow::Result<bool> {
    let policy = cfg.policy();
    let w = &cfg.webhook;
    let scaled = if cfg.time_scale == 1.0 {
        String::new()
    } else {
        format!(", waits scaled by {}", cfg.time_scale)
    };
    eprintln!(
        "sending {} {:?} to {} ({} retries at most, timeout {}{scaled}); {}",
        w.provider.name(),
        w.event,
        cfg.to,
        policy.retries(cfg.retries),
        human(cfg.timeout()),
        policy.summary
    );
    if cfg.secret.is_none() && w.provider.signs() {
        eprintln!(
            "no --secret: sending without {}'s signature header",
            w.provider.name()
        );
    }
    let mut deliveries = Vec::new();
    let mut first_request = None;
    let mut hinted = false;
    for copy in 0..=cfg.duplicate {
        let prefix = if copy == 0 {
            String::new()
        } else {
            format!("duplicate {copy}: ")
        };
        deliveries.push(deliver(cfg, &prefix, &mut first_request, &mut hinted).await?);
    }
    let ok = deliveries.iter().all(|d| d.ok);
    if cfg.json {
        let report = Report {
            provider: w.provider.name(),
            event: w.event,
            to: &cfg.to,
            ok,
            deliveries: &deliveries,
            request: first_request,
        };
        println!("{}", serde_json::to_string(&report)?);
    }
    Ok(ok)
}

/// The `--list` text: every provider (or one), its events and its policy.
pub fn list(only: Option<Provider>) -> String {
    let mut out = String::new();
    for p in catalogue::PROVIDERS
        .into_iter()
        .filter(|p| only.is_none_or(|o| o == *p))
    {
        let signing = if p.signs() {
            "signs with --secret"
        } else {
            "no signature (--auth-header for a static header)"
        };
        out.push_str(&format!(
            "{}: {}\n  events: {} (default {})\n  retries: {}\n",
            p.name(),
            signing,
            p.events().join(", "),
            p.events()[0],
            policy::of(p).summary
        ));
    }
    out
}
