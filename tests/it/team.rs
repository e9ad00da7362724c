//! The team instance (SPEC §16): tokens with scopes against every route,
//! revocation (a live tunnel, an event stream, a cookie session, another
//! replica), the audit log of a scripted session, a login proxy trusted
//! and ignored, and pages that offer only what the scope allows.

use reqwest::Method;
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::common;

use common::tunnel::{LocalApp, Tunnel, WAIT, eventually};
use common::{JsonBody as _, TestServer};
use hookwire::core::scope::Scope;
use hookwire::core::secret::Secret;
use hookwire::server::config::AuthProxy;

/// The operator's `--access-token` (scope admin).
const OP: &str = "op-team-operator-token-7Q";

/// A server with an operator token.
async fn team() -> TestServer {
    TestServer::spawn_with(|c| c.access_token = Some(Secret::new(OP))).await
}

/// A request with a bearer token.
fn call(s: &TestServer, method: Method, path: &str, token: &str) -> reqwest::RequestBuilder {
    s.client.request(method, s.url(path)).bearer_auth(token)
}

/// Sends; the answer's status.
async fn status(req: reqwest::RequestBuilder) -> u16 {
    req.send().await.expect("send").status().as_u16()
}

/// The id of a bin a mint answered with (201).
async fn minted(res: reqwest::Response) -> String {
    assert_eq!(res.status(), 201, "mint");
    common::json(res).await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

/// The operator makes a token; returns its value (`hwk_…`).
async fn create_token(s: &TestServer, name: &str, scope: &str) -> String {
    let res = call(s, Method::POST, "/api/tokens", OP)
        .json_body(&json!({ "name": name, "scope": scope }))
        .send()
        .await
        .expect("create token");
    assert_eq!(res.status(), 201, "creating token {name}");
    let v = common::json(res).await;
    assert_eq!(v["name"], name);
    assert_eq!(v["scope"], scope);
    assert!(v["created_at"].is_string(), "{v}");
    let token = v["token"].as_str().expect("token").to_owned();
    assert!(token.starts_with("hwk_"), "{token}");
    token
}

/// The operator mints a bin and captures one request in it.
async fn bin_with_request(s: &TestServer) -> (String, i64) {
    let bin = minted(
        call(s, Method::POST, "/api/bins", OP)
            .send()
            .await
            .expect("mint"),
    )
    .await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hook")))
        .body(r#"{"n":1}"#)
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200);
    let id = common::request_id(&res);
    (bin, id)
}

/// Signs in on the login page; returns the `name=value` cookie pair.
async fn login(s: &TestServer, token: &str) -> String {
    let res = s
        .client
        .post(s.url("/login"))
        .form(&[("token", token), ("next", "/")])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303, "login");
    res.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned()
}

/// A GET with the session cookie.
fn with_cookie(s: &TestServer, path: &str, cookie: &str) -> reqwest::RequestBuilder {
    s.client.get(s.url(path)).header("cookie", cookie)
}

