//! `hookwire new`: asks a server for a new bin and prints its URLs.

use std::time::Duration;

use anyhow::{Context as _, bail};
use hyper::body::Bytes;
use serde::Deserialize;

use crate::outbound::{Call, Outbound, Outcome};

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
    out: &Outbound,
    server: &str,
    access_token: Option<&str>,
    alias: Option<&str>,
) -> anyhow::Result<MintedBin> {
    crate::urls::check_http("--server", server).map_err(anyhow::Error::msg)?;
    let url = format!("{}/api/bins", server.trim_end_matches('/'));
    let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
    if let Some(token) = access_token {
        headers.push(("authorization".into(), format!("Bearer {token}")));
    }
    let body = match alias {
        Some(alias) => serde_json::json!({ "alias": alias }).to_string(),
        None => String::new(),
    };
    let call = Call {
        method: "POST",
        url: &url,
        headers: &headers,
        body: Bytes::from(body),
    };
    let (outcome, _) = out
        .call(call, Duration::from_secs(30))
        .await
        .map_err(anyhow::Error::msg)?;
    let answer = match outcome {
        Outcome::Answered(a) => a,
        Outcome::TimedOut => bail!("{server} did not answer within 30 s (--server)"),
        Outcome::Unreachable(why) => {
            bail!("could not reach {server} ({why}): is `hookwire serve` running there? (--server)")
        }
    };
    if !(200..300).contains(&answer.status) {
        bail!(
            "{url} answered {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body).trim()
        );
    }
    serde_json::from_slice(&answer.body)
        .with_context(|| format!("{url} did not answer like a hookwire server"))
}
