//! Output a script can trust (SPEC §14), from the real binary: redirected
//! output carries no escape sequence and no `\r`; `serve --log-format
//! json` writes nothing but JSON objects; `NO_COLOR` is honoured on a
//! terminal (util-linux `script` gives one); `wait --json` is one compact
//! line where `wait` indents for a person; `send` counts its retry pause
//! down on a terminal only; milliseconds carry at most 2 decimals.

use crate::common;

use std::io::{Read as _, Write as _};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use common::proc::Proc;
use common::tunnel::{LocalApp, eventually};
use serde_json::Value;

/// Polls until one of `lines()` contains `text`; that line.
async fn line_with(what: &str, lines: impl Fn() -> Vec<String>, text: &str) -> String {
    eventually(what, || {
        let found = lines().into_iter().find(|l| l.contains(text));
        async move { found }
    })
    .await
}

/// `hookwire serve` on a free port with a fresh database; its base URL,
/// read from the first line (text or JSON).
async fn serve(dir: &tempfile::TempDir, flags: &[&str], env: &[(&str, &str)]) -> (Proc, String) {
    let db = dir.path().join("o.db");
    let db = db.to_str().expect("utf-8 path");
    let mut args = vec!["serve", "--listen", "127.0.0.1:0", "--db", db];
    args.extend_from_slice(flags);
    let p = Proc::start_env(&args, env);
    let first = line_with("the listening line", || p.stderr(), "is listening on").await;
    let addr = match serde_json::from_str::<Value>(&first) {
        Ok(event) => event["fields"]["addr"].as_str().expect("addr").to_owned(),
        Err(_) => first
            .trim_start_matches("hookwire is listening on ")
            .split(';')
            .next()
            .expect("addr")
            .to_owned(),
    };
    (p, format!("http://{addr}"))
}

/// A new bin of the server at `base`; its capture URL.
async fn new_bin(base: &str) -> String {
    let res = reqwest::Client::new()
        .post(format!("{base}/api/bins"))
        .send()
        .await
        .expect("mint");
    assert_eq!(res.status(), 201);
    let id = common::json(res).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    format!("{base}/{id}")
}

/// Captures `body` at `capture`; the request id.
async fn capture(capture: &str, body: &str) -> i64 {
    let res = reqwest::Client::new()
        .post(capture)
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("capture");
    assert!(res.status().is_success(), "capture: {}", res.status());
    common::request_id(&res)
}

/// A `hookwire` command with a terminal as its stdin, stdout and stderr
/// (util-linux `script`), `NO_COLOR` unset unless `env` sets it; what it
/// writes to either stream, byte for byte as it comes (a progress line
/// has no `\n` to wait for). Killed on drop.
struct Terminal {
    script: Child,
    out: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    fn start(args: &[&str], env: &[(&str, &str)]) -> Self {
        let quote = |a: &str| format!("'{}'", a.replace('\'', r"'\''"));
        let binary = common::binary().display().to_string();
        let line: Vec<String> = std::iter::once(binary.as_str())
            .chain(args.iter().copied())
            .map(quote)
            .collect();
        let mut cmd = Command::new("script");
        // `exec`: hookwire is script's child, to be signalled directly.
        cmd.args(["-qfec", &format!("exec {}", line.join(" ")), "/dev/null"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HOOKWIRE_") {
                cmd.env_remove(name);
            }
        }
        cmd.env_remove("NO_COLOR").envs(env.iter().copied());
        let mut script = cmd
            .spawn()
            .expect("run util-linux script (package bsdutils)");
        let mut pipe = script.stdout.take().expect("stdout");
        let out = Arc::new(Mutex::new(Vec::new()));
        let sink = out.clone();
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n @ 1..) = pipe.read(&mut buf) {
                sink.lock().expect("lock").extend_from_slice(&buf[..n]);
            }
        });
        Self {
            script,
            out,
            reader: Some(reader),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.out.lock().expect("lock")).into_owned()
    }

    /// Waits until the output contains `text`.
    async fn until(&self, text: &str) {
        eventually(&format!("{text:?} on the terminal"), || {
            let seen = self.text().contains(text);
            async move { seen.then_some(()) }
        })
        .await;
    }

    /// Sends SIGTERM to hookwire itself.
    fn terminate(&self) {
        let pid = self.script.id();
        let children = std::fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
            .expect("script's children");
        let child = children.split_whitespace().next().expect("hookwire runs");
        let ok = Command::new("kill")
            .args(["-TERM", child])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -TERM failed");
    }

    /// Waits (bounded) for the exit; its code and everything written.
    async fn finish(mut self) -> (Option<i32>, String) {
        let status = eventually("the command's exit", || {
            let status = self.script.try_wait().expect("try_wait");
            async move { status }
        })
        .await;
        if let Some(reader) = self.reader.take() {
            tokio::task::spawn_blocking(move || reader.join().expect("reader"))
                .await
                .expect("join");
        }
        (status.code(), self.text())
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.script.kill();
        let _ = self.script.wait();
    }
}

