//! hookwire: a self-hosted webhook inspector and tunnel in one binary.
//!
//! # Layout
//! - [`cli`]: the command line (`serve`, `new`), parsed with clap.
//! - [`config`]: [`config::ServerConfig`], the plain settings `serve` runs with.
//! - [`server`]: the router, the accept loop with hyper's limits, shutdown.
//! - [`capture`]: the capture handler (limits, store, answer).
//! - [`store`]: SQLite: the group-committing writer thread, readers, migrations.
//! - [`model`]: bins, requests, response configs: plain data.
//! - [`web`]: inspector pages, JSON API, static assets, security guards.
//! - [`tls`]: rustls configs for `--tls-cert`/`--tls-key` and `wss://`.
//! - [`tunnel`]: the WebSocket tunnel: protocol, server hub and sessions, client.
//! - [`verify`]: signature checks per scheme (Standard Webhooks, Stripe, GitHub, …).
//! - [`retention`]: the background purge of old requests.
//! - [`indexer`]: fills the full-text search index in the background.
//! - [`limits`]: per-bin rate limit and the stored-bytes quota.
//! - [`metrics`]: the counters behind `/metrics`.
//! - [`mint`]: `hookwire new`, the client side of `POST /api/bins`.

#![warn(missing_docs)]

pub mod capture;
pub mod cli;
pub mod config;
pub mod error;
pub mod indexer;
pub mod limits;
pub mod metrics;
pub mod mint;
pub mod model;
pub mod retention;
pub mod server;
pub mod state;
pub mod store;
pub mod tls;
pub mod tunnel;
pub mod verify;
pub mod web;
