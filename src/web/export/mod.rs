//! Export of captured requests — the API's JSON, HAR 1.2, a curl command —
//! and import of such documents back into a bin.
//!
//! - `GET /api/bins/{bin}/requests/{id}/export?format=curl|har|json[&to=URL]`
//! - `GET /api/bins/{bin}/export?format=har|json[&to=URL]`: the whole bin,
//!   oldest first, streamed page by page.
//! - `POST /api/bins/{bin}/import`: a HAR document, a JSON array of request
//!   objects, `{"requests":[…]}` or one request object; each becomes a new
//!   capture of the bin.
//!
//! The curl command feeds every non-empty body through
//! `printf '%s' 'BASE64' | base64 -d | curl … --data-binary @-`: one rule that
//! is byte-exact for any body (NUL, invalid UTF-8, trailing newlines) and
//! needs no shell escaping of the body.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

use super::inspector::bin_id;
use crate::error::AppError;
use crate::model::{CapturedRequest, Header, NewRequest, now_millis, rfc3339};
use crate::state::AppState;
use crate::store::{Cursor, ListQuery};

/// Requests read from the store per page of a whole-bin export.
const EXPORT_PAGE: usize = 32;

pub(super) const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Curl,
    Har,
    Json,
}

/// Query of the export routes.
#[derive(Debug, Deserialize)]
pub struct ExportParams {
    /// `curl`, `har` or `json` (default `json`).
    format: Option<String>,
    /// Base URL that replaces the capture URL in curl commands and HAR
    /// urls, e.g. `http://localhost:3000/hooks` (the sub-path is appended).
    to: Option<String>,
}

fn params(p: Result<Query<ExportParams>, QueryRejection>) -> Result<ExportParams, AppError> {
    let Query(p) = p.map_err(|e| {
        AppError::BadRequest(format!(
            "{}; use ?format=curl|har|json and optionally &to=http://host/path",
            e.body_text()
        ))
    })?;
    if let Some(to) = &p.to {
        let ok = (to.starts_with("http://") || to.starts_with("https://"))
            && to.parse::<axum::http::Uri>().is_ok();
        if !ok {
            return Err(AppError::BadRequest(format!(
                "to={to:?} is not an http:// or https:// URL; use e.g. to=http://localhost:3000"
            )));
        }
    }
    Ok(p)
}

fn format(p: &ExportParams, curl_allowed: bool) -> Result<Format, AppError> {
    match p.format.as_deref().unwrap_or("json") {
        "curl" if curl_allowed => Ok(Format::Curl),
        "curl" => Err(AppError::BadRequest(
            "format=curl exports one request: use /api/bins/{bin}/requests/{id}/export?format=curl, or format=har|json for the whole bin".into(),
        )),
        "har" => Ok(Format::Har),
        "json" => Ok(Format::Json),
        other if curl_allowed => Err(AppError::BadRequest(format!(
            "unknown format {other:?}: use format=curl, har or json"
        ))),
        other => Err(AppError::BadRequest(format!(
            "unknown format {other:?}: use format=har or json"
        ))),
    }
}

fn no_request() -> AppError {
    AppError::NotFound("no such request in this bin: it may have been deleted or purged".into())
}

/// Where exported requests point: `to`, else the bin's capture URL as this
/// client reaches the server.
fn target(state: &AppState, headers: &HeaderMap, bin: Uuid, p: &ExportParams) -> String {
    match &p.to {
        Some(to) => to.trim_end_matches('/').to_owned(),
        None => format!("{}/{bin}", state.base_url(headers)),
    }
}

/// The full URL of a captured request sent to `target` (a capture URL or
/// an app's base URL): the raw sub-path and raw query appended.
pub fn request_url(target: &str, r: &NewRequest) -> String {
    let after_scheme = target.find("://").map_or(0, |i| i + 3);
    let has_path = target[after_scheme..].contains('/');
    let mut url = target.to_owned();
    if r.path != "/" || !has_path {
        url.push_str(&r.path);
    }
    if !r.query.is_empty() {
        url.push('?');
        url.push_str(&r.query);
    }
    url
}

