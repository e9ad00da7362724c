//! Which scope each route needs (SPEC §16), and the name each change has
//! in the audit log. One table each, so a new route is governed (and
//! audited) without its handler doing anything.

use axum::http::Method;

use crate::core::scope::Scope;

/// The scope a request needs: reads need `read`, a tunnel `tunnel`,
/// changes `write`, tokens and the audit log `admin`.
pub fn needed(method: &Method, path: &str) -> Scope {
    if path == "/api/audit"
        || path == "/audit"
        || path == "/api/tokens"
        || path.starts_with("/api/tokens/")
    {
        return Scope::Admin;
    }
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        if path.starts_with("/api/bins/") && path.ends_with("/tunnel") {
            return Scope::Tunnel;
        }
        return Scope::Read;
    }
    Scope::Write
}

/// What a scope allows, in words, for refusals.
pub fn what_it_allows(scope: Scope) -> &'static str {
    match scope {
        Scope::Read => "only read",
        Scope::Tunnel => "read and connect tunnels",
        Scope::Write => "read, connect tunnels and change bins",
        Scope::Admin => "do everything",
    }
}

/// Changes by route (method and matched path), with their audit names.
const ACTIONS: &[(&str, &str, &str)] = &[
    ("POST", "/api/bins", "bin.mint"),
    ("POST", "/bins", "bin.mint"),
    ("DELETE", "/api/bins/{bin_id}", "bin.delete"),
    ("POST", "/bins/{bin_id}/delete", "bin.delete"),
    ("PUT", "/api/bins/{bin_id}/response", "response.set"),
    ("POST", "/bins/{bin_id}/response", "response.set"),
    ("PUT", "/api/bins/{bin_id}/alias", "alias.set"),
    ("POST", "/bins/{bin_id}/alias", "alias.set"),
    ("PUT", "/api/bins/{bin_id}/secrets", "secrets.set"),
    ("POST", "/bins/{bin_id}/secrets", "secrets.set"),
    ("POST", "/bins/{bin_id}/secrets/remove", "secrets.remove"),
    ("PUT", "/api/bins/{bin_id}/rules", "rules.set"),
    ("POST", "/bins/{bin_id}/rules", "rules.add"),
    ("POST", "/bins/{bin_id}/rules/json", "rules.set"),
    ("POST", "/bins/{bin_id}/rules/delete", "rules.delete"),
    ("PUT", "/api/bins/{bin_id}/schemas", "schemas.set"),
    ("DELETE", "/api/bins/{bin_id}/requests", "bin.clear"),
    ("POST", "/bins/{bin_id}/clear", "bin.clear"),
    (
        "DELETE",
        "/api/bins/{bin_id}/requests/{id}",
        "request.delete",
    ),
    (
        "POST",
        "/bins/{bin_id}/requests/{id}/delete",
        "request.delete",
    ),
    (
        "POST",
        "/api/bins/{bin_id}/requests/{id}/replay",
        "request.replay",
    ),
    (
        "POST",
        "/bins/{bin_id}/requests/{id}/replay",
        "request.replay",
    ),
    ("POST", "/api/bins/{bin_id}/import", "bin.import"),
    ("POST", "/api/tokens", "token.create"),
    ("DELETE", "/api/tokens/{name}", "token.revoke"),
];

/// The audit name of a change; a route not in the table is named by its
/// method and path template, so no change goes unrecorded.
pub fn action(method: &Method, template: &str) -> String {
    ACTIONS
        .iter()
        .find(|(m, t, _)| *m == method.as_str() && *t == template)
        .map_or_else(
            || format!("{method} {template}"),
            |(_, _, a)| (*a).to_owned(),
        )
}

/// What a change was done to, read from the path by its template: the
/// bin, `BIN/requests/ID`, or a token's name. Only path segments: never a
/// body or a query, so never a secret.
pub fn target(template: &str, path: &str) -> Option<String> {
    let mut bin = None;
    let mut request = None;
    let mut name = None;
    for (t, p) in template.split('/').zip(path.split('/')) {
        match t {
            "{bin_id}" => bin = Some(p),
            "{id}" => request = Some(p),
            "{name}" => name = Some(p),
            _ => {}
        }
    }
    match (bin, request, name) {
        (Some(b), Some(r), _) => Some(format!("{b}/requests/{r}")),
        (Some(b), None, _) => Some(b.to_owned()),
        (None, _, Some(n)) => Some(percent_decode(n)),
        _ => None,
    }
}

/// A path segment as written (token names are plain, but a client may
/// encode them).
fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("x={text}").as_bytes())
        .next()
        .map_or_else(|| text.to_owned(), |(_, v)| v.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_need_read_changes_write_tokens_admin() {
        assert_eq!(needed(&Method::GET, "/bins/x"), Scope::Read);
        assert_eq!(needed(&Method::GET, "/api/bins/x/requests"), Scope::Read);
        assert_eq!(needed(&Method::GET, "/api/bins/x/tunnel"), Scope::Tunnel);
        assert_eq!(needed(&Method::PUT, "/api/bins/x/rules"), Scope::Write);
        assert_eq!(needed(&Method::POST, "/bins"), Scope::Write);
        assert_eq!(needed(&Method::GET, "/api/tokens"), Scope::Admin);
        assert_eq!(needed(&Method::DELETE, "/api/tokens/ci"), Scope::Admin);
        assert_eq!(needed(&Method::GET, "/audit"), Scope::Admin);
        assert_eq!(needed(&Method::GET, "/api/audit"), Scope::Admin);
    }

    #[test]
    fn changes_are_named_and_targeted_by_path() {
        assert_eq!(
            action(&Method::PUT, "/api/bins/{bin_id}/rules"),
            "rules.set"
        );
        assert_eq!(action(&Method::PATCH, "/api/x"), "PATCH /api/x");
        assert_eq!(
            target(
                "/api/bins/{bin_id}/requests/{id}",
                "/api/bins/b1/requests/7"
            )
            .as_deref(),
            Some("b1/requests/7")
        );
        assert_eq!(
            target("/api/tokens/{name}", "/api/tokens/ci%2Dbot").as_deref(),
            Some("ci-bot")
        );
        assert_eq!(target("/api/bins", "/api/bins"), None);
    }
}
