//! The services over the store: what handlers and sessions call instead of
//! opening the store themselves.
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`rules`]: response rules compiled: which answers a capture, templates.
//! - [`bins`]: the bin cache captures read, and every change to a bin.
//! - [`live`]: the broadcast of new captures to open inspector pages.
//! - [`hub`]: connected tunnels: wake-ups, passthrough waiters, one connection per name.
//! - [`tokens`]: a team instance's tokens: made, revoked, looked up from memory.
//! - [`audit`]: the audit log of every change.
//! - [`cluster`]: other replicas' captures wake this one's tunnels and pages.
//! - [`retention`]: the background purge of old requests and the quota recount.
//! - [`indexer`]: fills the full-text search index in the background.

pub mod audit;
pub mod bins;
pub mod cluster;
pub mod hub;
pub mod indexer;
pub mod live;
pub mod retention;
pub mod rules;
pub mod tokens;
