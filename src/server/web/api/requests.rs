//! `/api/bins/{bin_id}/requests[/{id}]`: list, search, read, delete and
//! replay a bin's captured requests, and download a body as it arrived.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::model::Edits;
use crate::core::views::ErrorBody;
use crate::core::views::{DeliveryJson, RequestJson, RequestPage};
use crate::server::error::AppError;
use crate::server::replay::{Replayed, replay as replay_request};
use crate::server::state::AppState;
use crate::server::store::{Cursor, ListQuery};
use crate::server::web::{bin_id, request_id};

/// Largest page `GET …/requests` returns.
const MAX_LIMIT: usize = 1000;
/// Page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;

/// The routes, with their descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_requests, clear_requests))
        .routes(routes!(get_request, delete_request))
        .routes(routes!(get_body))
        .routes(routes!(replay))
}

/// What a replay answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct ReplayAnswer<'a> {
    /// The tunnels the request was sent to.
    replayed_to: Vec<String>,
    /// Their apps' answers (those that came within 10 s).
    deliveries: Vec<DeliveryJson<'a>>,
    /// True when not every answer came within 10 s; they are recorded as
    /// deliveries when they do.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pending: bool,
}

/// Send a stored request to the bin's connected tunnels again, optionally
/// edited first (the stored request never changes); waits up to 10 s for
/// the apps' answers.
#[utoipa::path(
    post, path = "/api/bins/{bin_id}/requests/{id}/replay", tag = "requests",
    params(
        ("bin_id" = String, Path, description = "The bin id (UUID)"),
        ("id" = i64, Path, description = "The request id", minimum = 1),
        ReplayParams,
    ),
    request_body(content = Option<Edits>, description = "Nothing to replay as captured, or the fields to change"),
    responses(
        (status = 200, description = "Sent; the apps' answers", body = ReplayAnswer),
        (status = 202, description = "Sent; not every answer came within 10 s", body = ReplayAnswer),
        (status = 400, description = "The edits are not valid", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin or request", body = ErrorBody),
        (status = 409, description = "No tunnel (or not the one named) is connected to the bin", body = ErrorBody),
    )
)]
async fn replay(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
    params: Result<Query<ReplayParams>, QueryRejection>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let (id, rid) = (bin_id(&id)?, request_id(&rid)?);
    let Query(ReplayParams { tunnel }) =
        params.map_err(|e| AppError::BadRequest(format!("{}; use ?tunnel=NAME", e.body_text())))?;
    let edits = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        // `null` is nothing to change, as the document allows.
        serde_json::from_slice::<Option<Edits>>(&body).map_err(|e| {
            AppError::BadRequest(format!(
                "{e}; send nothing, or edits as {{\"method\",\"path\",\"query\",\"headers\":[[n,v]],\"body\" or \"body_base64\"}}"
            ))
        })?
    };
    let Replayed {
        tunnels,
        deliveries,
        complete,
    } = replay_request(&state, id, rid, edits, tunnel.as_deref()).await?;
    let (status, pending) = if complete {
        (StatusCode::OK, false)
    } else {
        (StatusCode::ACCEPTED, true)
    };
    let answer = ReplayAnswer {
        replayed_to: tunnels,
        deliveries: deliveries.iter().map(|d| d.to_json()).collect(),
        pending,
    };
    Ok((status, Json(answer)).into_response())
}

/// Query of `POST …/replay`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ReplayParams {
    /// Only this tunnel (its `--name`) gets the replay, e.g. the one
    /// whose live view asked for it; absent, every connected tunnel.
    tunnel: Option<String>,
}

/// Query of `GET …/requests`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ListParams {
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// Requests older than this id (newest first); not with `after`.
    before: Option<i64>,
    /// Requests newer than this id, oldest first (for tailing); not with
    /// `before`.
    after: Option<i64>,
    /// Text search: a case-insensitive substring of the path, query,
    /// headers or body.
    q: Option<String>,
    /// Only this method.
    method: Option<String>,
    /// Only requests whose payload schema verdict is `valid` or `invalid`
    /// (requests no schema applied to are in neither): use schema=valid or
    /// schema=invalid.
    #[param(pattern = "^(valid|invalid)$")]
    schema: Option<String>,
}

