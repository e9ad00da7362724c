//! `GET /static/{hash}/{file}`: the embedded files of [`crate::server::assets`].

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::server::state::AppState;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/static/{hash}/{file}", get(serve))
}

/// `GET /static/{hash}/{file}`.
async fn serve(
    State(state): State<AppState>,
    Path((hash, file)): Path<(String, String)>,
) -> Response {
    let Some(asset) = state.assets.get(&file) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    // An old hash (a page rendered before an upgrade) still gets the file,
    // but must not pin it in caches.
    let cache = if asset.hash == hash {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
        ],
        asset.body,
    )
        .into_response()
}
