//! Response rules and aliases against the real server: the
//! rules API and its errors, first match wins, `attempts` driven by real
//! idempotency headers and job ids, templates, `close` seen by a real
//! client as a dropped connection and `hang` as no answer, every capture
//! stored first with the rule that answered it; aliases at mint and later.

use crate::common;

use std::time::Duration;

use common::tunnel::eventually;
use common::{JsonBody as _, TestServer, json};
use serde_json::{Value, json};

/// Replaces a bin's rules; returns the answer's status and body.
async fn put_rules(s: &TestServer, bin: &str, rules: Value) -> (u16, Value) {
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/rules")))
        .json_body(&json!({ "rules": rules }))
        .send()
        .await
        .expect("put rules");
    let status = res.status().as_u16();
    (status, json(res).await)
}

/// The stored request `id` of `bin`.
async fn stored(s: &TestServer, bin: &str, id: i64) -> Value {
    s.get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
        .await
}

#[tokio::test]
async fn rules_are_set_read_and_checked() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let empty = s.get_json(&format!("/api/bins/{bin}/rules"), 200).await;
    assert_eq!(empty, json!({ "rules": [] }));

    let rules = json!([{
        "name": "flaky", "match": ["method=POST", "json:/status=completed"], "attempts": "1-2",
        "response": {"status": 503, "headers": [["retry-after", "1"]], "body": "retry", "delay_ms": 0},
        "action": "respond"
    }, {"name": "gone", "match": ["path=/old/**"], "action": "close"}]);
    let (status, body) = put_rules(&s, &bin, rules.clone()).await;
    assert_eq!(status, 200, "{body}");
    let read = s.get_json(&format!("/api/bins/{bin}/rules"), 200).await;
    assert_eq!(read["rules"][0], rules[0]);
    assert_eq!(read["rules"][1]["name"], "gone");
    assert_eq!(read["rules"][1]["action"], "close");

    // Each mistake gets a 400 naming the rule and what to fix; nothing changes.
    for (bad, says) in [
        (
            json!([{"name": "a", "match": ["heder.x=1"]}]),
            "condition \"heder.x=1\"",
        ),
        (
            json!([{"name": "a", "match": ["json:type=x"]}]),
            "starts with \"/\"",
        ),
        (json!([{"name": "a", "attempts": "2-1"}]), "\"1-2\""),
        (
            json!([{"name": "a", "response": {"body": "{{nope}}"}}]),
            "unknown placeholder",
        ),
        (
            json!([{"name": "a", "response": {"status": 99}}]),
            "200 to 599",
        ),
        (json!([{"name": "a"}, {"name": "a"}]), "taken"),
        (
            json!([{"name": "a", "action": "explode"}]),
            "`respond` (default), `close` or `hang`",
        ),
        (json!([{"match": []}]), "name"),
    ] {
        let (status, body) = put_rules(&s, &bin, bad.clone()).await;
        assert_eq!(status, 400, "{bad} → {body}");
        let error = body["error"].as_str().expect("error text");
        assert!(error.contains(says), "{bad}: {error:?} should say {says:?}");
    }
    let still = s.get_json(&format!("/api/bins/{bin}/rules"), 200).await;
    assert_eq!(still["rules"].as_array().map(Vec::len), Some(2));

    // As the issue's curl sends it: `-d` without a JSON content type.
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/rules")))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(r#"{"rules":[{"name":"flaky","match":["json:/status=completed"],"attempts":"1-2","response":{"status":503,"body":"retry {{json:/transcript_id}}"}}]}"#)
        .send()
        .await
        .expect("put");
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["rules"][0]["name"], "flaky");

    let unknown = s
        .client
        .put(s.url("/api/bins/00000000-0000-4000-8000-000000000000/rules"))
        .json_body(&json!({"rules": []}))
        .send()
        .await
        .expect("put");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn attempts_fail_a_webhooks_first_arrivals_by_its_idempotency_key() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (status, _) = put_rules(
        &s,
        &bin,
        json!([{"name": "flaky", "attempts": "1-2",
                "response": {"status": 503, "body": "retry {{header.webhook-id}}{{json:/transcript_id}}"}}]),
    )
    .await;
    assert_eq!(status, 200);

    // Standard Webhooks: retries share webhook-id.
    let send = |id: &'static str| {
        s.client
            .post(s.url(&format!("/{bin}/hooks")))
            .header("webhook-id", id)
            .header("content-type", "application/json")
            .body(r#"{"type":"x"}"#)
            .send()
    };
    let mut got = Vec::new();
    for _ in 0..3 {
        let res = send("msg_1").await.expect("send");
        got.push((res.status().as_u16(), res.text().await.expect("body")));
    }
    assert_eq!(
        got,
        [
            (503, "retry msg_1".into()),
            (503, "retry msg_1".into()),
            (200, r#"{"ok":true}"#.into())
        ]
    );
    // Another webhook starts at its first attempt.
    assert_eq!(send("msg_2").await.expect("send").status(), 503);

    // GitHub's X-GitHub-Delivery, and AssemblyAI's transcript id in the body.
    for _ in 0..2 {
        let res = s
            .client
            .post(s.url(&format!("/{bin}")))
            .header("x-github-delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")
            .body("{}")
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 503);
    }
    let body = r#"{"transcript_id":"5551722-f677","status":"completed"}"#;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let res = s
            .client
            .post(s.url(&format!("/{bin}/assemblyai")))
            .body(body)
            .send()
            .await
            .expect("send");
        statuses.push(res.status().as_u16());
        if statuses.len() == 1 {
            assert_eq!(res.text().await.expect("body"), "retry 5551722-f677");
        }
    }
    assert_eq!(statuses, [503, 503, 200]);

    // A request without an idempotency key is always a first arrival.
    for _ in 0..3 {
        let res = s
            .client
            .post(s.url(&format!("/{bin}")))
            .body("plain")
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 503);
    }

    // Every one was stored, each with the rule that answered it (or none).
    let all = s.requests(&bin).await;
    assert_eq!(all.len(), 3 + 1 + 2 + 3 + 3);
    let third = all
        .iter()
        .filter(|r| r["body_text"] == body)
        .min_by_key(|r| r["id"].as_i64())
        .expect("assemblyai");
    assert_eq!(third["rule"], "flaky");
    let passed: Vec<&Value> = all.iter().filter(|r| r["rule"].is_null()).collect();
    assert_eq!(
        passed.len(),
        2,
        "the third msg_1 and the third transcript passed"
    );
}

