//! `hookwire check` end to end: the real binary grading real receivers.
//! A correct receiver passes every check (for each of the ten providers);
//! for each check a receiver with exactly that defect fails exactly that
//! check; receivers built on the providers' official SDKs (tests/sdk)
//! pass, which proves the events check sends are genuine.

mod receiver;

use std::collections::BTreeSet;
use std::io::{BufRead as _, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use receiver::{Defect, Receiver};
use serde_json::Value;

use crate::common;

const STRIPE_SECRET: &str = "whsec_check_test_secret";
const WEBHOOKS_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/// One finished run of the binary.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Run {
    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("stdout is not one JSON object ({e}): {self:#?}"))
    }

    /// The names of the checks with this result.
    fn with(&self, result: &str) -> BTreeSet<String> {
        self.json()["checks"]
            .as_array()
            .expect("checks")
            .iter()
            .filter(|c| c["result"] == result)
            .map(|c| c["name"].as_str().expect("name").to_owned())
            .collect()
    }
}

/// `hookwire check ARGS`, with no HOOKWIRE_* variable leaking in.
async fn check(args: &[&str]) -> Run {
    let mut cmd = Command::new(common::binary());
    cmd.arg("check").args(args).stdin(Stdio::null());
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HOOKWIRE_") {
            cmd.env_remove(name);
        }
    }
    let started = Instant::now();
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run hookwire check"))
        .await
        .expect("join");
    Run {
        code: out.status.code().expect("exited"),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    }
}

/// `check --json` of `provider` against `url` with `secret`.
async fn graded(provider: &str, url: &str, secret: &str) -> Run {
    check(&["--to", url, "--as", provider, "--secret", secret, "--json"]).await
}

fn set(names: &[&str]) -> BTreeSet<String> {
    names.iter().map(|n| (*n).to_owned()).collect()
}

#[tokio::test]
async fn a_correct_receiver_passes_every_check_for_every_provider() {
    let unsigned = ["edenai", "abstrakt", "cerebrium", "assemblyai"];
    for p in hookwire::client::send::catalogue::PROVIDERS {
        let name = p.name();
        let secret = if name == "standard-webhooks" {
            WEBHOOKS_SECRET
        } else {
            "s3cret"
        };
        let run = if unsigned.contains(&name) {
            let r = Receiver::start(name, "", Some(("x-auth", "s3cret")), Defect::Correct).await;
            let args = [
                "--to",
                &r.url(),
                "--as",
                name,
                "--auth-header",
                "X-Auth=s3cret",
                "--json",
            ];
            check(&args).await
        } else {
            let r = Receiver::start(name, secret, None, Defect::Correct).await;
            graded(name, &r.url(), secret).await
        };
        assert_eq!(run.code, 0, "{name}: {run:#?}");
        assert!(run.with("fail").is_empty(), "{name}: {run:#?}");
        let json = run.json();
        assert_eq!(json["provider"], name);
        assert_eq!(json["checks"].as_array().expect("checks").len(), 14);
        // What does not apply is skipped with a reason, and only that.
        let mut skipped = BTreeSet::new();
        if unsigned.contains(&name) {
            skipped.extend(set(&["rejects-tampered-body", "rejects-replayed"]));
        } else if !["stripe", "standard-webhooks", "slack"].contains(&name) {
            skipped.insert("rejects-replayed".to_owned());
        }
        if ["assemblyai", "standard-webhooks", "slack", "twilio"].contains(&name) {
            skipped.insert("survives-nulls".to_owned());
        }
        if name == "twilio" {
            skipped.extend(set(&["survives-malformed", "survives-large"]));
        }
        assert_eq!(run.with("skip"), skipped, "{name}: {run:#?}");
        for c in json["checks"].as_array().expect("checks") {
            if c["result"] == "skip" {
                assert!(c["why"].as_str().is_some_and(|w| !w.is_empty()), "{c}");
            }
        }
    }
}

