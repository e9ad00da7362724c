//! `hookwire send` end to end: the real binary as a child process, sending
//! to a real local HTTP app (or a real hookwire server), its signatures
//! checked by the providers' official SDKs (tests/sdk: verify.py with PyPI
//! standardwebhooks, stripe, slack-sdk, twilio; verify-github.mjs with npm
//! @octokit/webhooks-methods). scripts/test installs the SDKs.
//!
//! Retry schedules run with `--time-scale` so every test takes well under a
//! second or two; nothing waits on a sleep: a run is over when the process
//! exits, and the app records a request before it answers it.

use crate::common;

use std::convert::Infallible;
use std::io::{Read as _, Write as _};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use common::tunnel::{Seen, WAIT};
use common::{JsonBody, TestServer};
use http_body_util::Full;
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};

// ---------------------------------------------------------------------------
// A scripted local app
// ---------------------------------------------------------------------------

/// How the app answers one request.
#[derive(Debug, Clone)]
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    /// Pause after recording the request, before answering.
    delay: Duration,
}

fn reply(status: u16) -> Reply {
    Reply {
        status,
        headers: Vec::new(),
        delay: Duration::ZERO,
    }
}

struct Shared {
    /// The n-th request gets `script[n]`; the last entry answers the rest.
    script: Vec<Reply>,
    seen: Mutex<Vec<Seen>>,
    count: watch::Sender<usize>,
}

/// A real HTTP/1 app on 127.0.0.1 that records every request (before
/// answering it) and answers by its script. Dropping it closes the listener
/// and every connection.
struct App {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl App {
    async fn start(script: Vec<Reply>) -> Self {
        assert!(!script.is_empty(), "a script answers at least once");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind app");
        let addr = listener.local_addr().expect("app addr");
        let shared = Arc::new(Shared {
            script,
            seen: Mutex::new(Vec::new()),
            count: watch::channel(0).0,
        });
        let task = tokio::spawn(serve(listener, shared.clone()));
        Self { addr, shared, task }
    }

    /// Answers 200 to everything.
    async fn ok() -> Self {
        Self::start(vec![reply(200)]).await
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.shared.seen.lock().expect("lock").clone()
    }

    /// Waits until at least `n` requests arrived; returns all of them.
    async fn wait_for(&self, n: usize) -> Vec<Seen> {
        let mut rx = self.shared.count.subscribe();
        let waited = tokio::time::timeout(WAIT, rx.wait_for(|c| *c >= n)).await;
        let seen = self.seen();
        assert!(
            waited.is_ok(),
            "timed out waiting for the app to receive {n} requests; it got {}",
            seen.len()
        );
        seen
    }
}

impl Drop for App {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(listener: TcpListener, shared: Arc<Shared>) {
    let mut conns = JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        conns.spawn(async move {
            let service = hyper::service::service_fn(move |req| answer(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
        while conns.try_join_next().is_some() {}
    }
}

async fn answer(
    shared: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let seen = Seen::read(req).await;
    let reply = {
        let mut all = shared.seen.lock().expect("lock");
        let n = all.len().min(shared.script.len() - 1);
        all.push(seen);
        shared.script[n].clone()
    };
    shared.count.send_modify(|c| *c += 1);
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    let mut res = Response::new(Full::new(Bytes::from_static(b"ok")));
    *res.status_mut() = StatusCode::from_u16(reply.status).expect("status");
    for (n, v) in &reply.headers {
        res.headers_mut().append(
            hyper::header::HeaderName::from_bytes(n.as_bytes()).expect("header name"),
            hyper::header::HeaderValue::from_str(v).expect("header value"),
        );
    }
    Ok(res)
}

/// A URL on 127.0.0.1 where nothing listens (a port just let go).
fn closed_url(path: &str) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("addr");
    drop(listener);
    format!("http://{addr}{path}")
}

/// A received request for failure messages: the body as text.
fn show(seen: &Seen) -> String {
    let mut out = format!("{} {}\n", seen.method, seen.target);
    for (n, v) in &seen.headers {
        out.push_str(&format!("{n}: {v}\n"));
    }
    out.push('\n');
    out.push_str(&String::from_utf8_lossy(&seen.body));
    out
}

fn one_header<'a>(seen: &'a Seen, name: &str) -> &'a str {
    let values = seen.header_values(name);
    assert_eq!(
        values.len(),
        1,
        "exactly one {name} header:\n{}",
        show(seen)
    );
    values[0]
}

fn body_json(seen: &Seen) -> Value {
    serde_json::from_slice(&seen.body).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {}",
            String::from_utf8_lossy(&seen.body)
        )
    })
}

// ---------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------

/// `attempt N -> …`, or `duplicate K: attempt N -> …`.
fn is_attempt_line(line: &str) -> bool {
    let rest = match line.strip_prefix("duplicate ") {
        Some(dup) => match dup.split_once(": ") {
            Some((k, rest)) if k.parse::<u32>().is_ok() => rest,
            _ => return false,
        },
        None => line,
    };
    rest.strip_prefix("attempt ")
        .and_then(|r| r.split_once(" -> "))
        .is_some_and(|(n, _)| n.parse::<u32>().is_ok())
}

/// One finished `hookwire` run.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    elapsed: Duration,
}

impl Run {
    /// The attempt lines (first delivery and duplicates), in order.
    fn attempts(&self) -> Vec<&str> {
        self.stdout.lines().filter(|l| is_attempt_line(l)).collect()
    }

    /// Every other line of stdout.
    fn other_lines(&self) -> Vec<&str> {
        self.stdout
            .lines()
            .filter(|l| !is_attempt_line(l))
            .collect()
    }

    /// The summary line (the last line of stdout).
    fn summary(&self) -> &str {
        self.stdout.lines().last().unwrap_or_default()
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {self:#?}"))
    }
}

/// Runs `hookwire ARGS` (with `stdin` piped in when given) and waits for it
/// to exit, at most a minute (then it is killed and the test fails).
async fn hookwire(args: &[&str], stdin: Option<&[u8]>) -> Run {
    let args: Vec<String> = args.iter().map(|a| (*a).to_owned()).collect();
    let input = stdin.map(<[u8]>::to_vec);
    tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new(common::binary());
        cmd.args(&args)
            .stdin(if input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // Flags also read HOOKWIRE_* variables: none may leak in.
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HOOKWIRE_") {
                cmd.env_remove(name);
            }
        }
        let started = Instant::now();
        let mut child = cmd.spawn().expect("start hookwire");
        if let Some(input) = input {
            let mut pipe = child.stdin.take().expect("stdin");
            pipe.write_all(&input).expect("write stdin");
        }
        let mut stdout = child.stdout.take().expect("stdout");
        let mut stderr = child.stderr.take().expect("stderr");
        let out = std::thread::spawn(move || {
            let mut s = String::new();
            stdout.read_to_string(&mut s).expect("read stdout");
            s
        });
        let err = std::thread::spawn(move || {
            let mut s = String::new();
            stderr.read_to_string(&mut s).expect("read stderr");
            s
        });
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(60) {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "hookwire {args:?} still running after 60 s; stderr: {}",
                    err.join().unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let elapsed = started.elapsed();
        Run {
            code: status.code().expect("exited (not killed by a signal)"),
            stdout: out.join().expect("stdout thread"),
            stderr: err.join().expect("stderr thread"),
            elapsed,
        }
    })
    .await
    .expect("join")
}

