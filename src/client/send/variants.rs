//! What `hookwire check` needs to know about each provider's events beyond
//! one sample: two events about the same job or object in the order they
//! happen, the fields the provider documents as nullable, where its event
//! type lives (to send one nobody has seen), and which bodies can be
//! padded or broken. Every variant starts from a [`catalogue::build`]
//! event and changes one thing, so the payloads stay those of `send`.
//!
//! [`catalogue::build`]: super::catalogue::build

use serde_json::{Value, json};

use super::catalogue::{Provider, Webhook, build};
use crate::core::time::rfc3339;

/// Re-serialises an edited JSON body as the catalogue writes it.
fn edit(w: &Webhook, f: impl FnOnce(&mut Value)) -> Webhook {
    let mut body: Value = serde_json::from_slice(&w.body).unwrap_or(Value::Null);
    f(&mut body);
    Webhook {
        // A `Value` always serialises.
        body: serde_json::to_vec_pretty(&body).unwrap_or_default(),
        ..w.clone()
    }
}

/// Rewrites Twilio's form fields (`set` replaces or appends).
fn edit_form(w: &Webhook, set: &[(&str, &str)]) -> Webhook {
    let mut pairs: Vec<(String, String)> = form_urlencoded::parse(&w.body).into_owned().collect();
    for (name, value) in set {
        match pairs.iter_mut().find(|(n, _)| n == name) {
            Some(pair) => pair.1 = (*value).to_owned(),
            None => pairs.push(((*name).to_owned(), (*value).to_owned())),
        }
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish();
    Webhook {
        body: body.into_bytes(),
        ..w.clone()
    }
}

fn set_header(w: &mut Webhook, name: &str, value: &str) {
    if let Some(h) = w.headers.iter_mut().find(|(n, _)| n == name) {
        h.1 = value.to_owned();
    }
}

fn field(w: &Webhook, pointer: &str) -> Value {
    serde_json::from_slice::<Value>(&w.body)
        .ok()
        .and_then(|v| v.pointer(pointer).cloned())
        .unwrap_or(Value::Null)
}

fn form_field(w: &Webhook, name: &str) -> String {
    form_urlencoded::parse(&w.body)
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

/// Sets `pointer` (which must exist) to `value`.
fn put(body: &mut Value, pointer: &str, value: Value) {
    if let Some(slot) = body.pointer_mut(pointer) {
        *slot = value;
    }
}

/// Two events about the same job or object, the later one first: sent in
/// this order they are what a receiver that assumes order trips on. The
/// text says what the pair is.
pub fn out_of_order(p: Provider) -> Result<(Webhook, Webhook, &'static str), String> {
    let ev = |e: &str| build(p, Some(e));
    // The same id in both: copied from the later event into the earlier.
    let same = |later: &Webhook, earlier: &Webhook, pointers: &[&str]| {
        edit(earlier, |b| {
            for ptr in pointers {
                put(b, ptr, field(later, ptr));
            }
        })
    };
    let minute_ago = super::catalogue::unix_now() - 60;
    Ok(match p {
        Provider::Edenai => {
            let later = ev("success")?;
            let earlier = same(&later, &ev("fail")?, &["/job_id"]);
            (later, earlier, "a fail after a success for the same job_id")
        }
        Provider::Abstrakt => {
            let later = ev("succeeded")?;
            let earlier = same(&later, &ev("failed")?, &["/job_id"]);
            (
                later,
                earlier,
                "a failed after a succeeded for the same job_id",
            )
        }
        Provider::Cerebrium => {
            let later = ev("completed")?;
            let earlier = same(&later, &ev("failed")?, &["/run_id"]);
            (
                later,
                earlier,
                "a failed after a completed for the same run_id",
            )
        }
        Provider::Assemblyai => {
            let later = ev("completed")?;
            let earlier = same(&later, &ev("error")?, &["/transcript_id"]);
            (
                later,
                earlier,
                "an error after a completed for the same transcript_id",
            )
        }
        Provider::Stripe => {
            let later = ev("payment_intent.succeeded")?;
            let earlier = same(
                &later,
                &ev("payment_intent.payment_failed")?,
                &["/data/object/id"],
            );
            let earlier = edit(&earlier, |b| put(b, "/created", json!(minute_ago)));
            (
                later,
                earlier,
                "payment_intent.payment_failed (created a minute earlier) after payment_intent.succeeded for the same payment intent",
            )
        }
        Provider::Github => {
            let later = ev("push")?;
            let parent = field(&later, "/before");
            let earlier = edit(&ev("push")?, |b| {
                put(b, "/after", parent.clone());
                put(b, "/commits/0/id", parent);
            });
            (
                later,
                earlier,
                "the push of a commit after the push of its child",
            )
        }
        Provider::StandardWebhooks => {
            let later = ev("invoice.paid")?;
            let earlier = same(&later, &ev("invoice.payment_failed")?, &["/data/id"]);
            let earlier = edit(&earlier, |b| {
                put(b, "/timestamp", json!(rfc3339(minute_ago * 1000)))
            });
            (
                later,
                earlier,
                "invoice.payment_failed (a minute older) after invoice.paid for the same invoice",
            )
        }
        Provider::Slack => {
            let later = ev("message")?;
            let ts = format!("{minute_ago}.000100");
            let earlier = edit(&ev("message")?, |b| {
                put(b, "/event/ts", json!(ts));
                put(b, "/event/event_ts", json!(ts));
                put(b, "/event_time", json!(minute_ago));
            });
            (
                later,
                earlier,
                "a message a minute older after a newer one in the same channel",
            )
        }
        Provider::Shopify => {
            let later = ev("orders/paid")?;
            let earlier = same(
                &later,
                &ev("orders/create")?,
                &["/id", "/admin_graphql_api_id", "/order_number"],
            );
            (
                later,
                earlier,
                "orders/create after orders/paid for the same order",
            )
        }
        Provider::Twilio => {
            let later = ev("message.delivered")?;
            let sid = form_field(&later, "MessageSid");
            let account = form_field(&later, "AccountSid");
            let earlier = edit_form(
                &ev("message.delivered")?,
                &[
                    ("SmsSid", &sid),
                    ("MessageSid", &sid),
                    ("AccountSid", &account),
                    ("SmsStatus", "sent"),
                    ("MessageStatus", "sent"),
                ],
            );
            (
                later,
                earlier,
                "status sent after status delivered for the same MessageSid",
            )
        }
    })
}

/// An event with the fields the provider documents as nullable set to
/// null, and their names; `Err` says why a provider has none.
pub fn with_nulls(p: Provider) -> Result<(Webhook, &'static str), String> {
    let nulls = |event: &str, pointers: &[&str]| -> Result<Webhook, String> {
        Ok(edit(&build(p, Some(event))?, |b| {
            for ptr in pointers {
                match b.pointer_mut(ptr) {
                    Some(slot) => *slot = Value::Null,
                    None => {
                        // A nullable field the sample leaves out: added as null.
                        let (parent, key) = ptr.rsplit_once('/').unwrap_or(("", ptr));
                        if let Some(Value::Object(m)) = b.pointer_mut(parent) {
                            m.insert(key.to_owned(), Value::Null);
                        }
                    }
                }
            }
        }))
    };
    Ok(match p {
        Provider::Edenai => (
            nulls("success", &["/output", "/error"])?,
            "output and error",
        ),
        Provider::Abstrakt => (nulls("succeeded", &["/output"])?, "output"),
        Provider::Cerebrium => (nulls("completed", &["/result"])?, "result"),
        Provider::Stripe => (
            nulls(
                "payment_intent.succeeded",
                &["/request/id", "/request/idempotency_key"],
            )?,
            "request.id and request.idempotency_key",
        ),
        Provider::Github => (
            nulls("push", &["/base_ref", "/head_commit"])?,
            "base_ref and head_commit",
        ),
        Provider::Shopify => (
            nulls("orders/create", &["/email", "/customer", "/cancelled_at"])?,
            "email, customer and cancelled_at",
        ),
        Provider::Assemblyai => {
            return Err("AssemblyAI's body (transcript_id, status) has no nullable field".into());
        }
        Provider::StandardWebhooks => {
            return Err(
                "the Standard Webhooks payload (type, timestamp, data) has no nullable field"
                    .into(),
            );
        }
        Provider::Slack => return Err("Slack's event envelope documents no nullable field".into()),
        Provider::Twilio => return Err("Twilio sends form fields, which cannot be null".into()),
    })
}

/// The event with a field nobody documents and an event type nobody has
/// seen, and what changed.
pub fn with_unknown(w: &Webhook) -> (Webhook, &'static str) {
    const TYPE: &str = "hookwire.unknown_event";
    let extra = json!({ "added_by": "hookwire check", "nested": { "n": 1 } });
    let mut out = match w.provider {
        Provider::Twilio => {
            return (
                edit_form(
                    w,
                    &[
                        ("HookwireUnknownField", "1"),
                        ("SmsStatus", "hookwire_unknown"),
                        ("MessageStatus", "hookwire_unknown"),
                    ],
                ),
                "an extra form field and status hookwire_unknown",
            );
        }
        _ => edit(w, |b| {
            if let Value::Object(m) = b {
                m.insert("hookwire_unknown_field".into(), extra);
            }
        }),
    };
    let what = match w.provider {
        Provider::Stripe | Provider::StandardWebhooks => {
            out = edit(&out, |b| put(b, "/type", json!(TYPE)));
            "an extra field and type hookwire.unknown_event"
        }
        Provider::Slack => {
            out = edit(&out, |b| {
                put(b, "/event/type", json!("hookwire_unknown_event"))
            });
            "an extra field and event.type hookwire_unknown_event"
        }
        Provider::Github => {
            set_header(&mut out, "x-github-event", "hookwire_unknown_event");
            "an extra field and X-GitHub-Event hookwire_unknown_event"
        }
        Provider::Shopify => {
            set_header(&mut out, "x-shopify-topic", "hookwire/unknown");
            "an extra field and X-Shopify-Topic hookwire/unknown"
        }
        Provider::Edenai | Provider::Abstrakt | Provider::Assemblyai => {
            out = edit(&out, |b| {
                put(b, "/status", json!("hookwire_unknown_status"))
            });
            "an extra field and status hookwire_unknown_status"
        }
        Provider::Cerebrium | Provider::Twilio => "an extra field",
    };
    (out, what)
}

/// The event padded with JSON whitespace to `size` bytes: the same event,
/// only bigger. `None` for a form body (Twilio's callbacks are small).
pub fn padded(w: &Webhook, size: usize) -> Option<Webhook> {
    if w.provider == Provider::Twilio {
        return None;
    }
    let end = w.body.iter().rposition(|b| *b == b'}')?;
    let pad = size.saturating_sub(w.body.len());
    let mut body = Vec::with_capacity(size);
    body.extend_from_slice(&w.body[..end]);
    body.resize(end + pad, b' ');
    body.extend_from_slice(&w.body[end..]);
    Some(Webhook { body, ..w.clone() })
}

/// The event's body cut in half: not JSON. `None` for a form body.
pub fn malformed(w: &Webhook) -> Option<Webhook> {
    if w.provider == Provider::Twilio {
        return None;
    }
    Some(Webhook {
        body: w.body[..w.body.len() / 2].to_vec(),
        ..w.clone()
    })
}

#[cfg(test)]
mod tests {
    use super::super::catalogue::PROVIDERS;
    use super::*;

    #[test]
    fn pairs_share_their_id_and_bodies_stay_json() {
        for p in PROVIDERS {
            let (later, earlier, _) = out_of_order(p).expect("pair");
            assert_ne!(later.body, earlier.body, "{}", p.name());
            if p != Provider::Twilio {
                serde_json::from_slice::<Value>(&earlier.body).expect("json");
                let big = padded(&later, 1 << 20).expect("padded");
                assert_eq!(big.body.len(), 1 << 20);
                serde_json::from_slice::<Value>(&big.body).expect("padded json");
                let bad = malformed(&later).expect("malformed");
                assert!(serde_json::from_slice::<Value>(&bad.body).is_err());
            }
        }
        let (later, earlier, _) = out_of_order(Provider::Edenai).expect("pair");
        assert_eq!(field(&later, "/job_id"), field(&earlier, "/job_id"));
        assert_eq!(field(&earlier, "/status"), "fail");
        let (n, _) = with_nulls(Provider::Github).expect("nulls");
        assert_eq!(field(&n, "/head_commit"), Value::Null);
        assert!(
            serde_json::from_slice::<Value>(&n.body)
                .expect("json")
                .get("head_commit")
                .is_some()
        );
    }
}
