//! `/api/bins[/{bin_id}]`: mint, read and delete a bin; set its response
//! and its verification secrets.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde_json::json;

use crate::error::AppError;
use crate::model::{Bin, ResponseConfig};
use crate::state::AppState;
use crate::time::rfc3339;
use crate::verify::{SCHEMES, STATIC_HEADER, Secrets};
use crate::web::bin_id;

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/bins", post(create_bin))
        .route("/api/bins/{bin_id}", get(get_bin).delete(delete_bin))
        .route("/api/bins/{bin_id}/response", put(set_response))
        .route("/api/bins/{bin_id}/secrets", put(set_secrets))
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
    let bin = state.bins.mint().await?;
    Ok((StatusCode::CREATED, Json(bin_json(&state, &headers, &bin))))
}

async fn get_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = bin_id(&id)?;
    let bin = state.bins.get(id).await?;
    let mut body = bin_json(&state, &headers, &bin);
    body["request_count"] = state.store.count(id).await?.into();
    body["tunnels"] = state.hub.connected(id).into();
    Ok(Json(body))
}

async fn delete_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.bins.delete(bin_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
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
    state.bins.set_response(id, resp.clone()).await?;
    Ok(Json(resp))
}

/// What `PUT …/secrets` takes, for its error message: every scheme.
fn secrets_shape() -> String {
    let keyed: Vec<String> = SCHEMES.iter().map(|s| format!("\"{}\"", s.name)).collect();
    format!(
        "expected any of {{{}: \"secret\", \"{STATIC_HEADER}\": {{\"name\",\"value\"}}}}",
        keyed.join(",")
    )
}

async fn set_secrets(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Secrets>, JsonRejection>,
) -> Result<Json<serde_json::Value>, AppError> {
    let id = bin_id(&id)?;
    let Json(secrets) =
        body.map_err(|e| AppError::BadRequest(format!("{}; {}", e.body_text(), secrets_shape())))?;
    let masked = secrets.masked();
    let rechecked = state.bins.set_secrets(id, secrets).await?;
    Ok(Json(json!({ "secrets": masked, "rechecked": rechecked })))
}

#[cfg(test)]
mod tests {
    use super::secrets_shape;

    #[test]
    fn the_secrets_error_names_every_scheme() {
        assert_eq!(
            secrets_shape(),
            "expected any of {\"standard-webhooks\",\"stripe\",\"github\",\"slack\",\"shopify\",\"twilio\": \"secret\", \"header\": {\"name\",\"value\"}}"
        );
    }
}
