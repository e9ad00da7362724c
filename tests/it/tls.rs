//! HTTPS with `--tls-cert`/`--tls-key` (rustls), and a tunnel over `wss://`
//! trusting a self-signed certificate with `--ca-cert`.

use crate::common;

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::TestServer;
use common::certs::Cert;
use rustls_pki_types::ServerName;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::rustls;

/// One HTTP/1.1 request over TLS; returns the raw answer.
async fn https(s: &TestServer, cert: &Cert, request: String) -> String {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(cert.der.clone()).expect("root");
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    let tcp = TcpStream::connect(s.addr).await.expect("connect");
    let mut tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").expect("name"), tcp)
        .await
        .expect("TLS handshake with the server's certificate");
    tls.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn body_of(answer: &str) -> &str {
    answer.split_once("\r\n\r\n").map_or("", |(_, b)| b)
}

#[tokio::test]
async fn serves_https_and_captures_over_it() {
    let cert = Cert::new();
    let config =
        hookwire::server::tls::server_config(&cert.cert(), &cert.key()).expect("tls config");
    let s = TestServer::spawn_with(|c| c.tls = Some(config)).await;

    let minted = https(
        &s,
        &cert,
        "POST /api/bins HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(minted.starts_with("HTTP/1.1 201"), "{minted}");
    let v: serde_json::Value = serde_json::from_str(body_of(&minted)).expect("json");
    let bin = v["id"].as_str().expect("id").to_owned();
    assert!(
        v["capture_url"]
            .as_str()
            .expect("url")
            .starts_with("https://localhost/"),
        "{v}"
    );

    let captured = https(
        &s,
        &cert,
        format!("POST /{bin}/tls HTTP/1.1\r\nhost: localhost\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello"),
    )
    .await;
    assert!(captured.starts_with("HTTP/1.1 200"), "{captured}");
    let listed = https(
        &s,
        &cert,
        format!(
            "GET /api/bins/{bin}/requests HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n"
        ),
    )
    .await;
    assert!(listed.contains(r#""body_text":"hello""#), "{listed}");

    // Plain HTTP to the TLS port is refused without harming the server.
    let plain = s.raw(b"GET /healthz HTTP/1.1\r\nhost: x\r\n\r\n").await;
    assert!(!plain.starts_with("HTTP/1.1 200"), "{plain}");
    let health = https(
        &s,
        &cert,
        "GET /healthz HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
}

// Multi-threaded: this test blocks a thread reading the client's stderr
// while the in-process server must keep running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_connects_over_wss_with_a_private_ca() {
    let cert = Cert::new();
    let config =
        hookwire::server::tls::server_config(&cert.cert(), &cert.key()).expect("tls config");
    let s = TestServer::spawn_with(|c| c.tls = Some(config)).await;
    let minted = https(
        &s,
        &cert,
        "POST /api/bins HTTP/1.1\r\nhost: localhost\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".into(),
    )
    .await;
    let v: serde_json::Value = serde_json::from_str(body_of(&minted)).expect("json");
    let bin = v["id"].as_str().expect("id").to_owned();

    // A local app that answers 204 to one request and reports it.
    let app = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
    let app_url = format!("http://{}", app.local_addr().expect("addr"));
    let got = tokio::spawn(async move {
        let (mut c, _) = app.accept().await.expect("relay arrives");
        let mut buf = vec![0u8; 4096];
        let mut seen = Vec::new();
        while !String::from_utf8_lossy(&seen).contains("over-wss") {
            let n = c.read(&mut buf).await.expect("read");
            assert!(n > 0, "relay closed early");
            seen.extend_from_slice(&buf[..n]);
        }
        c.write_all(b"HTTP/1.1 204 No Content\r\n\r\n")
            .await
            .expect("answer");
        String::from_utf8_lossy(&seen).into_owned()
    });

    let capture_url = format!("https://localhost:{}/{bin}", s.addr.port());
    let mut child = Command::new(common::binary())
        .args(["tunnel", &capture_url, "--to", &app_url, "--name", "wss"])
        .arg("--ca-cert")
        .arg(cert.cert())
        .env_remove("HOOKWIRE_ACCESS_TOKEN")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start tunnel");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut lines = Vec::new();
    loop {
        let line = rx
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .unwrap_or_else(|_| panic!("tunnel did not connect over wss: {lines:#?}"));
        if line.contains("connected: relaying") {
            break;
        }
        lines.push(line);
    }
    let captured = https(
        &s,
        &cert,
        format!("POST /{bin}/x HTTP/1.1\r\nhost: localhost\r\ncontent-length: 8\r\nconnection: close\r\n\r\nover-wss"),
    )
    .await;
    assert!(captured.starts_with("HTTP/1.1 200"), "{captured}");
    let seen = tokio::time::timeout(Duration::from_secs(10), got)
        .await
        .expect("delivered within 10 s")
        .expect("app task");
    assert!(seen.starts_with("POST /x HTTP/1.1"), "{seen}");
    let _ = child.kill();
    let _ = child.wait();
}

/// `new`, `send` and `wait` reach an https server with a private CA.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_send_and_wait_speak_https_with_a_private_ca() {
    let cert = Cert::new();
    let config =
        hookwire::server::tls::server_config(&cert.cert(), &cert.key()).expect("tls config");
    let s = TestServer::spawn_with(|c| c.tls = Some(config)).await;
    let server = format!("https://localhost:{}", s.addr.port());
    let ca = cert.cert();
    let run = move |args: Vec<String>| {
        let ca = ca.clone();
        tokio::task::spawn_blocking(move || {
            Command::new(common::binary())
                .args(&args)
                .arg("--ca-cert")
                .arg(&ca)
                .env_remove("HOOKWIRE_ACCESS_TOKEN")
                .output()
                .expect("run hookwire")
        })
    };
    let out = run(vec!["new".into(), "--server".into(), server.clone()])
        .await
        .expect("new");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{text} {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let capture_url = text
        .lines()
        .find_map(|l| l.strip_prefix("capture: "))
        .expect("capture line")
        .trim()
        .to_owned();
    assert!(capture_url.starts_with("https://"), "{capture_url}");
    let out = run(vec![
        "send".into(),
        "--to".into(),
        capture_url.clone(),
        "--as".into(),
        "github".into(),
    ])
    .await
    .expect("send");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run(vec![
        "wait".into(),
        capture_url,
        "--after".into(),
        "0".into(),
        "--match".into(),
        "header.x-github-event=push".into(),
        "--timeout".into(),
        "10s".into(),
    ])
    .await
    .expect("wait");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    assert_eq!(got["method"], "POST");
}
