//! Routing, fan-out and filters of the tunnel: the real
//! `hookwire tunnel` binary with several `--to`, `--route` and `--filter`
//! flags relaying a real server's captures to real local apps. Each target
//! is its own delivery stream: routed requests reach only their target (at
//! the route's exact endpoint), fanned-out ones reach every `--to`, a down
//! target holds back no other, filtered-out requests are recorded as
//! skipped, and every target gets each of its requests exactly once across
//! a graceful restart (at least once across `kill -9`).

use crate::common;

use std::collections::{HashMap, HashSet};
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use common::TestServer;
use common::tunnel::*;
use serde_json::{Value, json};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// Captures one request at `/{bin}{target}`; returns its stored id.
async fn capture(
    s: &TestServer,
    bin: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> i64 {
    let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let mut req = s.client.request(method, s.url(&format!("/{bin}{target}")));
    for (name, value) in headers {
        req = req.header(*name, *value);
    }
    let res = req.body(body.to_owned()).send().await.expect("capture");
    assert_eq!(res.status(), 200, "capturing {target}");
    common::request_id(&res)
}

/// Captures `{"n":i}` for each `i` in `range`, every other one under
/// `/r/seq` (when `routed`) and the rest under `/seq`; returns the ids of
/// the plain ones and of the `/r` ones, each in capture order.
async fn capture_mixed(
    s: &TestServer,
    bin: &str,
    range: std::ops::Range<u64>,
    routed: bool,
) -> (Vec<i64>, Vec<i64>) {
    let (mut plain, mut r) = (Vec::new(), Vec::new());
    for n in range {
        let to_r = routed && n % 2 == 1;
        let path = if to_r { "/r/seq" } else { "/seq" };
        let id = capture(s, bin, "POST", path, &[], &format!("{{\"n\":{n}}}")).await;
        if to_r { r.push(id) } else { plain.push(id) }
    }
    (plain, r)
}

/// The request ids an app received, in arrival order.
fn ids(seen: &[Seen]) -> Vec<i64> {
    seen.iter().map(Seen::request_id).collect()
}

/// A request's live (non-replay) deliveries to `target`.
fn live_to<'a>(deliveries: &'a [Value], target: &str) -> Vec<&'a Value> {
    deliveries
        .iter()
        .filter(|d| d["target"] == target && d["replay"] == false)
        .collect()
}

/// Waits until each request of `want` has a live delivery for every one of
/// its targets (delivered or skipped); returns every request's deliveries.
async fn wait_delivered_to(
    s: &TestServer,
    bin: &str,
    want: &[(i64, Vec<String>)],
) -> HashMap<i64, Vec<Value>> {
    eventually("a delivery per request and target", || async {
        let all: HashMap<i64, Vec<Value>> = s
            .requests(bin)
            .await
            .into_iter()
            .map(|r| {
                let d = r["deliveries"].as_array().expect("deliveries").clone();
                (r["id"].as_i64().expect("id"), d)
            })
            .collect();
        want.iter()
            .all(|(id, targets)| {
                let d = all.get(id).map_or(&[][..], Vec::as_slice);
                targets.iter().all(|t| !live_to(d, t).is_empty())
            })
            .then_some(all)
    })
    .await
}

/// Every request of `ids` paired with the same `targets`.
fn each_to<T: AsRef<str>>(ids: &[i64], targets: &[T]) -> Vec<(i64, Vec<String>)> {
    let targets: Vec<String> = targets.iter().map(|t| t.as_ref().to_owned()).collect();
    ids.iter().map(|id| (*id, targets.clone())).collect()
}

/// Waits for at least `n` stdout lines of the client.
async fn stdout_lines(tunnel: &Tunnel, n: usize) -> Vec<String> {
    eventually(&format!("{n} lines on stdout"), || async {
        let out = tunnel.stdout();
        (out.len() >= n).then_some(out)
    })
    .await
}