#[track_caller]
fn no_escapes(what: &str, lines: &[String]) {
    for line in lines {
        assert!(
            !line.contains('\u{1b}') && !line.contains('\r'),
            "{what}: an escape sequence or \\r in redirected output: {line:?}\nall: {lines:#?}"
        );
    }
}

/// The number after every `"KEY":` in `text`, as written.
fn numbers_after(text: &str, key: &str) -> Vec<String> {
    let pattern = format!("\"{key}\":");
    text.match_indices(&pattern)
        .map(|(at, _)| {
            text[at + pattern.len()..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect()
        })
        .collect()
}

#[track_caller]
fn at_most_two_decimals(what: &str, numbers: &[String]) {
    assert!(!numbers.is_empty(), "{what}: no number found");
    for n in numbers {
        let decimals = n.split_once('.').map_or(0, |(_, d)| d.len());
        assert!(decimals <= 2, "{what}: {n} has {decimals} decimals");
    }
}

#[tokio::test]
async fn json_logs_are_all_json_objects_with_spans() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut server, base) = serve(
        &dir,
        &["--log-format", "json"],
        // Debug, for the connection's own events.
        &[("HOOKWIRE_LOG", "hookwire=debug")],
    )
    .await;
    let cap = new_bin(&base).await;
    capture(&cap, r#"{"n":1}"#).await;
    // Not HTTP: the connection ends with an error, logged in its span.
    let addr = base.trim_start_matches("http://").to_owned();
    tokio::task::spawn_blocking(move || {
        let mut tcp = std::net::TcpStream::connect(addr).expect("connect");
        tcp.write_all(b"NOT HTTP AT ALL\r\n\r\n").expect("write");
        let _ = tcp.read_to_end(&mut Vec::new());
    })
    .await
    .expect("join");
    let app = LocalApp::start().await;
    let mut tunnel = Proc::start(&["tunnel", &cap, "--to", &app.url(), "--name", "json-logs"]);
    line_with("tunnel connected", || server.stderr(), "tunnel connected").await;
    tunnel.stop().await;
    line_with("tunnel closed", || server.stderr(), "tunnel closed").await;
    let done = server.stop_with("TERM").await;
    assert!(!done.stderr.is_empty());
    let events: Vec<Value> = done
        .stderr
        .iter()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: not JSON: {l}"));
            assert!(v.is_object(), "not an object: {l}");
            for key in ["level", "target", "fields", "timestamp"] {
                assert!(!v[key].is_null(), "no {key:?} in {l}");
            }
            v
        })
        .collect();
    let message = |e: &Value| e["fields"]["message"].as_str().unwrap_or("").to_owned();
    let listening = &events[0];
    assert_eq!(listening["level"], "INFO");
    assert_eq!(
        format!(
            "http://{}",
            listening["fields"]["addr"].as_str().expect("addr")
        ),
        base
    );
    assert!(
        listening["fields"]["db"]
            .as_str()
            .is_some_and(|d| d.ends_with("o.db"))
    );
    assert_eq!(listening["fields"]["durability"], "process");
    let connected = events
        .iter()
        .find(|e| message(e) == "tunnel connected")
        .expect("tunnel connected");
    assert_eq!(connected["span"]["name"], "tunnel", "{connected}");
    assert_eq!(connected["span"]["tunnel"], "json-logs", "{connected}");
    let bin = cap.rsplit('/').next().expect("bin id");
    assert_eq!(connected["span"]["bin"], bin, "{connected}");
    assert!(
        events
            .iter()
            .any(|e| e["spans"].as_array().is_some_and(|s| s
                .iter()
                .any(|s| s["name"] == "conn" && s["peer"].is_string()))),
        "no event in a conn{{peer}} span: {events:#?}"
    );
    assert!(
        events.iter().any(|e| message(e).contains("shutting down")),
        "no shutdown event: {events:#?}"
    );
}

