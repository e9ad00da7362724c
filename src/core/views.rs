//! The API's view types: what `/api` answers, as the server writes it and
//! the command line reads it — one definition for both sides, so neither
//! parses the other's JSON by hand.
//!
//! The server serialises views that borrow from its stored data (`Cow`
//! fields, no copies on the hot listing path); the client deserialises the
//! same types into owned values. Their JSON Schemas (for
//! `/api/openapi.json`) come from these definitions through `schemars`.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::headers::Header;
use crate::core::model::{Answer, Bin, CapturedRequest, Delivery, ResponseConfig};
use crate::core::payload_schema::SchemaVerdict;
use crate::core::scope::Scope;
use crate::core::time::{rfc3339, round_ms};
use crate::core::verify::Signature;

/// A captured request as the API shows it: method, sub-path, query,
/// headers and exact body, with its signature check and deliveries.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RequestJson<'a> {
    /// Increasing in arrival order.
    pub id: i64,
    /// The bin (UUID).
    pub bin_id: String,
    /// Arrival (RFC 3339, milliseconds, UTC).
    pub received_at: String,
    /// HTTP method, as sent.
    pub method: Cow<'a, str>,
    /// The raw sub-path after the bin id; `/` for the bare capture URL.
    pub path: Cow<'a, str>,
    /// The raw query string without `?`.
    pub query: Cow<'a, str>,
    /// Headers in arrival order, duplicates kept, as `[name, value]` pairs.
    #[schemars(with = "Vec<Vec<String>>")]
    pub headers: Cow<'a, [Header]>,
    /// Peer address of the sender's connection.
    pub remote_addr: Cow<'a, str>,
    /// Body size in bytes.
    pub body_size: usize,
    /// The exact body, base64.
    pub body_base64: String,
    /// The body as text; null when it is not valid UTF-8.
    pub body_text: Option<Cow<'a, str>>,
    /// The signature check; null when the bin has no secret for the scheme
    /// the headers show.
    pub signature: Option<Cow<'a, Signature>>,
    /// The payload schema check: the verdict of the first of the bin's
    /// schemas whose match holds; null when none applies (or the bin has
    /// none).
    #[serde(default)]
    pub schema: Option<Cow<'a, SchemaVerdict>>,
    /// The sender's id for this delivery; retries share it.
    pub idempotency_key: Option<Cow<'a, str>>,
    /// The name of the response rule that answered it; null when the
    /// bin's own response (or a passthrough tunnel) did.
    pub rule: Option<Cow<'a, str>>,
    /// What the sender got back: the status and who sent it. Null when
    /// not recorded: requests captured before hookwire recorded answers,
    /// imported ones, and a passthrough capture whose answer is still
    /// being written (an instant after the sender got it).
    #[serde(default)]
    pub response: Option<Cow<'a, Answer>>,
    /// What tunnels made of it, oldest first.
    pub deliveries: Vec<DeliveryJson<'a>>,
}

/// A relay to a tunnel's local app and the app's answer.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DeliveryJson<'a> {
    /// The tunnel's `--name`.
    pub tunnel: Cow<'a, str>,
    /// The URL it was delivered to.
    pub target: Cow<'a, str>,
    /// The tunnel's `--filter` left it out: not sent to the app.
    pub skipped: bool,
    /// Sent again on request (replay), not in the live stream.
    pub replay: bool,
    /// The app's status; null when the relay failed for good.
    pub status: Option<u16>,
    /// How long the app took, measured by the tunnel client, in
    /// milliseconds to 2 decimals.
    pub latency_ms: f64,
    /// When the server recorded it (RFC 3339).
    pub delivered_at: String,
    /// Why the relay failed for good, if it did.
    pub error: Option<Cow<'a, str>>,
    /// The app's response headers, as `[name, value]` pairs.
    #[schemars(with = "Vec<Vec<String>>")]
    pub headers: Cow<'a, [Header]>,
    /// The app's response body, base64.
    pub body_base64: String,
    /// The same body as text; null when it is not UTF-8.
    pub body_text: Option<Cow<'a, str>>,
}

