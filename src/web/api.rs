//! The JSON API of SPEC §2: bins, their response, their requests.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

use super::inspector::bin_id;
use crate::error::AppError;
use crate::model::{Bin, ResponseConfig, rfc3339};
use crate::state::AppState;
use crate::store::{Cursor, ListQuery};
use crate::verify::Secrets;

/// Largest page `GET …/requests` returns.
const MAX_LIMIT: usize = 1000;
/// Page size when `limit` is not given.
const DEFAULT_LIMIT: usize = 50;

/// The API routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/bins", post(create_bin))
        .route("/api/bins/{bin_id}", get(get_bin).delete(delete_bin))
        .route("/api/bins/{bin_id}/response", put(set_response))
        .route("/api/bins/{bin_id}/secrets", put(set_secrets))
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
        .route("/api/bins/{bin_id}/tunnel", get(crate::tunnel::upgrade))
        .route(
            "/api/bins/{bin_id}/requests/{id}/export",
            get(super::export::export_request),
        )
        .route("/api/bins/{bin_id}/export", get(super::export::export_bin))
        .route("/api/bins/{bin_id}/import", post(super::export::import))
}

/// How long a replay waits for the tunnels' answers before it answers 202.
const REPLAY_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// Sends a stored request to the bin's connected tunnels again; waits
/// (bounded) for their answers.
pub async fn replay_request(
    state: &AppState,
    id: Uuid,
    rid: i64,
    edits: Option<crate::model::Edits>,
) -> Result<(StatusCode, serde_json::Value), AppError> {
    let stored = state.store.request(id, rid).await?.ok_or_else(no_request)?;
    let edits = edits.filter(|e| !e.is_empty());
    if let Some(e) = &edits {
        // Checked here so the caller hears what is wrong.
        e.apply(&mut stored.req.clone())
            .map_err(AppError::BadRequest)?;
    }
    let asked = state.hub.replay(id, rid, edits.map(std::sync::Arc::new));
    if asked.is_empty() {
        return Err(AppError::Conflict(
            "no tunnel is connected to this bin: start `hookwire tunnel <capture-url> --to http://localhost:3000` and try again"
                .into(),
        ));
    }
    let names: Vec<String> = asked.iter().map(|(n, _)| n.clone()).collect();
    let wait_all = futures_util::future::join_all(
        asked
            .into_iter()
            .map(|(name, rx)| async move { rx.await.ok().map(|r| (name, r)) }),
    );
    match tokio::time::timeout(REPLAY_WAIT, wait_all).await {
        Ok(answers) => {
            let deliveries: Vec<_> = answers
                .into_iter()
                .flatten()
                .map(|(tunnel, r)| {
                    crate::model::Delivery {
                        tunnel,
                        replay: true,
                        status: r.status,
                        headers: r.headers,
                        body: r.body,
                        latency_ms: r.latency_ms,
                        delivered_at: crate::model::now_millis(),
                        error: r.error,
                    }
                    .to_json()
                })
                .collect();
            Ok((
                StatusCode::OK,
                json!({ "replayed_to": names, "deliveries": deliveries }),
            ))
        }
        Err(_) => Ok((
            StatusCode::ACCEPTED,
            json!({ "replayed_to": names, "deliveries": [], "pending": true }),
        )),
    }
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
        Some(serde_json::from_slice::<crate::model::Edits>(&body).map_err(|e| {
            AppError::BadRequest(format!(
                "{e}; send nothing, or edits as {{\"method\",\"path\",\"query\",\"headers\":[[n,v]],\"body\" or \"body_base64\"}}"
            ))
        })?)
    };
    let (status, body) = replay_request(&state, id, rid, edits).await?;
    Ok((status, Json(body)).into_response())
}

fn bin_json(state: &AppState, headers: &HeaderMap, bin: &Bin) -> serde_json::Value {
    let base = state.base_url(headers);
    json!({
        "id": bin.id.to_string(),
        "capture_url": format!("{base}/{}", bin.id),
        "inspect_url": format!("{base}/bins/{}", bin.id),
        "created_at": rfc3339(bin.created_at),
        "response": bin.response,
        "secrets": bin.secrets.masked(),
    })
}

async fn create_bin(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<impl IntoResponse, AppError> {
    let bin = state.mint_bin().await?;
    Ok((StatusCode::CREATED, Json(bin_json(&state, &headers, &bin))))
}

async fn get_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = bin_id(&id)?;
    let bin = state.store.bin(id).await?.ok_or_else(AppError::no_bin)?;
    let mut body = bin_json(&state, &headers, &bin);
    body["request_count"] = state.store.count(id).await?.into();
    body["tunnels"] = state.hub.connected(id).into();
    Ok(Json(body))
}

