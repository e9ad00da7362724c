//! The server-rendered inspector: pages, forms, escaping of hostile
//! captures, security headers and the cross-site check.

use crate::common;

use common::TestServer;

async fn page(s: &TestServer, path: &str) -> (reqwest::header::HeaderMap, String) {
    let res = s.client.get(s.url(path)).send().await.expect("get");
    assert_eq!(res.status(), 200, "GET {path}");
    let headers = res.headers().clone();
    (headers, named_entities(&res.text().await.expect("html")))
}

/// askama escapes with numeric entities; the assertions read better with
/// the named ones.
fn named_entities(html: &str) -> String {
    html.replace("&#60;", "&lt;")
        .replace("&#62;", "&gt;")
        .replace("&#38;", "&amp;")
        .replace("&#34;", "&quot;")
}

#[tokio::test]
async fn new_url_button_lands_on_the_inspector() {
    let s = TestServer::spawn().await;
    let (_, home) = page(&s, "/").await;
    assert!(home.contains(r#"<form method="post" action="/bins">"#));
    assert!(home.contains("New URL"));

    let res = s
        .client
        .post(s.url("/bins"))
        .header("origin", &s.base)
        .send()
        .await
        .expect("post");
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().expect("loc").to_owned();
    let id = location.strip_prefix("/bins/").expect("inspector location");
    let (_, html) = page(&s, &location).await;
    assert!(
        html.contains(&format!("{}/{id}", s.base)),
        "capture URL shown"
    );
    assert!(html.contains("Waiting for the first request"));
    let (_, home) = page(&s, "/").await;
    assert!(home.contains(id), "recent bins list it");
}

#[tokio::test]
async fn inspector_shows_list_and_detail_of_each_body_kind() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let send = |path: &str, ct: &str, body: Vec<u8>| {
        s.client
            .post(s.url(&format!("/{bin}{path}")))
            .header("content-type", ct)
            .header("x-trace", "t-1")
            .body(body)
            .send()
    };
    let id_of = |res: reqwest::Response| -> i64 { common::request_id(&res) };
    let json_id = id_of(
        send(
            "/json?a=1&b=two",
            "application/json",
            br#"{"b":1,"a":{"c":[1,2]}}"#.to_vec(),
        )
        .await
        .expect("send"),
    );
    let form_id = id_of(
        send(
            "/form",
            "application/x-www-form-urlencoded",
            b"name=Ada+L&x=%26".to_vec(),
        )
        .await
        .expect("send"),
    );
    let bin_id = id_of(
        send(
            "/bin",
            "application/octet-stream",
            vec![0xde, 0xad, 0xbe, 0xef, 0x00],
        )
        .await
        .expect("send"),
    );

    let (_, html) = page(&s, &format!("/bins/{bin}?r={json_id}")).await;
    assert!(html.contains(r#"<span id="count">3</span> requests"#));
    for path in ["/json?a=1&amp;b=two", "/form", "/bin"] {
        assert!(html.contains(path), "list shows {path}");
    }
    assert!(
        html.contains("  &quot;a&quot;: {\n    &quot;c&quot;: [\n"),
        "pretty JSON"
    );
    assert!(
        html.contains("<th>x-trace</th><td>t-1</td>"),
        "headers table"
    );
    assert!(html.contains("<th>b</th><td>two</td>"), "query table");

    let (_, html) = page(&s, &format!("/bins/{bin}?r={form_id}")).await;
    assert!(
        html.contains("<th>name</th><td>Ada L</td>"),
        "form fields decoded"
    );
    assert!(html.contains("<th>x</th><td>&amp;</td>"));

    let (_, html) = page(&s, &format!("/bins/{bin}?r={bin_id}")).await;
    assert!(html.contains("00000000  de ad be ef 00"), "hex dump");
    assert!(
        html.contains(&format!("/api/bins/{bin}/requests/{bin_id}/body")),
        "raw download link"
    );

    // Default selection is the newest; search narrows the list.
    let (_, html) = page(&s, &format!("/bins/{bin}")).await;
    assert!(html.contains("00000000  de ad be ef 00"));
    let (_, html) = page(&s, &format!("/bins/{bin}?q=Ada")).await;
    assert!(html.contains("/form") && !html.contains("/json?a=1"));
}

#[tokio::test]
async fn hostile_captures_are_escaped_and_scripts_cannot_run() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let evil = "<script>alert(1)</script>";
    let res = s
        .client
        .post(s.url(&format!(
            "/{bin}/%3Cscript%3E/<img src=x onerror=alert(2)>?q=<script>alert(3)</script>"
        )))
        .header("content-type", "text/html")
        .header("x-evil", format!("\"><svg onload=alert(4)>{evil}"))
        .body(format!("{evil}<img src=x onerror=alert(5)>"))
        .send()
        .await
        .expect("send");
    assert_eq!(res.status(), 200);

    let (headers, html) = page(&s, &format!("/bins/{bin}")).await;
    let csp = headers["content-security-policy"].to_str().expect("csp");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
        "{csp}"
    );
    assert!(csp.contains("default-src 'none'"));
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    for raw in [
        "<script>alert",
        "<img src=x",
        "<svg onload",
        "onerror=alert(5)>",
    ] {
        assert!(!html.contains(raw), "unescaped {raw:?} in the page");
    }
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("&lt;svg onload=alert(4)&gt;"));
    // The page's only script is our own file.
    assert_eq!(html.matches("<script").count(), 1);
    assert!(html.contains(r#"<script src="/static/"#));
}

#[tokio::test]
async fn response_form_clear_and_delete_work_without_javascript() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let form = |path: String, body: &'static str| {
        s.client
            .post(s.url(&path))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("sec-fetch-site", "same-origin")
            .body(body)
            .send()
    };
    let res = form(
        format!("/bins/{bin}/response"),
        "status=418&delay_ms=0&headers=Content-Type%3A+text%2Fplain%0D%0AX-Teapot%3A+yes&body=short+and+stout",
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 303);
    let res = s
        .client
        .post(s.url(&format!("/{bin}")))
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 418);
    assert_eq!(res.headers()["x-teapot"], "yes");
    assert_eq!(res.text().await.expect("body"), "short and stout");
    let (_, html) = page(&s, &format!("/bins/{bin}")).await;
    assert!(html.contains(r#"value="418""#));
    assert!(html.contains("x-teapot: yes"));

    // A bad value gets an HTML error page that says what to fix.
    let res = form(
        format!("/bins/{bin}/response"),
        "status=200&headers=nocolon",
    )
    .await
    .expect("post");
    assert_eq!(res.status(), 400);
    assert!(res.text().await.expect("html").contains("Name: value"));

    let rid = s.requests(&bin).await[0]["id"].as_i64().expect("id");
    s.client
        .post(s.url(&format!("/{bin}/two")))
        .send()
        .await
        .expect("capture");
    let res = form(format!("/bins/{bin}/requests/{rid}/delete"), "")
        .await
        .expect("post");
    assert_eq!(res.status(), 303);
    assert_eq!(s.requests(&bin).await.len(), 1);
    let res = form(format!("/bins/{bin}/clear"), "").await.expect("post");
    assert_eq!(res.status(), 303);
    assert!(s.requests(&bin).await.is_empty());
    let res = form(format!("/bins/{bin}/delete"), "").await.expect("post");
    assert_eq!(res.status(), 303);
    let res = s
        .client
        .get(s.url(&format!("/bins/{bin}")))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
    assert!(res.text().await.expect("html").contains("no such bin"));
}

#[tokio::test]
async fn cross_site_state_changes_are_refused() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let attempts = [
        ("/bins".to_string(), "origin", "https://evil.example"),
        ("/bins".to_string(), "sec-fetch-site", "cross-site"),
        (format!("/bins/{bin}/clear"), "sec-fetch-site", "same-site"),
        (format!("/bins/{bin}/delete"), "origin", "null"),
        (
            format!("/api/bins/{bin}/requests"),
            "origin",
            "http://127.0.0.1:1",
        ),
    ];
    for (path, header, value) in &attempts {
        let method = if path.starts_with("/api") {
            reqwest::Method::DELETE
        } else {
            reqwest::Method::POST
        };
        let res = s
            .client
            .request(method, s.url(path))
            .header(*header, *value)
            .send()
            .await
            .expect("send");
        assert_eq!(res.status(), 403, "{path} with {header}: {value}");
    }
    s.get_json(&format!("/api/bins/{bin}"), 200).await;
    // Captures stay open to any site: senders are other origins by nature.
    let res = s
        .client
        .post(s.url(&format!("/{bin}")))
        .header("origin", "https://evil.example")
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn static_assets_are_served_with_long_caching() {
    let s = TestServer::spawn().await;
    let (_, home) = page(&s, "/").await;
    let css = home
        .split("href=\"")
        .find_map(|p| p.split('"').next().filter(|u| u.ends_with("style.css")))
        .expect("stylesheet link")
        .to_owned();
    let res = s.client.get(s.url(&css)).send().await.expect("css");
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["cache-control"]
            .to_str()
            .expect("cc")
            .contains("immutable")
    );
    assert!(
        res.headers()["content-type"]
            .to_str()
            .expect("ct")
            .starts_with("text/css")
    );
    let res = s
        .client
        .get(s.url("/static/x/nope.js"))
        .send()
        .await
        .expect("404");
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn a_senders_retries_are_grouped_with_their_gaps() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let body =
        r#"{"job_id":"550e8400-e29b-41d4-a716-446655440000","status":"success","cost":"0.0015"}"#;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let res = s
            .client
            .post(s.url(&format!("/{bin}/hooks/eden")))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        ids.push(common::request_id(&res));
    }
    // A different job is not a retry.
    s.client
        .post(s.url(&format!("/{bin}/hooks/eden")))
        .body(r#"{"job_id":"other","status":"success"}"#)
        .send()
        .await
        .expect("send");
    let r = s
        .get_json(&format!("/api/bins/{bin}/requests/{}", ids[1]), 200)
        .await;
    assert_eq!(
        r["idempotency_key"],
        "job_id:550e8400-e29b-41d4-a716-446655440000 status:success"
    );
    let (_, html) = page(&s, &format!("/bins/{bin}?r={}", ids[1])).await;
    assert!(
        html.contains("Retries: the sender delivered this 3 times"),
        "{html}"
    );
    for id in &ids {
        assert!(
            html.contains(&format!("?r={id}\">#{id}</a>")),
            "attempt #{id} listed"
        );
    }
    assert_eq!(
        html.matches(">retry</span>").count(),
        3,
        "badges on the three attempts only"
    );
}

