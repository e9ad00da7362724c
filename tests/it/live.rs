//! Live updates: an open inspector's event stream gets each new capture
//! of its bin (and only its bin) as it is stored.

use crate::common;

use std::time::Duration;

use common::TestServer;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// Reads from the event stream until `needle` shows up (bounded).
async fn read_until(stream: &mut tokio::net::TcpStream, seen: &mut String, needle: &str) {
    let mut buf = [0u8; 4096];
    tokio::time::timeout(Duration::from_secs(10), async {
        while !seen.contains(needle) {
            let n = stream.read(&mut buf).await.expect("read events");
            assert!(n > 0, "event stream closed; got {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    })
    .await
    .unwrap_or_else(|_| panic!("no {needle:?} within 10 s; got {seen:?}"));
}

#[tokio::test]
async fn new_captures_stream_to_open_pages() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let other = s.new_bin().await;
    let mut events = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    events
        .write_all(
            format!(
                "GET /bins/{bin}/events HTTP/1.1\r\nhost: x\r\naccept: text/event-stream\r\n\r\n"
            )
            .as_bytes(),
        )
        .await
        .expect("write");
    let mut seen = String::new();
    read_until(&mut events, &mut seen, "text/event-stream").await;

    // Subscribed once the headers are out: captures from now on stream.
    s.client
        .post(s.url(&format!("/{other}/elsewhere")))
        .body("x")
        .send()
        .await
        .expect("other bin");
    let res = s
        .client
        .post(s.url(&format!("/{bin}/live?x=1")))
        .body("<script>alert(1)</script>")
        .send()
        .await
        .expect("capture");
    let id = common::request_id(&res);
    read_until(&mut events, &mut seen, &format!("\"id\":{id}")).await;
    assert!(seen.contains("event: request"), "{seen}");
    assert!(seen.contains(r#""target":"/live?x=1""#), "{seen}");
    assert!(seen.contains(r#""method":"POST""#), "{seen}");
    assert!(
        !seen.contains("elsewhere"),
        "only this bin's requests: {seen}"
    );

    let res = s
        .client
        .get(s.url("/bins/2f0b8f6e-8c4f-4d51-9d1c-7f2b1d2c3a4b/events"))
        .send()
        .await
        .expect("404");
    assert_eq!(res.status(), 404);
}
