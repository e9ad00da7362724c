//! `GET /api/bins/{bin_id}/tunnel`: the WebSocket upgrade that `hookwire
//! tunnel` connects with; the connection itself is a [`crate::server::session`].

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde::Deserialize;
use tracing::Instrument as _;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::bin_id;
use crate::core::protocol;
use crate::core::routing::Streams;
use crate::core::views::ErrorBody;
use crate::server::error::AppError;
use crate::server::session::{self, Params};
use crate::server::state::AppState;
use crate::server::web::auth::Principal;

/// The route.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(upgrade))
}

/// Query of the tunnel upgrade.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UpgradeParams {
    /// Protocol version the client speaks (this server: 1 or 2).
    #[param(minimum = 1, maximum = 2)]
    v: u8,
    /// Tunnel name: 1-64 letters, digits, `-`, `_` or `.` (default `default`).
    #[param(pattern = "^[A-Za-z0-9._-]{1,64}$")]
    name: Option<String>,
    /// `1`: start with the bin's whole history.
    #[serde(default)]
    from_start: Option<String>,
    /// `1`: captures wait for this tunnel's answers (passthrough).
    #[serde(default)]
    passthrough: Option<String>,
    /// The tunnel's targets, routes and filter, as JSON:
    /// `{"targets":["http://localhost:3000"],"routes":[["/stripe/**",0]],
    /// "default":[0],"filter":["json:/type=invoice.paid"]}`. Absent: one
    /// target named `""` that gets every request.
    #[serde(default)]
    streams: Option<String>,
}

fn flag(v: Option<&str>) -> bool {
    matches!(v, Some("1" | "true" | "yes"))
}

/// The WebSocket `hookwire tunnel` connects with (binary frames, see the
/// tunnel protocol in the README).
#[utoipa::path(
    get, path = "/api/bins/{bin_id}/tunnel", tag = "tunnel",
    params(("bin_id" = String, Path, description = "The bin id (UUID)"), UpgradeParams),
    responses(
        (status = 101, description = "Switching to the tunnel's WebSocket"),
        (status = 400, description = "Another protocol version, a bad tunnel name, bad routing (a route or filter that does not parse), or not a WebSocket upgrade", body = ErrorBody),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
        (status = 403, description = "A cross-site upgrade from a browser", body = ErrorBody),
        (status = 404, description = "No such bin", body = ErrorBody),
    )
)]
async fn upgrade(
    State(state): State<AppState>,
    principal: Principal,
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
    if !protocol::ACCEPTED.contains(&p.v) {
        return Err(AppError::BadRequest(format!(
            "tunnel protocol version {} is not supported; this server speaks {}: use the same hookwire version on both sides",
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
    let streams: Streams = match &p.streams {
        Some(json) => serde_json::from_str(json).map_err(|e| {
            AppError::BadRequest(format!(
                "streams is not the routing JSON hookwire sends: {e}"
            ))
        })?,
        None => Streams {
            targets: vec![String::new()],
            default: vec![0],
            ..Streams::default()
        },
    };
    let routing = streams.compile().map_err(AppError::BadRequest)?;
    state.bins.cached(bin).await?;
    let max = protocol::max_message(state.config.max_body_bytes);
    let params = Params {
        bin,
        name,
        from_start: flag(p.from_start.as_deref()),
        passthrough: flag(p.passthrough.as_deref()),
        targets: streams.targets,
        routing,
        revocation: principal.revocation,
    };
    // The session runs in a task of its own, outside the connection's
    // span: its events say which tunnel they are about.
    let span = tracing::info_span!("tunnel", bin = %params.bin, tunnel = %params.name);
    Ok(ws
        .max_message_size(max)
        .max_frame_size(max)
        // tungstenite's 128 KiB default buffers make every idle tunnel
        // cost ~140 KiB; webhooks are small and large ones still fit.
        .read_buffer_size(protocol::SOCKET_BUFFER)
        .write_buffer_size(protocol::SOCKET_BUFFER)
        .on_upgrade(move |socket| session::run(state, socket, params).instrument(span)))
}
