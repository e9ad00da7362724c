//! What conditions look at: a request's parts, borrowed, its JSON body
//! parsed at most once, and a JSON value's text as conditions compare it.

use std::cell::OnceCell;

use crate::core::headers::Header;

/// What conditions look at: a request's parts, borrowed. The JSON body is
/// parsed at most once, on first use.
pub struct Subject<'a> {
    pub(super) method: &'a str,
    pub(super) path: &'a str,
    query: &'a str,
    pub(super) headers: &'a [Header],
    pub(super) body: &'a [u8],
    // Lazily: most matches never look at the body, and parsing is the
    // one costly part of matching.
    json: OnceCell<Option<serde_json::Value>>,
    /// The payload schema verdict (`Some(true)`: valid), when one is known.
    pub(super) schema: Option<bool>,
}

impl<'a> Subject<'a> {
    /// A request's parts: its method, raw sub-path (starting with `/`),
    /// raw query (without `?`), headers and body.
    pub fn new(
        method: &'a str,
        path: &'a str,
        query: &'a str,
        headers: &'a [Header],
        body: &'a [u8],
    ) -> Self {
        Self {
            method,
            path,
            query,
            headers,
            body,
            json: OnceCell::new(),
            schema: None,
        }
    }

    /// This subject with the bin's payload schema verdict (`None`: no
    /// schema applied, or it is not known), for `schema=valid|invalid`.
    pub fn with_schema(mut self, valid: Option<bool>) -> Self {
        self.schema = valid;
        self
    }

    /// The request method, as sent.
    pub fn method(&self) -> &'a str {
        self.method
    }

    /// The raw sub-path, as stored (e.g. `/jobs/42`).
    pub fn path(&self) -> &'a str {
        self.path
    }

    /// First value of query parameter `name` (form-decoded: `%XX` and `+`
    /// as space), if any.
    pub fn query_value(&self, name: &str) -> Option<String> {
        self.query_values(name).next()
    }

    /// Every value of query parameter `name`, form-decoded, in order.
    pub(super) fn query_values<'s>(&'s self, name: &'s str) -> impl Iterator<Item = String> + 's {
        form_urlencoded::parse(self.query.as_bytes())
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    }

    /// First header named `name`, compared without case.
    pub fn header(&self, name: &str) -> Option<&'a str> {
        crate::core::headers::get(self.headers, name)
    }

    /// The body parsed as JSON (any JSON value), `None` when it is not
    /// JSON. Parsed once, on first use.
    pub fn json(&self) -> Option<&serde_json::Value> {
        self.json
            .get_or_init(|| serde_json::from_slice(self.body).ok())
            .as_ref()
    }

    /// The body as parsed so far (`None`: not looked at yet), to hand to a
    /// later subject of the same request with [`Self::with_parsed`].
    pub fn into_parsed(self) -> Option<Option<serde_json::Value>> {
        self.json.into_inner()
    }

    /// This subject with the body as an earlier subject of the same request
    /// parsed it: a body is parsed once, however often it is looked at.
    pub fn with_parsed(self, parsed: Option<Option<serde_json::Value>>) -> Self {
        if let Some(json) = parsed {
            let _ = self.json.set(json);
        }
        self
    }

    /// The value at RFC 6901 `pointer` in the JSON body, as text: a
    /// string's content, a number's text as sent, `true`/`false`, `null`;
    /// an object or array as compact JSON. `None` when absent or not JSON.
    pub fn json_text(&self, pointer: &str) -> Option<String> {
        let v = self.json()?.pointer(pointer)?;
        Some(scalar_text(v).unwrap_or_else(|| v.to_string()))
    }
}

/// A scalar's text as conditions compare it; `None` for objects and
/// arrays. Numbers keep their text as sent (serde_json's
/// `arbitrary_precision`), so `1.50` stays `1.50`.
pub(super) fn scalar_text(v: &serde_json::Value) -> Option<String> {
    use serde_json::Value;
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Null => Some("null".to_owned()),
        Value::Array(_) | Value::Object(_) => None,
    }
}
