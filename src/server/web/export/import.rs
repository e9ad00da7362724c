//! Import of exported documents (HAR 1.2, hookwire JSON) back into a bin:
//! parsed and validated whole before anything is stored.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::uri::PathAndQuery;
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use super::B64;
use crate::core::headers::Header;
use crate::core::model::NewRequest;
use crate::core::time::{Millis, now_millis, parse_rfc3339};
use crate::core::views::ErrorBody;
use crate::server::capture::{BodyError, read_limited};
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::web::bin_id;

/// What the imported requests' `remote_addr` says.
const IMPORTED_ADDR: &str = "imported";

/// Most requests one import may hold (a bin keeps 10,000 by default).
pub const MAX_IMPORT_REQUESTS: usize = 10_000;

/// Largest import document: any API body's limit.
use crate::server::web::api::openapi::body_limit as import_limit;

/// A request read from an import document, before it has a bin.
struct Imported {
    received_at: Option<Millis>,
    method: String,
    path: String,
    query: String,
    headers: Vec<Header>,
    body: Bytes,
}

fn bad(at: &str, what: impl std::fmt::Display) -> AppError {
    AppError::BadRequest(format!("{at}: {what}"))
}

fn str_field<'a>(v: &'a Value, at: &str, key: &str) -> Result<Option<&'a str>, AppError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(at, format!("{key} must be a string"))),
    }
}

fn time_field(v: &Value, at: &str, key: &str) -> Result<Option<Millis>, AppError> {
    str_field(v, at, key)?
        .map(|t| {
            parse_rfc3339(t).ok_or_else(|| {
                bad(
                    at,
                    format!("{key} {t:?} is not an RFC 3339 time like 2026-11-23T03:36:34.123Z"),
                )
            })
        })
        .transpose()
}

fn decode_base64(text: &str, at: &str, key: &str) -> Result<Bytes, AppError> {
    B64.decode(text.trim())
        .map(Bytes::from)
        .map_err(|e| bad(at, format!("{key} is not valid base64: {e}")))
}

/// A request object as `GET …/requests/{id}` returns it; only method is
/// required.
fn from_json(v: &Value, at: &str) -> Result<Imported, AppError> {
    if !v.is_object() {
        return Err(bad(
            at,
            "expected a request object with method, path, query, headers, body_base64",
        ));
    }
    let method = str_field(v, at, "method")?.ok_or_else(|| bad(at, "method is missing"))?;
    let headers = match v.get("headers") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .map(|h| match h {
                Value::Array(pair) => match pair.as_slice() {
                    [Value::String(n), Value::String(v)] => Ok((n.clone(), v.clone())),
                    _ => Err(()),
                },
                Value::Object(_) => match (h.get("name"), h.get("value")) {
                    (Some(Value::String(n)), Some(Value::String(v))) => Ok((n.clone(), v.clone())),
                    _ => Err(()),
                },
                _ => Err(()),
            })
            .collect::<Result<_, ()>>()
            .map_err(|()| bad(at, "headers must be a list of [\"name\", \"value\"] pairs"))?,
        Some(_) => {
            return Err(bad(
                at,
                "headers must be a list of [\"name\", \"value\"] pairs",
            ));
        }
    };
    let body = match (
        str_field(v, at, "body_base64")?,
        str_field(v, at, "body_text")?,
    ) {
        (Some(b64), _) => decode_base64(b64, at, "body_base64")?,
        (None, Some(text)) => Bytes::copy_from_slice(text.as_bytes()),
        (None, None) => Bytes::new(),
    };
    match v.get("body_size") {
        None | Some(Value::Null) => {}
        Some(n) => match n.as_u64() {
            Some(n) if n == body.len() as u64 => {}
            Some(n) => {
                return Err(bad(
                    at,
                    format!("body_size is {n} but the body holds {} bytes", body.len()),
                ));
            }
            None => return Err(bad(at, "body_size must be a whole number")),
        },
    }
    Ok(Imported {
        received_at: time_field(v, at, "received_at")?,
        method: method.to_owned(),
        path: str_field(v, at, "path")?.unwrap_or("/").to_owned(),
        query: str_field(v, at, "query")?.unwrap_or("").to_owned(),
        headers,
        body,
    })
}

/// Splits a URL into the sub-path after a bin id (the whole path when its
/// first segment is not a bin id) and the raw query.
fn split_url(url: &str) -> (String, String) {
    let url = url.split('#').next().unwrap_or("");
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            after.find(['/', '?']).map_or("", |j| &after[j..])
        }
        None => url,
    };
    let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
    let trimmed = path.strip_prefix('/').unwrap_or(path);
    let (first, sub) = match trimmed.find('/') {
        Some(i) => (&trimmed[..i], &trimmed[i..]),
        None => (trimmed, ""),
    };
    let path = if Uuid::parse_str(first).is_ok() {
        sub
    } else {
        path
    };
    let path = if path.is_empty() { "/" } else { path };
    (path.to_owned(), query.to_owned())
}

