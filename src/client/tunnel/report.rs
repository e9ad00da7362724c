//! What the tunnel tells its user, in one place: connected, retrying, a
//! request arrived, the app answered (or the relay failed), stopped. Line
//! mode prints one line per delivery (stdout) and the rest on stderr; the
//! full-screen view (`crate::client::view`) gets each event through a
//! sink instead. Reporting never waits: a delivery only formats a line or
//! hands an event to an unbounded channel.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::client::api::printable;
use crate::core::protocol::{Hello, RelayRequest, RelayResponse};
use crate::core::time::{now_millis, rfc3339};

/// One thing that happened to the tunnel, for the view.
#[derive(Debug, Clone)]
pub enum Event {
    /// The server accepted the tunnel under this name.
    Connected {
        /// The name deliveries are tracked under.
        tunnel: String,
        /// Senders get the app's answer.
        passthrough: bool,
        /// What the user should know about this connection (a new name
        /// skips what the bin already holds).
        notice: Option<String>,
    },
    /// The connection failed or dropped; the next attempt is in `wait`.
    Retrying {
        /// Why, in words.
        why: String,
        /// The pause before the next attempt.
        wait: Duration,
    },
    /// A request to relay; `key` names this relay in later events.
    Arrived {
        /// This relay's key (unique in the process).
        key: u64,
        /// The request, as relayed (shared: the delivery copies nothing
        /// for the view).
        req: Arc<RelayRequest>,
    },
    /// The local app did not answer; the relay is tried again.
    AppDown {
        /// The relay.
        key: u64,
        /// Why, in words.
        why: String,
    },
    /// The relay ended: the app's answer, or an error for good.
    Answered {
        /// The relay.
        key: u64,
        /// What came back.
        resp: Box<RelayResponse>,
    },
    /// The tunnel stopped (after finishing the deliveries under way).
    Stopped,
}

/// Where the tunnel's events go.
#[derive(Clone)]
pub enum Report {
    /// Today's lines: one per delivery on stdout, the rest on stderr.
    Lines,
    /// Each event to a sink (the full-screen view).
    Sink {
        /// Receives every event; must not block.
        sink: Arc<dyn Fn(Event) + Send + Sync>,
        /// The next relay's key.
        next: Arc<AtomicU64>,
    },
}

/// Line mode's line for a delivery: `time method path -> status latency`,
/// ` (replay)` and ` via URL` when they apply. The method and path are the
/// sender's: made printable, so a captured escape sequence cannot drive
/// the terminal.
fn delivery_line(
    at: crate::core::time::Millis,
    req: &RelayRequest,
    resp: &RelayResponse,
    label: Option<&str>,
) -> String {
    let target = crate::core::urls::target(&req.path, &req.query);
    let status = resp.status.map_or_else(
        || format!("failed: {}", resp.error.as_deref().unwrap_or("?")),
        |s| s.to_string(),
    );
    format!(
        "{} {} {} -> {} {:.1} ms{}{}",
        rfc3339(at),
        printable(&req.method),
        printable(&target),
        status,
        resp.latency_ms,
        if req.replay { " (replay)" } else { "" },
        label.map(|url| format!(" via {url}")).unwrap_or_default()
    )
}

impl Report {
    /// Events to `sink` (which must return at once).
    pub fn sink(sink: impl Fn(Event) + Send + Sync + 'static) -> Self {
        Self::Sink {
            sink: Arc::new(sink),
            next: Arc::new(AtomicU64::new(1)),
        }
    }

    /// The server accepted the tunnel.
    pub fn connected(&self, h: &Hello, urls: &[&str]) {
        let notice = (h.history_skipped > 0).then(|| history_skipped(&h.tunnel, h.history_skipped));
        match self {
            Self::Lines => {
                eprintln!(
                    "tunnel {:?} connected: relaying bin {} to {}{}",
                    h.tunnel,
                    h.bin_id,
                    urls.join(", "),
                    if h.passthrough {
                        " (passthrough: senders get the app's answer)"
                    } else {
                        ""
                    }
                );
                if let Some(notice) = notice {
                    eprintln!("{notice}");
                }
            }
            Self::Sink { sink, .. } => sink(Event::Connected {
                tunnel: h.tunnel.clone(),
                passthrough: h.passthrough,
                notice,
            }),
        }
    }

