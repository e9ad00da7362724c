//! Signature verification of captured webhooks. A bin may hold one secret
//! per scheme; each request is checked against the scheme its headers show,
//! over the raw stored body bytes, with constant-time comparisons.
//!
//! One file per scheme, each proved against its provider's published test
//! vector: [`standard_webhooks`] (and Svix), [`stripe`], [`github`],
//! [`slack`], [`shopify`], [`twilio`], and a [`static_header`] (name and
//! value, as AssemblyAI sends).

pub mod github;
pub mod secrets;
pub mod shopify;
pub mod slack;
pub mod standard_webhooks;
pub mod static_header;
pub mod stripe;
pub mod twilio;

use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq as _;

pub use secrets::Secrets;

use crate::core::headers::Header;
use crate::core::time::Millis;

/// How far a signed timestamp may be from the arrival time (Standard
/// Webhooks, Stripe and Slack all use five minutes).
pub const TOLERANCE_SECS: i64 = 300;

/// The outcome shown on a request: `{"scheme","verified","reason"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Signature {
    /// Which scheme was checked (`stripe`, `github`, …).
    pub scheme: String,
    /// True when the signature matched.
    pub verified: bool,
    /// Why it did not (null when verified).
    pub reason: Option<String>,
}

/// Why a signature did not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// A header the scheme needs is absent.
    MissingHeader(String),
    /// A header is there but not in the scheme's format.
    Malformed(String, String),
    /// Well-formed, but no signature matches.
    BadSignature,
    /// The signed timestamp is too far from the arrival time.
    Stale(i64),
    /// The stored secret is not in the form the scheme needs.
    SecretFormat(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::MissingHeader(h) => write!(f, "missing header {h}"),
            Failure::Malformed(h, why) => write!(f, "malformed header {h}: {why}"),
            Failure::BadSignature => {
                write!(
                    f,
                    "bad signature: the body or secret differs from what was signed"
                )
            }
            Failure::Stale(skew) => write!(
                f,
                "timestamp outside tolerance: {skew} s from arrival (allowed ±{TOLERANCE_SECS} s)"
            ),
            Failure::SecretFormat(why) => write!(f, "wrong secret format: {why}"),
        }
    }
}

/// What a verifier sees of a request.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    /// Headers as captured (lower-case names).
    pub headers: &'a [Header],
    /// The raw body bytes.
    pub body: &'a [u8],
    /// Arrival time: timestamps are judged against it, so a later re-check
    /// gives the same answer.
    pub received_at: Millis,
    /// The URL the sender signed (Twilio): public base, bin, sub-path, query.
    pub url: &'a str,
}

impl Signed<'_> {
    /// The first value of a header.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::core::headers::get(self.headers, name)
    }

    /// A header the scheme cannot do without.
    pub fn require(&self, name: &str) -> Result<&str, Failure> {
        self.header(name)
            .ok_or_else(|| Failure::MissingHeader(name.to_owned()))
    }

    /// Checks a Unix-seconds timestamp header against the arrival time.
    pub fn fresh(&self, header: &str, value: &str) -> Result<(), Failure> {
        let ts: i64 = value.trim().parse().map_err(|_| {
            Failure::Malformed(
                header.to_owned(),
                format!("{value:?} is not a Unix timestamp"),
            )
        })?;
        let skew = ts.saturating_sub(self.received_at.div_euclid(1000));
        if skew.unsigned_abs() > TOLERANCE_SECS.unsigned_abs() {
            return Err(Failure::Stale(skew));
        }
        Ok(())
    }
}

/// HMAC-SHA256 over the concatenation of `parts`.
pub fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length: new_from_slice cannot fail.
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(key).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// HMAC-SHA1 over the concatenation of `parts` (Twilio).
pub fn hmac_sha1(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key).expect("any key length");
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// `Ok` when the signature sent is the one computed (constant time).
pub fn expect_mac(sent: &[u8], computed: &[u8]) -> Result<(), Failure> {
    if same(sent, computed) {
        Ok(())
    } else {
        Err(Failure::BadSignature)
    }
}