/// Also the flag audit: `--db-ca-cert` with an SQLite `--db` did nothing.
#[tokio::test]
async fn a_failed_start_is_a_json_line_too() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("x.db");
    let mut p = Proc::start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--db",
        db.to_str().expect("utf-8"),
        "--db-ca-cert",
        "/nonexistent/ca.pem",
    ]);
    let done = p.finish().await;
    assert_eq!(done.code(), Some(1), "{done:#?}");
    let last: Value = serde_json::from_str(done.stderr.last().expect("a line")).expect("JSON");
    assert_eq!(last["level"], "ERROR");
    let error = last["fields"]["error"].as_str().expect("error");
    assert!(
        error.contains("--db-ca-cert") && error.contains("SQLite"),
        "{error}"
    );
}

#[tokio::test]
async fn redirected_output_has_no_escape_sequences() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut server, base) = serve(&dir, &[], &[]).await;
    let cap = new_bin(&base).await;
    let app = LocalApp::start().await;
    let mut tunnel = Proc::start(&["tunnel", &cap, "--to", &app.url(), "--name", "plain"]);
    let mut tail = Proc::start(&["tail", &cap]);
    line_with("tail's start", || tail.stderr(), "tailing bin").await;
    line_with("the tunnel's hello", || tunnel.stderr(), "connected").await;
    let mut wait = Proc::start(&["wait", &cap, "--timeout", "20s", "--after", "0"]);
    let id = capture(&cap, r#"{"n":1}"#).await;
    app.wait_for(1).await;
    let waited = wait.finish().await;
    assert_eq!(waited.one_json_line()["id"], id);
    line_with("the tunnel's line", || tunnel.stdout(), "->").await;
    line_with("tail's line", || tail.stdout(), &format!("#{id}")).await;
    // A retry pause long enough for a countdown on a terminal (1.2 s).
    let mut send = Proc::start(&[
        "send",
        "--to",
        "http://127.0.0.1:1/hook",
        "--as",
        "stripe",
        "--retries",
        "1",
        "--time-scale",
        "0.004",
    ]);
    let sent = send.finish().await;
    assert_eq!(sent.code(), Some(1), "{sent:#?}");
    assert!(!sent.stderr_text().contains("next attempt in"), "{sent:#?}");
    let tunneled = tunnel.stop().await;
    let tailed = tail.stop().await;
    let served = server.stop_with("TERM").await;
    for (what, done) in [
        ("serve", &served),
        ("tunnel", &tunneled),
        ("tail", &tailed),
        ("wait", &waited),
        ("send", &sent),
    ] {
        no_escapes(&format!("{what} stdout"), &done.stdout);
        no_escapes(&format!("{what} stderr"), &done.stderr);
    }
}

