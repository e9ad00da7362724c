//! What the sender got back, recorded on each request as `response`
//! (`{status, by, name}`): the bin's response, a rule's answer, a rule's
//! `close`, a passthrough tunnel's app through a real tunnel, a sender
//! that gave up during a delay; imported requests have none. Shown in the
//! inspector as a status pill and a line of the detail.

use crate::common;

use std::time::Duration;

use common::tunnel::{LocalApp, Tunnel, eventually};
use common::{JsonBody as _, TestServer, json};
use serde_json::{Value, json};

/// Replaces a bin's rules.
async fn put_rules(s: &TestServer, bin: &str, rules: Value) {
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/rules")))
        .json_body(&json!({ "rules": rules }))
        .send()
        .await
        .expect("put rules");
    assert_eq!(res.status(), 200);
}

/// The recorded answer of request `id` of `bin`.
async fn response(s: &TestServer, bin: &str, id: i64) -> Value {
    s.get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
        .await["response"]
        .clone()
}

/// Polls until request `id`'s recorded answer is `want` (bounded).
async fn wait_response(s: &TestServer, bin: &str, id: i64, want: &Value) {
    eventually(&format!("request {id}'s response to be {want}"), || async {
        (response(s, bin, id).await == *want).then_some(())
    })
    .await;
}

/// The inspector page of `bin` with request `id` open.
async fn page(s: &TestServer, bin: &str, id: i64) -> String {
    let res = s
        .client
        .get(s.url(&format!("/bins/{bin}?r={id}")))
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), 200);
    res.text().await.expect("html")
}

#[tokio::test]
async fn the_bins_response_is_recorded_with_the_capture() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hook")))
        .body("{}")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200);
    let id = common::request_id(&res);
    // Stored by the capture's own insert: there at once.
    let want = json!({"status": 200, "by": "bin", "name": null});
    assert_eq!(response(&s, &bin, id).await, want);
    let listed = s.requests(&bin).await;
    assert_eq!(listed[0]["response"], want, "the list carries it too");

    let html = page(&s, &bin, id).await;
    assert!(
        html.contains(r#"<span class="answer a-2xx" title="answered 200 by the bin&#x27;s response">200</span>"#)
            || html.contains(r#"<span class="answer a-2xx" title="answered 200 by the bin&#39;s response">200</span>"#),
        "the list's pill:\n{html}"
    );
    assert!(html.contains("answered 200 by the bin"), "{html}");

    // Imported requests were answered elsewhere: nothing recorded.
    let res = s
        .client
        .post(s.url(&format!("/api/bins/{bin}/import")))
        .json_body(&json!({"method": "POST", "path": "/x", "headers": [], "body_text": "hi"}))
        .send()
        .await
        .expect("import");
    assert_eq!(res.status(), 200);
    let imported = json(res).await["ids"][0].as_i64().expect("id");
    assert_eq!(response(&s, &bin, imported).await, Value::Null);
    assert!(page(&s, &bin, imported).await.contains("not recorded"));
    s.stop().await;
}

#[tokio::test]
async fn a_rules_answer_and_its_close_are_recorded() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    put_rules(
        &s,
        &bin,
        json!([
            {"name": "flaky", "match": ["path=/flaky"], "response": {"status": 503}},
            {"name": "drop", "match": ["path=/drop"], "action": "close"},
            {"name": "<i>\"x\"</i>", "match": ["path=/odd"], "response": {"status": 418}}
        ]),
    )
    .await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/flaky")))
        .body("{}")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 503);
    let flaky = common::request_id(&res);
    assert_eq!(
        response(&s, &bin, flaky).await,
        json!({"status": 503, "by": "rule", "name": "flaky"})
    );
    let html = page(&s, &bin, flaky).await;
    assert!(
        html.contains(
            r#"<span class="answer a-5xx" title="answered 503 by rule flaky">503</span>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"answered 503 by rule <b class="rule">flaky</b>"#),
        "{html}"
    );

    s.client
        .post(s.url(&format!("/{bin}/drop")))
        .body("gone")
        .send()
        .await
        .expect_err("the connection is dropped");
    let all = s.requests(&bin).await;
    let dropped = all
        .iter()
        .find(|r| r["rule"] == "drop")
        .expect("stored before the close");
    // No answer, and the rule that gave none.
    assert_eq!(
        dropped["response"],
        json!({"status": null, "by": "none", "name": "drop"})
    );
    let id = dropped["id"].as_i64().expect("id");
    let html = page(&s, &bin, id).await;
    assert!(
        html.contains(
            r#"<span class="answer a-none" title="no answer (closed by rule drop)">—</span>"#
        ),
        "{html}"
    );
    assert!(
        html.contains(r#"no answer (closed by rule <b class="rule">drop</b>)"#),
        "{html}"
    );

    // A name is text on the page, never markup.
    let res = s
        .client
        .post(s.url(&format!("/{bin}/odd")))
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 418);
    let odd = common::request_id(&res);
    assert_eq!(response(&s, &bin, odd).await["name"], "<i>\"x\"</i>");
    let html = page(&s, &bin, odd).await;
    assert!(!html.contains("<i>\"x\"</i>"), "{html}");
    assert!(html.contains("a-4xx"), "{html}");
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_passthrough_apps_answer_is_recorded_with_its_tunnel() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let tunnel = Tunnel::connect(&s, &bin, &app, "laptop", &["--passthrough"]).await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/pay")))
        .body("{}")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 201, "the app's answer");
    let id = common::request_id(&res);
    // Recorded after the answer, off the sender's path.
    let want = json!({"status": 201, "by": "tunnel", "name": "laptop"});
    wait_response(&s, &bin, id, &want).await;

    let html = page(&s, &bin, id).await;
    assert!(
        html.contains(
            r#"<span class="answer a-2xx" title="answered 201 by tunnel laptop">201</span>"#
        ),
        "the list's pill:\n{html}"
    );
    assert!(
        html.contains(r#"answered 201 by tunnel <b class="tunnel">laptop</b>"#),
        "the detail:\n{html}"
    );
    tunnel.stop().await;
    s.stop().await;
}

