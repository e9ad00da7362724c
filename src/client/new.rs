//! `hookwire new`: asks a server for a new bin and prints its URLs.

use anyhow::Context as _;
use serde::Deserialize;

use crate::client::api::Remote;
use crate::client::http::Outbound;

/// What `POST /api/bins` answers.
#[derive(Debug, Deserialize)]
pub struct MintedBin {
    /// The bin id.
    pub id: String,
    /// Where to send webhooks.
    pub capture_url: String,
    /// Where to watch them.
    pub inspect_url: String,
    /// The capture URL by alias, when one was asked for.
    #[serde(default)]
    pub alias_url: Option<String>,
}

/// Mints a bin on `server` (e.g. `http://127.0.0.1:8080`, or https), with
/// `alias` if given.
pub async fn mint(
    out: Outbound,
    server: &str,
    access_token: Option<&str>,
    alias: Option<&str>,
) -> anyhow::Result<MintedBin> {
    crate::core::urls::check_http("--server", server).map_err(anyhow::Error::msg)?;
    let body = match alias {
        Some(alias) => serde_json::json!({ "alias": alias }).to_string(),
        None => String::new(),
    };
    let minted = Remote::new(out, server, access_token)
        .post("/api/bins", body)
        .await?;
    serde_json::from_value(minted)
        .with_context(|| format!("{server} did not answer like a hookwire server (--server)"))
}
