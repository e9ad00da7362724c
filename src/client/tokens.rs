//! `hookwire token create|list|revoke`: a team instance's tokens, through
//! the API of a running server.

use std::fmt::Write as _;

use crate::client::api::Remote;
use crate::client::http::Outbound;
use crate::core::scope::Scope;
use crate::core::views::{CreatedToken, NewToken, TokenList};

/// The server's API, found from any of its URLs.
fn remote(out: Outbound, server: &str, access_token: Option<&str>) -> anyhow::Result<Remote> {
    let server =
        crate::core::pasted::server(server).map_err(|e| anyhow::anyhow!("--server: {e}"))?;
    Ok(Remote::new(out, &server, access_token))
}

/// Makes token `name`.
pub async fn create(
    out: Outbound,
    server: &str,
    access_token: Option<&str>,
    name: &str,
    scope: Scope,
) -> anyhow::Result<CreatedToken> {
    if let Some(problem) = NewToken::name_problem(name) {
        anyhow::bail!("{problem}");
    }
    let new = NewToken {
        name: name.to_owned(),
        scope,
    };
    remote(out, server, access_token)?.create_token(&new).await
}

/// Every token.
pub async fn list(
    out: Outbound,
    server: &str,
    access_token: Option<&str>,
) -> anyhow::Result<TokenList> {
    remote(out, server, access_token)?.tokens().await
}

/// Revokes token `name`.
pub async fn revoke(
    out: Outbound,
    server: &str,
    access_token: Option<&str>,
    name: &str,
) -> anyhow::Result<()> {
    remote(out, server, access_token)?.revoke_token(name).await
}

/// The tokens as a table for people.
pub fn table(list: &TokenList) -> String {
    if list.tokens.is_empty() {
        return "no tokens yet: make one with `hookwire token create NAME --scope read`\n".into();
    }
    let width = list
        .tokens
        .iter()
        .map(|t| t.name.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let mut out = format!(
        "{:width$}  {:6}  {:24}  LAST USED\n",
        "NAME", "SCOPE", "CREATED"
    );
    for t in &list.tokens {
        let _ = writeln!(
            out,
            "{:width$}  {:6}  {:24}  {}",
            t.name,
            t.scope.as_str(),
            t.created_at,
            t.last_used_at.as_deref().unwrap_or("never")
        );
    }
    out
}
