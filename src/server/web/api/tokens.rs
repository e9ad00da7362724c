//! `/api/tokens` (admin, SPEC §16): make, list and revoke the tokens of a
//! team instance. The token itself is answered once, on creation; the
//! server keeps only its hash (see `services::tokens`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::{Extension, Json};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::time::rfc3339;
use crate::core::views::{CreatedToken, ErrorBody, NewToken, TokenList, TokenView};
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::web::auth::AuditTarget;

/// The routes, with their descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_tokens, create_token))
        .routes(routes!(revoke_token))
}

/// Every token: names, scopes, when made and last used — never a token.
#[utoipa::path(
    get, path = "/api/tokens", tag = "tokens",
    responses(
        (status = 200, description = "The tokens, by name", body = TokenList),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "Only the admin scope manages tokens", body = ErrorBody),
    )
)]
async fn list_tokens(State(state): State<AppState>) -> Result<Json<TokenList>, AppError> {
    let tokens = state
        .tokens
        .list()
        .await?
        .into_iter()
        .map(|t| TokenView {
            name: t.name,
            scope: t.scope,
            created_at: rfc3339(t.created_at),
            last_used_at: t.last_used_at.map(rfc3339),
        })
        .collect();
    Ok(Json(TokenList { tokens }))
}

/// Make a token for a person or a machine. The answer holds the token,
/// this once.
#[utoipa::path(
    post, path = "/api/tokens", tag = "tokens",
    request_body = NewToken,
    responses(
        (status = 201, description = "The new token, shown this once", body = CreatedToken),
        (status = 400, description = "Not a token name or scope: the message says what to fix", body = ErrorBody),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "Only the admin scope manages tokens; or a cross-site request from a browser", body = ErrorBody),
        (status = 409, description = "A token of that name exists: revoke it first, or pick another name", body = ErrorBody),
    )
)]
async fn create_token(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Extension<AuditTarget>, Json<CreatedToken>), AppError> {
    let new: NewToken = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "{e}; expected {{\"name\":\"alice\",\"scope\":\"read|tunnel|write|admin\"}}"
        ))
    })?;
    if let Some(problem) = NewToken::name_problem(&new.name) {
        return Err(AppError::BadRequest(problem));
    }
    let Some(created) = state.tokens.create(&new.name, new.scope).await? else {
        return Err(AppError::Conflict(format!(
            "a token named {} exists: revoke it first (hookwire token revoke {}) or pick another name",
            new.name, new.name
        )));
    };
    Ok((
        StatusCode::CREATED,
        Extension(AuditTarget(created.row.name.clone())),
        Json(CreatedToken {
            name: created.row.name,
            scope: created.row.scope,
            created_at: rfc3339(created.row.created_at),
            token: created.token,
        }),
    ))
}

/// Revoke a token: refused from now on, on every replica, and its open
/// tunnels and inspector sessions end.
#[utoipa::path(
    delete, path = "/api/tokens/{name}", tag = "tokens",
    params(("name" = String, Path, description = "The token's name", pattern = r"^[A-Za-z0-9._@-]{1,64}$")),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "Only the admin scope manages tokens; or a cross-site request from a browser", body = ErrorBody),
        (status = 404, description = "No token of that name", body = ErrorBody),
    )
)]
async fn revoke_token(
    State(state): State<AppState>,
    Path(name): Path<String>,
) -> Result<StatusCode, AppError> {
    if !state.tokens.revoke(&name).await? {
        return Err(AppError::NotFound(format!(
            "no token named {name:?}: see the names with `hookwire token list`"
        )));
    }
    Ok(StatusCode::NO_CONTENT)
}
