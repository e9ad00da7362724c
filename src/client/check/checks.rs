//! The checks of SPEC §15. Each starts from a valid event of the provider
//! (send's catalogue, signed by send's signer) and changes one thing, so a
//! failure points at one defect; each failure says why it matters and how
//! to fix it ([`advice`]).

use std::time::Duration;

use super::{Auth, Ctx, Got, Graded, Req, Verdict, other_secret};
use crate::client::send::catalogue::{Webhook, unix_now};
use crate::client::send::{human, sign, variants};

/// How many valid events `answers-in-time` sends one after another.
const IN_TIME: usize = 20;
/// How many valid events `survives-burst` sends at once.
const BURST: usize = 50;
/// The size of `survives-large`'s event.
const LARGE: usize = 1 << 20;
/// How old `rejects-replayed`'s timestamp is: twice the five minutes the
/// providers' SDKs tolerate.
const REPLAY_AGE_SECS: i64 = 600;

/// Why a failed check matters (the practice it breaks) and how to fix it.
pub fn advice(name: &str) -> (&'static str, &'static str) {
    match name {
        "accepts-valid" => (
            "A receiver that refuses genuine events loses them: the provider retries, then gives up or disables the endpoint.",
            "Verify the signature over the raw body bytes exactly as received (before any JSON parsing) with the right secret, and answer 2xx once the event is stored.",
        ),
        "answers-in-time" => (
            "A provider that gets no answer within its timeout counts the delivery as failed and sends it again, so slow work turns into duplicates and disabled endpoints.",
            "Store the event and answer 2xx at once; do the work afterwards (a queue or a background job).",
        ),
        "rejects-bad-signature" => (
            "Anyone who knows the URL can forge events unless the signature is checked against your secret.",
            "Compute the signature with your current signing secret only and answer 401 to a mismatch before doing anything else.",
        ),
        "rejects-tampered-body" => (
            "A body changed in transit must not be trusted because its headers came with a valid signature once.",
            "Verify the signature of every request over its own raw body; never skip verification for a signature, id or delivery seen before.",
        ),
        "rejects-missing-signature" => (
            "A receiver that checks signatures only when one is present accepts every unsigned forgery.",
            "Make verification unconditional: answer 401 to a request without the signature (or auth) header.",
        ),
        "rejects-replayed" => (
            "Without a timestamp check anyone who captured a genuine event can send it again hours later.",
            "Refuse an event whose signed timestamp is more than 5 minutes from your clock (the providers' SDKs do this by default).",
        ),
        "survives-duplicate" => (
            "Providers deliver at least once: duplicates are normal, and an error answer makes the provider retry again.",
            "Make handling idempotent: record the event id and answer 2xx to an event already processed.",
        ),
        "survives-out-of-order" => (
            "Providers do not guarantee order; a receiver that errors on an earlier event arriving after a later one loses it and draws retries.",
            "Compare the event's time or status with what you stored and ignore an older one, answering 2xx.",
        ),
        "survives-malformed" => (
            "A body that cannot be parsed is the sender's error: a 5xx or a dropped connection makes the provider retry it for days.",
            "Parse defensively and answer 400 to a body that is not valid JSON.",
        ),
        "survives-unknown-fields" => (
            "Providers add fields and event types without notice; a strict parser turns each addition into an outage.",
            "Ignore fields you do not use and answer 2xx to event types you do not handle.",
        ),
        "survives-nulls" => (
            "Fields the provider documents as nullable will be null some day; a crash on null loses the event.",
            "Treat the documented nullable fields as optional in your types and handle null explicitly.",
        ),
        "survives-burst" => (
            "Providers send bursts (a backlog after an outage, bulk operations); errors or timeouts under load draw retries that add to the load.",
            "Handle requests concurrently and keep the webhook path short: store, answer, then process from a queue.",
        ),
        "survives-large" => (
            "Real events can be large (long texts, many line items); a body limit that errors loses them.",
            "Raise your framework's request body limit for the webhook route (many default to 100 KiB or 1 MiB), or answer 413 instead of failing.",
        ),
        _ => (
            "A receiver that stops answering after odd input misses every later event until someone restarts it.",
            "Catch errors per request so no input can bring the process down, and run it under a supervisor that restarts it.",
        ),
    }
}