/// Constant-time equality of two byte strings.
pub fn same(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Checks a request against the bin's secrets: the first scheme, in a
/// fixed order, whose header the request carries and for which the bin has
/// a secret. `None` when there is none — except that a bin with a static
/// header rule reports that header missing, since every request to it is
/// meant to carry it.
pub fn check(secrets: &Secrets, req: &Signed<'_>) -> Option<Signature> {
    let shows = |scheme: &Scheme| scheme.shows.iter().any(|h| req.header(h).is_some());
    for scheme in &SCHEMES {
        let Some(secret) = (scheme.secret)(secrets) else {
            continue;
        };
        if shows(scheme) {
            return Some(outcome(scheme.name, (scheme.verify)(secret, req)));
        }
    }
    // A request signed by a provider the bin has no secret for is that
    // provider's, not a failed static-header check: in a bin shared by
    // several senders, the static header would mark all of theirs ✗.
    if SCHEMES.iter().any(shows) {
        return None;
    }
    secrets
        .header
        .as_ref()
        .map(|rule| outcome(STATIC_HEADER, static_header::verify(rule, req)))
}

/// The name of the static header scheme (the one not keyed by a secret).
pub const STATIC_HEADER: &str = "header";

/// A scheme keyed by one secret: its name (the key in `PUT …/secrets`),
/// the headers that show a request uses it, its verifier, and where a
/// bin's [`Secrets`] keep its secret. The one list of such schemes, in the
/// order requests are checked.
pub struct Scheme {
    /// `standard-webhooks`, `stripe`, ….
    pub name: &'static str,
    /// Any of these headers present: the request is signed this way.
    pub shows: &'static [&'static str],
    /// The check.
    pub verify: Verifier,
    /// The bin's secret for it.
    pub secret: fn(&Secrets) -> Option<&String>,
    /// The same, to set or remove.
    pub secret_mut: fn(&mut Secrets) -> &mut Option<String>,
}

/// Every keyed scheme, in the order a request is checked.
pub const SCHEMES: [Scheme; 6] = [
    Scheme {
        name: "standard-webhooks",
        shows: &["webhook-signature", "svix-signature"],
        verify: standard_webhooks::verify,
        secret: |s| s.standard_webhooks.as_ref(),
        secret_mut: |s| &mut s.standard_webhooks,
    },
    Scheme {
        name: "stripe",
        shows: &["stripe-signature"],
        verify: stripe::verify,
        secret: |s| s.stripe.as_ref(),
        secret_mut: |s| &mut s.stripe,
    },
    Scheme {
        name: "github",
        shows: &["x-hub-signature-256"],
        verify: github::verify,
        secret: |s| s.github.as_ref(),
        secret_mut: |s| &mut s.github,
    },
    Scheme {
        name: "slack",
        shows: &["x-slack-signature"],
        verify: slack::verify,
        secret: |s| s.slack.as_ref(),
        secret_mut: |s| &mut s.slack,
    },
    Scheme {
        name: "shopify",
        shows: &["x-shopify-hmac-sha256"],
        verify: shopify::verify,
        secret: |s| s.shopify.as_ref(),
        secret_mut: |s| &mut s.shopify,
    },
    Scheme {
        name: "twilio",
        shows: &["x-twilio-signature"],
        verify: twilio::verify,
        secret: |s| s.twilio.as_ref(),
        secret_mut: |s| &mut s.twilio,
    },
];

