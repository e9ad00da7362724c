//! Step 2, record: the capture as it will be stored — method, sub-path,
//! query, headers, the sender's address, and its signature checked with
//! the bin's secrets.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::request::Parts;
use uuid::Uuid;

use crate::core::model::NewRequest;
use crate::core::time::now_millis;
use crate::core::verify::Secrets;
use crate::server::state::AppState;

/// The request to store, from what was sent to `path` (the sub-path after
/// the bin). A step of its own because it is the one place HTTP's view of
/// a request becomes the stored model: the steps after it (rules, the
/// commit, tunnels) read only the model.
pub fn record(
    state: &AppState,
    parts: &Parts,
    bin_id: Uuid,
    secrets: &Secrets,
    path: &str,
    body: Bytes,
) -> NewRequest {
    let headers = parts
        .headers
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let remote_addr = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ci| ci.0.to_string())
        .unwrap_or_default();
    let mut new = NewRequest {
        bin_id,
        received_at: now_millis(),
        method: parts.method.as_str().to_owned(),
        path: path.to_owned(),
        query: parts.uri.query().unwrap_or("").to_owned(),
        headers,
        remote_addr,
        body,
        signature: None,
        schema: None,
        retry_key: None,
        rule: None,
        answer: None,
    };
    new.derive(secrets, || state.base_url(&parts.headers));
    new
}
