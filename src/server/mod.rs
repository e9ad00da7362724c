//! `hookwire serve`: captures, stores and shows webhooks, and holds the
//! server side of tunnels. Uses only [`crate::core`].
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`acme`]: HTTPS by itself: certificates from an ACME CA (`--acme-domain`).
//! - [`config`]: [`config::ServerConfig`]: what `serve` was asked to do.
//! - [`tls`]: the certificate for `--tls-cert` / `--tls-key`.
//! - [`assets`]: the embedded static files and their hashed URLs.
//! - [`metrics`]: the counters behind `/metrics`.
//! - [`limits`]: per-bin rate limit and the stored-bytes quota.
//! - [`store`]: one interface over SQLite (embedded default) and PostgreSQL (replicas).
//! - [`services`]: bins, live updates, the tunnel hub, replicas, background jobs.
//! - [`state`]: [`state::AppState`], the bundle of handles every handler gets.
//! - [`error`]: [`error::AppError`], the one error → status mapping.
//! - [`capture`]: the capture routes (limits, store, answer, passthrough).
//! - [`session`]: the server side of one tunnel connection.
//! - [`replay`]: a stored request sent to the connected tunnels again.
//! - [`web`]: inspector pages, JSON API, export/import, tunnel upgrade, static files.
//! - [`http`]: the router, the accept loop with hyper's limits, shutdown.

pub mod acme;
pub mod assets;
pub mod capture;
pub mod config;
pub mod error;
pub mod http;
pub mod limits;
pub mod metrics;
pub mod replay;
pub mod services;
pub mod session;
pub mod state;
pub mod store;
pub mod tls;
pub mod web;