fn graded(name: &'static str, ok: bool, sent: String, got: String) -> Graded {
    let verdict = if ok { Verdict::Pass } else { Verdict::Fail };
    Graded {
        name,
        verdict,
        sent,
        got,
    }
}

fn skip(name: &'static str, why: impl Into<String>) -> Graded {
    Graded {
        name,
        verdict: Verdict::Skip,
        sent: String::new(),
        got: why.into(),
    }
}

fn is_2xx(got: &Got) -> bool {
    got.status().is_some_and(|s| (200..300).contains(&s))
}

fn is_4xx(got: &Got) -> bool {
    got.status().is_some_and(|s| (400..500).contains(&s))
}

fn not_5xx(got: &Got) -> bool {
    got.status().is_some_and(|s| s < 500)
}

/// `stripe payment_intent.succeeded, signed` and the like.
fn what(ctx: &Ctx, w: &Webhook) -> String {
    format!("{} {}, {}", w.provider.name(), w.event, how(ctx))
}

/// How the requests are made genuine.
fn how(ctx: &Ctx) -> &'static str {
    match &ctx.auth {
        Auth::Secret(_) => "signed",
        Auth::Header(_) => "with the auth header",
        Auth::Nothing(_) => "unsigned",
    }
}

/// Runs the check called `name`. `Err` only when a request cannot be
/// built (a secret in the wrong form).
pub async fn run(ctx: &Ctx, name: &'static str) -> Result<Graded, String> {
    match name {
        "accepts-valid" | "still-alive" => {
            let w = ctx.event()?;
            let got = ctx.send(&ctx.signed(&w)?).await?;
            Ok(graded(name, is_2xx(&got), what(ctx, &w), got.to_string()))
        }
        "answers-in-time" => in_time(ctx).await,
        "rejects-bad-signature" => bad_signature(ctx).await,
        "rejects-tampered-body" => tampered(ctx).await,
        "rejects-missing-signature" => missing(ctx).await,
        "rejects-replayed" => replayed(ctx).await,
        "survives-duplicate" => {
            let w = ctx.event()?;
            let req = ctx.signed(&w)?;
            let (a, b) = (ctx.send(&req).await?, ctx.send(&req).await?);
            let sent = format!("{}, twice (same ids and signature)", what(ctx, &w));
            Ok(graded(
                name,
                is_2xx(&a) && is_2xx(&b),
                sent,
                format!("{a}, then {b}"),
            ))
        }
        "survives-out-of-order" => {
            let (later, earlier, pair) = variants::out_of_order(ctx.provider)?;
            let a = ctx.send(&ctx.signed(&later)?).await?;
            let b = ctx.send(&ctx.signed(&earlier)?).await?;
            Ok(graded(
                name,
                not_5xx(&b),
                pair.to_owned(),
                format!("{a}, then {b}"),
            ))
        }
        "survives-malformed" => {
            let w = ctx.event()?;
            let Some(bad) = variants::malformed(&w) else {
                return Ok(skip(name, "Twilio sends form fields, not JSON"));
            };
            let got = ctx.send(&ctx.signed(&bad)?).await?;
            let sent = format!(
                "{} {} cut to {} bytes (not JSON), {}",
                w.provider.name(),
                w.event,
                bad.body.len(),
                how(ctx)
            );
            Ok(graded(name, is_4xx(&got), sent, got.to_string()))
        }
        "survives-unknown-fields" => {
            let (w, change) = variants::with_unknown(&ctx.event()?);
            let got = ctx.send(&ctx.signed(&w)?).await?;
            let sent = format!("{}, with {change}", what(ctx, &w));
            Ok(graded(name, not_5xx(&got), sent, got.to_string()))
        }
        "survives-nulls" => {
            let (w, fields) = match variants::with_nulls(ctx.provider) {
                Ok(v) => v,
                Err(why) => return Ok(skip(name, why)),
            };
            let got = ctx.send(&ctx.signed(&w)?).await?;
            let sent = format!("{}, with {fields} null", what(ctx, &w));
            Ok(graded(name, not_5xx(&got), sent, got.to_string()))
        }
        "survives-burst" => burst(ctx).await,
        "survives-large" => {
            let w = ctx.event()?;
            let Some(big) = variants::padded(&w, LARGE) else {
                return Ok(skip(
                    name,
                    "Twilio's callbacks are small form posts (a message is at most 1600 characters)",
                ));
            };
            let got = ctx.send(&ctx.signed(&big)?).await?;
            let sent = format!("{}, padded to 1 MiB", what(ctx, &w));
            Ok(graded(name, not_5xx(&got), sent, got.to_string()))
        }
        other => Err(format!("no check is called {other:?}")),
    }
}