/// `hookwire send ARGS`.
async fn send(args: &[&str]) -> Run {
    let mut all = vec!["send"];
    all.extend_from_slice(args);
    hookwire(&all, None).await
}

/// `hookwire send ARGS` that must exit 0.
async fn send_ok(args: &[&str]) -> Run {
    let run = send(args).await;
    assert_eq!(run.code, 0, "send {args:?} failed: {run:#?}");
    run
}

// ---------------------------------------------------------------------------
// The SDK verifiers
// ---------------------------------------------------------------------------

fn sdk_dir() -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

/// The received request as verify.py / verify-github.mjs read it.
fn request_json(seen: &Seen) -> Vec<u8> {
    json!({
        "method": seen.method,
        "target": seen.target,
        "headers": seen.headers.iter().map(|(n, v)| json!([n, v])).collect::<Vec<_>>(),
        "body_base64": base64::engine::general_purpose::STANDARD.encode(&seen.body),
    })
    .to_string()
    .into_bytes()
}

/// Checks the request's signature with the provider's official SDK;
/// `Err((exit code, message))` when it does not verify.
async fn sdk_verify(
    scheme: &str,
    secret: &str,
    url: &str,
    seen: &Seen,
) -> Result<(), (i32, String)> {
    let mut cmd = if scheme == "github" {
        let mut cmd = Command::new("node");
        cmd.arg(sdk_dir().join("verify-github.mjs")).arg(secret);
        cmd
    } else {
        let mut cmd = Command::new("python3");
        cmd.arg(sdk_dir().join("verify.py"))
            .args([scheme, secret, url]);
        cmd
    };
    let input = request_json(seen);
    let out = tokio::task::spawn_blocking(move || {
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect(
                "start the SDK verifier (python3 / node; scripts/test installs their packages)",
            );
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(&input)
            .expect("write request");
        child.wait_with_output().expect("verifier output")
    })
    .await
    .expect("join");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    match out.status.code() {
        Some(0) => Ok(()),
        Some(code) => {
            // A missing SDK is a broken test machine, not a bad signature.
            assert!(
                !err.contains("ModuleNotFoundError") && !err.contains("ERR_MODULE_NOT_FOUND"),
                "an SDK is not installed (run scripts/test's install step): {err}"
            );
            Err((code, err))
        }
        None => panic!("verifier killed: {err}"),
    }
}

async fn assert_verifies(scheme: &str, secret: &str, url: &str, seen: &Seen) {
    if let Err((code, why)) = sdk_verify(scheme, secret, url, seen).await {
        panic!(
            "{scheme}'s SDK rejects what hookwire send sent (exit {code}): {why}\n{}",
            show(seen)
        );
    }
}

// ---------------------------------------------------------------------------
// 1. Signatures, verified by the official SDKs
// ---------------------------------------------------------------------------

/// Sends the provider's default event signed with `secret` to a real app,
/// has the SDK verify exactly what arrived, then proves a tampered body
/// fails the same check.
async fn signed_by(provider: &str, secret: &str) {
    let app = App::ok().await;
    let path = format!("/hooks/{provider}?tenant=7&x=a%20b");
    let url = app.url(&path);
    let run = send_ok(&[
        "--to",
        &url,
        "--as",
        provider,
        "--secret",
        secret,
        "--retries",
        "none",
    ])
    .await;
    let seen = app.seen();
    assert_eq!(seen.len(), 1, "one request: {run:#?}");
    let got = &seen[0];
    assert_eq!(got.method, "POST");
    assert_eq!(got.target, path, "the exact --to path and query");
    match provider {
        "standard-webhooks" => assert_timestamp_now(got, "webhook-timestamp"),
        "slack" => assert_timestamp_now(got, "x-slack-request-timestamp"),
        _ => {}
    }
    assert_verifies(provider, secret, &url, got).await;

    // The same request with its body changed must fail: the check can fail.
    let mut tampered = got.clone();
    if provider == "twilio" {
        tampered.body.extend_from_slice(b"&Injected=1");
    } else {
        tampered.body.extend_from_slice(b" ");
    }
    match sdk_verify(provider, secret, &url, &tampered).await {
        Err((1, _)) => {}
        other => panic!("{provider}: a tampered body must be rejected by the SDK, got {other:?}"),
    }
    // And so must another secret.
    let wrong = if provider == "standard-webhooks" {
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
    } else {
        "another-secret"
    };
    match sdk_verify(provider, wrong, &url, got).await {
        Err((1, _)) => {}
        other => panic!("{provider}: another secret must be rejected by the SDK, got {other:?}"),
    }
}

const STANDARD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

#[tokio::test]
async fn stripe_signature_verifies_with_stripe_sdk() {
    signed_by("stripe", "whsec_test_hookwire_send").await;
}

#[tokio::test]
async fn standard_webhooks_signature_verifies_with_standardwebhooks_sdk() {
    signed_by("standard-webhooks", STANDARD_SECRET).await;
}

#[tokio::test]
async fn slack_signature_verifies_with_slack_sdk() {
    signed_by("slack", "8f742231b10e8888abcd99yyyzzz85a5").await;
}

#[tokio::test]
async fn twilio_signature_verifies_with_twilio_sdk() {
    signed_by("twilio", "twilio-auth-token-1").await;
}

#[tokio::test]
async fn github_signatures_verify_with_octokit() {
    signed_by("github", "It's a Secret to Everybody").await;
}

#[tokio::test]
async fn shopify_signature_verifies_by_shopifys_computation() {
    signed_by("shopify", "shpss_hookwire_send").await;
}

