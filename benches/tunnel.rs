//! Tunnel benchmark: the latency a `--passthrough` tunnel adds
//! to a request (beside bore, a plain TCP tunnel, in the same run), how fast a backlog drains to the local app once the
//! tunnel reconnects, and what 500 idle tunnels cost the server in RSS.
//!
//! hookwire, `hookwire tunnel` and the local app (a bare hyper server that
//! counts what it receives) run as child processes on 127.0.0.1; the load
//! generator (16 keep-alive HTTP/1.1 connections, 1 KiB JSON POSTs, closed
//! loop) and the 500 idle WebSockets run here.
//!
//! Run: `cargo bench --bench tunnel`. `HOOKWIRE_BENCH_SECS=3` shortens the
//! two latency phases (default 10 s each). The numbers are printed, not
//! asserted; the run fails only when something does not start or most
//! requests fail.

mod common;

use std::io::{BufRead as _, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use common::{
    BODY_BYTES, Body, ChildGuard, STARTUP_TIMEOUT, TIMEOUT, connect, json_body, request, rss_mib,
    start_hookwire,
};
use futures_util::StreamExt as _;
use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request, Response, StatusCode, header};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

const CONNECTIONS: usize = 16;
const WARMUP: Duration = Duration::from_secs(1);
/// Captures queued while the tunnel is away, then drained.
const BACKLOG: u64 = 10_000;
/// The same for the Python app (slower by nature; 500 at 35/s took 14 s
/// before connections to the app acknowledged at once).
const PYTHON_BACKLOG: u64 = 2_000;
/// Longest wait for the backlog to drain, and for progress while it does.
const DRAIN_LIMIT: Duration = Duration::from_secs(45);
const DRAIN_STALL: Duration = Duration::from_secs(10);
/// Idle WebSocket tunnels opened for the memory measurement.
const IDLE_TUNNELS: usize = 500;
/// How many of them connect at once.
const CONNECT_CONCURRENCY: usize = 50;
/// Re-executing this binary with this argument runs the local app.
const APP_ARG: &str = "--bare-hyper-app";
/// What the app answers (the bin's own response is `{"ok":true}`), so a
/// passthrough answer can be told from the bin's fallback.
const APP_BODY: &[u8] = br#"{"app":"ok"}"#;
/// `GET` here returns how many other requests the app has received.
const COUNT_PATH: &str = "/count";
fn main() -> Result<()> {
    if std::env::args().any(|a| a == APP_ARG) {
        return bare_app();
    }
    let secs = std::env::var("HOOKWIRE_BENCH_SECS").map_or(Ok(10), |v| v.trim().parse::<u64>());
    let secs = secs.context("HOOKWIRE_BENCH_SECS: whole seconds")?;
    ensure!(secs > 0, "HOOKWIRE_BENCH_SECS must be at least 1");
    tokio::runtime::Runtime::new()
        .context("building the load generator's runtime")?
        .block_on(bench(secs))
}

