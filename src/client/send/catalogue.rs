//! The webhooks `hookwire send` plays: the providers, their events, and
//! each event's headers as the provider sends them (bodies in
//! [`super::payloads`]), with fresh ids on every run.

use serde_json::{Value, json};

use super::payloads::{
    abstrakt, alnum, cerebrium, edenai, github, hex_id, shopify, slack, standard_webhooks, stripe,
    twilio, uuid,
};
use crate::core::headers::Header;
use crate::core::time::{now_millis, rfc3339};

pub use super::payloads::unix_now;

/// A provider `send --as` plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Provider {
    /// Eden AI async job results.
    Edenai,
    /// Abstrakt model runs.
    Abstrakt,
    /// Cerebrium run results.
    Cerebrium,
    /// AssemblyAI transcripts.
    Assemblyai,
    /// Stripe events.
    Stripe,
    /// GitHub repository webhooks.
    Github,
    /// Standard Webhooks (Svix and the senders built on it).
    #[value(name = "standard-webhooks")]
    StandardWebhooks,
    /// Slack's Events API.
    Slack,
    /// Shopify topics.
    Shopify,
    /// Twilio messaging callbacks.
    Twilio,
}

/// Every provider, in the order `--list` shows them.
pub const PROVIDERS: [Provider; 10] = [
    Provider::Edenai,
    Provider::Abstrakt,
    Provider::Cerebrium,
    Provider::Assemblyai,
    Provider::Stripe,
    Provider::Github,
    Provider::StandardWebhooks,
    Provider::Slack,
    Provider::Shopify,
    Provider::Twilio,
];

impl Provider {
    /// The name `--as` takes.
    pub fn name(self) -> &'static str {
        match self {
            Provider::Edenai => "edenai",
            Provider::Abstrakt => "abstrakt",
            Provider::Cerebrium => "cerebrium",
            Provider::Assemblyai => "assemblyai",
            Provider::Stripe => "stripe",
            Provider::Github => "github",
            Provider::StandardWebhooks => "standard-webhooks",
            Provider::Slack => "slack",
            Provider::Shopify => "shopify",
            Provider::Twilio => "twilio",
        }
    }

    /// Its events; the first is the default.
    pub fn events(self) -> &'static [&'static str] {
        match self {
            Provider::Edenai => &["success", "fail"],
            Provider::Abstrakt => &["succeeded", "failed"],
            // Cerebrium documents only the result it sends; "failed" is
            // that shape with an error message and no result.
            Provider::Cerebrium => &["completed", "failed"],
            Provider::Assemblyai => &["completed", "error"],
            Provider::Stripe => &[
                "payment_intent.succeeded",
                "payment_intent.payment_failed",
                "checkout.session.completed",
                "charge.refunded",
            ],
            Provider::Github => &[
                "push",
                "ping",
                "pull_request.opened",
                "workflow_run.completed",
            ],
            Provider::StandardWebhooks => {
                &["user.created", "invoice.paid", "invoice.payment_failed"]
            }
            Provider::Slack => &["app_mention", "message", "url_verification"],
            Provider::Shopify => &["orders/create", "orders/paid", "app/uninstalled"],
            Provider::Twilio => &["message.received", "message.delivered", "message.failed"],
        }
    }

    /// True when the provider signs its webhooks with a shared secret.
    pub fn signs(self) -> bool {
        !matches!(
            self,
            Provider::Edenai | Provider::Abstrakt | Provider::Cerebrium | Provider::Assemblyai
        )
    }
}

/// One event as the provider sends it, before signing: the same for every
/// attempt and duplicate of a run.
#[derive(Debug, Clone)]
pub struct Webhook {
    /// Who sends it.
    pub provider: Provider,
    /// Which event.
    pub event: &'static str,
    /// The provider's id for this delivery, where it sends one in a header
    /// (Standard Webhooks' `webhook-id`, GitHub's delivery GUID, …).
    pub delivery_id: String,
    /// Headers every attempt carries (no signature yet).
    pub headers: Vec<Header>,
    /// The exact body.
    pub body: Vec<u8>,
}

fn header(name: &str, value: impl Into<String>) -> Header {
    (name.to_owned(), value.into())
}

