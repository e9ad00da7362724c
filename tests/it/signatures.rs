//! Signature verification end to end: webhooks signed by the providers'
//! official SDKs (tests/sdk: PyPI standardwebhooks, stripe, slack-sdk,
//! twilio; npm @octokit/webhooks-methods), POSTed to a real server.
//! `.ci/run` installs the SDKs; a missing one fails these tests.

use crate::common;

use std::io::Write as _;
use std::process::{Command, Stdio};

use common::{JsonBody, TestServer};
use serde_json::{Value, json};

fn sdk_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdk")
}

fn run_signer(mut cmd: Command, body: &[u8]) -> String {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the SDK signer (python3 / node; .ci/run installs their packages)");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(body)
        .expect("write body");
    let out = child.wait_with_output().expect("signer output");
    assert!(
        out.status.success(),
        "SDK signer failed (run .ci/run's install step): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

/// Headers a provider's SDK puts on `body`.
fn sign(
    scheme: &str,
    secret: &str,
    url: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    if scheme == "github" {
        let mut cmd = Command::new("node");
        cmd.arg(sdk_dir().join("sign-github.mjs")).arg(secret);
        let sig = run_signer(cmd, body);
        return vec![("x-hub-signature-256".into(), sig)];
    }
    let mut cmd = Command::new("python3");
    cmd.arg(sdk_dir().join("sign.py"))
        .args([scheme, secret, url])
        .arg(timestamp.to_string());
    let headers: serde_json::Map<String, Value> =
        serde_json::from_str(&run_signer(cmd, body)).expect("signer JSON");
    headers
        .into_iter()
        .map(|(k, v)| (k, v.as_str().expect("header value").to_owned()))
        .collect()
}

fn now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs(),
    )
    .expect("fits")
}

async fn set_secrets(s: &TestServer, bin: &str, secrets: Value) -> Value {
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
    v
}

async fn post(
    s: &TestServer,
    bin: &str,
    path: &str,
    headers: &[(String, String)],
    body: &[u8],
) -> Value {
    let mut req = s
        .client
        .post(s.url(&format!("/{bin}{path}")))
        .body(body.to_vec());
    for (k, v) in headers {
        req = req.header(k.as_str(), v.as_str());
    }
    let res = req.send().await.expect("capture");
    assert_eq!(res.status(), 200);
    let id = common::request_id(&res);
    s.get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
        .await["signature"]
        .clone()
}

fn assert_sig(sig: &Value, scheme: &str, verified: bool, reason: &str) {
    assert_eq!(sig["scheme"], scheme, "{sig}");
    assert_eq!(sig["verified"], verified, "{sig}");
    if verified {
        assert_eq!(sig["reason"], Value::Null, "{sig}");
    } else {
        assert!(
            sig["reason"].as_str().expect("reason").contains(reason),
            "{sig} lacks {reason:?}"
        );
    }
}

/// Signs with the SDK and checks: verified, tampered body, wrong secret
/// (then the right one pasted after the fact), stale timestamp where the
/// scheme has one, and a missing header.
async fn exercise(
    scheme: &str,
    secret: &str,
    wrong: &str,
    body: &[u8],
    timestamp_header: Option<&str>,
) {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    set_secrets(&s, &bin, json!({ scheme: secret })).await;
    let path = "/hooks/x";
    let url = format!("{}/{bin}{path}", s.base);
    let headers = sign(scheme, secret, &url, now(), body);

    let ok = post(&s, &bin, path, &headers, body).await;
    assert_sig(&ok, scheme, true, "");

    let mut tampered = body.to_vec();
    tampered.extend_from_slice(b" ");
    assert_sig(
        &post(&s, &bin, path, &headers, &tampered).await,
        scheme,
        false,
        "bad signature",
    );

    // Wrong secret stored: every stored request fails; pasting the right
    // one re-checks them all.
    let v = set_secrets(&s, &bin, json!({ scheme: wrong })).await;
    assert_eq!(v["rechecked"], 2);
    let first = s.requests(&bin).await.last().expect("first")["signature"].clone();
    assert_sig(&first, scheme, false, "bad signature");
    set_secrets(&s, &bin, json!({ scheme: secret })).await;
    let first = s.requests(&bin).await.last().expect("first")["signature"].clone();
    assert_sig(&first, scheme, true, "");

    if let Some(ts_header) = timestamp_header {
        let stale = sign(scheme, secret, &url, now() - 600, body);
        assert_sig(
            &post(&s, &bin, path, &stale, body).await,
            scheme,
            false,
            "timestamp outside tolerance",
        );
        let missing: Vec<_> = headers
            .iter()
            .filter(|(k, _)| k != ts_header)
            .cloned()
            .collect();
        assert_sig(
            &post(&s, &bin, path, &missing, body).await,
            scheme,
            false,
            &format!("missing header {ts_header}"),
        );
    }
    let garbled: Vec<_> = headers
        .iter()
        .map(|(k, v)| {
            if k == "content-type" {
                (k.clone(), v.clone())
            } else {
                (k.clone(), format!("{v}%"))
            }
        })
        .collect();
    let sig = post(&s, &bin, path, &garbled, body).await;
    assert_eq!(sig["verified"], false, "{sig}");
}