/// The body of every JSON error: what went wrong and what to do.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ErrorBody {
    /// What went wrong and what to do about it.
    #[schemars(
        example = &"no such bin: check the URL, or create a new one with POST /api/bins or on the home page"
    )]
    pub error: String,
}

impl ErrorBody {
    /// The message of an error answer: its `error`, or the body as text
    /// when it is not one (a proxy's page).
    pub fn message_of(body: &[u8]) -> String {
        serde_json::from_slice::<ErrorBody>(body)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(body).trim().to_owned())
    }
}

/// What `POST /api/bins` takes (no body, `null` or `{}` mint a bin
/// without an alias).
#[derive(Debug, Clone, Default, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasBody {
    /// 3-64 of `a-z 0-9 -`, not UUID-shaped, not a route name; unique.
    #[serde(default)]
    #[schemars(schema_with = "crate::core::shapes::alias")]
    pub alias: Option<String>,
}

/// What `PUT …/alias` takes: the new alias, or `null` to remove it (the
/// key is required, so that `{}` cannot remove an alias by accident).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AliasChange {
    /// 3-64 of `a-z 0-9 -`, not UUID-shaped, not a route name; unique;
    /// `null`: no alias.
    #[schemars(schema_with = "crate::core::shapes::alias", required)]
    pub alias: Option<String>,
}

/// A page of requests.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RequestPage<'a> {
    /// Newest first, or oldest first with `after`.
    pub requests: Vec<RequestJson<'a>>,
    /// The cursor for the next page (`before=` or `after=` it), or null.
    pub next: Option<i64>,
}

/// A bin, as the API shows it.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct BinView {
    /// The bin id: a UUIDv4, 122 random bits.
    pub id: String,
    /// Where senders post webhooks.
    pub capture_url: String,
    /// The inspector page.
    pub inspect_url: String,
    /// Its readable name, if it has one: it also captures at `/{alias}`.
    pub alias: Option<String>,
    /// The capture URL by alias (guessable: anyone may send to it).
    pub alias_url: Option<String>,
    /// When it was minted (RFC 3339).
    pub created_at: String,
    /// What its capture URL answers.
    pub response: ResponseConfig,
    /// The schemes it has secrets for, each masked (`****` and the last
    /// four characters of a long secret).
    #[schemars(with = "serde_json::Map<String, serde_json::Value>")]
    pub secrets: serde_json::Value,
    /// How many requests it holds (`GET` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_count: Option<u64>,
    /// The names of its connected tunnels (`GET` only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tunnels: Option<Vec<String>>,
}

impl BinView {
    /// The view of `bin` on a server whose public base URL is `base`.
    pub fn new(base: &str, bin: &Bin) -> Self {
        Self {
            id: bin.id.to_string(),
            capture_url: format!("{base}/{}", bin.id),
            inspect_url: format!("{base}/bins/{}", bin.id),
            alias: bin.alias.clone(),
            alias_url: bin.alias.as_ref().map(|a| format!("{base}/{a}")),
            created_at: rfc3339(bin.created_at),
            response: bin.response.clone(),
            secrets: bin.secrets.masked(),
            request_count: None,
            tunnels: None,
        }
    }
}

impl Delivery {
    /// The delivery object of the API (with the app's headers and body).
    pub fn to_json(&self) -> DeliveryJson<'_> {
        DeliveryJson {
            tunnel: Cow::Borrowed(&self.tunnel),
            target: Cow::Borrowed(&self.target),
            skipped: self.skipped,
            replay: self.replay,
            status: self.status,
            // Stored as the client measured it (older clients sent full
            // precision): shown as people read it.
            latency_ms: round_ms(self.latency_ms),
            delivered_at: rfc3339(self.delivered_at),
            error: self.error.as_deref().map(Cow::Borrowed),
            headers: Cow::Borrowed(&self.headers),
            body_base64: STANDARD.encode(&self.body),
            body_text: std::str::from_utf8(&self.body).ok().map(Cow::Borrowed),
        }
    }
}

