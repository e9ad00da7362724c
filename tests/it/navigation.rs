//! Moving through the inspector in real headless Chromium, back/forward
//! cache on: moves swap the detail in place (no page load), the list and
//! the detail scroll on their own, the newest is shown when nothing is
//! selected, `?` lists the shortcuts, nothing overflows a phone's width.
//! Screenshots of light and dark at desktop and phone widths go to
//! /tmp/inspector_*.png.

use std::time::{Duration, Instant};

use fantoccini::{Client, Locator};
use serde_json::json;

use crate::browser::{browser_with, console_errors, driver, post};
use crate::common::TestServer;

/// The id of the request the detail shows ("" for none).
async fn shown(c: &Client) -> String {
    c.execute(
        "const d = document.getElementById('detail'); return d ? (d.dataset.id || '') : '';",
        vec![],
    )
    .await
    .expect("script")
    .as_str()
    .unwrap_or("")
    .to_owned()
}

/// Polls until the detail shows `id`, within `limit`; the time it took.
async fn wait_shown(c: &Client, id: i64, limit: Duration) -> Duration {
    let started = Instant::now();
    loop {
        if shown(c).await == id.to_string() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < limit,
            "detail still shows {:?}, not {id}, after {limit:?}",
            shown(c).await
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn key(c: &Client, k: &str) {
    c.find(Locator::Css("body"))
        .await
        .expect("body")
        .send_keys(k)
        .await
        .expect("key");
}

async fn marker(c: &Client) -> serde_json::Value {
    c.execute(
        "return window.__marker === undefined ? null : window.__marker;",
        vec![],
    )
    .await
    .expect("script")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_moves_swap_the_detail_in_place() {
    let s = TestServer::spawn().await;
    let d = driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let bin = s.new_bin().await;
    let mut ids = Vec::new();
    for i in 0..12 {
        ids.push(post(&s, &bin, &format!("/n/{i}"), &format!(r#"{{"n":{i}}}"#)).await);
    }
    ids.reverse(); // as listed: newest first
    let c = browser_with(&d, &tmp.path().join("p"), &[]).await;
    c.goto(&s.url(&format!("/bins/{bin}?r={}", ids[0])))
        .await
        .expect("open");
    wait_shown(&c, ids[0], Duration::from_secs(10)).await;
    c.execute("window.__marker = 1;", vec![])
        .await
        .expect("mark");

    // The list position shown, and the history of positions for back and
    // forward (pushState entries).
    let mut at = 0usize;
    let mut history = vec![0usize];
    let mut cursor = 0usize;
    let mut times = Vec::new();
    for step in 0..50 {
        let kind = step % 6;
        let started = Instant::now();
        match kind {
            // j, j, click, k, back, forward
            0 | 1 if at + 1 < ids.len() => {
                key(&c, "j").await;
                at += 1;
            }
            0 | 1 => {
                key(&c, "k").await;
                at -= 1;
            }
            2 => {
                let to = (at + 3) % ids.len();
                c.find(Locator::Css(&format!(
                    "ol.requests li[data-id='{}'] a",
                    ids[to]
                )))
                .await
                .expect("item")
                .click()
                .await
                .expect("click");
                at = to;
            }
            3 if at > 0 => {
                key(&c, "k").await;
                at -= 1;
            }
            3 => {
                key(&c, "j").await;
                at += 1;
            }
            4 => {
                c.back().await.expect("back");
                cursor -= 1;
                at = history[cursor];
            }
            _ => {
                c.forward().await.expect("forward");
                cursor += 1;
                at = history[cursor];
            }
        }
        if kind < 4 {
            history.truncate(cursor + 1);
            history.push(at);
            cursor += 1;
        }
        wait_shown(&c, ids[at], Duration::from_millis(1500)).await;
        // The whole move, the WebDriver action included.
        let took = started.elapsed();
        assert!(took < Duration::from_millis(1500), "move {step}: {took:?}");
        times.push(took);
        let url = c.current_url().await.expect("url");
        assert!(
            url.as_str().ends_with(&format!("?r={}", ids[at])),
            "move {step}: {url}"
        );
        let selected = c
            .execute(
                "return document.querySelector('ol.requests li.selected').dataset.id;",
                vec![],
            )
            .await
            .expect("script");
        assert_eq!(selected, json!(ids[at].to_string()), "move {step}");
    }
    assert_eq!(marker(&c).await, json!(1), "a move reloaded the page");
    // The settings forms send the request now shown, so a save comes back
    // to it.
    let r = c
        .execute(
            "return document.querySelector('#settings form[action$=\"/response\"] input[name=r]').value;",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(r, json!(ids[at].to_string()), "the forms' selected request");
    let total: Duration = times.iter().sum();
    let worst = times.iter().max().expect("moves");
    eprintln!(
        "50 moves: mean {:?}, worst {worst:?}",
        total / times.len() as u32
    );
    // One event stream for the tab, however many moves.
    let errors = console_errors(&d, &c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detail_stays_in_view_and_follows_the_newest() {
    let s = TestServer::spawn().await;
    let d = driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let bin = s.new_bin().await;
    let mut ids = Vec::new();
    for i in 0..200 {
        ids.push(post(&s, &bin, &format!("/many/{i}"), r#"{"ok":true}"#).await);
    }
    // The fragment a move fetches reads one request: its server time.
    let mut worst = Duration::ZERO;
    for &id in ids.iter().step_by(20) {
        let started = Instant::now();
        let res = s
            .client
            .get(s.url(&format!("/bins/{bin}/requests/{id}/detail")))
            .send()
            .await
            .expect("fragment");
        assert_eq!(res.status(), 200);
        let html = res.text().await.expect("body");
        worst = worst.max(started.elapsed());
        assert!(html.contains(&format!("data-id=\"{id}\"")));
        assert!(!html.contains("<html"), "a fragment, not a page");
    }
    eprintln!("detail fragment, bin of 200: worst {worst:?}");
    assert!(worst < Duration::from_millis(250), "{worst:?}");

    let c = browser_with(&d, &tmp.path().join("p"), &["--window-size=1400,900"]).await;
    // Nothing selected: the newest, rendered by the server.
    c.goto(&s.url(&format!("/bins/{bin}"))).await.expect("open");
    wait_shown(&c, ids[199], Duration::from_secs(10)).await;
    // An old request far down the list: the detail stays in view.
    let old = ids[110];
    c.find(Locator::Css(&format!("ol.requests li[data-id='{old}'] a")))
        .await
        .expect("old item")
        .click()
        .await
        .expect("click");
    wait_shown(&c, old, Duration::from_millis(1500)).await;
    let rect = c
        .execute(
            "const r = document.getElementById('detail').getBoundingClientRect();
             return [r.top, r.bottom, window.innerHeight, window.scrollY];",
            vec![],
        )
        .await
        .expect("rect");
    let top = rect[0].as_f64().expect("top");
    let height = rect[2].as_f64().expect("height");
    assert!(
        top >= 0.0 && top < height / 2.0,
        "detail out of view: {rect}"
    );
    assert_eq!(rect[3].as_f64(), Some(0.0), "the page itself scrolled");

    // An empty bin: the first arrival shows in the detail, then the next.
    let empty = s.new_bin().await;
    c.goto(&s.url(&format!("/bins/{empty}")))
        .await
        .expect("open empty");
    c.wait()
        .for_element(Locator::XPath(
            "//h1[contains(., 'Waiting for the first request')]",
        ))
        .await
        .expect("waiting");
    let deadline = Instant::now() + Duration::from_secs(10);
    let first = loop {
        let id = post(&s, &empty, "/live/1", r#"{"live":1}"#).await;
        let found = tokio::time::timeout(Duration::from_millis(1500), async {
            while shown(&c).await != id.to_string() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        if found.is_ok() {
            break id;
        }
        assert!(Instant::now() < deadline, "no live arrival within 10 s");
    };
    let second = post(&s, &empty, "/live/2", r#"{"live":2}"#).await;
    wait_shown(&c, second, Duration::from_secs(2)).await;
    assert!(second > first);
    // Choosing one stops following; a new arrival then only joins the list.
    key(&c, "j").await;
    wait_shown(&c, first, Duration::from_millis(1500)).await;
    let third = post(&s, &empty, "/live/3", "{}").await;
    c.wait()
        .for_element(Locator::Css(&format!("ol.requests li[data-id='{third}']")))
        .await
        .expect("listed");
    assert_eq!(shown(&c).await, first.to_string());

    // ? lists the shortcuts; Escape closes the list.
    key(&c, "?").await;
    let open = c
        .execute("return document.getElementById('shortcuts').open;", vec![])
        .await
        .expect("script");
    assert_eq!(open, json!(true));
    let text = c
        .find(Locator::Css("dialog#shortcuts"))
        .await
        .expect("dialog")
        .text()
        .await
        .expect("text");
    assert!(text.contains("Next (older) request"), "{text}");
    c.find(Locator::Css("dialog#shortcuts"))
        .await
        .expect("dialog")
        .send_keys("\u{e00c}")
        .await
        .expect("escape");
    let deadline = Instant::now() + Duration::from_secs(2);
    while c
        .execute("return document.getElementById('shortcuts').open;", vec![])
        .await
        .expect("script")
        == json!(true)
    {
        assert!(Instant::now() < deadline, "Esc did not close the dialog");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let errors = console_errors(&d, &c).await;
    assert!(errors.is_empty(), "console errors: {errors:#?}");
    c.close().await.expect("close");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_overflows_a_phone_and_screenshots_look_right() {
    let s = TestServer::spawn().await;
    let d = driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let bin = s.new_bin().await;
    for i in 0..30 {
        post(
            &s,
            &bin,
            &format!("/orders/{i}"),
            r#"{"order":{"id":1,"total":9.5}}"#,
        )
        .await;
    }
    let long = "x".repeat(300);
    let res = s
        .client
        .post(s.url(&format!(
            "/{bin}/a/very/long/path/{long}?token={long}&next=https%3A%2F%2Fexample.com%2F{long}"
        )))
        .header("content-type", "application/json")
        .header("x-long-header", long.clone())
        .header("x-signature", format!("t=1,v1={long}"))
        .body(format!(
            r#"{{"event":"invoice.paid","url":"https://example.com/{long}","items":[1,2,3]}}"#
        ))
        .send()
        .await
        .expect("capture");
    assert_eq!(res.status(), 200);
    let page = s.url(&format!("/bins/{bin}"));
    for (scheme, extra) in [("light", &[][..]), ("dark", &["--force-dark-mode"][..])] {
        let c = browser_with(&d, &tmp.path().join(scheme), extra).await;
        for (w, h) in [(1400u32, 900u32), (390, 844)] {
            c.set_window_size(w, h).await.expect("size");
            c.goto(&page).await.expect("open");
            c.wait()
                .for_element(Locator::Css("pre.json .j-key"))
                .await
                .expect("detail");
            let dims = c
                .execute(
                    "return [window.innerWidth, document.documentElement.scrollWidth];",
                    vec![],
                )
                .await
                .expect("script");
            let (inner, scroll) = (
                dims[0].as_f64().expect("inner"),
                dims[1].as_f64().expect("scroll"),
            );
            eprintln!("{scheme} {w}x{h}: innerWidth {inner}, scrollWidth {scroll}");
            assert!(
                scroll <= inner,
                "{scheme} {w}: page is {scroll} px wide in {inner}"
            );
            if w == 390 {
                assert!(inner <= 390.0, "{inner}");
            }
            let png = c.screenshot().await.expect("screenshot");
            let name = format!("/tmp/inspector_{scheme}_{w}.png");
            std::fs::write(&name, png).expect("write screenshot");
        }
        let errors = console_errors(&d, &c).await;
        assert!(errors.is_empty(), "{scheme}: console errors: {errors:#?}");
        c.close().await.expect("close");
    }
}
