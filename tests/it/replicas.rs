//! Replicas, with real processes: three `hookwire serve` replicas on one
//! PostgreSQL database behind nginx (round robin, as in the README), a
//! `hookwire tunnel` connected through nginx, eight senders through nginx.
//! One replica is killed with `kill -9` under load, brought back, then
//! another is killed (a rolling restart done the hard way): no
//! acknowledged capture is lost, captures are visible on every replica, and
//! the tunnel, which reconnects through nginx to a replica that is up,
//! delivers every one.

use crate::common;
use common::{Daemon, free_port};

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

async fn wait_until(what: &str, limit: Duration, mut ok: impl AsyncFnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok().await {
        assert!(Instant::now() < deadline, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A replica on `port` until dropped.
async fn replica(db: &str, port: u16, log: &Path) -> Daemon {
    let log = std::fs::File::create(log).expect("replica log");
    let child = Command::new(common::binary())
        .args([
            "serve",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--db",
            db,
        ])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("start hookwire serve");
    let client = reqwest::Client::new();
    let url = format!("http://127.0.0.1:{port}/healthz");
    wait_until(
        "the replica answers /healthz",
        Duration::from_secs(15),
        async || {
            client
                .get(&url)
                .send()
                .await
                .is_ok_and(|r| r.status() == 200)
        },
    )
    .await;
    Daemon(child)
}

/// nginx in front of the replicas, configured as the README shows.
async fn nginx(dir: &Path, port: u16, upstreams: &[u16]) -> Daemon {
    let servers: String = upstreams
        .iter()
        .map(|p| format!("server 127.0.0.1:{p} max_fails=0;"))
        .collect();
    let d = dir.display();
    let conf = format!(
        "daemon off; master_process off; worker_processes 1;
         pid {d}/nginx.pid; error_log {d}/error.log;
         events {{ worker_connections 1024; }}
         http {{
           access_log off;
           client_body_temp_path {d}/body; proxy_temp_path {d}/proxy;
           fastcgi_temp_path {d}/fastcgi; uwsgi_temp_path {d}/uwsgi; scgi_temp_path {d}/scgi;
           upstream hookwire {{ {servers} }}
           server {{
             listen 127.0.0.1:{port};
             client_max_body_size 11m;
             location / {{
               proxy_pass http://hookwire;
               proxy_http_version 1.1;
               proxy_set_header Host $http_host;
               proxy_set_header Upgrade $http_upgrade;
               proxy_set_header Connection \"upgrade\";
               proxy_read_timeout 3600s;
               proxy_request_buffering off;
             }}
           }}
         }}"
    );
    std::fs::write(dir.join("nginx.conf"), conf).expect("nginx.conf");
    let child = Command::new("nginx")
        .arg("-p")
        .arg(dir)
        .arg("-c")
        .arg(dir.join("nginx.conf"))
        .arg("-e")
        .arg(dir.join("error.log"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("nginx (Debian's nginx-light; ./scripts/test installs it)");
    let addr: SocketAddr = format!("127.0.0.1:{port}").parse().expect("addr");
    wait_until("nginx listens", Duration::from_secs(10), async || {
        tokio::net::TcpStream::connect(addr).await.is_ok()
    })
    .await;
    Daemon(child)
}

/// The local app: records the request id of every delivery, answers 200.
async fn app() -> (String, Arc<Mutex<Vec<i64>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = seen.clone();
    let router = axum::Router::new().fallback(move |headers: axum::http::HeaderMap| {
        let record = record.clone();
        async move {
            if let Some(id) = headers
                .get("x-hookwire-request-id")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<i64>().ok())
            {
                record.lock().expect("lock").push(id);
            }
            "ok"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind app");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, seen)
}

/// Eight senders through nginx, `each` captures apiece; the ids of the
/// acknowledged ones (a request cut by a killed replica is not).
async fn send(base: &str, bin: &str, round: usize, each: usize) -> Vec<i64> {
    let client = reqwest::Client::new();
    let mut senders = Vec::new();
    for w in 0..8 {
        let (client, url) = (client.clone(), format!("{base}/{bin}/r{round}/w{w}"));
        senders.push(tokio::spawn(async move {
            let mut acked = Vec::new();
            for n in 0..each {
                if let Ok(res) = client
                    .post(&url)
                    .body(format!("{{\"n\":{n}}}"))
                    .send()
                    .await
                    && res.status().is_success()
                {
                    acked.push(common::request_id(&res));
                }
            }
            acked
        }));
    }
    let mut acked = Vec::new();
    for s in senders {
        acked.extend(s.await.expect("sender"));
    }
    acked
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_behind_nginx_lose_nothing_when_killed_and_rolled() {
    let dir = tempfile::tempdir().expect("dir");
    let db = common::pg::database();
    let ports = [free_port(), free_port(), free_port()];
    let mut replicas: Vec<Option<Daemon>> = Vec::new();
    for (i, port) in ports.iter().enumerate() {
        let log = dir.path().join(format!("replica{i}.log"));
        replicas.push(Some(replica(&db, *port, &log).await));
    }
    let front = free_port();
    let _nginx = nginx(dir.path(), front, &ports).await;
    let base = format!("http://127.0.0.1:{front}");
    let client = reqwest::Client::new();
    let minted = client
        .post(format!("{base}/api/bins"))
        .send()
        .await
        .expect("mint through nginx");
    assert_eq!(minted.status(), 201);
    let minted: serde_json::Value =
        serde_json::from_slice(&minted.bytes().await.expect("body")).expect("json");
    let bin = minted["id"].as_str().expect("id").to_owned();

    let (app_url, seen) = app().await;
    let _tunnel = Daemon(
        Command::new(common::binary())
            .args(["tunnel", &format!("{base}/{bin}"), "--to", &app_url])
            .args(["--name", "laptop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start hookwire tunnel"),
    );
    // Connected to one of the replicas (each lists its own sessions).
    wait_until("the tunnel connects", Duration::from_secs(15), async || {
        for port in ports {
            let url = format!("http://127.0.0.1:{port}/api/bins/{bin}");
            if let Ok(res) = client.get(&url).send().await
                && let Ok(v) = serde_json::from_slice::<serde_json::Value>(
                    &res.bytes().await.unwrap_or_default(),
                )
                && v["tunnels"].as_array().is_some_and(|t| !t.is_empty())
            {
                return true;
            }
        }
        false
    })
    .await;

    let mut acked = Vec::new();
    // Round 0: kill -9 replica 0 while eight senders are at it.
    let load = tokio::spawn(send_owned(base.clone(), bin.clone(), 0, 150));
    wait_until("some deliveries", Duration::from_secs(30), async || {
        seen.lock().expect("lock").len() >= 100
    })
    .await;
    replicas[0] = None;
    acked.extend(load.await.expect("round 0"));
    // Roll: replica 0 comes back on its port, then replica 1 is killed.
    replicas[0] = Some(replica(&db, ports[0], &dir.path().join("replica0b.log")).await);
    let load = tokio::spawn(send_owned(base.clone(), bin.clone(), 1, 150));
    tokio::time::sleep(Duration::from_millis(300)).await;
    replicas[1] = None;
    acked.extend(load.await.expect("round 1"));
    // And a last round on the surviving replica only.
    acked.extend(send(&base, &bin, 2, 20).await);
    assert!(
        acked.len() > 1000,
        "most captures were acknowledged: {}",
        acked.len()
    );

    // Every acknowledged capture is stored …
    let stored = common::stored_ids(&client, &base, &bin).await;
    let lost: Vec<_> = acked.iter().filter(|id| !stored.contains(id)).collect();
    assert!(lost.is_empty(), "acknowledged but not stored: {lost:?}");
    // The same on every replica that is up.
    for port in [ports[0], ports[2]] {
        let url = format!("http://127.0.0.1:{port}/api/bins/{bin}");
        let v: serde_json::Value = serde_json::from_slice(
            &client
                .get(&url)
                .send()
                .await
                .expect("bin")
                .bytes()
                .await
                .expect("body"),
        )
        .expect("json");
        assert_eq!(
            v["request_count"].as_u64(),
            Some(stored.len() as u64),
            "{url}"
        );
    }
    // … and reaches the app; only requests in flight at a kill come twice.
    wait_until(
        "every acknowledged capture delivered",
        Duration::from_secs(60),
        async || {
            let seen = seen.lock().expect("lock");
            acked.iter().all(|id| seen.contains(id))
        },
    )
    .await;
    let mut counts: HashMap<i64, usize> = HashMap::new();
    for id in seen.lock().expect("lock").iter() {
        *counts.entry(*id).or_default() += 1;
    }
    let repeated = counts.values().filter(|n| **n > 1).count();
    assert!(repeated <= 2 * 64, "{repeated} delivered more than once");
}

async fn send_owned(base: String, bin: String, round: usize, each: usize) -> Vec<i64> {
    send(&base, &bin, round, each).await
}