#[tokio::test]
async fn every_non_default_event_is_signed_too() {
    let cases = [
        ("stripe", "charge.refunded", "whsec_s"),
        ("github", "workflow_run.completed", "gh"),
        (
            "standard-webhooks",
            "invoice.payment_failed",
            STANDARD_SECRET,
        ),
        ("slack", "url_verification", "slack-secret"),
        ("shopify", "app/uninstalled", "shpss_x"),
        ("twilio", "message.failed", "tw-token"),
    ];
    let app = App::ok().await;
    for (i, (provider, event, secret)) in cases.into_iter().enumerate() {
        let url = app.url(&format!("/e/{i}"));
        send_ok(&[
            "--to",
            &url,
            "--as",
            provider,
            "--event",
            event,
            "--secret",
            secret,
            "--retries",
            "none",
        ])
        .await;
        let seen = app.wait_for(i + 1).await;
        assert_eq!(seen.len(), i + 1);
        assert_verifies(provider, secret, &url, &seen[i]).await;
    }
}

#[tokio::test]
async fn data_replaces_the_body_and_is_still_signed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("event.json");
    // Odd spacing and a non-ASCII character: the exact bytes must arrive.
    let from_file = "{\n  \"id\": \"evt_from_file\",  \"object\": \"event\",\n  \"type\": \"custom.thing\", \"note\": \"caf\u{e9}\",\n  \"data\": {\"object\": {\"n\": 1}}\n}";
    std::fs::write(&file, from_file).expect("write event file");
    let app = App::ok().await;

    // --data @file.json, Stripe.
    let url = app.url("/from-file");
    let at_file = format!("@{}", file.display());
    send_ok(&[
        "--to",
        &url,
        "--as",
        "stripe",
        "--secret",
        "whsec_f",
        "--retries",
        "none",
        "--data",
        &at_file,
    ])
    .await;
    let seen = app.wait_for(1).await;
    assert_eq!(seen[0].body, from_file.as_bytes(), "the file's exact bytes");
    assert_verifies("stripe", "whsec_f", &url, &seen[0]).await;

    // --data @- (stdin), GitHub.
    let url = app.url("/from-stdin");
    let from_stdin = br#"{"zen":"Keep it logically awesome.","hook_id":1}"#;
    let run = hookwire(
        &[
            "send",
            "--to",
            &url,
            "--as",
            "github",
            "--secret",
            "gh-s",
            "--retries",
            "none",
            "--data",
            "@-",
        ],
        Some(from_stdin),
    )
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let seen = app.wait_for(2).await;
    assert_eq!(seen[1].body, from_stdin, "stdin's exact bytes");
    assert_verifies("github", "gh-s", &url, &seen[1]).await;

    // Literal text, Twilio (a form body, signed with the URL).
    let url = app.url("/sms?account=AC1");
    let form = "MessageSid=SMcustom&Body=hello+there&From=%2B15550001111&To=%2B15550002222";
    send_ok(&[
        "--to",
        &url,
        "--as",
        "twilio",
        "--secret",
        "tw",
        "--retries",
        "none",
        "--data",
        form,
    ])
    .await;
    let seen = app.wait_for(3).await;
    assert_eq!(seen[2].body, form.as_bytes(), "the literal text");
    assert_verifies("twilio", "tw", &url, &seen[2]).await;

    // Literal JSON, Standard Webhooks.
    let url = app.url("/std");
    let text = r#"{"type":"user.created","data":{"id":"u_1"}}"#;
    send_ok(&[
        "--to",
        &url,
        "--as",
        "standard-webhooks",
        "--secret",
        STANDARD_SECRET,
        "--retries",
        "none",
        "--data",
        text,
    ])
    .await;
    let seen = app.wait_for(4).await;
    assert_eq!(seen[3].body, text.as_bytes());
    assert_verifies("standard-webhooks", STANDARD_SECRET, &url, &seen[3]).await;
    assert_eq!(seen.len(), 4);
}

// ---------------------------------------------------------------------------
// 2. Payload shapes
// ---------------------------------------------------------------------------

/// The Unix-seconds timestamp header is about now.
fn assert_timestamp_now(seen: &Seen, header: &str) {
    let ts: i64 = one_header(seen, header)
        .parse()
        .unwrap_or_else(|_| panic!("{header} is Unix seconds:\n{}", show(seen)));
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits");
    assert!((now - ts).abs() < 60, "{header} {ts} is now ({now})");
}

fn is_uuid(v: &str) -> bool {
    uuid::Uuid::parse_str(v).is_ok()
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key]
        .as_str()
        .unwrap_or_else(|| panic!("{key} is a string in {v}"))
}

fn has_keys(v: &Value, keys: &[&str]) {
    let obj = v.as_object().unwrap_or_else(|| panic!("an object: {v}"));
    for k in keys {
        assert!(obj.contains_key(*k), "{k} missing from {v}");
    }
}

/// Checks what arrived for `provider`'s `event` against the contract.
fn check_shape(provider: &str, event: &str, seen: &Seen) {
    assert_eq!(seen.method, "POST", "{provider} {event}");
    match provider {
        "edenai" => {
            let b = body_json(seen);
            has_keys(
                &b,
                &[
                    "job_id",
                    "status",
                    "cost",
                    "provider",
                    "feature",
                    "subfeature",
                    "output",
                    "error",
                ],
            );
            assert!(is_uuid(str_field(&b, "job_id")), "{b}");
            assert_eq!(b["status"], event, "{b}");
        }
        "abstrakt" => {
            let b = body_json(seen);
            has_keys(&b, &["job_id", "status"]);
            assert!(str_field(&b, "job_id").starts_with("job_"), "{b}");
            assert_eq!(b["status"], event, "{b}");
            if event == "succeeded" {
                has_keys(&b, &["credits_used", "completed_at"]);
                assert!(b["output"]["items"].is_array(), "output.items[]: {b}");
            } else {
                has_keys(&b["error"], &["code", "message"]);
            }
        }
        "cerebrium" => {
            let b = body_json(seen);
            has_keys(&b, &["run_id", "run_time_ms", "message", "result"]);
        }
        "assemblyai" => {
            let b = body_json(seen);
            let obj = b.as_object().expect("object");
            assert_eq!(obj.len(), 2, "only transcript_id and status: {b}");
            assert!(is_uuid(str_field(&b, "transcript_id")), "{b}");
            assert_eq!(b["status"], event, "{b}");
            for (name, value) in [
                ("content-type", "application/json"),
                ("accept", "*/*"),
                ("accept-encoding", "gzip, deflate"),
                ("user-agent", "python-requests/2.25.1"),
            ] {
                assert_eq!(one_header(seen, name), value, "{name}");
            }
        }
        "stripe" => {
            let b = body_json(seen);
            assert!(str_field(&b, "id").starts_with("evt_"), "{b}");
            assert_eq!(b["object"], "event", "{b}");
            assert_eq!(b["type"], event, "{b}");
            assert!(b["created"].is_i64(), "created: {b}");
            assert!(b["data"]["object"].is_object(), "data.object: {b}");
        }
        "github" => {
            let b = body_json(seen);
            let (kind, action) = event.split_once('.').unwrap_or((event, ""));
            assert_eq!(one_header(seen, "x-github-event"), kind);
            assert!(is_uuid(one_header(seen, "x-github-delivery")));
            if !action.is_empty() {
                assert_eq!(b["action"], action, "{b}");
            }
        }
        "standard-webhooks" => {
            body_json(seen);
            assert!(one_header(seen, "webhook-id").starts_with("msg_"));
        }
        "slack" => {
            let b = body_json(seen);
            if event == "url_verification" {
                assert_eq!(b["type"], "url_verification", "{b}");
                assert!(b["challenge"].is_string(), "{b}");
            } else {
                assert_eq!(b["type"], "event_callback", "{b}");
                assert_eq!(b["event"]["type"], event, "{b}");
            }
        }
        "shopify" => {
            body_json(seen);
            assert_eq!(one_header(seen, "x-shopify-topic"), event);
            assert!(!one_header(seen, "x-shopify-webhook-id").is_empty());
            assert!(!one_header(seen, "x-shopify-shop-domain").is_empty());
        }
        "twilio" => {
            assert!(
                one_header(seen, "content-type").starts_with("application/x-www-form-urlencoded"),
                "{}",
                show(seen)
            );
            let params: Vec<(String, String)> = form_urlencoded::parse(&seen.body)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect();
            assert!(
                params.iter().any(|(k, _)| k == "MessageSid"),
                "a Twilio message webhook carries MessageSid: {params:?}"
            );
        }
        other => panic!("no shape for {other}"),
    }
}

