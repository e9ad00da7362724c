//! Browser-facing protections: security headers on every non-capture
//! response, and refusal of cross-site state changes (CSRF).

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::server::error::AppError;
use crate::server::state::AppState;

/// No inline script or style, nothing from other origins, no framing.
/// Captured data is escaped anyway; this makes a slip harmless.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Adds the security headers a response does not set itself (the raw body
/// download sets a stricter CSP of its own).
pub async fn security_headers(mut res: Response) -> Response {
    let h = res.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        // Capture URLs are secrets: never leak them in a Referer.
        (header::REFERRER_POLICY, "no-referrer"),
    ] {
        h.entry(name).or_insert(HeaderValue::from_static(value));
    }
    res
}

/// Refuses state-changing requests a browser sent from another site.
/// Browsers send `Sec-Fetch-Site` (or at least `Origin`) on such requests;
/// clients like curl send neither and are let through.
pub async fn same_origin(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let safe = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if !safe && is_cross_site(&state, req.headers()) {
        return AppError::Forbidden(
            "cross-site request refused: submit this form from the hookwire page itself".into(),
        )
        .into_response();
    }
    next.run(req).await
}

/// True when a browser says the request comes from another site.
pub fn is_cross_site(state: &AppState, headers: &HeaderMap) -> bool {
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.as_bytes(), b"same-origin" | b"none");
    }
    let Some(origin) = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok()) else {
        return false;
    };
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let own_host = host.is_some_and(|host| {
        origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"))
            == Some(host)
    });
    let public = state
        .config
        .public_url
        .as_deref()
        .is_some_and(|url| url_origin(url) == origin);
    !(own_host || public)
}

/// `scheme://host[:port]` of a URL: what browsers send as `Origin`.
fn url_origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    match url[after_scheme..].find('/') {
        Some(i) => &url[..after_scheme + i],
        None => url,
    }
}

#[cfg(test)]
mod tests {
    use super::url_origin;

    #[test]
    fn origin_drops_the_path() {
        assert_eq!(
            url_origin("https://hooks.example.com/base"),
            "https://hooks.example.com"
        );
        assert_eq!(url_origin("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    }
}
