//! `hookwire resend`: a captured request, fetched through the API, sent
//! again from this machine to any URL — method, sub-path, query, headers
//! and body bytes as captured.

use std::time::Duration;

use hyper::body::Bytes;
use serde::Serialize;

use crate::client::api::{Remote, printable};
use crate::client::http::{Call, Outbound, Outcome};
use crate::core::headers::Header;

/// Headers about the hop to hookwire, not the request: the new hop has its
/// own (`host` is the target's; hyper answers `expect` itself).
fn hop_by_hop(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    name == "host" || name == "expect" || crate::client::tunnel::local_app::hop_by_hop(&name)
}

/// What `--json` prints.
#[derive(Serialize)]
struct Report {
    status: Option<u16>,
    ms: f64,
    error: Option<String>,
    headers: Vec<Header>,
    body: String,
}

/// Sends the request at `request_url` to `to` once; true when the answer
/// is a 2xx.
pub async fn resend(
    out: Outbound,
    request_url: &str,
    to: &str,
    token: Option<&str>,
    timeout: Duration,
    json: bool,
) -> anyhow::Result<bool> {
    let to = crate::core::pasted::app_url("--to", to).map_err(anyhow::Error::msg)?;
    let (remote, bin, id) = Remote::for_request(out.clone(), request_url, token).await?;
    let captured = remote.request(bin, id).await?;
    let url = crate::core::urls::join(to.trim_end_matches('/'), &captured.path, &captured.query);
    let headers: Vec<Header> = captured
        .headers
        .iter()
        .filter(|(n, _)| !hop_by_hop(n))
        .cloned()
        .collect();
    let call = Call {
        method: &captured.method,
        url: &url,
        headers: &headers,
        body: Bytes::from(captured.body.clone()),
    };
    let (outcome, took) = out.call(call, timeout).await.map_err(anyhow::Error::msg)?;
    let ms = crate::core::time::ms(took);
    let ok = outcome.is_success();
    let report = match outcome {
        Outcome::Answered(a) => Report {
            status: Some(a.status),
            ms,
            error: None,
            headers: a.headers,
            body: String::from_utf8_lossy(&a.body).into_owned(),
        },
        Outcome::TimedOut => Report {
            status: None,
            ms,
            error: Some(format!(
                "timeout after {}",
                crate::client::send::human(timeout)
            )),
            headers: Vec::new(),
            body: String::new(),
        },
        Outcome::Unreachable(why) => Report {
            status: None,
            ms,
            error: Some(crate::client::reach::app(&url, &why)),
            headers: Vec::new(),
            body: String::new(),
        },
    };
    if json {
        println!("{}", serde_json::to_string(&report)?);
    } else {
        let result = match (report.status, &report.error) {
            (Some(s), _) => format!("{s} {ms:.1} ms"),
            (None, e) => e.clone().unwrap_or_default(),
        };
        println!(
            "{} {} -> {result}",
            printable(&captured.method),
            printable(&captured.target())
        );
    }
    Ok(ok)
}
