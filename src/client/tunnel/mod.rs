//! `hookwire tunnel`: holds one WebSocket to the server, relays each
//! request to the local app and sends the app's answers back. Reconnects
//! with backoff and jitter; the server resends whatever was not answered.

pub mod local_app;
pub mod quick_ack;
pub mod report;

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{self, Message};

use self::local_app::{LocalApp, jitter};
use self::report::Report;
use crate::client::api::{Remote, Unanswered};
use crate::client::reach;
use crate::core::pasted::BinRef;
use crate::core::protocol::{
    self, CLOSE_REPLACED, CLOSE_REVOKED, DEAD_AFTER, Frame, PING_EVERY, RelayRequest, RelayResponse,
};
use crate::core::routing::Streams;
use crate::core::secret::Secret;
use crate::core::views::ErrorBody;

/// What `hookwire tunnel` was asked to do.
#[derive(Debug, Clone)]
pub struct TunnelConfig {
    /// The bin's capture URL, e.g. `http://127.0.0.1:8080/<bin-id>`.
    pub capture_url: String,
    /// The local apps, e.g. `http://localhost:3000`; each gets every
    /// request no route takes (fan-out).
    pub to: Vec<String>,
    /// `PATH_GLOB=URL` routes, first match wins.
    pub routes: Vec<String>,
    /// Conditions a request must meet to be delivered.
    pub filters: Vec<String>,
    /// Sent as `Authorization: Bearer` at the upgrade.
    pub access_token: Option<Secret>,
    /// The sender gets the app's answer.
    pub passthrough: bool,
    /// The name the server tracks deliveries under.
    pub name: String,
    /// Start with the bin's stored history.
    pub from_start: bool,
    /// Deliveries running at once (1: strictly one after another).
    pub concurrency: usize,
    /// Largest message accepted from the server (its body limit + framing).
    pub max_message: usize,
    /// Trust roots for `https://` servers.
    pub tls: std::sync::Arc<tokio_rustls::rustls::ClientConfig>,
}

/// Longest pause between reconnect attempts.
const RECONNECT_MAX: Duration = Duration::from_secs(30);

/// How long a stop waits for the delivery under way.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// How a connection attempt or session ended.
enum Outcome {
    /// Asked to stop: exit.
    Stopped,
    /// Try again after a pause.
    Retry(String),
    /// Give up with this error.
    Fatal(String),
}

/// A session that lasted this long was healthy: the next reconnect starts
/// with a short pause again. (Resetting on every connect would make a
/// session that fails at once reconnect several times a second.)
const STABLE_SESSION: Duration = Duration::from_secs(30);

/// Runs until `shutdown` resolves (Ctrl-C) or a fatal error (bad token,
/// unknown bin, unsupported version), telling `report` what happens.
pub async fn run(
    cfg: TunnelConfig,
    report: Report,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    // Any URL of the bin will do (capture, inspector, API; by id or alias).
    let pasted = crate::core::pasted::parse(&cfg.capture_url).map_err(anyhow::Error::msg)?;
    let bin_ref = pasted.bin().map_err(anyhow::Error::msg)?;
    let (streams, targets) =
        Streams::from_flags(&cfg.to, &cfg.routes, &cfg.filters).map_err(anyhow::Error::msg)?;
    let apps = targets
        .iter()
        .map(|t| {
            let app = LocalApp::new(&t.url)?;
            Ok(Target {
                url: t.url.clone(),
                app: if t.exact { app.exact() } else { app },
                named: targets.len() > 1,
                report: report.clone(),
            })
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let streams = serde_json::to_string(&streams)?;
    tokio::pin!(shutdown);
    let remote = Remote::new(
        crate::client::http::Outbound::with_tls(&cfg.tls),
        &pasted.server,
        cfg.access_token.as_ref().map(Secret::expose),
    );
    let Some(bin) = bin_id(&remote, bin_ref, &report, &mut shutdown).await? else {
        return Ok(());
    };
    let base = pasted.server.clone();
    let mut from_start = cfg.from_start;
    let mut pause = Duration::from_millis(250);
    loop {
        let url = tunnel_url(&base, bin, &cfg, from_start, &streams);
        let outcome = tokio::select! {
            connected = connect(&url, &base, &cfg) => match connected? {
                Ok(ws) => {
                    // Only the first session starts from the bin's history.
                    from_start = false;
                    let started = Instant::now();
                    let outcome = session(ws, &apps, &cfg, &report, &mut shutdown).await;
                    if started.elapsed() >= STABLE_SESSION {
                        pause = Duration::from_millis(250);
                    }
                    outcome
                }
                Err(why) => Outcome::Retry(why),
            },
            () = &mut shutdown => Outcome::Stopped,
        };
        match outcome {
            Outcome::Stopped => return Ok(()),
            Outcome::Fatal(why) => bail!(why),
            Outcome::Retry(why) => {
                let wait = jitter(pause);
                report.retrying(&why, wait);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = &mut shutdown => return Ok(()),
                }
                pause = (pause * 2).min(RECONNECT_MAX);
            }
        }
    }
}

/// The bin's id: an alias is looked up through the API, again after a
/// pause while the server gives no answer (as connecting is retried);
/// `None` when stopped meanwhile.
async fn bin_id(
    remote: &Remote,
    bin: &BinRef,
    report: &Report,
    shutdown: &mut (impl Future<Output = ()> + Unpin),
) -> anyhow::Result<Option<uuid::Uuid>> {
    let mut pause = Duration::from_millis(250);
    loop {
        match remote.bin_id(bin).await {
            Ok(id) => return Ok(Some(id)),
            Err(e) if e.is::<Unanswered>() => {
                let wait = jitter(pause);
                report.looking_up(&e.to_string(), bin, wait);
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = &mut *shutdown => return Ok(None),
                }
                pause = (pause * 2).min(RECONNECT_MAX);
            }
            Err(e) => return Err(e),
        }
    }
}

