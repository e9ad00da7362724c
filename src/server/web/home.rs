//! The home page and its "New URL" form.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse as _, Redirect, Response};
use axum::routing::{get, post};

use super::error_page::PageError;
use super::layout::{Layout, render};
use crate::core::time::rfc3339;
use crate::server::state::AppState;
use crate::server::web::auth::{AuditTarget, Principal};

/// The routes.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/bins", post(create_bin))
}

struct BinRow {
    id: String,
    created_at: String,
    count: u64,
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    bins: Vec<BinRow>,
    base_url: String,
}

/// How many bins the home page lists.
const RECENT_BINS: usize = 20;

/// `GET /`.
async fn home(
    State(state): State<AppState>,
    principal: Principal,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let bins = state
        .store
        .recent_bins(RECENT_BINS)
        .await?
        .into_iter()
        .map(|(bin, count)| BinRow {
            id: bin.id.to_string(),
            created_at: rfc3339(bin.created_at),
            count,
        })
        .collect();
    Ok(render(&HomePage {
        layout: Layout::new(&state, &principal),
        bins,
        base_url: state.base_url(&headers),
    }))
}

/// `POST /bins`: the "New URL" button; lands on the new bin's inspector.
async fn create_bin(State(state): State<AppState>) -> Result<Response, PageError> {
    let bin = state.bins.mint(None).await?;
    let mut res = Redirect::to(&format!("/bins/{}", bin.id)).into_response();
    res.extensions_mut().insert(AuditTarget(bin.id.to_string()));
    Ok(res)
}
