//! The delivery streams of a session: one per target, each with its own
//! position and window. Requests pass from the database (backlog) or the
//! hub (live) to a stream, which relays them, records them as skipped, or
//! passes over those routed to another target; answers are recorded here.

use std::collections::BTreeSet;
use std::sync::Arc;

use axum::extract::ws::Message;
use tokio::sync::mpsc;

use super::{End, InFlight, Session};
use crate::core::matcher::Subject;
use crate::core::model::{CapturedRequest, Delivery, Edits};
use crate::core::protocol::{Frame, ProtocolError, RelayRequest, RelayResponse};
use crate::core::time::now_millis;
use crate::server::services::hub::Reply;
use crate::server::store::Record;

/// One target's delivery stream.
pub(super) struct Stream {
    pub(super) target: String,
    /// Highest request id passed to this stream (sent, skipped or routed
    /// elsewhere).
    pub(super) last_sent: i64,
    /// Ids sent in the live stream and not answered yet.
    pub(super) live: BTreeSet<i64>,
    /// True while the database may hold requests not yet passed.
    pub(super) behind: bool,
}

impl Stream {
    /// Everything below the oldest unanswered request is delivered.
    fn through(&self) -> i64 {
        self.live
            .first()
            .map_or(self.last_sent, |oldest| oldest - 1)
    }
}

impl Session {
    pub(super) fn all_behind(&mut self) {
        for s in &mut self.streams {
            s.behind = true;
        }
    }

    /// Sends stored requests while a stream's window has room and the
    /// database may hold more. A backlog is refilled once half the window
    /// is answered, not after every answer: one read per 32 requests
    /// instead of one per request.
    pub(super) async fn fill_window(&mut self) -> Result<(), End> {
        // Reset before the reads below, which see every capture committed
        // before them, dropped ones included: the queue can be trusted
        // again after them.
        if self
            .dropped
            .swap(false, std::sync::atomic::Ordering::SeqCst)
        {
            self.all_behind();
        }
        for i in 0..self.streams.len() {
            while self.streams[i].behind && self.streams[i].live.len() <= self.window / 2 {
                let s = &self.streams[i];
                let room = self.window - s.live.len();
                let stream = (self.name.clone(), s.target.clone());
                let batch = self
                    .state
                    .store
                    .pending(self.bin, stream, s.last_sent, room)
                    .await
                    .map_err(|e| End::Store(e.to_string()))?;
                self.streams[i].behind = batch.len() == room;
                // Queued, then flushed once: one write for the whole batch.
                for r in batch {
                    self.pass(i, r).await?;
                }
                self.socket_flush().await?;
            }
        }
        Ok(())
    }

    /// A capture the hub handed over right after its commit, and every
    /// one queued behind it, flushed in one write. Captures come in id
    /// order, so once a stream has read the database up to its `last_sent`
    /// and none was dropped since, the next one can go out at once, with no
    /// read. Otherwise (still reading, window full, one dropped) the next
    /// read picks it up: it was committed before it was handed over.
    pub(super) async fn take_live(
        &mut self,
        first: Arc<CapturedRequest>,
        queue: &mut mpsc::Receiver<Arc<CapturedRequest>>,
    ) -> Result<(), End> {
        let mut next = Some(first);
        let mut fed = false;
        let (n, window) = (self.streams.len(), self.window);
        while let Some(r) = next.take() {
            let dropped = self.dropped.load(std::sync::atomic::Ordering::SeqCst);
            let mut shared = Some(r);
            for i in 0..n {
                let s = &mut self.streams[i];
                let Some(r) = shared.as_ref().filter(|r| r.id > s.last_sent) else {
                    continue;
                };
                if s.behind || dropped || s.live.len() >= window {
                    s.behind = true;
                    continue;
                }
                // The only stream takes the capture itself, others a copy.
                let r = if n == 1 {
                    shared.take().map(Arc::unwrap_or_clone)
                } else {
                    Some(CapturedRequest::clone(r))
                };
                if let Some(r) = r {
                    self.pass(i, r).await?;
                    fed = true;
                }
            }
            next = queue.try_recv().ok();
        }
        if fed {
            self.socket_flush().await?;
        }
        Ok(())
    }

    /// Passes the next request of stream `i` on: relayed when it is the
    /// target's and the filter lets it through; otherwise recorded as
    /// skipped (the target's, filtered out) or only passed over (routed to
    /// another target).
    async fn pass(&mut self, i: usize, r: CapturedRequest) -> Result<(), End> {
        self.streams[i].last_sent = r.id;
        if !self.routing.is_trivial() {
            let owned = self.routing.owns(i, &r.req.path);
            let subject = || {
                Subject::new(
                    &r.req.method,
                    &r.req.path,
                    &r.req.query,
                    &r.req.headers,
                    &r.req.body,
                )
                .with_schema(r.req.schema.as_ref().map(|v| v.valid))
            };
            if !owned || !self.routing.passes(&subject()) {
                let nobody =
                    !owned && !(0..self.streams.len()).any(|t| self.routing.owns(t, &r.req.path));
                // A capture waiting for this tunnel gets the bin's response
                // now, not at its deadline.
                if self.passthrough && (owned || nobody) {
                    self.state
                        .hub
                        .answer(r.id, &self.name, &not_delivered(owned));
                }
                let s = &self.streams[i];
                let record = Record {
                    request_id: r.id,
                    target: s.target.clone(),
                    delivery: owned.then(|| Delivery {
                        tunnel: self.name.clone(),
                        target: s.target.clone(),
                        skipped: true,
                        replay: false,
                        status: None,
                        headers: Vec::new(),
                        body: Default::default(),
                        latency_ms: 0.0,
                        delivered_at: now_millis(),
                        error: None,
                    }),
                    through: Some(s.through()),
                };
                return self.record(record).await;
            }
        }
        self.streams[i].live.insert(r.id);
        self.relay(i, r, None).await
    }

