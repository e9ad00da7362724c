//! The server side of one tunnel connection (`hookwire tunnel` is the
//! other, in [`crate::client::tunnel`]): streams the bin's requests the
//! tunnel has not had (backlog first, then live), records each answer as a
//! delivery together with the tunnel's new position, and hands answers to
//! waiting passthrough captures.
//!
//! A tunnel may deliver to several targets (fan-out, routes): each target
//! is a stream of its own, with its own position and window, so a slow or
//! down target never holds back another. Which requests are a target's,
//! and which the tunnel's filter leaves out, is decided here (see
//! [`crate::core::routing`]): a request left out is recorded as skipped
//! and never crosses the wire; one routed elsewhere only moves the
//! target's position.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Instant;

use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::SinkExt as _;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use uuid::Uuid;

use crate::core::protocol::{
    CLOSE_REPLACED, CLOSE_REVOKED, DEAD_AFTER, Frame, Hello, MAX_IN_FLIGHT, PING_EVERY,
    ProtocolError,
};
use crate::core::routing::Routing;
use crate::server::metrics::Metrics;
use crate::server::services::hub::{Attached, Command, Reply};
use crate::server::services::tokens::Revocation;
use crate::server::state::AppState;
use crate::server::store::{Record, Store};
use deliver::Stream;

mod deliver;

/// Delivery records waiting for the recorder per session: bounds memory
/// when the client answers faster than the database commits.
const RECORDS_IN_FLIGHT: usize = 256;

/// Records written in one writer job at most.
const RECORD_BATCH: usize = 64;

/// WebSocket close codes (RFC 6455 §7.4.1).
const CLOSE_NORMAL: u16 = 1000;
const CLOSE_PROTOCOL: u16 = 1002;
const CLOSE_ERROR: u16 = 1011;

/// Who a session relays for.
pub struct Params {
    /// The bin.
    pub bin: Uuid,
    /// The tunnel's name.
    pub name: String,
    /// Start with the bin's whole history.
    pub from_start: bool,
    /// Captures wait for this tunnel's answers.
    pub passthrough: bool,
    /// The tunnel's target URLs, one delivery stream each.
    pub targets: Vec<String>,
    /// Which target gets which request, and the filter.
    pub routing: Routing,
    /// The session ends when the token that connected it is revoked.
    pub revocation: Revocation,
}

/// A relay the client has not answered yet.
struct InFlight {
    /// Index into the session's streams.
    stream: usize,
    request_id: i64,
    /// Set for replays: who waits for the answer.
    replay: Option<Reply>,
}

/// Why a session ended, for the log and the close frame.
enum End {
    ClientClosed,
    Replaced,
    Dead,
    Protocol(ProtocolError),
    Store(String),
    ServerStopping,
    Revoked,
}

struct Session {
    state: AppState,
    bin: Uuid,
    name: String,
    /// Captures wait for this tunnel's answers; other tunnels never answer
    /// (or cancel) them.
    passthrough: bool,
    socket: WebSocket,
    streams: Vec<Stream>,
    /// Requests each stream sends ahead of answers: the client's share
    /// of [`MAX_IN_FLIGHT`] (all targets together stay within it).
    window: usize,
    routing: Routing,
    revocation: Revocation,
    in_flight: HashMap<u64, InFlight>,
    next_seq: u64,
    /// Set by the hub when a live capture did not fit in the session's
    /// queue (see [`Session::take_live`]).
    dropped: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// To the recorder; `None` once the session ends.
    records: Option<mpsc::Sender<Record>>,
    recorder: JoinHandle<()>,
    last_heard: Instant,
}

