//! Access control with `--access-token`: every route family without, with a
//! wrong and with the right token; the login flow; tunnels and `new`.

use crate::common;

use common::TestServer;
use hookwire::core::secret::Secret;

const TOKEN: &str = "s3cret-team-token";

async fn team_server() -> TestServer {
    TestServer::spawn_with(|c| c.access_token = Some(Secret::new(TOKEN))).await
}

/// Mints a bin with the token.
async fn bin(s: &TestServer) -> String {
    let res = s
        .client
        .post(s.url("/api/bins"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("mint");
    assert_eq!(res.status(), 201);
    common::json(res).await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

#[tokio::test]
async fn api_needs_the_bearer_token() {
    let s = team_server().await;
    let bin = bin(&s).await;
    let routes = [
        ("POST", "/api/bins".to_string()),
        ("GET", format!("/api/bins/{bin}")),
        ("GET", format!("/api/bins/{bin}/requests")),
        ("DELETE", format!("/api/bins/{bin}/requests")),
        ("PUT", format!("/api/bins/{bin}/response")),
        ("GET", format!("/api/bins/{bin}/tunnel?v=1")),
        ("GET", "/metrics".to_string()),
    ];
    for (method, path) in &routes {
        let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        for auth in [None, Some("wrong"), Some("Bearer")] {
            let mut req = s.client.request(m.clone(), s.url(path));
            if let Some(t) = auth {
                req = req.bearer_auth(t);
            }
            let res = req.send().await.expect("send");
            assert_eq!(res.status(), 401, "{method} {path} with {auth:?}");
            assert_eq!(res.headers()["www-authenticate"], "Bearer");
            let err = common::json(res).await;
            assert!(err["error"].as_str().expect("msg").contains("Bearer"));
        }
    }
    let res = s
        .client
        .get(s.url(&format!("/api/bins/{bin}")))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
    let res = s
        .client
        .get(s.url("/metrics"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn captures_health_and_login_stay_public() {
    let s = team_server().await;
    let bin = bin(&s).await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hook")))
        .body("{}")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200);
    let res = s
        .client
        .get(s.url("/healthz"))
        .send()
        .await
        .expect("health");
    assert_eq!(res.status(), 200);
    let res = s.client.get(s.url("/login")).send().await.expect("login");
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("html");
    assert!(html.contains(r#"name="token""#));
    assert!(!html.contains(TOKEN));
    assert!(
        !html.contains("Sign out"),
        "the login page offers no sign-out"
    );
}

#[tokio::test]
async fn inspector_redirects_to_login_and_the_cookie_opens_it() {
    let s = team_server().await;
    let bin = bin(&s).await;
    let page = format!("/bins/{bin}");
    let res = s.client.get(s.url(&page)).send().await.expect("get");
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().expect("loc").to_owned();
    assert!(location.starts_with("/login?next=%2Fbins%2F"), "{location}");
    for path in ["/", "/bins/x"] {
        let res = s.client.get(s.url(path)).send().await.expect("get");
        assert_eq!(res.status(), 303, "{path}");
    }

    // Wrong token: 401 with the form again, no cookie.
    let res = s
        .client
        .post(s.url("/login"))
        .form(&[("token", "nope"), ("next", page.as_str())])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 401);
    assert!(!res.headers().contains_key("set-cookie"));

    let res = s
        .client
        .post(s.url("/login"))
        .form(&[("token", TOKEN), ("next", page.as_str())])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], page.as_str());
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(attr), "{cookie}");
    }
    assert!(
        !cookie.contains(TOKEN),
        "the cookie must not carry the token itself"
    );
    let session = cookie.split(';').next().expect("pair").to_owned();

    let res = s
        .client
        .get(s.url(&page))
        .header("cookie", &session)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    // The cookie also works for the API (the inspector's own calls).
    let res = s
        .client
        .get(s.url(&format!("/api/bins/{bin}")))
        .header("cookie", &session)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    // Cookie-authenticated state changes from another site are refused.
    let res = s
        .client
        .delete(s.url(&format!("/api/bins/{bin}")))
        .header("cookie", &session)
        .header("origin", "https://evil.example")
        .send()
        .await
        .expect("delete");
    assert_eq!(res.status(), 403);
    // Open redirects are not followed.
    let res = s
        .client
        .post(s.url("/login"))
        .form(&[("token", TOKEN), ("next", "//evil.example/")])
        .send()
        .await
        .expect("login");
    assert_eq!(res.headers()["location"], "/");
}

#[tokio::test]
async fn secure_cookie_behind_https() {
    let s = TestServer::spawn_with(|c| {
        c.access_token = Some(Secret::new(TOKEN));
        c.public_url = Some("https://hooks.example.com".into());
    })
    .await;
    let res = s
        .client
        .post(s.url("/login"))
        .form(&[("token", TOKEN)])
        .send()
        .await
        .expect("login");
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .expect("c")
            .contains("Secure")
    );
}

fn run_binary(args: &[&str]) -> std::process::Output {
    std::process::Command::new(common::binary())
        .args(args)
        .env_remove("HOOKWIRE_ACCESS_TOKEN")
        .output()
        .expect("run hookwire")
}

#[tokio::test]
async fn tunnel_and_new_with_a_wrong_token_fail_at_once_with_a_clear_error() {
    let s = team_server().await;
    let bin = bin(&s).await;
    let capture = format!("{}/{bin}", s.base);
    let started = std::time::Instant::now();
    let out = tokio::task::spawn_blocking(move || {
        run_binary(&[
            "tunnel",
            &capture,
            "--to",
            "http://127.0.0.1:9",
            "--access-token",
            "wrong",
        ])
    })
    .await
    .expect("join");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("refused the access token"), "{err}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(5),
        "no retry loop"
    );

    let server = s.base.clone();
    let out = tokio::task::spawn_blocking(move || run_binary(&["new", "--server", &server]))
        .await
        .expect("join");
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("401"));

    let server = s.base.clone();
    let out = tokio::task::spawn_blocking(move || {
        run_binary(&["new", "--server", &server, "--access-token", TOKEN])
    })
    .await
    .expect("join");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