#[tokio::test]
async fn a_sender_that_gives_up_during_the_delay_got_no_answer() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/response")))
        .json_body(&json!({"status": 202, "headers": [], "body": "", "delay_ms": 5000}))
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 200);
    let err = s
        .client
        .post(s.url(&format!("/{bin}/slow")))
        .timeout(Duration::from_millis(300))
        .body("{}")
        .send()
        .await
        .expect_err("the sender gives up");
    assert!(err.is_timeout(), "{err:?}");
    // Stored as the bin's 202 by the insert; the sender hung up during
    // the delay, so no answer was sent after all.
    let id = eventually("the capture", || async {
        s.requests(&bin)
            .await
            .first()
            .and_then(|r| r["id"].as_i64())
    })
    .await;
    wait_response(
        &s,
        &bin,
        id,
        &json!({"status": null, "by": "none", "name": null}),
    )
    .await;
    assert!(
        page(&s, &bin, id)
            .await
            .contains("no answer (the sender gave up)")
    );
    s.stop().await;
}

/// An open inspector page gets a passthrough capture's answer live: the
/// request is listed at its commit, before the app has answered, and its
/// pill appears when the answer is recorded — without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_page_gets_the_passthrough_answer_live() {
    use fantoccini::Locator;

    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let tunnel = Tunnel::connect(&s, &bin, &app, "laptop", &["--passthrough"]).await;
    let d = crate::browser::driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let c = crate::browser::browser_with(&d, &tmp.path().join("p"), &[]).await;
    c.goto(&s.url(&format!("/bins/{bin}")))
        .await
        .expect("open inspector");
    c.execute("window.__marker = 1;", vec![])
        .await
        .expect("mark");
    // Captures until one is listed live: the page's stream is open.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let id = loop {
        let res = s
            .client
            .post(s.url(&format!("/{bin}/pay")))
            .body("{}")
            .send()
            .await
            .expect("capture");
        assert_eq!(res.status(), 201, "the app's answer");
        let id = common::request_id(&res);
        let listed = tokio::time::timeout(
            Duration::from_millis(1500),
            c.wait()
                .for_element(Locator::Css(&format!("li[data-id='{id}']"))),
        )
        .await;
        if let Ok(Ok(_)) = listed {
            break id;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no live arrival in 10 s"
        );
    };
    let pill = c
        .wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(&format!("li[data-id='{id}'] .answer")))
        .await
        .expect("the answer's pill, live");
    assert_eq!(pill.text().await.expect("text"), "201");
    let marker = c
        .execute("return window.__marker === 1;", vec![])
        .await
        .expect("script");
    assert_eq!(marker, Value::Bool(true), "no reload");
    tunnel.stop().await;
    s.stop().await;
}
