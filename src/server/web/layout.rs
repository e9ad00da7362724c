//! What every page shares: the `base.html` layout's data, and rendering a
//! template into a response.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use crate::server::state::AppState;

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

    /// The layout of the login page: whoever sees it is not signed in, so
    /// it offers no "Sign out".
    pub fn signed_out(state: &AppState) -> Self {
        Self {
            auth: false,
            ..Self::new(state)
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