#[tokio::test]
async fn two_requests_compare_side_by_side() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let send = |body: &'static str, extra: &'static str| {
        s.client
            .post(s.url(&format!("/{bin}/hook")))
            .header("content-type", "application/json")
            .header("x-extra", extra)
            .body(body)
            .send()
    };
    let a = common::request_id(
        &send(r#"{"status":"processing","n":1}"#, "one")
            .await
            .expect("a"),
    );
    let b = common::request_id(
        &send(r#"{"status":"<b>done</b>","n":1}"#, "two")
            .await
            .expect("b"),
    );
    let (_, html) = page(&s, &format!("/bins/{bin}/compare?a={a}&b={b}")).await;
    assert!(html.contains(&format!("Request #{a} compared with #{b}")));
    assert!(
        html.contains(r#"<tr class="changed"><th>x-extra</th><td>one</td><td>two</td></tr>"#),
        "{html}"
    );
    assert!(
        html.contains(r#"<span class="removed">-   &quot;status&quot;: &quot;processing&quot;,"#),
        "{html}"
    );
    assert!(html.contains("&lt;b&gt;done&lt;/b&gt;"), "escaped");
    assert!(
        html.contains(r#"<span class="same">    &quot;n&quot;: 1"#),
        "{html}"
    );
    let res = s
        .client
        .get(s.url(&format!("/bins/{bin}/compare?a={a}&b=999999")))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 404);
}
