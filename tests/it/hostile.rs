//! Hostile traffic: garbage, bad chunking, slowloris, trickled bodies, a
//! flood of binary bodies, and the limits of a shared instance (rate,
//! quota, connections). The server must answer clearly and stay healthy.

use crate::common;

use std::time::{Duration, Instant};

use common::TestServer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;

async fn healthy(s: &TestServer) {
    let res = s
        .client
        .get(s.url("/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn garbage_and_bad_chunking_get_400_and_nothing_is_stored() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let out = s.raw(b"\x00\xff\x13garbage that is not HTTP\r\n\r\n").await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out:?}");
    let bad_chunk = format!(
        "POST /{bin} HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"
    );
    let out = s.raw(bad_chunk.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 400"), "{out:?}");
    assert!(s.requests(&bin).await.is_empty());
    healthy(&s).await;
}

#[tokio::test]
async fn slowloris_connections_do_not_slow_normal_captures() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    // 300 connections that send half a head and then nothing.
    let mut idle = Vec::new();
    for _ in 0..300 {
        let mut c = TcpStream::connect(s.addr).await.expect("connect");
        c.write_all(format!("POST /{bin} HTTP/1.1\r\nhost: x\r\nx-slow: ").as_bytes())
            .await
            .expect("write");
        idle.push(c);
    }
    for i in 0..20 {
        let started = Instant::now();
        let res = s
            .client
            .post(s.url(&format!("/{bin}/n{i}")))
            .body("{}")
            .send()
            .await
            .expect("capture");
        assert_eq!(res.status(), 200);
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "capture {i} took {:?}",
            started.elapsed()
        );
    }
    assert_eq!(s.requests(&bin).await.len(), 20);
    drop(idle);
}

#[tokio::test]
async fn a_trickled_body_is_cut_off_with_408_and_not_stored() {
    let s = TestServer::spawn_with(|c| c.body_deadline = Duration::from_millis(300)).await;
    let bin = s.new_bin().await;
    let mut c = TcpStream::connect(s.addr).await.expect("connect");
    c.write_all(
        format!("POST /{bin} HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nabc").as_bytes(),
    )
    .await
    .expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut out)).await;
    let out = String::from_utf8_lossy(&out);
    assert!(out.starts_with("HTTP/1.1 408"), "{out:?}");
    assert!(s.requests(&bin).await.is_empty());
}

#[tokio::test]
async fn a_flood_of_binary_bodies_is_stored_exactly() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let mut tasks = Vec::new();
    for i in 0..100u32 {
        let (client, url) = (s.client.clone(), s.url(&format!("/{bin}/b{i}")));
        tasks.push(tokio::spawn(async move {
            // Deterministic pseudo-random bytes, different per request.
            let body: Vec<u8> = (0..65_536u32)
                .map(|n| (n.wrapping_mul(2_654_435_761).wrapping_add(i) >> 13) as u8)
                .collect();
            let res = client
                .post(url)
                .body(body.clone())
                .send()
                .await
                .expect("send");
            assert_eq!(res.status(), 200);
            (common::request_id(&res), body)
        }));
    }
    for t in tasks {
        let (id, body) = t.await.expect("task");
        assert_eq!(s.raw_body(&bin, id).await, body);
    }
    healthy(&s).await;
}

#[tokio::test]
async fn rate_limit_answers_429_with_retry_after() {
    let s = TestServer::spawn_with(|c| c.rate_limit = 2).await;
    let bin = s.new_bin().await;
    let other = s.new_bin().await;
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let res = s
            .client
            .post(s.url(&format!("/{bin}")))
            .send()
            .await
            .expect("send");
        if res.status() == 429 {
            let retry: u64 = res.headers()["retry-after"]
                .to_str()
                .expect("ascii")
                .parse()
                .expect("seconds");
            assert!((1..=2).contains(&retry), "{retry}");
            let err = common::json(res).await;
            assert!(err["error"].as_str().expect("msg").contains("--rate-limit"));
            statuses.push(429);
        } else {
            statuses.push(res.status().as_u16());
        }
    }
    assert_eq!(
        statuses,
        [200, 200, 200, 200, 429, 429],
        "burst of twice the rate"
    );
    assert_eq!(
        s.requests(&bin).await.len(),
        4,
        "refused captures are not stored"
    );
    let res = s
        .client
        .post(s.url(&format!("/{other}")))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200, "the limit is per bin");
    let metrics = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .expect("m")
        .text()
        .await
        .expect("t");
    assert!(metrics.contains("hookwire_captures_rejected_total{reason=\"rate_limited\"} 2\n"));
}

#[tokio::test]
async fn storage_quota_answers_507() {
    let s = TestServer::spawn_with(|c| c.max_stored_bytes = 1000).await;
    let bin = s.new_bin().await;
    let send = |n: usize| {
        s.client
            .post(s.url(&format!("/{bin}")))
            .body(vec![b'x'; n])
            .send()
    };
    assert_eq!(send(600).await.expect("send").status(), 200);
    let res = send(600).await.expect("send");
    assert_eq!(res.status(), 507);
    assert!(
        common::json(res).await["error"]
            .as_str()
            .expect("msg")
            .contains("--max-stored-bytes")
    );
    assert_eq!(send(400).await.expect("send").status(), 200);
    assert_eq!(s.requests(&bin).await.len(), 2);
}

#[tokio::test]
async fn connections_past_the_limit_wait_their_turn() {
    let s = TestServer::spawn_with(|c| c.max_connections = 4).await;
    let bin = s.new_bin().await;
    // Take every slot: the test client's pooled connection (it minted the
    // bin) holds one, three connections that say nothing hold the rest.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(TcpStream::connect(s.addr).await.expect("connect"));
    }
    // The client's pooled connection was opened before: use a fresh client.
    let fresh = reqwest::Client::new();
    let waiting = tokio::time::timeout(
        Duration::from_millis(500),
        fresh.post(s.url(&format!("/{bin}"))).send(),
    )
    .await;
    assert!(waiting.is_err(), "served while every slot was taken");
    idle.pop();
    let res = tokio::time::timeout(
        Duration::from_secs(5),
        fresh.post(s.url(&format!("/{bin}"))).send(),
    )
    .await
    .expect("served once a slot is free")
    .expect("send");
    assert_eq!(res.status(), 200);
}
