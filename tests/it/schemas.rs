//! Payload schemas on bins (SPEC §15): the API and its refusals, the
//! verdict each capture carries (pointers and messages, `null` when no
//! schema applies, the first matching schema wins), re-checks on change,
//! `schema=valid|invalid` in rules, `wait` and `tail`, and the inspector.
//! Runs on both stores (HOOKWIRE_TEST_STORE=postgres).

use crate::common;

use common::proc::Proc;
use common::{JsonBody, TestServer};
use serde_json::{Value, json};

/// Wait long enough for a slow machine, bounded so a miss fails.
const WAIT_TIMEOUT: &str = "20s";

fn order_schema() -> Value {
    json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "required": ["id", "status"],
        "properties": {
            "id": {"type": "string"},
            "status": {"enum": ["paid", "failed"]}
        }
    })
}

async fn put_schemas(s: &TestServer, bin: &str, body: &Value) -> (u16, Value) {
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/schemas")))
        .json_body(body)
        .send()
        .await
        .expect("put schemas");
    let status = res.status().as_u16();
    (status, common::json(res).await)
}

/// POSTs `body` to the bin at `path`; the stored request's id.
async fn post(s: &TestServer, bin: &str, path: &str, body: &str) -> i64 {
    let res = s
        .client
        .post(s.url(&format!("/{bin}{path}")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("capture");
    common::request_id(&res)
}

async fn stored(s: &TestServer, bin: &str, id: i64) -> Value {
    s.get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
        .await
}

#[tokio::test]
async fn schemas_round_trip_and_bad_ones_change_nothing() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let none = s.get_json(&format!("/api/bins/{bin}/schemas"), 200).await;
    assert_eq!(none, json!({"schemas": []}));

    let set = json!({"schemas": [{"match": ["path=/orders"], "schema": order_schema()}]});
    let (status, answer) = put_schemas(&s, &bin, &set).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["rechecked"], 0);
    assert_eq!(answer["schemas"], set["schemas"]);
    let read = s.get_json(&format!("/api/bins/{bin}/schemas"), 200).await;
    assert_eq!(read, set);

    for (bad, says) in [
        (
            json!({"schemas": [{"match": ["heder.x=1"], "schema": {}}]}),
            "schemas[0].match: condition \"heder.x=1\"",
        ),
        (
            json!({"schemas": [{"match": [], "schema": {"type": 12}}]}),
            "schemas[0].schema: not a valid JSON Schema",
        ),
        (
            json!({"schemas": [{"match": [], "schema": "object"}]}),
            "is not of types \"boolean\", \"object\"",
        ),
        (json!({"schema": []}), "\"schemas\" is a required property"),
        (
            json!({"schemas": [{"schema": {}, "extra": 1}]}),
            "Additional properties are not allowed",
        ),
    ] {
        let (status, answer) = put_schemas(&s, &bin, &bad).await;
        assert_eq!(status, 400, "{bad}: {answer}");
        let error = answer["error"].as_str().expect("error text");
        assert!(error.contains(says), "{bad}: {error}");
        let read = s.get_json(&format!("/api/bins/{bin}/schemas"), 200).await;
        assert_eq!(read, set, "a refused PUT changed the schemas");
    }
    let nowhere = "00000000-0000-4000-8000-000000000000";
    let (status, _) = put_schemas(&s, nowhere, &set).await;
    assert_eq!(status, 404);
    let doc = s.get_json("/api/openapi.json", 200).await;
    assert!(
        doc["paths"]["/api/bins/{bin_id}/schemas"]["put"].is_object(),
        "the OpenAPI document describes the route"
    );
}