async fn bench(secs: u64) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let body = json_body()?;
    let measure = Duration::from_secs(secs);
    println!(
        "tunnel benchmark: {CONNECTIONS} connections, {BODY_BYTES}-byte JSON POSTs, \
         {secs} s per latency phase, {BACKLOG} backlog, {IDLE_TUNNELS} idle tunnels, loopback"
    );

    // Phase A: the app alone, before hookwire runs, so nothing competes.
    let (app, app_addr) = common::start_self_as(APP_ARG).await?;
    let app_url = format!("http://{app_addr}");
    let direct = load(
        app_addr,
        "/hook".into(),
        body.clone(),
        Until::time(measure),
        None,
    )
    .await?;
    direct.check("the app directly")?;

    // bore, a plain TCP tunnel, in front of the same app: the peer to
    // match. Stopped before hookwire starts.
    let bore = match start_bore(app_addr).await {
        Ok((server, client, addr)) => {
            let via_bore = load(
                addr,
                "/hook".into(),
                body.clone(),
                Until::time(measure),
                None,
            )
            .await?;
            drop((client, server));
            via_bore.check("the app through bore")?;
            Some(via_bore)
        }
        Err(e) => {
            println!("note: no bore comparison: {e:#}");
            None
        }
    };

    let (hookwire, hw_addr) = start_hookwire(dir.path(), &[]).await?;
    let hw_pid = hookwire.0.id();

    // Memory, on the fresh server: idle, then with 500 idle tunnels.
    let mem_bin = mint_bin(hw_addr).await?;
    let rss_idle = rss_mib(hw_pid);
    let idle_tunnels = open_idle_tunnels(hw_addr, &mem_bin.id).await?;
    wait_tunnel_count(hw_addr, &mem_bin.id, IDLE_TUNNELS).await?;
    // Let the sessions' start-up work (positions, first reads) settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let rss_tunnels = rss_mib(hw_pid);
    drop(idle_tunnels);
    wait_tunnel_count(hw_addr, &mem_bin.id, 0).await?;

    // Phase B: the same load through hookwire and a passthrough tunnel.
    let pass_bin = mint_bin(hw_addr).await?;
    let mut pass = Tunnel::start(&pass_bin, &app_url, "bench-pass", &["--passthrough"])?;
    pass.wait_connected(hw_addr, &pass_bin.id).await?;
    let via = load(
        hw_addr,
        pass_bin.path.clone(),
        body.clone(),
        Until::time(measure),
        Some(Bytes::from_static(APP_BODY)),
    )
    .await?;
    pass.stop(hw_addr, &pass_bin.id).await?;
    via.check("hookwire with a passthrough tunnel")?;

    // Async delivery: a backlog captured while the tunnel is away, then
    // drained when it comes back with the same name: in order
    // (--concurrency 1, the default) and 8 at a time, to the fast app.
    let (async_bin, captured) = backlog(hw_addr, &app_url, &body, "bench-async", BACKLOG).await?;
    let drain = drain_backlog(
        hw_addr,
        app_addr,
        &async_bin,
        &app_url,
        "bench-async",
        captured.ok,
        &[],
    )
    .await?;
    // An older build (HOOKWIRE_BENCH_BIN) may not have --concurrency.
    let wide = if common::has_flag("tunnel", "--concurrency")? {
        let (wide_bin, wide_captured) =
            backlog(hw_addr, &app_url, &body, "bench-wide", BACKLOG).await?;
        Some(
            drain_backlog(
                hw_addr,
                app_addr,
                &wide_bin,
                &app_url,
                "bench-wide",
                wide_captured.ok,
                &["--concurrency", "8"],
            )
            .await?,
        )
    } else {
        None
    };

    // --concurrency 8 again with the live view on, under a pseudo-terminal
    // (util-linux `script`), then with it off once more: each phase runs
    // on a larger database than the one before, so the view is compared
    // with the mean of the drains before and after it (A/B/A).
    let view_on = common::has_flag("tunnel", "--ui")? && script_available();
    let wide_viewed = if view_on {
        let on = &["--concurrency", "8", "--ui", "on"];
        let viewed = fresh_drain(
            hw_addr,
            app_addr,
            &app_url,
            &body,
            "bench-view-wide",
            BACKLOG,
            on,
        );
        let viewed = viewed.await?;
        let off = &["--concurrency", "8"];
        let again = fresh_drain(
            hw_addr,
            app_addr,
            &app_url,
            &body,
            "bench-wide-2",
            BACKLOG,
            off,
        );
        Some((viewed, again.await?))
    } else {
        None
    };

    // Routing, an older build may not have it: the same backlog
    // through a filter every request passes (the server evaluates it per
    // request), and fanned out to two targets (the same app under two
    // names, so it gets every request twice, each target in order).
    let routed = if common::has_flag("tunnel", "--filter")? {
        let (filter_bin, filter_captured) =
            backlog(hw_addr, &app_url, &body, "bench-filter", BACKLOG).await?;
        let filtered = drain_backlog(
            hw_addr,
            app_addr,
            &filter_bin,
            &app_url,
            "bench-filter",
            filter_captured.ok,
            &[
                "--filter",
                "json:/event=invoice.paid",
                "--filter",
                "!header.x-skip=*",
            ],
        )
        .await?;
        let (fan_bin, fan_captured) =
            backlog(hw_addr, &app_url, &body, "bench-fan", BACKLOG).await?;
        let second = format!("http://localhost:{}", app_addr.port());
        let fanned = drain_backlog(
            hw_addr,
            app_addr,
            &fan_bin,
            &app_url,
            "bench-fan",
            2 * fan_captured.ok,
            &["--to", &second],
        )
        .await?;
        Some((filtered, fanned))
    } else {
        None
    };

    // Delivery to a dev server that answers in two writes with Nagle on
    // (Python's stock http.server, HTTP/1.1 keep-alive), in order.
    let (py, py_addr) = start_python_app(dir.path()).await?;
    let py_url = format!("http://{py_addr}");
    let (py_bin, py_captured) =
        backlog(hw_addr, &py_url, &body, "bench-python", PYTHON_BACKLOG).await?;
    let py_drain = drain_backlog(
        hw_addr,
        py_addr,
        &py_bin,
        &py_url,
        "bench-python",
        py_captured.ok,
        &[],
    )
    .await?;
    // The same with the live view on, then off again (A/B/A).
    let py_viewed = if view_on {
        let (n, on) = (PYTHON_BACKLOG, &["--ui", "on"]);
        let viewed = fresh_drain(hw_addr, py_addr, &py_url, &body, "bench-view-python", n, on);
        let viewed = viewed.await?;
        let again = fresh_drain(hw_addr, py_addr, &py_url, &body, "bench-python-2", n, &[]);
        Some((viewed, again.await?))
    } else {
        None
    };
    let rss_after = rss_mib(hw_pid);
    drop(py);
    drop(hookwire);
    drop(app);
    let backlog = captured;

    let mib = |v: Option<f64>| v.map_or("n/a".to_owned(), |m| format!("{m:.1} MiB"));
    let added = via.percentile_ms(0.50) - direct.percentile_ms(0.50);
    println!("app directly (bare hyper): {}", direct.line());
    if let Some(bore) = &bore {
        println!("via bore (TCP tunnel)    : {}", bore.line());
    }
    println!("via passthrough tunnel   : {}", via.line());
    println!("added p50 latency        :  {added:.2} ms   (target <= 0.5 ms)");
    if let Some(bore) = &bore {
        println!(
            "bore added p50           :  {:.2} ms;  req/s hookwire/bore: {:.2}   (target >= 1.00)",
            bore.percentile_ms(0.50) - direct.percentile_ms(0.50),
            via.rate() / bore.rate()
        );
    }
    println!(
        "backlog captured         :  {} requests in {:.2} s ({:.0} req/s, errors: {})",
        backlog.ok,
        backlog.elapsed.as_secs_f64(),
        backlog.rate(),
        backlog.errors
    );
    println!("async delivery           :  {}", drain.line(20_000.0));
    match &wide {
        Some(wide) => println!("  --concurrency 8        :  {}", wide.line(20_000.0)),
        None => println!("  --concurrency 8        :  n/a (this build has no --concurrency)"),
    }
    match &routed {
        Some((filtered, fanned)) => {
            println!("  through a --filter     :  {}", filtered.line(20_000.0));
            println!("  fan-out to 2 targets   :  {}", fanned.line(20_000.0));
        }
        None => println!("  --filter / fan-out     :  n/a (this build has no routing)"),
    }
    println!("to Python http.server    :  {}", py_drain.line(1_000.0));
    match (&wide, &wide_viewed, &py_viewed) {
        (Some(wide), Some((wide_on, wide_again)), Some((py_on, py_again))) => {
            println!("live view on (a pty), each between two drains with it off:");
            println!("  --concurrency 8        :  {}", wide_on.line(20_000.0));
            println!("    then off again       :  {}", wide_again.line(20_000.0));
            println!("  to Python http.server  :  {}", py_on.line(1_000.0));
            println!("    then off again       :  {}", py_again.line(1_000.0));
            println!(
                "  view on / mean of off  :  --concurrency 8 {:.2}, http.server {:.2}   (target: within noise, ~1.00)",
                wide_on.rate() / ((wide.rate() + wide_again.rate()) / 2.0),
                py_on.rate() / ((py_drain.rate() + py_again.rate()) / 2.0)
            );
        }
        _ => println!("live view on             :  n/a (no --ui in this build, or no `script`)"),
    }
    println!(
        "hookwire RSS             :  idle {} (target <= 30 MiB), {IDLE_TUNNELS} idle tunnels {}, \
         difference {} (target <= +50 MiB), after the run {}",
        mib(rss_idle),
        mib(rss_tunnels),
        rss_tunnels
            .zip(rss_idle)
            .map_or("n/a".to_owned(), |(t, i)| format!("{:+.1} MiB", t - i)),
        mib(rss_after)
    );
    Ok(())
}

