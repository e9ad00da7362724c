//! The JSON API: bins, listing with cursors and search, deletes, limits,
//! health and metrics, and `hookwire new`.

use crate::common;

use common::{TestServer, json};
use serde_json::Value;

async fn post(s: &TestServer, bin: &str, path: &str, body: &str) -> i64 {
    let res = s
        .client
        .post(s.url(&format!("/{bin}{path}")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    common::request_id(&res)
}

fn ids(page: &Value) -> Vec<i64> {
    page["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect()
}

#[tokio::test]
async fn mint_returns_urls_and_the_bin_reads_back() {
    let s =
        TestServer::spawn_with(|c| c.public_url = Some("https://hooks.example.com".into())).await;
    let res = s
        .client
        .post(s.url("/api/bins"))
        .send()
        .await
        .expect("mint");
    assert_eq!(res.status(), 201);
    let b = json(res).await;
    let id = b["id"].as_str().expect("id");
    let parsed = uuid::Uuid::parse_str(id).expect("uuid");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(id, id.to_lowercase());
    assert_eq!(b["capture_url"], format!("https://hooks.example.com/{id}"));
    assert_eq!(
        b["inspect_url"],
        format!("https://hooks.example.com/bins/{id}")
    );
    assert!(b["created_at"].as_str().expect("time").ends_with('Z'));

    let got = s.get_json(&format!("/api/bins/{id}"), 200).await;
    assert_eq!(got["id"], id);
    assert_eq!(got["request_count"], 0);
    assert_eq!(got["response"]["status"], 200);
    s.get_json("/api/bins/2f0b8f6e-8c4f-4d51-9d1c-7f2b1d2c3a4b", 404)
        .await;
}

#[tokio::test]
async fn listing_pages_with_before_and_after_cursors() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let mut sent = Vec::new();
    for i in 0..7 {
        sent.push(post(&s, &bin, &format!("/{i}"), "{}").await);
    }
    let newest: Vec<i64> = sent.iter().rev().copied().collect();

    let p1 = s
        .get_json(&format!("/api/bins/{bin}/requests?limit=3"), 200)
        .await;
    assert_eq!(ids(&p1), newest[0..3]);
    let next = p1["next"].as_i64().expect("next cursor");
    let p2 = s
        .get_json(
            &format!("/api/bins/{bin}/requests?limit=3&before={next}"),
            200,
        )
        .await;
    assert_eq!(ids(&p2), newest[3..6]);
    let next = p2["next"].as_i64().expect("next cursor");
    let p3 = s
        .get_json(
            &format!("/api/bins/{bin}/requests?limit=3&before={next}"),
            200,
        )
        .await;
    assert_eq!(ids(&p3), newest[6..7]);
    assert_eq!(p3["next"], Value::Null);

    // Tailing: oldest first after an id.
    let tail = s
        .get_json(
            &format!("/api/bins/{bin}/requests?after={}&limit=4", sent[1]),
            200,
        )
        .await;
    assert_eq!(ids(&tail), sent[2..6]);
    assert_eq!(tail["next"], sent[5]);

    // Default limit and clamping.
    let all = s.get_json(&format!("/api/bins/{bin}/requests"), 200).await;
    assert_eq!(ids(&all).len(), 7);
    s.get_json(&format!("/api/bins/{bin}/requests?limit=abc"), 400)
        .await;
    s.get_json(&format!("/api/bins/{bin}/requests?before=1&after=1"), 400)
        .await;
    s.get_json(
        "/api/bins/2f0b8f6e-8c4f-4d51-9d1c-7f2b1d2c3a4b/requests",
        404,
    )
    .await;
}

#[tokio::test]
async fn search_finds_text_in_path_headers_and_body() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let a = post(&s, &bin, "/orders/paid", r#"{"status":"success"}"#).await;
    let b = post(
        &s,
        &bin,
        "/other",
        r#"{"transcript_id":"5552493","status":"completed"}"#,
    )
    .await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/x")))
        .header("X-Provider", "AssemblyAI")
        .body("50% done_")
        .send()
        .await
        .expect("send");
    let c: i64 = common::request_id(&res);

    let q = |text: &str| format!("/api/bins/{bin}/requests?q={}", urlencode(text));
    assert_eq!(ids(&s.get_json(&q("orders"), 200).await), [a]);
    assert_eq!(ids(&s.get_json(&q("TRANSCRIPT"), 200).await), [b]);
    assert_eq!(ids(&s.get_json(&q("assemblyai"), 200).await), [c]);
    assert_eq!(ids(&s.get_json(&q("status"), 200).await), [b, a]);
    // LIKE wildcards are literal.
    assert_eq!(ids(&s.get_json(&q("50%"), 200).await), [c]);
    assert_eq!(ids(&s.get_json(&q("_"), 200).await), [c, b]);
    assert!(ids(&s.get_json(&q("nothing-like-this"), 200).await).is_empty());
}

fn urlencode(text: &str) -> String {
    form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn deletes_one_all_and_the_bin() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let first = post(&s, &bin, "/", "1").await;
    post(&s, &bin, "/", "2").await;
    post(&s, &bin, "/", "3").await;

    let del = |path: String| s.client.delete(s.url(&path)).send();
    assert_eq!(
        del(format!("/api/bins/{bin}/requests/{first}"))
            .await
            .expect("del")
            .status(),
        204
    );
    assert_eq!(
        del(format!("/api/bins/{bin}/requests/{first}"))
            .await
            .expect("del")
            .status(),
        404
    );
    s.get_json(&format!("/api/bins/{bin}/requests/{first}"), 404)
        .await;
    assert_eq!(s.requests(&bin).await.len(), 2);

    let res = del(format!("/api/bins/{bin}/requests"))
        .await
        .expect("clear");
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["deleted"], 2);
    assert!(s.requests(&bin).await.is_empty());

    assert_eq!(
        del(format!("/api/bins/{bin}"))
            .await
            .expect("del bin")
            .status(),
        204
    );
    s.get_json(&format!("/api/bins/{bin}"), 404).await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}")))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 404, "a deleted bin captures nothing");
    assert_eq!(
        del(format!("/api/bins/{bin}"))
            .await
            .expect("del bin")
            .status(),
        404
    );
}