/// The header that carries each signing provider's signature.
fn signature_header(provider: &str) -> Option<&'static str> {
    match provider {
        "stripe" => Some("stripe-signature"),
        "github" => Some("x-hub-signature-256"),
        "standard-webhooks" => Some("webhook-signature"),
        "slack" => Some("x-slack-signature"),
        "shopify" => Some("x-shopify-hmac-sha256"),
        "twilio" => Some("x-twilio-signature"),
        _ => None,
    }
}

#[tokio::test]
async fn default_events_reach_the_app_with_the_documented_fields() {
    let app = App::ok().await;
    let defaults = [
        ("edenai", "success"),
        ("abstrakt", "succeeded"),
        ("cerebrium", "completed"),
        ("assemblyai", "completed"),
        ("stripe", "payment_intent.succeeded"),
        ("github", "push"),
        ("standard-webhooks", "user.created"),
        ("slack", "app_mention"),
        ("shopify", "orders/create"),
        ("twilio", "message.received"),
    ];
    for (i, (provider, event)) in defaults.into_iter().enumerate() {
        // No --event: the first one is the default.
        let run = send_ok(&[
            "--to",
            &app.url("/default"),
            "--as",
            provider,
            "--retries",
            "none",
        ])
        .await;
        let seen = app.wait_for(i + 1).await;
        assert_eq!(seen.len(), i + 1, "one request per run");
        check_shape(provider, event, &seen[i]);
        if let Some(sig) = signature_header(provider) {
            assert!(
                seen[i].header_values(sig).is_empty(),
                "{provider} without --secret sends no {sig}"
            );
            assert!(
                seen[i].header_values("x-hub-signature").is_empty(),
                "{provider} without --secret sends no x-hub-signature"
            );
            assert!(
                !run.stderr.trim().is_empty(),
                "{provider} without --secret notes that it is unsigned on stderr"
            );
        }
    }
}

#[tokio::test]
async fn other_events_reach_the_app_with_the_documented_fields() {
    let app = App::ok().await;
    let events = [
        ("edenai", "fail"),
        ("abstrakt", "failed"),
        ("cerebrium", "failed"),
        ("assemblyai", "error"),
        ("stripe", "payment_intent.payment_failed"),
        ("stripe", "checkout.session.completed"),
        ("github", "ping"),
        ("github", "pull_request.opened"),
        ("github", "workflow_run.completed"),
        ("standard-webhooks", "invoice.paid"),
        ("slack", "message"),
        ("slack", "url_verification"),
        ("shopify", "orders/paid"),
        ("twilio", "message.delivered"),
    ];
    for (i, (provider, event)) in events.into_iter().enumerate() {
        send_ok(&[
            "--to",
            &app.url("/other"),
            "--as",
            provider,
            "--event",
            event,
            "--retries",
            "none",
        ])
        .await;
        let seen = app.wait_for(i + 1).await;
        assert_eq!(seen.len(), i + 1, "one request per run");
        check_shape(provider, event, &seen[i]);
    }
}

/// The id a run's event carries.
fn event_id(provider: &str, seen: &Seen) -> String {
    match provider {
        "edenai" | "abstrakt" => str_field(&body_json(seen), "job_id").to_owned(),
        "cerebrium" => body_json(seen)["run_id"].to_string(),
        "assemblyai" => str_field(&body_json(seen), "transcript_id").to_owned(),
        "stripe" => str_field(&body_json(seen), "id").to_owned(),
        "github" => one_header(seen, "x-github-delivery").to_owned(),
        "standard-webhooks" => one_header(seen, "webhook-id").to_owned(),
        "shopify" => one_header(seen, "x-shopify-webhook-id").to_owned(),
        other => panic!("no id for {other}"),
    }
}

#[tokio::test]
async fn every_run_mints_fresh_ids() {
    let app = App::ok().await;
    let providers = [
        "edenai",
        "abstrakt",
        "cerebrium",
        "assemblyai",
        "stripe",
        "github",
        "standard-webhooks",
        "shopify",
    ];
    let mut n = 0;
    for provider in providers {
        for _ in 0..2 {
            send_ok(&[
                "--to",
                &app.url("/fresh"),
                "--as",
                provider,
                "--retries",
                "none",
            ])
            .await;
            n += 1;
        }
        let seen = app.wait_for(n).await;
        let (a, b) = (
            event_id(provider, &seen[n - 2]),
            event_id(provider, &seen[n - 1]),
        );
        assert_ne!(a, b, "{provider}: two runs, two ids");
        assert_ne!(
            seen[n - 2].body,
            seen[n - 1].body,
            "{provider}: two runs, two bodies"
        );
    }
}

#[tokio::test]
async fn assemblyai_sends_its_headers_and_the_auth_header() {
    let app = App::ok().await;
    send_ok(&[
        "--to",
        &app.url("/aai"),
        "--as",
        "assemblyai",
        "--auth-header",
        "X-Auth=s3cret",
        "--retries",
        "none",
    ])
    .await;
    let seen = app.wait_for(1).await;
    check_shape("assemblyai", "completed", &seen[0]);
    assert_eq!(one_header(&seen[0], "x-auth"), "s3cret");

    // Allowed for any provider, next to its signature.
    send_ok(&[
        "--to",
        &app.url("/gh"),
        "--as",
        "github",
        "--secret",
        "gh",
        "--auth-header",
        "X-Api-Key=k=v",
        "--retries",
        "none",
    ])
    .await;
    let seen = app.wait_for(2).await;
    assert_eq!(
        one_header(&seen[1], "x-api-key"),
        "k=v",
        "split at the first ="
    );
    assert_verifies("github", "gh", &app.url("/gh"), &seen[1]).await;
    assert_eq!(seen.len(), 2);
}