/// Deletes a bin and forgets its cached response.
pub async fn remove_bin(state: &AppState, id: Uuid) -> Result<(), AppError> {
    let found = state.store.delete_bin(id).await?;
    state.bins.remove(id);
    if found {
        Ok(())
    } else {
        Err(AppError::no_bin())
    }
}

async fn delete_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    remove_bin(&state, bin_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Validates and stores a bin's response, then updates the cache that
/// captures read.
pub async fn apply_response(
    state: &AppState,
    id: Uuid,
    resp: ResponseConfig,
) -> Result<(), AppError> {
    resp.validate().map_err(AppError::BadRequest)?;
    let found = state.store.set_response(id, resp).await?;
    state.bins.remove(id);
    if !found {
        return Err(AppError::no_bin());
    }
    Ok(())
}

async fn set_response(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<ResponseConfig>, JsonRejection>,
) -> Result<Json<ResponseConfig>, AppError> {
    let id = bin_id(&id)?;
    let Json(resp) = body.map_err(|e| {
        AppError::BadRequest(format!(
            "{}; expected {{\"status\":200,\"headers\":[[\"name\",\"value\"]],\"body\":\"…\",\"delay_ms\":0}}",
            e.body_text()
        ))
    })?;
    apply_response(&state, id, resp.clone()).await?;
    Ok(Json(resp))
}

/// Replaces a bin's secrets and re-checks its stored requests with them;
/// returns how many were re-checked.
pub async fn apply_secrets(
    state: &AppState,
    id: Uuid,
    secrets: Secrets,
) -> Result<usize, AppError> {
    secrets.validate().map_err(AppError::BadRequest)?;
    let found = state.store.set_secrets(id, secrets.clone()).await?;
    state.bins.remove(id);
    if !found {
        return Err(AppError::no_bin());
    }
    let secrets = std::sync::Arc::new(secrets);
    let mut rechecked = 0;
    let mut cursor = Cursor::After(0);
    loop {
        let page = state
            .store
            .list_requests(ListQuery {
                bin: id,
                limit: RECHECK_PAGE,
                cursor,
                search: None,
                with_bodies: true,
                method: None,
            })
            .await?;
        let Some(last) = page.requests.last().map(|r| r.id) else {
            break;
        };
        let (state2, secrets) = (state.clone(), secrets.clone());
        // HMACs over large bodies: off the async runtime.
        let checked = tokio::task::spawn_blocking(move || {
            page.requests
                .iter()
                .map(|r| {
                    let base = state2.public_base(r.header("host"));
                    (
                        r.id,
                        crate::capture::verify_request(&secrets, &r.req, &base),
                    )
                })
                .collect::<Vec<_>>()
        })
        .await
        .map_err(|_| AppError::Store(crate::store::StoreError::Closed))?;
        rechecked += checked.len();
        state.store.set_signatures(checked).await?;
        if page.next.is_none() {
            break;
        }
        cursor = Cursor::After(last);
    }
    Ok(rechecked)
}

/// Requests re-checked per read when secrets change.
const RECHECK_PAGE: usize = 500;

async fn set_secrets(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Secrets>, JsonRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = bin_id(&id)?;
    let Json(secrets) = body.map_err(|e| {
        AppError::BadRequest(format!(
            "{}; expected any of {{\"standard-webhooks\",\"stripe\",\"github\",\"slack\",\"shopify\",\"twilio\": \"secret\", \"header\": {{\"name\",\"value\"}}}}",
            e.body_text()
        ))
    })?;
    let masked = secrets.masked();
    let rechecked = apply_secrets(&state, id, secrets).await?;
    Ok(Json(json!({ "secrets": masked, "rechecked": rechecked })))
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
    state.cached_bin(id).await?;
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
    state.cached_bin(id).await?;
    let deleted = state.store.delete_requests(id, None).await?;
    Ok(Json(json!({ "deleted": deleted })))
}

fn no_request() -> AppError {
    AppError::NotFound("no such request in this bin: it may have been deleted or purged".into())
}

async fn get_request(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (id, rid) = (bin_id(&id)?, request_id(&rid)?);
    let r = state.store.request(id, rid).await?.ok_or_else(no_request)?;
    Ok(Json(r.to_json()).into_response())
}

fn request_id(text: &str) -> Result<i64, AppError> {
    text.parse().map_err(|_| no_request())
}

async fn delete_request(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<StatusCode, AppError> {
    let (id, rid) = (bin_id(&id)?, request_id(&rid)?);
    match state.store.delete_requests(id, Some(rid)).await? {
        0 => Err(no_request()),
        _ => Ok(StatusCode::NO_CONTENT),
    }
}

/// The exact body bytes as a download that can never render in our origin.
async fn get_body(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let (id, rid) = (bin_id(&id)?, request_id(&rid)?);
    let r = state.store.request(id, rid).await?.ok_or_else(no_request)?;
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
