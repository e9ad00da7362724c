//! What runs on a developer's laptop: the commands that talk to a hookwire
//! server (or to any webhook receiver). Uses only [`crate::core`].
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`reach`]: "could not reach URL" in words, with the fix.
//! - [`http`]: one outgoing HTTP(S) call: a request, a deadline, an outcome.
//! - [`progress`]: progress for long waits, on a terminal only.
//! - [`api`]: the hookwire API as the commands call it.
//! - [`tunnel`]: `hookwire tunnel`: one WebSocket to the server, relays to the local app.
//! - [`new`]: `hookwire new`: mints a bin through the API.
//! - [`tokens`]: `hookwire token`: a team instance's tokens through the API.
//! - [`send`]: `hookwire send`: providers' webhooks, signatures and retry policies.
//! - [`resend`]: `hookwire resend`: a captured request sent again, byte for byte.
//! - [`tail_wait`]: `hookwire tail` and `hookwire wait`.
//! - [`view`]: the full-screen live view of `tunnel` and `tail --ui`.
//! - [`check`]: `hookwire check`: grades a webhook receiver with send's events and signers.

pub mod api;
pub mod check;
pub mod http;
pub mod new;
pub mod progress;
pub mod reach;
pub mod resend;
pub mod send;
pub mod tail_wait;
pub mod tokens;
pub mod tunnel;
pub mod view;
