//! `GET /api/docs`: the API described for people, rendered on the server
//! from `/api/openapi.json` — every operation and schema of the document,
//! escaped, under the strict CSP, behind the same token as the API; and in
//! real headless Chromium (as `browser.rs` drives it): no console error,
//! nothing loaded from another host, no sideways scroll at 390 px.

use crate::common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use crate::browser::{browser_with, console_errors, driver};
use common::TestServer;
use fantoccini::{Client, Locator};
use hookwire::core::secret::Secret;
use serde_json::{Value, json};

/// Each operation of the document: (method, path, operationId).
fn operations(doc: &Value) -> Vec<(String, String, String)> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let id = op["operationId"].as_str().expect("operationId").to_owned();
            ops.push((method.to_ascii_uppercase(), path.clone(), id));
        }
    }
    ops
}

/// The page and the document it describes.
async fn page_and_document(s: &TestServer) -> (reqwest::header::HeaderMap, String, Value) {
    let doc = s.get_json("/api/openapi.json", 200).await;
    let res = s.client.get(s.url("/api/docs")).send().await.expect("docs");
    assert_eq!(res.status(), 200);
    let headers = res.headers().clone();
    (headers, res.text().await.expect("html"), doc)
}

/// Every value of `attr="…"` in `html`.
fn attributes<'a>(html: &'a str, attr: &str) -> Vec<&'a str> {
    let needle = format!(" {attr}=\"");
    html.split(needle.as_str())
        .skip(1)
        .map(|rest| rest.split('"').next().expect("closing quote"))
        .collect()
}

#[tokio::test]
async fn the_page_describes_every_operation_and_schema_of_the_document() {
    let s = TestServer::spawn().await;
    let (headers, html, doc) = page_and_document(&s).await;
    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let csp = headers["content-security-policy"].to_str().expect("csp");
    for part in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
    ] {
        assert!(csp.contains(part), "{csp}");
    }

    let ops = operations(&doc);
    assert!(ops.len() >= 19, "{ops:?}");
    assert!(
        ops.iter().any(|(m, p, _)| m == "GET" && p == "/api/docs"),
        "the page is described in the document too"
    );
    for (method, path, id) in &ops {
        let section = format!("<section class=\"op\" id=\"op-{id}\" data-op=\"{method} {path}\">");
        assert!(
            html.contains(&section),
            "{method} {path} is not on the page"
        );
    }
    assert_eq!(
        html.matches("<section class=\"op\"").count(),
        ops.len(),
        "each operation once"
    );
    let schemas = doc["components"]["schemas"].as_object().expect("schemas");
    for name in schemas.keys() {
        assert!(
            html.contains(&format!("id=\"schema-{name}\" data-schema=\"{name}\"")),
            "schema {name} is not on the page"
        );
    }

    // Every in-page link lands on something, and nothing is from elsewhere.
    let ids: BTreeSet<&str> = attributes(&html, "id").into_iter().collect();
    for href in attributes(&html, "href") {
        if let Some(target) = href.strip_prefix('#') {
            assert!(ids.contains(target), "#{target} is not on the page");
        } else {
            assert!(
                href.starts_with('/') && !href.starts_with("//") || href == "data:,",
                "{href}"
            );
        }
    }
    for src in attributes(&html, "src") {
        assert!(src.starts_with("/static/"), "{src}");
    }
    assert!(
        !html.contains(" style=") && !html.contains("<style"),
        "no inline style"
    );
    assert_eq!(
        html.matches("<script").count(),
        1,
        "only the site's own script"
    );

    // Parameters, bodies, answers and examples, as the document has them.
    for text in [
        "<th scope=\"row\"><code>limit</code></th>",
        "Page size, 1 to 1000 (default 50).",
        "<code class=\"example\">&#34;stripe-dev&#34;</code>",
        "<span class=\"status s-error\">409</span>",
        "The alias is taken",
        "<a href=\"#schema-BinView\">BinView</a>",
        "array of <a href=\"#schema-RuleConfig\">RuleConfig</a>",
        "Authorization: Bearer &#60;token&#62;",
    ] {
        assert!(html.contains(text), "{text} is not on the page");
    }
    // The document's own text is escaped: `whsec_<base64>` is a secret's
    // shape in a description, never a tag.
    assert!(!html.contains("<base64>"));
    assert!(html.contains("<code>whsec_&#60;base64&#62;</code>"));
}

