//! The tunnel: `hookwire tunnel` as the real binary, relaying a
//! bin's requests to a real local HTTP app. Byte-exact relay, nothing lost
//! across disconnects, exactly once across graceful restarts, at least once
//! across `kill -9`, retries while the app is down, passthrough, replay, and
//! malformed frames closing only their own tunnel.

use crate::common;

use std::time::Duration;

use base64::Engine as _;
use common::tunnel::*;
use common::{TestServer, json};
use futures_util::{SinkExt as _, StreamExt as _};
use hyper::header::HeaderValue;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::{self, Message, protocol::frame::coding::CloseCode};

// ---------------------------------------------------------------------------
// Captures
// ---------------------------------------------------------------------------

/// Captures `{"n":i}` for each `i` in `range`, one after the other; returns
/// the stored ids in order.
async fn capture_numbered(
    s: &TestServer,
    bin: &str,
    range: std::ops::Range<u64>,
) -> Vec<(u64, i64)> {
    let url = s.url(&format!("/{bin}/seq"));
    let mut ids = Vec::new();
    for n in range {
        let res = s
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(format!("{{\"n\":{n}}}"))
            .send()
            .await
            .expect("capture");
        assert_eq!(res.status(), 200);
        ids.push((n, common::request_id(&res)));
    }
    ids
}

/// The (counter, request id) pairs the app received, in arrival order.
fn received(seen: &[Seen]) -> Vec<(u64, i64)> {
    seen.iter().map(|r| (r.counter(), r.request_id())).collect()
}

