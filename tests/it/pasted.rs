//! Commands take what users paste (SPEC §14): every URL form hookwire
//! prints or shows — capture URL by id or alias (with a sub-path), the
//! inspector's URL (`/bins/ID`, `?r=N`, `/requests/N/detail`), the API's
//! URLs — for `tunnel`, `tail`, `wait`, `resend` and `new`, and `--to`'s
//! short forms (`3000`, `:3000`, `127.0.0.1:3000`). The real binary
//! against a real server and app.

use crate::common;

use common::proc::Proc;
use common::tunnel::{LocalApp, wait_tunnels};
use common::{JsonBody as _, TestServer};
use serde_json::json;

/// A bin with an alias and one captured request (id `N`); returns the
/// bin's id and the request's id.
async fn bin_with_alias(s: &TestServer, alias: &str) -> (String, i64) {
    let res = s
        .client
        .post(s.url("/api/bins"))
        .json_body(&json!({ "alias": alias }))
        .send()
        .await
        .expect("mint");
    assert_eq!(res.status(), 201);
    let bin = common::json(res).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hooks/first?x=1")))
        .body("first")
        .send()
        .await
        .expect("capture");
    (bin, common::request_id(&res))
}

/// Every URL of a bin that names it (no request, or one).
fn bin_urls(s: &TestServer, bin: &str, alias: &str, id: i64) -> Vec<String> {
    vec![
        s.url(&format!("/{bin}")),
        s.url(&format!("/{bin}/any/sub/path")),
        s.url(&format!("/{alias}")),
        s.url(&format!("/{alias}/stripe")),
        s.url(&format!("/bins/{bin}")),
        s.url(&format!("/bins/{bin}?r={id}")),
        s.url(&format!("/bins/{bin}/requests/{id}/detail")),
        s.url(&format!("/api/bins/{bin}")),
        s.url(&format!("/api/bins/{alias}")),
        s.url(&format!("/api/bins/{bin}/requests/{id}")),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tunnel_takes_every_bin_url_and_short_to_forms() {
    let s = TestServer::spawn().await;
    let (bin, id) = bin_with_alias(&s, "eden-dev").await;
    let app = LocalApp::start().await;
    let port = app.addr.port().to_string();
    let to_forms = [
        port.clone(),
        format!(":{port}"),
        format!("127.0.0.1:{port}"),
        format!("localhost:{port}"),
        app.url(),
    ];
    for (i, url) in bin_urls(&s, &bin, "eden-dev", id).iter().enumerate() {
        let name = format!("t{i}");
        let to = &to_forms[i % to_forms.len()];
        let mut t = Proc::start(&["tunnel", url, "--to", to, "--name", &name, "--from-start"]);
        wait_tunnels(&s, &bin, &[name.as_str()]).await;
        // It relays: the stored request reaches the app through this URL
        // and this --to.
        let seen = app.wait_for(i + 1).await;
        assert_eq!(seen[i].target, "/hooks/first?x=1", "{url} --to {to}");
        let done = t.stop().await;
        assert!(
            done.stderr_text().contains(&format!("relaying bin {bin}")),
            "{url}: {done:#?}"
        );
    }
    // And a route's URL may be short too.
    let mut t = Proc::start(&[
        "tunnel",
        &s.url("/eden-dev"),
        "--to",
        &port,
        "--route",
        &format!("/hooks/**={port}"),
        "--name",
        "routed",
        "--from-start",
    ]);
    wait_tunnels(&s, &bin, &["routed"]).await;
    app.wait_for(bin_urls(&s, &bin, "eden-dev", id).len() + 1)
        .await;
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_and_wait_take_every_bin_url() {
    let s = TestServer::spawn().await;
    let (bin, id) = bin_with_alias(&s, "eden-tail").await;
    for url in bin_urls(&s, &bin, "eden-tail", id) {
        let mut wait = Proc::start(&["wait", &url, "--after", "0", "--timeout", "10s"]);
        let got = wait.finish().await.one_json_line();
        assert_eq!(got["id"], json!(id), "wait {url}");

        let mut tail = Proc::start(&["tail", &url, "--after", "0"]);
        let lines = tail.lines(1).await;
        assert!(lines[0].contains("/hooks/first"), "tail {url}: {lines:?}");
        tail.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resend_takes_every_request_url_and_short_to_forms() {
    let s = TestServer::spawn().await;
    let (bin, id) = bin_with_alias(&s, "eden-resend").await;
    let app = LocalApp::start().await;
    let port = app.addr.port().to_string();
    let forms = [
        (s.url(&format!("/bins/{bin}?r={id}")), port.clone()),
        (
            s.url(&format!("/bins/{bin}/?q=x&r={id}")),
            format!(":{port}"),
        ),
        (
            s.url(&format!("/bins/{bin}/requests/{id}/detail")),
            format!("127.0.0.1:{port}"),
        ),
        (
            s.url(&format!("/api/bins/{bin}/requests/{id}")),
            format!("localhost:{port}"),
        ),
        (
            s.url(&format!("/api/bins/{bin}/requests/{id}/body")),
            app.url(),
        ),
        (
            s.url(&format!("/api/bins/eden-resend/requests/{id}")),
            port.clone(),
        ),
        (s.url(&format!("/bins/eden-resend?r={id}")), port.clone()),
    ];
    for (i, (url, to)) in forms.iter().enumerate() {
        let mut p = Proc::start(&["resend", url, "--to", to]);
        let done = p.finish().await;
        assert_eq!(done.code(), Some(0), "resend {url} --to {to}: {done:#?}");
        let seen = app.wait_for(i + 1).await;
        assert_eq!(seen[i].target, "/hooks/first?x=1", "{url}");
        assert_eq!(seen[i].body, b"first", "{url}");
    }
    // A URL that names the bin but no request says which URL to paste.
    let mut p = Proc::start(&["resend", &s.url(&format!("/bins/{bin}")), "--to", &port]);
    p.finish().await.usage_error(
        "a bin URL given to resend",
        &["no request", &format!("/bins/{bin}?r=<id>")],
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn new_takes_any_url_of_the_server() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    for server in [
        s.base.clone(),
        s.url("/"),
        s.url("/bins"),
        s.url(&format!("/bins/{bin}")),
        s.url(&format!("/bins/{bin}?r=1")),
        s.url(&format!("/{bin}")),
        s.url("/stripe-dev/sub/path"),
        s.url("/api/bins"),
    ] {
        let mut p = Proc::start(&["new", "--server", &server]);
        let done = p.finish().await;
        assert_eq!(done.code(), Some(0), "new --server {server}: {done:#?}");
        let capture = done
            .stdout
            .iter()
            .find_map(|l| l.strip_prefix("capture: "))
            .unwrap_or_else(|| panic!("a capture line: {done:#?}"));
        assert!(capture.starts_with(&format!("{}/", s.base)), "{capture}");
        assert!(!capture.contains("/bins"), "{capture}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_is_not_a_url_of_a_bin_is_refused_in_words() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    // The server alone: no bin.
    let mut p = Proc::start(&["wait", &s.url("/bins"), "--timeout", "1s"]);
    p.finish()
        .await
        .usage_error("a server URL given to wait", &["no bin", "capture URL"]);
    // Not a URL.
    let mut p = Proc::start(&["tail", "127.0.0.1:8080/abc"]);
    p.finish()
        .await
        .usage_error("no scheme", &["not a hookwire URL", "http://"]);
    // An app address that is not one.
    let mut p = Proc::start(&["tunnel", &s.url(&format!("/{bin}")), "--to", "local host"]);
    let done = p.finish().await;
    assert_ne!(done.code(), Some(0), "{done:#?}");
    assert!(
        done.stderr_text()
            .contains("--to \"local host\" is not an app's address: write a port (3000)"),
        "{done:#?}"
    );
    // An alias the server does not know.
    let mut p = Proc::start(&["tunnel", &s.url("/no-such-alias"), "--to", "3000"]);
    let done = p.finish().await;
    assert_ne!(done.code(), Some(0), "{done:#?}");
    assert!(done.stderr_text().contains("no-such-alias"), "{done:#?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn send_takes_a_bare_port() {
    let app = LocalApp::start().await;
    let port = app.addr.port().to_string();
    for (i, to) in [port.clone(), format!("localhost:{port}/hooks")]
        .iter()
        .enumerate()
    {
        let done = Proc::start(&["send", "--to", to, "--as", "github"])
            .finish()
            .await;
        assert_eq!(done.code(), Some(0), "send --to {to}: {done:#?}");
        app.wait_for(i + 1).await;
    }
    assert_eq!(app.seen()[1].target, "/hooks");
}

/// A tunnel started before its server looks the alias up again until the
/// server answers, then relays.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tunnel_by_alias_waits_for_its_server() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let base = format!("http://127.0.0.1:{port}");
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("x.db");
    let listen = format!("127.0.0.1:{port}");
    let serve_args = [
        "serve",
        "--listen",
        &listen,
        "--db",
        db.to_str().expect("utf-8"),
    ];
    // The alias exists before the tunnel starts (a server that answered
    // 404 to the lookup would rightly stop the tunnel): mint it on a first
    // run of the server, then stop that.
    let mut serve = Proc::start(&serve_args);
    serve.stderr_line("hookwire is listening on").await;
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/bins"))
        .json_body(&json!({ "alias": "late-dev" }))
        .send()
        .await
        .expect("mint");
    assert_eq!(res.status(), 201);
    serve.stop_with("TERM").await;
    let app = LocalApp::start().await;
    let mut t = Proc::start(&[
        "tunnel",
        &format!("{base}/late-dev"),
        "--to",
        &app.addr.port().to_string(),
        "--name",
        "early",
    ]);
    t.stderr_line("looking up late-dev again in").await;
    let mut serve = Proc::start(&serve_args);
    serve.stderr_line("hookwire is listening on").await;
    t.stderr_line("connected: relaying bin").await;
    client
        .post(format!("{base}/late-dev/x"))
        .send()
        .await
        .expect("capture");
    assert_eq!(app.wait_for(1).await[0].target, "/x");
    t.stop().await;
    serve.stop_with("TERM").await;
}
