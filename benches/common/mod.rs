//! What the load benchmarks share: starting `hookwire serve` as a child
//! process, one-off requests, the request body, and reading RSS.
#![allow(dead_code)] // each benchmark uses its own subset

pub mod load;
#[path = "../../tests/it/common/pg.rs"]
pub mod pg;

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};

pub type Body = Full<Bytes>;

/// Size of every load request's body.
pub const BODY_BYTES: usize = 1024;
/// How long hookwire may take to answer /healthz after starting.
pub const STARTUP_TIMEOUT: Duration = Duration::from_secs(15);
/// A request (or connect) taking longer counts as an error; keeps a stalled
/// server from hanging the run.
pub const TIMEOUT: Duration = Duration::from_secs(5);

/// Variables that would change the child's flags: a benchmark runs hookwire
/// with its defaults whatever the caller's environment holds.
const HOOKWIRE_ENV: &[&str] = &[
    "HOOKWIRE_ACCESS_TOKEN",
    "HOOKWIRE_UI",
    "HOOKWIRE_PASSTHROUGH",
    "HOOKWIRE_FROM_START",
    "HOOKWIRE_TUNNEL_NAME",
    "HOOKWIRE_TO",
    "HOOKWIRE_LISTEN",
    "HOOKWIRE_DB",
    "HOOKWIRE_PUBLIC_URL",
    "HOOKWIRE_MAX_BODY_BYTES",
    "HOOKWIRE_MAX_REQUESTS_PER_BIN",
    "HOOKWIRE_RETENTION",
    "HOOKWIRE_DURABILITY",
    "HOOKWIRE_CONCURRENCY",
];

/// A child process killed when dropped, so panics and early returns do not
/// leave servers behind.
pub struct ChildGuard(pub Child);

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `hookwire` command with the caller's HOOKWIRE_* settings removed: the
/// binary cargo built with the benchmark, or `HOOKWIRE_BENCH_BIN` (another
/// build, e.g. of the commit before a change, to compare them in one run).
pub fn hookwire_command() -> Command {
    let bin = std::env::var_os("HOOKWIRE_BENCH_BIN")
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_hookwire").into());
    let mut cmd = Command::new(bin);
    for var in HOOKWIRE_ENV {
        cmd.env_remove(var);
    }
    cmd
}

/// Whether `hookwire <subcommand>` of the build under test takes `flag`
/// (older builds, run through HOOKWIRE_BENCH_BIN, may not).
pub fn has_flag(subcommand: &str, flag: &str) -> Result<bool> {
    let help = hookwire_command()
        .args([subcommand, "--help"])
        .output()
        .with_context(|| format!("running hookwire {subcommand} --help"))?;
    Ok(String::from_utf8_lossy(&help.stdout).contains(flag))
}

/// Starts `hookwire serve` on a free loopback port, with `flags`, and waits
/// for /healthz.
pub async fn start_hookwire(dir: &Path, flags: &[&str]) -> Result<(ChildGuard, SocketAddr)> {
    let db = dir.join("bench.db");
    start_hookwire_on(dir, db.to_str().context("a UTF-8 temp path")?, flags).await
}

/// [`start_hookwire`] on the database `db` (`--db`: a path or a
/// PostgreSQL URL); its log goes to `dir`.
pub async fn start_hookwire_on(
    dir: &Path,
    db: &str,
    flags: &[&str],
) -> Result<(ChildGuard, SocketAddr)> {
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("picking a free port")?;
    let log_path = dir.join("hookwire.log");
    let log = std::fs::File::create(&log_path).context("creating hookwire's log file")?;
    let child = hookwire_command()
        .args(["serve", "--listen", &addr.to_string(), "--db", db])
        .args(flags)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .context("starting hookwire")?;
    let mut guard = ChildGuard(child);
    let started = Instant::now();
    loop {
        let probe = request(addr, Method::GET, "/healthz");
        if let Ok(Ok((StatusCode::OK, _))) = tokio::time::timeout(TIMEOUT, probe).await {
            return Ok((guard, addr));
        }
        let exited = guard.0.try_wait().context("checking hookwire")?;
        if exited.is_some() || started.elapsed() > STARTUP_TIMEOUT {
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            bail!("hookwire did not become healthy on {addr} ({exited:?}); its log:\n{log}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A keep-alive HTTP/1.1 connection with TCP_NODELAY.
pub async fn connect(addr: SocketAddr) -> Result<SendRequest<Body>> {
    let stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender)
}

/// A JSON request for `path` on `addr`.
pub fn json_request(
    addr: SocketAddr,
    method: Method,
    path: &str,
    body: Bytes,
) -> Result<Request<Body>> {
    Ok(Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, addr.to_string())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))?)
}