/// Asserts that a receiver with `defect` fails exactly `name`, and that
/// the failure says why and how to fix it.
async fn fails_exactly(provider: &str, secret: &str, defect: Defect, name: &str) {
    let r = Receiver::start(provider, secret, None, defect).await;
    let run = graded(provider, &r.url(), secret).await;
    assert_eq!(run.code, 1, "{defect:?}: {run:#?}");
    assert_eq!(run.with("fail"), set(&[name]), "{defect:?}: {run:#?}");
    let failed = run.json()["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .expect("the failed check");
    for field in ["sent", "got", "why", "fix"] {
        assert!(
            failed[field].as_str().is_some_and(|t| !t.is_empty()),
            "{field} of {failed}"
        );
    }
}

#[tokio::test]
async fn each_defect_fails_exactly_its_check() {
    let stripe = [
        (Defect::ColdStart, "accepts-valid"),
        (Defect::TrustsOtherSecret, "rejects-bad-signature"),
        (Defect::TrustsSeenSignature, "rejects-tampered-body"),
        (Defect::VerifiesOnlyWhenSigned, "rejects-missing-signature"),
        (Defect::IgnoresTimestamp, "rejects-replayed"),
        (Defect::FailsOnDuplicate, "survives-duplicate"),
        (Defect::AssumesOrder, "survives-out-of-order"),
        (Defect::CrashesOnMalformed, "survives-malformed"),
        (Defect::Strict, "survives-unknown-fields"),
        (Defect::CrashesOnNull, "survives-nulls"),
        (Defect::Overloaded, "survives-burst"),
        (Defect::SmallBodyLimit, "survives-large"),
        (Defect::DiesAfterLarge, "still-alive"),
    ];
    let runs = stripe
        .into_iter()
        .map(|(defect, name)| fails_exactly("stripe", STRIPE_SECRET, defect, name));
    futures_util::future::join_all(runs).await;
}

#[tokio::test]
async fn a_slow_answer_fails_answers_in_time_only() {
    // Slack's 3 s timeout is the shortest: the slow event costs 3 s.
    fails_exactly(
        "slack",
        "8f742231b10e8888abcd99yyyzzz85a5",
        Defect::SlowOnce,
        "answers-in-time",
    )
    .await;
}

#[tokio::test]
async fn a_static_auth_header_is_checked_wrong_and_missing() {
    let r = Receiver::start(
        "assemblyai",
        "",
        Some(("x-auth", "s3cret")),
        Defect::VerifiesOnlyWhenSigned,
    )
    .await;
    let args = [
        "--to",
        &r.url(),
        "--as",
        "assemblyai",
        "--auth-header",
        "X-Auth=s3cret",
        "--json",
    ];
    let run = check(&args).await;
    assert_eq!(
        run.with("fail"),
        set(&["rejects-missing-signature"]),
        "{run:#?}"
    );
    assert!(
        run.with("pass").contains("rejects-bad-signature"),
        "{run:#?}"
    );
    // Without --secret a signing provider's signature checks are skipped, saying why.
    let r = Receiver::start(
        "stripe",
        STRIPE_SECRET,
        None,
        Defect::VerifiesOnlyWhenSigned,
    )
    .await;
    let run = check(&[
        "--to",
        &r.url(),
        "--as",
        "stripe",
        "--json",
        "--only",
        "accepts-valid,rejects-bad-signature",
    ])
    .await;
    assert_eq!(
        run.with("skip"),
        set(&["rejects-bad-signature"]),
        "{run:#?}"
    );
    assert!(run.stdout.contains("--secret"), "{run:#?}");
}

// ---------------------------------------------------------------------------
// The providers' official SDKs
// ---------------------------------------------------------------------------

/// A receiver in tests/sdk, killed when dropped.
struct SdkReceiver {
    child: Child,
    port: u16,
}

impl Drop for SdkReceiver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn sdk_receiver(scheme: &str, secret: &str) -> SdkReceiver {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk");
    let mut cmd = if scheme == "github" {
        let mut cmd = Command::new("node");
        cmd.arg(dir.join("receiver-github.mjs")).arg(secret);
        cmd
    } else {
        let mut cmd = Command::new("python3");
        cmd.arg(dir.join("receiver.py")).args([scheme, secret]);
        cmd
    };
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start the SDK receiver (python3 / node with tests/sdk's packages)");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut line)
        .expect("the receiver's first line");
    let port = line
        .trim()
        .strip_prefix("listening ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{scheme} receiver did not start: {line:?}"));
    SdkReceiver { child, port }
}

#[tokio::test]
async fn receivers_on_the_official_sdks_pass() {
    let cases = [
        ("stripe", STRIPE_SECRET),
        ("standard-webhooks", WEBHOOKS_SECRET),
        ("slack", "8f742231b10e8888abcd99yyyzzz85a5"),
        ("twilio", "12345"),
        ("github", "It's a Secret to Everybody"),
    ];
    let runs = cases.into_iter().map(|(scheme, secret)| async move {
        let r = tokio::task::spawn_blocking(move || sdk_receiver(scheme, secret))
            .await
            .expect("join");
        // Twilio signs the URL: `--to PORT` must sign the one the SDK sees
        // (http://localhost:PORT/).
        let url = if scheme == "twilio" {
            r.port.to_string()
        } else {
            format!("http://127.0.0.1:{}/webhooks", r.port)
        };
        let run = graded(scheme, &url, secret).await;
        drop(r);
        (scheme, run)
    });
    for (scheme, run) in futures_util::future::join_all(runs).await {
        assert_eq!(run.code, 0, "{scheme}: {run:#?}");
        let passed = run.with("pass");
        for name in [
            "accepts-valid",
            "rejects-bad-signature",
            "rejects-tampered-body",
            "rejects-missing-signature",
        ] {
            assert!(passed.contains(name), "{scheme} {name}: {run:#?}");
        }
        if ["stripe", "standard-webhooks", "slack"].contains(&scheme) {
            assert!(passed.contains("rejects-replayed"), "{scheme}: {run:#?}");
        }
    }
}

// ---------------------------------------------------------------------------
// Reports, flags, exit codes
// ---------------------------------------------------------------------------

#[tokio::test]
async fn the_human_report_and_junit_say_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let xml_path = dir.path().join("report.xml");
    let r = Receiver::start("github", "s3cret", None, Defect::FailsOnDuplicate).await;
    let xml_arg = xml_path.to_str().expect("utf-8 path");
    let run = check(&[
        "--to",
        &r.url(),
        "--as",
        "github",
        "--secret",
        "s3cret",
        "--junit",
        xml_arg,
    ])
    .await;
    assert_eq!(run.code, 1, "{run:#?}");
    // Redirected: no escape sequence.
    assert!(!run.stdout.contains('\x1b'), "{run:#?}");
    let lines: Vec<&str> = run.stdout.lines().collect();
    let fail = lines
        .iter()
        .position(|l| l.starts_with("FAIL  survives-duplicate"))
        .unwrap_or_else(|| panic!("{run:#?}"));
    assert!(lines[fail].contains(" -> "), "{}", lines[fail]);
    assert!(
        lines[fail + 1].trim_start().starts_with("why: "),
        "{run:#?}"
    );
    assert!(
        lines[fail + 2].trim_start().starts_with("fix: "),
        "{run:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("SKIP  rejects-replayed")),
        "{run:#?}"
    );
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("PASS  ")).count(),
        12,
        "{run:#?}"
    );

    let xml = std::fs::read_to_string(&xml_path).expect("junit written");
    let mut reader = quick_xml::Reader::from_str(&xml);
    let (mut suite, mut cases, mut failures, mut skipped) = (None, Vec::new(), Vec::new(), 0);
    let mut current = String::new();
    loop {
        match reader.read_event().expect("well-formed XML") {
            quick_xml::events::Event::Eof => break,
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                let attr = |name: &str| {
                    e.try_get_attribute(name).expect("attribute").map(|a| {
                        a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                            .expect("unescaped")
                            .into_owned()
                    })
                };
                match e.name().into_inner() {
                    "testsuite" => {
                        suite = Some((attr("tests"), attr("failures"), attr("skipped")));
                    }
                    "testcase" => {
                        current = attr("name").expect("name");
                        cases.push(current.clone());
                    }
                    "failure" => {
                        failures.push((current.clone(), attr("message").expect("message")))
                    }
                    "skipped" => skipped += 1,
                    _ => {}
                }
            }
            _ => {}
        }
    }
    let some = |s: &str| Some(s.to_owned());
    assert_eq!(suite, Some((some("14"), some("1"), some("1"))), "{xml}");
    assert_eq!(cases.len(), 14, "{xml}");
    assert_eq!(skipped, 1, "{xml}");
    assert_eq!(failures.len(), 1, "{xml}");
    assert_eq!(failures[0].0, "survives-duplicate");
    assert!(failures[0].1.contains("Fix: "), "{xml}");
}

