//! The HAR 1.2 export: one entry per captured request, with the first
//! tunnel delivery's answer as its response.

use axum::http::StatusCode;
use base64::Engine as _;
use serde_json::{Value, json};

use super::B64;
use crate::core::headers::Header;
use crate::core::model::CapturedRequest;
use crate::core::time::rfc3339;

/// A HAR `content`/`postData` object: the text when the bytes are UTF-8,
/// else base64 with `"encoding": "base64"`.
fn har_content(mime: &str, body: &[u8]) -> Value {
    let mut c = json!({ "mimeType": mime, "size": body.len() });
    match std::str::from_utf8(body) {
        Ok(text) => c["text"] = text.into(),
        Err(_) => {
            c["text"] = B64.encode(body).into();
            c["encoding"] = "base64".into();
        }
    }
    c
}

fn har_headers(headers: &[Header]) -> Vec<Value> {
    headers
        .iter()
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect()
}

fn content_type(headers: &[Header]) -> &str {
    crate::core::headers::get(headers, "content-type").unwrap_or("")
}

/// One HAR 1.2 entry. hookwire does not store the bin's answer per
/// request, so the response is the first tunnel delivery's answer when
/// there is one (its latency as `wait`), else status 0 and empty content.
pub fn har_entry(r: &CapturedRequest, target: &str) -> Value {
    let q = &r.req;
    let query: Vec<Value> = form_urlencoded::parse(q.query.as_bytes())
        .map(|(name, value)| json!({ "name": name, "value": value }))
        .collect();
    let mut request = json!({
        "method": q.method,
        "url": crate::core::urls::join(target, &q.path, &q.query),
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": har_headers(&q.headers),
        "queryString": query,
        "headersSize": -1,
        "bodySize": q.body.len(),
    });
    if !q.body.is_empty() {
        request["postData"] = har_content(content_type(&q.headers), &q.body);
    }
    let (response, wait) = match r.deliveries.first() {
        Some(d) => {
            let status = d.status.unwrap_or(0);
            let mut resp = json!({
                "status": status,
                "statusText": StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or(""),
                "httpVersion": "HTTP/1.1",
                "cookies": [],
                "headers": har_headers(&d.headers),
                "content": har_content(content_type(&d.headers), &d.body),
                "redirectURL": crate::core::headers::get(&d.headers, "location").unwrap_or(""),
                "headersSize": -1,
                "bodySize": d.body.len(),
                "_tunnel": d.tunnel,
            });
            if let Some(error) = &d.error {
                resp["_error"] = error.as_str().into();
            }
            (resp, d.latency_ms.max(0.0))
        }
        None => (
            json!({
                "status": 0,
                "statusText": "",
                "httpVersion": "",
                "cookies": [],
                "headers": [],
                "content": { "size": 0, "mimeType": "" },
                "redirectURL": "",
                "headersSize": -1,
                "bodySize": -1,
                "comment": "not delivered to a tunnel; hookwire does not store the bin's own answer per request",
            }),
            0.0,
        ),
    };
    json!({
        "startedDateTime": rfc3339(q.received_at),
        "time": wait,
        "request": request,
        "response": response,
        "cache": {},
        "timings": { "send": 0, "wait": wait, "receive": 0 },
        "_hookwire_id": r.id,
    })
}

pub(super) fn creator() -> Value {
    json!({ "name": "hookwire", "version": env!("CARGO_PKG_VERSION") })
}

/// A HAR 1.2 document around `entries`.
pub fn har_log(entries: Vec<Value>) -> Value {
    json!({ "log": { "version": "1.2", "creator": creator(), "entries": entries } })
}
