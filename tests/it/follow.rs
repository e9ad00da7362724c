//! `hookwire tail`, `hookwire wait` and `hookwire resend` as the
//! real binary against the real server: waiting for the first matching
//! request (never missing one sent as `wait` starts), following a bin in
//! arrival order (bursts, filters, a server restart), resending a captured
//! request byte for byte to a real local app, the access token, and the
//! exit statuses and messages of every failure.

use crate::common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::proc::{Done, Proc};
use common::tunnel::{Answer, HOP_BY_HOP, LocalApp, Seen, WAIT};
use common::{JsonBody as _, TestServer};
use hookwire::core::secret::Secret;
use serde_json::{Value, json};
use tokio::sync::oneshot;

const TOKEN: &str = "follow-team-token";

/// `wait --timeout` for runs that expect a match: a miss fails in bounded
/// time (exit 1) instead of hanging.
const WAIT_TIMEOUT: &str = "5s";

/// Waits until a `tail` line with `#id` is on stdout.
async fn line_with_id(p: &Proc, id: i64) {
    let deadline = Instant::now() + WAIT;
    while !p.stdout().iter().any(|l| line_id(l) == id) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for the line of request {id}; stdout: {:#?}\nstderr: {:#?}",
            p.stdout(),
            p.stderr()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

// ---------------------------------------------------------------------------
// Captures and the API
// ---------------------------------------------------------------------------

fn capture_url(base: &str, bin: &str) -> String {
    format!("{base}/{bin}")
}

/// Captures a request; returns the capture's status and the stored id.
async fn capture_at(
    client: &reqwest::Client,
    base: &str,
    bin: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, i64) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = client.request(method, format!("{base}/{bin}{target}"));
    for (n, v) in headers {
        req = req.header(*n, *v);
    }
    let res = req.body(body).send().await.expect("capture");
    (res.status().as_u16(), common::request_id(&res))
}

/// Captures a request the bin answers itself (200); returns its id.
async fn capture(
    s: &TestServer,
    bin: &str,
    method: &str,
    target: &str,
    body: impl Into<reqwest::Body>,
) -> i64 {
    let (status, id) = capture_at(&s.client, &s.base, bin, method, target, &[], body).await;
    assert_eq!(status, 200, "{method} {target}");
    id
}

/// POSTs a JSON body to the bare capture URL; returns the stored id.
async fn post_json(s: &TestServer, bin: &str, body: &Value) -> i64 {
    capture(s, bin, "POST", "", body.to_string()).await
}

/// The API's request object.
async fn stored(s: &TestServer, bin: &str, id: i64) -> Value {
    s.get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
        .await
}

/// `#ID` of a `tail` line.
fn line_id(line: &str) -> i64 {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix('#'))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no #ID in tail line {line:?}"))
}

/// The `tail` line for an API request object.
fn expected_line(r: &Value) -> String {
    let query = r["query"].as_str().expect("query");
    let target = if query.is_empty() {
        r["path"].as_str().expect("path").to_owned()
    } else {
        format!("{}?{query}", r["path"].as_str().expect("path"))
    };
    let mut line = format!(
        "{} #{} {} {target} {} B",
        r["received_at"].as_str().expect("received_at"),
        r["id"],
        r["method"].as_str().expect("method"),
        r["body_size"],
    );
    if r["signature"]["verified"] == true {
        line.push_str(&format!(
            " signature: {} verified",
            r["signature"]["scheme"].as_str().expect("scheme")
        ));
    }
    if let Some(rule) = r["rule"].as_str() {
        line.push_str(&format!(" rule: {rule}"));
    }
    line
}

