//! `GET /api/bins/{bin_id}/tunnel`: the WebSocket upgrade that `hookwire
//! tunnel` connects with; the connection itself is a [`crate::session`].

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::bin_id;
use crate::error::AppError;
use crate::session::{self, Params};
use crate::state::AppState;
use crate::tunnel::protocol;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/api/bins/{bin_id}/tunnel", get(upgrade))
}

/// Query of the tunnel upgrade.
#[derive(Debug, Deserialize)]
pub struct UpgradeParams {
    /// Protocol version the client speaks.
    v: Option<u8>,
    /// Tunnel name.
    name: Option<String>,
    /// `1`: start with the bin's whole history.
    #[serde(default)]
    from_start: Option<String>,
    /// `1`: captures wait for this tunnel's answers.
    #[serde(default)]
    passthrough: Option<String>,
}

fn flag(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true" | "yes"))
}

/// `GET /api/bins/{bin_id}/tunnel`: the WebSocket upgrade.
async fn upgrade(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(p): Query<UpgradeParams>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Result<Response, AppError> {
    let bin = bin_id(&id)?;
    // A page on another site must not ride a signed-in browser's cookie
    // into a tunnel (browsers send Origin on WebSocket upgrades).
    if super::guard::is_cross_site(&state, &headers) {
        return Err(AppError::Forbidden(
            "cross-site WebSocket refused: tunnels connect with `hookwire tunnel`".into(),
        ));
    }
    if p.v != Some(protocol::VERSION) {
        return Err(AppError::BadRequest(format!(
            "tunnel protocol version {:?} is not supported; this server speaks {}: use the same hookwire version on both sides",
            p.v,
            protocol::VERSION
        )));
    }
    let name = p.name.unwrap_or_else(|| "default".into());
    if !protocol::valid_name(&name) {
        return Err(AppError::BadRequest(
            "tunnel name must be 1-64 letters, digits, '-', '_' or '.' (--name)".into(),
        ));
    }
    state.bins.cached(bin).await?;
    let max = protocol::max_message(state.config.max_body_bytes);
    let params = Params {
        bin,
        name,
        from_start: flag(p.from_start.as_deref()),
        passthrough: flag(p.passthrough.as_deref()),
    };
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        // tungstenite's 128 KiB default buffers make every idle tunnel
        // cost ~140 KiB; webhooks are small and large ones still fit.
        .read_buffer_size(protocol::SOCKET_BUFFER)
        .write_buffer_size(protocol::SOCKET_BUFFER)
        .on_upgrade(move |socket| session::run(state, socket, params)))
}
