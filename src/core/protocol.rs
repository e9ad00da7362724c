//! The tunnel's wire protocol, spoken over one WebSocket per client.
//!
//! # Connecting
//! The client upgrades `GET /api/bins/{bin_id}/tunnel?v=2&name=NAME[&from_start=1]
//! [&passthrough=1][&streams=JSON]` (`streams`: its targets, routes and
//! filter, see [`super::routing::Streams`]; absent, one unnamed target),
//! with `Authorization: Bearer TOKEN` when the server has an access token (never in the URL, which proxies log). A client speaking
//! another version gets `400` before the upgrade; a bad token `401`.
//!
//! # Messages
//! Every message is one binary WebSocket message:
//!
//! ```text
//! u8   version        (FRAME_VERSION; anything else closes the tunnel)
//! u8   kind           1 hello, 2 request, 3 response
//! u32  meta length    big-endian, at most MAX_META
//! ...  meta           UTF-8 JSON object, fields below
//! ...  body           the rest of the message: raw body bytes, never re-encoded
//! ```
//!
//! - `hello` (server → client, first message): `{tunnel, bin_id,
//!   delivered_through, passthrough, max_in_flight}`.
//! - `request` (server → client): `{seq, request_id, method, path, query,
//!   headers, replay, target}` + the captured body; `target` indexes the
//!   targets the client listed in the upgrade's `streams` parameter. `seq` numbers the relays of
//!   this connection; the same request may come again (replay, or after a
//!   crash) with a new `seq` and the same `request_id`.
//! - `response` (client → server): `{seq, status, headers, latency_ms,
//!   error}` + the app's body. `status` is null and `error` set when the
//!   relay failed for good.
//!
//! # Limits and liveness
//! The server has at most `max_in_flight` requests unanswered per client,
//! so a large backlog streams without unbounded memory. tungstenite's
//! message and frame limits are set to the body limit plus [`MAX_META`]
//! (its defaults are 64/16 MiB). Both sides ping every [`PING_EVERY`] and
//! drop a connection silent for [`DEAD_AFTER`]. A message that does not
//! decode closes that tunnel only, with the reason as close frame text.

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

use crate::core::headers::Header;

/// The protocol version this build speaks: 2 added targets (routes,
/// filters, fan-out). A client of version 2 must not reach a server of
/// version 1, which would ignore its routing and deliver everything to
/// its first `--to`; a version-1 client still connects (one target).
pub const VERSION: u8 = 2;

/// The upgrade versions a server accepts.
pub const ACCEPTED: [u8; 2] = [1, 2];

/// The first byte of every message: the framing, unchanged since 1.
pub const FRAME_VERSION: u8 = 1;

/// Largest metadata object. A captured head is at most 64 KiB, but stored
/// headers grow: each byte that is not UTF-8 becomes U+FFFD (3 bytes), and
/// JSON escapes `"` and `\` (2 bytes): 3 × 64 KiB plus field names.
pub const MAX_META: usize = 512 * 1024;

/// Fixed bytes before the metadata.
const PREFIX: usize = 6;

/// How often each side pings an idle connection (keeps proxies from
/// closing it, and proves the peer alive).
pub const PING_EVERY: Duration = Duration::from_secs(10);

/// A connection with no message (pongs included) for this long is dead.
pub const DEAD_AFTER: Duration = Duration::from_secs(30);

/// Requests the server sends ahead of the client's answers.
pub const MAX_IN_FLIGHT: usize = 64;

/// Read and write buffer of a tunnel WebSocket (larger messages still
/// pass; this is only what an idle connection holds).
pub const SOCKET_BUFFER: usize = 8 * 1024;

/// Close code of a tunnel displaced by a newer connection with the same
/// name (4000-4999 are for applications): the older client stops rather
/// than reconnect and displace the newer one in turn.
pub const CLOSE_REPLACED: u16 = 4000;

/// Close code of a tunnel whose token was revoked (`hookwire token
/// revoke`): the client stops, since the token is refused from then on.
pub const CLOSE_REVOKED: u16 = 4001;

/// Header naming the stored request's id: on every capture's answer, and on
/// every request the client relays to the local app.
pub const REQUEST_ID_HEADER: &str = "x-hookwire-request-id";

/// A tunnel name: what `--name` and the upgrade's `name=` accept.
pub fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// The largest message either side accepts, for a server body limit.
pub fn max_message(max_body_bytes: usize) -> usize {
    max_body_bytes + MAX_META + PREFIX
}

/// First message of the server: what the client is connected to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hello {
    /// The tunnel name the server knows this client by.
    pub tunnel: String,
    /// The bin relayed.
    pub bin_id: String,
    /// Every request up to this id was delivered to this name before.
    pub delivered_through: i64,
    /// Whether captures wait for this client's answers.
    pub passthrough: bool,
    /// Requests the server will send ahead of answers.
    pub max_in_flight: usize,
    /// Requests already in the bin that this name will not receive: it is
    /// new to the bin and started at its end (no `--from-start`). Absent
    /// from older servers (0), ignored by older clients.
    #[serde(default)]
    pub history_skipped: u64,
}

