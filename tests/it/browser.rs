//! The inspector in real headless Chromium (Debian's chromium and
//! chromium-driver, installed by .ci/run), driven over WebDriver with
//! fantoccini: live arrival without reload, keyboard navigation, search,
//! a hostile request that runs nothing, no console errors, the colours of
//! a dark preference. Each test saves a screenshot in its temp dir so a
//! failure can be looked at.

use crate::common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{TestServer, free_port};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

/// chromedriver on a free port, killed on drop.
pub(crate) struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub(crate) async fn driver() -> Driver {
    let port = free_port();
    let child = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver (Debian's chromium-driver; .ci/run installs it)");
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(Instant::now() < deadline, "chromedriver did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Driver { child, url }
}

async fn browser(d: &Driver, profile: &std::path::Path) -> Client {
    browser_with(d, profile, &[]).await
}

/// A session whose Chromium also gets `extra` switches.
pub(crate) async fn browser_with(d: &Driver, profile: &std::path::Path, extra: &[&str]) -> Client {
    let mut args = vec![
        "--headless".to_owned(),
        "--no-sandbox".to_owned(),
        "--disable-gpu".to_owned(),
        "--disable-quic".to_owned(),
        "--no-first-run".to_owned(),
        "--disable-background-networking".to_owned(),
        "--disable-component-update".to_owned(),
        "--disable-sync".to_owned(),
        "--window-size=1280,900".to_owned(),
        format!("--user-data-dir={}", profile.display()),
    ];
    args.extend(extra.iter().map(|a| (*a).to_owned()));
    let caps = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": args,
        },
        "goog:loggingPrefs": { "browser": "ALL" }
    });
    let serde_json::Value::Object(caps) = caps else {
        unreachable!()
    };
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&d.url)
        .await
        .expect("WebDriver session with headless Chromium")
}

