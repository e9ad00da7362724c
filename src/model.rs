//! Plain data the rest of the crate passes around: bins, captured requests,
//! the response a bin gives. No I/O lives here.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub type Millis = i64;

/// The current wall-clock time in [`Millis`].
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// RFC 3339 with milliseconds in UTC, e.g. `2026-11-23T03:36:34.123Z`.
pub fn rfc3339(ms: Millis) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// A header as captured: lower-case name and value. Values that are not
/// UTF-8 (obs-text) are kept lossily; bodies, not headers, are byte-exact.
pub type Header = (String, String);

/// What a capture URL answers with. Set per bin through the API or the
/// inspector's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseConfig {
    /// HTTP status, 200..=599.
    pub status: u16,
    /// Headers in the order they are sent.
    pub headers: Vec<Header>,
    /// Body text.
    pub body: String,
    /// Milliseconds to wait after the capture is stored before answering.
    pub delay_ms: u64,
}

impl Default for ResponseConfig {
    fn default() -> Self {
        Self {
            status: 200,
            headers: vec![("content-type".into(), "application/json".into())],
            body: r#"{"ok":true}"#.into(),
            delay_ms: 0,
        }
    }
}

impl ResponseConfig {
    /// Checks what a user set, saying what to fix.
    pub fn validate(&self) -> Result<(), String> {
        if !(200..=599).contains(&self.status) {
            return Err(format!(
                "status {} is not allowed: use 200 to 599",
                self.status
            ));
        }
        if self.delay_ms > MAX_DELAY_MS {
            return Err(format!(
                "delay_ms {} is too long: use at most {MAX_DELAY_MS}",
                self.delay_ms
            ));
        }
        if self.body.len() > MAX_RESPONSE_BODY {
            return Err(format!(
                "the response body is over {MAX_RESPONSE_BODY} bytes"
            ));
        }
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if axum::http::HeaderName::try_from(name.as_str()).is_err() {
                return Err(format!("{name:?} is not a valid header name"));
            }
            if axum::http::HeaderValue::try_from(value.as_str()).is_err() {
                return Err(format!(
                    "the value of header {name:?} is not a valid header value"
                ));
            }
            // Framing headers are the server's to set; a wrong one breaks the
            // sender's connection.
            if matches!(
                lower.as_str(),
                "content-length" | "transfer-encoding" | "connection" | "x-hookwire-request-id"
            ) {
                return Err(format!(
                    "header {name:?} is set by hookwire itself; remove it"
                ));
            }
        }
        Ok(())
    }
}

/// Largest response body a bin may be configured with.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// The longest delay a bin's response may have: a sender waiting longer
/// than this has usually given up already.
pub const MAX_DELAY_MS: u64 = 30_000;

/// A capture bin: one unguessable URL and what it answers.
#[derive(Debug, Clone)]
pub struct Bin {
    /// Random (v4) id: 122 bits that make the capture URL unguessable.
    pub id: Uuid,
    /// When it was minted.
    pub created_at: Millis,
    /// What its capture URL answers.
    pub response: ResponseConfig,
    /// Secrets its requests are verified with.
    pub secrets: crate::verify::Secrets,
}

/// A request as it arrived, before it has an id.
#[derive(Debug, Clone)]
pub struct NewRequest {
    /// The bin it was sent to.
    pub bin_id: Uuid,
    /// Arrival time.
    pub received_at: Millis,
    /// HTTP method, as sent.
    pub method: String,
    /// The raw path after the bin id, `/` for the bare capture URL.
    pub path: String,
    /// The raw query string without `?`.
    pub query: String,
    /// Headers in arrival order, duplicates kept.
    pub headers: Vec<Header>,
    /// Peer address of the connection.
    pub remote_addr: String,
    /// The body, byte for byte.
    pub body: axum::body::Bytes,
    /// The signature check against the bin's secrets, if any applied.
    pub signature: Option<crate::verify::Signature>,
    /// The sender's idempotency key, when it sent one: retries share it.
    pub retry_key: Option<String>,
}

impl NewRequest {
    /// The sub-path with its query, as the inspector shows it: `/a?x=1`.
    pub fn target(&self) -> String {
        if self.query.is_empty() {
            self.path.clone()
        } else {
            format!("{}?{}", self.path, self.query)
        }
    }
}

/// A stored request.
#[derive(Debug, Clone)]
pub struct CapturedRequest {
    /// Increasing in arrival order, never reused.
    pub id: i64,
    /// Everything that arrived.
    pub req: NewRequest,
    /// What tunnels made of it, oldest first (empty when not loaded).
    pub deliveries: Vec<Delivery>,
}