/// Runs one tunnel connection to its end.
pub async fn run(state: AppState, socket: WebSocket, p: Params) {
    let slot = state.hub.claim(p.bin, &p.name).await;
    // Then the cluster's: the name's older session on another replica ends
    // and records its answers before this one reads the position.
    let wanted = || !slot.superseded();
    let held = state
        .store
        .hold_name(p.bin, &p.name, slot.ticket(), &wanted)
        .await;
    let opened = match held {
        Ok(Some(hold)) => state
            .store
            .open_tunnel(p.bin, p.name.clone(), p.targets.clone(), p.from_start)
            .await
            .map(|opened| Some((hold, opened))),
        // A newer connection took the name while this one waited.
        Ok(None) => Ok(None),
        Err(e) => Err(e),
    };
    let (mut hold, opened) = match opened {
        Ok(Some(opened)) => opened,
        Ok(None) => {
            tracing::info!(bin = %p.bin, tunnel = %p.name, reason = "replaced by a newer connection with the same --name", "tunnel closed");
            let mut socket = socket;
            let _ = socket
                .send(close(
                    CLOSE_REPLACED,
                    "replaced by a newer connection with the same --name",
                ))
                .await;
            return;
        }
        Err(e) => {
            tracing::error!(error = %e, "opening tunnel failed");
            let mut socket = socket;
            let _ = socket
                .send(close(
                    CLOSE_ERROR,
                    "server database error; reconnecting may help",
                ))
                .await;
            return;
        }
    };
    let through = opened.positions;
    let mut attached = state.hub.attach(p.bin, &p.name, p.passthrough, slot);
    if let Err(e) = hold.attached(p.bin, &p.name, p.passthrough).await {
        // Only other replicas' view of this session suffers.
        tracing::warn!(error = %e, "announcing the tunnel to other replicas");
    }
    let (records_tx, records_rx) = mpsc::channel(RECORDS_IN_FLIGHT);
    let recorder = tokio::spawn(record(
        state.store.clone(),
        state.metrics.clone(),
        (p.bin, p.name.clone()),
        p.passthrough,
        records_rx,
    ));
    tracing::info!(bin = %p.bin, tunnel = %p.name, ?through, targets = p.targets.len(), passthrough = p.passthrough, "tunnel connected");
    let streams: Vec<Stream> = p
        .targets
        .into_iter()
        .zip(&through)
        .map(|(target, &last_sent)| Stream {
            target,
            last_sent,
            live: BTreeSet::new(),
            behind: true,
        })
        .collect();
    let mut s = Session {
        state,
        bin: p.bin,
        name: p.name,
        passthrough: p.passthrough,
        socket,
        window: (MAX_IN_FLIGHT / streams.len().max(1)).max(4),
        streams,
        routing: p.routing,
        revocation: p.revocation,
        in_flight: HashMap::new(),
        next_seq: 0,
        dropped: attached.dropped.clone(),
        records: Some(records_tx),
        recorder,
        last_heard: Instant::now(),
    };
    let hello = Frame::Hello(Hello {
        tunnel: s.name.clone(),
        bin_id: s.bin.to_string(),
        delivered_through: through.iter().copied().min().unwrap_or(0),
        passthrough: p.passthrough,
        max_in_flight: s.window * s.streams.len(),
        history_skipped: opened.skipped,
    });
    let end = match s.send(hello).await {
        Ok(()) => s.serve(&mut attached).await,
        Err(e) => e,
    };
    let (code, reason) = match &end {
        End::ClientClosed => (None, "the client closed the connection".into()),
        End::Replaced => (
            Some(CLOSE_REPLACED),
            "replaced by a newer connection with the same --name".into(),
        ),
        End::ServerStopping => (Some(CLOSE_NORMAL), "server shutting down".into()),
        End::Revoked => (Some(CLOSE_REVOKED), "its token was revoked".into()),
        End::Dead => (
            None,
            format!(
                "idle: no message for {} s (ping timeout)",
                DEAD_AFTER.as_secs()
            ),
        ),
        End::Protocol(e) => (Some(CLOSE_PROTOCOL), format!("protocol error: {e}")),
        End::Store(e) => (Some(CLOSE_ERROR), format!("server database error: {e}")),
    };
    match &end {
        End::Protocol(_) | End::Store(_) | End::Dead => {
            tracing::warn!(bin = %s.bin, tunnel = %s.name, %reason, "tunnel closed");
        }
        _ => tracing::info!(bin = %s.bin, tunnel = %s.name, %reason, "tunnel closed"),
    }
    if let Some(code) = code {
        let _ = tokio::time::timeout(PING_EVERY, s.socket.send(close(code, &reason))).await;
    }
    // Captures waiting on this tunnel fall back to the bin's response now
    // rather than at their deadline.
    if s.passthrough {
        for f in s.in_flight.values() {
            s.state.hub.forget_answer(f.request_id);
        }
    }
    // Every answer received is recorded before the name is free again, so
    // a reconnect resumes exactly after it.
    s.records = None;
    let _ = (&mut s.recorder).await;
    drop(attached);
    drop(hold);
}

