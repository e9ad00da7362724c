//! The JSON API: [`bins`] (a bin, its response, secrets and
//! alias), [`requests`] (a bin's captured requests) and [`rules`] (its
//! response rules), [`tokens`] and [`audit`] (a team instance's tokens
//! and audit log), plus its description,
//! `GET /api/openapi.json` ([`openapi`]). Export, import and the tunnel
//! upgrade are `/api` routes too, owned by `web::export` and `web::tunnel`
//! and described in the same document.

pub mod audit;
pub mod bin_schemas;
pub mod bins;
pub mod contract;
pub mod openapi;
pub mod refine;
pub mod requests;
pub mod rules;
pub mod schemas;
pub mod tokens;

use utoipa_axum::router::OpenApiRouter;

use crate::server::state::AppState;

/// The routes of every resource, with their descriptions.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(bins::router())
        .merge(requests::router())
        .merge(rules::router())
        .merge(bin_schemas::router())
        .merge(tokens::router())
        .merge(audit::router())
}
