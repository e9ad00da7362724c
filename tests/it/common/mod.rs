//! Test harness: the real server on 127.0.0.1:0 with its own temporary
//! database, and a real HTTP client.
#![allow(dead_code)]

pub mod certs;
pub mod pg;
pub mod proc;
pub mod tunnel;

use std::net::SocketAddr;
use std::path::PathBuf;

use hookwire::server::config::ServerConfig;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

/// A running server; dropping it without `stop` aborts it.
pub struct TestServer {
    pub addr: SocketAddr,
    pub base: String,
    pub client: reqwest::Client,
    pub config: ServerConfig,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// A second handle on the listening socket, for a restart on the same
    /// port (see [`TestServer::take_socket`]); closed by `stop`.
    socket: Option<std::net::TcpListener>,
    // Keeps the database directory alive as long as the server.
    pub dir: std::sync::Arc<tempfile::TempDir>,
}

impl TestServer {
    /// A server with default settings.
    pub async fn spawn() -> Self {
        Self::spawn_with(|_| {}).await
    }

    /// A server with settings adjusted by `tweak`.
    pub async fn spawn_with(tweak: impl FnOnce(&mut ServerConfig)) -> Self {
        let dir = std::sync::Arc::new(tempfile::tempdir().expect("temp dir"));
        // HOOKWIRE_TEST_STORE=postgres runs the same tests on PostgreSQL.
        let db = if pg::wanted() {
            hookwire::server::config::Database::Postgres(pg::database())
        } else {
            hookwire::server::config::Database::Sqlite(dir.path().join("test.db"))
        };
        let mut config = ServerConfig {
            db,
            ..ServerConfig::default()
        };
        tweak(&mut config);
        Self::start(config, dir).await
    }

    async fn start(config: ServerConfig, dir: std::sync::Arc<tempfile::TempDir>) -> Self {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        std_listener.set_nonblocking(true).expect("nonblocking");
        let socket = std_listener.try_clone().expect("a second handle");
        let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
        let addr = listener.local_addr().expect("addr");
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(hookwire::server::http::serve(
            listener,
            config.clone(),
            async {
                let _ = rx.await;
            },
        ));
        Self {
            addr,
            base: format!("http://{addr}"),
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client"),
            config,
            shutdown: Some(tx),
            task: Some(task),
            socket: Some(socket),
            dir,
        }
    }

    /// The listening socket, kept open past `stop`: a server started on
    /// it later has the same address, and no other socket can take the
    /// port in between (connections wait in its backlog meanwhile).
    pub fn take_socket(&mut self) -> tokio::net::TcpListener {
        let socket = self.socket.take().expect("the socket, taken once");
        tokio::net::TcpListener::from_std(socket).expect("listener")
    }

    /// Shuts down gracefully and waits for the store to close.
    pub async fn stop(mut self) {
        // Closed first: once the server stops, nothing listens here.
        drop(self.socket.take());
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }

    /// Stops, then starts a new server on the same database file.
    pub async fn restart(self) -> Self {
        let config = self.config.clone();
        let dir = self.dir.clone();
        self.stop().await;
        Self::start(config, dir).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Mints a bin through the API; returns its id.
    pub async fn new_bin(&self) -> String {
        let res = self
            .client
            .post(self.url("/api/bins"))
            .send()
            .await
            .expect("mint");
        assert_eq!(res.status(), 201);
        let v = json(res).await;
        v["id"].as_str().expect("id").to_owned()
    }

    /// GET a JSON document, asserting the status.
    pub async fn get_json(&self, path: &str, status: u16) -> Value {
        let res = self.client.get(self.url(path)).send().await.expect("get");
        assert_eq!(res.status(), status, "GET {path}");
        json(res).await
    }

    /// The requests of a bin, newest first.
    pub async fn requests(&self, bin: &str) -> Vec<Value> {
        let v = self
            .get_json(&format!("/api/bins/{bin}/requests?limit=1000"), 200)
            .await;
        v["requests"].as_array().expect("requests").clone()
    }

    /// Sends raw bytes on a new connection and returns everything the
    /// server sends back until it closes (or `Connection: close` is honoured).
    pub async fn raw(&self, bytes: &[u8]) -> String {
        let mut s = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        s.write_all(bytes).await.expect("write");
        let _ = s.shutdown().await;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl TestServer {
    /// Sends raw bytes without closing the write side, then reads until
    /// the server closes.
    pub async fn raw_open(&self, bytes: &[u8]) -> String {
        let mut s = tokio::net::TcpStream::connect(self.addr)
            .await
            .expect("connect");
        s.write_all(bytes).await.expect("write");
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The stored request's id a capture answer carries.
pub fn request_id(res: &reqwest::Response) -> i64 {
    res.headers()["x-hookwire-request-id"]
        .to_str()
        .expect("ascii id")
        .parse()
        .expect("integer id")
}

impl TestServer {
    /// The exact stored body of a request, through the download route.
    pub async fn raw_body(&self, bin: &str, id: i64) -> Vec<u8> {
        let res = self
            .client
            .get(self.url(&format!("/api/bins/{bin}/requests/{id}/body")))
            .send()
            .await
            .expect("raw body");
        assert_eq!(res.status(), 200);
        res.bytes().await.expect("bytes").to_vec()
    }
}

pub async fn json(res: reqwest::Response) -> Value {
    let bytes = res.bytes().await.expect("body");
    serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)))
}

/// A port free now (the OS's pick), for a program that must be told its
/// port before it starts; it binds it soon after.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// A helper program (nginx, a replica, an ACME server) killed on drop.
pub struct Daemon(pub std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The path of the built `hookwire` binary.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_hookwire"))
}

/// `reqwest` without its `json` feature: a JSON body by hand.
pub trait JsonBody {
    fn json_body(self, v: &serde_json::Value) -> Self;
}

impl JsonBody for reqwest::RequestBuilder {
    fn json_body(self, v: &serde_json::Value) -> Self {
        self.header("content-type", "application/json")
            .body(v.to_string())
    }
}

/// Every request id a bin holds, read page by page through `base`'s API.
pub async fn stored_ids(
    client: &reqwest::Client,
    base: &str,
    bin: &str,
) -> std::collections::HashSet<i64> {
    let mut stored = std::collections::HashSet::new();
    let mut before: Option<i64> = None;
    loop {
        let cursor = before.map_or(String::new(), |b| format!("&before={b}"));
        let res = client
            .get(format!("{base}/api/bins/{bin}/requests?limit=1000{cursor}"))
            .send()
            .await
            .expect("list");
        assert_eq!(res.status(), 200, "listing the requests");
        let page: Value = serde_json::from_slice(&res.bytes().await.expect("body")).expect("json");
        for r in page["requests"].as_array().expect("requests") {
            stored.insert(r["id"].as_i64().expect("id"));
        }
        match page["next"].as_i64() {
            Some(n) => before = Some(n),
            None => return stored,
        }
    }
}
