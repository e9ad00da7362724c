//! `hookwire new`: asks a server for a new bin and prints its URLs.

use crate::client::api::Remote;
use crate::client::http::Outbound;
use crate::core::views::BinView;

/// Mints a bin on `server` (e.g. `http://127.0.0.1:8080`, or https), with
/// `alias` if given.
pub async fn mint(
    out: Outbound,
    server: &str,
    access_token: Option<&str>,
    alias: Option<&str>,
) -> anyhow::Result<BinView> {
    crate::core::urls::check_http("--server", server).map_err(anyhow::Error::msg)?;
    Remote::new(out, server, access_token).mint(alias).await
}
