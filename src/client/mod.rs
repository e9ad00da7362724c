//! What runs on a developer's laptop: the commands that talk to a hookwire
//! server (or to any webhook receiver). Uses only [`crate::core`].
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`http`]: one outgoing HTTP(S) call: a request, a deadline, an outcome.
//! - [`api`]: the hookwire API as the commands call it.
//! - [`tunnel`]: `hookwire tunnel`: one WebSocket to the server, relays to the local app.
//! - [`new`]: `hookwire new`: mints a bin through the API.
//! - [`send`]: `hookwire send`: providers' webhooks, signatures and retry policies.
//! - [`resend`]: `hookwire resend`: a captured request sent again, byte for byte.
//! - [`tail_wait`]: `hookwire tail` and `hookwire wait`.
//! - [`view`]: the full-screen live view of `tunnel` and `tail --ui`.

pub mod api;
pub mod http;
pub mod new;
pub mod resend;
pub mod send;
pub mod tail_wait;
pub mod tunnel;
pub mod view;
