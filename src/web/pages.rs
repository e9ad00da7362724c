//! The home page, the "New URL" form and the error page.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{Html, IntoResponse, Redirect, Response};

use crate::error::PageError;
use crate::model::rfc3339;
use crate::state::AppState;

/// What every page's `base.html` needs.
pub struct Layout {
    /// Hashed URL of the stylesheet.
    pub css: String,
    /// Hashed URL of the script.
    pub js: String,
    /// The server has an access token: show "Sign out".
    pub auth: bool,
}

impl Layout {
    /// The layout with the current asset URLs.
    pub fn new(state: &AppState) -> Self {
        Self {
            css: state.assets.url("style.css"),
            js: state.assets.url("app.js"),
            auth: state.config.access_token.is_some(),
        }
    }
}

/// Renders a template, or a plain 500 if the template itself fails.
pub fn render(page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed");
            (
                axum::http::StatusCode::INTERNAL_SERVER_ERROR,
                "template error",
            )
                .into_response()
        }
    }
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
pub async fn home(
    State(state): State<AppState>,
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
        layout: Layout::new(&state),
        bins,
        base_url: state.base_url(&headers),
    }))
}

/// `POST /bins`: the "New URL" button; lands on the new bin's inspector.
pub async fn create_bin(State(state): State<AppState>) -> Result<Redirect, PageError> {
    let bin = state.mint_bin().await?;
    Ok(Redirect::to(&format!("/bins/{}", bin.id)))
}

/// The page shown for errors on HTML routes.
#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    /// HTTP status.
    pub status: u16,
    /// What went wrong and what to do.
    pub message: String,
}
