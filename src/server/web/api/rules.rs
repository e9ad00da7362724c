//! `/api/bins/{bin_id}/rules`: read and replace a bin's response rules
//! (the match language of docs/rules.md). Checking and compiling them is [`crate::server::services::rules`]'s.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::model::RuleConfig;
use crate::core::views::ErrorBody;
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::web::bin_id;

/// The routes, with their descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_rules, set_rules))
}

/// A bin's response rules, in the order they are tried.
#[derive(Debug, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleList {
    /// The first rule whose `match` holds (and whose `attempts` range
    /// holds the webhook's arrival number) answers; else the bin's
    /// response.
    #[schemars(schema_with = "crate::core::shapes::rule_list")]
    rules: Vec<RuleConfig>,
}

/// The bin's response rules.
#[utoipa::path(
    get, path = "/api/bins/{bin_id}/rules", tag = "bins",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    responses(
        (status = 200, description = "The rules, in order", body = RuleList),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn get_rules(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RuleList>, AppError> {
    let bin = state.bins.get(bin_id(&id)?).await?;
    Ok(Json(RuleList { rules: bin.rules }))
}

/// Replace the bin's response rules (`{"rules":[]}` removes them all).
#[utoipa::path(
    put, path = "/api/bins/{bin_id}/rules", tag = "bins",
    params(("bin_id" = String, Path, description = "The bin id (UUID)")),
    request_body = RuleList,
    responses(
        (status = 200, description = "The rules now set", body = RuleList),
        (status = 400, description = "A rule that does not check: the message names it and what to fix", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn set_rules(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<RuleList>, AppError> {
    let id = bin_id(&id)?;
    // Read as JSON whatever the Content-Type (`curl -d` sends a form
    // type); cross-site browsers are refused before this (web::guard).
    let list: RuleList = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "{e}; expected {{\"rules\":[{{\"name\":\"flaky\",\"match\":[\"method=POST\"],\"attempts\":\"1-2\",\"response\":{{\"status\":503,\"headers\":[],\"body\":\"…\",\"delay_ms\":0}},\"action\":\"respond\"}}]}}",
        ))
    })?;
    state.bins.set_rules(id, list.rules.clone()).await?;
    Ok(Json(list))
}