/// The local app: hyper answering 200 with [`APP_BODY`] after reading the
/// whole body, counting the requests it answered; `GET /count` returns the
/// count (and is not counted).
fn bare_app() -> Result<()> {
    let rt = tokio::runtime::Runtime::new().context("building the app's runtime")?;
    rt.block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        // The parent holds our stdin; EOF means it is gone, so stop too.
        std::thread::spawn(|| {
            let _ = std::io::copy(&mut std::io::stdin(), &mut std::io::sink());
            std::process::exit(0);
        });
        let count = Arc::new(AtomicU64::new(0));
        loop {
            let (stream, _) = listener.accept().await.context("app accept")?;
            let _ = stream.set_nodelay(true);
            let count = count.clone();
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let count = count.clone();
                    async move {
                        let is_count = req.uri().path() == COUNT_PATH;
                        req.into_body().collect().await?;
                        let body = if is_count {
                            Bytes::from(count.load(Ordering::SeqCst).to_string())
                        } else {
                            count.fetch_add(1, Ordering::SeqCst);
                            Bytes::from_static(APP_BODY)
                        };
                        let mut resp = Response::new(Full::new(body));
                        resp.headers_mut().insert(
                            header::CONTENT_TYPE,
                            header::HeaderValue::from_static("application/json"),
                        );
                        Ok::<_, hyper::Error>(resp)
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    })
}

