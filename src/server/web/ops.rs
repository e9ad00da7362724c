//! Operations: `GET /healthz` (public, for load balancers) and
//! `GET /metrics` (behind the access token).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;

use crate::core::time::now_millis;
use crate::server::state::AppState;

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
    // A failed count is left out rather than failing the scrape.
    let search_lag = state.store.oldest_unindexed().await.ok().map(|oldest| {
        oldest.map_or(0.0, |at| {
            (now_millis().saturating_sub(at)).max(0) as f64 / 1000.0
        })
    });
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(
            state.hub.connected_count(),
            state.store.tunnel_backlog().await.ok(),
            search_lag,
        ),
    )
}