/// Browser console entries at SEVERE level (errors), via chromedriver's log
/// endpoint.
pub(crate) async fn console_errors(d: &Driver, c: &Client) -> Vec<String> {
    let id = c.session_id().await.expect("session").expect("id");
    let res = reqwest::Client::new()
        .post(format!("{}/session/{id}/se/log", d.url))
        .header("content-type", "application/json")
        .body(r#"{"type":"browser"}"#)
        .send()
        .await
        .expect("log endpoint");
    let v: serde_json::Value =
        serde_json::from_slice(&res.bytes().await.expect("body")).expect("json");
    v["value"]
        .as_array()
        .map(|entries| {
            entries
                .iter()
                .filter(|e| e["level"] == "SEVERE")
                .map(|e| e["message"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Waits (bounded) until the page's URL satisfies `pred` (WebDriver has no
/// navigation event to await).
async fn wait_url(c: &Client, pred: impl Fn(&str) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let url = c.current_url().await.expect("url");
        if pred(url.as_str()) {
            return;
        }
        assert!(Instant::now() < deadline, "page stayed at {url}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn screenshot(c: &Client, dir: &std::path::Path, name: &str) {
    if let Ok(png) = c.screenshot().await {
        let _ = std::fs::write(dir.join(format!("{name}.png")), png);
    }
}

pub(crate) async fn post(s: &TestServer, bin: &str, path: &str, body: &str) -> i64 {
    let res = s
        .client
        .post(s.url(&format!("/{bin}{path}")))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .expect("capture");
    common::request_id(&res)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_request_appears_live_and_keys_move_through_the_list() {
    let s = TestServer::spawn().await;
    let d = driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let c = browser(&d, &tmp.path().join("profile")).await;
    let bin = s.new_bin().await;
    let first = post(&s, &bin, "/first", r#"{"n":1}"#).await;

    c.goto(&s.url(&format!("/bins/{bin}")))
        .await
        .expect("open inspector");
    c.wait()
        .for_element(Locator::Css(&format!("li[data-id='{first}'], li.selected")))
        .await
        .expect("list rendered");
    // The JSON body is coloured and foldable, with its text unchanged.
    let key = c
        .find(Locator::Css("pre.json .j-key"))
        .await
        .expect("coloured JSON");
    assert_eq!(key.text().await.expect("text"), "\"n\"");
    let pre = c.find(Locator::Css("pre.json")).await.expect("pre");
    assert_eq!(
        pre.text().await.expect("text").replace('\u{25be}', ""),
        "{\n  \"n\": 1\n}"
    );
    c.find(Locator::Css("pre.json button.j-fold"))
        .await
        .expect("fold")
        .click()
        .await
        .expect("click");
    let folded = c
        .execute(
            "return document.querySelector('pre.json .j-block').hidden;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(folded, serde_json::Value::Bool(true));

    // Wait until the page's event stream is open (the server counts it).
    let deadline = Instant::now() + Duration::from_secs(10);
    let live = loop {
        let id = post(&s, &bin, "/live", r#"{"n":2}"#).await;
        let found = tokio::time::timeout(
            Duration::from_millis(1500),
            c.wait()
                .for_element(Locator::Css(&format!("ol.requests a[href$='?r={id}']"))),
        )
        .await;
        if let Ok(Ok(_)) = found {
            break id;
        }
        assert!(Instant::now() < deadline, "no live arrival within 10 s");
    };
    let started = Instant::now();
    let third = post(&s, &bin, "/third", r#"{"n":3}"#).await;
    c.wait()
        .at_most(Duration::from_secs(5))
        .for_element(Locator::Css(&format!("ol.requests a[href$='?r={third}']")))
        .await
        .expect("third request shows without reload");
    let latency = started.elapsed();
    eprintln!("capture to browser: {latency:?}");
    assert!(latency < Duration::from_secs(1), "took {latency:?}");
    let count = c
        .find(Locator::Id("count"))
        .await
        .expect("count")
        .text()
        .await
        .expect("text");
    assert!(count.parse::<u32>().expect("number") >= 3);
    screenshot(&c, tmp.path(), "live").await;

    // Keyboard: the selected request is the oldest (rendered before the live
    // ones); k moves to the newer one next to it.
    let url_before = c.current_url().await.expect("url");
    c.find(Locator::Css("body"))
        .await
        .expect("body")
        .send_keys("k")
        .await
        .expect("key k");
    wait_url(&c, |u| u != url_before.as_str()).await;
    let url = c.current_url().await.expect("url");
    assert!(url.as_str().contains("?r="), "{url}");
    assert!(!url.as_str().ends_with(&format!("?r={first}")), "{url}");
    let _ = live;
    c.find(Locator::Css("body"))
        .await
        .expect("body")
        .send_keys("j")
        .await
        .expect("key j");
    wait_url(&c, |u| u.ends_with(&format!("?r={first}"))).await;

    // Search narrows the list.
    let q = c
        .find(Locator::Css("input[name=q]"))
        .await
        .expect("search box");
    q.send_keys("third").await.expect("type");
    c.find(Locator::Css("form.search button"))
        .await
        .expect("button")
        .click()
        .await
        .expect("submit");
    wait_url(&c, |u| u.contains("q=third")).await;
    let items = c
        .find_all(Locator::Css("ol.requests li"))
        .await
        .expect("items");
    assert_eq!(items.len(), 1);
    assert!(items[0].text().await.expect("text").contains("/third"));

    let errors = console_errors(&d, &c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_request_runs_nothing() {
    let s = TestServer::spawn().await;
    let d = driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let c = browser(&d, &tmp.path().join("profile")).await;
    let bin = s.new_bin().await;
    let payload = r#"<img src=x onerror="window.__pwned=1"><script>window.__pwned=2</script>"#;
    let res = s
        .client
        .post(s.url(&format!(
            "/{bin}/%3Cscript%3Ewindow.__pwned=3%3C/script%3E?q=%3Cimg%20src=x%20onerror=window.__pwned=4%3E"
        )))
        .header("content-type", "text/html")
        .header("x-evil", r#""><svg onload="window.__pwned=5">"#)
        .body(payload)
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200);

    c.goto(&s.url(&format!("/bins/{bin}"))).await.expect("open");
    c.wait()
        .for_element(Locator::Css("li.selected"))
        .await
        .expect("rendered");
    // A live arrival of the same hostile request must not run either.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let id = post(
            &s,
            &bin,
            "/%3Cimg%20src=x%20onerror=window.__pwned=6%3E",
            payload,
        )
        .await;
        let found = tokio::time::timeout(
            Duration::from_millis(1500),
            c.wait()
                .for_element(Locator::Css(&format!("ol.requests a[href$='?r={id}']"))),
        )
        .await;
        if let Ok(Ok(_)) = found {
            break;
        }
        assert!(Instant::now() < deadline, "no live arrival within 10 s");
    }
    let pwned = c
        .execute(
            "return window.__pwned === undefined ? null : window.__pwned;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(pwned, serde_json::Value::Null, "captured content ran");
    let html = c.source().await.expect("source");
    assert!(
        html.contains("window.__pwned=1"),
        "the payload is shown as text"
    );
    screenshot(&c, tmp.path(), "hostile").await;
    // The payload's failed image or blocked script would show as errors only
    // if they were parsed as HTML.
    let errors = console_errors(&d, &c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    c.close().await.expect("close");
}

/// An `rgb(…)`/`rgba(…)` computed colour as 0–255 channels (alpha dropped).
fn rgb(css: &serde_json::Value) -> [f64; 3] {
    let css = css.as_str().expect("a colour string");
    let inner = css
        .split_once('(')
        .and_then(|(_, rest)| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("not rgb(): {css}"));
    let mut channels = inner
        .split(',')
        .map(|c| c.trim().parse::<f64>().expect(css));
    [(); 3].map(|_| channels.next().expect(css))
}

/// WCAG relative luminance, 0 (black) to 1 (white).
fn luminance([r, g, b]: [f64; 3]) -> f64 {
    let lin = |c: f64| {
        let c = c / 255.0;
        if c <= 0.039_28 {
            c / 12.92
        } else {
            ((c + 0.055) / 1.055).powf(2.4)
        }
    };
    0.2126 * lin(r) + 0.7152 * lin(g) + 0.0722 * lin(b)
}

/// WCAG contrast ratio, 1 to 21.
fn contrast(a: [f64; 3], b: [f64; 3]) -> f64 {
    let (la, lb) = (luminance(a), luminance(b));
    (la.max(lb) + 0.05) / (la.min(lb) + 0.05)
}

/// The first `selector` match's `property` colour and the background it is
/// drawn on: its own, or its nearest ancestor's that is not transparent.
async fn colours(c: &Client, selector: &str, property: &str) -> ([f64; 3], [f64; 3]) {
    let v = c
        .execute(
            "const el = document.querySelector(arguments[0]);
             if (!el) { return null; }
             let bg = el, colour;
             while (bg && ((colour = getComputedStyle(bg).backgroundColor) === 'rgba(0, 0, 0, 0)'
                           || colour === 'transparent')) { bg = bg.parentElement; }
             if (!bg) { colour = getComputedStyle(document.documentElement).backgroundColor; }
             return [getComputedStyle(el)[arguments[1]], colour];",
            vec![json!(selector), json!(property)],
        )
        .await
        .expect("script");
    assert!(!v.is_null(), "no {selector} on the page");
    (rgb(&v[0]), rgb(&v[1]))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_follow_a_dark_colour_preference() {
    let s = TestServer::spawn().await;
    let d = driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let bin = s.new_bin().await;
    post(&s, &bin, "/first", r#"{"n":1}"#).await;
    let id = post(
        &s,
        &bin,
        "/colours",
        r#"{"key":"text","n":1.5,"ok":true,"none":null}"#,
    )
    .await;
    let page = s.url(&format!("/bins/{bin}?r={id}"));
    // Headless Chromium prefers light unless told; --force-dark-mode is
    // how a dark system setting reaches the page's media queries.
    for (name, extra, dark) in [
        ("light", &[][..], false),
        ("dark", &["--force-dark-mode"][..], true),
    ] {
        let c = browser_with(&d, &tmp.path().join(name), extra).await;
        c.goto(&page).await.expect("open inspector");
        c.wait()
            .for_element(Locator::Css("pre.json .j-key"))
            .await
            .expect("coloured JSON");
        let prefers_dark = c
            .execute(
                "return matchMedia('(prefers-color-scheme: dark)').matches;",
                vec![],
            )
            .await
            .expect("script");
        assert_eq!(prefers_dark, json!(dark), "{name}: Chromium's preference");
        screenshot(&c, tmp.path(), name).await;

        let (text, background) = colours(&c, "body", "color").await;
        let (text_l, background_l) = (luminance(text), luminance(background));
        if dark {
            assert!(
                background_l < 0.05 && text_l > 0.5,
                "{name}: body {text:?} on {background:?}"
            );
        } else {
            assert!(
                background_l > 0.9 && text_l < 0.05,
                "{name}: body {text:?} on {background:?}"
            );
        }
        if dark {
            // Everything recoloured stays readable (WCAG AA: 4.5:1 for
            // text, 3:1 for the burst chart's bars).
            for (selector, property, least) in [
                ("pre.json .j-key", "color", 4.5),
                ("pre.json .j-str", "color", 4.5),
                ("pre.json .j-num", "color", 4.5),
                ("pre.json .j-lit", "color", 4.5),
                ("pre.json button.j-fold", "color", 4.5),
                ("ol.requests li.selected .method", "color", 4.5),
                ("ol.requests li:not(.selected) .method", "color", 4.5),
                ("ol.requests li.selected .meta", "color", 4.5),
                ("table.kv th", "color", 4.5),
                (".capture input", "color", 4.5),
                ("form.search button", "color", 4.5),
                ("a.brand", "color", 4.5),
                ("figure.timeline rect", "fill", 3.0),
            ] {
                let (fg, bg) = colours(&c, selector, property).await;
                let ratio = contrast(fg, bg);
                assert!(
                    ratio >= least,
                    "{name}: {selector} {fg:?} on {bg:?} is {ratio:.1}:1"
                );
            }
        }
        let errors = console_errors(&d, &c).await;
        assert!(errors.is_empty(), "{name}: console errors: {errors:#?}");
        c.close().await.expect("close");
    }
}

/// The response rules panel end to end: added, shown on the requests they
/// answered, refused with the condition named, replaced as JSON and deleted,
/// every form submitted by its own button in Chromium with JavaScript off;
/// then, with it on, a hostile rule name and header show as text, nothing
/// runs and the console stays clean.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn response_rules_are_managed_from_the_inspector_without_javascript() {
    /// Opens the rules panel unless it is already open.
    async fn open_rules(c: &Client) {
        let panel = c
            .find(Locator::Css("details#rules"))
            .await
            .expect("rules panel");
        if panel.prop("open").await.expect("open").as_deref() != Some("true") {
            panel
                .find(Locator::Css("summary"))
                .await
                .expect("summary")
                .click()
                .await
                .expect("open the panel");
        }
    }

    /// Fills the add form (fields by name; `action` is the select) and
    /// clicks "Add rule".
    async fn add_rule(c: &Client, fields: &[(&str, &str)]) {
        open_rules(c).await;
        let form = c
            .find(Locator::Css("form#add-rule"))
            .await
            .expect("add form");
        for (name, value) in fields {
            let field = form
                .find(Locator::Css(&format!("[name={name}]")))
                .await
                .expect(name);
            if *name == "action" {
                field.select_by_value(value).await.expect("select");
            } else {
                field.clear().await.expect("clear");
                field.send_keys(value).await.expect("type");
            }
        }
        form.find(Locator::XPath(".//button[normalize-space()='Add rule']"))
            .await
            .expect("Add rule button")
            .click()
            .await
            .expect("submit");
    }

    async fn rule_names(c: &Client) -> Vec<String> {
        let mut names = Vec::new();
        for cell in c
            .find_all(Locator::Css("table.rules-table tr.rule-row td.rule-name"))
            .await
            .expect("rule rows")
        {
            names.push(cell.text().await.expect("text"));
        }
        names
    }

    async fn answered_by(c: &Client) -> String {
        c.find(Locator::Css("table.facts td.answered-by"))
            .await
            .expect("Answered by")
            .text()
            .await
            .expect("text")
    }

    let started = Instant::now();
    let s = TestServer::spawn().await;
    let d = driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let bin = s.new_bin().await;
    let page = s.url(&format!("/bins/{bin}"));
    let rules_api = format!("/api/bins/{bin}/rules");
    let evil = r#""><svg onload="window.__pwned=1">"#;
    let capture = |webhook: &str| {
        s.client
            .post(s.url(&format!("/{bin}/jobs")))
            .header("content-type", "application/json")
            .header("webhook-id", webhook)
            .header("x-evil", evil)
            .body(r#"{"job_id":"j-1","status":"completed"}"#)
            .send()
    };

    // Blink runs no page script; WebDriver's own commands still work.
    let c = browser_with(
        &d,
        &tmp.path().join("no-js"),
        &["--blink-settings=scriptEnabled=false"],
    )
    .await;

    // 1. Add a rule with the form.
    c.goto(&page).await.expect("open inspector");
    assert_eq!(
        c.find(Locator::Css("form#add-rule [name=status]"))
            .await
            .expect("status")
            .prop("value")
            .await
            .expect("value")
            .as_deref(),
        Some("503"),
        "the status a new rule starts with"
    );
    add_rule(
        &c,
        &[
            ("name", "flaky"),
            ("conditions", "json:/status=completed"),
            ("attempts", "1-2"),
            ("action", "respond"),
            ("status", "503"),
            ("body", "retry {{json:/job_id}}"),
        ],
    )
    .await;
    wait_url(&c, |u| u.ends_with(&format!("/bins/{bin}#rules"))).await;
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("table.rules-table tr.rule-row"))
        .await
        .expect("the rules table");
    assert_eq!(rule_names(&c).await, ["flaky"]);
    let row = c
        .find(Locator::Css("tr.rule-row"))
        .await
        .expect("row")
        .text()
        .await
        .expect("text");
    assert!(
        row.contains("json:/status=completed") && row.contains("1-2") && row.contains("503"),
        "{row}"
    );
    let v = s.get_json(&rules_api, 200).await;
    assert_eq!(v["rules"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["rules"][0]["name"], "flaky", "{v}");
    screenshot(&c, tmp.path(), "rule-added").await;

    // 2. The same webhook thrice: the rule answers its first two attempts.
    let mut ids = Vec::new();
    for (status, body) in [
        (503, Some("retry j-1")),
        (503, Some("retry j-1")),
        (200, None),
    ] {
        let res = capture("msg_1").await.expect("capture");
        assert_eq!(res.status(), status, "attempt {}", ids.len() + 1);
        ids.push(common::request_id(&res));
        let text = res.text().await.expect("body");
        if let Some(body) = body {
            assert_eq!(text, body);
        }
    }

    // 3. The list marks the two answered; the detail names the rule.
    c.goto(&s.url(&format!("/bins/{bin}?r={}", ids[0])))
        .await
        .expect("open the first");
    let items = c
        .find_all(Locator::Css("ol.requests li"))
        .await
        .expect("items");
    assert_eq!(items.len(), 3);
    let mut marks = Vec::new();
    for item in &items {
        for mark in item
            .find_all(Locator::Css("span.rule"))
            .await
            .expect("marks")
        {
            marks.push(mark.text().await.expect("text"));
        }
    }
    assert_eq!(marks, ["rule: flaky", "rule: flaky"]);
    for (id, marked) in ids.iter().zip([true, true, false]) {
        let link = c
            .find(Locator::Css(&format!("ol.requests a[href$='?r={id}']")))
            .await
            .expect("list item");
        let found = link
            .find_all(Locator::Css("span.rule"))
            .await
            .expect("marks");
        assert_eq!(found.len(), usize::from(marked), "request {id}");
    }
    let by = answered_by(&c).await;
    assert!(by.contains("flaky"), "{by}");
    assert_eq!(
        c.find(Locator::Css("td.answered-by b.rule"))
            .await
            .expect("rule name")
            .text()
            .await
            .expect("text"),
        "flaky"
    );
    // JavaScript really is off: the copy buttons it would show stay hidden.
    let copy = c
        .find(Locator::Css("button[data-copy-text]"))
        .await
        .expect("a copy button");
    assert!(!copy.is_displayed().await.expect("displayed"), "JS ran");
    c.goto(&s.url(&format!("/bins/{bin}?r={}", ids[2])))
        .await
        .expect("open the third");
    let by = answered_by(&c).await;
    assert!(!by.contains("flaky"), "{by}");
    assert!(by.contains("the bin's response"), "{by}");
    let errors = console_errors(&d, &c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");

    // 4. A bad condition: an error page naming it; the rules unchanged.
    c.goto(&page).await.expect("open inspector");
    add_rule(
        &c,
        &[
            ("name", "typo"),
            ("conditions", "heder.x=1"),
            ("attempts", ""),
        ],
    )
    .await;
    wait_url(&c, |u| u.ends_with(&format!("/bins/{bin}/rules"))).await;
    let text = c
        .find(Locator::Css("body"))
        .await
        .expect("body")
        .text()
        .await
        .expect("text");
    assert!(text.contains(r#"condition "heder.x=1""#), "{text}");
    assert!(text.contains("400"), "{text}");
    screenshot(&c, tmp.path(), "bad-rule").await;
    let v = s.get_json(&rules_api, 200).await;
    assert_eq!(v["rules"].as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(v["rules"][0]["name"], "flaky", "{v}");
    // The only console entry is Chromium's note of the 400 itself.
    let errors = console_errors(&d, &c).await;
    assert!(
        errors.iter().all(|e| e.contains("status of 400")),
        "console errors: {errors:#?}"
    );

    // 5. Replace every rule as JSON with none.
    c.goto(&page).await.expect("open inspector");
    open_rules(&c).await;
    c.find(Locator::Css("details.rules-json > summary"))
        .await
        .expect("JSON summary")
        .click()
        .await
        .expect("open JSON");
    let area = c
        .find(Locator::Css("details.rules-json textarea[name=rules]"))
        .await
        .expect("JSON textarea");
    let before = area.prop("value").await.expect("value").unwrap_or_default();
    let shown: serde_json::Value = serde_json::from_str(&before).expect("the rules as JSON");
    assert_eq!(shown[0]["name"], "flaky", "{before}");
    area.clear().await.expect("clear");
    area.send_keys("[]").await.expect("type");
    c.find(Locator::XPath(
        "//details[contains(@class,'rules-json')]//button[normalize-space()='Save rules']",
    ))
    .await
    .expect("Save rules")
    .click()
    .await
    .expect("submit");
    wait_url(&c, |u| u.ends_with(&format!("/bins/{bin}#rules"))).await;
    c.wait()
        .for_element(Locator::Css("form#add-rule"))
        .await
        .expect("back on the page");
    assert!(rule_names(&c).await.is_empty());
    assert!(
        c.find_all(Locator::Css("table.rules-table"))
            .await
            .expect("tables")
            .is_empty()
    );
    assert_eq!(s.get_json(&rules_api, 200).await, json!({"rules": []}));

    // 6. Add a rule again, with a hostile name, and let it answer a request.
    let hostile = r#"<img src=x onerror="window.__pwned=2">"#;
    c.goto(&page).await.expect("open inspector");
    add_rule(
        &c,
        &[
            ("name", hostile),
            ("conditions", ""),
            ("attempts", ""),
            ("action", "respond"),
            ("status", "202"),
            ("body", ""),
        ],
    )
    .await;
    wait_url(&c, |u| u.ends_with(&format!("/bins/{bin}#rules"))).await;
    c.wait()
        .for_element(Locator::Css("tr.rule-row"))
        .await
        .expect("the rules table");
    assert_eq!(rule_names(&c).await, [hostile]);
    let res = capture("msg_2").await.expect("capture");
    assert_eq!(res.status(), 202);
    let fourth = common::request_id(&res);
    let errors = console_errors(&d, &c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    c.close().await.expect("close");

    // 7. JavaScript on: the hostile name and header are text, nothing runs;
    // the Delete button removes the rule.
    let c = browser(&d, &tmp.path().join("js")).await;
    c.goto(&s.url(&format!("/bins/{bin}?r={fourth}")))
        .await
        .expect("open the fourth");
    c.wait()
        .for_element(Locator::Css("li.selected"))
        .await
        .expect("rendered");
    let copy = c
        .find(Locator::Css("button[data-copy-text]"))
        .await
        .expect("a copy button");
    assert!(
        copy.is_displayed().await.expect("displayed"),
        "JS did not run"
    );
    assert_eq!(
        c.find(Locator::Css("td.answered-by b.rule"))
            .await
            .expect("rule name")
            .text()
            .await
            .expect("text"),
        hostile
    );
    let link = c
        .find(Locator::Css(&format!("ol.requests a[href$='?r={fourth}']")))
        .await
        .expect("list item");
    assert_eq!(
        link.find(Locator::Css("span.rule"))
            .await
            .expect("mark")
            .text()
            .await
            .expect("text"),
        format!("rule: {hostile}")
    );
    assert!(
        c.source()
            .await
            .expect("source")
            .contains("window.__pwned=1")
    );
    screenshot(&c, tmp.path(), "hostile-rule").await;
    let pwned = c
        .execute(
            "return window.__pwned === undefined ? null : window.__pwned;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(pwned, serde_json::Value::Null, "captured content ran");
    open_rules(&c).await;
    assert_eq!(rule_names(&c).await, [hostile]);
    c.find(Locator::XPath(
        "//tr[contains(@class,'rule-row')]//button[normalize-space()='Delete']",
    ))
    .await
    .expect("Delete button")
    .click()
    .await
    .expect("delete");
    wait_url(&c, |u| u.ends_with(&format!("/bins/{bin}#rules"))).await;
    c.wait()
        .for_element(Locator::Css("form#add-rule"))
        .await
        .expect("back on the page");
    assert!(rule_names(&c).await.is_empty());
    assert_eq!(s.get_json(&rules_api, 200).await, json!({"rules": []}));
    let pwned = c
        .execute(
            "return window.__pwned === undefined ? null : window.__pwned;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(pwned, serde_json::Value::Null, "captured content ran");
    let errors = console_errors(&d, &c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    c.close().await.expect("close");
    eprintln!("rules panel test: {:?}", started.elapsed());
}
