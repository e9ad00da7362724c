//! Capture: every method, sub-path, header and body byte arrives in the
//! store exactly; limits refuse without storing.

use crate::common;

use base64::Engine as _;
use common::{JsonBody, TestServer, json};
use serde_json::json;

#[tokio::test]
async fn json_post_round_trips_with_query_and_duplicate_headers() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hooks/eden?job=1&job=2&x=%3Cy%3E")))
        .header("content-type", "application/json")
        .header("x-dup", "1")
        .header("x-dup", "2")
        .header("X-Mixed-Case", "Value")
        .body(r#"{"job_id":"550e8400","status":"success"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    let id: i64 = common::request_id(&res);
    assert_eq!(json(res).await, json!({"ok": true}));

    let r = s
        .get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
        .await;
    assert_eq!(r["id"], id);
    assert_eq!(r["bin_id"], bin);
    assert_eq!(r["method"], "POST");
    assert_eq!(r["path"], "/hooks/eden");
    assert_eq!(r["query"], "job=1&job=2&x=%3Cy%3E");
    assert_eq!(
        r["body_text"],
        r#"{"job_id":"550e8400","status":"success"}"#
    );
    assert_eq!(r["body_size"], 40);
    assert!(
        r["remote_addr"]
            .as_str()
            .expect("addr")
            .starts_with("127.0.0.1:")
    );
    assert!(r["received_at"].as_str().expect("time").ends_with('Z'));
    assert_eq!(r["signature"], serde_json::Value::Null);
    assert_eq!(r["deliveries"], json!([]));
    let headers: Vec<(String, String)> =
        serde_json::from_value(r["headers"].clone()).expect("header pairs");
    let dups: Vec<&str> = headers
        .iter()
        .filter(|(n, _)| n == "x-dup")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(dups, ["1", "2"], "duplicates kept in order");
    assert!(headers.contains(&("x-mixed-case".into(), "Value".into())));
    assert!(headers.contains(&("content-type".into(), "application/json".into())));
}

#[tokio::test]
async fn any_method_and_any_sub_path_is_captured() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let cases = [
        ("GET", format!("/{bin}"), "/"),
        ("PUT", format!("/{bin}/"), "/"),
        ("DELETE", format!("/{bin}/a/b/c"), "/a/b/c"),
        (
            "PATCH",
            format!("/{bin}/x%2Fy/%E2%9C%93"),
            "/x%2Fy/%E2%9C%93",
        ),
        ("PURGE", format!("/{bin}/cache"), "/cache"),
        ("OPTIONS", format!("/{bin}/pre"), "/pre"),
    ];
    for (method, path, _) in &cases {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let res = s.client.request(m, s.url(path)).send().await.expect("send");
        assert_eq!(res.status(), 200, "{method} {path}");
    }
    let stored = s.requests(&bin).await;
    assert_eq!(stored.len(), cases.len());
    // Newest first.
    for (r, (method, _, want_path)) in stored.iter().rev().zip(&cases) {
        assert_eq!(r["method"], *method);
        assert_eq!(r["path"], *want_path);
    }
}

#[tokio::test]
async fn binary_body_round_trips_byte_for_byte() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let mut body: Vec<u8> = (0..=255u8).collect();
    body.extend_from_slice(b"\0\0\xff\xfe not utf-8 \xc3\x28");
    body.extend(std::iter::repeat_n(0u8, 70_000));
    let res = s
        .client
        .post(s.url(&format!("/{bin}/bin")))
        .header("content-type", "application/octet-stream")
        .body(body.clone())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let id = common::request_id(&res);

    let r = s
        .get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
        .await;
    assert_eq!(r["body_text"], serde_json::Value::Null, "not UTF-8");
    assert_eq!(r["body_size"], body.len());
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(r["body_base64"].as_str().expect("b64"))
        .expect("base64");
    assert_eq!(decoded, body);

    let raw = s
        .client
        .get(s.url(&format!("/api/bins/{bin}/requests/{id}/body")))
        .send()
        .await
        .expect("raw");
    assert_eq!(raw.status(), 200);
    let h = raw.headers();
    assert!(
        h["content-disposition"]
            .to_str()
            .expect("cd")
            .starts_with("attachment")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["content-security-policy"], "sandbox");
    assert_eq!(h["content-type"], "application/octet-stream");
    assert_eq!(raw.bytes().await.expect("bytes").as_ref(), &body[..]);
}

