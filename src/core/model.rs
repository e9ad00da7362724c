//! Plain data the rest of the crate passes around: bins, captured requests,
//! the response a bin gives. No I/O lives here.

use base64::Engine as _;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::core::headers::Header;
use crate::core::time::Millis;
use crate::core::verify::{Secrets, Signature, Signed};

/// What a capture URL answers with. Set per bin through the API or the
/// inspector's form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ResponseConfig {
    /// HTTP status, 200 to 599.
    #[schemars(range(min = 200, max = 599), example = 200)]
    pub status: u16,
    /// Headers in the order they are sent, as `[name, value]` pairs.
    #[schemars(schema_with = "crate::core::shapes::response_headers")]
    pub headers: Vec<Header>,
    /// Body text, at most 1 MiB characters.
    #[schemars(length(max = 1048576))]
    pub body: String,
    /// Milliseconds to wait after the capture is stored before answering.
    #[schemars(range(max = 30000))]
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
        // Characters, as the API document's maxLength counts them.
        if self.body.chars().count() > MAX_RESPONSE_BODY {
            return Err(format!(
                "the response body is over {MAX_RESPONSE_BODY} characters"
            ));
        }
        for (name, value) in &self.headers {
            let lower = name.to_ascii_lowercase();
            if http::HeaderName::try_from(name.as_str()).is_err() {
                return Err(format!("{name:?} is not a valid header name"));
            }
            if http::HeaderValue::try_from(value.as_str()).is_err() {
                return Err(format!(
                    "the value of header {name:?} is not a valid header value"
                ));
            }
            // Framing headers are the server's to set; a wrong one breaks the
            // sender's connection.
            if crate::core::shapes::RESERVED_RESPONSE_HEADERS.contains(&lower.as_str()) {
                return Err(format!(
                    "header {name:?} is set by hookwire itself; remove it"
                ));
            }
        }
        Ok(())
    }
}

/// Largest response body a bin may be configured with, in characters.
pub const MAX_RESPONSE_BODY: usize = 1024 * 1024;

/// The longest delay a bin's response may have: a sender waiting longer
/// than this has usually given up already.
pub const MAX_DELAY_MS: u64 = 30_000;

/// What a response rule does once it matched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// Answer with the rule's response.
    #[default]
    Respond,
    /// Store the request, then drop the connection without an answer.
    Close,
    /// Store the request, then answer nothing until the sender gives up
    /// (at most 120 s, then the connection is dropped).
    Hang,
}

/// A response rule as the user wrote it: when it applies and what it
/// answers. The server checks and compiles it before storing it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleConfig {
    /// Unique within the bin; requests it answered carry it as `rule`.
    #[schemars(schema_with = "crate::core::shapes::rule_name")]
    pub name: String,
    /// Conditions that must all hold (the match language, docs/rules.md);
    /// empty matches every request.
    #[serde(default, rename = "match")]
    #[schemars(schema_with = "crate::core::shapes::rule_conditions")]
    pub conditions: Vec<String>,
    /// Which arrivals of the same webhook (same idempotency key) it
    /// applies to: `"1-2"`, `"3"`, `"2-"`; absent: every arrival.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::core::shapes::attempts")]
    pub attempts: Option<String>,
    /// The answer; body and header values are templates.
    #[serde(default)]
    #[schemars(schema_with = "crate::core::shapes::rule_response")]
    pub response: ResponseConfig,
    /// `respond` (default), `close` or `hang`.
    #[serde(default)]
    pub action: Action,
}

/// Checks an alias: 3-64 of `a-z 0-9 -`, not shaped like a UUID (bin ids
/// are), not one of the server's route names.
pub fn validate_alias(alias: &str) -> Result<(), String> {
    if !(3..=64).contains(&alias.len())
        || !alias
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return Err(format!(
            "alias {alias:?} must be 3-64 characters of a-z, 0-9 and '-', e.g. \"stripe-dev\""
        ));
    }
    if Uuid::parse_str(alias).is_ok() {
        return Err(format!(
            "alias {alias:?} looks like a bin id; pick a readable name"
        ));
    }
    if crate::core::shapes::RESERVED_ALIASES.contains(&alias) {
        return Err(format!(
            "alias {alias:?} is one of hookwire's own paths; pick another"
        ));
    }
    Ok(())
}

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
    pub secrets: Secrets,
    /// A readable name it also captures at (`/stripe-dev`).
    pub alias: Option<String>,
    /// Response rules, first match wins over `response`.
    pub rules: Vec<RuleConfig>,
    /// Payload schemas, the first whose match holds validates a request.
    pub schemas: Vec<crate::core::payload_schema::SchemaConfig>,
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
    pub body: bytes::Bytes,
    /// The signature check against the bin's secrets, if any applied.
    pub signature: Option<Signature>,
    /// The payload schema verdict; `None` when no schema of the bin applied.
    pub schema: Option<crate::core::payload_schema::SchemaVerdict>,
    /// The sender's idempotency key, when it sent one: retries share it.
    pub retry_key: Option<String>,
    /// The response rule that answered it, if one did.
    pub rule: Option<String>,
    /// What the sender got back; `None` when it is not recorded (captured
    /// before hookwire recorded answers, imported, or a passthrough answer
    /// not yet in).
    pub answer: Option<Answer>,
}

