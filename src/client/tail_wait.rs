//! `hookwire tail` and `hookwire wait`: a bin's requests as they arrive.
//!
//! The API's `?after=ID` list is the one source of truth: both read it from
//! a cursor, oldest first, so nothing is missed or printed twice across
//! reconnects. The bin's live stream (Server-Sent Events) only says when to
//! read again; it is subscribed *before* the first read, so a request
//! stored after that read always wakes the reader. A read every few
//! seconds covers a stream that is down.

use std::future::Future;
use std::io::Write as _;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::BodyExt as _;
use tokio::sync::{Notify, oneshot};
use uuid::Uuid;

use crate::client::api::{Captured, PAGE, Refused, Remote, printable};
use crate::core::matcher::Match;
use crate::core::time::{Millis, clock, rfc3339};

/// Read the list this often even without a wake-up.
const POLL: Duration = Duration::from_secs(5);
/// How long to wait for the live stream before reading without it.
const SUBSCRIBE_WAIT: Duration = Duration::from_secs(5);
const RECONNECT_MAX: Duration = Duration::from_secs(10);

/// Where counting starts.
#[derive(Debug, Clone, Copy)]
pub enum Start {
    /// After this request id (including requests already stored).
    After(i64),
    /// Requests that arrived at or after this time (the command's start).
    Since(Millis),
}

/// What to watch: a bin of a server, and the conditions a request must meet.
pub struct Watch {
    /// The server.
    pub remote: Remote,
    /// The bin.
    pub bin: Uuid,
    /// All must hold.
    pub matches: Match,
}

/// Ids are given in commit order, arrival times a little earlier (before a
/// rule is chosen, before the write's batch commits): a request that
/// arrived up to this long (far above a capture's p99 under load, a few
/// ms) before another may still get the higher id. Longer costs `wait`
/// reading that much more of a busy bin at its start.
const ARRIVAL_SLACK: Millis = 250;
/// A live stream silent this long is dead (the server sends a keep-alive
/// every 15 s): reconnect.
const STREAM_IDLE: Duration = Duration::from_secs(45);

/// New requests of a bin, in arrival order.
struct Feed {
    remote: Remote,
    bin: Uuid,
    cursor: i64,
    /// Requests that arrived before this are not new (`Start::Since`).
    since: Option<Millis>,
    wake: Arc<Notify>,
    listener: tokio::task::JoinHandle<()>,
}

impl Drop for Feed {
    fn drop(&mut self) {
        self.listener.abort();
    }
}

impl Feed {
    /// Checks the bin can be read, subscribes to its live stream, then
    /// finds where `start` puts the cursor.
    async fn open(remote: Remote, bin: Uuid, start: Start) -> anyhow::Result<Self> {
        remote.check_bin(bin).await?;
        let wake = Arc::new(Notify::new());
        let (ready_tx, ready) = oneshot::channel();
        let listener = tokio::spawn(listen(remote.clone(), bin, wake.clone(), ready_tx));
        // Subscribed (or the stream cannot be had: the list is read anyway,
        // every few seconds).
        let _ = tokio::time::timeout(SUBSCRIBE_WAIT, ready).await;
        let (cursor, since) = match start {
            Start::After(id) => (id, None),
            Start::Since(t0) => (baseline(&remote, bin, t0 - ARRIVAL_SLACK).await?, Some(t0)),
        };
        // The first read happens at once.
        wake.notify_one();
        Ok(Self {
            remote,
            bin,
            cursor,
            since,
            wake,
            listener,
        })
    }

    /// The next new requests after the cursor (waits until there are
    /// some). A failed read (the server restarting) is reported and tried
    /// again, the cursor staying where it was; a refusal (token, bin gone)
    /// ends it.
    async fn next(&mut self) -> anyhow::Result<Vec<Captured>> {
        self.next_telling(&|why| eprintln!("{why}")).await
    }