// ---------------------------------------------------------------------------
// 3. Retry policies
// ---------------------------------------------------------------------------

/// Asserts the attempt lines start with `want` (in order, one per attempt).
fn assert_attempts(run: &Run, want: &[&str]) {
    let lines = run.attempts();
    assert_eq!(
        lines.len(),
        want.len(),
        "{} attempt lines expected: {run:#?}",
        want.len()
    );
    for (line, prefix) in lines.iter().zip(want) {
        assert!(
            line.starts_with(prefix),
            "{line:?} should start with {prefix:?}: {run:#?}"
        );
    }
}

/// After each delivery's attempt lines, its summary line (prefixed
/// `duplicate N: ` for a duplicate); the last line sums up the last one.
fn assert_summary(run: &Run, delivered: bool) {
    let deliveries = 1 + run
        .attempts()
        .iter()
        .filter(|l| l.starts_with("duplicate ") && l.contains(": attempt 1 -> "))
        .count();
    assert_eq!(
        run.other_lines().len(),
        deliveries,
        "one summary line per delivery: {run:#?}"
    );
    let s = run.summary();
    let s = match s.strip_prefix("duplicate ") {
        Some(rest) => rest.split_once(": ").map_or(rest, |(_, r)| r),
        None => s,
    };
    if delivered {
        assert!(s.starts_with("delivered"), "summary {s:?}: {run:#?}");
    } else {
        assert!(s.starts_with("not delivered"), "summary {s:?}: {run:#?}");
    }
}

#[tokio::test]
async fn assemblyai_retries_after_500s_until_it_gets_a_200() {
    let app = App::start(vec![reply(500), reply(500), reply(200)]).await;
    let run = send(&[
        "--to",
        &app.url("/aai"),
        "--as",
        "assemblyai",
        "--retries",
        "provider",
        "--time-scale",
        "0.001",
    ])
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let seen = app.seen();
    assert_eq!(seen.len(), 3, "exactly three requests: {run:#?}");
    let ids: Vec<String> = seen.iter().map(|s| event_id("assemblyai", s)).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "same transcript: {ids:?}"
    );
    assert!(seen.iter().all(|s| s.body == seen[0].body));
    assert_attempts(
        &run,
        &[
            "attempt 1 -> 500 ",
            "attempt 2 -> 500 ",
            "attempt 3 -> 200 ",
        ],
    );
    assert!(run.attempts()[0].ends_with(" ms"), "{run:#?}");
    assert_summary(&run, true);
}