// ---------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn relays_method_path_query_headers_and_body_byte_for_byte() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    // The app answers with bytes that are not UTF-8 either.
    let app = LocalApp::start_with(Answer {
        headers: vec![("x-app".into(), "yes".into()), ("x-app".into(), "2".into())],
        body: vec![0xff, 0x00, b'o', b'k', 0xfe],
        ..Answer::default()
    })
    .await;
    let tunnel = Tunnel::connect(&s, &bin, &app, "exact", &[]).await;

    let mut binary: Vec<u8> = (0..=255u8).collect();
    binary.extend_from_slice(b"\xc3\x28 not utf-8 \xed\xa0\x80\xff");
    let res = s
        .client
        .put(s.url(&format!("/{bin}/a/b?x=1&x=2")))
        .header("content-type", "application/octet-stream")
        .header("x-dup", "1")
        .header("X-Mixed-Case", "Value")
        .header("x-dup", "2")
        .body(binary.clone())
        .send()
        .await
        .expect("capture binary");
    assert_eq!(res.status(), 200);
    let first = common::request_id(&res);

    // A gzip-encoded body stays compressed: relayed as the same bytes.
    let gzip: Vec<u8> = vec![
        31, 139, 8, 0, 0, 0, 0, 0, 2, 3, 171, 86, 74, 45, 75, 205, 43, 81, 178, 82, 42, 40, 45,
        206, 80, 210, 81, 202, 83, 178, 50, 172, 5, 0, 56, 77, 127, 164, 22, 0, 0, 0,
    ];
    let res = s
        .client
        .post(s.url(&format!("/{bin}/gz")))
        .header("content-type", "application/json")
        .header("content-encoding", "gzip")
        .body(gzip.clone())
        .send()
        .await
        .expect("capture gzip");
    assert_eq!(res.status(), 200);
    let second = common::request_id(&res);

    // A chunked request with connection headers and a forged request id:
    // the hop-by-hop headers and the forged id are not relayed.
    let raw = s
        .raw_open(
            format!(
                "POST /{bin}/chunked HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
                 Transfer-Encoding: chunked\r\nX-Hookwire-Request-Id: 1\r\nX-Keep: 1\r\n\r\n\
                 5\r\nhel\x00o\r\n0\r\n\r\n"
            )
            .as_bytes(),
        )
        .await;
    assert!(raw.starts_with("HTTP/1.1 200"), "{raw}");
    let third: i64 = raw
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-hookwire-request-id")
                .then(|| value.trim().parse().expect("integer id"))
        })
        .expect("x-hookwire-request-id in the answer");
    let chunked = b"hel\x00o".to_vec();

    let seen = app.wait_for(3).await;
    assert_eq!(seen.len(), 3, "each request once: {seen:#?}");
    let cases = [
        (&seen[0], first, "PUT", "/a/b?x=1&x=2", &binary),
        (&seen[1], second, "POST", "/gz", &gzip),
        (&seen[2], third, "POST", "/chunked", &chunked),
    ];
    for (got, id, method, target, body) in cases {
        assert_eq!(got.method, method);
        assert_eq!(got.target, target);
        assert_eq!(&got.body, body, "body byte for byte");
        assert_eq!(got.request_id(), id, "x-hookwire-request-id");
        assert_eq!(
            got.header_values("content-length"),
            [body.len().to_string()],
            "content-length recomputed"
        );
        // Every captured header, in order with duplicates, minus the
        // hop-by-hop ones; nothing else but the id and the length.
        let stored = s
            .get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
            .await;
        let captured: Vec<(String, String)> =
            serde_json::from_value(stored["headers"].clone()).expect("header pairs");
        let want: Vec<_> = captured
            .into_iter()
            .filter(|(n, _)| !HOP_BY_HOP.contains(&n.as_str()) && n != "x-hookwire-request-id")
            .collect();
        let relayed: Vec<_> = got
            .headers
            .iter()
            .filter(|(n, _)| n != "content-length" && n != "x-hookwire-request-id")
            .cloned()
            .collect();
        assert_eq!(relayed, want, "relayed headers of request {id}");
    }
    assert_eq!(seen[0].header_values("x-dup"), ["1", "2"]);
    assert_eq!(seen[0].header_values("x-mixed-case"), ["Value"]);
    assert_eq!(seen[1].header_values("content-encoding"), ["gzip"]);
    assert_eq!(seen[2].header_values("x-keep"), ["1"]);
    assert!(seen[2].header_values("transfer-encoding").is_empty());
    assert!(seen[2].header_values("connection").is_empty());

    // The app's answer is stored as the delivery, bytes included.
    for id in [first, second, third] {
        let d = wait_deliveries(&s, &bin, id, 1).await;
        assert_eq!(d.len(), 1);
        let d = &d[0];
        assert_eq!(d["tunnel"], "exact");
        assert_eq!(d["replay"], false);
        assert_eq!(d["status"], 201);
        assert_eq!(d["error"], Value::Null);
        assert!(d["latency_ms"].as_f64().expect("latency") >= 0.0);
        assert!(d["delivered_at"].as_str().expect("time").ends_with('Z'));
        let headers: Vec<(String, String)> =
            serde_json::from_value(d["headers"].clone()).expect("header pairs");
        let app_headers: Vec<_> = headers.iter().filter(|(n, _)| n == "x-app").collect();
        assert_eq!(
            app_headers,
            [
                &("x-app".into(), "yes".into()),
                &("x-app".into(), "2".into())
            ]
        );
        assert_eq!(
            base64::engine::general_purpose::STANDARD
                .decode(d["body_base64"].as_str().expect("base64"))
                .expect("valid base64"),
            [0xff, 0x00, b'o', b'k', 0xfe]
        );
        assert_eq!(d["body_text"], Value::Null);
    }

    // One line per delivery on stdout; the status line on stderr.
    let out = eventually("three delivery lines on stdout", || async {
        let out = tunnel.stdout();
        (out.len() >= 3).then_some(out)
    })
    .await;
    assert!(
        out[0].contains(" PUT /a/b?x=1&x=2 -> 201 ") && out[0].ends_with(" ms"),
        "{out:?}"
    );
    assert!(out[0].split(' ').next().expect("time").ends_with('Z'));
    assert!(out[1].contains(" POST /gz -> 201 "), "{out:?}");
    let connected = format!(
        "tunnel \"exact\" connected: relaying bin {bin} to {}",
        app.url()
    );
    assert!(
        tunnel.stderr().iter().any(|l| l.starts_with(&connected)),
        "{:#?}",
        tunnel.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_requests_captured_while_disconnected_arrive_in_order_once() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    // The name's position exists from this first connection on.
    Tunnel::connect(&s, &bin, &app, "laptop", &[])
        .await
        .stop()
        .await;
    wait_tunnels(&s, &bin, &[]).await;

    let sent = capture_numbered(&s, &bin, 0..1000).await;
    assert!(app.seen().is_empty());
    let metrics = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("hookwire_tunnel_backlog 1000\n"),
        "the stopped laptop's backlog is visible"
    );

    let _tunnel = Tunnel::connect(&s, &bin, &app, "laptop", &[]).await;
    let seen = app.wait_for(1000).await;
    let got = received(&seen);
    assert_eq!(got.len(), sent.len());
    assert!(got == sent, "all 1,000 in capture order, each once");
    // Recorded: each request has exactly one delivery, and nothing more
    // came to the app meanwhile.
    let stored = wait_all_delivered(&s, &bin, "laptop").await;
    assert_eq!(stored.len(), 1000);
    for r in &stored {
        assert_eq!(r["deliveries"].as_array().expect("deliveries").len(), 1);
    }
    assert_eq!(app.seen().len(), 1000);
}