#[tokio::test]
async fn captures_carry_the_first_matching_schemas_verdict() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let set = json!({"schemas": [
        {"match": ["path=/orders"], "schema": order_schema()},
        {"match": ["path=/orders"], "schema": false},
        {"match": ["path=/strict/**"], "schema": {"type": "array"}}
    ]});
    let (status, answer) = put_schemas(&s, &bin, &set).await;
    assert_eq!(status, 200, "{answer}");

    // Valid against the first schema: the second (which refuses all) is
    // never consulted.
    let ok = post(&s, &bin, "/orders", r#"{"id":"o_1","status":"paid"}"#).await;
    assert_eq!(
        stored(&s, &bin, ok).await["schema"],
        json!({"valid": true, "errors": []})
    );

    let bad = post(&s, &bin, "/orders", r#"{"id":7,"status":"lost"}"#).await;
    let verdict = stored(&s, &bin, bad).await["schema"].clone();
    assert_eq!(verdict["valid"], false, "{verdict}");
    let errors = verdict["errors"].as_array().expect("errors");
    let pointers: Vec<&str> = errors
        .iter()
        .map(|e| e["pointer"].as_str().expect("pointer"))
        .collect();
    assert!(
        pointers.contains(&"/id") && pointers.contains(&"/status"),
        "{verdict}"
    );
    let status_error = errors
        .iter()
        .find(|e| e["pointer"] == "/status")
        .expect("a /status error");
    assert!(
        status_error["message"]
            .as_str()
            .is_some_and(|m| m.contains("lost")),
        "{status_error}"
    );

    let missing = post(&s, &bin, "/orders", r#"{"status":"paid"}"#).await;
    let verdict = stored(&s, &bin, missing).await["schema"].clone();
    assert_eq!(verdict["errors"][0]["pointer"], "", "{verdict}");
    assert!(
        verdict["errors"][0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("\"id\"")),
        "{verdict}"
    );

    let not_json = post(&s, &bin, "/strict/x", "a=1").await;
    let verdict = stored(&s, &bin, not_json).await["schema"].clone();
    assert_eq!(
        verdict,
        json!({"valid": false, "errors": [{"pointer": "", "message": "the body is not JSON"}]})
    );

    // No schema's match holds: null.
    let other = post(&s, &bin, "/elsewhere", r#"{"id":"o_1"}"#).await;
    assert_eq!(stored(&s, &bin, other).await["schema"], Value::Null);
    // The listing and the export carry it too.
    let listed = s.requests(&bin).await;
    let by_id = |id: i64| {
        listed
            .iter()
            .find(|r| r["id"] == id)
            .expect("listed")
            .clone()
    };
    assert_eq!(by_id(bad)["schema"]["valid"], false);
    assert_eq!(by_id(other)["schema"], Value::Null);
}

#[tokio::test]
async fn a_schema_change_rechecks_stored_requests() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let a = post(&s, &bin, "/orders", r#"{"id":"o_1","status":"paid"}"#).await;
    let b = post(&s, &bin, "/orders", r#"{"id":"o_2","status":"lost"}"#).await;
    assert_eq!(stored(&s, &bin, a).await["schema"], Value::Null);

    let set = json!({"schemas": [{"match": [], "schema": order_schema()}]});
    let (status, answer) = put_schemas(&s, &bin, &set).await;
    assert_eq!((status, &answer["rechecked"]), (200, &json!(2)), "{answer}");
    assert_eq!(stored(&s, &bin, a).await["schema"]["valid"], true);
    assert_eq!(stored(&s, &bin, b).await["schema"]["valid"], false);

    // Loosened: both valid now; removed: both null again.
    let loose = json!({"schemas": [{"match": [], "schema": {"type": "object"}}]});
    let (status, _) = put_schemas(&s, &bin, &loose).await;
    assert_eq!(status, 200);
    assert_eq!(stored(&s, &bin, b).await["schema"]["valid"], true);
    let (status, answer) = put_schemas(&s, &bin, &json!({"schemas": []})).await;
    assert_eq!((status, &answer["rechecked"]), (200, &json!(2)));
    assert_eq!(stored(&s, &bin, b).await["schema"], Value::Null);
}

#[tokio::test]
async fn rules_see_the_verdict() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (status, _) = put_schemas(
        &s,
        &bin,
        &json!({"schemas": [{"match": [], "schema": order_schema()}]}),
    )
    .await;
    assert_eq!(status, 200);
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/rules")))
        .json_body(
            &json!({"rules": [{"name": "reject", "match": ["schema=invalid"],
            "response": {"status": 422, "headers": [], "body": "bad payload", "delay_ms": 0}}]}),
        )
        .send()
        .await
        .expect("rules");
    assert_eq!(res.status(), 200);
    let send = |body: &'static str| {
        s.client
            .post(s.url(&format!("/{bin}")))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    assert_eq!(
        send(r#"{"id":"o","status":"lost"}"#)
            .await
            .expect("bad")
            .status(),
        422
    );
    assert_eq!(
        send(r#"{"id":"o","status":"paid"}"#)
            .await
            .expect("ok")
            .status(),
        200
    );
}

#[tokio::test]
async fn wait_and_tail_filter_on_schema_invalid() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (status, _) = put_schemas(
        &s,
        &bin,
        &json!({"schemas": [{"match": ["path=/orders"], "schema": order_schema()}]}),
    )
    .await;
    assert_eq!(status, 200);
    let url = format!("{}/{bin}", s.base);
    let mut wait = Proc::start(&[
        "wait",
        &url,
        "--json",
        "--match",
        "schema=invalid",
        "--timeout",
        WAIT_TIMEOUT,
    ]);
    let mut tail = Proc::start(&[
        "tail",
        &url,
        "--json",
        "--after",
        "0",
        "--match",
        "schema=invalid",
    ]);
    // Valid, and no schema at all (neither valid nor invalid): both skipped.
    post(&s, &bin, "/orders", r#"{"id":"o_1","status":"paid"}"#).await;
    post(&s, &bin, "/other", r#"{"id":1}"#).await;
    let bad = post(&s, &bin, "/orders", r#"{"id":"o_2","status":"lost"}"#).await;
    let got = wait.finish().await.one_json_line();
    assert_eq!(got["id"], bad, "{got}");
    assert_eq!(got["schema"]["errors"][0]["pointer"], "/status");
    let lines = tail.lines(1).await;
    let first: Value = serde_json::from_str(&lines[0]).expect("tail JSON");
    assert_eq!(first["id"], bad);
    tail.stop().await;
    assert_eq!(tail.stdout().len(), 1, "{:?}", tail.stdout());

    let bad_condition = Proc::start(&["wait", &url, "--match", "schema=maybe"])
        .finish()
        .await;
    assert!(
        bad_condition
            .stderr_text()
            .contains("schema= is valid or invalid, e.g. schema=invalid"),
        "{bad_condition:#?}"
    );
}

#[tokio::test]
async fn the_inspector_shows_the_verdict_with_its_errors() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (status, _) = put_schemas(
        &s,
        &bin,
        &json!({"schemas": [{"match": [], "schema": {
            "type": "object",
            "properties": {"status": {"const": "<paid>"}}
        }}]}),
    )
    .await;
    assert_eq!(status, 200);
    let bad = post(&s, &bin, "/", r#"{"status":"<script>x</script>"}"#).await;
    let good = post(&s, &bin, "/", r#"{"status":"<paid>"}"#).await;
    let page = |id: i64| {
        let url = s.url(&format!("/bins/{bin}?r={id}"));
        let client = s.client.clone();
        async move {
            let res = client.get(url).send().await.expect("page");
            assert_eq!(res.status(), 200);
            res.text().await.expect("html")
        }
    };
    let html = page(bad).await;
    assert!(html.contains("<th>Schema</th>"), "{html}");
    assert!(html.contains("<code>/status</code>"), "{html}");
    assert!(html.contains("&#10007; schema"), "the list badge: {html}");
    // The message quotes the schema's `<paid>`: escaped, as is the body.
    assert!(
        html.contains("<code>/status</code> &#34;&#60;paid&#62;&#34; was expected"),
        "{html}"
    );
    assert!(
        !html.contains("<paid>") && !html.contains("<script>x"),
        "unescaped: {html}"
    );
    let html = page(good).await;
    assert!(html.contains("&#10003; schema"), "{html}");
}

#[tokio::test]
async fn hookwire_schema_loads_into_a_bin_and_sends_events_pass() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let printed = Proc::start(&["schema", "--as", "edenai"]).finish().await;
    assert_eq!(printed.code(), Some(0), "{printed:#?}");
    let schema: Value =
        serde_json::from_str(&printed.stdout.join("\n")).expect("schema prints JSON");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    let (status, answer) = put_schemas(
        &s,
        &bin,
        &json!({"schemas": [{"match": ["path=/hooks/eden"], "schema": schema}]}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    let to = format!("{}/{bin}/hooks/eden", s.base);
    for event in ["success", "fail"] {
        let sent = Proc::start(&["send", "--to", &to, "--as", "edenai", "--event", event])
            .finish()
            .await;
        assert_eq!(sent.code(), Some(0), "{sent:#?}");
    }
    // A payload of another shape, sent with --data, fails.
    let sent = Proc::start(&[
        "send",
        "--to",
        &to,
        "--as",
        "edenai",
        "--data",
        r#"{"job_id":1}"#,
    ])
    .finish()
    .await;
    assert_eq!(sent.code(), Some(0), "{sent:#?}");
    let mut verdicts: Vec<Value> = s
        .requests(&bin)
        .await
        .iter()
        .map(|r| r["schema"]["valid"].clone())
        .collect();
    verdicts.reverse();
    assert_eq!(verdicts, [json!(true), json!(true), json!(false)]);

    let refused = Proc::start(&["schema", "--as", "edenai", "--event", "nope"])
        .finish()
        .await;
    assert_ne!(refused.code(), Some(0));
    assert!(
        refused
            .stderr_text()
            .contains("its events are success, fail"),
        "{refused:#?}"
    );
}

/// PostgreSQL: schemas set through one replica apply to captures on
/// another (its cached bin is dropped by the bin-changed notification).
/// SQLite has one server per database: nothing to propagate there.
#[tokio::test]
async fn schemas_reach_other_replicas() {
    if !common::pg::wanted() {
        return;
    }
    let a = TestServer::spawn().await;
    let db = a.config.db.clone();
    let b = TestServer::spawn_with(|c| c.db = db).await;
    let bin = a.new_bin().await;
    // B caches the bin without schemas.
    let first = post(&b, &bin, "/orders", r#"{"id":"o","status":"lost"}"#).await;
    assert_eq!(stored(&b, &bin, first).await["schema"], Value::Null);
    let (status, _) = put_schemas(
        &a,
        &bin,
        &json!({"schemas": [{"match": [], "schema": order_schema()}]}),
    )
    .await;
    assert_eq!(status, 200);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let id = post(&b, &bin, "/orders", r#"{"id":"o","status":"lost"}"#).await;
        if stored(&b, &bin, id).await["schema"]["valid"] == false {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "replica B never applied the schema set on A"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn the_request_list_filters_on_the_verdict() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (status, _) = put_schemas(
        &s,
        &bin,
        &json!({"schemas": [{"match": ["path=/orders"], "schema": order_schema()}]}),
    )
    .await;
    assert_eq!(status, 200);
    let good = post(&s, &bin, "/orders", r#"{"id":"o_1","status":"paid"}"#).await;
    let bad = post(&s, &bin, "/orders", r#"{"id":"o_2","status":"lost"}"#).await;
    let none = post(&s, &bin, "/other", r#"{"id":"o_3","status":"lost"}"#).await;
    let s = &s;
    let bin = bin.as_str();
    let list = async |query: &str| -> Vec<i64> {
        let v = s
            .get_json(&format!("/api/bins/{bin}/requests?{query}"), 200)
            .await;
        v["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .map(|r| r["id"].as_i64().expect("id"))
            .collect()
    };
    assert_eq!(list("schema=invalid").await, [bad]);
    assert_eq!(list("schema=valid").await, [good]);
    // With text search (indexed or not yet) and a method.
    assert_eq!(list("schema=invalid&q=lost").await, [bad]);
    assert_eq!(list("schema=invalid&q=lost&method=post").await, [bad]);
    assert_eq!(list("q=lost").await, [none, bad]);
    let res = s
        .client
        .get(s.url(&format!("/api/bins/{bin}/requests?schema=maybe")))
        .send()
        .await
        .expect("list");
    assert_eq!(res.status(), 400);
    let error = common::json(res).await;
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("use schema=valid or schema=invalid")),
        "{error}"
    );
}