#[tokio::test]
async fn a_bin_keeps_only_its_newest_requests() {
    let s = TestServer::spawn_with(|c| c.max_requests_per_bin = 5).await;
    let bin = s.new_bin().await;
    let other = s.new_bin().await;
    let mut sent = Vec::new();
    for i in 0..8 {
        sent.push(post(&s, &bin, &format!("/{i}"), "{}").await);
    }
    post(&s, &other, "/", "{}").await;
    let kept: Vec<i64> = s
        .requests(&bin)
        .await
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    let want: Vec<i64> = sent[3..].iter().rev().copied().collect();
    assert_eq!(kept, want);
    assert_eq!(s.requests(&other).await.len(), 1, "other bins unaffected");

    // After a restart the cap still holds (the count is rebuilt).
    let s = s.restart().await;
    post(&s, &bin, "/after-restart", "{}").await;
    let stored = s.requests(&bin).await;
    assert_eq!(stored.len(), 5);
    assert_eq!(stored[0]["path"], "/after-restart");
}

#[tokio::test]
async fn retention_purges_old_requests() {
    let s =
        TestServer::spawn_with(|c| c.retention = Some(std::time::Duration::from_millis(400))).await;
    let bin = s.new_bin().await;
    post(&s, &bin, "/old", "{}").await;
    assert_eq!(s.requests(&bin).await.len(), 1);
    // The purge runs on a timer; wait for its effect, bounded.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !s.requests(&bin).await.is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "not purged within 10 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // The bin itself stays and captures again.
    post(&s, &bin, "/new", "{}").await;
}

#[tokio::test]
async fn health_and_metrics() {
    let s = TestServer::spawn_with(|c| c.max_body_bytes = 10).await;
    let res = s
        .client
        .get(s.url("/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.expect("text"), "ok");

    let bin = s.new_bin().await;
    post(&s, &bin, "/", "12345").await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}")))
        .body("x".repeat(11))
        .send()
        .await
        .expect("big");
    assert_eq!(res.status(), 413);
    s.client.post(s.url("/nope")).send().await.expect("404");

    let res = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/plain")
    );
    let text = res.text().await.expect("text");
    for line in [
        "hookwire_requests_captured_total 1\n",
        "hookwire_captured_bytes_total 5\n",
        "hookwire_captures_rejected_total{reason=\"body_too_large\"} 1\n",
        "hookwire_captures_rejected_total{reason=\"unknown_bin\"} 1\n",
        "hookwire_db_errors_total 0\n",
        "hookwire_capture_duration_seconds_count 1\n",
    ] {
        assert!(text.contains(line), "missing {line:?} in\n{text}");
    }
}

#[tokio::test]
async fn hookwire_new_prints_the_urls_of_a_fresh_bin() {
    let s = TestServer::spawn().await;
    let server = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(common::binary())
            .args(["new", "--server", &server])
            .output()
            .expect("run hookwire new")
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let capture = stdout
        .lines()
        .find_map(|l| l.strip_prefix("capture: "))
        .expect("capture line");
    let id = capture.rsplit('/').next().expect("id");
    s.get_json(&format!("/api/bins/{id}"), 200).await;
    assert!(stdout.contains(&format!("inspect: {}/bins/{id}", s.base)));

    // An unreachable server is a clear error, not a panic.
    let out = std::process::Command::new(common::binary())
        .args(["new", "--server", "http://127.0.0.1:9"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("is `hookwire serve` running"));
}