#[tokio::test]
async fn concurrent_arrivals_of_one_webhook_count_one_at_a_time() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    put_rules(
        &s,
        &bin,
        json!([{"name": "first-two", "attempts": "1-2", "response": {"status": 500}}]),
    )
    .await;
    let sends = (0..6).map(|_| {
        s.client
            .post(s.url(&format!("/{bin}")))
            .header("webhook-id", "msg_same")
            .body("{}")
            .send()
    });
    let mut statuses: Vec<u16> = futures_util::future::join_all(sends)
        .await
        .into_iter()
        .map(|r| r.expect("send").status().as_u16())
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 200, 200, 200, 500, 500]);
}

#[tokio::test]
async fn the_first_matching_rule_answers_with_its_templates() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (status, body) = put_rules(
        &s,
        &bin,
        json!([
            {"name": "never", "match": ["method=DELETE"], "response": {"status": 410}},
            {"name": "echo", "match": ["path=/jobs/*", "header.x-kind=job*", "!query.skip=1", "body~done"],
             "response": {"status": 202,
                          "headers": [["content-type", "text/html"], ["x-echo", "{{header.x-kind}}"]],
                          "body": "<b>{{request.id}} {{method}} {{path}} {{query.who}} {{json:/job/id}} {{json:/missing}}</b>"}},
            {"name": "fallback", "match": ["path=/jobs/**"], "response": {"status": 404, "body": "no"}}
        ]),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let res = s
        .client
        .put(s.url(&format!("/{bin}/jobs/7?who=a%20b")))
        .header("x-kind", "job-result")
        .body(r#"{"job":{"id":"j-9"},"state":"done"}"#)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 202);
    let id = common::request_id(&res);
    assert_eq!(res.headers()["x-echo"], "job-result");
    // Templates echo what the sender sent: never a page of this origin.
    assert_eq!(res.headers()["content-security-policy"], "sandbox");
    assert_eq!(
        res.text().await.expect("body"),
        format!("<b>{id} PUT /jobs/7 a b j-9 </b>")
    );
    assert_eq!(stored(&s, &bin, id).await["rule"], "echo");

    // Negated and deeper paths fall through to the next rule, then the bin.
    let res = s
        .client
        .put(s.url(&format!("/{bin}/jobs/7?skip=1")))
        .header("x-kind", "job")
        .body("done")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 404);
    let res = s
        .client
        .get(s.url(&format!("/{bin}/other")))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let id = common::request_id(&res);
    assert_eq!(stored(&s, &bin, id).await["rule"], Value::Null);
}