#[tokio::test]
async fn gzip_and_multipart_bodies_are_stored_as_sent() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    // gzip("hello\n"): stored compressed, never decoded on the way in.
    let gz: &[u8] = &[
        0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xcb, 0x48, 0xcd, 0xc9, 0xc9,
        0xe7, 0x02, 0x00, 0x20, 0x30, 0x3a, 0x36, 0x06, 0x00, 0x00, 0x00,
    ];
    let multipart = "--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\
                     Content-Type: application/octet-stream\r\n\r\n\x00\x01\x02\r\n--XyZ--\r\n";
    for (ct, enc, body) in [
        ("application/json", Some("gzip"), gz.to_vec()),
        (
            "multipart/form-data; boundary=XyZ",
            None,
            multipart.as_bytes().to_vec(),
        ),
    ] {
        let mut req = s
            .client
            .post(s.url(&format!("/{bin}")))
            .header("content-type", ct)
            .body(body.clone());
        if let Some(enc) = enc {
            req = req.header("content-encoding", enc);
        }
        let res = req.send().await.expect("send");
        assert_eq!(res.status(), 200);
        let id = common::request_id(&res);
        let raw = s.raw_body(&bin, id).await;
        assert_eq!(raw, body, "{ct}");
    }
}

#[tokio::test]
async fn oversized_bodies_get_413_and_nothing_is_stored() {
    let s = TestServer::spawn_with(|c| c.max_body_bytes = 1024).await;
    let bin = s.new_bin().await;

    // Declared too large: refused before the body is read.
    let res = s
        .client
        .post(s.url(&format!("/{bin}")))
        .body(vec![b'a'; 1025])
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 413);
    let err = json(res).await;
    assert!(
        err["error"]
            .as_str()
            .expect("msg")
            .contains("--max-body-bytes")
    );

    // Chunked, no length: refused once the limit is crossed.
    let chunked = format!(
        "POST /{bin}/chunked HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n\
         400\r\n{}\r\n400\r\n{}\r\n0\r\n\r\n",
        "b".repeat(1024),
        "c".repeat(1024)
    );
    let out = s.raw(chunked.as_bytes()).await;
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");

    // Exactly at the limit is fine.
    let res = s
        .client
        .post(s.url(&format!("/{bin}")))
        .body(vec![b'a'; 1024])
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let stored = s.requests(&bin).await;
    assert_eq!(
        stored.len(),
        1,
        "only the request within the limit is stored"
    );
    assert_eq!(stored[0]["body_size"], 1024);
}

#[tokio::test]
async fn truncated_body_is_not_stored() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    // Promises 100 bytes, sends 10, then hangs up.
    let req = format!("POST /{bin} HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n0123456789");
    let _ = s.raw(req.as_bytes()).await;
    // A later complete request proves the server went on and the first one
    // left nothing behind.
    let res = s
        .client
        .post(s.url(&format!("/{bin}/after")))
        .body("ok")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let stored = s.requests(&bin).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["path"], "/after");
}