#[tokio::test]
async fn the_docs_need_the_token_like_the_rest_of_the_api() {
    const TOKEN: &str = "docs-team-token";
    let s = TestServer::spawn_with(|c| c.access_token = Some(Secret::new(TOKEN))).await;
    let res = s.client.get(s.url("/api/docs")).send().await.expect("docs");
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["www-authenticate"], "Bearer");
    let res = s
        .client
        .get(s.url("/api/docs"))
        .bearer_auth(TOKEN)
        .send()
        .await
        .expect("docs");
    assert_eq!(res.status(), 200);
    assert!(res.text().await.expect("html").contains("Sign out"));

    // A signed-in inspector user reaches it from the home page.
    let res = s
        .client
        .post(s.url("/login"))
        .form(&[("token", TOKEN), ("next", "/")])
        .send()
        .await
        .expect("login");
    assert_eq!(res.status(), 303);
    let session = res.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .split(';')
        .next()
        .expect("pair")
        .to_owned();
    let get = |path: &'static str| s.client.get(s.url(path)).header("cookie", &session).send();
    let home = get("/").await.expect("home").text().await.expect("html");
    assert!(home.contains("href=\"/api/docs\""), "{home}");
    assert_eq!(get("/api/docs").await.expect("docs").status(), 200);
}

/// Saves a screenshot in `dir` (HOOKWIRE_SCREENSHOTS, to look at them).
async fn screenshot(c: &Client, dir: &Path, name: &str) {
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

async fn script(c: &Client, js: &str) -> Value {
    c.execute(js, vec![]).await.expect("script")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_docs_render_in_chromium_from_this_host_alone() {
    let s = TestServer::spawn().await;
    let ops = operations(&s.get_json("/api/openapi.json", 200).await);
    let d = driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let shots: PathBuf = std::env::var_os("HOOKWIRE_SCREENSHOTS")
        .map_or_else(|| tmp.path().to_owned(), PathBuf::from);
    let c = browser_with(&d, &tmp.path().join("profile"), &["--window-size=1400,900"]).await;
    c.goto(&s.url("/api/docs")).await.expect("open docs");
    c.wait()
        .for_element(Locator::Css("#schemas"))
        .await
        .expect("page rendered");

    // Every operation is rendered, styled (the stylesheet applied).
    let shown = script(
        &c,
        "return [...document.querySelectorAll('section.op[data-op]')]
                  .filter(el => el.getBoundingClientRect().height > 0)
                  .map(el => el.dataset.op);",
    )
    .await;
    let shown: BTreeSet<String> = serde_json::from_value(shown).expect("strings");
    let wanted: BTreeSet<String> = ops.iter().map(|(m, p, _)| format!("{m} {p}")).collect();
    assert_eq!(shown, wanted);
    let border = script(
        &c,
        "return getComputedStyle(document.querySelector('section.op')).borderTopStyle;",
    )
    .await;
    assert_eq!(border, json!("solid"), "api_docs.css applied");

    // Everything the page loaded came from this server.
    let loaded = script(
        &c,
        "return performance.getEntriesByType('resource').map(e => e.name);",
    )
    .await;
    let loaded: Vec<String> = serde_json::from_value(loaded).expect("strings");
    assert!(loaded.len() >= 3, "stylesheets and script: {loaded:?}");
    for url in &loaded {
        assert!(url.starts_with(&s.base), "{url} is from another host");
    }
    screenshot(&c, &shots, "api_docs_1400").await;

    // A phone: the page itself never scrolls sideways (tables scroll in
    // their own box).
    c.set_window_size(390, 844).await.expect("resize");
    let width = script(&c, "return window.innerWidth;").await;
    assert!(width.as_u64().is_some_and(|w| w <= 390), "viewport {width}");
    c.goto(&s.url("/api/docs#op-list_requests"))
        .await
        .expect("open docs at an operation");
    let widths = script(
        &c,
        "return [document.documentElement.scrollWidth, document.documentElement.clientWidth];",
    )
    .await;
    assert!(
        widths[0].as_u64() <= widths[1].as_u64(),
        "the page is wider than the screen: {widths}"
    );
    screenshot(&c, &shots, "api_docs_390").await;

    let errors = console_errors(&d, &c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    c.close().await.expect("close");
}
