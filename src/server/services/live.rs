//! Live updates: the broadcast of each new capture's summary to whoever
//! watches (inspector pages kept open, `hookwire tail`/`wait`;
//! `web::events` serves them as Server-Sent Events). Nothing is sent when
//! nobody watches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::core::model::{Answer, NewRequest};
use crate::core::time::rfc3339;
use crate::core::verify::Signature;
use crate::server::store::Store;

/// Summaries buffered per subscriber before it lags (and reloads).
const CAPACITY: usize = 1024;

/// What a page needs to add a request to its list.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The bin.
    #[serde(skip)]
    pub bin: Uuid,
    /// Request id.
    pub id: i64,
    /// Method.
    pub method: String,
    /// Sub-path and query, as the list shows them.
    pub target: String,
    /// Arrival, RFC 3339.
    pub time: String,
    /// Body size in bytes.
    pub size: usize,
    /// Signature check, if any.
    pub signature: Option<Signature>,
    /// Payload schema check, if a schema applied.
    pub schema: Option<crate::core::payload_schema::SchemaVerdict>,
    /// The response rule that answered it, if one did.
    pub rule: Option<String>,
    /// What the sender got back, when known at the commit (as the API's
    /// `response`; null for a passthrough capture, whose answer comes
    /// after it).
    pub response: Option<Answer>,
}

impl Summary {
    /// The summary of a just-stored request.
    pub fn new(id: i64, r: &NewRequest) -> Self {
        Self {
            bin: r.bin_id,
            id,
            method: r.method.clone(),
            target: r.target(),
            time: rfc3339(r.received_at),
            size: r.body.len(),
            signature: r.signature.clone(),
            schema: r.schema.clone(),
            rule: r.rule.clone(),
            response: r.answer.clone(),
        }
    }
}

/// What watchers of a bin hear.
#[derive(Debug, Clone)]
pub enum Update {
    /// A new capture.
    Request(Summary),
    /// What a capture's sender got back, when that was known only after
    /// the capture was published (a passthrough app's answer, a sender
    /// that gave up).
    Answered {
        /// The bin.
        bin: Uuid,
        /// The request.
        id: i64,
        /// The answer, as the API's `response`.
        response: Answer,
    },
}

impl Update {
    /// The bin it is about.
    pub fn bin(&self) -> Uuid {
        match self {
            Update::Request(s) => s.bin,
            Update::Answered { bin, .. } => *bin,
        }
    }
}

/// Cheap, cloneable handle to the broadcast (clones share it).
#[derive(Clone)]
pub struct Live {
    tx: broadcast::Sender<Update>,
    /// Watchers per bin: a capture (or another replica's, read back from
    /// the database) costs a summary only when its bin is watched.
    watchers: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
            watchers: Arc::default(),
        }
    }
}

/// A subscription to one bin's summaries; the bin counts as watched while
/// it lives.
pub struct Subscription {
    /// Every update published (all bins: filter on [`Update::bin`]).
    pub rx: broadcast::Receiver<Update>,
    bin: Uuid,
    watchers: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut w = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(n) = w.get_mut(&self.bin) {
            *n -= 1;
            if *n == 0 {
                w.remove(&self.bin);
            }
        }
    }
}

impl Live {
    /// True when someone watches `bin`: only then is a summary worth
    /// sending.
    pub fn watched(&self, bin: Uuid) -> bool {
        let w = self.watchers.lock().unwrap_or_else(|e| e.into_inner());
        w.contains_key(&bin)
    }

    /// Tells the watchers about a new capture.
    pub fn publish(&self, summary: Summary) {
        // No receiver left is fine: nobody watches.
        let _ = self.tx.send(Update::Request(summary));
    }

    /// Tells the watchers what the sender of capture `id` got back.
    pub fn publish_answer(&self, bin: Uuid, id: i64, response: Answer) {
        if self.watched(bin) {
            let _ = self.tx.send(Update::Answered { bin, id, response });
        }
    }

    /// Tells the watchers about capture `id` of `bin`, read back from the
    /// store: for a capture whose summary was not built where it was
    /// written (another replica's, or one whose bin became watched while
    /// it was being written).
    pub async fn publish_stored(&self, store: &Store, bin: Uuid, id: i64) {
        match store.request(bin, id).await {
            Ok(Some(r)) => self.publish(Summary::new(id, &r.req)),
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "reading a capture back for live watchers"),
        }
    }

    /// Every summary published from now on; `bin` counts as watched until
    /// the subscription is dropped.
    pub fn subscribe(&self, bin: Uuid) -> Subscription {
        // Receiving first, then counted as watching: a capture that sees
        // the bin watched publishes to a receiver that exists; one that
        // does not see it committed before this, so a read after it finds
        // that capture.
        let rx = self.tx.subscribe();
        *self
            .watchers
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry(bin)
            .or_default() += 1;
        Subscription {
            rx,
            bin,
            watchers: self.watchers.clone(),
        }
    }
}
