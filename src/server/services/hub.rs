//! The server's registry of connected tunnels: who to wake when a bin
//! captures, which captures wait for an app's answer (passthrough), and
//! one live connection per tunnel name.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::{Notify, OwnedMutexGuard, mpsc, oneshot, watch};
use uuid::Uuid;

use crate::core::model::{CapturedRequest, Edits};
use crate::core::protocol::RelayResponse;

/// Where a replay's answers go: one `(target, answer)` per target the
/// request was sent to; closed once all answered or the session ended.
pub type Reply = mpsc::UnboundedSender<(String, RelayResponse)>;

/// What a connected session can be told to do.
#[derive(Debug)]
pub enum Command {
    /// Send this stored request again; answer on `reply`.
    Replay {
        /// The stored request.
        request_id: i64,
        /// Changes to make before sending it (edit and replay).
        edits: Option<Arc<Edits>>,
        /// The apps' answers, or nothing if the tunnel went away first.
        reply: Reply,
    },
}

/// Live captures queued per session before it falls back to reading them
/// from the database.
const LIVE_QUEUE: usize = 256;

/// The hub's view of one connected session.
struct Registered {
    /// Distinguishes a reconnected session from the one it replaced.
    conn: u64,
    passthrough: bool,
    wake: Arc<Notify>,
    commands: mpsc::Sender<Command>,
    /// Captures of the bin, committed, in id order.
    live: mpsc::Sender<Arc<CapturedRequest>>,
    /// Set when a capture did not fit in `live`.
    dropped: Arc<std::sync::atomic::AtomicBool>,
}

/// One tunnel name of one bin: a lock its session holds for its whole
/// life, so a reconnect reads its position only after the old session
/// recorded every answer it got; and a claim counter that tells the
/// holder a newer connection wants the name.
#[derive(Clone)]
struct Slot {
    lock: Arc<tokio::sync::Mutex<()>>,
    claims: Arc<watch::Sender<u64>>,
    /// The ticket of the newest claim here (see [`Claim::ticket`]).
    newest: u64,
}

/// A claimed tunnel name, held until the session ends.
pub struct Claim {
    guard: OwnedMutexGuard<()>,
    kicked: watch::Receiver<u64>,
    generation: u64,
    ticket: u64,
}

impl Claim {
    /// When the claim was made (microseconds since the epoch): across
    /// replicas the newer claim wins (see [`Hub::kick`]).
    pub fn ticket(&self) -> u64 {
        self.ticket
    }

    /// True once a newer connection claimed the name.
    pub fn superseded(&self) -> bool {
        *self.kicked.borrow() != self.generation
    }
}

/// A passthrough app's answer to a waiting capture, and the tunnel that
/// relayed it (the capture records who answered its sender).
#[derive(Debug, Clone)]
pub struct AppAnswer {
    /// The tunnel's `--name`.
    pub tunnel: String,
    /// The app's answer.
    pub resp: RelayResponse,
}

#[derive(Default)]
struct Inner {
    /// Bin → tunnel name → its connected session.
    bins: HashMap<Uuid, HashMap<String, Registered>>,
    /// Per (bin, name).
    slots: HashMap<(Uuid, String), Slot>,
    /// Captures awaiting an app's answer (passthrough), by request id.
    waiters: HashMap<i64, oneshot::Sender<AppAnswer>>,
    next_conn: u64,
}

/// Cheap, cloneable handle to the registry (clones share it).
#[derive(Clone, Default)]
pub struct Hub {
    /// A std mutex: every use is a few map operations, never held across
    /// an `.await`.
    inner: Arc<Mutex<Inner>>,
    /// Sessions connected, over all bins: captures skip the lock when none
    /// is. SeqCst: a capture that reads 0 after its commit must not miss a
    /// session that registered before reading the database.
    sessions: Arc<AtomicUsize>,
}