/// Checks a stream of (counter, id) receptions against what was sent when
/// a client died once mid-stream: everything at least once, in order
/// within each connection, and the only duplicates are a tail of the first
/// connection's deliveries (the requests in flight), at most the window.
fn check_at_least_once(sent: &[(u64, i64)], got: &[(u64, i64)]) -> usize {
    let by_id: std::collections::HashMap<i64, u64> = sent.iter().map(|&(n, id)| (id, n)).collect();
    for (n, id) in got {
        assert_eq!(by_id.get(id), Some(n), "request {id} carried its own body");
    }
    // Split where the ids go back: the second connection starts there.
    let cut = got
        .windows(2)
        .position(|w| w[1].1 <= w[0].1)
        .map_or(got.len(), |i| i + 1);
    let (first, second) = got.split_at(cut);
    assert!(
        second.windows(2).all(|w| w[0].1 < w[1].1),
        "the second connection delivers in order: {second:?}"
    );
    let dups: Vec<i64> = second
        .iter()
        .map(|r| r.1)
        .filter(|id| first.iter().any(|r| r.1 == *id))
        .collect();
    let tail: Vec<i64> = first[first.len() - dups.len()..]
        .iter()
        .map(|r| r.1)
        .collect();
    assert_eq!(
        dups, tail,
        "duplicates are the requests in flight at the kill"
    );
    assert!(dups.len() <= 64, "{} duplicates", dups.len());
    let mut ids: Vec<i64> = got.iter().map(|r| r.1).collect();
    ids.sort_unstable();
    ids.dedup();
    let want: Vec<i64> = sent.iter().map(|r| r.1).collect();
    assert_eq!(ids, want, "every captured request reached the app");
    dups.len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_loses_nothing_and_repeats_only_in_flight_requests() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    app.set_delay(Duration::from_millis(5));
    let mut tunnel = Tunnel::connect(&s, &bin, &app, "crashy", &[]).await;
    let sent = capture_numbered(&s, &bin, 0..200).await;
    app.wait_for(40).await;
    tunnel.kill9();
    tunnel.exited().await;
    wait_tunnels(&s, &bin, &[]).await;
    let before = app.seen().len();
    assert!(before < 200, "killed mid-stream ({before} delivered)");

    let _tunnel = Tunnel::connect(&s, &bin, &app, "crashy", &[]).await;
    let stored = wait_all_delivered(&s, &bin, "crashy").await;
    assert_eq!(stored.len(), 200);
    let dups = check_at_least_once(&sent, &received(&app.seen()));
    eprintln!("{dups} request(s) came twice after kill -9 at {before} received");
    assert_eq!(app.seen().len(), 200 + dups);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_restart_mid_stream_delivers_exactly_once() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    app.set_delay(Duration::from_millis(5));
    let tunnel = Tunnel::connect(&s, &bin, &app, "calm", &[]).await;
    let sent = capture_numbered(&s, &bin, 0..200).await;
    app.wait_for(40).await;
    tunnel.stop().await;
    wait_tunnels(&s, &bin, &[]).await;
    let before = app.seen().len();
    assert!(before < 200, "stopped mid-stream ({before} delivered)");

    let tunnel = Tunnel::connect(&s, &bin, &app, "calm", &[]).await;
    let stored = wait_all_delivered(&s, &bin, "calm").await;
    assert_eq!(stored.len(), 200);
    for r in &stored {
        assert_eq!(r["deliveries"].as_array().expect("deliveries").len(), 1);
    }
    let got = received(&app.seen());
    assert!(got == sent, "exactly once, in order: {got:?}");
    // This run printed one line per request it delivered.
    let lines = eventually("a stdout line per delivery", || async {
        let lines = tunnel.stdout();
        (lines.len() >= 200 - before).then_some(lines)
    })
    .await;
    assert_eq!(lines.len(), 200 - before, "{lines:#?}");
    assert!(lines.iter().all(|l| l.contains(" POST /seq -> 201 ")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_wait_while_the_app_is_down_and_arrive_in_order() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let mut app = LocalApp::start().await;
    app.stop().await;
    let tunnel = Tunnel::connect(&s, &bin, &app, "patient", &[]).await;
    let sent = capture_numbered(&s, &bin, 0..10).await;
    // The client retries with backoff: wait for two failed attempts.
    eventually("two failed attempts to reach the app", || async {
        let failures = tunnel
            .stderr()
            .iter()
            .filter(|l| l.contains("nothing is listening on"))
            .count();
        (failures >= 2).then_some(())
    })
    .await;
    assert!(app.seen().is_empty());

    app.restart().await;
    let seen = app.wait_for(10).await;
    assert!(received(&seen) == sent, "in order, once: {seen:#?}");
    for r in wait_all_delivered(&s, &bin, "patient").await {
        let d = r["deliveries"].as_array().expect("deliveries");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["status"], 201);
    }
    assert_eq!(app.seen().len(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_5xx_answer_is_an_answer_and_is_not_retried() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start_with(Answer {
        status: 503,
        body: b"busy".to_vec(),
        ..Answer::default()
    })
    .await;
    let _tunnel = Tunnel::connect(&s, &bin, &app, "fivexx", &[]).await;
    let sent = capture_numbered(&s, &bin, 0..3).await;
    // A retried request would never get its delivery recorded.
    for r in wait_all_delivered(&s, &bin, "fivexx").await {
        let d = r["deliveries"].as_array().expect("deliveries");
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["status"], 503);
        assert_eq!(d[0]["body_text"], "busy");
        assert_eq!(d[0]["error"], Value::Null);
    }
    assert!(received(&app.seen()) == sent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_answers_with_the_app_and_falls_back_when_disconnected() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let tunnel = Tunnel::connect(&s, &bin, &app, "pt", &["--passthrough"]).await;
    assert!(
        eventually("the connected line", || async {
            let err = tunnel.stderr();
            err.iter().any(|l| l.contains("connected")).then_some(err)
        })
        .await
        .iter()
        .any(|l| l.contains("(passthrough")),
        "stderr mentions passthrough"
    );

    let res = s
        .client
        .post(s.url(&format!("/{bin}/live?q=1")))
        .body("first")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 201, "the app's status");
    assert_eq!(res.headers()["x-app"], "yes");
    let first = common::request_id(&res);
    assert_eq!(res.bytes().await.expect("body").as_ref(), b"hello");
    let seen = app.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].request_id(), first);
    assert_eq!(seen[0].target, "/live?q=1");
    assert_eq!(seen[0].body, b"first");

    tunnel.stop().await;
    wait_tunnels(&s, &bin, &[]).await;
    // No tunnel: the bin's own response, and the request waits.
    let res = s
        .client
        .post(s.url(&format!("/{bin}/later")))
        .body("second")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-app").is_none());
    let second = common::request_id(&res);
    assert_eq!(json(res).await, json!({"ok": true}));
    assert_eq!(app.seen().len(), 1);

    // The same name picks it up (and only it).
    let tunnel = Tunnel::connect(&s, &bin, &app, "pt", &["--passthrough"]).await;
    let seen = app.wait_for(2).await;
    assert_eq!(seen[1].request_id(), second);
    assert_eq!(seen[1].body, b"second");
    wait_deliveries(&s, &bin, second, 1).await;
    tunnel.stop().await;
    wait_tunnels(&s, &bin, &[]).await;

    // A new name with --from-start gets the whole history.
    let _tunnel = Tunnel::connect(&s, &bin, &app, "fresh", &["--from-start"]).await;
    let seen = app.wait_for(4).await;
    let ids: Vec<i64> = seen.iter().map(Seen::request_id).collect();
    assert_eq!(ids, [first, second, first, second]);
    for id in [first, second] {
        let d = wait_deliveries(&s, &bin, id, 2).await;
        let tunnels: Vec<&Value> = d.iter().map(|d| &d["tunnel"]).collect();
        assert_eq!(tunnels, ["pt", "fresh"]);
        assert!(d.iter().all(|d| d["status"] == 201 && d["replay"] == false));
    }
    assert_eq!(app.seen().len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_sends_the_request_again_and_records_it() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let tunnel = Tunnel::connect(&s, &bin, &app, "rp", &[]).await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hook?a=b")))
        .header("x-dup", "1")
        .header("x-dup", "2")
        .body("payload")
        .send()
        .await
        .expect("capture");
    let id = common::request_id(&res);
    wait_deliveries(&s, &bin, id, 1).await;

    let replay = s.url(&format!("/api/bins/{bin}/requests/{id}/replay"));
    let res = s.client.post(&replay).send().await.expect("replay");
    assert_eq!(res.status(), 200);
    let v = json(res).await;
    assert_eq!(v["replayed_to"], json!(["rp"]));
    let d = v["deliveries"].as_array().expect("deliveries");
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["tunnel"], "rp");
    assert_eq!(d[0]["replay"], true);
    assert_eq!(d[0]["status"], 201);
    assert_eq!(d[0]["body_text"], "hello");

    let seen = app.seen();
    assert_eq!(seen.len(), 2, "replayed once");
    assert_eq!(seen[1].request_id(), id, "same x-hookwire-request-id");
    assert_eq!(seen[1].method, seen[0].method);
    assert_eq!(seen[1].target, "/hook?a=b");
    assert_eq!(seen[1].body, b"payload");
    assert_eq!(seen[1].headers, seen[0].headers, "same request again");

    let d = wait_deliveries(&s, &bin, id, 2).await;
    assert_eq!(d.len(), 2);
    assert_eq!(d[0]["replay"], false);
    assert_eq!(d[1]["replay"], true);
    assert_eq!(d[1]["status"], 201);
    let out = eventually("the replay line on stdout", || async {
        let out = tunnel.stdout();
        (out.len() >= 2).then_some(out)
    })
    .await;
    assert!(!out[0].ends_with(" (replay)"), "{out:?}");
    assert!(out[1].ends_with(" (replay)"), "{out:?}");

    // An unknown request is 404, connected or not.
    let res = s
        .client
        .post(s.url(&format!("/api/bins/{bin}/requests/999999/replay")))
        .send()
        .await
        .expect("replay unknown");
    assert_eq!(res.status(), 404);
    assert!(json(res).await["error"].is_string());

    tunnel.stop().await;
    wait_tunnels(&s, &bin, &[]).await;
    let res = s.client.post(&replay).send().await.expect("replay");
    assert_eq!(res.status(), 409);
    assert!(json(res).await["error"].is_string());
    assert_eq!(app.seen().len(), 2);
}

