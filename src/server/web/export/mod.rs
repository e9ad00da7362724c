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
//! The formats: [`curl`], [`har`], and the API's own JSON; [`import`] reads
//! HAR and JSON back.

use axum::body::{Body, Bytes};
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use uuid::Uuid;

mod curl;
mod har;
mod import;

pub use import::MAX_IMPORT_REQUESTS;

use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::time::{now_millis, rfc3339};
use crate::core::views::ErrorBody;
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::store::{Cursor, ListQuery};
use crate::server::web::{bin_id, request_id};
use curl::curl_command;
use har::{creator, har_entry, har_log};

/// The export and import routes.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_request))
        .routes(routes!(export_bin))
        .routes(routes!(import::import))
}

/// Requests read from the store per page of a whole-bin export.
const EXPORT_PAGE: usize = 32;

/// Bodies in exports and imports: standard base64 with padding.
const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// The export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Curl,
    Har,
    Json,
}

/// An `http://` or `https://` URL: a host name or IPv4 address, a port,
/// a path and a query of the characters a URI takes (`%` only as an
/// escape). Narrower than what the export would read, so that every URL
/// it allows is one the export takes.
#[cfg(test)]
const HTTP_URL: &str = "^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?](?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$";

/// Query of the export of one request.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ExportParams {
    /// `curl`, `har` or `json` (default `json`).
    #[param(pattern = "^(curl|har|json)$")]
    format: Option<String>,
    /// Base URL that replaces the capture URL in curl commands and HAR
    /// urls, e.g. `http://localhost:3000/hooks` (the sub-path is appended).
    // HTTP_URL, written out: utoipa takes a literal here.
    #[param(
        pattern = "^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?](?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$"
    )]
    to: Option<String>,
}

/// Query of the export of a whole bin: no curl.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BinExportParams {
    /// `har` or `json` (default `json`); curl exports one request only.
    #[param(pattern = "^(har|json)$")]
    format: Option<String>,
    /// Base URL that replaces the capture URL in HAR urls, e.g.
    /// `http://localhost:3000/hooks` (the sub-path is appended).
    // HTTP_URL, written out: utoipa takes a literal here.
    #[param(
        pattern = "^https?://[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:[/?](?:[A-Za-z0-9._~!$&'()*+,;=:@/?-]|%[0-9A-Fa-f]{2})*)?$"
    )]
    to: Option<String>,
}

impl From<BinExportParams> for ExportParams {
    fn from(p: BinExportParams) -> Self {
        Self {
            format: p.format,
            to: p.to,
        }
    }
}

fn params<P: Into<ExportParams>>(
    p: Result<Query<P>, QueryRejection>,
) -> Result<ExportParams, AppError> {
    let Query(p) = p.map_err(|e| {
        AppError::BadRequest(format!(
            "{}; use ?format=curl|har|json and optionally &to=http://host/path",
            e.body_text()
        ))
    })?;
    let p: ExportParams = p.into();
    if let Some(to) = &p.to {
        let ok = crate::core::urls::is_http(to) && to.parse::<axum::http::Uri>().is_ok();
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

/// Where exported requests point: `to`, else the bin's capture URL as this
/// client reaches the server.
fn target(state: &AppState, headers: &HeaderMap, bin: Uuid, p: &ExportParams) -> String {
    match &p.to {
        Some(to) => to.trim_end_matches('/').to_owned(),
        None => format!("{}/{bin}", state.base_url(headers)),
    }
}

/// One request as a curl command, a HAR 1.2 document or the request object.
#[utoipa::path(
    get, path = "/api/bins/{bin_id}/requests/{id}/export", tag = "export",
    params(
        ("bin_id" = String, Path, description = "The bin id (UUID)"),
        ("id" = i64, Path, description = "The request id", minimum = 1),
        ExportParams,
    ),
    responses(
        (status = 200, description = "format=curl: a shell command (text/plain); format=har: a HAR 1.2 document; format=json: the request object", content(
            (String = "text/plain"),
            (Object = "application/json"),
        )),
        (status = 400, description = "An unknown format, or `to` is not an http(s) URL", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 404, description = "No such bin or request", body = ErrorBody),
    )
)]
async fn export_request(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
    headers: HeaderMap,
    query: Result<Query<ExportParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let p = params(query)?;
    let fmt = format(&p, true)?;
    let id = bin_id(&id)?;
    let rid = request_id(&rid)?;
    let r = state
        .store
        .request(id, rid)
        .await?
        .ok_or_else(AppError::no_request)?;
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
            curl_command(
                &r,
                &crate::core::urls::join(&target, &r.req.path, &r.req.query),
            ),
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
                schema: None,
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

/// Every request of the bin, oldest first, as a HAR 1.2 document or
/// `{"bin_id","exported_at","requests":[…]}`; streamed a page at a time.
#[utoipa::path(
    get, path = "/api/bins/{bin_id}/export", tag = "export",
    params(("bin_id" = String, Path, description = "The bin id (UUID)"), BinExportParams),
    responses(
        (status = 200, description = "The whole bin (format=har or json; curl exports one request only)", body = Object, content_type = "application/json"),
        (status = 400, description = "An unknown format, or `to` is not an http(s) URL", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn export_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    query: Result<Query<BinExportParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let p = params(query)?;
    let fmt = format(&p, false)?;
    let id = bin_id(&id)?;
    state.bins.cached(id).await?;
    let newest = state
        .store
        .list_requests(ListQuery {
            bin: id,
            limit: 1,
            cursor: Cursor::Newest,
            search: None,
            with_bodies: false,
            method: None,
            schema: None,
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

#[cfg(test)]
mod tests {
    //! The `to` parameter: what the document allows, the export takes.

    use super::*;
    use proptest::prelude::*;

    fn documented(url: &str) -> bool {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&serde_json::json!({ "pattern": HTTP_URL }))
            .expect("pattern")
            .is_valid(&serde_json::json!(url))
    }

    fn taken(url: &str) -> bool {
        params::<ExportParams>(Ok(Query(ExportParams {
            format: None,
            to: Some(url.to_owned()),
        })))
        .is_ok()
    }

    #[test]
    fn both_routes_document_the_same_url_pattern() {
        let patterns: Vec<String> = [
            ExportParams::into_params(|| None),
            BinExportParams::into_params(|| None),
        ]
        .iter()
        .flatten()
        .filter(|p| p.name == "to")
        .map(|p| serde_json::to_value(&p.schema).expect("json")["pattern"].to_string())
        .collect();
        assert_eq!(patterns, vec![serde_json::json!(HTTP_URL).to_string(); 2]);
    }

    #[test]
    fn documented_urls_are_taken() {
        for url in [
            "http://localhost:3000/hooks",
            "https://api.example.com",
            "http://127.0.0.1:65535/a?b=c%20d",
        ] {
            assert!(documented(url) && taken(url), "{url}");
        }
        for url in [
            "",
            "localhost:3000",
            "HTTP://x",
            "http://",
            "http://a:65536",
            "http://a/ b",
        ] {
            assert!(!documented(url), "{url}");
        }
    }

    proptest! {
        #[test]
        fn every_documented_url_is_taken(url in "https?://[a-z0-9.:-]{0,12}[/?]?[ -~]{0,12}") {
            prop_assert!(!documented(&url) || taken(&url), "{} is documented but refused", url);
        }
    }
}
