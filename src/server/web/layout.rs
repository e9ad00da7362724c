//! What every page shares: the `base.html` layout's data, and rendering a
//! template into a response.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use crate::core::scope::Scope;
use crate::server::state::AppState;
use crate::server::web::auth::{Principal, protected};

/// What every page's `base.html` needs.
pub struct Layout {
    /// Hashed URL of the stylesheet.
    pub css: String,
    /// Hashed URL of the script.
    pub js: String,
    /// The server signs people in: show who and "Sign out".
    pub auth: bool,
    /// Who is signed in (empty on the login page).
    pub who: String,
    /// Signed in with a session cookie, which "Sign out" forgets (a login
    /// proxy's users sign out at the proxy).
    pub signout: bool,
    /// They may see the audit log: link it.
    pub admin: bool,
    /// They may change bins: pages show the forms that do.
    pub can_write: bool,
}

impl Layout {
    /// The layout with the current asset URLs, for `principal`: a page
    /// offers only what they may do (a read-only user sees no forms that
    /// would be refused).
    pub fn new(state: &AppState, principal: &Principal) -> Self {
        Self {
            css: state.assets.url("style.css"),
            js: state.assets.url("app.js"),
            auth: protected(state),
            who: principal.actor.who.clone(),
            signout: matches!(principal.actor.via, "token" | "operator"),
            admin: principal.can(Scope::Admin),
            can_write: principal.can_write(),
        }
    }

    /// The layout of the login page: whoever sees it is not signed in, so
    /// it offers no "Sign out".
    pub fn signed_out(state: &AppState) -> Self {
        Self {
            auth: false,
            ..Self::for_everyone(state)
        }
    }

    /// The layout of a page rendered once for everyone (the API
    /// reference): it names nobody and offers no forms.
    pub fn for_everyone(state: &AppState) -> Self {
        Self {
            css: state.assets.url("style.css"),
            js: state.assets.url("app.js"),
            auth: protected(state),
            who: String::new(),
            signout: protected(state),
            admin: false,
            can_write: false,
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