/// `?tunnel=NAME` (what the live view's `r` sends): only that tunnel gets
/// the replay; a name not connected is 409 with what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_can_go_to_one_named_tunnel() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (one, two) = (LocalApp::start().await, LocalApp::start().await);
    let t1 = Tunnel::connect(&s, &bin, &one, "one", &[]).await;
    let t2 = Tunnel::start(&s, &bin, &two, "two", &[]);
    wait_tunnels(&s, &bin, &["one", "two"]).await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hook")))
        .body("x")
        .send()
        .await
        .expect("capture");
    let id = common::request_id(&res);
    wait_deliveries(&s, &bin, id, 2).await;

    let replay = s.url(&format!("/api/bins/{bin}/requests/{id}/replay"));
    let res = s
        .client
        .post(format!("{replay}?tunnel=two"))
        .send()
        .await
        .expect("replay");
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["replayed_to"], json!(["two"]));
    assert_eq!(two.wait_for(2).await.len(), 2);
    assert_eq!(one.seen().len(), 1, "the other tunnel did not get it");

    let res = s
        .client
        .post(format!("{replay}?tunnel=three"))
        .send()
        .await
        .expect("replay");
    assert_eq!(res.status(), 409);
    let error = json(res).await["error"].as_str().expect("error").to_owned();
    assert!(
        error.contains("\"three\"") && error.contains("--name three"),
        "{error}"
    );
    assert_eq!(one.seen().len() + two.seen().len(), 3);
    t1.stop().await;
    t2.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_frame_closes_only_its_own_tunnel() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let _good = Tunnel::connect(&s, &bin, &app, "good", &[]).await;

    let ws_url = format!("ws://{}/api/bins/{bin}/tunnel?v=1&name=bad", s.addr);
    let (mut ws, _) = tokio_tungstenite::connect_async(&ws_url)
        .await
        .expect("upgrade");
    let hello = loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Binary(b)))) => break b,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected the hello, got {other:?}"),
        }
    };
    assert_eq!(&hello[..2], [1, 1], "version 1, kind hello");
    let meta_len = u32::from_be_bytes([hello[2], hello[3], hello[4], hello[5]]) as usize;
    let meta: Value = serde_json::from_slice(&hello[6..6 + meta_len]).expect("hello JSON");
    assert_eq!(meta["tunnel"], "bad");
    assert_eq!(meta["bin_id"], bin.as_str());
    wait_tunnels(&s, &bin, &["bad", "good"]).await;

    ws.send(Message::Binary(vec![9u8, 9, 9].into()))
        .await
        .expect("send garbage");
    let close = loop {
        match tokio::time::timeout(WAIT, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => {}
            other => panic!("expected a close frame, got {other:?}"),
        }
    };
    let close = close.expect("close frame with a code");
    assert_eq!(close.code, CloseCode::Protocol, "1002: {close:?}");
    assert_eq!(u16::from(close.code), 1002);
    assert!(!close.reason.is_empty(), "a reason: {close:?}");
    wait_tunnels(&s, &bin, &["good"]).await;

    // The server and the other tunnel carry on.
    let sent = capture_numbered(&s, &bin, 0..3).await;
    let seen = app.wait_for(3).await;
    assert!(received(&seen) == sent);
    wait_all_delivered(&s, &bin, "good").await;

    // Another protocol version is refused before the upgrade.
    let ws_url = format!("ws://{}/api/bins/{bin}/tunnel?v=99&name=future", s.addr);
    match tokio_tungstenite::connect_async(&ws_url).await {
        Err(tungstenite::Error::Http(res)) => {
            assert_eq!(res.status(), 400);
            let body = String::from_utf8_lossy(res.body().as_deref().unwrap_or_default());
            assert!(body.contains("version"), "{body}");
        }
        other => panic!("expected HTTP 400, got {other:?}"),
    }
    wait_tunnels(&s, &bin, &["good"]).await;
}

