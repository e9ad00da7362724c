//! Cross-replica wake-ups: each capture batch sends one PostgreSQL
//! notification per few hundred captures (`LISTEN hookwire`, delivered at
//! commit), and every replica listens on a connection of its own. What
//! another replica captured comes out of [`Listener`] as
//! [`Event::Captured`], and a tunnel name a session of another replica
//! claims as [`Event::Claimed`]; a replica ignores its own notifications.

use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::broadcast;
use tokio_postgres::AsyncMessage;

use super::Tls;
use uuid::Uuid;

use crate::server::store::Event;

/// The notification channel.
pub(super) const CHANNEL: &str = "hookwire";

/// Entries per notification: PostgreSQL caps a payload at 8000 bytes and
/// an entry (`<bin>:<id>`) takes at most 57.
pub(super) const PER_NOTIFICATION: usize = 128;

/// Events queued per subscriber before it lags (and then resyncs).
const CAPACITY: usize = 4096;

/// The payload announcing captures: `c`, the sending replica, then
/// `<bin>:<id>` per capture.
pub(super) fn payload(replica: u64, captures: &[(Uuid, i64)]) -> String {
    let mut out = format!("c {replica:x}");
    for (bin, id) in captures {
        out.push_str(&format!(" {bin}:{id}"));
    }
    out
}

/// The payload claiming a tunnel name for a session of `replica`: `k`,
/// the replica, the bin, the name (names have no spaces, see
/// `tunnel::protocol::valid_name`).
pub(super) fn claim_payload(replica: u64, bin: Uuid, name: &str, ticket: u64) -> String {
    format!("k {replica:x} {bin} {name} {ticket}")
}

/// The payload announcing recorded answers of a passthrough tunnel: `a`,
/// the replica, the bin, the tunnel's name, then the request ids.
pub(super) fn answers_payload(replica: u64, bin: Uuid, name: &str, ids: &[i64]) -> String {
    let mut out = format!("a {replica:x} {bin} {name}");
    for id in ids {
        out.push_str(&format!(" {id}"));
    }
    out
}

/// The payload announcing a changed (or deleted) bin: `b`, the replica,
/// the bin.
pub(super) fn bin_payload(replica: u64, bin: Uuid) -> String {
    format!("b {replica:x} {bin}")
}

/// The payload announcing created or revoked tokens: `t`, the replica.
pub(super) fn tokens_payload(replica: u64) -> String {
    format!("t {replica:x}")
}

fn parse(replica: u64, payload: &str) -> Vec<Event> {
    let mut parts = payload.split(' ');
    let kind = parts.next();
    let from = parts.next().and_then(|r| u64::from_str_radix(r, 16).ok());
    if from.is_none() || from == Some(replica) {
        return Vec::new();
    }
    match kind {
        Some("c") => parts
            .filter_map(|entry| {
                let (bin, id) = entry.split_once(':')?;
                Some(Event::Captured {
                    bin: Uuid::parse_str(bin).ok()?,
                    id: id.parse().ok()?,
                })
            })
            .collect(),
        Some("a") => {
            let bin = parts.next().and_then(|b| Uuid::parse_str(b).ok());
            let (Some(bin), Some(name)) = (bin, parts.next()) else {
                return Vec::new();
            };
            let ids = parts.filter_map(|id| id.parse().ok()).collect();
            vec![Event::Answered {
                bin,
                name: name.to_owned(),
                ids,
            }]
        }
        Some("b") => parts
            .next()
            .and_then(|b| Uuid::parse_str(b).ok())
            .map(|bin| Event::BinChanged { bin })
            .into_iter()
            .collect(),
        Some("t") => vec![Event::TokensChanged],
        Some("k") => {
            let bin = parts.next().and_then(|b| Uuid::parse_str(b).ok());
            let name = parts.next();
            let ticket = parts.next().and_then(|t| t.parse().ok());
            match (bin, name, ticket) {
                (Some(bin), Some(name), Some(ticket)) => vec![Event::Claimed {
                    bin,
                    name: name.to_owned(),
                    ticket,
                }],
                _ => Vec::new(),
            }
        }
        _ => Vec::new(),
    }
}

/// The listening side; subscribers get every event from then on. Dropping
/// it stops the listening task.
pub(super) struct Listener {
    events: broadcast::Sender<Event>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Listener {
    /// Starts listening (reconnecting with a pause when the connection
    /// drops; after a reconnect subscribers get [`Event::Resync`], since
    /// notifications sent meanwhile are lost).
    pub(super) fn start(config: tokio_postgres::Config, tls: Tls, replica: u64) -> Self {
        let (events, _) = broadcast::channel(CAPACITY);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let tx = events.clone();
        tokio::spawn(async move {
            let mut first = true;
            loop {
                tokio::select! {
                    r = listen(&config, &tls, replica, &tx, &mut first) => if let Err(e) = r {
                        tracing::warn!(error = %e, "postgres listener lost its connection; reconnecting");
                    },
                    _ = &mut stopped => return,
                }
                tokio::select! {
                    () = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = &mut stopped => return,
                }
            }
        });
        Self {
            events,
            _stop: stop,
        }
    }

    pub(super) fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.events.subscribe()
    }
}

async fn listen(
    config: &tokio_postgres::Config,
    tls: &Tls,
    replica: u64,
    tx: &broadcast::Sender<Event>,
    first: &mut bool,
) -> Result<(), tokio_postgres::Error> {
    let (client, mut connection) = config.connect(tls.clone()).await?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    // The connection must be polled for the LISTEN to complete, so the
    // pump runs from the start; the LISTEN's future then waits forever and
    // the pump ends (with the error) when the connection does.
    let listen = async {
        client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
        if !std::mem::replace(first, false) {
            let _ = tx.send(Event::Resync);
        }
        std::future::pending::<Result<(), tokio_postgres::Error>>().await
    };
    let pump = async {
        while let Some(message) = messages.next().await {
            if let AsyncMessage::Notification(n) = message? {
                for event in parse(replica, n.payload()) {
                    let _ = tx.send(event);
                }
            }
        }
        Ok(())
    };
    tokio::select! {
        r = listen => r,
        r = pump => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payload_round_trips_and_skips_own() {
        let bin = Uuid::new_v4();
        let p = payload(0xab, &[(bin, 7), (bin, 9)]);
        assert!(parse(0xab, &p).is_empty());
        let events = parse(0xcd, &p);
        assert_eq!(events.len(), 2);
        assert!(matches!(events[1], Event::Captured { id: 9, .. }));
        let answered = parse(0xcd, &answers_payload(0xab, bin, "pt", &[4, 5]));
        assert!(matches!(&answered[..], [Event::Answered { ids, .. }] if ids == &[4, 5]));
        assert!(matches!(
            parse(0xcd, &bin_payload(0xab, bin))[..],
            [Event::BinChanged { bin: b }] if b == bin
        ));
        let claim = parse(0xcd, &claim_payload(0xab, bin, "laptop", 17));
        assert!(matches!(&claim[..], [Event::Claimed { name, .. }] if name == "laptop"));
        // The longest entry fits PER_NOTIFICATION times in 8000 bytes.
        let longest = payload(u64::MAX, &vec![(bin, i64::MAX); PER_NOTIFICATION]);
        assert!(longest.len() < 8000, "{}", longest.len());
    }
}