/// A scheme's check: the secret and the request.
pub type Verifier = fn(&str, &Signed<'_>) -> Result<(), Failure>;

fn outcome(scheme: &str, result: Result<(), Failure>) -> Signature {
    Signature {
        scheme: scheme.to_owned(),
        verified: result.is_ok(),
        reason: result.err().map(|f| f.to_string()),
    }
}

#[cfg(test)]
mod props {
    use proptest::prelude::*;

    use super::secrets::HeaderRule;
    use super::*;

    /// Every header any verifier reads.
    const HEADERS: &[&str] = &[
        "webhook-id",
        "webhook-timestamp",
        "webhook-signature",
        "svix-id",
        "svix-timestamp",
        "svix-signature",
        "stripe-signature",
        "x-hub-signature-256",
        "x-slack-signature",
        "x-slack-request-timestamp",
        "x-shopify-hmac-sha256",
        "x-twilio-signature",
        "x-twilio-webhooks-signature-settings",
        "content-type",
        "x-auth",
    ];

    fn all_secrets(secret: String) -> Secrets {
        Secrets {
            standard_webhooks: Some(secret.clone()),
            stripe: Some(secret.clone()),
            github: Some(secret.clone()),
            slack: Some(secret.clone()),
            shopify: Some(secret.clone()),
            twilio: Some(secret.clone()),
            header: Some(HeaderRule {
                name: "X-Auth".into(),
                value: secret,
            }),
        }
    }

    proptest! {
        /// Arbitrary header values (any bytes, as stored: lossy UTF-8),
        /// bodies, URLs, secrets and arrival times never panic a parser,
        /// and a check that names a scheme always says why it failed.
        #[test]
        fn header_parsers_never_panic(
            values in proptest::collection::vec((0..HEADERS.len(), proptest::collection::vec(any::<u8>(), 0..200)), 0..8),
            timestamp in any::<i64>(),
            body in proptest::collection::vec(any::<u8>(), 0..256),
            secret in ".{0,40}",
            url in ".{0,80}",
            received_at in any::<i64>(),
        ) {
            let mut headers: Vec<Header> = values
                .into_iter()
                .map(|(i, v)| (HEADERS[i].to_owned(), String::from_utf8_lossy(&v).into_owned()))
                .collect();
            // Well-formed extremes too, not only noise.
            for h in ["webhook-timestamp", "x-slack-request-timestamp"] {
                headers.push((h.to_owned(), timestamp.to_string()));
            }
            headers.push(("stripe-signature".into(), format!("t={timestamp},v1=00")));
            let req = Signed { headers: &headers, body: &body, received_at, url: &url };
            let secrets = all_secrets(secret);
            for verify in [
                standard_webhooks::verify as Verifier,
                stripe::verify,
                github::verify,
                slack::verify,
                shopify::verify,
                twilio::verify,
            ] {
                let _ = verify(secrets.stripe.as_deref().unwrap_or(""), &req);
            }
            if let Some(sig) = check(&secrets, &req) {
                prop_assert!(sig.verified || sig.reason.is_some());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::secrets::HeaderRule;
    use super::*;

    fn header_only() -> Secrets {
        Secrets {
            header: Some(HeaderRule {
                name: "X-Auth".into(),
                value: "t0k".into(),
            }),
            ..Secrets::default()
        }
    }

    fn check_with(secrets: &Secrets, headers: &[(&str, &str)]) -> Option<Signature> {
        let headers: Vec<Header> = headers
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        let req = Signed {
            headers: &headers,
            body: b"{}",
            received_at: 0,
            url: "http://h/x",
        };
        check(secrets, &req)
    }

    #[test]
    fn another_providers_request_is_not_a_failed_static_header() {
        // Stripe-signed, the bin has only a static header: no check at all.
        let stripe = check_with(&header_only(), &[("stripe-signature", "t=1,v1=00")]);
        assert_eq!(stripe, None);
        // No provider's headers: the static header is checked.
        let missing = check_with(&header_only(), &[("content-type", "application/json")]);
        assert_eq!(
            missing.map(|s| (s.scheme, s.verified)),
            Some(("header".into(), false))
        );
        let right = check_with(&header_only(), &[("x-auth", "t0k")]);
        assert_eq!(right.map(|s| s.verified), Some(true));
    }
}