/// A session's registration; dropping it unregisters the session.
pub struct Attached {
    hub: Hub,
    bin: Uuid,
    name: String,
    conn: u64,
    /// Woken when the bin captured something.
    pub wake: Arc<Notify>,
    /// Replays for this session.
    pub commands: mpsc::Receiver<Command>,
    /// The bin's captures, handed over in memory right after their commit,
    /// in id order (see [`Hub::offer`]).
    pub live: mpsc::Receiver<Arc<CapturedRequest>>,
    /// True when a capture did not fit in `live`: the session must read
    /// the database before it trusts `live` again.
    pub dropped: Arc<std::sync::atomic::AtomicBool>,
    /// The name's claim generation; a value other than this session's
    /// means a newer connection claimed the name.
    pub kicked: watch::Receiver<u64>,
    /// This session's claim generation.
    pub generation: u64,
    _slot: OwnedMutexGuard<()>,
}

impl Hub {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves plain maps behind; keep
        // serving with them.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Takes tunnel `name` of `bin` for a new connection: tells any session
    /// holding it to close, and waits until it has finished.
    pub async fn claim(&self, bin: Uuid, name: &str) -> Claim {
        let ticket = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
        let (lock, kicked, generation, ticket) = {
            let inner = &mut *self.lock();
            let slot = inner
                .slots
                .entry((bin, name.to_owned()))
                .or_insert_with(|| Slot {
                    lock: Arc::default(),
                    claims: Arc::new(watch::channel(0).0),
                    newest: 0,
                });
            // Strictly increasing here even if the clock is not.
            let ticket = ticket.max(slot.newest + 1);
            slot.newest = ticket;
            let generation = *slot.claims.borrow() + 1;
            slot.claims.send_replace(generation);
            (
                slot.lock.clone(),
                slot.claims.subscribe(),
                generation,
                ticket,
            )
        };
        Claim {
            guard: lock.lock_owned().await,
            kicked,
            generation,
            ticket,
        }
    }

    /// Ends the session holding tunnel `name` of `bin` here (and any
    /// waiting for it), if any, when another replica's claim is newer than
    /// every claim made here: the newest connection wins, and an older one
    /// still waiting elsewhere (it repeats its claim) never displaces it.
    pub fn kick(&self, bin: Uuid, name: &str, ticket: u64) {
        if let Some(slot) = self.lock().slots.get_mut(&(bin, name.to_owned()))
            && slot.newest < ticket
        {
            slot.newest = ticket;
            slot.claims.send_modify(|generation| *generation += 1);
        }
    }

    /// Registers a session that holds its name's slot.
    pub fn attach(&self, bin: Uuid, name: &str, passthrough: bool, claim: Claim) -> Attached {
        let wake = Arc::new(Notify::new());
        // Replays are rare and each is awaited by an API call; a small
        // queue is plenty, and a full one answers "busy".
        let (tx, rx) = mpsc::channel(64);
        let (live_tx, live_rx) = mpsc::channel(LIVE_QUEUE);
        let dropped = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut inner = self.lock();
        self.sessions.fetch_add(1, Ordering::SeqCst);
        inner.next_conn += 1;
        let conn = inner.next_conn;
        inner.bins.entry(bin).or_default().insert(
            name.to_owned(),
            Registered {
                conn,
                passthrough,
                wake: wake.clone(),
                commands: tx,
                live: live_tx,
                dropped: dropped.clone(),
            },
        );
        Attached {
            hub: self.clone(),
            bin,
            name: name.to_owned(),
            conn,
            wake,
            commands: rx,
            live: live_rx,
            dropped,
            kicked: claim.kicked,
            generation: claim.generation,
            _slot: claim.guard,
        }
    }

    /// Wakes the bin's sessions: there is something new to relay.
    pub fn notify(&self, bin: Uuid) {
        if self.sessions.load(Ordering::SeqCst) == 0 {
            return;
        }
        if let Some(sessions) = self.lock().bins.get(&bin) {
            for s in sessions.values() {
                s.wake.notify_one();
            }
        }
    }

    /// Wakes every session: captures may have been missed.
    pub fn notify_all(&self) {
        for sessions in self.lock().bins.values() {
            for s in sessions.values() {
                s.wake.notify_one();
            }
        }
    }

    /// True when a tunnel of the bin is connected: its captures are worth
    /// handing over in memory.
    pub fn watched(&self, bin: Uuid) -> bool {
        self.sessions.load(Ordering::SeqCst) > 0 && self.lock().bins.contains_key(&bin)
    }

