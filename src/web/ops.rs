//! Operations: `GET /healthz` (public, for load balancers) and
//! `GET /metrics` (behind the access token).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::state::AppState;

/// `/healthz`, open to anyone.
pub fn public() -> Router<AppState> {
    Router::new().route("/healthz", get(healthz))
}

/// `/metrics`, behind the access token.
pub fn protected() -> Router<AppState> {
    Router::new().route("/metrics", get(metrics))
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