    /// [`Feed::next`], each failed read told to `tell` (the live view
    /// shows it in its status line: a line on stderr would land in the
    /// middle of its screen).
    async fn next_telling(&mut self, tell: &dyn Fn(String)) -> anyhow::Result<Vec<Captured>> {
        let mut pause = Duration::from_millis(500);
        loop {
            tokio::select! {
                () = self.wake.notified() => {}
                () = tokio::time::sleep(POLL) => {}
            }
            match self.remote.after(self.bin, self.cursor).await {
                Ok(mut batch) => {
                    pause = Duration::from_millis(500);
                    let Some(last) = batch.last() else { continue };
                    self.cursor = last.id;
                    if batch.len() >= PAGE {
                        // A full page: more are waiting.
                        self.wake.notify_one();
                    }
                    if let Some(t0) = self.since {
                        batch.retain(|r| r.received_at >= t0);
                    }
                    if !batch.is_empty() {
                        return Ok(batch);
                    }
                }
                Err(e) if e.is::<Refused>() => return Err(e),
                Err(e) => {
                    tell(format!(
                        "{e:#}; trying again in {:.1} s",
                        pause.as_secs_f64()
                    ));
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(RECONNECT_MAX);
                    self.wake.notify_one();
                }
            }
        }
    }
}

/// The id of the newest request that arrived before `before` (0 if none).
async fn baseline(remote: &Remote, bin: Uuid, before_time: Millis) -> anyhow::Result<i64> {
    // The newest few first: usually all there is to look at.
    let mut page_size = 5;
    let mut before = None;
    loop {
        let (page, next) = remote.newest(bin, before, page_size).await?;
        if let Some(old) = page.iter().find(|r| r.received_at < before_time) {
            return Ok(old.id);
        }
        match next {
            Some(n) => before = Some(n),
            None => return Ok(0),
        }
        page_size = PAGE;
    }
}

/// Holds the live stream open, waking the reader on every message (and on
/// every reconnect, to catch up). `ready` fires once subscribed.
async fn listen(remote: Remote, bin: Uuid, wake: Arc<Notify>, ready: oneshot::Sender<()>) {
    let mut ready = Some(ready);
    let mut pause = Duration::from_millis(250);
    loop {
        if let Ok(mut body) = remote.events(bin).await {
            if let Some(tx) = ready.take() {
                let _ = tx.send(());
            } else {
                wake.notify_one();
            }
            pause = Duration::from_millis(250);
            while let Ok(Some(Ok(_))) = tokio::time::timeout(STREAM_IDLE, body.frame()).await {
                wake.notify_one();
            }
        } else {
            // Not subscribed: let the reader go on without the stream.
            ready.take();
        }
        wake.notify_one();
        tokio::time::sleep(crate::client::tunnel::local_app::jitter(pause)).await;
        pause = (pause * 2).min(RECONNECT_MAX);
    }
}

/// One line per request, like the tunnel's: time, id, method, target,
/// size, and the signature check and rule when there are.
fn line(r: &Captured) -> String {
    let mut line = format!(
        "{} #{} {} {} {} B",
        rfc3339(r.received_at),
        r.id,
        printable(&r.method),
        printable(&r.target()),
        r.body.len()
    );
    if let Some(sig) = &r.signature {
        if sig.verified {
            line.push_str(&format!(" signature: {} verified", sig.scheme));
        } else {
            let reason = sig.reason.as_deref().unwrap_or("failed");
            line.push_str(&format!(
                " signature: {} failed ({})",
                sig.scheme,
                printable(reason)
            ));
        }
    }
    if let Some(rule) = &r.rule {
        line.push_str(&format!(" rule: {}", printable(rule)));
    }
    line
}

