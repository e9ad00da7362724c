//! `/api/bins/{bin_id}/requests[/{id}]`: list, search, read, delete and
//! replay a bin's captured requests, and download a body as it arrived.

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::error::AppError;
use crate::model::Edits;
use crate::replay::{Replayed, replay as replay_request};
use crate::state::AppState;
use crate::store::{Cursor, ListQuery};
use crate::web::{bin_id, request_id};

/// Largest page `GET …/requests` returns.
const MAX_LIMIT: usize = 1000;
/// Page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/api/bins/{bin_id}/requests",
            get(list_requests).delete(clear_requests),
        )
        .route(
            "/api/bins/{bin_id}/requests/{id}",
            get(get_request).delete(delete_request),
        )
        .route("/api/bins/{bin_id}/requests/{id}/body", get(get_body))
        .route("/api/bins/{bin_id}/requests/{id}/replay", post(replay))
}

/// `POST …/replay`, optionally with a JSON body of edits (method, path,
/// query, headers, body or body_base64).
async fn replay(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<Response, AppError> {
    let (id, rid) = (bin_id(&id)?, request_id(&rid)?);
    let edits = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        Some(serde_json::from_slice::<Edits>(&body).map_err(|e| {
            AppError::BadRequest(format!(
                "{e}; send nothing, or edits as {{\"method\",\"path\",\"query\",\"headers\":[[n,v]],\"body\" or \"body_base64\"}}"
            ))
        })?)
    };
    let Replayed {
        tunnels,
        deliveries,
    } = replay_request(&state, id, rid, edits).await?;
    Ok(match deliveries {
        Some(deliveries) => {
            let deliveries: Vec<_> = deliveries.iter().map(|d| d.to_json()).collect();
            (
                StatusCode::OK,
                Json(json!({ "replayed_to": tunnels, "deliveries": deliveries })),
            )
        }
        None => (
            StatusCode::ACCEPTED,
            Json(json!({ "replayed_to": tunnels, "deliveries": [], "pending": true })),
        ),
    }
    .into_response())
}

/// Query of `GET …/requests`.
#[derive(Debug, Deserialize)]
struct ListParams {
    limit: Option<usize>,
    before: Option<i64>,
    after: Option<i64>,
    q: Option<String>,
    method: Option<String>,
}

async fn list_requests(
    State(state): State<AppState>,
    Path(id): Path<String>,
    params: Result<Query<ListParams>, QueryRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
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
        })
        .await?;
    let requests: Vec<_> = page.requests.iter().map(|r| r.to_json()).collect();
    Ok(Json(json!({ "requests": requests, "next": page.next })))
}

async fn clear_requests(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = bin_id(&id)?;
    state.bins.cached(id).await?;
    let deleted = state.store.delete_requests(id, None).await?;
    Ok(Json(json!({ "deleted": deleted })))
}

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

async fn delete_request(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let (id, rid) = (bin_id(&id)?, request_id(&rid)?);
    match state.store.delete_requests(id, Some(rid)).await? {
        0 => Err(AppError::no_request()),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// The exact body bytes as a download that can never render in our origin.
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
