//! The JSON API: [`bins`] (a bin, its response, secrets and
//! alias), [`requests`] (a bin's captured requests) and [`rules`] (its
//! response rules), plus its description,
//! `GET /api/openapi.json` ([`openapi`]). Export, import and the tunnel
//! upgrade are `/api` routes too, owned by `web::export` and `web::tunnel`
//! and described in the same document.

pub mod bin_schemas;
pub mod bins;
pub mod contract;
pub mod openapi;
pub mod refine;
pub mod requests;
pub mod rules;
pub mod schemas;

use utoipa_axum::router::OpenApiRouter;

use crate::server::state::AppState;

/// The routes of every resource, with their descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(bins::router())
        .merge(requests::router())
        .merge(rules::router())
        .merge(bin_schemas::router())
}