#[tokio::test]
async fn only_selects_checks_and_unknown_names_are_refused() {
    let r = Receiver::start("stripe", STRIPE_SECRET, None, Defect::Correct).await;
    let url = r.url();
    // HOST:PORT/path, as tunnel's --to takes it, means http://.
    let short = url.trim_start_matches("http://");
    let run = check(&[
        "--to",
        short,
        "--as",
        "stripe",
        "--secret",
        STRIPE_SECRET,
        "--json",
        "--only",
        "rejects-replayed,accepts-valid",
    ])
    .await;
    assert_eq!(run.code, 0, "{run:#?}");
    let json = run.json();
    let names: Vec<&str> = json["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["accepts-valid", "rejects-replayed"]);
    assert_eq!(json["to"], url.as_str());
    let run = check(&[
        "--to",
        &url,
        "--as",
        "stripe",
        "--only",
        "accepts-valid,replays",
    ])
    .await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("\"replays\""), "{run:#?}");
    assert!(
        run.stderr.contains("survives-burst"),
        "lists the names: {run:#?}"
    );
}

#[tokio::test]
async fn nothing_listening_is_exit_2_in_words() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/webhooks", listener.local_addr().expect("addr"));
    drop(listener);
    let run = check(&["--to", &url, "--as", "stripe", "--secret", STRIPE_SECRET]).await;
    assert_eq!(run.code, 2, "{run:#?}");
    assert!(run.stderr.contains("nothing is listening at"), "{run:#?}");
    assert!(run.stderr.contains(&url), "{run:#?}");
    assert!(run.stdout.is_empty(), "{run:#?}");
}