/// A captured request to relay to the local app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayRequest {
    /// This relay's number on this connection; the answer carries it back.
    pub seq: u64,
    /// The stored request's id (sent to the app as `X-Hookwire-Request-Id`).
    pub request_id: i64,
    /// HTTP method as captured.
    pub method: String,
    /// Sub-path after the bin id, as captured.
    pub path: String,
    /// Raw query string, without `?`.
    pub query: String,
    /// Headers in arrival order.
    pub headers: Vec<Header>,
    /// Sent again on request rather than in the live stream.
    pub replay: bool,
    /// The target to deliver it to: an index into the routing's targets
    /// (see [`super::routing::Streams`]).
    #[serde(default)]
    pub target: usize,
    /// The exact captured body.
    #[serde(skip)]
    pub body: Bytes,
}

/// The local app's answer to a relayed request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RelayResponse {
    /// The `seq` of the request answered.
    pub seq: u64,
    /// The app's status; `None` when the relay failed for good.
    pub status: Option<u16>,
    /// The app's headers.
    pub headers: Vec<Header>,
    /// From sending the request to the app to its whole answer.
    pub latency_ms: f64,
    /// Why the relay failed for good.
    pub error: Option<String>,
    /// The app's body.
    #[serde(skip)]
    pub body: Bytes,
}

/// One protocol message.
#[derive(Debug, Clone, PartialEq)]
pub enum Frame {
    /// Server → client, first.
    Hello(Hello),
    /// Server → client.
    Request(RelayRequest),
    /// Client → server.
    Response(RelayResponse),
}

/// Why a message was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProtocolError {
    /// Fewer bytes than the fixed prefix.
    #[error("message of {0} bytes is shorter than the {PREFIX}-byte prefix")]
    Short(usize),
    /// Another protocol version.
    #[error(
        "message framing version {0} is not supported (this side speaks {FRAME_VERSION}); upgrade hookwire"
    )]
    Version(u8),
    /// Unknown kind byte.
    #[error("unknown message kind {0}")]
    Kind(u8),
    /// Metadata length past the limit or the message.
    #[error("metadata length {0} is over the limit or past the end of the message")]
    MetaLength(usize),
    /// Metadata that is not the JSON its kind requires.
    #[error("bad metadata: {0}")]
    Meta(String),
    /// A body on a kind that has none.
    #[error("a hello message carries no body")]
    UnexpectedBody,
    /// Text instead of binary.
    #[error("text messages are not part of the protocol")]
    Text,
}

const HELLO: u8 = 1;
const REQUEST: u8 = 2;
const RESPONSE: u8 = 3;

impl Frame {
    /// The message bytes, refused when the metadata is over [`MAX_META`]
    /// (the peer would refuse the message).
    pub fn encode_checked(&self) -> Result<Vec<u8>, ProtocolError> {
        let bytes = self.encode();
        let meta_len = u32::from_be_bytes([bytes[2], bytes[3], bytes[4], bytes[5]]) as usize;
        if meta_len > MAX_META {
            return Err(ProtocolError::MetaLength(meta_len));
        }
        Ok(bytes)
    }

    /// The message bytes.
    pub fn encode(&self) -> Vec<u8> {
        let (kind, meta, body): (u8, Result<Vec<u8>, _>, &[u8]) = match self {
            Frame::Hello(h) => (HELLO, serde_json::to_vec(h), &[]),
            Frame::Request(r) => (REQUEST, serde_json::to_vec(r), &r.body),
            Frame::Response(r) => (RESPONSE, serde_json::to_vec(r), &r.body),
        };
        // Plain structs of strings and numbers always serialise.
        let meta = meta.unwrap_or_default();
        let mut out = Vec::with_capacity(PREFIX + meta.len() + body.len());
        out.push(FRAME_VERSION);
        out.push(kind);
        out.extend_from_slice(&u32::try_from(meta.len()).unwrap_or(u32::MAX).to_be_bytes());
        out.extend_from_slice(&meta);
        out.extend_from_slice(body);
        out
    }