#[tokio::test]
async fn huge_headers_get_431_and_too_many_headers_too() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    // The head is left unterminated so the server has read all of it when
    // it answers (see READ_BUF_BYTES in server.rs).
    let big = format!(
        "GET /{bin} HTTP/1.1\r\nhost: x\r\nx-big: {}",
        "a".repeat(65 * 1024)
    );
    let out = s.raw_open(big.as_bytes()).await;
    assert!(
        out.starts_with("HTTP/1.1 431"),
        "{}",
        &out[..out.len().min(200)]
    );

    let many: String = (0..300).map(|i| format!("x-h{i}: v\r\n")).collect();
    let out = s
        .raw(
            format!("GET /{bin} HTTP/1.1\r\nhost: x\r\n{many}connection: close\r\n\r\n").as_bytes(),
        )
        .await;
    assert!(
        out.starts_with("HTTP/1.1 431"),
        "{}",
        &out[..out.len().min(200)]
    );

    // Big but within the limit is captured.
    let res = s
        .client
        .get(s.url(&format!("/{bin}")))
        .header("x-big", "a".repeat(32 * 1024))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    assert_eq!(s.requests(&bin).await.len(), 1);
}

#[tokio::test]
async fn unknown_bins_get_a_json_404() {
    let s = TestServer::spawn().await;
    for path in [
        "/2f0b8f6e-8c4f-4d51-9d1c-7f2b1d2c3a4b",
        "/2f0b8f6e-8c4f-4d51-9d1c-7f2b1d2c3a4b/sub",
        "/not-a-bin",
        "/favicon.ico",
    ] {
        let res = s
            .client
            .post(s.url(path))
            .body("x")
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 404, "{path}");
        let err = json(res).await;
        assert!(
            err["error"].as_str().expect("msg").contains("no such bin"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn configured_response_is_what_the_sender_gets() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/response")))
        .json_body(&json!({
            "status": 202,
            "headers": [["content-type", "text/plain"], ["x-a", "1"], ["x-a", "2"]],
            "body": "accepted",
            "delay_ms": 150
        }))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 200);

    let started = std::time::Instant::now();
    let res = s
        .client
        .post(s.url(&format!("/{bin}")))
        .send()
        .await
        .expect("send");
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(150),
        "delay applied"
    );
    assert_eq!(res.status(), 202);
    assert_eq!(res.headers()["content-type"], "text/plain");
    let xa: Vec<_> = res.headers().get_all("x-a").iter().collect();
    assert_eq!(xa, ["1", "2"]);
    assert!(res.headers().contains_key("x-hookwire-request-id"));
    assert_eq!(res.text().await.expect("text"), "accepted");

    // Bad configs are refused with what to fix, and the old one stays.
    for bad in [
        json!({"status": 99}),
        json!({"status": 200, "delay_ms": 60000}),
        json!({"headers": [["content-length", "5"]]}),
        json!({"headers": [["bad name", "x"]]}),
        json!({"stauts": 200}),
    ] {
        let res = s
            .client
            .put(s.url(&format!("/api/bins/{bin}/response")))
            .json_body(&bad)
            .send()
            .await
            .expect("put");
        assert_eq!(res.status(), 400, "{bad}");
        let err = json(res).await;
        assert!(!err["error"].as_str().expect("msg").is_empty());
    }
    let b = s.get_json(&format!("/api/bins/{bin}"), 200).await;
    assert_eq!(b["response"]["status"], 202);
}

#[tokio::test]
async fn concurrent_captures_are_all_stored_with_unique_increasing_ids() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let mut tasks = Vec::new();
    for i in 0..200 {
        let client = s.client.clone();
        let url = s.url(&format!("/{bin}/n/{i}"));
        tasks.push(tokio::spawn(async move {
            let res = client
                .post(url)
                .body(format!("{{\"n\":{i}}}"))
                .send()
                .await
                .expect("send");
            assert_eq!(res.status(), 200);
            common::request_id(&res)
        }));
    }
    let mut ids = Vec::new();
    for t in tasks {
        ids.push(t.await.expect("task"));
    }
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 200);
    let stored = s.requests(&bin).await;
    assert_eq!(stored.len(), 200);
    let stored_ids: Vec<i64> = stored
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert!(stored_ids.windows(2).all(|w| w[0] > w[1]), "newest first");
}
