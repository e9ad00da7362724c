//! What the client and the server share: plain data and pure functions,
//! no server or client machinery (no axum, no database, no HTTP client).
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`headers`]: the `(name, value)` header type and the one lookup.
//! - [`time`]: timestamps as stored (`Millis`) and shown (RFC 3339).
//! - [`urls`]: a sub-path and query appended to a base URL, one rule.
//! - [`secret`]: a secret whose `Debug` prints a mask.
//! - [`scope`]: what a token may do (read, tunnel, write, admin).
//! - [`term`]: what an output stream may carry: colour and progress on a terminal only.
//! - [`tls`]: the trust roots of outgoing TLS connections (rustls).
//! - [`shapes`]: what the API accepts, as JSON Schema fragments beside the checks they describe.
//! - [`verify`]: signature schemes (check and sign), one file per scheme.
//! - [`idempotency`]: the sender's id of a delivery; grouping retries.
//! - [`matcher`]: the one match language: conditions on a request.
//! - [`payload_schema`]: bins' JSON Schemas, compiled, and a body's verdict.
//! - [`model`]: bins, requests, deliveries, response configs and rules as written.
//! - [`pasted`]: what users paste (capture, inspector, request, API, server URLs; `--to 3000`).
//! - [`views`]: the API's view types, written by the server and read by the client.
//! - [`protocol`]: the tunnel's wire format, limits, timeouts and names.
//! - [`routing`]: a tunnel's targets, routes and filter: which target gets which request.

pub mod headers;
pub mod idempotency;
pub mod matcher;
pub mod model;
pub mod pasted;
pub mod payload_schema;
pub mod protocol;
pub mod routing;
pub mod scope;
pub mod secret;
pub mod shapes;
pub mod term;
pub mod time;
pub mod tls;
pub mod urls;
pub mod verify;
pub mod views;
