//! The inspector's sign-in: a login page that takes any token (the
//! operator's `--access-token` or one made with `hookwire token create`)
//! and answers with a session cookie derived from it.

use std::net::SocketAddr;

use askama::Template;
use axum::extract::{ConnectInfo, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::core::secret::Secret;
use crate::server::services::audit::{self, Actor};
use crate::server::services::tokens::session_cookie;
use crate::server::state::AppState;
use crate::server::web::layout::{Layout, render};

/// The sign-in routes (open to anyone).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// The session cookie's name.
pub const COOKIE: &str = "hookwire_session";

/// The session cookie of the operator's token: a hash, so the cookie (and
/// whatever logs or stores it) never holds the token itself. (Made tokens
/// have theirs from `services::tokens::session_cookie`.)
pub(super) fn operator_session(token: &Secret) -> String {
    hex::encode(Sha256::digest(format!(
        "hookwire-session-v1:{}",
        token.expose()
    )))
}

/// The session cookie's value, if the request carries one.
pub(super) fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// Only same-site paths are followed after a login (no open redirect).
fn safe_next(next: Option<&str>) -> &str {
    match next {
        // Browsers drop tabs and newlines inside URLs and read `\` as `/`,
        // so `/<tab>/evil` would become `//evil`: refuse those bytes anywhere.
        Some(n)
            if n.starts_with('/')
                && !n.starts_with("//")
                && !n.bytes().any(|b| b < 0x20 || b == 0x7f || b == b'\\') =>
        {
            n
        }
        _ => "/",
    }
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    layout: Layout,
    next: String,
    error: Option<String>,
}

/// Query of `GET /login`.
#[derive(Debug, Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
}

/// `GET /login`.
async fn login_page(State(state): State<AppState>, Query(q): Query<LoginQuery>) -> Response {
    if !super::protected(&state) {
        return Redirect::to("/").into_response();
    }
    render(&LoginPage {
        layout: Layout::signed_out(&state),
        next: safe_next(q.next.as_deref()).to_owned(),
        error: None,
    })
}

/// The login form.
#[derive(Debug, Deserialize)]
pub struct LoginForm {
    token: String,
    next: Option<String>,
}

/// `POST /login`: sets the session cookie when the token is one the
/// server knows, and writes the sign-in to the audit log.
async fn login(
    State(state): State<AppState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    if !super::protected(&state) {
        return Redirect::to(&next).into_response();
    }
    let token = form.token.trim();
    let operator = state.config.access_token.as_ref();
    let signed_in = if operator.is_some_and(|op| super::equal(token, op.expose())) {
        operator.map(|op| ("operator".to_owned(), "operator", operator_session(op)))
    } else {
        state
            .tokens
            .by_token(token)
            .map(|known| (known.name.clone(), "token", session_cookie(token)))
    };
    let Some((who, via, session)) = signed_in else {
        let mut res = render(&LoginPage {
            layout: Layout::signed_out(&state),
            next,
            error: Some(
                "This server does not know that token: it may be mistyped or revoked. \
                 Ask whoever runs it for one."
                    .into(),
            ),
        });
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        return res;
    };
    let actor = Actor {
        who,
        via,
        address: super::client_address(&state, &headers, Some(peer.ip())),
    };
    audit::record(&state.store, &actor, "login", None).await;
    let https = state.config.tls.is_some()
        || state
            .config
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"))
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|p| p.as_bytes().eq_ignore_ascii_case(b"https"));
    let cookie = format!(
        "{COOKIE}={session}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000{}",
        if https { "; Secure" } else { "" }
    );
    let mut res = Redirect::to(&next).into_response();
    if let Ok(v) = HeaderValue::try_from(cookie) {
        res.headers_mut().insert(header::SET_COOKIE, v);
    }
    res
}

/// `POST /logout`: forgets the session cookie.
async fn logout() -> Response {
    let mut res = Redirect::to("/login").into_response();
    res.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("hookwire_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_local_paths_are_followed() {
        assert_eq!(safe_next(Some("/bins/x?r=1")), "/bins/x?r=1");
        for bad in [
            "//evil.example",
            "https://evil.example",
            "/\\evil",
            "",
            "/\t/evil.example",
            "/\n/evil.example",
            "/a\\b",
        ] {
            assert_eq!(safe_next(Some(bad)), "/", "{bad}");
        }
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; hookwire_session=abc; b=2"),
        );
        assert_eq!(cookie(&h), Some("abc"));
    }

    #[test]
    fn secrets_never_print() {
        assert_eq!(format!("{:?}", Secret::new("hunter2")), "Secret(****)");
    }
}