/// A request head the server accepted (under 64 KiB) must be relayable: its
/// frame metadata can be larger than the head (non-UTF-8 header bytes are
/// stored as U+FFFD, 3 bytes each; `"` and `\` are escaped in JSON).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_with_a_large_non_utf8_header_is_relayed() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let tunnel = Tunnel::connect(&s, &bin, &app, "big", &[]).await;
    // 50,000 bytes of obs-text: well inside the 64 KiB head limit, but
    // 150,000 bytes of metadata once stored as U+FFFD.
    let value = HeaderValue::from_bytes(&[0xff; 50_000]).expect("obs-text value");
    let res = s
        .client
        .post(s.url(&format!("/{bin}/big")))
        .header("x-big", value)
        .body("big head")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200, "the server accepts the head");
    let id = common::request_id(&res);
    let sent = capture_numbered(&s, &bin, 0..2).await;

    let mut count = app.shared.count.subscribe();
    let waited = tokio::time::timeout(WAIT, count.wait_for(|c| *c >= 3)).await;
    assert!(
        waited.is_ok(),
        "not delivered; client stderr: {:#?}",
        tunnel.stderr()
    );
    let seen = app.seen();
    assert_eq!(seen[0].request_id(), id);
    assert_eq!(seen[0].body, b"big head");
    assert_eq!(received(&seen[1..]), sent, "later requests are not held up");
}