/// One target of the tunnel, as the client calls it.
struct Target {
    url: String,
    app: LocalApp,
    /// Delivery lines name the target (there are several).
    named: bool,
    /// Where deliveries are reported.
    report: Report,
}

fn tunnel_url(
    base: &str,
    bin: uuid::Uuid,
    cfg: &TunnelConfig,
    from_start: bool,
    streams: &str,
) -> String {
    let ws_base = base
        .strip_prefix("https://")
        .map(|rest| format!("wss://{rest}"))
        .unwrap_or_else(|| base.replacen("http://", "ws://", 1));
    format!(
        "{ws_base}/api/bins/{bin}/tunnel?v={}&name={}&from_start={}&passthrough={}&streams={}",
        protocol::VERSION,
        cfg.name,
        u8::from(from_start),
        u8::from(cfg.passthrough),
        form_urlencoded::byte_serialize(streams.as_bytes()).collect::<String>()
    )
}

/// A plain or TLS stream to the server.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

type Ws = tokio_tungstenite::WebSocketStream<Box<dyn Io>>;

/// The TCP (and, for `wss://`, TLS) connection to the server.
async fn open_stream(
    request: &tungstenite::handshake::client::Request,
    base: &str,
    cfg: &TunnelConfig,
) -> Result<Box<dyn Io>, String> {
    let unreachable = |e: std::io::Error| reach::server(base, &reach::Failure::of(&e, base));
    let uri = request.uri();
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_matches(['[', ']'])
        .to_owned();
    let tls = uri.scheme_str() == Some("wss");
    let port = uri.port_u16().unwrap_or(if tls { 443 } else { 80 });
    let tcp = tokio::net::TcpStream::connect((host.as_str(), port))
        .await
        .map_err(unreachable)?;
    let _ = tcp.set_nodelay(true);
    if !tls {
        return Ok(Box::new(tcp));
    }
    let name = rustls_pki_types::ServerName::try_from(host.clone())
        .map_err(|e| format!("{host} is not a valid TLS server name: {e}"))?;
    tokio_rustls::TlsConnector::from(cfg.tls.clone())
        .connect(name, tcp)
        .await
        .map(|s| Box::new(s) as Box<dyn Io>)
        .map_err(unreachable)
}

