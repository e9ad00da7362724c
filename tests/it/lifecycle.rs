//! The server's life: data survives restarts and `kill -9`; shutdown
//! finishes in-flight captures; the binary exits 0 on SIGTERM.

use crate::common;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use common::{JsonBody, TestServer};
use serde_json::json;

#[tokio::test]
async fn requests_and_settings_survive_a_restart() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let body: Vec<u8> = (0..=255u8).rev().collect();
    s.client
        .post(s.url(&format!("/{bin}/before")))
        .body(body.clone())
        .send()
        .await
        .expect("send");
    s.client
        .put(s.url(&format!("/api/bins/{bin}/response")))
        .json_body(&json!({"status": 201, "body": "kept"}))
        .send()
        .await
        .expect("put");

    let s = s.restart().await;
    let stored = s.requests(&bin).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["path"], "/before");
    let id = stored[0]["id"].as_i64().expect("id");
    let raw = s.raw_body(&bin, id).await;
    assert_eq!(raw, body);
    let res = s
        .client
        .post(s.url(&format!("/{bin}")))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 201);
    let new_id: i64 = common::request_id(&res);
    assert!(new_id > id, "ids keep increasing across restarts");
}

#[tokio::test]
async fn shutdown_finishes_in_flight_captures() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    s.client
        .put(s.url(&format!("/api/bins/{bin}/response")))
        .json_body(&json!({"delay_ms": 300}))
        .send()
        .await
        .expect("put");
    let client = s.client.clone();
    let url = s.url(&format!("/{bin}"));
    let in_flight = tokio::spawn(async move { client.post(url).body("x").send().await });
    // Stored (committed) before the delay starts: wait for that, then stop.
    while s.requests(&bin).await.is_empty() {
        tokio::task::yield_now().await;
    }
    s.stop().await;
    let res = in_flight
        .await
        .expect("task")
        .expect("answered, not cut off");
    assert_eq!(res.status(), 200);
}

/// The real binary, killed on drop.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `hookwire serve` on a free port; returns it and its base URL.
fn serve_binary(db: &std::path::Path) -> (Proc, String) {
    serve_binary_with(db, &[])
}

/// The `--db` of a test's database file: the file itself, or with
/// HOOKWIRE_TEST_STORE=postgres a PostgreSQL database of its own (the same
/// one each time the test names the same file).
fn db_arg(db: &std::path::Path) -> std::ffi::OsString {
    use std::collections::HashMap;
    use std::sync::{Mutex, OnceLock};
    static URLS: OnceLock<Mutex<HashMap<std::path::PathBuf, String>>> = OnceLock::new();
    if !common::pg::wanted() {
        return db.into();
    }
    let mut urls = URLS.get_or_init(Default::default).lock().expect("lock");
    urls.entry(db.to_owned())
        .or_insert_with(common::pg::database)
        .as_str()
        .into()
}

/// [`serve_binary`] with more flags.
fn serve_binary_with(db: &std::path::Path, flags: &[&str]) -> (Proc, String) {
    serve_binary_on(&db_arg(db), flags)
}

/// `hookwire serve --db DB FLAGS…` on a free port.
fn serve_binary_on(db: &std::ffi::OsStr, flags: &[&str]) -> (Proc, String) {
    let mut child = Command::new(common::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--db"])
        .arg(db)
        .args(flags)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start hookwire serve");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = BufReader::new(stderr).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("server exited early")
            .expect("read stderr");
        if let Some(rest) = line.strip_prefix("hookwire is listening on ") {
            break rest.split(';').next().expect("addr").to_owned();
        }
    };
    // Keep draining stderr so the server never blocks on a full pipe.
    std::thread::spawn(move || lines.for_each(drop));
    (Proc(child), format!("http://{addr}"))
}

