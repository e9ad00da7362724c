//! Everything that is not a capture: inspector pages, the JSON API, static
//! files, health and metrics — with the security headers and the
//! cross-site check they all share. Each resource's file owns its routes;
//! they are merged here, in one place.

pub mod api;
pub mod api_docs;
pub mod audit_page;
pub mod auth;
mod body_view;
mod compare;
pub mod error_page;
mod events;
pub mod export;
pub mod guard;
mod home;
mod inspector;
pub mod layout;
mod ops;
mod static_files;
mod tunnel;

use axum::Router;
use uuid::Uuid;

use crate::server::error::AppError;
use crate::server::state::AppState;

/// The inspector, API, static and operational routes.
pub fn router(state: AppState) -> Router<AppState> {
    // Behind the access token, when the server has one.
    let protected = Router::new()
        .merge(home::router())
        .merge(inspector::router())
        .merge(events::router())
        .merge(compare::router())
        .merge(audit_page::router())
        .merge(api::openapi::router(api_routes(), &state.config))
        .merge(ops::protected())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ));
    Router::new()
        .merge(protected)
        .merge(auth::router())
        .merge(static_files::router())
        .merge(ops::public())
        .layer(axum::middleware::from_fn_with_state(
            state,
            guard::same_origin,
        ))
        .layer(axum::middleware::map_response(guard::security_headers))
}

/// Every `/api` route but the description's own, each registered with its
/// description.
fn api_routes() -> utoipa_axum::router::OpenApiRouter<AppState> {
    api::router()
        .merge(export::router())
        .merge(tunnel::router())
        .merge(api_docs::router())
}

/// Parses a bin id from a path segment, as a not-found when it is not one.
pub fn bin_id(text: &str) -> Result<Uuid, AppError> {
    Uuid::parse_str(text).map_err(|_| AppError::no_bin())
}

/// Parses a request id from a path segment, as a not-found when it is not
/// one.
pub fn request_id(text: &str) -> Result<i64, AppError> {
    text.parse().map_err(|_| AppError::no_request())
}
