//! The tunnel's test parts: a real local app that records what it gets,
//! the real `hookwire tunnel` binary as a child process, and waits.

use std::convert::Infallible;
use std::future::Future;
use std::io::{BufRead as _, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::header::{HeaderName, HeaderValue};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

use super::TestServer;

/// Upper bound of every wait for an event.
pub const WAIT: Duration = Duration::from_secs(10);

/// Headers that describe the hop, not the request: never relayed as-is.
pub const HOP_BY_HOP: [&str; 8] = [
    "connection",
    "keep-alive",
    "proxy-connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "content-length",
];

// ---------------------------------------------------------------------------
// Waiting
// ---------------------------------------------------------------------------

/// Polls `check` until it yields a value; panics with `what` after [`WAIT`].
pub async fn eventually<T, F, Fut>(what: &str, check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    eventually_within(what, WAIT, check).await
}

/// Polls `check` until it yields a value; panics with `what` after `limit`
/// (for what another program takes its time over, such as a CA's order).
pub async fn eventually_within<T, F, Fut>(what: &str, limit: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until the bin's connected tunnels are exactly `want`.
pub async fn wait_tunnels(s: &TestServer, bin: &str, want: &[&str]) {
    let path = format!("/api/bins/{bin}");
    eventually(&format!("tunnels of {bin} to be {want:?}"), || async {
        let v = s.get_json(&path, 200).await;
        (v["tunnels"] == json!(want)).then_some(())
    })
    .await;
}

/// Waits until stored request `id` has at least `n` deliveries; returns them.
pub async fn wait_deliveries(s: &TestServer, bin: &str, id: i64, n: usize) -> Vec<Value> {
    let path = format!("/api/bins/{bin}/requests/{id}");
    eventually(&format!("{n} deliveries of request {id}"), || async {
        let v = s.get_json(&path, 200).await;
        let d = v["deliveries"].as_array().expect("deliveries").clone();
        (d.len() >= n).then_some(d)
    })
    .await
}

/// Waits until every request of the bin has a live (non-replay) delivery
/// by `tunnel`; returns the requests, oldest first.
pub async fn wait_all_delivered(s: &TestServer, bin: &str, tunnel: &str) -> Vec<Value> {
    eventually(
        &format!("every request delivered by {tunnel:?}"),
        || async {
            let mut all = s.requests(bin).await;
            all.reverse();
            all.iter()
                .all(|r| {
                    r["deliveries"]
                        .as_array()
                        .expect("deliveries")
                        .iter()
                        .any(|d| d["tunnel"] == tunnel && d["replay"] == false)
                })
                .then_some(all)
        },
    )
    .await
}

// ---------------------------------------------------------------------------
// The local app
// ---------------------------------------------------------------------------

/// One request as the local app received it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// Path and query, as on the request line.
    pub target: String,
    /// In the order hyper reports them (duplicates kept, in order).
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    /// Reads a request whole, as an app receives it.
    pub async fn read(req: Request<Incoming>) -> Self {
        let (parts, body) = req.into_parts();
        let body = body
            .collect()
            .await
            .map(|c| c.to_bytes())
            .unwrap_or_default();
        Seen {
            method: parts.method.as_str().to_owned(),
            target: parts
                .uri
                .path_and_query()
                .map(|p| p.as_str().to_owned())
                .unwrap_or_default(),
            headers: parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect(),
            body: body.to_vec(),
        }
    }

    pub fn header_values(&self, name: &str) -> Vec<&str> {
        self.headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The `x-hookwire-request-id` it carried (exactly one).
    pub fn request_id(&self) -> i64 {
        let ids = self.header_values("x-hookwire-request-id");
        assert_eq!(ids.len(), 1, "one x-hookwire-request-id: {self:?}");
        ids[0].parse().expect("integer request id")
    }

    /// The counter of a body like `{"n":7}`.
    pub fn counter(&self) -> u64 {
        let v: Value = serde_json::from_slice(&self.body).expect("JSON body");
        v["n"].as_u64().expect("n")
    }
}

/// What the app answers.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// Pause after recording a request, before answering.
    pub delay: Duration,
}

impl Default for Answer {
    fn default() -> Self {
        Self {
            status: 201,
            headers: vec![("x-app".into(), "yes".into())],
            body: b"hello".to_vec(),
            delay: Duration::ZERO,
        }
    }
}

pub struct AppShared {
    pub seen: Mutex<Vec<Seen>>,
    /// How many requests arrived so far.
    pub count: watch::Sender<usize>,
    pub answer: Mutex<Answer>,
    /// Requests being answered right now, and the most there ever were.
    pub active: std::sync::atomic::AtomicUsize,
    pub max_active: std::sync::atomic::AtomicUsize,
}

/// A real HTTP/1 app on 127.0.0.1: records every request, answers with
/// [`Answer`]. Stopping closes the listener and every open connection;
/// `restart` listens on the same port again.
pub struct LocalApp {
    pub addr: SocketAddr,
    pub shared: Arc<AppShared>,
    pub task: Option<JoinHandle<()>>,
}

impl LocalApp {
    pub async fn start() -> Self {
        Self::start_with(Answer::default()).await
    }

    pub async fn start_with(answer: Answer) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let addr = listener.local_addr().expect("app addr");
        let shared = Arc::new(AppShared {
            seen: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
            answer: Mutex::new(answer),
            active: Default::default(),
            max_active: Default::default(),
        });
        let task = tokio::spawn(serve_app(listener, shared.clone()));
        Self {
            addr,
            shared,
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Closes the listener and all connections; waits until they are gone.
    pub async fn stop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
    }

    /// Listens on the same port again.
    pub async fn restart(&mut self) {
        self.stop().await;
        let listener = TcpListener::bind(self.addr).await.expect("rebind app");
        self.task = Some(tokio::spawn(serve_app(listener, self.shared.clone())));
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("lock").clone()
    }

    /// The most requests it was answering at once.
    pub fn max_active(&self) -> usize {
        self.shared
            .max_active
            .load(std::sync::atomic::Ordering::SeqCst)
    }

    pub fn set_delay(&self, delay: Duration) {
        self.shared.answer.lock().expect("lock").delay = delay;
    }

    /// Waits until at least `n` requests arrived; returns all of them.
    pub async fn wait_for(&self, n: usize) -> Vec<Seen> {
        let mut rx = self.shared.count.subscribe();
        let waited = tokio::time::timeout(WAIT, rx.wait_for(|c| *c >= n)).await;
        let seen = self.seen();
        assert!(
            waited.is_ok(),
            "timed out waiting for the app to receive {n} requests; it got {}",
            seen.len()
        );
        seen
    }
}

impl Drop for LocalApp {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// Accept loop; the connections live in a `JoinSet` owned by this task, so
/// aborting it closes them too.
pub async fn serve_app(listener: TcpListener, shared: Arc<AppShared>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        conns.spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

pub async fn answer(
    shared: Arc<AppShared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let seen = Seen::read(req).await;
    use std::sync::atomic::Ordering::SeqCst;
    let now = shared.active.fetch_add(1, SeqCst) + 1;
    shared.max_active.fetch_max(now, SeqCst);
    shared.seen.lock().expect("lock").push(seen);
    shared.count.send_modify(|c| *c += 1);
    let a = shared.answer.lock().expect("lock").clone();
    if !a.delay.is_zero() {
        tokio::time::sleep(a.delay).await;
    }
    shared.active.fetch_sub(1, SeqCst);
    let mut res = Response::new(Full::new(Bytes::from(a.body)));
    *res.status_mut() = StatusCode::from_u16(a.status).expect("status");
    for (n, v) in &a.headers {
        res.headers_mut().append(
            HeaderName::from_bytes(n.as_bytes()).expect("header name"),
            HeaderValue::from_str(v).expect("header value"),
        );
    }
    Ok(res)
}

// ---------------------------------------------------------------------------
// The tunnel client (the real binary)
// ---------------------------------------------------------------------------

pub type Lines = Arc<Mutex<Vec<String>>>;

/// `hookwire tunnel` running as a child process; killed on drop.
pub struct Tunnel {
    pub child: Child,
    pub stdout: Lines,
    pub stderr: Lines,
}

/// Keeps reading a pipe into `lines` so the child never blocks on it.
pub fn drain(pipe: impl Read + Send + 'static, lines: Lines) {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).split(b'\n') {
            let Ok(line) = line else { break };
            lines
                .lock()
                .expect("lock")
                .push(String::from_utf8_lossy(&line).into_owned());
        }
    });
}