/// `hookwire tail`: prints each matching request until `shutdown`, or
/// until its reader is gone (`tail | head`: done, not failed).
pub async fn tail(
    w: Watch,
    start: Start,
    json: bool,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let bin = w.bin;
    let print = |batch: Vec<Captured>| -> anyhow::Result<ControlFlow<()>> {
        // One write per batch: a line-buffered stdout would make one
        // system call per request of a burst.
        let mut out = String::new();
        for r in &batch {
            if json {
                out.push_str(&serde_json::to_string(&r.object)?);
            } else {
                out.push_str(&line(r));
            }
            out.push('\n');
        }
        let mut stdout = std::io::stdout().lock();
        match stdout
            .write_all(out.as_bytes())
            .and_then(|()| stdout.flush())
        {
            Ok(()) => Ok(ControlFlow::Continue(())),
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(ControlFlow::Break(())),
            Err(e) => Err(e.into()),
        }
    };
    let opened = || eprintln!("tailing bin {bin}; Ctrl-C stops");
    follow(w, start, opened, print, &|why| eprintln!("{why}"), shutdown).await
}

/// Hands each batch of new requests meeting `w.matches` to `each` until it
/// breaks or fails, and each failed read (tried again) to `tell`, until
/// `shutdown`; `opened` runs once the feed is open. `tail` prints the
/// batches, `tail --ui` draws them.
pub async fn follow(
    w: Watch,
    start: Start,
    opened: impl FnOnce(),
    mut each: impl FnMut(Vec<Captured>) -> anyhow::Result<ControlFlow<()>>,
    tell: &dyn Fn(String),
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    tokio::pin!(shutdown);
    let mut feed = tokio::select! {
        feed = Feed::open(w.remote, w.bin, start) => feed?,
        () = &mut shutdown => return Ok(()),
    };
    opened();
    loop {
        let mut batch = tokio::select! {
            batch = feed.next_telling(tell) => batch?,
            () = &mut shutdown => return Ok(()),
        };
        batch.retain(|r| w.matches.holds(&r.subject()));
        if !batch.is_empty() && each(batch)?.is_break() {
            return Ok(());
        }
    }
}

/// `hookwire wait`: the first matching request, or `None` at `timeout`.
/// On a terminal, "waiting 0:12 of 1:00 for …" (`what`) meanwhile.
pub async fn wait(
    w: Watch,
    start: Start,
    timeout: Duration,
    what: &str,
) -> anyhow::Result<Option<serde_json::Value>> {
    let found = async {
        let mut feed = Feed::open(w.remote, w.bin, start).await?;
        loop {
            if let Some(r) = feed
                .next()
                .await?
                .into_iter()
                .find(|r| w.matches.holds(&r.subject()))
            {
                return Ok::<_, anyhow::Error>(r.object);
            }
        }
    };
    let waited = crate::client::progress::show_while(tokio::time::timeout(timeout, found), |t| {
        format!("waiting {} of {} {what}", clock(t), clock(timeout))
    });
    match waited.await {
        Ok(found) => found.map(Some),
        Err(_) => Ok(None),
    }
}

/// When this process started, on this machine's clock: `wait` counts
/// requests from then, so one sent right after starting it is never
/// missed, even when a loaded machine takes a while to run `main`. Linux
/// gives the start in clock ticks: a request that arrived up to 20 ms
/// before may count too.
pub fn process_start(fallback: Millis) -> Millis {
    let age = || -> Option<f64> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Fields after the command name (which may hold spaces): state is
        // field 3, starttime field 22.
        let rest = &stat[stat.rfind(')')? + 2..];
        let ticks: f64 = rest.split(' ').nth(19)?.parse().ok()?;
        let uptime: f64 = std::fs::read_to_string("/proc/uptime")
            .ok()?
            .split(' ')
            .next()?
            .parse()
            .ok()?;
        // USER_HZ is 100 on every Linux this runs on.
        Some(uptime - ticks / 100.0)
    };
    match age() {
        Some(age) if (0.0..3600.0).contains(&age) => {
            // Both figures are whole ticks: the estimate is within 10 ms
            // of the fork either way; 10 ms earlier is never after it.
            let forked = crate::core::time::now_millis() - (age * 1000.0) as Millis - 10;
            forked.min(fallback)
        }
        _ => fallback,
    }
}