/// `GET /api/bins/{bin}/requests/{id}/export`.
pub async fn export_request(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
    headers: HeaderMap,
    query: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let p = params(query)?;
    let fmt = format(&p, true)?;
    let id = bin_id(&id)?;
    let rid: i64 = rid.parse().map_err(|_| no_request())?;
    let r = state.store.request(id, rid).await?.ok_or_else(no_request)?;
    let target = target(&state, &headers, id, &p);
    Ok(match fmt {
        Format::Curl => (
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("inline; filename=\"request-{rid}.sh\""),
                ),
            ],
            curl_command(&r, &request_url(&target, &r.req)),
        )
            .into_response(),
        Format::Har => download(
            format!("request-{rid}.har"),
            har_log(vec![har_entry(&r, &target)]).to_string(),
        ),
        Format::Json => download(
            format!("request-{rid}.json"),
            serde_json::to_string(&r.to_json())
                .map_err(|e| AppError::BadRequest(format!("the request did not serialise: {e}")))?,
        ),
    })
}

fn download(filename: String, body: impl Into<Body>) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        body.into(),
    )
        .into_response()
}

/// Quotes a word for a POSIX shell: single quotes, `'` as `'\''`.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A shell command that sends the request again to `url`: method, every
/// header in order (duplicates kept; `host` and `content-length` are
/// curl's to set) and the exact body, piped in as base64. Headers curl
/// would add on its own (`User-Agent`, `Accept`, a form `Content-Type`,
/// `Expect`) are suppressed when the request did not carry them.
pub fn curl_command(r: &CapturedRequest, url: &str) -> String {
    let q = &r.req;
    let has_body = !q.body.is_empty();
    let mut args: Vec<String> = vec![
        "curl".into(),
        "--http1.1".into(),
        "--globoff".into(),
        "--path-as-is".into(),
    ];
    if q.method == "HEAD" && !has_body {
        args.push("--head".into());
    } else {
        args.push(format!("-X {}", shell_quote(&q.method)));
    }
    let has = |name: &str| q.headers.iter().any(|(n, _)| n.eq_ignore_ascii_case(name));
    for (name, value) in &q.headers {
        let lower = name.to_ascii_lowercase();
        if lower == "host" || lower == "content-length" {
            continue;
        }
        // A chunked framing header without a body would make the server
        // wait for chunks that never come.
        if lower == "transfer-encoding" && !has_body {
            continue;
        }
        // `name;` is curl's way to send a header with an empty value.
        let line = if value.is_empty() {
            format!("{name};")
        } else {
            format!("{name}: {value}")
        };
        args.push(format!("-H {}", shell_quote(&line)));
    }
    let mut suppress = vec!["User-Agent", "Accept"];
    if has_body {
        suppress.extend(["Content-Type", "Expect"]);
    }
    for name in suppress {
        if !has(name) {
            args.push(format!("-H {}", shell_quote(&format!("{name}:"))));
        }
    }
    if has_body {
        args.push("--data-binary @-".into());
    }
    args.push(shell_quote(url));
    let curl = args.join(" \\\n  ");
    if has_body {
        format!(
            "printf '%s' {} | base64 -d | {curl}\n",
            shell_quote(&B64.encode(&q.body))
        )
    } else {
        format!("{curl}\n")
    }
}

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
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        .map_or("", |(_, v)| v.as_str())
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
        "url": request_url(target, q),
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
                "redirectURL": d.headers.iter()
                    .find(|(n, _)| n.eq_ignore_ascii_case("location"))
                    .map_or("", |(_, v)| v.as_str()),
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

fn creator() -> Value {
    json!({ "name": "hookwire", "version": env!("CARGO_PKG_VERSION") })
}

/// A HAR 1.2 document around `entries`.
pub fn har_log(entries: Vec<Value>) -> Value {
    json!({ "log": { "version": "1.2", "creator": creator(), "entries": entries } })
}

/// Where a whole-bin export stands between pages.
struct Walk {
    state: AppState,
    bin: Uuid,
    format: Format,
    target: String,
    /// Last id written.
    after: i64,
    /// The newest id when the export began: later captures are left out,
    /// so a busy bin's export ends.
    through: i64,
    /// The document's head, until it is written.
    head: Option<Vec<u8>>,
    /// Whether an entry was written (the next one needs a `,`).
    wrote: bool,
    done: bool,
}

