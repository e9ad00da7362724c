//! `/api/bins/{bin_id}/schemas`: read and replace a bin's payload schemas
//! (SPEC §15). Checking and compiling them is
//! [`crate::core::payload_schema`]'s; re-checking stored requests is
//! [`crate::server::services::bins::Bins::set_schemas`]'s.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::payload_schema::{SchemaConfig, SchemasBody};
use crate::core::views::ErrorBody;
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::web::bin_id;

/// The routes, with their descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_schemas, set_schemas))
}

/// The schemas now set, and how many stored requests were checked again.
#[derive(Debug, Serialize, ToSchema)]
pub struct SchemasSet {
    /// As set, in order.
    schemas: Vec<SchemaConfig>,
    /// The bin's stored requests validated again against them.
    rechecked: usize,
}

/// The bin's payload schemas.
#[utoipa::path(
    get, path = "/api/bins/{bin_id}/schemas", tag = "bins",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    responses(
        (status = 200, description = "The schemas, in order", body = SchemasBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn get_schemas(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<SchemasBody>, AppError> {
    let bin = state.bins.get(bin_id(&id)?).await?;
    Ok(Json(SchemasBody {
        schemas: bin.schemas,
    }))
}

/// Replace the bin's payload schemas (`{"schemas":[]}` removes them all)
/// and validate its stored requests again. Each captured request is
/// validated against the first schema whose `match` holds.
#[utoipa::path(
    put, path = "/api/bins/{bin_id}/schemas", tag = "bins",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    request_body = SchemasBody,
    responses(
        (status = 200, description = "The schemas now set; stored requests re-checked", body = SchemasSet),
        (status = 400, description = "A schema that is not valid JSON Schema, or a match that does not parse: the message names it; nothing changed", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn set_schemas(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<SchemasSet>, AppError> {
    let id = bin_id(&id)?;
    // Read as JSON whatever the Content-Type (`curl -d` sends a form
    // type); cross-site browsers are refused before this (web::guard).
    let body: SchemasBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "{e}; expected {{\"schemas\":[{{\"match\":[\"path=/hooks/eden\"],\"schema\":{{\"type\":\"object\"}}}}]}} \
             (`hookwire schema --as PROVIDER` prints a schema to put in it)",
        ))
    })?;
    let rechecked = state.bins.set_schemas(id, body.schemas.clone()).await?;
    Ok(Json(SchemasSet {
        schemas: body.schemas,
        rechecked,
    }))
}
