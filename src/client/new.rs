//! `hookwire new`: asks a server for a new bin and prints its URLs.

use crate::client::api::Remote;
use crate::client::http::Outbound;
use crate::core::views::BinView;

/// Mints a bin on `server` (e.g. `http://127.0.0.1:8080`, or https, or
/// any URL of that server: its inspector, a capture URL…), with `alias` if
/// given.
pub async fn mint(
    out: Outbound,
    server: &str,
    access_token: Option<&str>,
    alias: Option<&str>,
) -> anyhow::Result<BinView> {
    let server =
        crate::core::pasted::server(server).map_err(|e| anyhow::anyhow!("--server: {e}"))?;
    Remote::new(out, &server, access_token).mint(alias).await
}