#[tokio::test]
async fn binary_exits_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut proc, base) = serve_binary(&dir.path().join("t.db"));
    let res = reqwest::get(format!("{base}/healthz"))
        .await
        .expect("health");
    assert_eq!(res.status(), 200);
    let status = Command::new("kill")
        .args(["-TERM", &proc.0.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let code = tokio::task::spawn_blocking(move || proc.0.wait().expect("wait"))
        .await
        .expect("join");
    assert!(code.success(), "exit status {code}");
}

#[tokio::test]
async fn kill_9_loses_no_acknowledged_capture() {
    kill_9_rounds(&[]).await;
}

/// With `--durability fsync` every batch is flushed before it is
/// acknowledged; a killed process still loses nothing.
#[tokio::test]
async fn kill_9_loses_no_acknowledged_capture_with_fsync_durability() {
    kill_9_rounds(&["--durability", "fsync"]).await;
}

/// Three rounds of load, each ended by `kill -9`, on one database; then
/// every acknowledged capture must be stored.
async fn kill_9_rounds(flags: &[&str]) {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("k.db");
    let serve_binary = |db: &std::path::Path| serve_binary_with(db, flags);
    let (proc, base) = serve_binary(&db);
    let client = reqwest::Client::new();
    let bin: serde_json::Value = serde_json::from_slice(
        &client
            .post(format!("{base}/api/bins"))
            .send()
            .await
            .expect("mint")
            .bytes()
            .await
            .expect("body"),
    )
    .expect("json");
    let bin = bin["id"].as_str().expect("id").to_owned();

    // Three rounds: 8 senders post until the server is killed with
    // SIGKILL mid-load; each records what was acknowledged. The server is
    // restarted on the same file for the next round.
    let mut acked = Vec::new();
    let mut running = Some((proc, base));
    for round in 0..3 {
        let (proc, base) = running.take().unwrap_or_else(|| serve_binary(&db));
        let (acked_tx, mut acked_rx) = tokio::sync::mpsc::unbounded_channel::<i64>();
        let mut senders = Vec::new();
        for w in 0..8 {
            let (client, url, acked) = (
                client.clone(),
                format!("{base}/{bin}/r{round}w{w}"),
                acked_tx.clone(),
            );
            senders.push(tokio::spawn(async move {
                for n in 0..10_000 {
                    match client
                        .post(&url)
                        .body(format!("{{\"n\":{n}}}"))
                        .send()
                        .await
                    {
                        Ok(res) if res.status().is_success() => {
                            let _ = acked.send(common::request_id(&res));
                        }
                        _ => break,
                    }
                }
            }));
        }
        drop(acked_tx);
        // Kill once a couple of hundred captures were acknowledged.
        let start = acked.len();
        while acked.len() < start + 200 {
            acked.push(acked_rx.recv().await.expect("acks flow"));
        }
        drop(proc); // SIGKILL
        for s in senders {
            s.await.expect("sender");
        }
        while let Some(id) = acked_rx.recv().await {
            acked.push(id);
        }
    }

    let (_proc, base) = serve_binary(&db);
    let stored = common::stored_ids(&client, &base, &bin).await;
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(
        lost.is_empty(),
        "{} acknowledged captures lost: {lost:?}",
        lost.len()
    );
}

/// A server future dropped mid-run (a test's server, an embedding app)
/// takes its background work with it: nothing keeps holding the store, so
/// the writer thread drains and ends.
#[tokio::test]
async fn a_dropped_server_releases_the_store() {
    use hookwire::server::store::{Store, StoreOptions};
    let dir = tempfile::tempdir().expect("dir");
    let config = hookwire::server::config::ServerConfig {
        db: hookwire::server::config::Database::Sqlite(dir.path().join("t.db")),
        retention: Some(std::time::Duration::from_secs(1)),
        ..Default::default()
    };
    let (store, writer) = Store::open(
        &dir.path().join("t.db"),
        StoreOptions {
            max_requests_per_bin: 0,
            ..StoreOptions::default()
        },
    )
    .expect("open");
    let state = hookwire::server::state::AppState::new(config, store);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (started_tx, started_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(async move {
        let run = hookwire::server::http::run(listener, state, std::future::pending());
        tokio::pin!(run);
        // Let the server start its background work before it is dropped.
        tokio::select! {
            () = &mut run => {}
            () = tokio::task::yield_now() => {}
        }
        let _ = started_tx.send(());
        run.await;
    });
    started_rx.await.expect("server started");
    server.abort();
    let _ = server.await;
    let joined = tokio::task::spawn_blocking(move || writer.join());
    tokio::time::timeout(std::time::Duration::from_secs(10), joined)
        .await
        .expect("the writer ends once the dropped server let go of the store")
        .expect("join task")
        .expect("writer thread");
}

/// A PostgreSQL server that insists on TLS (`?sslmode=require`) with a
/// self-signed certificate: without `--db-ca-cert` the server refuses to
/// start and says which flag to use; with it, it serves.
#[tokio::test]
async fn postgres_over_tls_with_a_private_ca() {
    let (url, cert) = common::pg::tls_database();
    let refused = Command::new(common::binary())
        .args(["serve", "--listen", "127.0.0.1:0", "--db", &url])
        .output()
        .expect("run hookwire serve");
    assert!(!refused.status.success());
    let err = String::from_utf8_lossy(&refused.stderr);
    assert!(err.contains("--db-ca-cert"), "{err}");

    let cert = cert.to_str().expect("utf-8 path");
    let (_proc, base) = serve_binary_on(url.as_ref(), &["--db-ca-cert", cert]);
    let client = reqwest::Client::new();
    let bin: serde_json::Value = serde_json::from_slice(
        &client
            .post(format!("{base}/api/bins"))
            .send()
            .await
            .expect("mint")
            .bytes()
            .await
            .expect("body"),
    )
    .expect("json");
    let id = bin["id"].as_str().expect("id");
    let res = client
        .post(format!("{base}/{id}/over-tls"))
        .body("x")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200);
}