/// serve's log lines are coloured for a person at a terminal, not with
/// `NO_COLOR`, and never when redirected (above).
#[tokio::test]
async fn no_color_is_honoured_on_a_terminal() {
    for no_color in [false, true] {
        let dir = tempfile::tempdir().expect("dir");
        let db = dir.path().join("t.db");
        let args = [
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--db",
            db.to_str().expect("utf-8"),
        ];
        let env: &[(&str, &str)] = if no_color { &[("NO_COLOR", "1")] } else { &[] };
        let term = Terminal::start(&args, env);
        term.until("is listening on").await;
        term.terminate();
        let (code, text) = term.finish().await;
        assert_eq!(code, Some(0), "{text}");
        assert!(text.contains("shutting down"), "{text}");
        assert_eq!(
            text.contains('\u{1b}'),
            !no_color,
            "NO_COLOR={no_color}: colour codes present iff allowed: {text:?}"
        );
    }
}

/// The JSON text in a terminal's output, after any progress line.
fn json_in(text: &str) -> String {
    let text = text.replace('\r', "");
    let start = text.find('{').expect("a JSON object");
    text[start..].trim_end().to_owned()
}

#[tokio::test]
async fn wait_indents_for_a_person_and_json_is_one_compact_line() {
    let dir = tempfile::tempdir().expect("dir");
    let (_server, base) = serve(&dir, &[], &[]).await;
    let cap = new_bin(&base).await;
    let id = capture(&cap, r#"{"a":{"b":[1,2]}}"#).await;
    let args = ["wait", &cap, "--after", "0", "--timeout", "20s"];
    let (code, pretty) = Terminal::start(&args, &[]).finish().await;
    assert_eq!(code, Some(0), "{pretty}");
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let (code, compact) = Terminal::start(&json_args, &[]).finish().await;
    assert_eq!(code, Some(0), "{compact}");
    let (pretty, compact) = (json_in(&pretty), json_in(&compact));
    assert_ne!(pretty, compact, "wait and wait --json print the same");
    assert!(pretty.lines().count() > 10, "indented: {pretty}");
    assert_eq!(compact.lines().count(), 1, "one line: {compact}");
    let (p, c): (Value, Value) = (
        serde_json::from_str(&pretty).expect("pretty is JSON"),
        serde_json::from_str(&compact).expect("compact is JSON"),
    );
    assert_eq!(p, c);
    assert_eq!(c["id"], id);
    // Redirected, both are the one compact line a script reads.
    for extra in [None, Some("--json")] {
        let mut a = args.to_vec();
        a.extend(extra);
        let mut p = Proc::start(&a);
        let got = p.finish().await.one_json_line();
        assert_eq!(got, c);
    }
}

#[tokio::test]
async fn wait_shows_how_long_it_has_waited_on_a_terminal_only() {
    let dir = tempfile::tempdir().expect("dir");
    let (_server, base) = serve(&dir, &[], &[]).await;
    let cap = new_bin(&base).await;
    let args = ["wait", &cap, "--timeout", "1s", "--match", "method=PUT"];
    let (code, text) = Terminal::start(&args, &[]).finish().await;
    assert_eq!(code, Some(1), "timed out: {text}");
    assert!(
        text.contains("\rwaiting 0:00 of 0:01 for a request matching method=PUT"),
        "{text:?}"
    );
    let mut quiet = Proc::start(&args);
    let quiet = quiet.finish().await;
    assert_eq!(quiet.code(), Some(1));
    assert!(!quiet.stderr_text().contains("waiting"), "{quiet:#?}");
    no_escapes("wait stderr", &quiet.stderr);
}

#[tokio::test]
async fn send_counts_down_its_retry_pause_on_a_terminal() {
    // Stripe's first retry is 5 min later: 1.2 s at this scale.
    let args = [
        "send",
        "--to",
        "http://127.0.0.1:1/hook",
        "--as",
        "stripe",
        "--retries",
        "1",
        "--time-scale",
        "0.004",
    ];
    let (code, text) = Terminal::start(&args, &[]).finish().await;
    assert_eq!(code, Some(1), "not delivered: {text}");
    assert!(
        text.contains("retrying in 1.2 s (retry 1 of 1)"),
        "{text:?}"
    );
    assert!(text.contains("\rnext attempt in 0:01"), "{text:?}");
    assert!(text.contains("attempt 2 ->"), "{text:?}");
    assert!(
        !text.contains("--time-scale 0.001"),
        "no hint when scaled: {text:?}"
    );
}

/// At the real schedule the pause is long: a person is told once that
/// `--time-scale` shortens it, and sees the countdown start.
#[tokio::test]
async fn send_at_the_real_schedule_hints_at_time_scale() {
    let args = [
        "send",
        "--to",
        "http://127.0.0.1:1/hook",
        "--as",
        "stripe",
        "--retries",
        "1",
    ];
    let term = Terminal::start(&args, &[]);
    term.until("--time-scale 0.001 turns 5 min into 300 ms")
        .await;
    term.until("\rnext attempt in 5:00").await;
    // Dropping `term` ends it: nobody waits 5 minutes.
}

#[tokio::test]
async fn milliseconds_have_at_most_two_decimals() {
    let dir = tempfile::tempdir().expect("dir");
    let (_server, base) = serve(&dir, &[], &[]).await;
    let cap = new_bin(&base).await;
    let mut send = Proc::start(&[
        "send",
        "--to",
        &cap,
        "--as",
        "github",
        "--duplicate",
        "3",
        "--json",
    ]);
    let sent = send.finish().await;
    sent.one_json_line();
    at_most_two_decimals("send --json", &numbers_after(&sent.stdout[0], "ms"));
    let app = LocalApp::start().await;
    let bin = cap.rsplit('/').next().expect("bin");
    let id = capture(&cap, "{}").await;
    let mut resend = Proc::start(&[
        "resend",
        &format!("{base}/api/bins/{bin}/requests/{id}"),
        "--to",
        &app.url(),
        "--json",
    ]);
    let resent = resend.finish().await;
    resent.one_json_line();
    at_most_two_decimals("resend --json", &numbers_after(&resent.stdout[0], "ms"));
    // The tunnel's latency, as the API reports it.
    let tunnel = Proc::start(&["tunnel", &cap, "--to", &app.url(), "--name", "ms"]);
    line_with("the tunnel's hello", || tunnel.stderr(), "connected").await;
    let id = capture(&cap, "{}").await;
    let text = eventually("a recorded delivery", || {
        let url = format!("{base}/api/bins/{bin}/requests/{id}");
        async move {
            let text = reqwest::get(url).await.ok()?.text().await.ok()?;
            text.contains("\"latency_ms\"").then_some(text)
        }
    })
    .await;
    drop(tunnel);
    at_most_two_decimals("the API's latency_ms", &numbers_after(&text, "latency_ms"));
}

/// The flag audit: a flag that would be silently ignored is refused,
/// saying what to do.
#[tokio::test]
async fn flags_that_would_do_nothing_are_refused() {
    let mut tunnel = Proc::start(&[
        "tunnel",
        "http://127.0.0.1:1/0c7e9ad4-4a4b-4a53-9c3f-3f3a3bd7d1a1",
        "--to",
        "http://127.0.0.1:2",
        "--passthrough",
        "--concurrency",
        "4",
    ]);
    let done = tunnel.finish().await;
    assert_eq!(done.code(), Some(1), "{done:#?}");
    let err = done.stderr_text();
    assert!(
        err.contains("--concurrency does nothing with --passthrough") && err.contains("drop"),
        "{err}"
    );
    let mut list = Proc::start(&["send", "--list", "--json"]);
    list.finish()
        .await
        .usage_error("send --list --json", &["--list", "--json"]);
    let mut list = Proc::start(&["send", "--list", "--as", "stripe"]);
    let listed = list.finish().await;
    assert_eq!(listed.code(), Some(0), "{listed:#?}");
    assert!(listed.stdout[0].starts_with("stripe:"), "{listed:#?}");
}