impl CapturedRequest {
    /// The request object of the API.
    pub fn to_json(&self) -> RequestJson<'_> {
        let r = &self.req;
        RequestJson {
            id: self.id,
            bin_id: r.bin_id.to_string(),
            received_at: rfc3339(r.received_at),
            method: Cow::Borrowed(&r.method),
            path: Cow::Borrowed(&r.path),
            query: Cow::Borrowed(&r.query),
            headers: Cow::Borrowed(&r.headers),
            remote_addr: Cow::Borrowed(&r.remote_addr),
            body_size: r.body.len(),
            body_base64: STANDARD.encode(&r.body),
            body_text: std::str::from_utf8(&r.body).ok().map(Cow::Borrowed),
            signature: r.signature.as_ref().map(Cow::Borrowed),
            schema: r.schema.as_ref().map(Cow::Borrowed),
            idempotency_key: r.retry_key.as_deref().map(Cow::Borrowed),
            rule: r.rule.as_deref().map(Cow::Borrowed),
            response: r.answer.as_ref().map(Cow::Borrowed),
            deliveries: self.deliveries.iter().map(Delivery::to_json).collect(),
        }
    }
}

/// What `POST /api/tokens` takes.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// Whose token: a person or a machine (1-64 of `A-Z a-z 0-9 . _ @ -`;
    /// not `operator` or `anonymous`, which the audit log uses). Unique.
    #[schemars(length(min = 1, max = 64), pattern(r"^[A-Za-z0-9._@-]+$"), example = &"alice")]
    pub name: String,
    /// What it may do.
    pub scope: Scope,
}

impl NewToken {
    /// Why the name cannot be a token's, if it cannot.
    pub fn name_problem(name: &str) -> Option<String> {
        let allowed = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'@' | b'-');
        if name.is_empty() || name.len() > 64 || !name.bytes().all(allowed) {
            return Some(format!(
                "token name {name:?}: use 1-64 letters, digits, '.', '_', '@' or '-' (e.g. alice or ci-bot)"
            ));
        }
        if matches!(name, "operator" | "anonymous") {
            return Some(format!(
                "token name {name:?} is what the audit log calls someone without a token: pick another"
            ));
        }
        None
    }
}

/// A token as listed: never the token itself.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TokenView {
    /// Whose token.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// When it last signed a request in (RFC 3339; to the minute on other
    /// replicas); null if never.
    pub last_used_at: Option<String>,
}

/// Every token.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TokenList {
    /// By name.
    pub tokens: Vec<TokenView>,
}

/// What making a token answers: the token, shown this once (the server
/// keeps only a hash of it).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct CreatedToken {
    /// Whose token.
    pub name: String,
    /// What it may do.
    pub scope: Scope,
    /// When it was made (RFC 3339).
    pub created_at: String,
    /// The token: `Authorization: Bearer <token>`, `--access-token`, or
    /// the login page.
    pub token: String,
}

/// One change in the audit log.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AuditEntry {
    /// Increasing; pass as `before` for older entries.
    pub id: i64,
    /// When (RFC 3339).
    pub at: String,
    /// The token's name, the login proxy's user, `operator` (the
    /// `--access-token`) or `anonymous` (a server without one).
    pub who: String,
    /// How they signed in: `token`, `operator`, `proxy` or `open`.
    pub via: String,
    /// The client's address.
    pub address: String,
    /// What was done: `bin.mint`, `bin.delete`, `bin.clear`, `bin.import`,
    /// `response.set`, `rules.set`, `rules.add`, `rules.delete`,
    /// `secrets.set`, `secrets.remove`, `schemas.set`, `alias.set`,
    /// `request.replay`, `request.delete`, `token.create`, `token.revoke`,
    /// `login`.
    pub action: String,
    /// What it was done to: a bin id, `BIN/requests/ID`, or a token's
    /// name; null for a login.
    pub target: Option<String>,
}

/// A page of the audit log, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct AuditPage {
    /// Newest first.
    pub entries: Vec<AuditEntry>,
    /// The cursor for older entries (`before=` it), or null.
    pub next: Option<i64>,
}