/// A bin's requests, newest first (`?after=` oldest first), with search.
#[utoipa::path(
    get, path = "/api/bins/{bin_id}/requests", tag = "requests",
    params(("bin_id" = String, Path, description = "The bin id (UUID)"), ListParams),
    responses(
        (status = 200, description = "A page of requests", body = RequestPage),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn list_requests(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Response, AppError> {
    let id = bin_id(&id)?;
    let Query(p) = params.map_err(|e| {
        AppError::BadRequest(format!(
            "{}; use ?limit=1..1000&before=ID or &after=ID&q=TEXT",
            e.body_text()
        ))
    })?;
    let cursor = match (p.before, p.after) {
        (Some(_), Some(_)) => {
            return Err(AppError::BadRequest(
                "give either before or after, not both".into(),
            ));
        }
        (Some(b), None) => Cursor::Before(b),
        (None, Some(a)) => Cursor::After(a),
        (None, None) => Cursor::Newest,
    };
    let schema = match p.schema.as_deref() {
        None | Some("") => None,
        Some("valid") => Some(true),
        Some("invalid") => Some(false),
        Some(other) => {
            return Err(AppError::BadRequest(format!(
                "schema={other:?}: use schema=valid or schema=invalid"
            )));
        }
    };
    // Existence check first: an unknown bin is a 404, not an empty list.
    state.bins.cached(id).await?;
    let page = state
        .store
        .list_requests(ListQuery {
            bin: id,
            limit: p.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT),
            cursor,
            search: p.q.filter(|q| !q.is_empty()),
            with_bodies: true,
            method: p
                .method
                .filter(|m| !m.is_empty())
                .map(|m| m.to_ascii_uppercase()),
            schema,
        })
        .await?;
    let requests = page.requests.iter().map(|r| r.to_json()).collect();
    Ok(Json(RequestPage {
        requests,
        next: page.next,
    })
    .into_response())
}

/// What clearing a bin answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct Cleared {
    /// How many requests were deleted.
    deleted: usize,
}

/// Delete every request of a bin (the bin stays).
#[utoipa::path(
    delete, path = "/api/bins/{bin_id}/requests", tag = "requests",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    responses(
        (status = 200, description = "Cleared", body = Cleared),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn clear_requests(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<Cleared>, AppError> {
    let id = bin_id(&id)?;
    state.bins.cached(id).await?;
    let deleted = state.bins.delete_requests(id, None).await?;
    Ok(Json(Cleared { deleted }))
}

/// One request: the request object with its deliveries.
#[utoipa::path(
    get, path = "/api/bins/{bin_id}/requests/{id}", tag = "requests",
    params(
        ("bin_id" = String, Path, description = "The bin id (UUID)"),
        ("id" = i64, Path, description = "The request id", minimum = 1),
    ),
    responses(
        (status = 200, description = "The request", body = RequestJson),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 404, description = "No such bin or request", body = ErrorBody),
    )
)]
async fn get_request(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (id, rid) = (bin_id(&id)?, request_id(&rid)?);
    let r = state
        .store
        .request(id, rid)
        .await?
        .ok_or_else(AppError::no_request)?;
    Ok(Json(r.to_json()).into_response())
}

/// Delete one request.
#[utoipa::path(
    delete, path = "/api/bins/{bin_id}/requests/{id}", tag = "requests",
    params(
        ("bin_id" = String, Path, description = "The bin id (UUID)"),
        ("id" = i64, Path, description = "The request id", minimum = 1),
    ),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin or request", body = ErrorBody),
    )
)]
async fn delete_request(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let (id, rid) = (bin_id(&id)?, request_id(&rid)?);
    match state.bins.delete_requests(id, Some(rid)).await? {
        0 => Err(AppError::no_request()),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// The exact body bytes, as a download that can never render in the
/// inspector's origin (`Content-Disposition: attachment`, `nosniff`,
/// `Content-Security-Policy: sandbox`).
#[utoipa::path(
    get, path = "/api/bins/{bin_id}/requests/{id}/body", tag = "requests",
    params(
        ("bin_id" = String, Path, description = "The bin id (UUID)"),
        ("id" = i64, Path, description = "The request id", minimum = 1),
    ),
    responses(
        (status = 200, description = "The body, byte for byte", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 404, description = "No such bin or request", body = ErrorBody),
    )
)]
async fn get_body(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (id, rid) = (bin_id(&id)?, request_id(&rid)?);
    let r = state
        .store
        .request(id, rid)
        .await?
        .ok_or_else(AppError::no_request)?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"request-{rid}.bin\""),
            ),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_owned()),
            (header::CONTENT_SECURITY_POLICY, "sandbox".to_owned()),
        ],
        r.req.body,
    )
        .into_response())
}