/// Connects; `Ok(Err(_))` is worth retrying, `Err(_)` is fatal.
async fn connect(url: &str, base: &str, cfg: &TunnelConfig) -> anyhow::Result<Result<Ws, String>> {
    let mut request = url
        .into_client_request()
        .with_context(|| format!("{url} is not a valid tunnel URL"))?;
    if let Some(token) = &cfg.access_token {
        request.headers_mut().insert(
            "authorization",
            format!("Bearer {}", token.expose())
                .parse()
                .context("the access token has characters a header cannot carry")?,
        );
    }
    let config = WebSocketConfig::default()
        .max_message_size(Some(cfg.max_message))
        .max_frame_size(Some(cfg.max_message));
    let stream = match open_stream(&request, base, cfg).await {
        Ok(s) => s,
        Err(why) => return Ok(Err(why)),
    };
    match tokio_tungstenite::client_async_with_config(request, stream, Some(config)).await {
        Ok((ws, _)) => Ok(Ok(ws)),
        Err(tungstenite::Error::Http(res)) => {
            let status = res.status();
            let body = res
                .body()
                .as_deref()
                .map(String::from_utf8_lossy)
                .unwrap_or_default()
                .into_owned();
            match status.as_u16() {
                401 => bail!(
                    "the server refused the access token ({status}): pass the right one with --access-token or HOOKWIRE_ACCESS_TOKEN"
                ),
                403 => bail!(
                    "the server refused the tunnel ({status}): {}",
                    ErrorBody::message_of(body.as_bytes())
                ),
                404 => bail!(
                    "the server has no such bin ({status}): check the capture URL, or mint one with `hookwire new`"
                ),
                400 => bail!("the server refused the tunnel ({status}): {body}"),
                _ => Ok(Err(format!(
                    "server answered {status} to the tunnel upgrade"
                ))),
            }
        }
        Err(tungstenite::Error::Url(e)) => bail!("{url}: {e}"),
        Err(tungstenite::Error::Io(e)) => {
            Ok(Err(reach::server(base, &reach::Failure::of(&e, base))))
        }
        Err(e) => Ok(Err(format!("the tunnel upgrade at {base} failed: {e}"))),
    }
}

/// One connected session: relays until the connection drops or a stop.
async fn session(
    ws: Ws,
    targets: &[Target],
    cfg: &TunnelConfig,
    report: &Report,
    shutdown: &mut (impl Future<Output = ()> + Unpin),
) -> Outcome {
    let (mut sink, mut stream) = ws.split();
    // Answers of finished deliveries, to send back.
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<RelayResponse>();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut workers = JoinSet::new();
    // Per target, requests waiting for their turn (ordered mode), each
    // bounded by the server's window for that target: one target's slow
    // app never holds back another's.
    let mut queues = Vec::new();
    if !cfg.passthrough {
        for t in targets {
            let (queue_tx, queue_rx) = mpsc::unbounded_channel::<RelayRequest>();
            queues.push(queue_tx);
            workers.spawn(deliver_in_order(
                Deliverer::of(t),
                queue_rx,
                stop_rx.clone(),
                done_tx.clone(),
                cfg.concurrency,
            ));
        }
    }
    let urls: Vec<&str> = targets.iter().map(|t| t.url.as_str()).collect();
    let mut ping = tokio::time::interval(PING_EVERY);
    ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    let outcome = loop {
        tokio::select! {
            msg = stream.next() => {
                last_heard = Instant::now();
                match msg {
                    Some(Ok(Message::Binary(bytes))) => match Frame::decode(bytes) {
                        Ok(Frame::Hello(h)) => report.connected(&h, &urls),
                        Ok(Frame::Request(req)) => {
                            let Some(target) = targets.get(req.target) else {
                                break Outcome::Retry(format!("protocol error: no target {}", req.target));
                            };
                            if cfg.passthrough || req.replay {
                                let (to, done) = (Deliverer::of(target), done_tx.clone());
                                workers.spawn(async move { to.deliver(req, &done).await });
                            } else if queues.get(req.target).is_none_or(|q| q.send(req).is_err()) {
                                break Outcome::Retry("delivery worker stopped".into());
                            }
                        }
                        Ok(Frame::Response(_)) => break Outcome::Retry("protocol error: the server sent a response".into()),
                        Err(e) => break Outcome::Retry(format!("protocol error: {e}")),
                    },
                    Some(Ok(Message::Close(frame))) => {
                        let code = frame.as_ref().map(|f| u16::from(f.code));
                        let replaced = code == Some(CLOSE_REPLACED);
                        let why = frame.map(|f| f.reason.to_string()).unwrap_or_default();
                        if code == Some(CLOSE_REVOKED) {
                            break Outcome::Fatal(format!(
                                "the server closed the tunnel: {why}; ask an admin for a new token \
                                 (hookwire token create) and pass it with --access-token"
                            ));
                        }
                        if replaced {
                            break Outcome::Fatal(format!(
                                "another `hookwire tunnel --name {}` connected to this bin and took over; \
                                 stopping this one (give each tunnel its own --name)",
                                cfg.name
                            ));
                        }
                        break Outcome::Retry(format!("server closed the tunnel: {why}"));
                    }
                    Some(Ok(_)) => {}
                    Some(Err(e)) => break Outcome::Retry(format!("connection lost: {e}")),
                    None => break Outcome::Retry("connection closed".into()),
                }
            }
            Some(resp) = done_rx.recv() => {
                // Every answer ready now goes out in one write.
                let mut sent = sink.feed(Message::Binary(Frame::Response(resp).encode().into())).await;
                while let (Ok(()), Ok(more)) = (&sent, done_rx.try_recv()) {
                    sent = sink.feed(Message::Binary(Frame::Response(more).encode().into())).await;
                }
                if let Err(e) = sent.and(sink.flush().await) {
                    break Outcome::Retry(format!("connection lost: {e}"));
                }
            }
            _ = ping.tick() => {
                if last_heard.elapsed() > DEAD_AFTER {
                    break Outcome::Retry(format!("no word from the server for {} s", DEAD_AFTER.as_secs()));
                }
                if sink.send(Message::Ping(Default::default())).await.is_err() {
                    break Outcome::Retry("connection lost".into());
                }
            }
            () = &mut *shutdown => break Outcome::Stopped,
        }
    };
    if let Outcome::Stopped = outcome {
        // Finish the deliveries under way and report them; requests still
        // queued were not sent to the app and come again next time.
        let _ = stop_tx.send(true);
        drop(queues);
        drop(done_tx);
        let finish = async {
            while let Some(resp) = done_rx.recv().await {
                let _ = sink
                    .send(Message::Binary(Frame::Response(resp).encode().into()))
                    .await;
            }
        };
        let _ = tokio::time::timeout(STOP_GRACE, finish).await;
        let _ = sink.send(Message::Close(None)).await;
        let _ = sink.flush().await;
        report.stopped();
    }
    workers.abort_all();
    outcome
}