    /// Parses one message; the body is a cheap slice of `msg`.
    pub fn decode(msg: Bytes) -> Result<Frame, ProtocolError> {
        if msg.len() < PREFIX {
            return Err(ProtocolError::Short(msg.len()));
        }
        if msg[0] != FRAME_VERSION {
            return Err(ProtocolError::Version(msg[0]));
        }
        let kind = msg[1];
        let meta_len = u32::from_be_bytes([msg[2], msg[3], msg[4], msg[5]]) as usize;
        if meta_len > MAX_META || PREFIX + meta_len > msg.len() {
            return Err(ProtocolError::MetaLength(meta_len));
        }
        let meta = &msg[PREFIX..PREFIX + meta_len];
        let body = msg.slice(PREFIX + meta_len..);
        let bad = |e: serde_json::Error| ProtocolError::Meta(e.to_string());
        match kind {
            HELLO if body.is_empty() => {
                Ok(Frame::Hello(serde_json::from_slice(meta).map_err(bad)?))
            }
            HELLO => Err(ProtocolError::UnexpectedBody),
            REQUEST => {
                let mut r: RelayRequest = serde_json::from_slice(meta).map_err(bad)?;
                r.body = body;
                Ok(Frame::Request(r))
            }
            RESPONSE => {
                let mut r: RelayResponse = serde_json::from_slice(meta).map_err(bad)?;
                r.body = body;
                Ok(Frame::Response(r))
            }
            other => Err(ProtocolError::Kind(other)),
        }
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn the_request_id_header_is_one_a_response_may_not_set() {
        assert!(crate::core::shapes::RESERVED_RESPONSE_HEADERS.contains(&super::REQUEST_ID_HEADER));
    }

    use super::*;

    fn request() -> RelayRequest {
        RelayRequest {
            seq: 7,
            request_id: 42,
            method: "POST".into(),
            path: "/a/b".into(),
            query: "x=1&x=2".into(),
            headers: vec![("x-dup".into(), "1".into()), ("x-dup".into(), "2".into())],
            replay: false,
            target: 0,
            body: Bytes::from_static(b"\x00\xff{\"raw\":true}"),
        }
    }

    #[test]
    fn an_older_servers_hello_still_reads() {
        let old = r#"{"tunnel":"t","bin_id":"b","delivered_through":1,"passthrough":false,"max_in_flight":8}"#;
        let hello: Hello = serde_json::from_str(old).expect("an older hello");
        assert_eq!(hello.history_skipped, 0);
    }

    #[test]
    fn frames_round_trip_with_raw_bodies() {
        let frames = [
            Frame::Hello(Hello {
                tunnel: "laptop".into(),
                bin_id: "b".into(),
                delivered_through: 9,
                passthrough: true,
                max_in_flight: 64,
                history_skipped: 3,
            }),
            Frame::Request(request()),
            Frame::Response(RelayResponse {
                seq: 7,
                status: Some(201),
                headers: vec![("content-type".into(), "text/plain".into())],
                latency_ms: 1.5,
                error: None,
                body: Bytes::from_static(b"created"),
            }),
        ];
        for f in frames {
            let bytes = f.encode();
            assert_eq!(Frame::decode(bytes.into()), Ok(f));
        }
    }

    #[test]
    fn the_body_is_not_encoded() {
        let bytes = Frame::Request(request()).encode();
        assert!(bytes.ends_with(b"\x00\xff{\"raw\":true}"));
    }

    #[test]
    fn malformed_messages_are_refused_with_a_reason() {
        let good = Frame::Request(request()).encode();
        let cases: Vec<(Vec<u8>, ProtocolError)> = vec![
            (vec![1, 2], ProtocolError::Short(2)),
            ([&[9u8][..], &good[1..]].concat(), ProtocolError::Version(9)),
            (
                [&[1u8, 77][..], &good[2..]].concat(),
                ProtocolError::Kind(77),
            ),
            (
                vec![1, 2, 0xff, 0xff, 0xff, 0xff],
                ProtocolError::MetaLength(u32::MAX as usize),
            ),
            (vec![1, 2, 0, 0, 0, 9, b'{'], ProtocolError::MetaLength(9)),
            (
                vec![1, 1, 0, 0, 0, 2, b'{', b'}', b'x'],
                ProtocolError::UnexpectedBody,
            ),
        ];
        for (bytes, want) in cases {
            assert_eq!(Frame::decode(bytes.into()), Err(want));
        }
        assert!(matches!(
            Frame::decode(vec![1, 3, 0, 0, 0, 2, b'{', b'}'].into()),
            Err(ProtocolError::Meta(_))
        ));
    }

    proptest::proptest! {
        /// Arbitrary bytes never panic the decoder: a bad message is an
        /// error that closes one tunnel, nothing worse.
        #[test]
        fn any_bytes_decode_or_fail_cleanly(bytes in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            let _ = Frame::decode(bytes.into());
        }

        /// Prefixes that look right with arbitrary metadata and bodies.
        #[test]
        fn well_framed_noise_fails_cleanly(
            kind in 0u8..5,
            meta in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64),
        ) {
            let mut msg = vec![FRAME_VERSION, kind];
            msg.extend_from_slice(&(meta.len() as u32).to_be_bytes());
            msg.extend_from_slice(&meta);
            msg.extend_from_slice(&body);
            let _ = Frame::decode(msg.into());
        }

        /// Any request survives encoding with its body byte for byte.
        #[test]
        fn requests_round_trip(
            path in ".{0,40}",
            headers in proptest::collection::vec((".{0,12}", ".{0,24}"), 0..6),
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..256),
        ) {
            let r = RelayRequest { path, headers, body: body.into(), ..request() };
            let f = Frame::Request(r);
            proptest::prop_assert_eq!(Frame::decode(f.encode().into()), Ok(f));
        }
    }
}