#[tokio::test]
async fn close_drops_the_connection_after_storing_the_request() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    put_rules(
        &s,
        &bin,
        json!([{"name": "drop", "match": ["path=/drop"], "action": "close"}]),
    )
    .await;
    let err = s
        .client
        .post(s.url(&format!("/{bin}/drop")))
        .body("payload")
        .send()
        .await
        .expect_err("no answer");
    assert!(
        !err.is_timeout(),
        "a dropped connection, not a timeout: {err:?}"
    );
    let all = s.requests(&bin).await;
    assert_eq!(all.len(), 1, "stored before the connection was dropped");
    assert_eq!(all[0]["rule"], "drop");
    assert_eq!(all[0]["body_text"], "payload");
    // The raw wire shows no status line at all.
    let raw = s
        .raw_open(
            format!("POST /{bin}/drop HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\nhi")
                .as_bytes(),
        )
        .await;
    assert_eq!(raw, "", "nothing written before the close");
    assert_eq!(s.requests(&bin).await.len(), 2);
}

#[tokio::test]
async fn hang_answers_nothing_until_the_sender_gives_up() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    put_rules(&s, &bin, json!([{"name": "slow", "action": "hang"}])).await;
    let started = std::time::Instant::now();
    let err = s
        .client
        .post(s.url(&format!("/{bin}/x")))
        .timeout(Duration::from_millis(700))
        .body("waiting")
        .send()
        .await
        .expect_err("no answer");
    assert!(err.is_timeout(), "{err:?}");
    assert!(started.elapsed() >= Duration::from_millis(700));
    let all = s.requests(&bin).await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["rule"], "slow");
    // A hanging capture does not hold up shutdown.
    s.stop().await;
}