/// One relay of a request to a tunnel's local app, with the app's answer.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The tunnel's `--name`.
    pub tunnel: String,
    /// True when sent again on request (replay), not in the live stream.
    pub replay: bool,
    /// The app's status; `None` when the relay failed for good.
    pub status: Option<u16>,
    /// The app's response headers.
    pub headers: Vec<Header>,
    /// The app's response body.
    pub body: axum::body::Bytes,
    /// From relaying the request to the app's answer, measured by the client.
    pub latency_ms: f64,
    /// When the server recorded it.
    pub delivered_at: Millis,
    /// Why the relay failed for good, if it did.
    pub error: Option<String>,
}

impl Delivery {
    /// The delivery object of SPEC §2 (with the app's headers and body).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "tunnel": self.tunnel,
            "replay": self.replay,
            "status": self.status,
            "latency_ms": self.latency_ms,
            "delivered_at": rfc3339(self.delivered_at),
            "error": self.error,
            "headers": self.headers,
            "body_base64": base64::engine::general_purpose::STANDARD.encode(&self.body),
            "body_text": std::str::from_utf8(&self.body).ok(),
        })
    }
}

impl CapturedRequest {
    /// The value of the first header named `name` (lower-case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.req
            .headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The JSON request object of SPEC §2.
    pub fn to_json(&self) -> RequestJson<'_> {
        let r = &self.req;
        RequestJson {
            id: self.id,
            bin_id: r.bin_id.to_string(),
            received_at: rfc3339(r.received_at),
            method: &r.method,
            path: &r.path,
            query: &r.query,
            headers: &r.headers,
            remote_addr: &r.remote_addr,
            body_size: r.body.len(),
            body_base64: base64::engine::general_purpose::STANDARD.encode(&r.body),
            body_text: std::str::from_utf8(&r.body).ok(),
            signature: r.signature.as_ref(),
            idempotency_key: r.retry_key.as_deref(),
            deliveries: self.deliveries.iter().map(Delivery::to_json).collect(),
        }
    }
}

/// Changes to a stored request before it is replayed ("edit and replay");
/// the stored request itself is never changed.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edits {
    /// Another method.
    pub method: Option<String>,
    /// Another sub-path.
    pub path: Option<String>,
    /// Another raw query string.
    pub query: Option<String>,
    /// Other headers (all of them, in order).
    pub headers: Option<Vec<Header>>,
    /// Another body, as text.
    pub body: Option<String>,
    /// Another body, base64 (for binary).
    pub body_base64: Option<String>,
}

impl Edits {
    /// True when nothing is changed.
    pub fn is_empty(&self) -> bool {
        self.method.is_none()
            && self.path.is_none()
            && self.query.is_none()
            && self.headers.is_none()
            && self.body.is_none()
            && self.body_base64.is_none()
    }

    /// Applies the edits to a copy of a stored request.
    pub fn apply(&self, r: &mut NewRequest) -> Result<(), String> {
        if let Some(m) = &self.method {
            if m.is_empty() || !m.bytes().all(|b| b.is_ascii_alphabetic() || b == b'-') {
                return Err(format!("{m:?} is not an HTTP method"));
            }
            r.method = m.to_ascii_uppercase();
        }
        if let Some(p) = &self.path {
            r.path = if p.starts_with('/') {
                p.clone()
            } else {
                format!("/{p}")
            };
        }
        if let Some(q) = &self.query {
            r.query = q.trim_start_matches('?').to_owned();
        }
        if let Some(h) = &self.headers {
            r.headers = h
                .iter()
                .map(|(n, v)| (n.to_ascii_lowercase(), v.clone()))
                .collect();
        }
        if let Some(b) = &self.body {
            r.body = b.clone().into_bytes().into();
        }
        if let Some(b) = &self.body_base64 {
            r.body = base64::engine::general_purpose::STANDARD
                .decode(b)
                .map_err(|_| "body_base64 is not base64".to_owned())?
                .into();
        }
        Ok(())
    }
}

/// Serialised form of a [`CapturedRequest`].
#[derive(Debug, Serialize)]
pub struct RequestJson<'a> {
    id: i64,
    bin_id: String,
    received_at: String,
    method: &'a str,
    path: &'a str,
    query: &'a str,
    headers: &'a [Header],
    remote_addr: &'a str,
    body_size: usize,
    body_base64: String,
    body_text: Option<&'a str>,
    signature: Option<&'a crate::verify::Signature>,
    idempotency_key: Option<&'a str>,
    deliveries: Vec<serde_json::Value>,
}
