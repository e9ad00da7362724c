//! `/api/bins[/{bin_id}]`: mint, read and delete a bin; set its response,
//! its verification secrets and its alias.

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::{Extension, Json};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::model::ResponseConfig;
use crate::core::verify::{SCHEMES, STATIC_HEADER, Secrets};
use crate::core::views::ErrorBody;
use crate::core::views::{AliasBody, AliasChange, BinView};
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::web::auth::AuditTarget;
use crate::server::web::bin_id;

/// The routes, with their descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_bin))
        .routes(routes!(get_bin, delete_bin))
        .routes(routes!(set_response))
        .routes(routes!(set_secrets))
        .routes(routes!(set_alias))
}

/// The optional alias of a new bin: no body, `null`, `{}` or
/// `{"alias":null}` mean none. The body has been checked against the
/// API document (`api::contract`); this reads it.
fn new_alias(body: &[u8]) -> Result<Option<String>, AppError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let parsed: Option<AliasBody> = serde_json::from_slice(body).map_err(|e| {
        AppError::BadRequest(format!(
            "{e}; expected {{\"alias\":\"stripe-dev\"}} or no body"
        ))
    })?;
    Ok(parsed.and_then(|p| p.alias))
}

/// The alias of `PUT …/alias`: `{"alias":"stripe-dev"}`, or
/// `{"alias":null}` to remove it.
fn changed_alias(body: &[u8]) -> Result<Option<String>, AppError> {
    let parsed: AliasChange = serde_json::from_slice(body).map_err(|e| {
        AppError::BadRequest(format!(
            "{e}; expected {{\"alias\":\"stripe-dev\"}}, or {{\"alias\":null}} to remove it"
        ))
    })?;
    Ok(parsed.alias)
}

/// Mint a bin: a new capture URL with the default response; with
/// `{"alias":"stripe-dev"}` it also captures at `/stripe-dev`.
#[utoipa::path(
    post, path = "/api/bins", tag = "bins",
    request_body(content = Option<AliasBody>, description = "Optional: an alias (no body, `null` or `{}` mint a bin without one)"),
    responses(
        (status = 201, description = "The new bin", body = BinView),
        (status = 400, description = "Not a valid alias: the message says what to fix", body = ErrorBody),
        (status = 409, description = "The alias is taken", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
    )
)]
async fn create_bin(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<(StatusCode, Extension<AuditTarget>, Json<BinView>), AppError> {
    let bin = state.bins.mint(new_alias(&body)?).await?;
    Ok((
        StatusCode::CREATED,
        Extension(AuditTarget(bin.id.to_string())),
        Json(BinView::new(&state.base_url(&headers), &bin)),
    ))
}

/// A bin with its response settings, request count and connected tunnels.
/// Also found by its alias, so a client given an alias capture URL can
/// learn the bin's id (`hookwire tail`/`wait`).
#[utoipa::path(
    get, path = "/api/bins/{bin_id}", tag = "bins",
    params(("bin_id" = String, Path, description = "The bin id (UUID), or its alias")),
    responses(
        (status = 200, description = "The bin", body = BinView),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn get_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Json<BinView>, AppError> {
    let id = state.bins.resolve(&id).await?;
    let bin = state.bins.get(id).await?;
    let mut view = BinView::new(&state.base_url(&headers), &bin);
    view.request_count = Some(state.store.count(id).await?);
    view.tunnels =
        Some(crate::server::services::cluster::connected(&state.store, &state.hub, id).await?);
    Ok(Json(view))
}

/// Delete a bin and all its requests.
#[utoipa::path(
    delete, path = "/api/bins/{bin_id}", tag = "bins",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn delete_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    state.bins.delete(bin_id(&id)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set what the bin's capture URL answers.
#[utoipa::path(
    put, path = "/api/bins/{bin_id}/response", tag = "bins",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    request_body = ResponseConfig,
    responses(
        (status = 200, description = "The response now set", body = ResponseConfig),
        (status = 400, description = "Not a valid response: the message says what to fix", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
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

/// Set or clear (`{"alias":null}`; the body is required) the bin's alias. The UUID capture URL
/// keeps working either way.
#[utoipa::path(
    put, path = "/api/bins/{bin_id}/alias", tag = "bins",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    request_body = AliasChange,
    responses(
        (status = 200, description = "The bin, with its alias now", body = BinView),
        (status = 400, description = "Not a valid alias: the message says what to fix", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
        (status = 409, description = "The alias is taken", body = ErrorBody),
    )
)]
async fn set_alias(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Json<BinView>, AppError> {
    let id = bin_id(&id)?;
    state.bins.set_alias(id, changed_alias(&body)?).await?;
    let bin = state.bins.get(id).await?;
    Ok(Json(BinView::new(&state.base_url(&headers), &bin)))
}

/// What `PUT …/secrets` answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecretsSet {
    /// The schemes now set, masked.
    #[schema(value_type = Object)]
    secrets: serde_json::Value,
    /// How many stored requests were checked again with them.
    rechecked: usize,
}

/// What `PUT …/secrets` takes, for its error message: every scheme.
fn secrets_shape() -> String {
    let keyed: Vec<String> = SCHEMES.iter().map(|s| format!("\"{}\"", s.name)).collect();
    format!(
        "expected any of {{{}: \"secret\", \"{STATIC_HEADER}\": {{\"name\",\"value\"}}}}",
        keyed.join(",")
    )
}

/// Set the bin's verification secrets (replacing all of them); every
/// stored request is checked again.
#[utoipa::path(
    put, path = "/api/bins/{bin_id}/secrets", tag = "bins",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    request_body = Secrets,
    responses(
        (status = 200, description = "The secrets now set, masked", body = SecretsSet),
        (status = 400, description = "An unknown scheme or a malformed secret", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn set_secrets(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<Json<Secrets>, JsonRejection>,
) -> Result<Json<SecretsSet>, AppError> {
    let id = bin_id(&id)?;
    let Json(secrets) =
        body.map_err(|e| AppError::BadRequest(format!("{}; {}", e.body_text(), secrets_shape())))?;
    let masked = secrets.masked();
    let rechecked = state.bins.set_secrets(id, secrets).await?;
    Ok(Json(SecretsSet {
        secrets: masked,
        rechecked,
    }))
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
