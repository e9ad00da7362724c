//! hookwire: a self-hosted webhook inspector and tunnel in one binary.
//!
//! # Layout
//! Modules depend one way, down this list's layers: a module only uses
//! modules of the layers below its own (`tests/layout.rs` checks it).
//!
//! Plain data and pure functions:
//! - [`headers`]: the `(name, value)` header type and the one lookup.
//! - [`time`]: timestamps as stored (`Millis`) and shown (RFC 3339).
//! - [`urls`]: a sub-path and query appended to a base URL, one rule.
//! - [`config`]: [`config::ServerConfig`], [`config::TunnelConfig`], masked secrets.
//! - [`assets`]: the embedded static files and their hashed URLs.
//! - [`metrics`]: the counters behind `/metrics`.
//! - [`limits`]: per-bin rate limit and the stored-bytes quota.
//! - [`verify`]: signature checks, one file per scheme, and the one list of schemes.
//! - [`idempotency`]: the sender's id of a delivery; grouping retries.
//! - [`matcher`]: the one match language: conditions on a request (filters, routes, rules).
//! - [`model`]: bins, requests, deliveries, response configs and rules as written.
//! - [`rules`]: response rules compiled: which answers a capture, templates.
//!
//! The tunnel client (shares only [`tunnel::protocol`] with the server):
//! - [`tls`]: rustls configs for `--tls-cert`/`--tls-key` and `wss://`.
//! - [`tunnel`]: the wire protocol, `hookwire tunnel`, its calls to the local app.
//! - [`outbound`]: the command line's HTTP(S) calls: one request, a deadline, an outcome.
//! - [`remote`]: the hookwire API as `new`, `tail`, `wait` and `resend` call it.
//! - [`mint`]: `hookwire new`, the client side of `POST /api/bins`.
//! - [`send`]: `hookwire send`: providers' webhooks, signatures and retry policies.
//! - [`follow`]: `hookwire tail` and `hookwire wait`.
//! - [`resend`]: `hookwire resend`: a captured request sent again, byte for byte.
//!
//! The store and the services over it:
//! - [`store`]: one interface over SQLite (embedded default) and PostgreSQL (replicas).
//! - [`error`]: [`error::AppError`], the one error → status mapping.
//! - [`bins`]: the bin cache captures read, and every change to a bin.
//! - [`live`]: the broadcast of new captures to open inspector pages.
//! - [`hub`]: connected tunnels: wake-ups, passthrough waiters, one connection per name.
//! - [`cluster`]: other replicas' captures wake this one's tunnels and pages.
//! - [`retention`]: the background purge of old requests and the quota recount.
//! - [`indexer`]: fills the full-text search index in the background.
//! - [`state`]: [`state::AppState`], the bundle of handles every handler gets.
//!
//! What requests do:
//! - [`capture`]: the capture routes (limits, store, answer, passthrough).
//! - [`session`]: the server side of one tunnel connection.
//! - [`replay`]: a stored request sent to the connected tunnels again.
//! - [`web`]: inspector pages, JSON API, export/import, tunnel upgrade, static files.
//! - [`server`]: the router, the accept loop with hyper's limits, shutdown.
//! - [`cli`]: the command line (`serve`, `tunnel`, `new`, `send`, …), parsed with clap.

#![warn(missing_docs)]

pub mod assets;
pub mod bins;
pub mod capture;
pub mod cli;
pub mod cluster;
pub mod config;
pub mod error;
pub mod follow;
pub mod headers;
pub mod hub;
pub mod idempotency;
pub mod indexer;
pub mod limits;
pub mod live;
pub mod matcher;
pub mod metrics;
pub mod mint;
pub mod model;
pub mod outbound;
pub mod remote;
pub mod replay;
pub mod resend;
pub mod retention;
pub mod rules;
pub mod send;
pub mod server;
pub mod session;
pub mod state;
pub mod store;
pub mod time;
pub mod tls;
pub mod tunnel;
pub mod urls;
pub mod verify;
pub mod web;
