//! The JSON API of SPEC §2: [`bins`] (a bin, its response and secrets) and
//! [`requests`] (a bin's captured requests). Export, import and the tunnel
//! upgrade are `/api` routes too, owned by `web::export` and `web::tunnel`.

pub mod bins;
pub mod requests;

use axum::Router;

use crate::state::AppState;

/// The routes of both resources.
pub fn router() -> Router<AppState> {
    Router::new()
        .merge(bins::router())
        .merge(requests::router())
}