    /// The alias of the bin could not be looked up (no answer from the
    /// server); trying again after `wait`.
    pub fn looking_up(&self, why: &str, bin: &impl std::fmt::Display, wait: Duration) {
        match self {
            Self::Lines => eprintln!(
                "{why}; looking up {bin} again in {:.1} s",
                wait.as_secs_f64()
            ),
            Self::Sink { sink, .. } => sink(Event::Retrying {
                why: why.to_owned(),
                wait,
            }),
        }
    }

    /// The connection failed; trying again after `wait`.
    pub fn retrying(&self, why: &str, wait: Duration) {
        match self {
            Self::Lines => eprintln!("{why}; reconnecting in {:.1} s", wait.as_secs_f64()),
            Self::Sink { sink, .. } => sink(Event::Retrying {
                why: why.to_owned(),
                wait,
            }),
        }
    }

    /// A relay starts; its key for the events that follow (0 in line
    /// mode, which prints nothing until the answer).
    pub fn arrived(&self, req: &Arc<RelayRequest>) -> u64 {
        match self {
            Self::Lines => 0,
            Self::Sink { sink, next } => {
                let key = next.fetch_add(1, Ordering::Relaxed);
                sink(Event::Arrived {
                    key,
                    req: req.clone(),
                });
                key
            }
        }
    }

    /// The local app did not answer (`why`: in words, with the fix); the
    /// relay is tried again in `wait`.
    pub fn app_down(&self, key: u64, req: &RelayRequest, why: &str, wait: Duration) {
        match self {
            Self::Lines => eprintln!(
                "{why}; retrying request {} in {:.1} s",
                req.request_id,
                wait.as_secs_f64()
            ),
            Self::Sink { sink, .. } => sink(Event::AppDown {
                key,
                why: format!("{why}; retrying in {:.1} s", wait.as_secs_f64()),
            }),
        }
    }

    /// The relay ended with `resp`; `label` names the target when there
    /// are several.
    pub fn answered(
        &self,
        key: u64,
        req: &RelayRequest,
        resp: &RelayResponse,
        label: Option<&str>,
    ) {
        match self {
            Self::Lines => println!("{}", delivery_line(now_millis(), req, resp, label)),
            Self::Sink { sink, .. } => sink(Event::Answered {
                key,
                resp: Box::new(resp.clone()),
            }),
        }
    }

    /// The tunnel stopped.
    pub fn stopped(&self) {
        match self {
            Self::Lines => eprintln!("tunnel stopped"),
            Self::Sink { sink, .. } => sink(Event::Stopped),
        }
    }
}

/// What a new name's user should know: it starts at the bin's end.
fn history_skipped(name: &str, skipped: u64) -> String {
    let requests = if skipped == 1 {
        "the 1 request already in the bin is".to_owned()
    } else {
        format!("the {skipped} requests already in the bin are")
    };
    format!(
        "tunnel {name} is new: it will receive requests from now on; {requests} skipped — use \
         --from-start to receive them too"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_delivery_line_is_as_before_and_escapes_the_sender_s_text() {
        let mut req = RelayRequest {
            seq: 1,
            request_id: 7,
            method: "POST".into(),
            path: "/hooks".into(),
            query: "a=1".into(),
            headers: Vec::new(),
            replay: false,
            target: 0,
            body: Default::default(),
        };
        let resp = RelayResponse {
            seq: 1,
            status: Some(201),
            headers: Vec::new(),
            latency_ms: 3.25,
            error: None,
            body: Default::default(),
        };
        assert_eq!(
            delivery_line(0, &req, &resp, None),
            "1970-01-01T00:00:00.000Z POST /hooks?a=1 -> 201 3.2 ms"
        );
        req.replay = true;
        req.path = "/\x1b[2Jx".into();
        assert_eq!(
            delivery_line(0, &req, &resp, Some("http://app")),
            "1970-01-01T00:00:00.000Z POST /\\u{1b}[2Jx?a=1 -> 201 3.2 ms (replay) via http://app"
        );
    }
}