impl Walk {
    async fn next_chunk(&mut self) -> Result<Vec<u8>, AppError> {
        let page = self
            .state
            .store
            .list_requests(ListQuery {
                bin: self.bin,
                limit: EXPORT_PAGE,
                cursor: Cursor::After(self.after),
                search: None,
                with_bodies: true,
                method: None,
            })
            .await?;
        let mut out = self.head.take().unwrap_or_default();
        for r in page.requests.iter().take_while(|r| r.id <= self.through) {
            if self.wrote {
                out.push(b',');
            }
            self.wrote = true;
            let written = match self.format {
                Format::Json => serde_json::to_writer(&mut out, &r.to_json()),
                _ => serde_json::to_writer(&mut out, &har_entry(r, &self.target)),
            };
            written
                .map_err(|e| AppError::BadRequest(format!("a request did not serialise: {e}")))?;
            self.after = r.id;
        }
        let past = page.requests.last().is_none_or(|r| r.id >= self.through);
        if page.next.is_none() || past {
            out.extend_from_slice(b"]}");
            if self.format == Format::Har {
                out.push(b'}');
            }
            self.done = true;
        }
        Ok(out)
    }
}

/// `GET /api/bins/{bin}/export`: every request of the bin, oldest first,
/// read and written a page at a time.
pub async fn export_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let p = params(query)?;
    let fmt = format(&p, false)?;
    let id = bin_id(&id)?;
    state.cached_bin(id).await?;
    let newest = state
        .store
        .list_requests(ListQuery {
            bin: id,
            limit: 1,
            cursor: Cursor::Newest,
            search: None,
            with_bodies: false,
            method: None,
        })
        .await?;
    let through = newest.requests.first().map_or(0, |r| r.id);
    let head = match fmt {
        Format::Har => {
            let mut h = b"{\"log\":{\"version\":\"1.2\",\"creator\":".to_vec();
            h.extend_from_slice(creator().to_string().as_bytes());
            h.extend_from_slice(b",\"entries\":[");
            h
        }
        _ => format!(
            "{{\"bin_id\":\"{id}\",\"exported_at\":\"{}\",\"requests\":[",
            rfc3339(now_millis())
        )
        .into_bytes(),
    };
    let walk = Walk {
        target: target(&state, &headers, id, &p),
        state,
        bin: id,
        format: fmt,
        after: 0,
        through,
        head: Some(head),
        wrote: false,
        done: false,
    };
    let stream = futures_util::stream::unfold(walk, |mut walk| async move {
        if walk.done {
            return None;
        }
        match walk.next_chunk().await {
            Ok(chunk) => Some((Ok(Bytes::from(chunk)), walk)),
            Err(e) => {
                // The status is already sent: cut the body short so the
                // client sees a broken download, not a complete-looking one.
                tracing::error!(error = %e, bin = %walk.bin, "export failed");
                walk.done = true;
                Some((Err(std::io::Error::other(e.to_string())), walk))
            }
        }
    });
    let ext = if fmt == Format::Har { "har" } else { "json" };
    Ok(download(
        format!("bin-{id}.{ext}"),
        Body::from_stream(stream),
    ))
}

mod import;
pub use import::import;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_single_quotes() {
        assert_eq!(shell_quote("a'b"), r"'a'\''b'");
    }

    #[test]
    fn urls_keep_the_capture_url_bare() {
        let r = NewRequest {
            bin_id: Uuid::nil(),
            received_at: 0,
            method: "GET".into(),
            path: "/".into(),
            query: String::new(),
            headers: Vec::new(),
            remote_addr: String::new(),
            body: Bytes::new(),
            signature: None,
            retry_key: None,
        };
        assert_eq!(request_url("http://h/b", &r), "http://h/b");
        assert_eq!(request_url("http://h", &r), "http://h/");
        let r = NewRequest {
            path: "/x".into(),
            query: "a=1".into(),
            ..r
        };
        assert_eq!(request_url("http://h/b", &r), "http://h/b/x?a=1");
    }
}