/// Who answered a capture's sender.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum AnsweredBy {
    /// A response rule (`name`: the rule).
    Rule,
    /// The bin's own response.
    Bin,
    /// A passthrough tunnel's app (`name`: the tunnel).
    Tunnel,
    /// No answer: a rule closed or held the connection (`name`: the rule),
    /// or the sender gave up before the answer (`name`: null).
    None,
}

impl AnsweredBy {
    /// The stored (and JSON) spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rule => "rule",
            Self::Bin => "bin",
            Self::Tunnel => "tunnel",
            Self::None => "none",
        }
    }

    /// The value of a stored spelling.
    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "rule" => Self::Rule,
            "bin" => Self::Bin,
            "tunnel" => Self::Tunnel,
            "none" => Self::None,
            _ => return None,
        })
    }
}

/// What the sender of a capture got back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Answer {
    /// The status sent; null when there was no answer (`by` is `none`).
    #[schemars(example = 503)]
    pub status: Option<u16>,
    /// Who answered: `rule`, `bin` (the bin's own response), `tunnel` (a
    /// passthrough tunnel's app) or `none` (the connection was closed or
    /// held by a rule, or the sender gave up).
    pub by: AnsweredBy,
    /// The rule's or the tunnel's name; null for the bin's response and
    /// for a sender that gave up.
    #[schemars(example = &"flaky")]
    pub name: Option<String>,
}

impl Answer {
    /// No answer: the sender went away before one was sent.
    pub fn gave_up() -> Self {
        Self {
            status: None,
            by: AnsweredBy::None,
            name: None,
        }
    }

    /// The list's pill: the status, or `—` for no answer.
    pub fn pill(&self) -> String {
        self.status
            .map_or_else(|| "\u{2014}".to_owned(), |s| s.to_string())
    }

    /// The pill's class: `a-2xx` … `a-5xx` by the status's class, `a-none`.
    pub fn class(&self) -> &'static str {
        match self.status {
            Some(200..=299) => "a-2xx",
            Some(300..=399) => "a-3xx",
            Some(400..=499) => "a-4xx",
            Some(500..=599) => "a-5xx",
            Some(_) => "a-other",
            None => "a-none",
        }
    }

    /// The detail's sentence: "answered 201 by tunnel laptop", "answered
    /// 200 by the bin's response", "no answer (closed by rule x)".
    pub fn sentence(&self) -> String {
        match &self.name {
            Some(name) => format!("{} {name}{}", self.lead(), self.tail()),
            None => self.lead(),
        }
    }

    /// The sentence up to the name, if it has one.
    pub fn lead(&self) -> String {
        match (self.status, self.by) {
            (Some(s), AnsweredBy::Rule) => format!("answered {s} by rule"),
            (Some(s), AnsweredBy::Tunnel) => format!("answered {s} by tunnel"),
            (Some(s), _) => format!("answered {s} by the bin's response"),
            (None, _) if self.name.is_some() => "no answer (closed by rule".to_owned(),
            (None, _) => "no answer (the sender gave up)".to_owned(),
        }
    }

    /// The sentence after the name.
    pub fn tail(&self) -> &'static str {
        if self.status.is_none() && self.name.is_some() {
            ")"
        } else {
            ""
        }
    }

    /// What the name is: `tunnel`, else `rule`.
    pub fn name_kind(&self) -> &'static str {
        match self.by {
            AnsweredBy::Tunnel => "tunnel",
            _ => "rule",
        }
    }
}

/// Bodies past this are not parsed for a job id (header ids still count).
const KEY_BODY_LIMIT: usize = 256 * 1024;

impl NewRequest {
    /// The sub-path with its query, as the inspector shows it: `/a?x=1`.
    pub fn target(&self) -> String {
        crate::core::urls::target(&self.path, &self.query)
    }

