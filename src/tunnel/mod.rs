//! The tunnel's wire protocol and its client, `hookwire tunnel`, which holds
//! one WebSocket to the server and relays each captured request to a local
//! app. The client shares only [`protocol`] (and the plain helpers at the
//! bottom of the crate) with the server; the server's side of a connection
//! is [`crate::session`], its registry [`crate::hub`].
//!
//! - [`protocol`]: the wire format, limits, timeouts and names.
//! - [`client`]: the `hookwire tunnel` command.
//! - [`local_app`]: the client's calls to the local app.
//! - [`quick_ack`]: connections to the app that ACK at once (no delayed-ACK stalls).
//! - [`routing`]: targets, routes and filter: which target gets which request.

pub mod client;
pub mod local_app;
pub mod protocol;
pub mod quick_ack;
pub mod routing;