/// Runs the client with `args` and waits (bounded) for it to exit; returns
/// its status and stderr. Used for flag checks that must fail at start.
fn run_client(args: &[&str]) -> (ExitStatus, String) {
    let mut cmd = Command::new(common::binary());
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for var in [
        "HOOKWIRE_TO",
        "HOOKWIRE_TUNNEL_NAME",
        "HOOKWIRE_PASSTHROUGH",
    ] {
        cmd.env_remove(var);
    }
    let mut child = cmd.spawn().expect("start hookwire tunnel");
    let deadline = Instant::now() + WAIT;
    // A client that accepted the flags would retry connecting forever.
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the client did not exit at start with {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

// ---------------------------------------------------------------------------
// Routes and fan-out
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routes_send_each_sub_path_to_its_own_target() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (a, b, c) = (
        LocalApp::start().await,
        LocalApp::start().await,
        LocalApp::start().await,
    );
    // B is an exact endpoint (a URL with a path); C is a bare origin.
    let stripe = format!("{}/webhooks", b.url());
    let (route_b, route_c) = (format!("/stripe/**={stripe}"), format!("/gh/*={}", c.url()));
    let tunnel = Tunnel::connect(
        &s,
        &bin,
        &a,
        "routed",
        &["--route", &route_b, "--route", &route_c],
    )
    .await;

    let evt = capture(&s, &bin, "POST", "/stripe/evt?x=1", &[], "evt").await;
    let other = capture(&s, &bin, "POST", "/other", &[], "other").await;
    // `/stripe/**` matches `/stripe` itself too.
    let bare = capture(&s, &bin, "POST", "/stripe", &[], "bare").await;
    let push = capture(&s, &bin, "POST", "/gh/push?ref=main", &[], "push").await;
    // `*` stays within one segment: not C's, so the `--to`'s.
    let deep = capture(&s, &bin, "POST", "/gh/push/deep", &[], "deep").await;

    let (a_url, c_url) = (a.url(), c.url());
    let want = [
        (evt, stripe.as_str()),
        (other, a_url.as_str()),
        (bare, stripe.as_str()),
        (push, c_url.as_str()),
        (deep, a_url.as_str()),
    ];
    let want_to: Vec<(i64, Vec<String>)> = want
        .iter()
        .map(|(id, t)| (*id, vec![(*t).to_owned()]))
        .collect();
    let stored = wait_delivered_to(&s, &bin, &want_to).await;

    // Each app got exactly its requests, at the right path, in order.
    let got = |app: &LocalApp| -> Vec<(i64, String)> {
        app.seen()
            .iter()
            .map(|r| (r.request_id(), r.target.clone()))
            .collect()
    };
    assert_eq!(
        got(&b),
        [
            (evt, String::from("/webhooks?x=1")),
            (bare, String::from("/webhooks"))
        ],
        "the route's exact endpoint, with the original query"
    );
    assert_eq!(
        got(&a),
        [
            (other, String::from("/other")),
            (deep, String::from("/gh/push/deep"))
        ]
    );
    assert_eq!(
        got(&c),
        [(push, String::from("/gh/push?ref=main"))],
        "a bare origin gets the sub-path appended"
    );
    assert_eq!(b.seen()[0].body, b"evt");

    // One delivery each, naming its target as given.
    for (id, target) in want {
        let d = &stored[&id];
        assert_eq!(d.len(), 1, "request {id}: {d:#?}");
        assert_eq!(d[0]["tunnel"], "routed");
        assert_eq!(d[0]["target"], target, "request {id}");
        assert_eq!(d[0]["skipped"], false);
        assert_eq!(d[0]["status"], 201);
    }

    // Several targets: each line names the one it went to.
    let out = stdout_lines(&tunnel, 5).await;
    assert_eq!(out.len(), 5, "{out:#?}");
    let line = |part: &str| -> &String {
        out.iter()
            .find(|l| l.contains(part))
            .unwrap_or_else(|| panic!("a line with {part:?}: {out:#?}"))
    };
    assert!(
        line("?x=1").ends_with(&format!(" via {stripe}")),
        "{out:#?}"
    );
    assert!(
        line("ref=main").ends_with(&format!(" via {c_url}")),
        "{out:#?}"
    );
    assert!(
        line(" POST /other ").ends_with(&format!(" via {a_url}")),
        "{out:#?}"
    );
    assert!(
        out.iter()
            .all(|l| l.contains(" -> 201 ") && l.contains(" ms via http://")),
        "{out:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fan_out_sends_every_request_to_each_target_in_order() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (a, b) = (LocalApp::start().await, LocalApp::start().await);
    let tunnel = Tunnel::connect(&s, &bin, &a, "fan", &["--to", &b.url()]).await;
    let (sent, _) = capture_mixed(&s, &bin, 0..20, false).await;

    for app in [&a, &b] {
        let seen = app.wait_for(20).await;
        assert_eq!(ids(&seen), sent, "every request, in order, once");
        let counters: Vec<u64> = seen.iter().map(Seen::counter).collect();
        assert_eq!(counters, (0..20).collect::<Vec<_>>());
    }
    let (a_url, b_url) = (a.url(), b.url());
    let stored = wait_delivered_to(&s, &bin, &each_to(&sent, &[&a_url, &b_url])).await;
    for id in &sent {
        let d = &stored[id];
        assert_eq!(d.len(), 2, "one delivery per target: {d:#?}");
        for t in [&a_url, &b_url] {
            let mine = live_to(d, t);
            assert_eq!(mine.len(), 1, "request {id} to {t}");
            assert_eq!(mine[0]["status"], 201);
            assert_eq!(mine[0]["tunnel"], "fan");
        }
    }
    assert_eq!((a.seen().len(), b.seen().len()), (20, 20));

    let out = stdout_lines(&tunnel, 40).await;
    assert_eq!(out.len(), 40, "a line per delivery: {out:#?}");
    for t in [&a_url, &b_url] {
        let via = format!(" via {t}");
        assert_eq!(
            out.iter().filter(|l| l.ends_with(&via)).count(),
            20,
            "{out:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_down_target_holds_back_no_other() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let a = LocalApp::start().await;
    let mut b = LocalApp::start().await;
    b.stop().await;
    let tunnel = Tunnel::connect(&s, &bin, &a, "split", &["--to", &b.url()]).await;
    let (sent, _) = capture_mixed(&s, &bin, 0..20, false).await;

    // A gets everything, and its deliveries are recorded, while B is down.
    let seen = a.wait_for(20).await;
    assert_eq!(ids(&seen), sent);
    let (a_url, b_url) = (a.url(), b.url());
    wait_delivered_to(&s, &bin, &each_to(&sent, &[&a_url])).await;
    // B's stream is really waiting on B (failing attempts), not idle.
    eventually("a failed attempt to reach B", || async {
        let err = tunnel.stderr();
        err.iter()
            .any(|l| l.contains("nothing is listening on"))
            .then_some(())
    })
    .await;
    assert!(b.seen().is_empty());

    b.restart().await;
    let seen = b.wait_for(20).await;
    assert_eq!(ids(&seen), sent, "B gets all of them, in order");
    let stored = wait_delivered_to(&s, &bin, &each_to(&sent, &[&a_url, &b_url])).await;
    for id in &sent {
        for t in [&a_url, &b_url] {
            let mine = live_to(&stored[id], t);
            assert_eq!(mine.len(), 1, "request {id} to {t}");
            assert_eq!(mine[0]["status"], 201);
        }
    }
    assert_eq!((a.seen().len(), b.seen().len()), (20, 20), "exactly once");
}

/// Restarting a tunnel name with another `--to` (the dev server moved to
/// another port) keeps its backlog: the new target starts where the old
/// one stood, and the old target's position is forgotten (no phantom
/// backlog in /metrics).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_to_keeps_the_names_backlog() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let old = LocalApp::start().await;
    let tunnel = Tunnel::connect(&s, &bin, &old, "moved", &[]).await;
    let (first, _) = capture_mixed(&s, &bin, 0..3, false).await;
    assert_eq!(ids(&old.wait_for(3).await), first);
    wait_delivered_to(&s, &bin, &each_to(&first, &[&old.url()])).await;
    tunnel.stop().await;

    let (waiting, _) = capture_mixed(&s, &bin, 3..8, false).await;
    let new = LocalApp::start().await;
    let _tunnel = Tunnel::connect(&s, &bin, &new, "moved", &[]).await;
    assert_eq!(
        ids(&new.wait_for(5).await),
        waiting,
        "the backlog, in order"
    );
    wait_delivered_to(&s, &bin, &each_to(&waiting, &[&new.url()])).await;
    assert_eq!(new.seen().len(), 5, "nothing the old target had");
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
        metrics.lines().any(|l| l == "hookwire_tunnel_backlog 0"),
        "{metrics}"
    );
}

// ---------------------------------------------------------------------------
// Filters
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_skips_requests_without_holding_back_the_rest() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let flags = [
        "--filter",
        "json:/type=payment_intent.succeeded",
        "--filter",
        "!header.x-test=*",
    ];
    let _tunnel = Tunnel::connect(&s, &bin, &app, "picky", &flags).await;
    let ok = r#"{"type":"payment_intent.succeeded"}"#;
    let first = capture(&s, &bin, "POST", "/pay", &[], ok).await;
    let failed = r#"{"type":"payment_intent.payment_failed"}"#;
    let wrong_type = capture(&s, &bin, "POST", "/pay", &[], failed).await;
    let tested = capture(&s, &bin, "POST", "/pay", &[("x-test", "1")], ok).await;
    let not_json = capture(&s, &bin, "POST", "/pay", &[], "payment_intent.succeeded").await;
    let last = capture(&s, &bin, "POST", "/pay?after=1", &[], ok).await;

    // The skipped ones in between hold nothing back.
    let seen = app.wait_for(2).await;
    assert_eq!(ids(&seen), [first, last]);
    assert_eq!(seen[1].target, "/pay?after=1");
    let all = [first, wrong_type, tested, not_json, last];
    let url = app.url();
    let stored = wait_delivered_to(&s, &bin, &each_to(&all, &[&url])).await;
    for id in [wrong_type, tested, not_json] {
        let d = &stored[&id];
        assert_eq!(d.len(), 1, "one skipped delivery for request {id}: {d:#?}");
        assert_eq!(d[0]["tunnel"], "picky");
        assert_eq!(d[0]["target"], url.as_str());
        assert_eq!(d[0]["skipped"], true);
        assert_eq!(d[0]["replay"], false);
        assert_eq!(d[0]["status"], Value::Null);
    }
    for id in [first, last] {
        let d = &stored[&id];
        assert_eq!(d.len(), 1);
        assert_eq!(d[0]["skipped"], false);
        assert_eq!(d[0]["status"], 201);
    }
    // Recorded as skipped means never sent, now or later (not retried).
    assert_eq!(app.seen().len(), 2);
}

/// Bad flags stop the client at start, saying what is wrong; no server is
/// needed (nothing listens at the capture URL).
#[test]
fn bad_filters_and_routes_stop_the_client_at_start() {
    let cases = [
        ("--filter", "heder.x=1", "condition \"heder.x=1\""),
        ("--route", "nope", "PATH_GLOB=URL"),
    ];
    for (flag, value, says) in cases {
        let (status, stderr) = run_client(&[
            "tunnel",
            "http://127.0.0.1:9/abcdefgh",
            "--to",
            "http://127.0.0.1:9",
            "--name",
            "bad",
            flag,
            value,
        ]);
        assert!(!status.success(), "{flag} {value} exits non-zero: {status}");
        assert!(stderr.contains(says), "{flag} {value}: {stderr}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passthrough_answers_a_filtered_out_capture_at_once() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let flags = ["--passthrough", "--filter", "method=POST"];
    let _tunnel = Tunnel::connect(&s, &bin, &app, "pt", &flags).await;
    let url = s.url(&format!("/{bin}/pay"));

    let res = s.client.post(&url).body("in").send().await.expect("post");
    assert_eq!(res.status(), 201, "the app's status");
    assert_eq!(res.headers()["x-app"], "yes");
    assert_eq!(res.bytes().await.expect("body").as_ref(), b"hello");

    // Filtered out: the bin's own response, without waiting for a deadline.
    let started = Instant::now();
    let res = s.client.put(&url).body("out").send().await.expect("put");
    let took = started.elapsed();
    assert_eq!(res.status(), 200);
    assert!(res.headers().get("x-app").is_none());
    let put = common::request_id(&res);
    assert_eq!(common::json(res).await, json!({"ok": true}));
    assert!(took < Duration::from_secs(5), "answered after {took:?}");
    let d = wait_deliveries(&s, &bin, put, 1).await;
    assert_eq!(d.len(), 1);
    assert_eq!(d[0]["skipped"], true);
    assert_eq!(d[0]["status"], Value::Null);

    // The next POST still gets the app's answer.
    let res = s
        .client
        .post(&url)
        .body("again")
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 201);
    let seen = app.seen();
    assert_eq!(seen.len(), 2, "the PUT never reached the app: {seen:#?}");
    assert!(seen.iter().all(|r| r.method == "POST"));
}

// ---------------------------------------------------------------------------
// Restarts
// ---------------------------------------------------------------------------

/// A tunnel with `--to A --to B --route '/r/**=C'`, cut mid-backlog by
/// SIGINT or `kill -9`, more captured while it is down, then started again
/// under the same name: every target gets each of its requests, exactly
/// once after SIGINT; after `kill -9` at least once, and more than once
/// only for a request that had already arrived before the kill.
async fn restart_with_routes_and_fan_out(name: &str, kill9: bool) {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (a, b, c) = (
        LocalApp::start().await,
        LocalApp::start().await,
        LocalApp::start().await,
    );
    for app in [&a, &b, &c] {
        // Slow enough that the cut comes mid-stream at every target.
        app.set_delay(Duration::from_millis(20));
    }
    let (a_url, b_url, c_url) = (a.url(), b.url(), c.url());
    let route = format!("/r/**={c_url}");
    let flags = ["--to", b_url.as_str(), "--route", route.as_str()];
    // The name's positions exist from a first connection on; the backlog
    // is captured while it is away, so the cut lands mid-stream however
    // slow capturing is.
    Tunnel::connect(&s, &bin, &a, name, &flags)
        .await
        .stop()
        .await;
    wait_tunnels(&s, &bin, &[]).await;
    let (mut plain, mut routed) = capture_mixed(&s, &bin, 0..80, true).await;

    let mut tunnel = Tunnel::connect(&s, &bin, &a, name, &flags).await;
    a.wait_for(5).await;
    if kill9 {
        tunnel.kill9();
        tunnel.exited().await;
    } else {
        tunnel.stop().await;
    }
    wait_tunnels(&s, &bin, &[]).await;
    let before: Vec<Vec<i64>> = [&a, &b, &c].iter().map(|app| ids(&app.seen())).collect();
    assert!(before[0].len() < plain.len(), "cut mid-stream: {before:?}");

    // Captured while no client runs: nothing reaches any app.
    let (plain2, routed2) = capture_mixed(&s, &bin, 80..120, true).await;
    let after_cut: Vec<usize> = [&a, &b, &c].iter().map(|app| app.seen().len()).collect();
    assert_eq!(after_cut, before.iter().map(Vec::len).collect::<Vec<_>>());
    plain.extend(&plain2);
    routed.extend(&routed2);

    let _tunnel = Tunnel::connect(&s, &bin, &a, name, &flags).await;
    let mut want = each_to(&plain, &[&a_url, &b_url]);
    want.extend(each_to(&routed, &[&c_url]));
    let stored = wait_delivered_to(&s, &bin, &want).await;
    let down: HashSet<i64> = plain2.iter().chain(&routed2).copied().collect();

    let cases = [
        (&a, &a_url, &plain, &before[0]),
        (&b, &b_url, &plain, &before[1]),
        (&c, &c_url, &routed, &before[2]),
    ];
    for (app, url, expected, before) in cases {
        let got = ids(&app.seen());
        // Routed requests never reach the `--to`s, nor plain ones C.
        let mut unique = got.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(
            &unique, expected,
            "{url}: every request of its own, nothing else"
        );
        for id in expected {
            let n = live_to(&stored[id], url).len();
            if kill9 {
                assert!(n >= 1, "request {id} recorded for {url}");
            } else {
                assert_eq!(n, 1, "request {id}: one delivery to {url}");
            }
        }
        if kill9 {
            let mut counts: HashMap<i64, usize> = HashMap::new();
            for id in &got {
                *counts.entry(*id).or_default() += 1;
            }
            for (id, n) in counts.iter().filter(|(_, n)| **n > 1) {
                assert!(
                    before.contains(id) && !down.contains(id),
                    "{url}: request {id} came {n} times but was not in flight at the kill"
                );
            }
            let repeats = got.len() - unique.len();
            eprintln!(
                "{url}: {repeats} repeat(s) after kill -9 at {} received",
                before.len()
            );
            assert!(repeats <= 64, "{url}: {repeats} repeats");
        } else {
            assert_eq!(&got, expected, "{url}: exactly once, in order");
        }
    }
    for id in &routed {
        assert!(live_to(&stored[id], &a_url).is_empty() && live_to(&stored[id], &b_url).is_empty());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn graceful_restart_with_routes_and_fan_out_delivers_exactly_once_per_target() {
    restart_with_routes_and_fan_out("calm", false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_with_routes_and_fan_out_loses_nothing_at_any_target() {
    restart_with_routes_and_fan_out("crashy", true).await;
}

// ---------------------------------------------------------------------------
// Replay
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replay_goes_to_the_targets_the_route_picks() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let (a, b, c) = (
        LocalApp::start().await,
        LocalApp::start().await,
        LocalApp::start().await,
    );
    let (a_url, c_url) = (a.url(), c.url());
    let stripe = format!("{}/webhooks", b.url());
    let route = format!("/stripe/**={stripe}");
    let flags = [
        "--to",
        c_url.as_str(),
        "--route",
        route.as_str(),
        "--filter",
        "!header.x-skip=*",
    ];
    let _tunnel = Tunnel::connect(&s, &bin, &a, "rp", &flags).await;
    let x = capture(&s, &bin, "POST", "/stripe/x", &[], "x").await;
    let y = capture(&s, &bin, "POST", "/stripe/y", &[("x-skip", "1")], "y").await;
    let other = capture(&s, &bin, "POST", "/other", &[], "o").await;
    let mut want = each_to(&[x, y], &[&stripe]);
    want.extend(each_to(&[other], &[&a_url, &c_url]));
    wait_delivered_to(&s, &bin, &want).await;
    assert_eq!(ids(&b.seen()), [x], "y was filtered out");

    let srv = &s;
    let replay = |id: i64| {
        let url = srv.url(&format!("/api/bins/{bin}/requests/{id}/replay"));
        async move {
            let res = srv.client.post(&url).send().await.expect("replay");
            assert_eq!(res.status(), 200, "replay of {id}");
            common::json(res).await
        }
    };
    // Only the route's target, at its endpoint.
    let v = replay(x).await;
    assert_eq!(v["replayed_to"], json!(["rp"]));
    let d = v["deliveries"].as_array().expect("deliveries");
    assert_eq!(d.len(), 1, "{v:#}");
    assert_eq!(d[0]["target"], stripe.as_str());
    assert_eq!(d[0]["replay"], true);
    assert_eq!(d[0]["status"], 201);
    let seen = b.seen();
    assert_eq!(ids(&seen), [x, x]);
    assert_eq!(seen[1].target, "/webhooks");
    assert_eq!(seen[1].body, b"x");

    // A replay is asked for: the filter does not apply.
    let v = replay(y).await;
    let d = v["deliveries"].as_array().expect("deliveries");
    assert_eq!(d.len(), 1, "{v:#}");
    assert_eq!(d[0]["target"], stripe.as_str());
    assert_eq!(d[0]["skipped"], false);
    assert_eq!(d[0]["status"], 201);
    assert_eq!(ids(&b.seen()), [x, x, y]);

    // An unrouted request goes to every `--to` again.
    let v = replay(other).await;
    let d = v["deliveries"].as_array().expect("deliveries");
    let mut targets: Vec<&str> = d
        .iter()
        .map(|d| d["target"].as_str().expect("target"))
        .collect();
    targets.sort_unstable();
    let mut both = [a_url.as_str(), c_url.as_str()];
    both.sort_unstable();
    assert_eq!(targets, both, "{v:#}");
    assert!(d.iter().all(|d| d["replay"] == true && d["status"] == 201));
    assert_eq!(ids(&a.seen()), [other, other]);
    assert_eq!(ids(&c.seen()), [other, other]);
    assert_eq!(ids(&b.seen()), [x, x, y], "nothing else reached B");
}
