//! `hookwire new`: asks a server for a new bin and prints its URLs.

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

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

/// Mints a bin on `server` (e.g. `http://127.0.0.1:8080`), with `alias` if
/// given.
pub async fn mint(
    server: &str,
    access_token: Option<&str>,
    alias: Option<&str>,
) -> anyhow::Result<MintedBin> {
    let url = format!("{}/api/bins", server.trim_end_matches('/'));
    let mut req = Request::post(&url);
    if let Some(token) = access_token {
        req = req.header(hyper::header::AUTHORIZATION, format!("Bearer {token}"));
    }
    let body = match alias {
        Some(alias) => serde_json::json!({ "alias": alias }).to_string(),
        None => String::new(),
    };
    let req = req
        .header(hyper::header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .with_context(|| format!("{url} is not a valid URL (--server)"))?;
    let client = Client::builder(TokioExecutor::new()).build_http();
    let res = client.request(req).await.with_context(|| {
        format!("could not reach {server}: is `hookwire serve` running there? (--server)")
    })?;
    let status = res.status();
    let body = res.into_body().collect().await?.to_bytes();
    if !status.is_success() {
        bail!(
            "{url} answered {status}: {}",
            String::from_utf8_lossy(&body).trim()
        );
    }
    serde_json::from_slice(&body)
        .with_context(|| format!("{url} did not answer like a hookwire server"))
}