/// The event named `event` (default: the provider's first), with fresh ids.
pub fn build(provider: Provider, event: Option<&str>) -> Result<Webhook, String> {
    let events = provider.events();
    let event = match event {
        None => events[0],
        Some(name) => events.iter().copied().find(|e| *e == name).ok_or_else(|| {
            format!(
                "{} has no event {name:?}; its events are {} (hookwire send --as {} --list)",
                provider.name(),
                events.join(", "),
                provider.name()
            )
        })?,
    };
    let json_type = "application/json";
    let (delivery_id, headers, body): (String, Vec<Header>, Value) = match provider {
        Provider::Edenai => (
            String::new(),
            vec![header("content-type", json_type)],
            edenai(event),
        ),
        Provider::Abstrakt => (
            String::new(),
            vec![header("content-type", json_type)],
            abstrakt(event),
        ),
        Provider::Cerebrium => (
            String::new(),
            vec![header("content-type", json_type)],
            cerebrium(event),
        ),
        // The headers AssemblyAI's page lists for its webhook requests.
        Provider::Assemblyai => (
            String::new(),
            vec![
                header("content-type", json_type),
                header("accept", "*/*"),
                header("accept-encoding", "gzip, deflate"),
                header("user-agent", "python-requests/2.25.1"),
            ],
            json!({ "transcript_id": uuid(), "status": event }),
        ),
        Provider::Stripe => (
            String::new(),
            vec![
                header("content-type", "application/json; charset=utf-8"),
                header(
                    "user-agent",
                    "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
                ),
                header("accept", "*/*; q=0.5, text/html"),
                header("cache-control", "no-cache"),
            ],
            stripe(event),
        ),
        Provider::Github => {
            let id = uuid();
            let hook = fastrand::u32(100_000_000..999_999_999);
            let (kind, body) = github(event, hook);
            (
                id.clone(),
                vec![
                    header("content-type", json_type),
                    header("accept", "*/*"),
                    header("user-agent", format!("GitHub-Hookshot/{}", hex_id(7))),
                    header("x-github-event", kind),
                    header("x-github-delivery", id),
                    header("x-github-hook-id", hook.to_string()),
                    header("x-github-hook-installation-target-type", "repository"),
                    header("x-github-hook-installation-target-id", "1296269"),
                ],
                body,
            )
        }
        Provider::StandardWebhooks => {
            let id = format!("msg_{}", alnum(27));
            (
                id.clone(),
                vec![header("content-type", json_type), header("webhook-id", id)],
                standard_webhooks(event),
            )
        }
        Provider::Slack => (
            String::new(),
            vec![
                header("content-type", json_type),
                header("user-agent", "Slackbot 1.0 (+https://api.slack.com/robots)"),
                header("accept", "*/*"),
            ],
            slack(event),
        ),
        Provider::Shopify => {
            let id = uuid();
            (
                id.clone(),
                vec![
                    header("content-type", json_type),
                    header("user-agent", "Shopify-Captain-Hook"),
                    header("x-shopify-topic", event),
                    header("x-shopify-shop-domain", "hookwire-test.myshopify.com"),
                    header("x-shopify-api-version", "2024-10"),
                    header("x-shopify-webhook-id", id),
                    header("x-shopify-event-id", uuid()),
                    header("x-shopify-triggered-at", rfc3339(now_millis())),
                ],
                shopify(event),
            )
        }
        Provider::Twilio => {
            let token = uuid();
            return Ok(Webhook {
                provider,
                event,
                delivery_id: token.clone(),
                headers: vec![
                    header("content-type", "application/x-www-form-urlencoded"),
                    header("user-agent", "TwilioProxy/1.1"),
                    header("accept", "*/*"),
                    header("i-twilio-idempotency-token", token),
                ],
                body: twilio(event).into_bytes(),
            });
        }
    };
    Ok(Webhook {
        provider,
        event,
        delivery_id,
        headers,
        // A `Value` always serialises.
        body: serde_json::to_vec_pretty(&body).unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_event_builds_and_ids_are_fresh() {
        for p in PROVIDERS {
            for e in p.events() {
                let a = build(p, Some(e)).expect("builds");
                let b = build(p, Some(e)).expect("builds");
                assert_ne!(
                    String::from_utf8_lossy(&a.body),
                    String::from_utf8_lossy(&b.body),
                    "{} {e}: fresh ids",
                    p.name()
                );
                if p != Provider::Twilio {
                    serde_json::from_slice::<Value>(&a.body).expect("JSON body");
                }
            }
        }
        assert!(build(Provider::Edenai, Some("nope")).is_err());
        assert_eq!(
            build(Provider::Stripe, None).expect("default").event,
            "payment_intent.succeeded"
        );
    }

    #[test]
    fn ai_shapes_follow_the_seed_pages() {
        let eden: Value =
            serde_json::from_slice(&build(Provider::Edenai, Some("fail")).expect("e").body)
                .expect("json");
        for field in [
            "job_id", "status", "cost", "provider", "feature", "output", "error",
        ] {
            assert!(eden.get(field).is_some(), "{field}");
        }
        assert_eq!(eden["status"], "fail");
        assert_eq!(eden["error"]["error_code"], "PROVIDER_ERROR");
        let aai = build(Provider::Assemblyai, None).expect("a");
        let body: Value = serde_json::from_slice(&aai.body).expect("json");
        assert_eq!(body["status"], "completed");
        assert!(
            aai.headers
                .iter()
                .any(|(n, v)| n == "user-agent" && v == "python-requests/2.25.1")
        );
    }
}
