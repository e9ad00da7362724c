//! Access control for a team instance (`--access-token`): the inspector asks
//! for the token on a login page and then holds a session cookie; the API
//! and tunnels send `Authorization: Bearer`. Capture URLs stay public.

use askama::Template;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use super::layout::{Layout, render};
use crate::core::secret::Secret;
use crate::server::error::AppError;
use crate::server::state::AppState;

/// The sign-in routes (open to anyone).
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// The session cookie's name.
pub const COOKIE: &str = "hookwire_session";

/// The cookie value for a token: a hash, so the cookie (and whatever logs
/// or stores it) never holds the token itself.
fn session_value(token: &Secret) -> String {
    hex::encode(Sha256::digest(format!(
        "hookwire-session-v1:{}",
        token.expose()
    )))
}

fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// The session cookie's value, if the request carries one.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// True when the server has no token, or the request proves it knows it.
pub fn authorized(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(token) = &state.config.access_token else {
        return true;
    };
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    if bearer.is_some_and(|b| equal(b.trim(), token.expose())) {
        return true;
    }
    cookie(headers).is_some_and(|c| equal(c, &session_value(token)))
}

/// Middleware: lets authorized requests through; others get 401 (API,
/// metrics, tunnel) or the login page (inspector).
pub async fn require(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if authorized(&state, req.headers()) {
        return next.run(req).await;
    }
    let path = req.uri().path();
    if path.starts_with("/api/") || path == "/metrics" {
        let mut res = AppError::Unauthorized(
            "this hookwire server needs its access token: send Authorization: Bearer <token> \
             (hookwire tunnel/new: --access-token or HOOKWIRE_ACCESS_TOKEN)"
                .into(),
        )
        .into_response();
        res.headers_mut()
            .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        return res;
    }
    let next_url = req
        .uri()
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_owned();
    let target: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("next", &next_url)
        .finish();
    Redirect::to(&format!("/login?{target}")).into_response()
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
    if state.config.access_token.is_none() {
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

/// `POST /login`: sets the session cookie when the token is right.
async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form<LoginForm>,
) -> Response {
    let next = safe_next(form.next.as_deref()).to_owned();
    let Some(token) = &state.config.access_token else {
        return Redirect::to(&next).into_response();
    };
    if !equal(form.token.trim(), token.expose()) {
        let mut res = render(&LoginPage {
            layout: Layout::signed_out(&state),
            next,
            error: Some("That is not this server's access token. Ask whoever runs it.".into()),
        });
        *res.status_mut() = StatusCode::UNAUTHORIZED;
        return res;
    }
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
        "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000{}",
        session_value(token),
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