/// A session's recorder: writes its answers as deliveries, as many as
/// are waiting in one writer job, until the session drops its sender.
async fn record(
    store: Store,
    metrics: Arc<Metrics>,
    (bin, name): (Uuid, String),
    passthrough: bool,
    mut rx: mpsc::Receiver<Record>,
) {
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while batch.len() < RECORD_BATCH {
            match rx.try_recv() {
                Ok(r) => batch.push(r),
                Err(_) => break,
            }
        }
        let n = batch.len();
        let recorded = store
            .record_deliveries(bin, name.clone(), batch, passthrough)
            .await;
        if let Err(e) = recorded {
            metrics.db_error();
            tracing::error!(error = %e, records = n, "recording deliveries failed");
        }
    }
}

fn close(code: u16, reason: &str) -> Message {
    // Close reasons are limited to 123 bytes.
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

impl Session {
    async fn serve(&mut self, attached: &mut Attached) -> End {
        let mut ping = tokio::time::interval(PING_EVERY);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut stopping = self.state.stopping.subscribe();
        loop {
            if *stopping.borrow_and_update() {
                return End::ServerStopping;
            }
            if *attached.kicked.borrow_and_update() != attached.generation {
                return End::Replaced;
            }
            if let Err(end) = self.fill_window().await {
                return end;
            }
            tokio::select! {
                () = attached.wake.notified() => self.all_behind(),
                Some(r) = attached.live.recv() => {
                    if let Err(end) = self.take_live(r, &mut attached.live).await {
                        return end;
                    }
                }
                cmd = attached.commands.recv() => match cmd {
                    Some(Command::Replay { request_id, edits, reply }) => {
                        if let Err(end) = self.replay(request_id, edits, reply).await {
                            return end;
                        }
                    }
                    None => return End::Replaced,
                },
                res = attached.kicked.changed() => {
                    if res.is_err() || *attached.kicked.borrow_and_update() != attached.generation {
                        return End::Replaced;
                    }
                }
                msg = self.socket.recv() => {
                    self.last_heard = Instant::now();
                    match msg {
                        Some(Ok(Message::Binary(bytes))) => match Frame::decode(bytes) {
                            Ok(Frame::Response(r)) => {
                                if let Err(end) = self.answered(r).await {
                                    return end;
                                }
                            }
                            Ok(_) => return End::Protocol(ProtocolError::Meta("only response messages go client to server".into())),
                            Err(e) => return End::Protocol(e),
                        },
                        Some(Ok(Message::Text(_))) => return End::Protocol(ProtocolError::Text),
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                        Some(Ok(Message::Close(_))) | None => return End::ClientClosed,
                        Some(Err(e)) => {
                            tracing::debug!(error = %e, "tunnel read failed");
                            return End::ClientClosed;
                        }
                    }
                }
                _ = ping.tick() => {
                    if self.last_heard.elapsed() > DEAD_AFTER {
                        return End::Dead;
                    }
                    if self.socket_send(Message::Ping(Default::default())).await.is_err() {
                        return End::Dead;
                    }
                }
                _ = stopping.changed() => return End::ServerStopping,
                () = self.revocation.wait() => return End::Revoked,
            }
        }
    }

    async fn send(&mut self, frame: Frame) -> Result<(), End> {
        self.socket_send(Message::Binary(frame.encode().into()))
            .await
    }

    /// Queues a message without flushing (see [`Self::socket_flush`]).
    async fn socket_feed(&mut self, msg: Message) -> Result<(), End> {
        match tokio::time::timeout(DEAD_AFTER, self.socket.feed(msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::ClientClosed),
            Err(_) => Err(End::Dead),
        }
    }

    /// Writes what was queued.
    async fn socket_flush(&mut self) -> Result<(), End> {
        match tokio::time::timeout(DEAD_AFTER, self.socket.flush()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::ClientClosed),
            Err(_) => Err(End::Dead),
        }
    }

    /// Sends with a deadline: a peer that stopped reading is dead.
    async fn socket_send(&mut self, msg: Message) -> Result<(), End> {
        match tokio::time::timeout(DEAD_AFTER, self.socket.send(msg)).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(_)) => Err(End::ClientClosed),
            Err(_) => Err(End::Dead),
        }
    }
}
