//! hookwire: a self-hosted webhook inspector and tunnel in one binary.
//!
//! # Layout
//! Three sides, and the command line on top. A path says which side a line
//! is on; modules depend one way, down each list (`tests/it/layout.rs` checks
//! it, external crates included):
//! - [`core`]: what both sides share, no server or client machinery: plain
//!   data, the API's view types, the wire protocol, the match language, the
//!   signature schemes.
//! - [`client`]: what runs on a laptop: the API and HTTP clients, `tunnel`,
//!   `new`, `send`, `resend`, `tail` and `wait`. Uses only [`core`].
//! - [`server`]: `hookwire serve`: the store, the services over it, capture,
//!   tunnel sessions, the inspector and API, the accept loop. Uses only
//!   [`core`].
//! - [`cli`]: the command line (`serve`, `tunnel`, `new`, `send`, …), parsed
//!   with clap into the configs of both sides.

#![warn(missing_docs)]

pub mod cli;
pub mod client;
pub mod core;
pub mod server;