    /// Hands a committed capture to the bin's sessions. Called on the
    /// store's writer thread after each commit, so captures arrive in id
    /// order; a session whose queue is full is marked and woken, and reads
    /// the database instead.
    pub fn offer(&self, bin: Uuid, request: Arc<CapturedRequest>) {
        if let Some(sessions) = self.lock().bins.get(&bin) {
            for s in sessions.values() {
                if s.live.try_send(request.clone()).is_err() {
                    s.dropped.store(true, Ordering::SeqCst);
                    s.wake.notify_one();
                }
            }
        }
    }

    /// True when a passthrough tunnel of the bin is connected.
    pub fn has_passthrough(&self, bin: Uuid) -> bool {
        if self.sessions.load(Ordering::SeqCst) == 0 {
            return false;
        }
        self.lock()
            .bins
            .get(&bin)
            .is_some_and(|s| s.values().any(|s| s.passthrough))
    }

    /// Names of the bin's connected tunnels.
    pub fn connected(&self, bin: Uuid) -> Vec<String> {
        let mut names: Vec<String> = self
            .lock()
            .bins
            .get(&bin)
            .map(|s| s.keys().cloned().collect())
            .unwrap_or_default();
        names.sort();
        names
    }

    /// How many tunnels are connected, over all bins.
    pub fn connected_count(&self) -> usize {
        self.sessions.load(Ordering::SeqCst)
    }

    /// Asks each connected tunnel of the bin (or only the one named
    /// `only`) to relay a request again; returns the tunnel names asked,
    /// each with a receiver of its targets' answers.
    pub fn replay(
        &self,
        bin: Uuid,
        request_id: i64,
        edits: Option<Arc<Edits>>,
        only: Option<&str>,
    ) -> Vec<(String, mpsc::UnboundedReceiver<(String, RelayResponse)>)> {
        let inner = self.lock();
        let Some(sessions) = inner.bins.get(&bin) else {
            return Vec::new();
        };
        sessions
            .iter()
            .filter(|(name, _)| only.is_none_or(|o| o == name.as_str()))
            .filter_map(|(name, s)| {
                let (reply, rx) = mpsc::unbounded_channel();
                s.commands
                    .try_send(Command::Replay {
                        request_id,
                        edits: edits.clone(),
                        reply,
                    })
                    .ok()
                    .map(|()| (name.clone(), rx))
            })
            .collect()
    }

    /// Registers a capture that waits for the app's answer to `request_id`.
    pub fn expect_answer(&self, request_id: i64, tx: oneshot::Sender<AppAnswer>) {
        self.lock().waiters.insert(request_id, tx);
    }

    /// Hands an app's answer, relayed by tunnel `tunnel`, to the capture
    /// waiting for it, if any.
    pub fn answer(&self, request_id: i64, tunnel: &str, resp: &RelayResponse) {
        if let Some(tx) = self.lock().waiters.remove(&request_id) {
            let _ = tx.send(AppAnswer {
                tunnel: tunnel.to_owned(),
                resp: resp.clone(),
            });
        }
    }

    /// True when a capture here waits for the answer to `request_id`.
    pub fn is_waiting(&self, request_id: i64) -> bool {
        self.lock().waiters.contains_key(&request_id)
    }

    /// Stops waiting for an answer (timeout, or the tunnel went away).
    pub fn forget_answer(&self, request_id: i64) {
        self.lock().waiters.remove(&request_id);
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        let mut inner = self.hub.lock();
        // Free the name's slot unless another connection waits for it: the
        // map and this session's guard are then its only holders.
        let key = (self.bin, self.name.clone());
        if inner
            .slots
            .get(&key)
            .is_some_and(|slot| Arc::strong_count(&slot.lock) <= 2)
        {
            inner.slots.remove(&key);
        }
        self.hub.sessions.fetch_sub(1, Ordering::SeqCst);
        if let Some(sessions) = inner.bins.get_mut(&self.bin) {
            if sessions
                .get(&self.name)
                .is_some_and(|s| s.conn == self.conn)
            {
                sessions.remove(&self.name);
            }
            if sessions.is_empty() {
                inner.bins.remove(&self.bin);
            }
        }
    }
}