impl Tunnel {
    pub fn start(s: &TestServer, bin: &str, app: &LocalApp, name: &str, flags: &[&str]) -> Self {
        let mut cmd = Command::new(super::binary());
        cmd.arg("tunnel")
            .arg(s.url(&format!("/{bin}")))
            .args(["--to", &app.url(), "--name", name])
            .args(flags)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for var in [
            "HOOKWIRE_TO",
            "HOOKWIRE_ACCESS_TOKEN",
            "HOOKWIRE_PASSTHROUGH",
            "HOOKWIRE_TUNNEL_NAME",
            "HOOKWIRE_FROM_START",
            "HOOKWIRE_CONCURRENCY",
            "HOOKWIRE_MAX_BODY_BYTES",
        ] {
            cmd.env_remove(var);
        }
        let mut child = cmd.spawn().expect("start hookwire tunnel");
        let (stdout, stderr) = (Lines::default(), Lines::default());
        drain(child.stdout.take().expect("stdout"), stdout.clone());
        drain(child.stderr.take().expect("stderr"), stderr.clone());
        Self {
            child,
            stdout,
            stderr,
        }
    }

    /// Starts a client and waits until the server lists it as connected.
    pub async fn connect(
        s: &TestServer,
        bin: &str,
        app: &LocalApp,
        name: &str,
        flags: &[&str],
    ) -> Self {
        let t = Self::start(s, bin, app, name, flags);
        wait_tunnels(s, bin, &[name]).await;
        t
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().expect("lock").clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().expect("lock").clone()
    }

    /// Ctrl-C.
    pub fn interrupt(&self) {
        let ok = Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -INT failed");
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        self.child.kill().expect("kill -9");
    }

    /// Waits (bounded) for the process to exit.
    pub async fn exited(&mut self) -> ExitStatus {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "tunnel client did not exit; stderr: {:#?}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// SIGINT, then waits for a clean exit.
    pub async fn stop(mut self) {
        self.interrupt();
        let status = self.exited().await;
        assert!(
            status.success(),
            "graceful stop exits 0, got {status}; stderr: {:#?}",
            self.stderr()
        );
    }
}

impl Drop for Tunnel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
