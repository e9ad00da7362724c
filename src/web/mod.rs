//! Everything that is not a capture: inspector pages, the JSON API, static
//! files, health and metrics — with the security headers and the
//! cross-site check they all share.

pub mod api;
pub mod assets;
pub mod auth;
mod body_view;
mod compare;
pub mod export;
pub mod guard;
pub mod inspector;
pub mod live;
pub mod pages;
pub mod retries;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};

use crate::state::AppState;

/// The inspector, API, static and operational routes.
pub fn router(state: AppState) -> Router<AppState> {
    // Behind the access token, when the server has one.
    let protected = Router::new()
        .route("/", get(pages::home))
        .route("/bins", post(pages::create_bin))
        .route("/bins/{bin_id}", get(inspector::page))
        .route("/bins/{bin_id}/events", get(live::events))
        .route("/bins/{bin_id}/compare", get(compare::page))
        .route("/bins/{bin_id}/response", post(inspector::set_response))
        .route("/bins/{bin_id}/clear", post(inspector::clear))
        .route("/bins/{bin_id}/secrets", post(inspector::set_secret))
        .route(
            "/bins/{bin_id}/secrets/remove",
            post(inspector::remove_secret),
        )
        .route("/bins/{bin_id}/delete", post(inspector::delete_bin))
        .route(
            "/bins/{bin_id}/requests/{id}/delete",
            post(inspector::delete_request),
        )
        .route(
            "/bins/{bin_id}/requests/{id}/replay",
            post(inspector::replay),
        )
        .merge(api::router())
        .route("/metrics", get(metrics))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ));
    Router::new()
        .merge(protected)
        .route("/login", get(auth::login_page).post(auth::login))
        .route("/logout", post(auth::logout))
        .route("/static/{hash}/{file}", get(assets::serve))
        .route("/healthz", get(healthz))
        .layer(axum::middleware::from_fn_with_state(
            state,
            guard::same_origin,
        ))
        .layer(axum::middleware::map_response(guard::security_headers))
}

async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    if state.store.healthy().await {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "database unavailable")
    }
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(
            state.hub.connected_count(),
            // A failed count is left out rather than failing the scrape.
            state.store.tunnel_backlog().await.ok(),
        ),
    )
}