/// One HAR entry's request.
fn from_har(entry: &Value, at: &str) -> Result<Imported, AppError> {
    let req = entry
        .get("request")
        .filter(|r| r.is_object())
        .ok_or_else(|| bad(at, "request is missing"))?;
    let method = req
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(at, "request.method must be a string"))?;
    let url = req
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| bad(at, "request.url must be a string"))?;
    let (path, query) = split_url(url);
    let mut headers = Vec::new();
    match req.get("headers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for h in list {
                let (Some(name), Some(value)) = (
                    h.get("name").and_then(Value::as_str),
                    h.get("value").and_then(Value::as_str),
                ) else {
                    return Err(bad(
                        at,
                        "request.headers must be a list of {\"name\", \"value\"} objects",
                    ));
                };
                // HTTP/2 pseudo-headers (:authority, :path, …) are not headers.
                if !name.starts_with(':') {
                    headers.push((name.to_owned(), value.to_owned()));
                }
            }
        }
        Some(_) => {
            return Err(bad(
                at,
                "request.headers must be a list of {\"name\", \"value\"} objects",
            ));
        }
    }
    let body = match req.get("postData") {
        None | Some(Value::Null) => Bytes::new(),
        Some(pd) if pd.is_object() => {
            let encoding = str_field(pd, at, "encoding")?;
            match (pd.get("text").and_then(Value::as_str), encoding) {
                (Some(text), Some("base64")) => decode_base64(text, at, "request.postData.text")?,
                (Some(_), Some(other)) => {
                    return Err(bad(
                        at,
                        format!(
                            "request.postData.encoding {other:?} is not supported: use base64 or leave it out"
                        ),
                    ));
                }
                (Some(text), None) => Bytes::copy_from_slice(text.as_bytes()),
                // Form posts recorded as params only.
                (None, _) => {
                    let mut form = form_urlencoded::Serializer::new(String::new());
                    for p in pd
                        .get("params")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                    {
                        if let Some(name) = p.get("name").and_then(Value::as_str) {
                            form.append_pair(
                                name,
                                p.get("value").and_then(Value::as_str).unwrap_or(""),
                            );
                        }
                    }
                    Bytes::from(form.finish())
                }
            }
        }
        Some(_) => return Err(bad(at, "request.postData must be an object")),
    };
    Ok(Imported {
        received_at: time_field(entry, at, "startedDateTime")?,
        method: method.to_owned(),
        path,
        query,
        headers,
        body,
    })
}

/// Checks what the tunnel and the exports will need of a request: a valid
/// method, request target and headers (names lower-cased, as captured).
fn validate(mut r: Imported, at: &str, max_body: usize) -> Result<Imported, AppError> {
    Method::from_bytes(r.method.as_bytes())
        .map_err(|_| bad(at, format!("method {:?} is not an HTTP method", r.method)))?;
    if !r.path.starts_with('/') {
        return Err(bad(at, format!("path {:?} must start with /", r.path)));
    }
    let target = crate::core::urls::target(&r.path, &r.query);
    PathAndQuery::try_from(target.as_str())
        .map_err(|_| bad(at, format!("{target:?} is not a valid path and query")))?;
    for (name, value) in &mut r.headers {
        let parsed = HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| bad(at, format!("{name:?} is not a valid header name")))?;
        *name = parsed.as_str().to_owned();
        HeaderValue::from_str(value).map_err(|_| {
            bad(
                at,
                format!("the value of header {name:?} is not a valid header value"),
            )
        })?;
    }
    if r.body.len() > max_body {
        return Err(bad(
            at,
            format!(
                "the body of {} bytes is over the server's limit of {max_body} bytes (--max-body-bytes)",
                r.body.len()
            ),
        ));
    }
    Ok(r)
}

/// Reads an import document into requests, or says what is wrong with it.
fn parse_document(doc: &Value, max_body: usize) -> Result<Vec<Imported>, AppError> {
    const SHAPE: &str = "expected a HAR document ({\"log\":{\"entries\":[…]}}), a JSON array of request objects, {\"requests\":[…]} or one request object";
    let (list, har, name): (&[Value], bool, &str) = if let Some(log) = doc.get("log") {
        let entries = log
            .get("entries")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                AppError::BadRequest("a HAR document needs log.entries, a list".into())
            })?;
        (entries, true, "log.entries")
    } else if let Value::Array(list) = doc {
        (list, false, "")
    } else if let Some(requests) = doc.get("requests") {
        let list = requests.as_array().ok_or_else(|| {
            AppError::BadRequest("requests must be a list of request objects".into())
        })?;
        (list, false, "requests")
    } else if doc.get("method").is_some() {
        (std::slice::from_ref(doc), false, "request")
    } else {
        return Err(AppError::BadRequest(SHAPE.into()));
    };
    if list.len() > MAX_IMPORT_REQUESTS {
        return Err(AppError::BadRequest(format!(
            "the document holds {} requests; import at most {MAX_IMPORT_REQUESTS} at a time",
            list.len()
        )));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let at = if name == "request" {
                name.to_owned()
            } else {
                format!("{name}[{i}]")
            };
            let r = if har {
                from_har(v, &at)?
            } else {
                from_json(v, &at)?
            };
            validate(r, &at, max_body)
        })
        .collect()
}