async fn in_time(ctx: &Ctx) -> Result<Graded, String> {
    let mut took = Vec::with_capacity(IN_TIME);
    let mut late = 0;
    let mut event = "";
    for _ in 0..IN_TIME {
        let w = ctx.event()?;
        event = w.event;
        match ctx.send(&ctx.signed(&w)?).await? {
            Got::Status(_, d) => took.push(d),
            _ => {
                // The verdict is in: a receiver that hangs would otherwise
                // cost 20 timeouts (over 3 minutes for most providers).
                late = took.len() + 1;
                break;
            }
        }
    }
    took.sort();
    let p95 = took
        .get((took.len() * 95).div_ceil(100).saturating_sub(1))
        .copied()
        .unwrap_or_default();
    let sent = format!(
        "{IN_TIME} × {} {event}, one after another",
        ctx.provider.name()
    );
    let got = if late == 0 {
        format!(
            "all answered, p95 {} (timeout {})",
            human(p95),
            human(ctx.timeout)
        )
    } else {
        let before = match took.len() {
            0 => String::new(),
            n => format!("; p95 of the {n} before: {}", human(p95)),
        };
        format!(
            "event {late} of {IN_TIME} not answered within {} (stopped there){before}",
            human(ctx.timeout)
        )
    };
    Ok(graded("answers-in-time", late == 0, sent, got))
}

async fn bad_signature(ctx: &Ctx) -> Result<Graded, String> {
    const NAME: &str = "rejects-bad-signature";
    let w = ctx.event()?;
    let (req, sent) = match &ctx.auth {
        Auth::Secret(s) => (
            ctx.signed_with(&w, Some(&other_secret(ctx.provider, s)), unix_now())?,
            format!(
                "{} {}, signed with another secret",
                ctx.provider.name(),
                w.event
            ),
        ),
        Auth::Header((n, _)) => {
            let mut req = ctx.signed(&w)?;
            for h in req.headers.iter_mut().filter(|(hn, _)| hn == n) {
                h.1 = format!("{}-wrong", h.1);
            }
            (
                req,
                format!(
                    "{} {}, {n} with a wrong value",
                    ctx.provider.name(),
                    w.event
                ),
            )
        }
        Auth::Nothing(why) => return Ok(skip(NAME, why.clone())),
    };
    let got = ctx.send(&req).await?;
    Ok(graded(NAME, is_4xx(&got), sent, got.to_string()))
}

/// One byte of `body` changed so that it stays JSON (a digit, turned into
/// another digit): a receiver that does not verify still parses it.
fn tamper(body: &mut [u8]) -> Option<(usize, u8, u8)> {
    let at = body.iter().position(u8::is_ascii_digit)?;
    let old = body[at];
    body[at] = if old < b'9' { old + 1 } else { b'8' };
    Some((at, old, body[at]))
}

async fn tampered(ctx: &Ctx) -> Result<Graded, String> {
    const NAME: &str = "rejects-tampered-body";
    match &ctx.auth {
        Auth::Secret(_) => {}
        Auth::Header((n, _)) => {
            return Ok(skip(
                NAME,
                format!(
                    "a static {n} header does not cover the body, so a changed one cannot be told"
                ),
            ));
        }
        Auth::Nothing(why) => return Ok(skip(NAME, why.clone())),
    }
    let w = ctx.event()?;
    let genuine = ctx.signed(&w)?;
    // The genuine request first, as it would have been seen on the wire:
    // then the same headers with the body changed, as an attacker would
    // send it.
    let first = ctx.send(&genuine).await?;
    let mut req: Req = genuine;
    let Some((at, old, new)) = tamper(&mut req.body) else {
        return Ok(skip(
            NAME,
            "the body has no byte that can be changed and stay JSON",
        ));
    };
    let got = ctx.send(&req).await?;
    let sent = format!(
        "{}, then the same with byte {at} of the body changed ({}→{})",
        what(ctx, &w),
        old as char,
        new as char
    );
    Ok(graded(
        NAME,
        is_4xx(&got),
        sent,
        format!("{first}, then {got}"),
    ))
}