#[tokio::test]
async fn assemblyai_gives_up_after_eleven_attempts() {
    let app = App::start(vec![reply(500)]).await;
    let run = send(&[
        "--to",
        &app.url("/aai"),
        "--as",
        "assemblyai",
        "--time-scale",
        "0.001",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(app.seen().len(), 11, "1 + 10 retries: {run:#?}");
    let want: Vec<String> = (1..=11).map(|i| format!("attempt {i} -> 500 ")).collect();
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_attempts(&run, &want);
    assert_summary(&run, false);
}

#[tokio::test]
async fn assemblyai_does_not_retry_when_unreachable_but_standard_webhooks_does() {
    let url = closed_url("/gone");
    let run = send(&["--to", &url, "--as", "assemblyai", "--time-scale", "0.001"]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_attempts(&run, &["attempt 1 -> unreachable: "]);
    assert_summary(&run, false);

    // 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h scaled to about a second.
    let run = send(&[
        "--to",
        &url,
        "--as",
        "standard-webhooks",
        "--time-scale",
        "0.00001",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    let want: Vec<String> = (1..=8)
        .map(|i| format!("attempt {i} -> unreachable: "))
        .collect();
    let want: Vec<&str> = want.iter().map(String::as_str).collect();
    assert_attempts(&run, &want);
    assert_summary(&run, false);
}

#[tokio::test]
async fn github_never_retries() {
    let app = App::start(vec![reply(500)]).await;
    let run = send(&[
        "--to",
        &app.url("/gh"),
        "--as",
        "github",
        "--secret",
        "gh",
        "--retries",
        "provider",
        "--time-scale",
        "0.001",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(app.seen().len(), 1);
    assert_attempts(&run, &["attempt 1 -> 500 "]);
    assert_summary(&run, false);
}

#[tokio::test]
async fn slack_retries_carry_their_number_and_reason_and_stay_signed() {
    let secret = "slack-signing-secret";
    let app = App::start(vec![reply(500)]).await;
    let url = app.url("/slack/events");
    let run = send(&[
        "--to",
        &url,
        "--as",
        "slack",
        "--secret",
        secret,
        "--time-scale",
        "0.001",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    let seen = app.seen();
    assert_eq!(seen.len(), 4, "1 + 3 retries: {run:#?}");
    assert!(
        seen[0].header_values("x-slack-retry-num").is_empty(),
        "the first attempt is no retry"
    );
    assert!(seen[0].header_values("x-slack-retry-reason").is_empty());
    for (i, s) in seen.iter().enumerate().skip(1) {
        assert_eq!(one_header(s, "x-slack-retry-num"), i.to_string());
        assert!(!one_header(s, "x-slack-retry-reason").is_empty());
        assert_eq!(s.body, seen[0].body, "a retry resends the same event");
    }
    for s in &seen {
        assert_verifies("slack", secret, &url, s).await;
    }
    assert_attempts(
        &run,
        &[
            "attempt 1 -> 500 ",
            "attempt 2 -> 500 ",
            "attempt 3 -> 500 ",
            "attempt 4 -> 500 ",
        ],
    );
}

#[tokio::test]
async fn slack_stops_retrying_on_x_slack_no_retry() {
    let mut no_retry = reply(500);
    no_retry.headers = vec![("X-Slack-No-Retry".into(), "1".into())];
    let app = App::start(vec![no_retry]).await;
    let run = send(&[
        "--to",
        &app.url("/slack"),
        "--as",
        "slack",
        "--time-scale",
        "0.001",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_eq!(app.seen().len(), 1, "{run:#?}");
    assert_attempts(&run, &["attempt 1 -> 500 "]);
}

/// An app that takes 5 s to answer.
async fn hanging_app() -> App {
    let mut slow = reply(200);
    slow.delay = Duration::from_secs(5);
    App::start(vec![slow]).await
}

#[tokio::test]
async fn a_timeout_is_a_failed_attempt() {
    let app = hanging_app().await;
    let run = send(&[
        "--to",
        &app.url("/slow"),
        "--as",
        "github",
        "--timeout",
        "200ms",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_attempts(&run, &["attempt 1 -> timeout after 200 ms"]);
    assert_summary(&run, false);
    assert!(
        run.elapsed < Duration::from_secs(3),
        "gave up after 200 ms, not after the app's 5 s: {run:#?}"
    );
    assert_eq!(app.wait_for(1).await.len(), 1);

    // A scaled timeout never goes below 100 ms (GitHub's 10 s × 0.001).
    let run = send(&[
        "--to",
        &app.url("/slow"),
        "--as",
        "github",
        "--time-scale",
        "0.001",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_attempts(&run, &["attempt 1 -> timeout after 100 ms"]);
    assert!(run.elapsed < Duration::from_secs(3), "{run:#?}");

    // AssemblyAI does not retry after a timeout.
    let run = send(&[
        "--to",
        &app.url("/slow"),
        "--as",
        "assemblyai",
        "--timeout",
        "150ms",
        "--time-scale",
        "0.001",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_attempts(&run, &["attempt 1 -> timeout after 150 ms"]);
    assert!(run.elapsed < Duration::from_secs(3), "{run:#?}");
}

#[tokio::test]
async fn standard_webhooks_retries_after_a_timeout() {
    let app = hanging_app().await;
    let run = send(&[
        "--to",
        &app.url("/slow"),
        "--as",
        "standard-webhooks",
        "--timeout",
        "100ms",
        "--retries",
        "2",
        "--time-scale",
        "0.00001",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    assert_attempts(
        &run,
        &[
            "attempt 1 -> timeout after 100 ms",
            "attempt 2 -> timeout after 100 ms",
            "attempt 3 -> timeout after 100 ms",
        ],
    );
    let seen = app.wait_for(3).await;
    assert_eq!(seen.len(), 3);
    let ids: Vec<String> = seen
        .iter()
        .map(|s| event_id("standard-webhooks", s))
        .collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "a retry keeps the webhook-id: {ids:?}"
    );
}

#[tokio::test]
async fn retries_n_and_none_set_the_number_of_attempts() {
    let app = App::start(vec![reply(500)]).await;
    let url = app.url("/n");
    let cases: [(&str, &str, usize); 5] = [
        ("assemblyai", "2", 3),
        ("assemblyai", "none", 1),
        // GitHub has no schedule of its own: N retries on the default one.
        ("github", "2", 3),
        ("stripe", "none", 1),
        ("edenai", "0", 1),
    ];
    let mut total = 0;
    for (provider, retries, attempts) in cases {
        let run = send(&[
            "--to",
            &url,
            "--as",
            provider,
            "--retries",
            retries,
            "--time-scale",
            "0.001",
        ])
        .await;
        assert_eq!(run.code, 1, "{run:#?}");
        assert_eq!(
            run.attempts().len(),
            attempts,
            "{provider} --retries {retries}: {run:#?}"
        );
        total += attempts;
        assert_eq!(app.seen().len(), total, "{provider} --retries {retries}");
    }
}

#[tokio::test]
async fn each_provider_retries_on_its_own_conditions() {
    // (provider, attempts after 500s, attempts when unreachable)
    let cases = [
        ("stripe", 4, 4),
        ("shopify", 9, 9),
        ("twilio", 1, 2),
        ("edenai", 4, 4),
        ("abstrakt", 4, 4),
        ("cerebrium", 4, 4),
        ("github", 1, 1),
        ("assemblyai", 11, 1),
    ];
    let app = App::start(vec![reply(500)]).await;
    let closed = closed_url("/closed");
    let mut total = 0;
    for (provider, on_500, unreachable) in cases {
        let run = send(&[
            "--to",
            &app.url("/fail"),
            "--as",
            provider,
            "--time-scale",
            "0.00001",
        ])
        .await;
        assert_eq!(run.code, 1, "{run:#?}");
        total += on_500;
        assert_eq!(app.seen().len(), total, "{provider} after 500s: {run:#?}");
        assert_eq!(run.attempts().len(), on_500, "{provider}: {run:#?}");

        let run = send(&["--to", &closed, "--as", provider, "--time-scale", "0.00001"]).await;
        assert_eq!(run.code, 1, "{run:#?}");
        let want: Vec<String> = (1..=unreachable)
            .map(|i| format!("attempt {i} -> unreachable: "))
            .collect();
        let want: Vec<&str> = want.iter().map(String::as_str).collect();
        assert_attempts(&run, &want);
    }
}

// ---------------------------------------------------------------------------
// 4. Duplicates
// ---------------------------------------------------------------------------

#[tokio::test]
async fn duplicates_resend_the_same_event_each_signed() {
    let secret = "whsec_dup";
    let app = App::ok().await;
    let url = app.url("/stripe");
    let run = send_ok(&[
        "--to",
        &url,
        "--as",
        "stripe",
        "--secret",
        secret,
        "--duplicate",
        "2",
        "--retries",
        "none",
    ])
    .await;
    let seen = app.seen();
    assert_eq!(
        seen.len(),
        3,
        "the first delivery and two duplicates: {run:#?}"
    );
    let ids: Vec<String> = seen.iter().map(|s| event_id("stripe", s)).collect();
    assert!(ids.iter().all(|id| *id == ids[0]), "same event: {ids:?}");
    for s in &seen {
        assert_verifies("stripe", secret, &url, s).await;
    }
    assert_attempts(
        &run,
        &[
            "attempt 1 -> 200 ",
            "duplicate 1: attempt 1 -> 200 ",
            "duplicate 2: attempt 1 -> 200 ",
        ],
    );
    assert_summary(&run, true);
}

#[tokio::test]
async fn each_duplicate_gets_the_full_retry_policy() {
    // First delivery: 500 then 200; the duplicate: 500 then 200.
    let app = App::start(vec![reply(500), reply(200), reply(500), reply(200)]).await;
    let run = send_ok(&[
        "--to",
        &app.url("/aai"),
        "--as",
        "assemblyai",
        "--duplicate",
        "1",
        "--time-scale",
        "0.001",
    ])
    .await;
    assert_attempts(
        &run,
        &[
            "attempt 1 -> 500 ",
            "attempt 2 -> 200 ",
            "duplicate 1: attempt 1 -> 500 ",
            "duplicate 1: attempt 2 -> 200 ",
        ],
    );
    let seen = app.seen();
    assert_eq!(seen.len(), 4);
    let ids: Vec<String> = seen.iter().map(|s| event_id("assemblyai", s)).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "same transcript: {ids:?}"
    );
}

// ---------------------------------------------------------------------------
// 5. --json
// ---------------------------------------------------------------------------

#[tokio::test]
async fn json_reports_every_attempt_and_the_request() {
    let app = App::start(vec![reply(500), reply(200)]).await;
    let url = app.url("/aai?x=1");
    let run = send_ok(&[
        "--to",
        &url,
        "--as",
        "assemblyai",
        "--auth-header",
        "X-Auth=s3cret",
        "--time-scale",
        "0.001",
        "--json",
    ])
    .await;
    let v = run.json();
    assert_eq!(v["provider"], "assemblyai", "{v}");
    assert_eq!(v["event"], "completed", "{v}");
    assert_eq!(v["to"], url.as_str(), "{v}");
    assert_eq!(v["ok"], true, "{v}");
    let deliveries = v["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), 1, "{v}");
    assert_eq!(deliveries[0]["ok"], true, "{v}");
    let attempts = deliveries[0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 2, "{v}");
    for (i, (a, status)) in attempts.iter().zip([500, 200]).enumerate() {
        assert_eq!(a["attempt"], i + 1, "{a}");
        assert_eq!(a["status"], status, "{a}");
        assert!(a["ms"].as_f64().is_some_and(|ms| ms >= 0.0), "{a}");
        assert_eq!(a["error"], Value::Null, "{a}");
    }

    let seen = app.seen();
    assert_eq!(seen.len(), 2);
    let req = &v["request"];
    assert_eq!(req["method"], "POST", "{v}");
    assert_eq!(
        req["body"].as_str().expect("body").as_bytes(),
        seen[0].body,
        "the body as sent"
    );
    let headers: Vec<(String, String)> = req["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .map(|pair| {
            let pair = pair.as_array().expect("[name, value]");
            assert_eq!(pair.len(), 2, "{pair:?}");
            (
                pair[0].as_str().expect("name").to_ascii_lowercase(),
                pair[1].as_str().expect("value").to_owned(),
            )
        })
        .collect();
    // The auth header is there, its value (the receiver's secret) masked.
    for (name, value) in [
        ("x-auth", "***"),
        ("content-type", "application/json"),
        ("user-agent", "python-requests/2.25.1"),
    ] {
        assert!(
            headers.iter().any(|(n, v)| n == name && v == value),
            "{name}: {value} in {headers:?}"
        );
    }
}

#[tokio::test]
async fn json_reports_failures_and_duplicates() {
    // Unreachable: no status, an error.
    let run = send(&["--to", &closed_url("/x"), "--as", "assemblyai", "--json"]).await;
    assert_eq!(run.code, 1, "{run:#?}");
    let v = run.json();
    assert_eq!(v["ok"], false, "{v}");
    let attempts = v["deliveries"][0]["attempts"].as_array().expect("attempts");
    assert_eq!(attempts.len(), 1, "{v}");
    assert_eq!(v["deliveries"][0]["ok"], false, "{v}");
    assert_eq!(attempts[0]["status"], Value::Null, "{v}");
    assert!(
        attempts[0]["error"]
            .as_str()
            .is_some_and(|e| e.starts_with("unreachable: ")),
        "{v}"
    );

    // A timeout.
    let app = hanging_app().await;
    let run = send(&[
        "--to",
        &app.url("/slow"),
        "--as",
        "github",
        "--timeout",
        "100ms",
        "--json",
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    let v = run.json();
    let a = &v["deliveries"][0]["attempts"][0];
    assert_eq!(a["status"], Value::Null, "{v}");
    assert_eq!(a["error"], "timeout after 100 ms", "{v}");

    // Duplicates: one entry per delivery; ok only when every one is.
    let app = App::start(vec![reply(200), reply(503)]).await;
    let run = send(&[
        "--to",
        &app.url("/dup"),
        "--as",
        "github",
        "--duplicate",
        "1",
        "--json",
    ])
    .await;
    assert_eq!(run.code, 1, "the duplicate failed: {run:#?}");
    let v = run.json();
    assert_eq!(v["ok"], false, "{v}");
    let deliveries = v["deliveries"].as_array().expect("deliveries");
    assert_eq!(deliveries.len(), 2, "{v}");
    assert_eq!(deliveries[0]["ok"], true, "{v}");
    assert_eq!(deliveries[0]["attempts"][0]["status"], 200, "{v}");
    assert_eq!(deliveries[1]["ok"], false, "{v}");
    assert_eq!(deliveries[1]["attempts"][0]["status"], 503, "{v}");
    assert_eq!(app.seen().len(), 2);
}

// ---------------------------------------------------------------------------
// 6. --list and usage errors
// ---------------------------------------------------------------------------

const EVENTS: [(&str, &[&str]); 10] = [
    ("edenai", &["success", "fail"]),
    ("abstrakt", &["succeeded", "failed"]),
    ("cerebrium", &["completed", "failed"]),
    ("assemblyai", &["completed", "error"]),
    (
        "stripe",
        &[
            "payment_intent.succeeded",
            "payment_intent.payment_failed",
            "checkout.session.completed",
            "charge.refunded",
        ],
    ),
    (
        "github",
        &[
            "push",
            "ping",
            "pull_request.opened",
            "workflow_run.completed",
        ],
    ),
    (
        "standard-webhooks",
        &["user.created", "invoice.paid", "invoice.payment_failed"],
    ),
    ("slack", &["app_mention", "message", "url_verification"]),
    (
        "shopify",
        &["orders/create", "orders/paid", "app/uninstalled"],
    ),
    (
        "twilio",
        &["message.received", "message.delivered", "message.failed"],
    ),
];

#[tokio::test]
async fn list_shows_every_provider_and_event() {
    let run = send_ok(&["--list"]).await;
    for (provider, events) in EVENTS {
        assert!(run.stdout.contains(provider), "{provider}: {}", run.stdout);
        for event in events {
            assert!(
                run.stdout.contains(event),
                "{provider} {event}: {}",
                run.stdout
            );
        }
    }

    let run = send_ok(&["--as", "shopify", "--list"]).await;
    for event in ["orders/create", "orders/paid", "app/uninstalled"] {
        assert!(run.stdout.contains(event), "{event}: {}", run.stdout);
    }
    for other in ["assemblyai", "stripe", "edenai", "payment_intent"] {
        assert!(
            !run.stdout.contains(other),
            "only shopify's: {other} in {}",
            run.stdout
        );
    }
}

#[tokio::test]
async fn usage_errors_exit_2_and_send_nothing() {
    let app = App::ok().await;
    let url = app.url("/usage");
    let cases: [(&[&str], &str); 5] = [
        (&["--to", &url, "--as", "nope"], "nope"),
        (&["--to", &url, "--as", "stripe", "--event", "push"], "push"),
        (
            &["--to", &url, "--as", "assemblyai", "--secret", "x"],
            "--auth-header",
        ),
        (
            &["--to", &url, "--as", "edenai", "--secret", "x"],
            "--auth-header",
        ),
        (
            &[
                "--to",
                &url,
                "--as",
                "standard-webhooks",
                "--secret",
                "not-whsec",
            ],
            "whsec_",
        ),
    ];
    for (args, mentions) in cases {
        let run = send(args).await;
        assert_eq!(run.code, 2, "{args:?}: {run:#?}");
        assert!(
            run.stderr.contains(mentions),
            "{args:?}: stderr should mention {mentions:?}: {run:#?}"
        );
        assert!(run.attempts().is_empty(), "{args:?}: {run:#?}");
    }
    let run = send(&["--as", "stripe"]).await;
    assert_eq!(run.code, 2, "--to is needed: {run:#?}");

    // Nothing went out: a valid run afterwards is the only request.
    send_ok(&["--to", &url, "--as", "edenai", "--retries", "none"]).await;
    let seen = app.wait_for(1).await;
    assert_eq!(seen.len(), 1, "only the valid run arrived");
    check_shape("edenai", "success", &seen[0]);
}

#[tokio::test]
async fn a_standard_webhooks_secret_must_be_whsec_base64() {
    let app = App::ok().await;
    let url = app.url("/std");
    // The prefix without base64 is refused before anything is sent.
    let run = send(&[
        "--to",
        &url,
        "--as",
        "standard-webhooks",
        "--secret",
        "whsec_%%%",
        "--retries",
        "none",
    ])
    .await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("whsec_"), "{run:#?}");
    assert!(run.attempts().is_empty(), "{run:#?}");
    // Bare base64 is taken as the key, as the official SDK (and the
    // server's own check) take it: what arrives verifies.
    send_ok(&[
        "--to",
        &url,
        "--as",
        "standard-webhooks",
        "--secret",
        "bm9wZQ==",
        "--retries",
        "none",
    ])
    .await;
    let seen = app.wait_for(1).await;
    assert_eq!(seen.len(), 1, "only the valid run was sent");
    assert_verifies("standard-webhooks", "bm9wZQ==", &url, &seen[0]).await;
}

// ---------------------------------------------------------------------------
// hookwire send into a hookwire server
// ---------------------------------------------------------------------------

async fn set_secrets(s: &TestServer, bin: &str, secrets: Value) {
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/secrets")))
        .json_body(&secrets)
        .send()
        .await
        .expect("put secrets");
    let status = res.status();
    let v = common::json(res).await;
    assert_eq!(status, 200, "{v}");
}

#[tokio::test]
async fn the_server_verifies_what_send_signs() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let secrets = [
        ("stripe", "whsec_server_check"),
        ("github", "gh-server"),
        ("standard-webhooks", STANDARD_SECRET),
        ("slack", "slack-server"),
        ("shopify", "shpss_server"),
        ("twilio", "twilio-server"),
    ];
    let mut body = serde_json::Map::new();
    for (scheme, secret) in secrets {
        body.insert(scheme.into(), json!(secret));
    }
    body.insert(
        "header".into(),
        json!({"name": "X-Auth", "value": "s3cret"}),
    );
    set_secrets(&s, &bin, Value::Object(body)).await;

    // Stripe first: the server's own check says verified.
    let mut sent = 0;
    for (scheme, secret) in secrets {
        let url = s.url(&format!("/{bin}/hooks/{scheme}?via=send"));
        send_ok(&[
            "--to",
            &url,
            "--as",
            scheme,
            "--secret",
            secret,
            "--retries",
            "none",
        ])
        .await;
        sent += 1;
        let stored = s.requests(&bin).await;
        assert_eq!(stored.len(), sent);
        let sig = &stored[0]["signature"];
        assert_eq!(sig["scheme"], scheme, "{sig}");
        assert_eq!(sig["verified"], true, "the server verifies {scheme}: {sig}");
    }

    // AssemblyAI's static header.
    send_ok(&[
        "--to",
        &s.url(&format!("/{bin}/aai")),
        "--as",
        "assemblyai",
        "--auth-header",
        "X-Auth=s3cret",
        "--retries",
        "none",
    ])
    .await;
    let stored = s.requests(&bin).await;
    assert_eq!(stored.len(), sent + 1);
    let sig = &stored[0]["signature"];
    assert_eq!(sig["scheme"], "header", "{sig}");
    assert_eq!(sig["verified"], true, "{sig}");

    // And a run signed with another secret is caught.
    send_ok(&[
        "--to",
        &s.url(&format!("/{bin}/wrong")),
        "--as",
        "stripe",
        "--secret",
        "whsec_other",
        "--retries",
        "none",
    ])
    .await;
    let stored = s.requests(&bin).await;
    let sig = &stored[0]["signature"];
    assert_eq!(sig["scheme"], "stripe", "{sig}");
    assert_eq!(sig["verified"], false, "{sig}");
    s.stop().await;
}

/// The whole loop in one bin: its rules fail the first two arrivals of a
/// webhook, `send` plays Slack's retries, and the server groups them by
/// Slack's `event_id`.
#[tokio::test]
async fn slack_retries_into_a_bin_are_counted_by_its_rules_and_grouped() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/rules")))
        .body(
            json!({"rules": [{"name": "flaky", "match": ["method=POST"], "attempts": "1-2",
                              "response": {"status": 503, "body": "busy"}}]})
            .to_string(),
        )
        .send()
        .await
        .expect("put rules");
    assert_eq!(res.status(), 200);
    let run = send(&[
        "--to",
        &s.url(&format!("/{bin}")),
        "--as",
        "slack",
        "--secret",
        "8f742231b10e8888abcd99yyyzzz85a5",
        "--time-scale",
        "0.0001",
    ])
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert_attempts(
        &run,
        &[
            "attempt 1 -> 503 ",
            "attempt 2 -> 503 ",
            "attempt 3 -> 200 ",
        ],
    );
    let requests = s.requests(&bin).await;
    assert_eq!(requests.len(), 3, "{requests:?}");
    let key = requests[0]["idempotency_key"].as_str().expect("a key");
    assert!(key.starts_with("slack-event:Ev"), "{key}");
    assert!(
        requests.iter().all(|r| r["idempotency_key"] == key),
        "{requests:?}"
    );
    let rules: Vec<&Value> = requests.iter().map(|r| &r["rule"]).collect();
    assert_eq!(
        rules.iter().filter(|r| **r == "flaky").count(),
        2,
        "{rules:?}"
    );
}