/// Waits until the operator sees exactly `want` tunnels.
async fn wait_tunnels(s: &TestServer, bin: &str, want: &[&str]) {
    let path = format!("/api/bins/{bin}");
    eventually(&format!("tunnels of {bin} to be {want:?}"), || async {
        let res = call(s, Method::GET, &path, OP).send().await.expect("get");
        let v = common::json(res).await;
        (v["tunnels"] == json!(want)).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------
// 1. The scope matrix
// ---------------------------------------------------------------------------

/// The scope a route needs, from SPEC §16's rule (not from the server's
/// table): tokens and the audit log need admin; the tunnel's upgrade
/// needs tunnel; any other read needs read; any change needs write.
fn expected(method: &Method, template: &str) -> Scope {
    if template == "/api/tokens"
        || template.starts_with("/api/tokens/")
        || template == "/api/audit"
        || template == "/audit"
    {
        Scope::Admin
    } else if *method == Method::GET && template == "/api/bins/{bin_id}/tunnel" {
        Scope::Tunnel
    } else if *method == Method::GET || *method == Method::HEAD {
        Scope::Read
    } else {
        Scope::Write
    }
}

/// The pages and inspector forms (not in the API document).
const PAGES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/bins/{bin_id}"),
    ("GET", "/bins/{bin_id}/requests/{id}/detail"),
    ("GET", "/bins/{bin_id}/compare"),
    ("GET", "/bins/{bin_id}/events"),
    ("GET", "/api/docs"),
    ("GET", "/metrics"),
    ("POST", "/bins"),
    ("POST", "/bins/{bin_id}/response"),
    ("POST", "/bins/{bin_id}/clear"),
    ("POST", "/bins/{bin_id}/secrets"),
    ("POST", "/bins/{bin_id}/secrets/remove"),
    ("POST", "/bins/{bin_id}/delete"),
    ("POST", "/bins/{bin_id}/requests/{id}/delete"),
    ("POST", "/bins/{bin_id}/requests/{id}/replay"),
    ("POST", "/bins/{bin_id}/rules"),
    ("POST", "/bins/{bin_id}/rules/json"),
    ("POST", "/bins/{bin_id}/rules/delete"),
    ("POST", "/bins/{bin_id}/alias"),
];

#[tokio::test]
async fn every_route_answers_each_scope_as_the_rule_says() {
    let s = team().await;
    let doc = common::json(
        call(&s, Method::GET, "/api/openapi.json", OP)
            .send()
            .await
            .expect("openapi"),
    )
    .await;
    let mut routes: Vec<(Method, String)> = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("item").keys() {
            if let Ok(m) = Method::from_bytes(method.to_uppercase().as_bytes())
                && ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"].contains(&m.as_str())
            {
                routes.push((m, path.clone()));
            }
        }
    }
    assert!(
        routes.iter().any(|(_, p)| p == "/api/tokens/{name}")
            && routes.iter().any(|(_, p)| p == "/api/audit"),
        "the API document lists the team routes: {routes:?}"
    );
    for (m, p) in PAGES {
        routes.push((
            Method::from_bytes(m.as_bytes()).expect("m"),
            (*p).to_owned(),
        ));
    }

    let scopes = ["read", "tunnel", "write", "admin"];
    let mut tokens = Vec::new();
    for scope in scopes {
        tokens.push((
            Scope::parse(scope).expect("scope"),
            create_token(&s, &format!("matrix-{scope}"), scope).await,
        ));
    }
    let mut wrong = Vec::new();
    let mut victims = 0;
    for (method, template) in &routes {
        let needs = expected(method, template);
        for (scope, token) in &tokens {
            // Each case gets its own bin, request and token: a delete
            // that is allowed must not take the next case's target.
            let (bin, id) = bin_with_request(&s).await;
            victims += 1;
            let victim = format!("victim-{victims}");
            if template.contains("{name}") {
                create_token(&s, &victim, "read").await;
            }
            let path = template
                .replace("{bin_id}", &bin)
                .replace("{id}", &id.to_string())
                .replace("{name}", &victim);
            let mut req = call(&s, method.clone(), &path, token);
            if *method != Method::GET && *method != Method::HEAD {
                req = if path.starts_with("/api/") {
                    req.json_body(&json!({}))
                } else {
                    req.form(&[("x", "")])
                };
            }
            let res = req.send().await.expect("send");
            let status = res.status().as_u16();
            let html = res
                .headers()
                .get("content-type")
                .is_some_and(|c| c.as_bytes().starts_with(b"text/html"));
            let case = format!("{method} {template} as {scope}");
            if scope.allows(needs) {
                if status == 401 || status == 403 {
                    wrong.push(format!("{case}: {status}, but the {needs} scope suffices"));
                }
                continue;
            }
            if status != 403 {
                wrong.push(format!("{case}: {status}, expected 403 (needs {needs})"));
                continue;
            }
            if path.starts_with("/api/") || path == "/metrics" {
                let body = common::json(res).await;
                let msg = body["error"].as_str().unwrap_or_default();
                if !msg.contains(&format!("needs the {needs} scope")) {
                    wrong.push(format!("{case}: refusal does not name the scope: {body}"));
                }
            } else if !html {
                wrong.push(format!("{case}: a page's refusal is not an HTML page"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[tokio::test]
async fn the_tunnel_upgrade_needs_the_tunnel_scope() {
    let s = team().await;
    let (bin, _) = bin_with_request(&s).await;
    for scope in ["read", "tunnel", "write", "admin"] {
        let token = create_token(&s, &format!("ws-{scope}"), scope).await;
        let url = format!(
            "ws://{}/api/bins/{bin}/tunnel?v={}&name=ws-{scope}",
            s.addr,
            hookwire::core::protocol::VERSION
        );
        let mut req = url.into_client_request().expect("request");
        req.headers_mut().insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        match tokio_tungstenite::connect_async(req).await {
            Ok((mut ws, res)) => {
                assert_ne!(scope, "read", "a read token opened a tunnel");
                assert_eq!(res.status(), 101);
                let _ = ws.close(None).await;
            }
            Err(tungstenite::Error::Http(res)) => {
                assert_eq!(scope, "read", "{scope}: {}", res.status());
                assert_eq!(res.status(), 403);
            }
            Err(e) => panic!("{scope}: {e}"),
        }
    }
}

// ---------------------------------------------------------------------------
// 2. Revocation
// ---------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_closes_the_tunnel_and_the_stream_and_refuses_the_token() {
    let s = team().await;
    let (bin, _) = bin_with_request(&s).await;
    let token = create_token(&s, "laptop", "tunnel").await;
    let cookie = login(&s, &token).await;
    let page = format!("/bins/{bin}");
    let opened = status(with_cookie(&s, &page, &cookie)).await;
    assert_eq!(opened, 200, "the cookie opens the inspector");

    let app = LocalApp::start().await;
    let mut tunnel = Tunnel::start(&s, &bin, &app, "lap", &["--access-token", &token]);
    wait_tunnels(&s, &bin, &["lap"]).await;
    let events = call(&s, Method::GET, &format!("/bins/{bin}/events"), &token)
        .send()
        .await
        .expect("events");
    assert_eq!(events.status(), 200);
    let stream = tokio::spawn(async move {
        let mut events = events;
        while let Ok(Some(_)) = events.chunk().await {}
    });

    let revoke = || call(&s, Method::DELETE, "/api/tokens/laptop", OP);
    assert_eq!(status(revoke()).await, 204);

    let exit = tunnel.exited().await;
    assert!(!exit.success(), "the client exits non-zero: {exit}");
    let err = tunnel.stderr().join("\n");
    assert!(err.contains("revoked"), "stderr says why: {err}");
    wait_tunnels(&s, &bin, &[]).await;
    tokio::time::timeout(WAIT, stream)
        .await
        .expect("the event stream ends with the revocation")
        .expect("stream task");

    let api = call(&s, Method::GET, &format!("/api/bins/{bin}"), &token);
    assert_eq!(status(api).await, 401, "a revoked token is unknown");
    let res = with_cookie(&s, &page, &cookie).send().await.expect("page");
    assert_eq!(res.status(), 303, "the revoked session goes to the login");
    let to = res.headers()["location"].to_str().expect("location");
    assert!(to.starts_with("/login"), "{to}");
    let bearer_page = call(&s, Method::GET, &page, &token);
    assert_eq!(status(bearer_page).await, 303, "the revoked token's page");
    assert_eq!(status(revoke()).await, 404, "revoked twice");
}

/// Two servers on one PostgreSQL database (replicas, SPEC §9): a token
/// revoked on one is refused by the other at once. Always on PostgreSQL,
/// as replicas need it.
#[tokio::test]
async fn a_token_revoked_on_one_replica_is_refused_on_the_other() {
    let db = hookwire::server::config::Database::Postgres(common::pg::database());
    let a = TestServer::spawn_with(|c| {
        c.db = db.clone();
        c.access_token = Some(Secret::new(OP));
    })
    .await;
    let b = TestServer::spawn_with(|c| {
        c.db = db.clone();
        c.access_token = Some(Secret::new(OP));
    })
    .await;
    let (bin, _) = bin_with_request(&a).await;
    let token = create_token(&a, "shared", "read").await;
    let path = format!("/api/bins/{bin}");
    eventually("replica B to know the new token", || async {
        let res = call(&b, Method::GET, &path, &token).send().await.ok()?;
        (res.status() == 200).then_some(())
    })
    .await;
    let res = call(&a, Method::DELETE, "/api/tokens/shared", OP)
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), 204);
    eventually("replica B to refuse the revoked token", || async {
        let res = call(&b, Method::GET, &path, &token).send().await.ok()?;
        (res.status() == 401).then_some(())
    })
    .await;
}

// ---------------------------------------------------------------------------
// 3. The audit log
// ---------------------------------------------------------------------------

/// Every audit entry, oldest first, and the documents' text as served.
async fn audit(s: &TestServer) -> (Vec<Value>, String) {
    let mut all = Vec::new();
    let mut text = String::new();
    let mut before: Option<i64> = None;
    loop {
        let cursor = before.map_or(String::new(), |b| format!("&before={b}"));
        let res = call(s, Method::GET, &format!("/api/audit?limit=3{cursor}"), OP)
            .send()
            .await
            .expect("audit");
        assert_eq!(res.status(), 200);
        let page = res.text().await.expect("text");
        text.push_str(&page);
        let v: Value = serde_json::from_str(&page).expect("json");
        all.extend(v["entries"].as_array().expect("entries").iter().cloned());
        match v["next"].as_i64() {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    all.reverse();
    (all, text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_is_audited_in_order_without_any_secret() {
    const SIGNING: &str = "whsec_audit_NEVER_SHOWN_5d1f";
    let s = team().await;
    let w = create_token(&s, "wendy", "write").await;
    let bin = minted(
        call(&s, Method::POST, "/api/bins", &w)
            .send()
            .await
            .expect("mint"),
    )
    .await;
    let changes = [
        (
            "response",
            json!({"status": 202, "headers": [], "body": "ok"}),
        ),
        ("rules", json!({"rules": []})),
        ("secrets", json!({"stripe": SIGNING})),
        ("alias", json!({"alias": "team-audit"})),
    ];
    for (what, body) in &changes {
        let res = call(&s, Method::PUT, &format!("/api/bins/{bin}/{what}"), &w)
            .json_body(body)
            .send()
            .await
            .expect("put");
        assert!(res.status().is_success(), "PUT {what}: {}", res.status());
    }
    let app = LocalApp::start().await;
    let _tunnel = Tunnel::start(&s, &bin, &app, "desk", &["--access-token", &w]);
    wait_tunnels(&s, &bin, &["desk"]).await;
    let hook = s.client.post(s.url(&format!("/{bin}/hook"))).body("{}");
    let id = common::request_id(&hook.send().await.expect("capture"));
    app.wait_for(1).await;
    let res = call(
        &s,
        Method::POST,
        &format!("/api/bins/{bin}/requests/{id}/replay"),
        &w,
    )
    .send()
    .await
    .expect("replay");
    assert!(res.status().is_success(), "replay: {}", res.status());
    for path in [
        format!("/api/bins/{bin}/requests/{id}"),
        format!("/api/bins/{bin}/requests"),
    ] {
        let res = call(&s, Method::DELETE, &path, &w)
            .send()
            .await
            .expect("delete");
        assert!(res.status().is_success(), "DELETE {path}: {}", res.status());
    }
    login(&s, &w).await;
    let res = call(&s, Method::DELETE, "/api/tokens/wendy", OP)
        .send()
        .await
        .expect("revoke");
    assert_eq!(res.status(), 204);

    let (entries, text) = audit(&s).await;
    let got: Vec<Value> = entries
        .iter()
        .map(|e| json!([e["action"], e["who"], e["via"], e["target"]]))
        .collect();
    let request = format!("{bin}/requests/{id}");
    let want = vec![
        json!(["token.create", "operator", "operator", "wendy"]),
        json!(["bin.mint", "wendy", "token", bin]),
        json!(["response.set", "wendy", "token", bin]),
        json!(["rules.set", "wendy", "token", bin]),
        json!(["secrets.set", "wendy", "token", bin]),
        json!(["alias.set", "wendy", "token", bin]),
        json!(["request.replay", "wendy", "token", request]),
        json!(["request.delete", "wendy", "token", request]),
        json!(["bin.clear", "wendy", "token", bin]),
        json!(["login", "wendy", "token", null]),
        json!(["token.revoke", "operator", "operator", "wendy"]),
    ];
    assert_eq!(got, want, "the audit log, oldest first: {entries:#?}");
    for e in &entries {
        assert_eq!(e["address"], "127.0.0.1", "{e}");
        assert!(e["id"].is_i64() && e["at"].is_string(), "{e}");
    }
    for secret in [OP, w.as_str(), SIGNING] {
        assert!(!text.contains(secret), "the audit log shows {secret}");
    }
    let res = call(&s, Method::GET, "/api/audit", &w)
        .send()
        .await
        .expect("audit");
    assert_eq!(res.status(), 401, "revoked");
}

/// SPEC §16: "an inspector page" shows the audit log, to admins only.
#[tokio::test]
async fn the_audit_page_shows_the_log_to_admins_only() {
    let s = team().await;
    let w = create_token(&s, "walter", "write").await;
    let res = call(&s, Method::GET, "/audit", OP)
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), 200, "GET /audit as admin");
    let html = res.text().await.expect("html");
    assert!(
        html.contains("token.create") && html.contains("walter"),
        "the page lists the entries"
    );
    assert!(!html.contains(&w), "the page shows a token");
    let res = call(&s, Method::GET, "/audit", &w)
        .send()
        .await
        .expect("page");
    assert_eq!(res.status(), 403, "GET /audit as write");
}

// ---------------------------------------------------------------------------
// 4. A login proxy
// ---------------------------------------------------------------------------

const EMAIL: &str = "x-forwarded-email";

fn proxy(trusted: &str, scope: Scope) -> AuthProxy {
    AuthProxy {
        header: EMAIL.into(),
        trusted: vec![trusted.parse().expect("cidr")],
        scope,
    }
}

#[tokio::test]
async fn a_trusted_proxy_signs_users_in_and_an_untrusted_one_is_ignored() {
    // Trusted, users may write; the operator token reads the audit log.
    let s = TestServer::spawn_with(|c| {
        c.access_token = Some(Secret::new(OP));
        c.auth_proxy = Some(proxy("127.0.0.1/32", Scope::Write));
    })
    .await;
    let res = s
        .client
        .post(s.url("/api/bins"))
        .header(EMAIL, "alice@example.com")
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .expect("mint");
    let bin = minted(res).await;
    let alice = |method, path| as_user(&s, method, path, "alice@example.com");
    assert_eq!(
        status(alice(Method::GET, "/api/audit")).await,
        403,
        "write is not admin"
    );
    let (entries, _) = audit(&s).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(
        json!([e["action"], e["who"], e["via"], e["target"], e["address"]]),
        json!(["bin.mint", "alice@example.com", "proxy", bin, "203.0.113.7"])
    );

    // Default scope read, no operator token: no header is 401.
    let s =
        TestServer::spawn_with(|c| c.auth_proxy = Some(proxy("127.0.0.1/32", Scope::Read))).await;
    let no_header = s.client.post(s.url("/api/bins"));
    assert_eq!(status(no_header).await, 401, "no header, no token");
    let bob = |method, path| as_user(&s, method, path, "bob@example.com");
    assert_eq!(status(bob(Method::GET, "/")).await, 200);
    assert_eq!(
        status(bob(Method::POST, "/api/bins")).await,
        403,
        "read by default"
    );

    // The header from an address the proxy does not have is ignored.
    let s =
        TestServer::spawn_with(|c| c.auth_proxy = Some(proxy("10.0.0.0/8", Scope::Write))).await;
    let mallory = |method, path| as_user(&s, method, path, "mallory@example.com");
    for (method, path, want) in [
        (Method::GET, "/api/audit", 401),
        (Method::POST, "/api/bins", 401),
        (Method::GET, "/", 303),
    ] {
        let got = status(mallory(method.clone(), path)).await;
        assert_eq!(got, want, "{method} {path} from an untrusted peer");
    }
}

/// A request naming `user` in the proxy's header.
fn as_user(s: &TestServer, method: Method, path: &str, user: &str) -> reqwest::RequestBuilder {
    s.client.request(method, s.url(path)).header(EMAIL, user)
}

// ---------------------------------------------------------------------------
// 5. Tokens' listing
// ---------------------------------------------------------------------------

#[tokio::test]
async fn last_used_at_is_set_once_a_token_is_used_and_no_token_is_listed() {
    let s = team().await;
    let (bin, _) = bin_with_request(&s).await;
    let token = create_token(&s, "reader", "read").await;
    let listed = || async {
        let res = call(&s, Method::GET, "/api/tokens", OP)
            .send()
            .await
            .expect("list");
        assert_eq!(res.status(), 200);
        let text = res.text().await.expect("text");
        assert!(!text.contains(&token), "the listing shows a token");
        let v: Value = serde_json::from_str(&text).expect("json");
        let tokens = v["tokens"].as_array().expect("tokens").clone();
        assert_eq!(tokens.len(), 1, "{v}");
        assert_eq!(tokens[0]["name"], "reader");
        assert_eq!(tokens[0]["scope"], "read");
        assert!(tokens[0].get("token").is_none(), "{v}");
        tokens[0].clone()
    };
    assert!(listed().await["last_used_at"].is_null(), "never used yet");
    let res = call(&s, Method::GET, &format!("/api/bins/{bin}"), &token)
        .send()
        .await
        .expect("use");
    assert_eq!(res.status(), 200);
    eventually("last_used_at to be set", || async {
        listed().await["last_used_at"].is_string().then_some(())
    })
    .await;
    let res = call(&s, Method::POST, "/api/tokens", OP)
        .json_body(&json!({"name": "reader", "scope": "write"}))
        .send()
        .await
        .expect("duplicate");
    assert_eq!(res.status(), 409, "a name is one token");
}

// ---------------------------------------------------------------------------
// 6. Pages show what the scope allows
// ---------------------------------------------------------------------------

async fn page(s: &TestServer, path: &str, cookie: &str) -> String {
    let res = with_cookie(s, path, cookie).send().await.expect("page");
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.expect("html")
}

/// The page's POST forms, but sign-out (every signed-in page has it).
fn change_forms(html: &str) -> usize {
    html.match_indices(r#"<form method="post""#)
        .filter(|(at, _)| {
            !html[*at..]
                .split('>')
                .next()
                .unwrap_or("")
                .contains("/logout")
        })
        .count()
}

#[tokio::test]
async fn read_only_pages_offer_no_forms_and_writers_get_them() {
    let s = team().await;
    let (bin, id) = bin_with_request(&s).await;
    let inspector = format!("/bins/{bin}");
    let detail = format!("/bins/{bin}/requests/{id}/detail");
    for scope in ["read", "tunnel", "write"] {
        let cookie = login(&s, &create_token(&s, &format!("p-{scope}"), scope).await).await;
        let home = page(&s, "/", &cookie).await;
        let insp = page(&s, &inspector, &cookie).await;
        let det = page(&s, &detail, &cookie).await;
        if scope == "write" {
            assert!(home.contains(r#"action="/bins""#), "the New URL form");
            assert!(change_forms(&insp) > 0, "a writer's inspector has forms");
            assert!(!insp.contains(r#"id="read-only""#));
            assert!(change_forms(&det) > 0, "a writer can replay and delete");
        } else {
            assert!(
                !home.contains(r#"action="/bins""#),
                "{scope}: no New URL form"
            );
            assert_eq!(change_forms(&home), 0, "{scope}: home");
            assert_eq!(change_forms(&insp), 0, "{scope}: inspector");
            assert!(insp.contains(r#"id="read-only""#), "{scope}: the note");
            assert_eq!(change_forms(&det), 0, "{scope}: detail");
        }
    }
}

/// `hookwire token` against the server, as an operator would run it.
async fn token_cli(s: &TestServer, token: &str, args: &[&str]) -> std::process::Output {
    let mut cmd = std::process::Command::new(common::binary());
    cmd.arg("token")
        .args(args)
        .args(["--server", &s.base, "--access-token", token])
        .env_remove("HOOKWIRE_ACCESS_TOKEN")
        .env_remove("HOOKWIRE_SERVER");
    tokio::task::spawn_blocking(move || cmd.output())
        .await
        .expect("join")
        .expect("hookwire token")
}

#[tokio::test]
async fn the_token_command_creates_lists_and_revokes() {
    let s = team().await;
    let made = token_cli(&s, OP, &["create", "ci-bot", "--scope", "tunnel"]).await;
    assert!(made.status.success(), "{made:?}");
    let token = String::from_utf8(made.stdout).expect("utf-8");
    let token = token.trim();
    assert!(
        token.starts_with("hwk_") && !token.contains('\n'),
        "only the token on stdout: {token:?}"
    );
    let told = String::from_utf8_lossy(&made.stderr);
    assert!(told.contains("shown this once"), "{told}");
    // The token works, with its scope.
    assert_eq!(
        status(call(&s, Method::GET, "/api/tokens", token)).await,
        403
    );
    let bin = minted(
        call(&s, Method::POST, "/api/bins", OP)
            .send()
            .await
            .expect("mint"),
    )
    .await;
    assert_eq!(
        status(call(&s, Method::GET, &format!("/api/bins/{bin}"), token)).await,
        200
    );

    let list = token_cli(&s, OP, &["list"]).await;
    let text = String::from_utf8_lossy(&list.stdout);
    assert!(list.status.success(), "{list:?}");
    assert!(
        text.starts_with("NAME") && text.contains("ci-bot") && text.contains("tunnel"),
        "{text}"
    );
    assert!(
        !text.contains(token),
        "the list never shows a token: {text}"
    );
    let json = token_cli(&s, OP, &["list", "--json"]).await;
    let v: Value = serde_json::from_slice(&json.stdout).expect("json list");
    assert_eq!(v["tokens"][0]["name"], "ci-bot");
    assert!(v["tokens"][0]["last_used_at"].is_string(), "{v}");

    // Refusals say what to do, and exit non-zero.
    let dup = token_cli(&s, OP, &["create", "ci-bot", "--scope", "read"]).await;
    assert!(!dup.status.success());
    assert!(
        String::from_utf8_lossy(&dup.stderr).contains("revoke it first"),
        "{dup:?}"
    );
    let bad = token_cli(&s, OP, &["create", "two words", "--scope", "read"]).await;
    assert!(!bad.status.success());
    assert!(
        String::from_utf8_lossy(&bad.stderr).contains("letters, digits"),
        "{bad:?}"
    );
    let not_admin = token_cli(&s, token, &["list"]).await;
    assert!(!not_admin.status.success());
    assert!(
        String::from_utf8_lossy(&not_admin.stderr).contains("admin scope"),
        "{not_admin:?}"
    );

    let revoked = token_cli(&s, OP, &["revoke", "ci-bot"]).await;
    assert!(revoked.status.success(), "{revoked:?}");
    assert!(String::from_utf8_lossy(&revoked.stdout).contains("revoked"));
    assert_eq!(
        status(call(&s, Method::GET, &format!("/api/bins/{bin}"), token)).await,
        401
    );
    let again = token_cli(&s, OP, &["revoke", "ci-bot"]).await;
    assert!(!again.status.success());
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("token list"),
        "{again:?}"
    );
}