/// One request on a fresh connection (start-up, minting and polling only).
pub async fn request(addr: SocketAddr, method: Method, path: &str) -> Result<(StatusCode, Bytes)> {
    let req = json_request(addr, method, path, Bytes::new())?;
    let resp = connect(addr).await?.send_request(req).await?;
    let status = resp.status();
    Ok((status, resp.into_body().collect().await?.to_bytes()))
}

/// A valid JSON object of exactly BODY_BYTES bytes.
pub fn json_body() -> Result<Bytes> {
    let head = r#"{"event":"invoice.paid","attempt":1,"data":{"id":"in_1234567890","note":""#;
    let tail = r#""}}"#;
    let pad = "x".repeat(BODY_BYTES - head.len() - tail.len());
    let text = format!("{head}{pad}{tail}");
    serde_json::from_str::<serde_json::Value>(&text).context("the bench body is not JSON")?;
    Ok(Bytes::from(text))
}

/// VmRSS of `pid` in MiB; None where /proc is not available.
pub fn rss_mib(pid: u32) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Mints a bin and returns its capture URL's path.
pub async fn mint_bin(addr: SocketAddr) -> Result<std::sync::Arc<str>> {
    let (status, body) = request(addr, Method::POST, "/api/bins").await?;
    anyhow::ensure!(status == StatusCode::CREATED, "POST /api/bins: {status}");
    let json: serde_json::Value = serde_json::from_slice(&body).context("POST /api/bins JSON")?;
    let url = json["capture_url"].as_str().context("no capture_url")?;
    let uri: hyper::Uri = url.parse().context("capture_url is not a URI")?;
    Ok(uri.path().into())
}

/// A bare server (the capture benchmark's baseline, the CLI benchmark's
/// app): hyper answering 200 after reading the whole body, like hookwire
/// (keep-alive and TCP_NODELAY too), but storing nothing.
pub fn bare_server() -> Result<()> {
    let rt = tokio::runtime::Runtime::new().context("building the baseline's runtime")?;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        // The parent holds our stdin; EOF means it is gone, so stop too.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
        loop {
            let (stream, _) = listener.accept().await.context("baseline accept")?;
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                    req.into_body().collect().await?;
                    Ok::<_, hyper::Error>(Response::new(Full::new(Bytes::from_static(b"ok"))))
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

/// Starts this benchmark binary again with `arg`, which makes it run a
/// server of its own (e.g. [`bare_server`]) that prints its port; its
/// address.
pub async fn start_self_as(arg: &str) -> Result<(ChildGuard, SocketAddr)> {
    let exe = std::env::current_exe().context("locating the bench binary")?;
    let mut child = Command::new(exe)
        .arg(arg)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("starting this benchmark as {arg}"))?;
    let stdout = child.stdout.take().context("the child server's stdout")?;
    let guard = ChildGuard(child);
    let read = tokio::task::spawn_blocking(move || {
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).map(|_| line)
    });
    let line = tokio::time::timeout(STARTUP_TIMEOUT, read)
        .await
        .with_context(|| format!("the child server ({arg}) did not print its port"))???;
    let port: u16 = line
        .trim()
        .parse()
        .with_context(|| format!("the child server ({arg}) printed {line:?}, not a port"))?;
    Ok((guard, SocketAddr::from(([127, 0, 0, 1], port))))
}