/// Two clients with the same name would displace each other forever; the
/// older one stops with an error that says what to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_client_with_the_same_name_takes_over_and_the_first_stops() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let mut first = Tunnel::connect(&s, &bin, &app, "twin", &[]).await;
    let second = Tunnel::start(&s, &bin, &app, "twin", &[]);
    let status = first.exited().await;
    assert!(
        !status.success(),
        "the displaced client exits with an error"
    );
    assert!(
        first
            .stderr()
            .iter()
            .any(|l| l.contains("took over") && l.contains("--name")),
        "{:#?}",
        first.stderr()
    );
    // The newer one keeps the name and delivers.
    wait_tunnels(&s, &bin, &["twin"]).await;
    let sent = capture_numbered(&s, &bin, 0..3).await;
    let seen = app.wait_for(3).await;
    assert_eq!(received(&seen), sent);
    second.stop().await;
}

/// Edit and replay: the app gets the edited request (same request id); the
/// stored request is unchanged; bad edits are refused with a reason.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_replay_sends_the_edits_and_keeps_the_original() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let _tunnel = Tunnel::connect(&s, &bin, &app, "ed", &[]).await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hook?a=b")))
        .header("x-keep", "1")
        .body(r#"{"status":"processing"}"#)
        .send()
        .await
        .expect("capture");
    let id = common::request_id(&res);
    wait_deliveries(&s, &bin, id, 1).await;

    let replay = s.url(&format!("/api/bins/{bin}/requests/{id}/replay"));
    let res = s
        .client
        .post(&replay)
        .header("content-type", "application/json")
        .body(r#"{"method":"put","path":"/edited","query":"x=1","headers":[["x-edited","yes"]],"body":"{\"status\":\"success\"}"}"#)
        .send()
        .await
        .expect("replay");
    assert_eq!(res.status(), 200);
    let seen = app.wait_for(2).await;
    assert_eq!(seen[1].method, "PUT");
    assert_eq!(seen[1].target, "/edited?x=1");
    assert_eq!(seen[1].body, br#"{"status":"success"}"#);
    assert_eq!(seen[1].header_values("x-edited"), ["yes"]);
    assert!(seen[1].header_values("x-keep").is_empty());
    assert_eq!(seen[1].request_id(), id);

    let stored = s
        .get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
        .await;
    assert_eq!(stored["path"], "/hook", "the stored request is unchanged");
    assert_eq!(stored["body_text"], r#"{"status":"processing"}"#);

    let res = s
        .client
        .post(&replay)
        .body(r#"{"method":"B@D"}"#)
        .send()
        .await
        .expect("replay");
    assert_eq!(res.status(), 400);
    let res = s
        .client
        .post(&replay)
        .body("not json")
        .send()
        .await
        .expect("replay");
    assert_eq!(res.status(), 400);
}

/// With a passthrough and a plain tunnel on one bin, the sender gets the
/// passthrough tunnel's answer even when the other app answers first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_passthrough_tunnel_answers_the_sender() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let fast = LocalApp::start().await;
    let slow = LocalApp::start_with(Answer {
        status: 202,
        body: b"from the passthrough app".to_vec(),
        delay: Duration::from_millis(200),
        ..Answer::default()
    })
    .await;
    let _plain = Tunnel::connect(&s, &bin, &fast, "plain", &[]).await;
    let _pt = Tunnel::start(&s, &bin, &slow, "pt", &["--passthrough"]);
    wait_tunnels(&s, &bin, &["plain", "pt"]).await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/x")))
        .body("{}")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 202);
    assert_eq!(res.text().await.expect("body"), "from the passthrough app");
}

// ---------------------------------------------------------------------------
// --concurrency
// ---------------------------------------------------------------------------

/// Each stored request has exactly one (non-replay) delivery by `tunnel`.
fn one_delivery_each(stored: &[Value], tunnel: &str) {
    for r in stored {
        let mine = r["deliveries"]
            .as_array()
            .expect("deliveries")
            .iter()
            .filter(|d| d["tunnel"] == tunnel && d["replay"] == false)
            .count();
        assert_eq!(mine, 1, "request {} has {mine} deliveries", r["id"]);
    }
}

/// The ids the app received, sorted, and how many came more than once.
fn ids_and_repeats(seen: &[Seen]) -> (Vec<i64>, usize) {
    let mut ids: Vec<i64> = seen.iter().map(Seen::request_id).collect();
    ids.sort_unstable();
    let all = ids.len();
    ids.dedup();
    let repeats = all - ids.len();
    (ids, repeats)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_runs_deliveries_at_once_each_exactly_once() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    app.set_delay(Duration::from_millis(30));
    let _tunnel = Tunnel::connect(&s, &bin, &app, "wide", &["--concurrency", "8"]).await;
    let sent = capture_numbered(&s, &bin, 0..64).await;
    let stored = wait_all_delivered(&s, &bin, "wide").await;
    assert_eq!(stored.len(), 64);
    one_delivery_each(&stored, "wide");
    let (ids, repeats) = ids_and_repeats(&app.seen());
    assert_eq!(repeats, 0, "nothing came twice");
    assert_eq!(ids, sent.iter().map(|r| r.1).collect::<Vec<_>>());
    let most = app.max_active();
    assert!(
        (2..=8).contains(&most),
        "up to 8 deliveries ran at once, never more: {most}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_one_is_one_at_a_time_in_order() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    app.set_delay(Duration::from_millis(2));
    let _tunnel = Tunnel::connect(&s, &bin, &app, "narrow", &["--concurrency", "1"]).await;
    let sent = capture_numbered(&s, &bin, 0..50).await;
    app.wait_for(50).await;
    assert!(received(&app.seen()) == sent, "in arrival order");
    assert_eq!(app.max_active(), 1);
}

/// A tunnel `name` with 300 captures waiting for it, reconnected and 60
/// of them delivered: the cut comes mid-stream however slow capturing is
/// (the name's position exists from a first connection; the app is slow
/// enough that 8 at a time are still under way).
async fn mid_backlog(
    s: &TestServer,
    bin: &str,
    app: &LocalApp,
    name: &str,
    flags: &[&str],
) -> (Tunnel, Vec<(u64, i64)>) {
    app.set_delay(Duration::from_millis(20));
    Tunnel::connect(s, bin, app, name, flags).await.stop().await;
    wait_tunnels(s, bin, &[]).await;
    let sent = capture_numbered(s, bin, 0..300).await;
    let tunnel = Tunnel::connect(s, bin, app, name, flags).await;
    app.wait_for(60).await;
    (tunnel, sent)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_concurrency_8_loses_nothing() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let flags = ["--concurrency", "8"];
    let (mut tunnel, sent) = mid_backlog(&s, &bin, &app, "crashy8", &flags).await;
    tunnel.kill9();
    tunnel.exited().await;
    wait_tunnels(&s, &bin, &[]).await;
    let before = app.seen().len();
    assert!(before < 300, "killed mid-stream ({before} delivered)");

    let _tunnel = Tunnel::connect(&s, &bin, &app, "crashy8", &flags).await;
    let stored = wait_all_delivered(&s, &bin, "crashy8").await;
    assert_eq!(stored.len(), 300);
    one_delivery_each(&stored, "crashy8");
    let (ids, repeats) = ids_and_repeats(&app.seen());
    assert_eq!(
        ids,
        sent.iter().map(|r| r.1).collect::<Vec<_>>(),
        "every request arrived"
    );
    assert!(
        repeats <= 64,
        "only requests in flight at the kill came again: {repeats}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_restart_at_concurrency_8_delivers_exactly_once() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let flags = ["--concurrency", "8"];
    let (tunnel, sent) = mid_backlog(&s, &bin, &app, "calm8", &flags).await;
    tunnel.stop().await;
    wait_tunnels(&s, &bin, &[]).await;
    let before = app.seen().len();
    assert!(before < 300, "stopped mid-stream ({before} delivered)");

    let _tunnel = Tunnel::connect(&s, &bin, &app, "calm8", &flags).await;
    let stored = wait_all_delivered(&s, &bin, "calm8").await;
    assert_eq!(stored.len(), 300);
    one_delivery_each(&stored, "calm8");
    let (ids, repeats) = ids_and_repeats(&app.seen());
    assert_eq!(
        repeats, 0,
        "a graceful stop finishes what it started: nothing twice"
    );
    assert_eq!(ids, sent.iter().map(|r| r.1).collect::<Vec<_>>());
}

// ---------------------------------------------------------------------------
// Live captures handed over in memory
// ---------------------------------------------------------------------------

/// Captures from 16 senders at once while a tunnel is connected: the hub
/// hands them over in commit order; a slow app overflows the session's
/// queue (256) and the session falls back to reading the database. Either
/// way: every one, once, in id order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_live_captures_arrive_once_in_id_order_even_past_the_queue() {
    let s = TestServer::spawn_with(|c| c.max_requests_per_bin = 0).await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    app.set_delay(Duration::from_millis(1));
    let _tunnel = Tunnel::connect(&s, &bin, &app, "live", &[]).await;
    let url = s.url(&format!("/{bin}/live"));
    let mut ids = Vec::new();
    for round in 0..60u64 {
        let sent = (0..16u64).map(|i| {
            s.client
                .post(&url)
                .body(format!(r#"{{"n":{}}}"#, round * 16 + i))
                .send()
        });
        for res in futures_util::future::join_all(sent).await {
            ids.push(common::request_id(&res.expect("capture")));
        }
    }
    ids.sort_unstable();
    let seen = app.wait_for(ids.len()).await;
    let got: Vec<i64> = seen.iter().map(Seen::request_id).collect();
    assert_eq!(got, ids, "each once, in id order");
    let stored = wait_all_delivered(&s, &bin, "live").await;
    one_delivery_each(&stored, "live");
}

/// Two replicas share one PostgreSQL database (whatever store the
/// rest of the suite runs on). Captures go to both at once; a tunnel
/// connected to one of them gets every capture once, in id order, and an
/// inspector page's live stream on one replica shows a capture made on the
/// other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_on_one_replica_gets_every_replicas_captures_once_in_order() {
    let url = common::pg::database();
    let replica = |url: String| {
        TestServer::spawn_with(move |c| c.db = hookwire::server::config::Database::Postgres(url))
    };
    let a = replica(url.clone()).await;
    let b = replica(url).await;
    let bin = a.new_bin().await;
    let app = LocalApp::start().await;
    let _tunnel = Tunnel::connect(&a, &bin, &app, "laptop", &[]).await;

    // 8 senders, half on each replica, 50 captures each.
    let mut senders = Vec::new();
    for w in 0..8u64 {
        let s = if w % 2 == 0 { &a } else { &b };
        let (client, url) = (s.client.clone(), s.url(&format!("/{bin}/w{w}")));
        senders.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for n in 0..50u64 {
                let res = client
                    .post(&url)
                    .body(format!("{{\"n\":{}}}", w * 1000 + n))
                    .send()
                    .await
                    .expect("capture");
                assert_eq!(res.status(), 200);
                ids.push(common::request_id(&res));
            }
            ids
        }));
    }
    let mut sent = Vec::new();
    for s in senders {
        sent.extend(s.await.expect("sender"));
    }
    sent.sort_unstable();

    let seen = app.wait_for(sent.len()).await;
    let got: Vec<i64> = seen.iter().map(Seen::request_id).collect();
    assert_eq!(
        got, sent,
        "every capture of both replicas, once, in id order"
    );
    // Both replicas list all of them.
    assert_eq!(a.requests(&bin).await.len(), sent.len());
    assert_eq!(b.requests(&bin).await.len(), sent.len());

    // Live: a page's event stream on `a` hears of a capture made on `b`.
    let mut events = a
        .client
        .get(a.url(&format!("/bins/{bin}/events")))
        .send()
        .await
        .expect("events");
    assert_eq!(events.status(), 200);
    let res = b
        .client
        .post(b.url(&format!("/{bin}/from-b")))
        .body("x")
        .send()
        .await
        .expect("capture on b");
    let id = common::request_id(&res);
    let mut text = String::new();
    while !text.contains(&format!("\"id\":{id}")) {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk())
            .await
            .expect("a live event within 10 s")
            .expect("stream")
            .expect("open stream");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(text.contains("/from-b"), "{text}");

    // Captures made only on `b` wake the tunnel on `a` (nothing local
    // does), and arrive in order after the others.
    let only_b = capture_numbered(&b, &bin, 0..10).await;
    let seen = app.wait_for(sent.len() + 1 + only_b.len()).await;
    let tail: Vec<(u64, i64)> = received(&seen[sent.len() + 1..]);
    assert_eq!(tail, only_b);
}

/// A tunnel name is held once in the cluster. A second client
/// with the same name on another replica takes over; the first stops with
/// the same error as on one server, and only the newer one delivers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_name_is_held_once_across_replicas() {
    let url = common::pg::database();
    let replica = |url: String| {
        TestServer::spawn_with(move |c| c.db = hookwire::server::config::Database::Postgres(url))
    };
    let a = replica(url.clone()).await;
    let b = replica(url).await;
    let bin = a.new_bin().await;
    let (app_a, app_b) = (LocalApp::start().await, LocalApp::start().await);
    let mut first = Tunnel::connect(&a, &bin, &app_a, "twin", &[]).await;
    let second = Tunnel::connect(&b, &bin, &app_b, "twin", &[]).await;
    let status = first.exited().await;
    assert!(
        !status.success(),
        "the displaced client exits with an error"
    );
    assert!(
        first.stderr().iter().any(|l| l.contains("took over")),
        "{:#?}",
        first.stderr()
    );
    // Each replica lists the one connection, wherever it is.
    wait_tunnels(&a, &bin, &["twin"]).await;
    wait_tunnels(&b, &bin, &["twin"]).await;
    let sent = capture_numbered(&a, &bin, 0..3).await;
    let seen = app_b.wait_for(3).await;
    assert_eq!(received(&seen), sent, "the newer one delivers");
    assert!(
        app_a.seen().is_empty(),
        "the displaced one delivered nothing"
    );
    second.stop().await;
}

/// Passthrough when the capture and the tunnel sit on different
/// replicas: the sender on one gets the app's answer relayed by the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_answers_across_replicas() {
    let url = common::pg::database();
    let replica = |url: String| {
        TestServer::spawn_with(move |c| c.db = hookwire::server::config::Database::Postgres(url))
    };
    let a = replica(url.clone()).await;
    let b = replica(url).await;
    let bin = a.new_bin().await;
    let app = LocalApp::start().await;
    let _tunnel = Tunnel::connect(&b, &bin, &app, "pt", &["--passthrough"]).await;
    for n in 0..3 {
        let res = a
            .client
            .post(a.url(&format!("/{bin}/on-a/{n}")))
            .body(format!("from a {n}"))
            .send()
            .await
            .expect("capture on a");
        assert_eq!(
            res.status(),
            201,
            "the app's status, through the other replica"
        );
        assert_eq!(res.headers()["x-app"], "yes");
        assert_eq!(res.bytes().await.expect("body").as_ref(), b"hello");
    }
    assert_eq!(app.seen().len(), 3);
}