    /// Works out what a request carries beyond its bytes, the one way
    /// captures and imports do it: the sender's idempotency key, and the
    /// check against the bin's secrets (when it has any). `base` gives the
    /// public base URL the sender was given (Twilio signs the full URL);
    /// it is only asked for when there is something to check.
    pub fn derive(&mut self, secrets: &Secrets, base: impl FnOnce() -> String) {
        let key_body: &[u8] = if self.body.len() <= KEY_BODY_LIMIT {
            &self.body
        } else {
            &[]
        };
        self.retry_key = crate::core::idempotency::idempotency_key(&self.headers, key_body);
        if !secrets.is_empty() {
            self.signature = self.verify(secrets, &base());
        }
    }

    /// Checks the request against a bin's secrets; `base` is the public
    /// base URL the sender was given.
    pub fn verify(&self, secrets: &Secrets, base: &str) -> Option<Signature> {
        let url =
            crate::core::urls::join(&format!("{base}/{}", self.bin_id), &self.path, &self.query);
        crate::core::verify::check(
            secrets,
            &Signed {
                headers: &self.headers,
                body: &self.body,
                received_at: self.received_at,
                url: &url,
            },
        )
    }

    /// The verdict of the first of `schemas` whose match holds for this
    /// request; `None` when none does (or there are none).
    pub fn verdict(
        &self,
        schemas: &crate::core::payload_schema::Schemas,
    ) -> Option<crate::core::payload_schema::SchemaVerdict> {
        if schemas.is_empty() {
            return None;
        }
        schemas.check(&crate::core::matcher::Subject::new(
            &self.method,
            &self.path,
            &self.query,
            &self.headers,
            &self.body,
        ))
    }

    /// The value of the first header named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::core::headers::get(&self.headers, name)
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
    /// The URL the tunnel delivered to (its `--to` or `--route` target).
    pub target: String,
    /// True when the tunnel's `--filter` left the request out: nothing
    /// was sent to the app.
    pub skipped: bool,
    /// True when sent again on request (replay), not in the live stream.
    pub replay: bool,
    /// The app's status; `None` when the relay failed for good.
    pub status: Option<u16>,
    /// The app's response headers.
    pub headers: Vec<Header>,
    /// The app's response body.
    pub body: bytes::Bytes,
    /// From relaying the request to the app's answer, measured by the client.
    pub latency_ms: f64,
    /// When the server recorded it.
    pub delivered_at: Millis,
    /// Why the relay failed for good, if it did.
    pub error: Option<String>,
}

impl CapturedRequest {
    /// The value of the first header named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.req.header(name)
    }
}

/// Changes to a stored request before it is replayed ("edit and replay");
/// the stored request itself is never changed.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Edits {
    /// Another method.
    #[serde(default)]
    #[schemars(schema_with = "crate::core::shapes::optional_method")]
    pub method: Option<String>,
    /// Another sub-path.
    pub path: Option<String>,
    /// Another raw query string.
    pub query: Option<String>,
    /// Other headers (all of them, in order), as `[name, value]` pairs.
    #[serde(default)]
    #[schemars(schema_with = "crate::core::shapes::optional_header_list")]
    pub headers: Option<Vec<Header>>,
    /// Another body, as text.
    pub body: Option<String>,
    /// Another body, base64 (for binary).
    #[serde(default)]
    #[schemars(schema_with = "crate::core::shapes::optional_base64")]
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

#[cfg(test)]
mod tests {
    //! The alias check against the API document's alias schema
    //! (`core::shapes::alias`): the two take the same aliases.

    use super::validate_alias;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    fn documented(alias: &Value) -> bool {
        let schema = crate::core::shapes::alias(&mut schemars::SchemaGenerator::default());
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema.to_value())
            .expect("a valid schema")
            .is_valid(alias)
    }

    #[test]
    fn aliases_are_documented_exactly_as_checked() {
        for alias in [
            "stripe-dev",
            "ab",
            "a-b",
            "Stripe",
            "api",
            "bins",
            "0123456789abcdef0123456789abcdef",
            "2f0b8f6e-8c4f-4d51-9d1c-7f2b1d2c3a4b",
            &"a".repeat(65),
        ] {
            assert_eq!(
                documented(&json!(alias)),
                validate_alias(alias).is_ok(),
                "{alias:?}"
            );
        }
        assert!(documented(&Value::Null), "null: no alias");
    }

    proptest! {
        #[test]
        fn random_aliases_are_documented_exactly_as_checked(alias in "[a-z0-9A-Z_-]{0,70}") {
            prop_assert_eq!(documented(&json!(alias)), validate_alias(&alias).is_ok());
        }
    }
}