    pub(super) async fn replay(
        &mut self,
        request_id: i64,
        edits: Option<std::sync::Arc<Edits>>,
        reply: Reply,
    ) -> Result<(), End> {
        match self.state.store.request(self.bin, request_id).await {
            Ok(Some(mut r)) => {
                // Validated by the caller; a failure here sends it unedited.
                if let Some(edits) = edits {
                    let _ = edits.apply(&mut r.req);
                }
                // To every target it is routed to; a replay is asked for,
                // so the filter does not apply.
                for i in 0..self.streams.len() {
                    if self.routing.owns(i, &r.req.path) {
                        self.relay(i, r.clone(), Some(reply.clone())).await?;
                    }
                }
                self.socket_flush().await
            }
            // Deleted meanwhile: dropping `reply` tells the caller.
            Ok(None) => Ok(()),
            Err(e) => Err(End::Store(e.to_string())),
        }
    }

    async fn relay(
        &mut self,
        stream: usize,
        r: CapturedRequest,
        replay: Option<Reply>,
    ) -> Result<(), End> {
        self.next_seq += 1;
        let seq = self.next_seq;
        let frame = Frame::Request(RelayRequest {
            seq,
            request_id: r.id,
            method: r.req.method,
            path: r.req.path,
            query: r.req.query,
            headers: r.req.headers,
            replay: replay.is_some(),
            target: stream,
            body: r.req.body,
        });
        self.in_flight.insert(
            seq,
            InFlight {
                stream,
                request_id: r.id,
                replay,
            },
        );
        match frame.encode_checked() {
            Ok(bytes) => self.socket_feed(Message::Binary(bytes.into())).await,
            // Cannot be relayed at all: record it as failed for good rather
            // than let it block the stream.
            Err(e) => {
                self.answered(RelayResponse {
                    seq,
                    status: None,
                    headers: Vec::new(),
                    latency_ms: 0.0,
                    error: Some(format!("not relayed: {e}")),
                    body: Default::default(),
                })
                .await
            }
        }
    }

    /// The client answered: hand the answer on and record it.
    pub(super) async fn answered(&mut self, resp: RelayResponse) -> Result<(), End> {
        let Some(f) = self.in_flight.remove(&resp.seq) else {
            return Err(End::Protocol(ProtocolError::Meta(format!(
                "answer to unknown seq {}",
                resp.seq
            ))));
        };
        let replay = f.replay.is_some();
        let s = &mut self.streams[f.stream];
        let through = if replay {
            None
        } else {
            s.live.remove(&f.request_id);
            if self.passthrough {
                // With several targets, the first answer is the sender's.
                self.state.hub.answer(f.request_id, &self.name, &resp);
            }
            Some(s.through())
        };
        if resp.status.is_some() {
            self.state
                .metrics
                .delivered(std::time::Duration::from_secs_f64(
                    resp.latency_ms.max(0.0) / 1000.0,
                ));
        }
        let target = s.target.clone();
        let delivery = Delivery {
            tunnel: self.name.clone(),
            target: target.clone(),
            skipped: false,
            replay,
            status: resp.status,
            headers: resp.headers.clone(),
            body: resp.body.clone(),
            latency_ms: resp.latency_ms,
            delivered_at: now_millis(),
            error: resp.error.clone(),
        };
        if let Some(reply) = f.replay {
            let _ = reply.send((target.clone(), resp));
        }
        self.record(Record {
            request_id: f.request_id,
            target,
            delivery: Some(delivery),
            through,
        })
        .await
    }

    /// Hands a record to the recorder.
    async fn record(&mut self, record: Record) -> Result<(), End> {
        let records = self
            .records
            .as_ref()
            .ok_or_else(|| End::Store("recorder closed".into()))?;
        records
            .send(record)
            .await
            .map_err(|_| End::Store("recorder closed".into()))
    }
}

/// What a passthrough capture gets when this tunnel will not deliver its
/// request: no status, so the bin's own response answers at once.
fn not_delivered(filtered: bool) -> RelayResponse {
    RelayResponse {
        seq: 0,
        status: None,
        headers: Vec::new(),
        latency_ms: 0.0,
        error: Some(if filtered {
            "left out by the tunnel's --filter".into()
        } else {
            "no route of the tunnel matches".into()
        }),
        body: Default::default(),
    }
}
