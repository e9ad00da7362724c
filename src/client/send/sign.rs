//! Signing an event as its provider does: the one place `send` and
//! `check` put a signature on a body, so both play exactly the same
//! scheme (`check` re-signs changed bodies and picks old timestamps).

use crate::core::headers::Header;
use crate::core::verify;

use super::catalogue::Provider;

/// What a signature covers besides the body.
#[derive(Debug, Clone, Copy)]
pub struct Signing<'a> {
    /// Who signs.
    pub provider: Provider,
    /// The shared secret.
    pub secret: &'a str,
    /// The delivery id, where the scheme signs it (Standard Webhooks).
    pub delivery_id: &'a str,
    /// The URL the request goes to, where the scheme signs it (Twilio).
    pub url: &'a str,
    /// Unix seconds, where the scheme signs a timestamp.
    pub at: i64,
}

/// The signature headers for `body` (none for a provider that signs
/// nothing). `Err` for a secret in the wrong form.
pub fn headers(s: Signing<'_>, body: &[u8]) -> Result<Vec<Header>, String> {
    let Signing {
        provider,
        secret,
        delivery_id,
        url,
        at,
    } = s;
    Ok(match provider {
        Provider::Stripe => vec![(
            "stripe-signature".into(),
            verify::stripe::sign(secret, at, body),
        )],
        Provider::Github => {
            let (sha256, sha1) = verify::github::sign(secret, body);
            vec![
                ("x-hub-signature".into(), sha1),
                ("x-hub-signature-256".into(), sha256),
            ]
        }
        Provider::StandardWebhooks => {
            let sig = verify::standard_webhooks::sign(secret, delivery_id, at, body)
                .map_err(|e| e.to_string())?;
            vec![
                ("webhook-timestamp".into(), at.to_string()),
                ("webhook-signature".into(), sig),
            ]
        }
        Provider::Slack => vec![
            ("x-slack-request-timestamp".into(), at.to_string()),
            (
                "x-slack-signature".into(),
                verify::slack::sign(secret, at, body),
            ),
        ],
        Provider::Shopify => vec![(
            "x-shopify-hmac-sha256".into(),
            verify::shopify::sign(secret, body),
        )],
        Provider::Twilio => vec![(
            "x-twilio-signature".into(),
            verify::twilio::sign(secret, url, body),
        )],
        Provider::Edenai | Provider::Abstrakt | Provider::Cerebrium | Provider::Assemblyai => {
            Vec::new()
        }
    })
}

/// The names of the headers [`headers`] adds for `provider`: what a
/// request without its signature leaves out.
pub fn header_names(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Stripe => &["stripe-signature"],
        Provider::Github => &["x-hub-signature", "x-hub-signature-256"],
        Provider::StandardWebhooks => &["webhook-timestamp", "webhook-signature"],
        Provider::Slack => &["x-slack-request-timestamp", "x-slack-signature"],
        Provider::Shopify => &["x-shopify-hmac-sha256"],
        Provider::Twilio => &["x-twilio-signature"],
        Provider::Edenai | Provider::Abstrakt | Provider::Cerebrium | Provider::Assemblyai => &[],
    }
}

/// True when the scheme signs a timestamp (so an old one can be refused).
pub fn timestamped(provider: Provider) -> bool {
    matches!(
        provider,
        Provider::Stripe | Provider::StandardWebhooks | Provider::Slack
    )
}

/// `url` as it goes on the wire: `http://localhost:3000` is requested as
/// `http://localhost:3000/`. Twilio signs the URL, and its SDK checks the
/// signature against the URL the receiver was called at, so the signed one
/// must be this form.
pub fn wire_url(url: String) -> String {
    url.parse::<hyper::Uri>().map_or(url, |u| u.to_string())
}