fn too_large(limit: usize) -> Response {
    (
        StatusCode::PAYLOAD_TOO_LARGE,
        Json(ErrorBody {
            error: format!(
                "the import document is over {limit} bytes; split it into several imports"
            ),
        }),
    )
        .into_response()
}

/// What an import answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportAnswer {
    /// How many requests were stored.
    imported: usize,
    /// Their new ids, in document order.
    ids: Vec<i64>,
}

/// Store each request of a HAR 1.2 document, a JSON array of request
/// objects, `{"requests":[…]}` or one request object as a new capture of
/// the bin, in order; the whole document is checked before anything is
/// stored. Connected tunnels relay them like any capture.
#[utoipa::path(
    post, path = "/api/bins/{bin_id}/import", tag = "export",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    request_body(content = Object, description = "A HAR document or hookwire JSON export (the ImportDocument schema)", content_type = "application/json"),
    responses(
        (status = 200, description = "Stored", body = ImportAnswer),
        (status = 400, description = "Not such a document: the message says where and what", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
        (status = 408, description = "The document did not arrive in time", body = ErrorBody),
        (status = 413, description = "The document is too large: split it", body = ErrorBody),
        (status = 507, description = "The server's storage quota is used up", body = ErrorBody),
    )
)]
pub(super) async fn import(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Body,
) -> Result<Response, AppError> {
    let id = bin_id(&id)?;
    let bin = state.bins.cached(id).await?;
    let limit = import_limit(state.config.max_body_bytes);
    let deadline = state.config.body_deadline;
    let bytes = match read_limited(body, limit, deadline).await {
        Ok(bytes) => bytes,
        Err(BodyError::TooLarge) => return Ok(too_large(limit)),
        Err(BodyError::TimedOut) => return Err(AppError::BodyTimeout(deadline.as_secs())),
        Err(BodyError::Broken(e)) => {
            return Err(AppError::BadRequest(format!(
                "the document could not be read ({e}); send it again"
            )));
        }
    };
    let max_body = state.config.max_body_bytes;
    // Parsing and signature checks of up to 10,000 bodies: off the runtime.
    let config = state.config.clone();
    let secrets = bin.secrets.clone();
    // The bin's compiled schemas, shared with captures.
    let schemas = bin.clone();
    let requests = tokio::task::spawn_blocking(move || {
        let doc: Value = serde_json::from_slice(&bytes).map_err(|e| {
            AppError::BadRequest(format!(
                "the body is not JSON ({e}); send a HAR document or a hookwire JSON export"
            ))
        })?;
        let now = now_millis();
        let requests = parse_document(&doc, max_body)?
            .into_iter()
            .map(|r| {
                let mut new = NewRequest {
                    bin_id: id,
                    // Never in the future: the retention purge walks ids oldest first
                    // and stops at the first recent request.
                    received_at: r.received_at.map_or(now, |t| t.min(now)),
                    method: r.method,
                    path: r.path,
                    query: r.query,
                    headers: r.headers,
                    remote_addr: IMPORTED_ADDR.to_owned(),
                    body: r.body,
                    signature: None,
                    schema: None,
                    retry_key: None,
                    // Imported requests were answered elsewhere: no rule,
                    // and no answer of this server's to record (an export's
                    // `response` is not carried over).
                    rule: None,
                    answer: None,
                };
                let host = new.header("host").map(str::to_owned);
                new.derive(&secrets, || config.public_base(host.as_deref()));
                new.schema = new.verdict(&schemas.schemas);
                new
            })
            .collect::<Vec<_>>();
        Ok::<_, AppError>(requests)
    })
    .await
    .map_err(AppError::join)??;

    if let Some(quota) = &state.quota {
        let total: u64 = requests.iter().map(|r| r.body.len() as u64).sum();
        quota
            .reserve(total)
            .map_err(AppError::InsufficientStorage)?;
    }
    let mut ids = Vec::with_capacity(requests.len());
    for new in requests {
        let rid = state
            .store
            .capture(new, |_| {})
            .await?
            .ok_or_else(AppError::no_bin)?;
        ids.push(rid);
    }
    if !ids.is_empty() {
        // Connected tunnels relay imported requests like any capture.
        state.hub.notify(id);
    }
    Ok(Json(ImportAnswer {
        imported: ids.len(),
        ids,
    })
    .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_after_a_bin_id() {
        let bin = "2f0b8f6e-8c4f-4d51-9d1c-7f2b1d2c3a4b";
        assert_eq!(
            split_url(&format!("http://h:1/{bin}/a/b?x=1&y#f")),
            ("/a/b".into(), "x=1&y".into())
        );
        assert_eq!(
            split_url(&format!("http://h/{bin}")),
            ("/".into(), "".into())
        );
        assert_eq!(
            split_url("https://api.example.com/v1/x?q"),
            ("/v1/x".into(), "q".into())
        );
        assert_eq!(split_url("http://h?q=1"), ("/".into(), "q=1".into()));
    }
}
