//! The integration tests: one test binary, one module per capability.
//!
//! One binary links the crate once, where a binary per file linked it once
//! per file. Every test runs in this one process: what the harness keeps
//! per process (`common::pg`'s throwaway PostgreSQL cluster) is shared by
//! all tests, each test server still getting a database of its own.
//!
//! Run one module's tests with `cargo test --test it MODULE::`, e.g.
//! `cargo test --test it layout::`.

mod common;

mod access;
mod acme;
mod answers;
mod api;
mod api_contract;
mod api_docs;
mod browser;
mod capture;
mod check;
mod errors;
mod export;
mod follow;
mod forms;
mod hostile;
mod http2;
mod inspector;
mod layout;
mod lifecycle;
mod live;
mod migrate;
mod navigation;
mod openapi;
mod output;
mod pasted;
mod replicas;
mod routing;
mod rules;
mod schemas;
mod search;
mod send;
mod signatures;
mod team;
mod terminal;
mod tls;
mod tunnel;