const JSON_BODY: &[u8] =
    br#"{"job_id":"550e8400-e29b-41d4-a716-446655440000","status":"success","cost":"0.0015"}"#;

#[tokio::test]
async fn standard_webhooks_sdk() {
    exercise(
        "standard-webhooks",
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        JSON_BODY,
        Some("webhook-timestamp"),
    )
    .await;
}

#[tokio::test]
async fn stripe_sdk() {
    exercise(
        "stripe",
        "whsec_test_hookwire_1",
        "whsec_test_other",
        JSON_BODY,
        None,
    )
    .await;
}

#[tokio::test]
async fn slack_sdk() {
    exercise(
        "slack",
        "8f742231b10e8888abcd99yyyzzz85a5",
        "0000",
        b"token=xyz&team_id=T1&command=%2Fhook&text=hi",
        Some("x-slack-request-timestamp"),
    )
    .await;
}

#[tokio::test]
async fn github_sdk() {
    exercise(
        "github",
        "It's a Secret to Everybody",
        "nope",
        JSON_BODY,
        None,
    )
    .await;
}

#[tokio::test]
async fn shopify_signature() {
    exercise("shopify", "shpss_hookwire", "shpss_other", JSON_BODY, None).await;
}

#[tokio::test]
async fn twilio_sdk() {
    exercise(
        "twilio",
        "twilio-auth-token-1",
        "other-token",
        b"CallSid=CA123&From=%2B12349013030&Digits=1234&Digits=5",
        None,
    )
    .await;
}

#[tokio::test]
async fn stripe_stale_timestamp_and_static_header() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    set_secrets(
        &s,
        &bin,
        json!({"stripe": "whsec_s", "header": {"name": "X-Auth", "value": "t0k"}}),
    )
    .await;
    let url = format!("{}/{bin}", s.base);
    let stale = sign("stripe", "whsec_s", &url, now() - 1000, JSON_BODY);
    assert_sig(
        &post(&s, &bin, "", &stale, JSON_BODY).await,
        "stripe",
        false,
        "timestamp outside tolerance",
    );

    // AssemblyAI-style static header: right, wrong, missing.
    let h = |v: &str| vec![("x-auth".to_string(), v.to_string())];
    assert_sig(
        &post(&s, &bin, "", &h("t0k"), b"{}").await,
        "header",
        true,
        "",
    );
    assert_sig(
        &post(&s, &bin, "", &h("nope"), b"{}").await,
        "header",
        false,
        "bad signature",
    );
    assert_sig(
        &post(&s, &bin, "", &[], b"{}").await,
        "header",
        false,
        "missing header x-auth",
    );

    // Secrets are never shown back in full.
    let b = s.get_json(&format!("/api/bins/{bin}"), 200).await;
    assert_eq!(b["secrets"]["stripe"], "****", "{b}");
    assert_eq!(b["secrets"]["header"]["name"], "X-Auth");
    assert!(!b.to_string().contains("t0k"));
}

#[tokio::test]
async fn no_secret_for_the_scheme_shown_means_null_and_bad_secrets_are_refused() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let url = format!("{}/{bin}", s.base);
    let headers = sign("stripe", "whsec_s", &url, now(), JSON_BODY);
    assert_eq!(post(&s, &bin, "", &headers, JSON_BODY).await, Value::Null);
    set_secrets(&s, &bin, json!({"github": "g"})).await;
    assert_eq!(post(&s, &bin, "", &headers, JSON_BODY).await, Value::Null);

    for bad in [
        json!({"standard-webhooks": "whsec_***"}),
        json!({"strpe": "x"}),
        json!({"github": ""}),
        json!({"header": {"name": "bad name", "value": "x"}}),
    ] {
        let res = s
            .client
            .put(s.url(&format!("/api/bins/{bin}/secrets")))
            .json_body(&bad)
            .send()
            .await
            .expect("put");
        assert_eq!(res.status(), 400, "{bad}");
    }
}

#[tokio::test]
async fn inspector_sets_secrets_and_shows_badges_and_reasons() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let form = |path: String, body: String| {
        s.client
            .post(s.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(body)
            .send()
    };
    let url = format!("{}/{bin}", s.base);
    let good = sign("github", "gh-secret", &url, now(), JSON_BODY);
    post(&s, &bin, "", &good, JSON_BODY).await;
    post(&s, &bin, "", &good, b"{}").await;

    // Set after the fact: the stored requests are re-checked.
    let res = form(
        format!("/bins/{bin}/secrets"),
        "scheme=github&secret=gh-secret".into(),
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 303);
    let html = s
        .client
        .get(s.url(&format!("/bins/{bin}")))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(html.contains("&#10003; github"), "verified badge");
    assert!(html.contains("&#10007; github"), "failed badge");
    assert!(html.contains("bad signature"), "reason shown");
    assert!(!html.contains("gh-secret"), "secret never shown");

    let res = form(
        format!("/bins/{bin}/secrets/remove"),
        "scheme=github".into(),
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 303);
    let stored = s.requests(&bin).await;
    assert!(
        stored.iter().all(|r| r["signature"].is_null()),
        "re-checked to none"
    );

    let res = form(
        format!("/bins/{bin}/secrets"),
        "scheme=standard-webhooks&secret=whsec_%25%25".into(),
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 400);
}