#[tokio::test]
async fn the_whole_suite_against_a_fast_receiver_takes_under_5_s() {
    let r = Receiver::start("stripe", STRIPE_SECRET, None, Defect::Correct).await;
    let run = graded("stripe", &r.url(), STRIPE_SECRET).await;
    assert_eq!(run.code, 0, "{run:#?}");
    assert!(run.took < Duration::from_secs(5), "took {:?}", run.took);
}

/// `hookwire check` under a pseudo-terminal (util-linux `script`), with
/// `NO_COLOR` set or not; its output.
async fn on_a_terminal(url: &str, no_color: bool) -> String {
    let line = format!(
        "{} check --to {url} --as stripe --secret {STRIPE_SECRET} --only accepts-valid",
        common::binary().display()
    );
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"])
        .env_remove("NO_COLOR");
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let out = tokio::task::spawn_blocking(move || cmd.output().expect("run script (util-linux)"))
        .await
        .expect("join");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[tokio::test]
async fn colour_only_on_a_terminal_without_no_color() {
    let r = Receiver::start("stripe", STRIPE_SECRET, None, Defect::Correct).await;
    let coloured = on_a_terminal(&r.url(), false).await;
    assert!(
        coloured.contains("\x1b[1;32mPASS\x1b[0m  accepts-valid"),
        "{coloured:?}"
    );
    let plain = on_a_terminal(&r.url(), true).await;
    assert!(!plain.contains('\x1b'), "{plain:?}");
    assert!(plain.contains("PASS  accepts-valid"), "{plain:?}");
}
