//! Live updates: the broadcast of each new capture's summary to whoever
//! watches (inspector pages kept open, `hookwire tail`/`wait`;
//! `web::events` serves them as Server-Sent Events). Nothing is sent when
//! nobody watches.

use serde::Serialize;
use tokio::sync::broadcast;
use uuid::Uuid;

use crate::model::NewRequest;
use crate::time::rfc3339;
use crate::verify::Signature;

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
    /// The response rule that answered it, if one did.
    pub rule: Option<String>,
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
            rule: r.rule.clone(),
        }
    }
}

/// Cheap, cloneable handle to the broadcast (clones share it).
#[derive(Clone)]
pub struct Live {
    tx: broadcast::Sender<Summary>,
}

impl Default for Live {
    fn default() -> Self {
        Self {
            tx: broadcast::channel(CAPACITY).0,
        }
    }
}

impl Live {
    /// True when someone watches: only then is a summary worth sending.
    pub fn watched(&self) -> bool {
        self.tx.receiver_count() > 0
    }

    /// Tells the watchers about a new capture.
    pub fn publish(&self, summary: Summary) {
        // No receiver left is fine: nobody watches.
        let _ = self.tx.send(summary);
    }

    /// Every summary published from now on (all bins).
    pub fn subscribe(&self) -> broadcast::Receiver<Summary> {
        self.tx.subscribe()
    }
}