#[tokio::test]
async fn aliases_capture_beside_the_uuid() {
    let s = TestServer::spawn().await;
    let res = s
        .client
        .post(s.url("/api/bins"))
        .json_body(&json!({"alias": "stripe-dev"}))
        .send()
        .await
        .expect("mint");
    assert_eq!(res.status(), 201);
    let minted = json(res).await;
    let bin = minted["id"].as_str().expect("id").to_owned();
    assert_eq!(minted["alias"], "stripe-dev");
    assert_eq!(minted["alias_url"], s.url("/stripe-dev"));

    let res = s
        .client
        .post(s.url("/stripe-dev/webhooks?x=1"))
        .body("via alias")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let via_alias = stored(&s, &bin, common::request_id(&res)).await;
    assert_eq!(via_alias["bin_id"], bin.as_str());
    assert_eq!(via_alias["path"], "/webhooks");
    assert_eq!(via_alias["query"], "x=1");
    let res = s
        .client
        .post(s.url(&format!("/{bin}")))
        .body("by id")
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200, "the UUID URL keeps working");

    // Taken, badly shaped, UUID-shaped and reserved aliases are refused.
    let mint = |alias: Value| {
        s.client
            .post(s.url("/api/bins"))
            .json_body(&json!({ "alias": alias }))
            .send()
    };
    assert_eq!(mint(json!("stripe-dev")).await.expect("mint").status(), 409);
    for bad in [
        "ab",
        "Stripe",
        "has space",
        "a_b",
        "api",
        "bins",
        "3f1c2a9e-0d4b-4c8e-9a7f-1b2c3d4e5f60",
    ] {
        let res = mint(json!(bad)).await.expect("mint");
        assert_eq!(res.status(), 400, "{bad}");
        assert!(
            json(res).await["error"]
                .as_str()
                .expect("error")
                .contains(bad),
            "{bad}"
        );
    }

    // Settable later: moved to another bin, the old name stops capturing.
    let other = s.new_bin().await;
    let set = |bin: String, alias: Value| {
        s.client
            .put(s.url(&format!("/api/bins/{bin}/alias")))
            .json_body(&json!({ "alias": alias }))
            .send()
    };
    assert_eq!(
        set(other.clone(), json!("stripe-dev"))
            .await
            .expect("set")
            .status(),
        409
    );
    assert_eq!(
        set(bin.clone(), json!(null)).await.expect("set").status(),
        200
    );
    assert_eq!(
        s.client
            .post(s.url("/stripe-dev"))
            .send()
            .await
            .expect("send")
            .status(),
        404
    );
    let res = set(other.clone(), json!("stripe-dev")).await.expect("set");
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await["alias"], "stripe-dev");
    let res = s
        .client
        .post(s.url("/stripe-dev"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let moved = stored(&s, &other, common::request_id(&res)).await;
    assert_eq!(moved["bin_id"], other.as_str());
    let view = s.get_json(&format!("/api/bins/{other}"), 200).await;
    assert_eq!(view["alias"], "stripe-dev");

    // Unknown aliases are unknown bins.
    let res = s
        .client
        .post(s.url("/no-such-alias"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn hookwire_new_mints_with_an_alias() {
    let s = TestServer::spawn().await;
    // Off the test's runtime thread: the server answers on it.
    let base = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(common::binary())
            .args(["new", "--server", &base, "--alias", "ci-runs"])
            .env_remove("HOOKWIRE_ACCESS_TOKEN")
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
    assert!(
        stdout.contains(&format!("alias:   {}", s.url("/ci-runs"))),
        "{stdout}"
    );
    let res = s
        .client
        .post(s.url("/ci-runs/x"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
}

/// Two replicas share one PostgreSQL database (whatever
/// store the rest of the suite runs on). Rules, responses and aliases set
/// through one replica answer captures on the other at once, although the
/// other had the bin cached.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_replica_answers_on_the_other() {
    let url = common::pg::database();
    let replica = |url: String| {
        TestServer::spawn_with(move |c| c.db = hookwire::server::config::Database::Postgres(url))
    };
    let a = replica(url.clone()).await;
    let b = replica(url).await;
    let bin = a.new_bin().await;
    // B caches the bin (and its lack of rules) with a first capture.
    let res = b
        .client
        .post(b.url(&format!("/{bin}")))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);

    let (status, _) = put_rules(
        &a,
        &bin,
        json!([{"name": "teapot", "response": {"status": 418}}]),
    )
    .await;
    assert_eq!(status, 200);
    let res = a
        .client
        .put(a.url(&format!("/api/bins/{bin}/alias")))
        .json_body(&json!({"alias": "shared-name"}))
        .send()
        .await
        .expect("alias");
    assert_eq!(res.status(), 200);
    // The change reaches B through a notification: wait for it, bounded.
    let status_on_b = || async {
        let res = b.client.post(b.url(&format!("/{bin}"))).send().await;
        res.expect("send").status().as_u16()
    };
    eventually("B answering with the rule set on A", || async {
        (status_on_b().await == 418).then_some(())
    })
    .await;
    let res = b
        .client
        .post(b.url("/shared-name"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 418, "the alias set on A captures on B");
    let id = common::request_id(&res);
    assert_eq!(stored(&a, &bin, id).await["rule"], "teapot");

    // Deleted on A: B no longer captures for it.
    let res = a
        .client
        .delete(a.url(&format!("/api/bins/{bin}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 204);
    eventually("B no longer capturing for the deleted bin", || async {
        (status_on_b().await == 404).then_some(())
    })
    .await;
}

/// Arrivals are counted from what is stored: a restart in the middle of a
/// sender's retries keeps its count, and a change of rules counts on.
#[tokio::test]
async fn a_restart_keeps_counting_a_webhooks_arrivals() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let rules = json!([{"name": "flaky", "attempts": "1-2", "response": {"status": 503}}]);
    put_rules(&s, &bin, rules.clone()).await;
    let send = |s: &TestServer| {
        s.client
            .post(s.url(&format!("/{bin}")))
            .header("webhook-id", "msg_restart")
            .body("{}")
            .send()
    };
    assert_eq!(send(&s).await.expect("send").status(), 503);
    let s = s.restart().await;
    assert_eq!(
        send(&s).await.expect("send").status(),
        503,
        "the second arrival"
    );
    // Setting the rules again reads the counts again: still the third.
    put_rules(&s, &bin, rules).await;
    assert_eq!(
        send(&s).await.expect("send").status(),
        200,
        "the third arrival"
    );
    assert_eq!(send(&s).await.expect("send").status(), 200);
    // Cleared: the webhook's arrivals start again from what is stored.
    let res = s
        .client
        .delete(s.url(&format!("/api/bins/{bin}/requests")))
        .send()
        .await
        .expect("clear");
    assert_eq!(res.status(), 200);
    assert_eq!(
        send(&s).await.expect("send").status(),
        503,
        "a first arrival again"
    );
}