/// Ordered mode: deliveries start in arrival order, at most `concurrency`
/// at once (1: each is answered before the next starts). The server only
/// moves the tunnel's position past answered requests, so answers may come
/// back in any order without losing one. On stop it finishes the
/// deliveries under way and leaves the rest queued: those were never sent
/// to the app, and the server sends them again next time.
async fn deliver_in_order(
    to: Deliverer,
    mut queue: mpsc::UnboundedReceiver<RelayRequest>,
    stop: watch::Receiver<bool>,
    done: mpsc::UnboundedSender<RelayResponse>,
    concurrency: usize,
) {
    let slots = Arc::new(Semaphore::new(concurrency.max(1)));
    let mut running = JoinSet::new();
    while let Some(req) = queue.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        if *stop.borrow() {
            break;
        }
        let (to, done) = (to.clone(), done.clone());
        running.spawn(async move {
            let _slot = slot;
            to.deliver(req, &done).await;
        });
        // Reap finished deliveries so the set stays small.
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

/// Delivers to one target and reports each delivery.
#[derive(Clone)]
struct Deliverer {
    app: LocalApp,
    /// Named at the end of each line when the tunnel has several targets.
    label: Option<Arc<str>>,
    report: Report,
}

impl Deliverer {
    fn of(t: &Target) -> Self {
        Self {
            app: t.app.clone(),
            label: t.named.then(|| Arc::from(t.url.as_str())),
            report: t.report.clone(),
        }
    }

    async fn deliver(&self, req: RelayRequest, done: &mpsc::UnboundedSender<RelayResponse>) {
        let req = Arc::new(req);
        let key = self.report.arrived(&req);
        let resp = self
            .app
            .deliver(&req, |why, wait| {
                self.report.app_down(key, &req, why, wait);
            })
            .await;
        self.report
            .answered(key, &req, &resp, self.label.as_deref());
        let _ = done.send(resp);
    }
}