async fn missing(ctx: &Ctx) -> Result<Graded, String> {
    const NAME: &str = "rejects-missing-signature";
    let w = ctx.event()?;
    let mut req = ctx.signed(&w)?;
    let gone: Vec<String> = match &ctx.auth {
        Auth::Secret(_) => sign::header_names(ctx.provider)
            .iter()
            .map(|n| (*n).to_owned())
            .collect(),
        Auth::Header((n, _)) => vec![n.clone()],
        Auth::Nothing(why) => return Ok(skip(NAME, why.clone())),
    };
    req.headers.retain(|(n, _)| !gone.contains(n));
    let got = ctx.send(&req).await?;
    let sent = format!(
        "{} {} without {}",
        ctx.provider.name(),
        w.event,
        gone.join(", ")
    );
    Ok(graded(NAME, is_4xx(&got), sent, got.to_string()))
}

async fn replayed(ctx: &Ctx) -> Result<Graded, String> {
    const NAME: &str = "rejects-replayed";
    let p = ctx.provider;
    if !sign::timestamped(p) {
        return Ok(skip(
            NAME,
            format!("{}'s signature carries no timestamp", p.name()),
        ));
    }
    match &ctx.auth {
        Auth::Secret(_) => {}
        Auth::Header((n, _)) => {
            return Ok(skip(
                NAME,
                format!("a static {n} header carries no timestamp"),
            ));
        }
        Auth::Nothing(why) => return Ok(skip(NAME, why.clone())),
    }
    let w = ctx.event()?;
    let req = ctx.signed_with(&w, None, unix_now() - REPLAY_AGE_SECS)?;
    let got = ctx.send(&req).await?;
    let sent = format!(
        "{} {}, signed with a timestamp 10 min old",
        p.name(),
        w.event
    );
    Ok(graded(NAME, is_4xx(&got), sent, got.to_string()))
}

async fn burst(ctx: &Ctx) -> Result<Graded, String> {
    let mut set = tokio::task::JoinSet::new();
    let mut event = "";
    for _ in 0..BURST {
        let w = ctx.event()?;
        event = w.event;
        let req = ctx.signed(&w)?;
        let ctx = ctx.clone();
        set.spawn(async move { ctx.send(&req).await });
    }
    let mut statuses = std::collections::BTreeMap::<String, usize>::new();
    let mut slowest = Duration::ZERO;
    let mut ok = true;
    while let Some(done) = set.join_next().await {
        let got = done.map_err(|e| e.to_string())??;
        ok &= not_5xx(&got);
        slowest = slowest.max(got.took().unwrap_or(ctx.timeout));
        let key = match &got {
            Got::Status(s, _) => s.to_string(),
            Got::TimedOut(_) => format!("no answer within {}", human(ctx.timeout)),
            Got::Unreachable(why) => format!("no answer ({why})"),
        };
        *statuses.entry(key).or_default() += 1;
    }
    let counts: Vec<String> = statuses.iter().map(|(k, n)| format!("{n} × {k}")).collect();
    let sent = format!("{BURST} × {} {event} at once", ctx.provider.name());
    let got = format!("{}; slowest {}", counts.join(", "), human(slowest));
    Ok(graded("survives-burst", ok, sent, got))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tampered_body_stays_json() {
        let mut body = br#"{"amount": 9, "id": "x"}"#.to_vec();
        assert_eq!(tamper(&mut body), Some((11, b'9', b'8')));
        serde_json::from_slice::<serde_json::Value>(&body).expect("json");
    }

    #[test]
    fn every_check_has_its_own_advice() {
        let mut seen = std::collections::HashSet::new();
        for name in super::super::NAMES {
            assert!(seen.insert(advice(name).0), "{name}");
        }
    }
}