/// The `bore` binary: on PATH, in cargo's bin directory, or installed now
/// with `cargo install bore-cli` (said so on stdout).
fn bore_binary() -> Result<std::path::PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(std::path::PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| std::path::PathBuf::from(h).join(".cargo")))
        .map(|d| d.join("bin").join("bore"));
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("bore"))
            .find(|p| p.is_file())
    });
    if let Some(found) = on_path.or_else(|| cargo_bin.clone().filter(|p| p.is_file())) {
        return Ok(found);
    }
    println!("bore not found: installing it with `cargo install bore-cli --locked` (once)");
    let ok = Command::new("cargo")
        .args(["install", "bore-cli", "--locked"])
        .status()
        .context("running cargo install bore-cli")?;
    ensure!(ok.success(), "cargo install bore-cli failed");
    cargo_bin
        .filter(|p| p.is_file())
        .context("bore is not in cargo's bin directory after install")
}

/// `bore server` on loopback and `bore local` forwarding a port of it to
/// `app`; returns both and the port to send to. bore's control port is
/// fixed (7835), so two benchmarks cannot run side by side.
async fn start_bore(app: SocketAddr) -> Result<(ChildGuard, ChildGuard, SocketAddr)> {
    let bore = bore_binary()?;
    let server = ChildGuard(
        Command::new(&bore)
            .args(["server", "--bind-addr", "127.0.0.1", "--min-port", "20000"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .context("starting bore server")?,
    );
    let started = Instant::now();
    let mut client = loop {
        // The client fails until the server listens.
        let mut child = Command::new(&bore)
            .args(["local", &app.port().to_string(), "--to", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .env("NO_COLOR", "1")
            .spawn()
            .context("starting bore local")?;
        tokio::time::sleep(Duration::from_millis(200)).await;
        if child.try_wait().context("checking bore local")?.is_none() {
            break child;
        }
        ensure!(
            started.elapsed() < STARTUP_TIMEOUT,
            "bore local did not connect"
        );
    };
    let stdout = client.stdout.take().context("bore stdout")?;
    let client = ChildGuard(client);
    let read = tokio::task::spawn_blocking(move || {
        for line in BufReader::new(stdout).lines() {
            let line = line.ok()?;
            if let Some(at) = line.find("listening at ") {
                let addr = &line[at + "listening at ".len()..];
                return addr.trim().rsplit(':').next()?.parse::<u16>().ok();
            }
        }
        None
    });
    let port = tokio::time::timeout(STARTUP_TIMEOUT, read)
        .await
        .context("bore local did not say where it listens")??
        .context("bore local's output had no port")?;
    Ok((server, client, SocketAddr::from(([127, 0, 0, 1], port))))
}

/// Python's stock http.server as the app (benches/apps/http_server_app.py):
/// it writes each answer's head and body in two writes with Nagle on.
async fn start_python_app(dir: &std::path::Path) -> Result<(ChildGuard, SocketAddr)> {
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/benches/apps/http_server_app.py"
    );
    let port_file = dir.join("python-app.port");
    let child = Command::new("python3")
        .arg(script)
        .arg(&port_file)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .context("starting python3 (the http.server app)")?;
    let guard = ChildGuard(child);
    let started = Instant::now();
    loop {
        if let Some(port) = std::fs::read_to_string(&port_file)
            .ok()
            .and_then(|p| p.trim().parse::<u16>().ok())
        {
            return Ok((guard, SocketAddr::from(([127, 0, 0, 1], port))));
        }
        ensure!(
            started.elapsed() < STARTUP_TIMEOUT,
            "the Python app did not write its port"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// How many requests the app has received.
async fn app_count(app: &mut SendRequest<Body>, addr: SocketAddr) -> Result<u64> {
    let req = common::json_request(addr, Method::GET, COUNT_PATH, Bytes::new())?;
    let fut = async {
        app.ready().await?;
        let resp = app.send_request(req).await?;
        anyhow::Ok(resp.into_body().collect().await?.to_bytes())
    };
    let body = tokio::time::timeout(TIMEOUT, fut)
        .await
        .context("the app did not answer GET /count")??;
    let text = std::str::from_utf8(&body).context("GET /count: not UTF-8")?;
    text.trim()
        .parse()
        .with_context(|| format!("GET /count answered {text:?}"))
}

/// A minted bin.
struct Bin {
    id: String,
    capture_url: String,
    /// The capture URL's path.
    path: Arc<str>,
}

async fn mint_bin(addr: SocketAddr) -> Result<Bin> {
    let (status, body) = request(addr, Method::POST, "/api/bins").await?;
    ensure!(status == StatusCode::CREATED, "POST /api/bins: {status}");
    let json: serde_json::Value = serde_json::from_slice(&body).context("POST /api/bins JSON")?;
    let id = json["id"].as_str().context("no id")?.to_owned();
    let capture_url = json["capture_url"].as_str().context("no capture_url")?;
    let uri: hyper::Uri = capture_url.parse().context("capture_url is not a URI")?;
    Ok(Bin {
        id,
        capture_url: capture_url.to_owned(),
        path: uri.path().into(),
    })
}

/// The names in `GET /api/bins/{id}`'s `tunnels`.
async fn connected_tunnels(addr: SocketAddr, bin: &str) -> Result<Vec<String>> {
    let path = format!("/api/bins/{bin}");
    let (status, body) = tokio::time::timeout(TIMEOUT, request(addr, Method::GET, &path))
        .await
        .with_context(|| format!("GET {path} timed out"))??;
    ensure!(status == StatusCode::OK, "GET {path}: {status}");
    let json: serde_json::Value = serde_json::from_slice(&body).context("GET bin JSON")?;
    let names = json["tunnels"]
        .as_array()
        .context("no tunnels in the bin")?;
    Ok(names
        .iter()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect())
}

/// Waits (bounded) until the bin has `n` connected tunnels.
async fn wait_tunnel_count(addr: SocketAddr, bin: &str, n: usize) -> Result<()> {
    let started = Instant::now();
    loop {
        let names = connected_tunnels(addr, bin).await?;
        if names.len() == n {
            return Ok(());
        }
        if started.elapsed() > STARTUP_TIMEOUT {
            bail!(
                "bin {bin} has {} connected tunnels after {} s, expected {n}",
                names.len(),
                STARTUP_TIMEOUT.as_secs()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens IDLE_TUNNELS tunnel WebSockets to one bin (distinct names) and
/// reads each one's hello, so each is registered.
async fn open_idle_tunnels(addr: SocketAddr, bin: &str) -> Result<Vec<Ws>> {
    let permits = Arc::new(tokio::sync::Semaphore::new(CONNECT_CONCURRENCY));
    let mut set = tokio::task::JoinSet::new();
    for i in 0..IDLE_TUNNELS {
        let url = format!("ws://{addr}/api/bins/{bin}/tunnel?v=1&name=idle{i}");
        let permits = permits.clone();
        set.spawn(async move {
            let _permit = permits.acquire_owned().await?;
            let open = async {
                let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await?;
                let first = ws.next().await.context("closed before its hello")??;
                match first {
                    // version 1, kind 1 (hello)
                    Message::Binary(b) if b.get(..2) == Some(&[1, 1][..]) => Ok(ws),
                    other => bail!("first message was not a hello: {other:?}"),
                }
            };
            tokio::time::timeout(STARTUP_TIMEOUT, open)
                .await
                .with_context(|| format!("{url}: no hello in time"))?
                .with_context(|| format!("opening {url}"))
        });
    }
    let mut sockets = Vec::with_capacity(IDLE_TUNNELS);
    while let Some(res) = set.join_next().await {
        sockets.push(res.context("a tunnel task panicked")??);
    }
    Ok(sockets)
}

/// `hookwire tunnel` as a child process, its pipes drained on threads;
/// killed when dropped.
struct Tunnel {
    child: ChildGuard,
    name: String,
    /// Lines printed on stdout: one per delivery.
    deliveries: Arc<AtomicU64>,
    /// Status lines, for error messages.
    stderr: Arc<Mutex<Vec<String>>>,
    /// Runs in the view, under `script`.
    under_script: bool,
}

impl Tunnel {
    fn start(bin: &Bin, app_url: &str, name: &str, flags: &[&str]) -> Result<Self> {
        let mut cmd = common::hookwire_command();
        cmd.args(["tunnel", &bin.capture_url, "--to", app_url, "--name", name]);
        cmd.args(flags);
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting hookwire tunnel")?;
        let stdout = child.stdout.take().context("tunnel stdout")?;
        let stderr = child.stderr.take().context("tunnel stderr")?;
        let deliveries = Arc::new(AtomicU64::new(0));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let counter = deliveries.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).split(b'\n') {
                if line.is_err() {
                    break;
                }
                counter.fetch_add(1, Ordering::Relaxed);
            }
        });
        let keep = lines.clone();
        std::thread::spawn(move || drain_lines(stderr, &keep));
        Ok(Self {
            child: ChildGuard(child),
            name: name.to_owned(),
            deliveries,
            stderr: lines,
            under_script: false,
        })
    }

    /// The same, in the full-screen view: `script` gives it a 160x45
    /// pseudo-terminal (its screen output is drained and dropped).
    fn start_in_view(bin: &Bin, app_url: &str, name: &str, flags: &[&str]) -> Result<Self> {
        let hookwire = common::hookwire_command();
        let line = format!(
            "stty cols 160 rows 45; exec {} tunnel {} --to {app_url} --name {name} {}",
            hookwire.get_program().display(),
            bin.capture_url,
            flags.join(" ")
        );
        let mut cmd = Command::new("script");
        for (var, value) in hookwire.get_envs() {
            match value {
                Some(v) => cmd.env(var, v),
                None => cmd.env_remove(var),
            };
        }
        let mut child = cmd
            .args(["-qfec", &line, "/dev/null"])
            .env("TERM", "xterm-256color")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting hookwire tunnel under script")?;
        let stdout = child.stdout.take().context("script stdout")?;
        let stderr = child.stderr.take().context("script stderr")?;
        let lines = Arc::new(Mutex::new(Vec::new()));
        std::thread::spawn(move || std::io::copy(&mut { stdout }, &mut std::io::sink()));
        let keep = lines.clone();
        std::thread::spawn(move || drain_lines(stderr, &keep));
        Ok(Self {
            child: ChildGuard(child),
            name: name.to_owned(),
            // The view prints no lines: count the deliveries as printed.
            deliveries: Arc::new(AtomicU64::new(u64::MAX)),
            stderr: lines,
            under_script: true,
        })
    }

    /// The process to signal: the tunnel itself, not `script` around it.
    fn tunnel_pid(&self) -> String {
        let pid = self.child.0.id();
        if self.under_script {
            let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
                .unwrap_or_default();
            if let Some(child) = children.split_whitespace().next() {
                return child.to_owned();
            }
        }
        pid.to_string()
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Waits (bounded) until the server lists this tunnel as connected.
    async fn wait_connected(&mut self, addr: SocketAddr, bin: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            if connected_tunnels(addr, bin).await?.contains(&self.name) {
                return Ok(());
            }
            let exited = self.exit_status()?;
            if exited.is_some() || started.elapsed() > STARTUP_TIMEOUT {
                bail!(
                    "tunnel {:?} did not connect ({exited:?}); its stderr:\n{}",
                    self.name,
                    self.stderr_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    fn exit_status(&mut self) -> Result<Option<std::process::ExitStatus>> {
        self.child.0.try_wait().context("checking the tunnel")
    }

    /// SIGINT, waits for the process to exit, then (bounded) for the server
    /// to drop it from the bin's tunnels.
    async fn stop(mut self, addr: SocketAddr, bin: &str) -> Result<()> {
        let pid = self.tunnel_pid();
        let ok = Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .context("running kill -INT")?;
        ensure!(ok.success(), "kill -INT {pid} failed");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.0.try_wait().context("waiting for the tunnel")? {
                break status;
            }
            if started.elapsed() > STARTUP_TIMEOUT {
                bail!(
                    "tunnel {:?} did not exit {} s after SIGINT; its stderr:\n{}",
                    self.name,
                    STARTUP_TIMEOUT.as_secs(),
                    self.stderr_text()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        if !status.success() {
            eprintln!(
                "note: tunnel {:?} exited with {status} after SIGINT; its stderr:\n{}",
                self.name,
                self.stderr_text()
            );
        }
        let started = Instant::now();
        while connected_tunnels(addr, bin).await?.contains(&self.name) {
            if started.elapsed() > STARTUP_TIMEOUT {
                bail!(
                    "the server still lists tunnel {:?} after it exited",
                    self.name
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        Ok(())
    }
}

fn drain_lines(pipe: impl Read, keep: &Mutex<Vec<String>>) {
    for line in BufReader::new(pipe).split(b'\n') {
        let Ok(line) = line else { break };
        if let Ok(mut lines) = keep.lock() {
            if lines.len() >= 50 {
                lines.remove(0);
            }
            lines.push(String::from_utf8_lossy(&line).into_owned());
        }
    }
}

/// What draining the backlog took.
struct Drain {
    expected: u64,
    delivered: u64,
    /// From starting the tunnel to the app having all of them (or giving up).
    elapsed: Duration,
    /// From starting the tunnel to the app's first request.
    first: Option<Duration>,
    /// Lines the tunnel client printed.
    printed: u64,
    /// The newest request shows a delivery in the API.
    recorded: bool,
}

impl Drain {
    /// Deliveries per second.
    fn rate(&self) -> f64 {
        self.delivered as f64 / self.elapsed.as_secs_f64()
    }

    fn line(&self, target: f64) -> String {
        let rate = self.rate();
        let first = self.first.map_or("n/a".to_owned(), |d| {
            format!("{:.0} ms", d.as_secs_f64() * 1e3)
        });
        let mut line = format!(
            "{:6.0} deliveries/s  ({} in {:.2} s from the tunnel's start, first after {first}) \
             (target >= {target:.0}/s)",
            rate,
            self.delivered,
            self.elapsed.as_secs_f64()
        );
        if self.delivered < self.expected {
            line.push_str(&format!(
                "\n                           INCOMPLETE: {} of {} reached the app",
                self.delivered, self.expected
            ));
        }
        if self.printed < self.delivered {
            line.push_str(&format!(
                "\n                           note: the client printed {} delivery lines",
                self.printed
            ));
        }
        if !self.recorded {
            line.push_str(
                "\n                           note: the newest request shows no delivery in the API",
            );
        }
        line
    }
}

/// A bin whose tunnel `name` connected once and left, and `count` captures
/// it has not had yet.
/// A fresh bin with `count` captures, drained by a tunnel with `flags`.
async fn fresh_drain(
    hw: SocketAddr,
    app_addr: SocketAddr,
    app_url: &str,
    body: &Bytes,
    name: &str,
    count: u64,
    flags: &[&str],
) -> Result<Drain> {
    let (bin, captured) = backlog(hw, app_url, body, name, count).await?;
    drain_backlog(hw, app_addr, &bin, app_url, name, captured.ok, flags).await
}

async fn backlog(
    hw: SocketAddr,
    app_url: &str,
    body: &Bytes,
    name: &str,
    count: u64,
) -> Result<(Bin, Phase)> {
    let bin = mint_bin(hw).await?;
    let mut first = Tunnel::start(&bin, app_url, name, &[])?;
    first.wait_connected(hw, &bin.id).await?;
    first.stop(hw, &bin.id).await?;
    let captured = load(
        hw,
        bin.path.clone(),
        body.clone(),
        Until::count(count),
        None,
    )
    .await?;
    captured.check("capturing the backlog")?;
    Ok((bin, captured))
}

/// Restarts the tunnel `name` (with `--ui on`: in the full-screen view,
/// under a pty) and times until the app has `expected` more requests than
/// before.
async fn drain_backlog(
    hw: SocketAddr,
    app_addr: SocketAddr,
    bin: &Bin,
    app_url: &str,
    name: &str,
    expected: u64,
    flags: &[&str],
) -> Result<Drain> {
    let mut app = connect(app_addr).await.context("connecting to the app")?;
    let before = app_count(&mut app, app_addr).await?;
    let started = Instant::now();
    let mut tunnel = if flags.windows(2).any(|f| f == ["--ui", "on"]) {
        Tunnel::start_in_view(bin, app_url, name, flags)?
    } else {
        Tunnel::start(bin, app_url, name, flags)?
    };
    let (mut delivered, mut first, mut progress_at) = (0, None, Instant::now());
    while delivered < expected {
        tokio::time::sleep(Duration::from_millis(10)).await;
        let now = app_count(&mut app, app_addr).await? - before;
        if now > 0 && first.is_none() {
            first = Some(started.elapsed());
        }
        if now > delivered {
            progress_at = Instant::now();
        }
        delivered = now;
        if let Some(status) = tunnel.exit_status()? {
            bail!(
                "the tunnel exited ({status}) while draining the backlog ({delivered} of {expected}); its stderr:\n{}",
                tunnel.stderr_text()
            );
        }
        if started.elapsed() > DRAIN_LIMIT || progress_at.elapsed() > DRAIN_STALL {
            eprintln!(
                "note: the backlog did not drain ({delivered} of {expected}); the tunnel's stderr:\n{}",
                tunnel.stderr_text()
            );
            break;
        }
    }
    let elapsed = started.elapsed();
    let recorded = newest_has_delivery(hw, &bin.id).await?;
    let printed = tunnel.deliveries.load(Ordering::Relaxed);
    tunnel.stop(hw, &bin.id).await?;
    Ok(Drain {
        expected,
        delivered,
        elapsed,
        first,
        printed,
        recorded,
    })
}

/// Whether util-linux `script` (a pseudo-terminal for the view) is here.
fn script_available() -> bool {
    Command::new("script")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Whether the bin's newest request shows a delivery within a few seconds
/// (deliveries are recorded after the app answered).
async fn newest_has_delivery(addr: SocketAddr, bin: &str) -> Result<bool> {
    let (status, body) = request(
        addr,
        Method::GET,
        &format!("/api/bins/{bin}/requests?limit=1"),
    )
    .await?;
    ensure!(status == StatusCode::OK, "GET requests: {status}");
    let json: serde_json::Value = serde_json::from_slice(&body).context("requests JSON")?;
    let Some(id) = json["requests"][0]["id"].as_i64() else {
        return Ok(false);
    };
    let started = Instant::now();
    while started.elapsed() < TIMEOUT {
        let path = format!("/api/bins/{bin}/requests/{id}");
        let (status, body) = request(addr, Method::GET, &path).await?;
        ensure!(status == StatusCode::OK, "GET {path}: {status}");
        let json: serde_json::Value = serde_json::from_slice(&body).context("request JSON")?;
        if json["deliveries"].as_array().is_some_and(|d| !d.is_empty()) {
            return Ok(true);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(false)
}

/// When a load run stops.
#[derive(Clone)]
enum Until {
    /// After WARMUP plus this long; only requests inside it are counted.
    Time(Duration),
    /// After this many requests in all (no warm-up), shared by the
    /// connections through the counter.
    Count(u64, Arc<AtomicU64>),
}

impl Until {
    fn time(d: Duration) -> Self {
        Self::Time(d)
    }

    fn count(n: u64) -> Self {
        Self::Count(n, Arc::new(AtomicU64::new(0)))
    }
}

/// What one load run saw.
struct Phase {
    ok: u64,
    errors: u64,
    /// Successful answers whose body was not the expected one (for
    /// passthrough: answered by the bin, not the app).
    foreign: u64,
    elapsed: Duration,
    /// Latencies of the successful requests, microseconds, sorted.
    latencies_us: Vec<u32>,
}

impl Phase {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn percentile_ms(&self, p: f64) -> f64 {
        let n = self.latencies_us.len();
        let i = ((p * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        self.latencies_us
            .get(i)
            .map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
    }

    fn line(&self) -> String {
        let mut line = format!(
            "{:6.0} req/s  p50 {:.2} ms  p99 {:.2} ms  (errors: {})",
            self.rate(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.errors
        );
        if self.foreign > 0 {
            line.push_str(&format!(" ({} not answered by the app)", self.foreign));
        }
        line
    }

    fn check(&self, what: &str) -> Result<()> {
        ensure!(
            self.ok > 0 && self.errors <= self.ok,
            "{what}: most requests failed ({} ok, {} errors)",
            self.ok,
            self.errors
        );
        Ok(())
    }
}

/// Drives CONNECTIONS connections back to back (closed loop) until `until`.
/// With `expect`, a successful answer with another body counts as foreign.
async fn load(
    addr: SocketAddr,
    path: Arc<str>,
    body: Bytes,
    until: Until,
    expect: Option<Bytes>,
) -> Result<Phase> {
    let began = Instant::now();
    let (measure_from, stop_at) = match &until {
        Until::Time(measure) => (began + WARMUP, Some(began + WARMUP + *measure)),
        Until::Count(..) => (began, None),
    };
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    for _ in 0..CONNECTIONS {
        let (path, body, until, expect) =
            (path.clone(), body.clone(), until.clone(), expect.clone());
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut foreign, mut lat) = (0u64, 0u64, 0u64, Vec::new());
            let mut sender: Option<SendRequest<Body>> = None;
            loop {
                match &until {
                    Until::Time(_) => {
                        if stop_at.is_some_and(|s| Instant::now() >= s) {
                            break;
                        }
                    }
                    Until::Count(n, sent) => {
                        if sent.fetch_add(1, Ordering::Relaxed) >= *n {
                            break;
                        }
                    }
                }
                let s = match sender.as_mut() {
                    Some(s) => s,
                    None => match tokio::time::timeout(TIMEOUT, connect(addr)).await {
                        Ok(Ok(s)) => sender.insert(s),
                        _ => {
                            if Instant::now() >= measure_from {
                                errors += 1;
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                let req = common::json_request(addr, Method::POST, &path, body.clone())?;
                let started = Instant::now();
                let result = tokio::time::timeout(TIMEOUT, async {
                    s.ready().await?;
                    let resp = s.send_request(req).await?;
                    let status = resp.status();
                    // Drained so the connection can carry the next request.
                    let bytes = resp.into_body().collect().await?.to_bytes();
                    Ok::<_, hyper::Error>((status, bytes))
                })
                .await;
                let done = Instant::now();
                if !matches!(result, Ok(Ok(_))) {
                    sender = None;
                }
                if started < measure_from || stop_at.is_some_and(|s| done > s) {
                    continue;
                }
                match result {
                    Ok(Ok((status, bytes))) if status.is_success() => {
                        ok += 1;
                        if expect.as_ref().is_some_and(|e| *e != bytes) {
                            foreign += 1;
                        }
                        let us = (done - started).as_micros();
                        lat.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    _ => errors += 1,
                }
            }
            Ok::<_, anyhow::Error>((ok, errors, foreign, lat))
        }));
    }
    let (mut ok, mut errors, mut foreign, mut latencies_us) = (0, 0, 0, Vec::new());
    for task in tasks {
        let (o, e, f, lat) = task.await.context("a load task panicked")??;
        (ok, errors, foreign) = (ok + o, errors + e, foreign + f);
        latencies_us.extend(lat);
    }
    latencies_us.sort_unstable();
    let elapsed = match until {
        Until::Time(measure) => measure,
        Until::Count(..) => began.elapsed(),
    };
    Ok(Phase {
        ok,
        errors,
        foreign,
        elapsed,
        latencies_us,
    })
}
