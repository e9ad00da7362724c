//! Who is asking, and may they (SPEC §7, §16). Every request to the
//! inspector, the API and tunnels is signed in by one of: a bearer token
//! (the operator's `--access-token`, or a token made with `hookwire token
//! create`), the inspector's session cookie, or a login proxy's header
//! from a trusted address. Its [`Principal`] rides in the request's
//! extensions; the route's scope ([`scopes::needed`]) decides, and every
//! change that succeeds is written to the audit log. Capture URLs stay
//! public.
//!
//! # Layout
//! - [`scopes`]: which scope each route needs, and each change's audit name.
//! - [`login`]: the login page, the session cookie, sign-out.

pub mod login;
pub mod scopes;

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq as _;

use crate::core::scope::Scope;
use crate::server::error::AppError;
use crate::server::services::audit::{self, Actor};
use crate::server::services::tokens::Revocation;
use crate::server::state::AppState;
use crate::server::web::error_page::PageError;

pub use login::{COOKIE, router};

/// Who a request comes from and what they may do.
#[derive(Debug, Clone)]
pub struct Principal {
    /// Who, as the audit log names them, and from where.
    pub actor: Actor,
    /// What they may do.
    pub scope: Scope,
    /// Resolves when their token is revoked.
    pub revocation: Revocation,
}

impl Principal {
    /// True when they may do what `needed` allows.
    pub fn can(&self, needed: Scope) -> bool {
        self.scope.allows(needed)
    }

    /// True when they may change bins: pages show their forms.
    pub fn can_write(&self) -> bool {
        self.can(Scope::Write)
    }
}

/// Handlers behind [`require`] take the principal as an argument.
impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or_else(|| AppError::Internal("a protected route ran unprotected".into()))
    }
}

/// True when the server signs people in at all: with an access token or
/// a login proxy. An open server (a laptop) lets everyone do everything.
pub fn protected(state: &AppState) -> bool {
    state.config.access_token.is_some() || state.config.auth_proxy.is_some()
}

pub(super) fn equal(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// The peer address of a request (absent only in tests that call the
/// router without a connection).
fn peer(req: &Request) -> Option<IpAddr> {
    req.extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())
}

/// The client's address for the audit log: the peer's, or behind a
/// trusted proxy the last address it forwarded for that is not its own.
pub(super) fn client_address(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<IpAddr>,
) -> String {
    let Some(peer) = peer else {
        return "unknown".into();
    };
    let Some(proxy) = state.config.auth_proxy.as_ref().filter(|p| p.trusts(peer)) else {
        return peer.to_string();
    };
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse::<IpAddr>().ok())
        .collect::<Vec<_>>();
    forwarded
        .iter()
        .rev()
        .find(|a| !proxy.trusts(**a))
        .or(forwarded.first())
        .map_or_else(|| peer.to_string(), ToString::to_string)
}

/// Who sent a request, if anyone the server knows; `None` means refuse
/// (401 or the login page).
pub fn resolve(state: &AppState, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<Principal> {
    let address = client_address(state, headers, peer);
    let signed_in = |who: &str, via: &'static str, scope, revocation| {
        Some(Principal {
            actor: Actor {
                who: who.to_owned(),
                via,
                address: address.clone(),
            },
            scope,
            revocation,
        })
    };
    let operator = state.config.access_token.as_ref();
    if let Some(token) = bearer(headers) {
        if operator.is_some_and(|op| equal(token, op.expose())) {
            return signed_in("operator", "operator", Scope::Admin, Revocation::default());
        }
        if let Some(known) = state.tokens.by_token(token) {
            return signed_in(&known.name, "token", known.scope, known.revocation());
        }
    }
    if let Some(proxy) = &state.config.auth_proxy
        && peer.is_some_and(|p| proxy.trusts(p))
    {
        let user = headers
            .get(proxy.header.as_str())
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
            .filter(|u| !u.is_empty());
        if let Some(user) = user {
            return signed_in(user, "proxy", proxy.scope, Revocation::default());
        }
    }
    if let Some(cookie) = login::cookie(headers) {
        if operator.is_some_and(|op| equal(cookie, &login::operator_session(op))) {
            return signed_in("operator", "operator", Scope::Admin, Revocation::default());
        }
        if let Some(known) = state.tokens.by_cookie(cookie) {
            return signed_in(&known.name, "token", known.scope, known.revocation());
        }
    }
    if protected(state) {
        return None;
    }
    signed_in("anonymous", "open", Scope::Admin, Revocation::default())
}

/// True for the JSON routes (401/403 as JSON); the others are pages.
fn is_api(path: &str) -> bool {
    path.starts_with("/api/") || path == "/metrics"
}

/// Middleware of every protected route: signs the request in, checks the
/// route's scope, runs it, and writes a change that succeeded to the
/// audit log.
pub async fn require(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let path = req.uri().path().to_owned();
    let Some(principal) = resolve(&state, req.headers(), peer(&req)) else {
        return refuse_unknown(&req, &path);
    };
    let needed = scopes::needed(req.method(), &path);
    if !principal.can(needed) {
        let err = AppError::Forbidden(format!(
            "{} may {} (scope {}); this needs the {needed} scope: ask an admin for a token made \
             with `hookwire token create NAME --scope {needed}`",
            principal.actor.who,
            scopes::what_it_allows(principal.scope),
            principal.scope,
        ));
        return if is_api(&path) {
            err.into_response()
        } else {
            PageError(err).into_response()
        };
    }
    let change = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    let template = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let method = req.method().clone();
    req.extensions_mut().insert(principal.clone());
    let res = next.run(req).await;
    let done = res.status().is_success() || res.status().is_redirection();
    if change && done {
        let template = template.unwrap_or_else(|| path.clone());
        let action = scopes::action(&method, &template);
        let target = res
            .extensions()
            .get::<AuditTarget>()
            .map(|t| t.0.clone())
            .or_else(|| scopes::target(&template, &path));
        audit::record(&state.store, &principal.actor, &action, target).await;
    }
    res
}

/// What a change was done to, when the path does not say (a bin just
/// minted): handlers put it in the response's extensions.
#[derive(Debug, Clone)]
pub struct AuditTarget(pub String);

/// Nobody the server knows: 401 on the API, the login page elsewhere.
fn refuse_unknown(req: &Request, path: &str) -> Response {
    if is_api(path) {
        let mut res = AppError::Unauthorized(
            "this hookwire server needs a token: send Authorization: Bearer <token> \
             (hookwire tunnel/new: --access-token or HOOKWIRE_ACCESS_TOKEN); a token that \
             worked before may have been revoked: ask an admin for a new one"
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