/// A server with an access token, and a bin minted with it.
async fn team_server() -> (TestServer, String) {
    let s = TestServer::spawn_with(|c| c.access_token = Some(Secret::new(TOKEN))).await;
    let res = s
        .client
        .post(s.url("/api/bins"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("mint");
    assert_eq!(res.status(), 201);
    let bin = common::json(res).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    (s, bin)
}

// ---------------------------------------------------------------------------
// wait
// ---------------------------------------------------------------------------

/// `wait` and `tail` count requests from their process's start, which
/// Linux gives in 10 ms clock ticks: a request that arrived up to 20 ms
/// before may count (README). This puts a request clearly before the start
/// — it orders two events in time, it does not wait for anything.
async fn clearly_before() {
    tokio::time::sleep(Duration::from_millis(50)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_prints_the_request_that_arrives_as_one_json_line() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let mut wait = Proc::start(&["wait", &url, "--timeout", WAIT_TIMEOUT]);
    let id = capture(
        &s,
        &bin,
        "POST",
        "/jobs/1?state=done",
        r#"{"job_id":"abc"}"#,
    )
    .await;
    let done = wait.finish().await;
    let got = done.one_json_line();
    assert_eq!(got["id"], id, "{done:#?}");
    assert_eq!(got["body_text"], r#"{"job_id":"abc"}"#);
    assert_eq!(got, stored(&s, &bin, id).await, "the API's request object");

    // --json: the same one line; a body that is not UTF-8 comes as base64.
    let mut wait = Proc::start(&[
        "wait",
        &url,
        "--json",
        "--match",
        "path=/second",
        "--timeout",
        WAIT_TIMEOUT,
    ]);
    let id = capture(&s, &bin, "PUT", "/second", vec![0u8, 0xff]).await;
    let got = wait.finish().await.one_json_line();
    assert_eq!(got, stored(&s, &bin, id).await);
    assert_eq!(
        (&got["body_base64"], &got["body_text"]),
        (&json!("AP8="), &Value::Null)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_skips_requests_that_do_not_match() {
    let s = TestServer::spawn().await;
    // A bin per case: only what arrives after each wait starts is there.
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);

    // A JSON value: other job ids, a prefix of it, a non-JSON body saying it.
    let mut wait = Proc::start(&[
        "wait",
        &url,
        "--match",
        "json:/job_id=abc",
        "--timeout",
        WAIT_TIMEOUT,
    ]);
    post_json(&s, &bin, &json!({"job_id": "xyz"})).await;
    post_json(&s, &bin, &json!({"job_id": "abcd"})).await;
    post_json(&s, &bin, &json!({"job": {"job_id": "abc"}})).await;
    capture(&s, &bin, "POST", "", "job_id=abc").await;
    let want = post_json(&s, &bin, &json!({"job_id": "abc", "n": 1})).await;
    post_json(&s, &bin, &json!({"job_id": "abc", "n": 2})).await;
    let got = wait.finish().await.one_json_line();
    assert_eq!(got["id"], want, "json:/job_id=abc: the first abc job");

    // A method.
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let mut wait = Proc::start(&[
        "wait",
        &url,
        "--match",
        "method=PUT",
        "--timeout",
        WAIT_TIMEOUT,
    ]);
    for m in ["POST", "GET", "DELETE", "PATCH"] {
        capture(&s, &bin, m, "/m", "x").await;
    }
    let want = capture(&s, &bin, "PUT", "/m", "put").await;
    let got = wait.finish().await.one_json_line();
    assert_eq!((&got["id"], &got["method"]), (&json!(want), &json!("PUT")));

    // Negations, with all conditions having to hold.
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let mut wait = Proc::start(&[
        "wait",
        &url,
        "--match",
        "!json:/status=pending",
        "--match",
        "method=POST",
        "--match",
        "!query.test=*",
        "--timeout",
        WAIT_TIMEOUT,
    ]);
    post_json(&s, &bin, &json!({"status": "pending"})).await;
    capture(&s, &bin, "POST", "?test=1", r#"{"status":"done"}"#).await;
    capture(&s, &bin, "PUT", "", r#"{"status":"done"}"#).await;
    post_json(&s, &bin, &json!({"status": "pending"})).await;
    let want = post_json(&s, &bin, &json!({"status": "done"})).await;
    let got = wait.finish().await.one_json_line();
    assert_eq!(got["id"], want, "the first POST not pending, not a test");
    assert_eq!(got["body_text"], r#"{"status":"done"}"#);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_ignores_requests_stored_before_it_started() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let old = post_json(&s, &bin, &json!({"job_id": "abc", "old": true})).await;
    clearly_before().await;
    let mut wait = Proc::start(&[
        "wait",
        &url,
        "--match",
        "json:/job_id=abc",
        "--timeout",
        WAIT_TIMEOUT,
    ]);
    let new = post_json(&s, &bin, &json!({"job_id": "abc", "old": false})).await;
    let got = wait.finish().await.one_json_line();
    assert_eq!(
        got["id"], new,
        "not request {old}, stored before wait started"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_after_an_id_counts_requests_already_stored() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let a = post_json(&s, &bin, &json!({"n": 1})).await;
    let b = post_json(&s, &bin, &json!({"n": 2})).await;
    let c = post_json(&s, &bin, &json!({"n": 3})).await;

    let mut wait = Proc::start(&["wait", &url, "--after", &a.to_string(), "--timeout", "2s"]);
    let done = wait.finish().await;
    assert_eq!(done.one_json_line()["id"], b, "the first one after {a}");

    let mut wait = Proc::start(&[
        "wait",
        &url,
        "--after",
        &a.to_string(),
        "--match",
        "json:/n=3",
        "--timeout",
        "2s",
    ]);
    let done = wait.finish().await;
    assert_eq!(done.one_json_line()["id"], c);

    // After the newest: waits for the next one.
    let mut wait = Proc::start(&[
        "wait",
        &url,
        "--after",
        &c.to_string(),
        "--timeout",
        WAIT_TIMEOUT,
    ]);
    let d = post_json(&s, &bin, &json!({"n": 4})).await;
    assert_eq!(wait.finish().await.one_json_line()["id"], d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_times_out_with_exit_1() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let mut wait = Proc::start(&["wait", &url, "--match", "method=PUT", "--timeout", "300ms"]);
    capture(&s, &bin, "POST", "/not-a-put", "x").await;
    let done = wait.finish().await;
    assert_eq!(done.code(), Some(1), "timeout exits 1: {done:#?}");
    assert!(done.stdout.is_empty(), "nothing on stdout: {done:#?}");
    assert!(
        !done.stderr_text().trim().is_empty(),
        "a message on stderr: {done:#?}"
    );
    assert!(
        done.took >= Duration::from_millis(300) && done.took < Duration::from_secs(5),
        "gives up after 300 ms, quickly: {:?}",
        done.took
    );
}

/// THE RACE: the matching request is sent right after the process is
/// spawned, before `wait` can have subscribed (or by a hair after): it must
/// never be missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_never_misses_a_request_sent_as_it_starts() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let mut failures = Vec::new();
    for run in 0..20u32 {
        let cond = format!("json:/run={run}");
        let mut wait = Proc::start(&["wait", &url, "--match", &cond, "--timeout", WAIT_TIMEOUT]);
        if run % 2 == 1 {
            // `wait` gets a head start of a hair (1 to 16 ms): jitter to land
            // the request at other points of its start, not synchronisation.
            let hair = Duration::from_millis(1 << ((run / 2) % 5));
            tokio::time::sleep(hair).await;
        }
        let id = post_json(&s, &bin, &json!({ "run": run })).await;
        let done = wait.finish().await;
        let ok = done.code() == Some(0)
            && done.stdout.len() == 1
            && serde_json::from_str::<Value>(&done.stdout[0]).is_ok_and(|v| v["id"] == id);
        if !ok {
            failures.push(format!("run {run} (request {id}): {done:#?}"));
            if failures.len() >= 3 {
                break;
            }
        }
    }
    assert!(
        failures.is_empty(),
        "wait missed the request sent as it started:\n{}",
        failures.join("\n")
    );
}

// ---------------------------------------------------------------------------
// Errors and the access token
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_bins_and_bad_matches_are_usage_errors() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let unknown = uuid::Uuid::new_v4().to_string();
    let nowhere = capture_url(&s.base, &unknown);
    let url = capture_url(&s.base, &bin);

    for cmd in ["wait", "tail"] {
        let mut p = Proc::start(&[cmd, &nowhere]);
        p.finish()
            .await
            .usage_error(&format!("{cmd} on an unknown bin"), &["bin"]);
        // --after skips looking for where "now" is, not the bin check.
        let mut p = Proc::start(&[cmd, &nowhere, "--after", "0"]);
        p.finish()
            .await
            .usage_error(&format!("{cmd} --after 0 on an unknown bin"), &["bin"]);

        let mut p = Proc::start(&[cmd, &url, "--match", "heder.x=1"]);
        p.finish().await.usage_error(
            &format!("{cmd} --match heder.x=1"),
            &["heder.x=1", "method=", "json:/"],
        );
        let mut p = Proc::start(&[cmd, &url, "--match", "json:type=x"]);
        p.finish().await.usage_error(
            &format!("{cmd} --match json:type=x"),
            &["json:type=x", "\"/\""],
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_and_tail_need_the_access_token_from_the_flag_or_the_environment() {
    let (s, bin) = team_server().await;
    let url = capture_url(&s.base, &bin);

    let mut p = Proc::start(&["wait", &url, "--timeout", WAIT_TIMEOUT]);
    p.finish().await.token_error("wait without the token");
    let mut p = Proc::start(&["tail", &url, "--after", "0"]);
    p.finish()
        .await
        .token_error("tail --after without the token");
    let mut p = Proc::start(&[
        "wait",
        &url,
        "--timeout",
        WAIT_TIMEOUT,
        "--access-token",
        "wrong",
    ]);
    p.finish().await.token_error("wait with a wrong token");
    let mut p = Proc::start(&["tail", &url]);
    p.finish().await.token_error("tail without the token");

    // The flag. Each run waits for its own path: the requests of the runs
    // before do not count.
    let mut wait = Proc::start(&[
        "wait",
        &url,
        "--match",
        "path=/flag",
        "--timeout",
        WAIT_TIMEOUT,
        "--access-token",
        TOKEN,
    ]);
    let id = capture(&s, &bin, "POST", "/flag", "x").await;
    assert_eq!(wait.finish().await.one_json_line()["id"], id);
    // The environment.
    let mut wait = Proc::start_env(
        &[
            "wait",
            &url,
            "--match",
            "path=/env",
            "--timeout",
            WAIT_TIMEOUT,
        ],
        &[("HOOKWIRE_ACCESS_TOKEN", TOKEN)],
    );
    let id = capture(&s, &bin, "POST", "/env", "x").await;
    assert_eq!(wait.finish().await.one_json_line()["id"], id);

    for env in [false, true] {
        let path = format!("/tail-{env}");
        let only = format!("path={path}");
        let mut tail = if env {
            Proc::start_env(
                &["tail", &url, "--match", &only],
                &[("HOOKWIRE_ACCESS_TOKEN", TOKEN)],
            )
        } else {
            Proc::start(&["tail", &url, "--match", &only, "--access-token", TOKEN])
        };
        let id = capture(&s, &bin, "POST", &path, "x").await;
        let lines = tail.lines(1).await;
        assert_eq!(line_id(&lines[0]), id, "tail with the token (env: {env})");
        tail.stop().await;
    }
}

// ---------------------------------------------------------------------------
// tail
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_a_line_per_request_in_arrival_order() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/rules")))
        .json_body(&json!({"rules": [
            {"name": "teapot", "match": ["path=/teapot"], "response": {"status": 418, "body": "short"}}
        ]}))
        .send()
        .await
        .expect("put rules");
    assert_eq!(res.status(), 200);
    let secret = "whsec_follow";
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/secrets")))
        .json_body(&json!({ "stripe": secret }))
        .send()
        .await
        .expect("put secrets");
    assert_eq!(res.status(), 200);
    let before = capture(&s, &bin, "POST", "/before", "stored before tail").await;
    clearly_before().await;
    let mut tail = Proc::start(&["tail", &url]);
    let mut ids = vec![
        capture(&s, &bin, "POST", "/path?q=1", "0123456789").await,
        capture(&s, &bin, "GET", "", "").await,
        capture(&s, &bin, "PUT", "/a/b/c?x=1&y=a%20b", vec![0u8, 255, 1]).await,
        capture(&s, &bin, "DELETE", "/", "").await,
    ];
    let (status, id) = capture_at(&s.client, &s.base, &bin, "POST", "/teapot", &[], "t").await;
    assert_eq!(status, 418);
    ids.push(id);
    let body = r#"{"id":"evt_1","object":"event","type":"charge.refunded"}"#;
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs()
        .to_string();
    let sig = hex::encode(hookwire::core::verify::hmac_sha256(
        secret.as_bytes(),
        &[t.as_bytes(), b".", body.as_bytes()],
    ));
    let header = format!("t={t},v1={sig}");
    let (status, id) = capture_at(
        &s.client,
        &s.base,
        &bin,
        "POST",
        "/stripe",
        &[("stripe-signature", &header)],
        body,
    )
    .await;
    assert_eq!(status, 200);
    ids.push(id);

    let last = *ids.last().expect("ids");
    line_with_id(&tail, last).await;
    let done = tail.stop().await;
    // The format and the order first, then that nothing else was printed.
    let printed: Vec<&String> = done
        .stdout
        .iter()
        .filter(|l| ids.contains(&line_id(l)))
        .collect();
    assert_eq!(printed.len(), ids.len(), "one line each: {done:#?}");
    for (line, id) in printed.iter().zip(&ids) {
        let r = stored(&s, &bin, *id).await;
        assert_eq!(*line, &expected_line(&r), "request {id}, in arrival order");
    }
    assert!(printed[0].contains(&format!("#{} POST /path?q=1 10 B", ids[0])));
    assert!(printed[4].ends_with(" rule: teapot"), "{}", printed[4]);
    assert!(
        printed[5].ends_with(" signature: stripe verified"),
        "{}",
        printed[5]
    );
    assert_eq!(
        done.stdout.len(),
        ids.len(),
        "nothing else: not request {before}, stored before tail started: {done:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_json_prints_the_api_object_per_line_and_after_catches_up() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let first = post_json(&s, &bin, &json!({"n": 0})).await;
    let second = post_json(&s, &bin, &json!({"n": 1})).await;

    let mut tail = Proc::start(&["tail", &url, "--json", "--after", &first.to_string()]);
    let mut ids = vec![second];
    ids.push(capture(&s, &bin, "PATCH", "/p?z=9", vec![0xffu8, 0, 0xfe]).await);
    ids.push(post_json(&s, &bin, &json!({"n": 2})).await);
    let lines = tail.lines(ids.len()).await;
    let done = tail.stop().await;
    assert_eq!(done.stdout.len(), ids.len(), "{done:#?}");
    for (line, id) in lines.iter().zip(&ids) {
        let v: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("not one JSON object per line ({e}): {line}"));
        assert_eq!(v["id"], *id);
        assert_eq!(v, stored(&s, &bin, *id).await, "the API's object");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_match_prints_only_what_meets_every_condition() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let mut tail = Proc::start(&[
        "tail",
        &url,
        "--match",
        "method=POST",
        "--match",
        "!header.x-noise=*",
        "--match",
        "path=/jobs/*",
    ]);
    let mut want = Vec::new();
    want.push(capture(&s, &bin, "POST", "/jobs/1", "a").await);
    capture(&s, &bin, "PUT", "/jobs/2", "b").await;
    let (status, _) = capture_at(
        &s.client,
        &s.base,
        &bin,
        "POST",
        "/jobs/3",
        &[("x-noise", "1")],
        "c",
    )
    .await;
    assert_eq!(status, 200);
    capture(&s, &bin, "POST", "/jobs/4/deeper", "d").await;
    capture(&s, &bin, "GET", "/jobs/5", "").await;
    want.push(capture(&s, &bin, "POST", "/jobs/6?x=1", "e").await);
    capture(&s, &bin, "POST", "/other", "f").await;
    // The last one matches: once it is printed, every earlier one was seen.
    want.push(capture(&s, &bin, "POST", "/jobs/7", "g").await);
    tail.lines(want.len()).await;
    let done = tail.stop_with("TERM").await;
    let got: Vec<i64> = done.stdout.iter().map(|l| line_id(l)).collect();
    assert_eq!(got, want, "{done:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_prints_a_burst_of_50_in_order_exactly_once() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let before = post_json(&s, &bin, &json!({"n": "before"})).await;
    let mut tail = Proc::start(&["tail", &url, "--json", "--after", &before.to_string()]);
    let mut senders = tokio::task::JoinSet::new();
    for n in 0..50 {
        let (client, base, bin) = (s.client.clone(), s.base.clone(), bin.clone());
        senders.spawn(async move {
            let body = json!({ "n": n }).to_string();
            let (status, id) = capture_at(&client, &base, &bin, "POST", "/burst", &[], body).await;
            assert_eq!(status, 200);
            id
        });
    }
    let mut sent: Vec<i64> = senders.join_all().await;
    sent.sort_unstable();
    // One more after the burst: once it is printed, the burst is complete.
    let last = post_json(&s, &bin, &json!({"n": "last"})).await;
    sent.push(last);

    tail.lines(sent.len()).await;
    let done = tail.stop().await;
    let got: Vec<i64> = done
        .stdout
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))["id"]
                .as_i64()
                .expect("id")
        })
        .collect();
    assert_eq!(
        got, sent,
        "all 50 in arrival order, none missing, none twice"
    );
}

/// The server as `TestServer::restart` makes it, but on the same address:
/// a running `tail` keeps its URL.
struct SamePortServer {
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    _dir: Arc<tempfile::TempDir>,
}

impl SamePortServer {
    async fn restart(mut s: TestServer) -> Self {
        let (config, dir) = (s.config.clone(), s.dir.clone());
        // The same socket, so that no other test's connection can take the
        // port while the server is down.
        let listener = s.take_socket();
        s.stop().await;
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(hookwire::server::http::serve(listener, config, async {
            let _ = rx.await;
        }));
        Self {
            shutdown: Some(tx),
            task: Some(task),
            _dir: dir,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.await.expect("server task").expect("server result");
        }
    }
}

impl Drop for SamePortServer {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_survives_a_server_restart_without_gaps_or_repeats() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    // No pooled connections: one kept from before the restart would be dead.
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .expect("client");
    let base = s.base.clone();
    let url = capture_url(&base, &bin);
    let post = |n: u32| {
        let (client, base, bin) = (client.clone(), base.clone(), bin.clone());
        async move {
            let body = json!({ "n": n }).to_string();
            let (status, id) = capture_at(&client, &base, &bin, "POST", "/r", &[], body).await;
            assert_eq!(status, 200);
            id
        }
    };
    let before = post(0).await;
    let mut tail = Proc::start(&["tail", &url, "--json", "--after", &before.to_string()]);
    let mut sent = Vec::new();
    for n in 1..=3 {
        sent.push(post(n).await);
    }
    tail.lines(sent.len()).await;

    let server = SamePortServer::restart(s).await;
    // Right away: some of these land before tail is back (it catches up).
    for n in 4..=6 {
        sent.push(post(n).await);
    }
    tail.lines(sent.len()).await;
    sent.push(post(7).await);
    tail.lines(sent.len()).await;
    let done = tail.stop().await;
    let got: Vec<i64> = done
        .stdout
        .iter()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"))["id"]
                .as_i64()
                .expect("id")
        })
        .collect();
    assert_eq!(
        got, sent,
        "every request once, in order, across the restart; stderr: {:#?}",
        done.stderr
    );
    server.stop().await;
}

// ---------------------------------------------------------------------------
// resend
// ---------------------------------------------------------------------------

/// Every byte value, runs of 0x00 and 0xff, CRLFs and broken UTF-8.
fn binary_body() -> Vec<u8> {
    let mut body: Vec<u8> = (0..=255u8).collect();
    body.extend(std::iter::repeat_n(0u8, 300));
    body.extend(std::iter::repeat_n(0xffu8, 300));
    body.extend_from_slice(b"\r\n\r\n\xc3\x28\xed\xa0\x80 end");
    body
}

/// Captures a PUT with a binary body, a sub-path and query, custom and
/// hop-by-hop headers, written by hand; returns its id.
async fn capture_binary_put(s: &TestServer, bin: &str, body: &[u8]) -> i64 {
    let mut raw = format!(
        "PUT /{bin}/sub/path?x=1&y=a%20b HTTP/1.1\r\nHost: example.test\r\n\
         Connection: close\r\nKeep-Alive: timeout=5\r\nTE: trailers\r\n\
         Content-Type: application/octet-stream\r\nX-Dup: 1\r\nX-Webhook-Auth: s3cr3t\r\n\
         X-Dup: 2\r\nX-Mixed-Case: Value\r\nContent-Length: {}\r\n\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    let answer = s.raw_open(&raw).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    answer
        .lines()
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("x-hookwire-request-id")
                .then(|| value.trim().parse().expect("integer id"))
        })
        .expect("a request id")
}

/// End-to-end headers, lower-cased, stably sorted by name (a header map
/// groups a name's values; their order is kept).
fn end_to_end(headers: impl IntoIterator<Item = (String, String)>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = headers
        .into_iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v))
        .filter(|(n, _)| n != "host" && !HOP_BY_HOP.contains(&n.as_str()))
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn stored_headers(r: &Value) -> Vec<(String, String)> {
    r["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|h| {
            (
                h[0].as_str().expect("name").to_owned(),
                h[1].as_str().expect("value").to_owned(),
            )
        })
        .collect()
}

/// What the app got is the captured request, re-addressed.
fn assert_resent(seen: &Seen, app: &LocalApp, captured: &Value, body: &[u8]) {
    assert_eq!(seen.method, "PUT");
    assert_eq!(seen.target, "/base/sub/path?x=1&y=a%20b");
    assert!(seen.body == body, "the exact body bytes");
    assert_eq!(
        end_to_end(seen.headers.clone()),
        end_to_end(stored_headers(captured)),
        "the captured headers, nothing added"
    );
    assert_eq!(seen.header_values("x-dup"), ["1", "2"]);
    assert_eq!(seen.header_values("x-webhook-auth"), ["s3cr3t"]);
    assert_eq!(seen.header_values("x-mixed-case"), ["Value"]);
    assert_eq!(seen.header_values("host"), [app.addr.to_string().as_str()]);
    for hop in ["keep-alive", "te", "proxy-connection", "transfer-encoding"] {
        assert!(seen.header_values(hop).is_empty(), "no {hop}: {seen:?}");
    }
    let lengths = seen.header_values("content-length");
    assert!(
        lengths.is_empty() || lengths == [body.len().to_string().as_str()],
        "content-length of the body: {lengths:?}"
    );
}

/// `PUT /sub/path?x=1&y=a%20b -> STATUS 3.1 ms`.
fn assert_summary(done: &Done, status: u16) {
    assert_eq!(done.stdout.len(), 1, "one line: {done:#?}");
    let line = &done.stdout[0];
    let rest = line
        .strip_prefix(&format!("PUT /sub/path?x=1&y=a%20b -> {status} "))
        .unwrap_or_else(|| panic!("summary line: {line:?}"));
    let ms = rest
        .strip_suffix(" ms")
        .unwrap_or_else(|| panic!("ends with the time in ms: {line:?}"));
    ms.parse::<f64>()
        .unwrap_or_else(|e| panic!("a number of ms ({e}): {line:?}"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_sends_the_captured_request_byte_for_byte() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let to = format!("{}/base", app.url());
    let body = binary_body();
    let id = capture_binary_put(&s, &bin, &body).await;
    let captured = stored(&s, &bin, id).await;
    assert_eq!(captured["body_base64"], {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(&body)
    });

    // The API URL.
    let api = s.url(&format!("/api/bins/{bin}/requests/{id}"));
    let mut p = Proc::start(&["resend", &api, "--to", &to]);
    let done = p.finish().await;
    assert_eq!(done.code(), Some(0), "{done:#?}");
    assert_summary(&done, 201);
    let seen = app.wait_for(1).await;
    assert_eq!(seen.len(), 1, "sent once");
    assert_resent(&seen[0], &app, &captured, &body);

    // The inspector's URL.
    let inspector = s.url(&format!("/bins/{bin}?r={id}"));
    let mut p = Proc::start(&["resend", &inspector, "--to", &to]);
    let done = p.finish().await;
    assert_eq!(done.code(), Some(0), "{done:#?}");
    assert_summary(&done, 201);
    let seen = app.wait_for(2).await;
    assert_eq!(seen.len(), 2, "sent once more");
    assert_resent(&seen[1], &app, &captured, &body);

    // Resending stores nothing new in the bin.
    assert_eq!(s.requests(&bin).await.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_reports_the_answer_and_its_exit_status() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let body = binary_body();
    let id = capture_binary_put(&s, &bin, &body).await;
    let api = s.url(&format!("/api/bins/{bin}/requests/{id}"));

    // --json: one object with the app's answer.
    let app = LocalApp::start().await;
    let to = format!("{}/base", app.url());
    let mut p = Proc::start(&["resend", &api, "--to", &to, "--json"]);
    let done = p.finish().await;
    assert_eq!(done.code(), Some(0), "{done:#?}");
    let v: Value = serde_json::from_str(&done.stdout.join("\n"))
        .unwrap_or_else(|e| panic!("--json prints one JSON object ({e}): {done:#?}"));
    assert_eq!(v["status"], 201, "{v}");
    assert!(v["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{v}");
    assert_eq!(v["error"], Value::Null, "{v}");
    assert_eq!(v["body"], "hello", "{v}");
    let headers = v["headers"].as_array().expect("headers");
    assert!(headers.contains(&json!(["x-app", "yes"])), "{v}");
    assert_eq!(app.seen().len(), 1);

    // A 500 from the app: exit 1.
    let failing = LocalApp::start_with(Answer {
        status: 500,
        ..Answer::default()
    })
    .await;
    let to = format!("{}/base", failing.url());
    let mut p = Proc::start(&["resend", &api, "--to", &to]);
    let done = p.finish().await;
    assert_eq!(done.code(), Some(1), "a 500 exits 1: {done:#?}");
    assert_summary(&done, 500);
    assert_eq!(failing.seen().len(), 1, "sent once, no retry");
    let mut p = Proc::start(&["resend", &api, "--to", &to, "--json"]);
    let done = p.finish().await;
    assert_eq!(done.code(), Some(1), "{done:#?}");
    let v: Value = serde_json::from_str(&done.stdout.join("\n")).expect("--json on a 500");
    assert_eq!(v["status"], 500, "{v}");

    // Errors: exit 2, nothing sent.
    let unknown_bin = uuid::Uuid::new_v4();
    let to = format!("{}/base", app.url());
    for (what, url) in [
        (
            "an unknown request id",
            s.url(&format!("/api/bins/{bin}/requests/{}", id + 1000)),
        ),
        (
            "an unknown bin",
            s.url(&format!("/api/bins/{unknown_bin}/requests/{id}")),
        ),
        ("a URL of no request", s.url(&format!("/{bin}"))),
        ("not a URL", "no-such-thing".to_owned()),
    ] {
        let mut p = Proc::start(&["resend", &url, "--to", &to]);
        let done = p.finish().await;
        assert_eq!(done.code(), Some(2), "{what}: exit 2: {done:#?}");
        assert!(
            !done.stderr_text().trim().is_empty(),
            "{what}: a message: {done:#?}"
        );
    }
    assert_eq!(app.seen().len(), 1, "errors send nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_needs_the_access_token_from_the_flag_or_the_environment() {
    let (s, bin) = team_server().await;
    let app = LocalApp::start().await;
    let to = format!("{}/base", app.url());
    let body = binary_body();
    let id = capture_binary_put(&s, &bin, &body).await;
    let api = s.url(&format!("/api/bins/{bin}/requests/{id}"));

    let mut p = Proc::start(&["resend", &api, "--to", &to]);
    p.finish().await.token_error("resend without the token");
    assert!(app.seen().is_empty(), "nothing sent without the token");

    let mut p = Proc::start(&["resend", &api, "--to", &to, "--access-token", TOKEN]);
    let done = p.finish().await;
    assert_eq!(done.code(), Some(0), "with --access-token: {done:#?}");
    assert_summary(&done, 201);
    let mut p = Proc::start_env(
        &["resend", &api, "--to", &to],
        &[("HOOKWIRE_ACCESS_TOKEN", TOKEN)],
    );
    let done = p.finish().await;
    assert_eq!(
        done.code(),
        Some(0),
        "with HOOKWIRE_ACCESS_TOKEN: {done:#?}"
    );

    let seen = app.wait_for(2).await;
    assert_eq!(seen.len(), 2);
    for r in &seen {
        assert!(r.body == body);
        assert!(
            r.header_values("authorization").is_empty(),
            "the server's token is not sent to the app: {r:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_shows_terminal_escapes_in_a_hostile_path_instead_of_obeying_them() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = capture_url(&s.base, &bin);
    let mut tail = Proc::start(&["tail", &url]);
    // Raw UTF-8 in the path: U+009B (a C1 control some terminals read as
    // an escape sequence) and U+202E (right-to-left override).
    let mut raw = format!("POST /{bin}/x").into_bytes();
    raw.extend_from_slice("\u{9b}31m\u{202e}gpj".as_bytes());
    raw.extend_from_slice(
        b" HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    );
    let answer = s.raw_open(&raw).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    let lines = tail.lines(1).await;
    let done = tail.stop_with("TERM").await;
    assert!(
        lines[0].contains("/x\\u{9b}31m\\u{202e}gpj"),
        "escaped: {done:#?}"
    );
    assert!(
        !lines[0].contains('\u{9b}') && !lines[0].contains('\u{202e}'),
        "{done:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_and_tail_take_an_alias_capture_url() {
    let s = TestServer::spawn().await;
    let res = s
        .client
        .post(s.url("/api/bins"))
        .json_body(&json!({"alias": "follow-me"}))
        .send()
        .await
        .expect("mint");
    assert_eq!(res.status(), 201);
    let bin = common::json(res).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let alias_url = format!("{}/follow-me", s.base);
    let mut tail = Proc::start(&["tail", &alias_url]);
    let mut wait = Proc::start(&["wait", &alias_url, "--timeout", WAIT_TIMEOUT]);
    // Sent to the alias, stored in the bin: both see it.
    let res = s
        .client
        .post(&alias_url)
        .body(r#"{"via":"alias"}"#)
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200);
    let got = wait.finish().await.one_json_line();
    assert_eq!(got["bin_id"], bin.as_str());
    assert_eq!(got["body_text"], r#"{"via":"alias"}"#);
    let lines = tail.lines(1).await;
    tail.stop_with("TERM").await;
    assert_eq!(line_id(&lines[0]), got["id"].as_i64().expect("id"));

    let mut p = Proc::start(&["wait", &format!("{}/no-such-alias", s.base)]);
    p.finish()
        .await
        .usage_error("wait on an unknown alias", &["bin"]);
}
