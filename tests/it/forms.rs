//! The settings forms: invalid input comes back in the same form with the
//! typed values and a plain-words error; a save says so and keeps `?r=`.

use crate::common;

use common::TestServer;

async fn post(s: &TestServer, path: &str, body: &str) -> reqwest::Response {
    s.client
        .post(s.url(path))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("sec-fetch-site", "same-origin")
        .body(body.to_owned())
        .send()
        .await
        .expect("post")
}

async fn get(s: &TestServer, path: &str) -> String {
    let res = s.client.get(s.url(path)).send().await.expect("get");
    assert_eq!(res.status(), 200, "GET {path}");
    res.text().await.expect("text")
}

#[tokio::test]
async fn a_header_line_without_a_colon_comes_back_in_the_form() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let before = s.get_json(&format!("/api/bins/{bin}"), 200).await;
    let res = post(
        &s,
        &format!("/bins/{bin}/response"),
        "status=418&delay_ms=25&headers=X-Ok%3A+yes%0D%0Anocolonhere&body=typed+body+text",
    )
    .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.expect("text");
    assert!(
        html.contains(r#"<details id="response" open>"#),
        "panel open"
    );
    assert!(html.contains(r#"value="418""#));
    assert!(html.contains(r#"value="25""#));
    assert!(html.contains("X-Ok: yes\r\nnocolonhere") || html.contains("X-Ok: yes\nnocolonhere"));
    assert!(html.contains(">typed body text</textarea>"));
    assert!(html.contains(r#"aria-describedby="response-headers-error""#));
    assert!(html.contains(r#"<p class="field-error" id="response-headers-error">Header line 2"#));
    assert!(html.contains("has no colon"));
    assert_eq!(
        s.get_json(&format!("/api/bins/{bin}"), 200).await,
        before,
        "nothing saved"
    );
}

#[tokio::test]
async fn an_invalid_rule_condition_comes_back_in_plain_words() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = post(
        &s,
        &format!("/bins/{bin}/rules"),
        "name=flaky&conditions=method%3DPOST%0D%0Aheder.x%3D1&attempts=1-2&action=respond&status=503&delay_ms=0&headers=&body=",
    )
    .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.expect("text");
    assert!(html.contains(r#"value="flaky""#), "name kept");
    assert!(html.contains("heder.x=1</textarea>"), "conditions kept");
    assert!(html.contains(r#"value="1-2""#), "attempts kept");
    assert!(
        html.contains(r#"id="rule-conditions-error">Condition 2"#),
        "{html}"
    );
    assert!(html.contains("Write it like json:/status=completed."));
    assert!(!html.contains("rules[0]"));
    assert!(html.contains(r#"<details id="rules" open>"#));
    let rules = s.get_json(&format!("/api/bins/{bin}/rules"), 200).await;
    assert!(
        !rules.to_string().contains("flaky"),
        "nothing saved: {rules}"
    );
}

#[tokio::test]
async fn a_saved_response_says_so_and_keeps_the_selection() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = post(
        &s,
        &format!("/bins/{bin}/response"),
        "status=202&delay_ms=0&headers=&body=ok&r=5",
    )
    .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().expect("loc").to_owned();
    assert!(location.contains("r=5"), "{location}");
    assert!(location.contains("saved=response"), "{location}");
    assert!(location.ends_with("#settings"), "{location}");
    let html = get(&s, &location).await;
    assert!(html.contains(r#"<p class="saved" role="status">Response saved</p>"#));
    assert!(html.contains(r#"<details id="response" open>"#));
    assert!(html.contains(r#"<input type="hidden" name="r" value="5">"#));
    // Arbitrary text in the URL is never shown.
    let html = get(&s, &format!("/bins/{bin}?saved=%3Cb%3Ehi&what=evil")).await;
    assert!(!html.contains("evil") && !html.contains("class=\"saved\""));
}

#[tokio::test]
async fn a_saved_secret_says_so_and_keeps_the_selection() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = post(
        &s,
        &format!("/bins/{bin}/secrets"),
        "scheme=github&secret=s3cret&header_name=&r=7",
    )
    .await;
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().expect("loc").to_owned();
    assert!(
        location.contains("r=7") && location.contains("saved=secret"),
        "{location}"
    );
    let html = get(&s, &location).await;
    assert!(
        html.contains("GitHub secret saved \u{2014} 0 stored requests re-checked"),
        "{html}"
    );
    assert!(html.contains(r#"<details id="secrets" open>"#));
    assert!(html.contains(r#"<input type="hidden" name="r" value="7">"#));
}

/// Rules edited as JSON that do not parse, or do not check, come back in
/// the same textarea as typed, with the error beside it; nothing is saved.
#[tokio::test]
async fn rules_edited_as_json_come_back_when_refused() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = post(
        &s,
        &format!("/bins/{bin}/rules/json"),
        "rules=%5B%7B%22name%22%3A",
    )
    .await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.expect("text");
    assert!(
        html.contains(r#"<details class="rules-json" open>"#),
        "panel open"
    );
    assert!(
        html.contains(r#">[{&#34;name&#34;:</textarea>"#)
            || html.contains(r#">[{&quot;name&quot;:</textarea>"#),
        "typed text kept:\n{html}"
    );
    assert!(html.contains(
        r#"<p class="field-error" id="rules-json-error">These are not a JSON array of rules"#
    ));
    let bad = "rules=%5B%7B%22name%22%3A%22x%22%2C%22match%22%3A%5B%22heder.x%3D1%22%5D%7D%5D";
    let res = post(&s, &format!("/bins/{bin}/rules/json"), bad).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.expect("text");
    assert!(html.contains(r#"id="rules-json-error">"#), "{html}");
    assert!(!html.contains("rules[0]"), "internal wording");
    assert_eq!(
        s.get_json(&format!("/api/bins/{bin}/rules"), 200).await,
        serde_json::json!({"rules": []}),
        "nothing saved"
    );
}

/// In a browser: a refused form comes back with its field in view and
/// focused, in the panel the user was typing in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_form_is_in_view_with_its_field_focused() {
    use fantoccini::Locator;

    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let mut last = 0;
    for i in 0..30 {
        last = crate::browser::post(&s, &bin, &format!("/n/{i}"), r#"{"ok":true}"#).await;
    }
    let d = crate::browser::driver().await;
    let tmp = tempfile::tempdir().expect("dir");
    let c = crate::browser::browser_with(&d, &tmp.path().join("p"), &[]).await;
    c.goto(&s.url(&format!("/bins/{bin}?r={last}")))
        .await
        .expect("open inspector");
    c.execute(
        "document.querySelector('details#response').open = true;",
        vec![],
    )
    .await
    .expect("open the panel");
    let area = c
        .find(Locator::Id("response-headers"))
        .await
        .expect("headers field");
    area.clear().await.expect("clear");
    area.send_keys("X-Ok: yes\nnocolonhere")
        .await
        .expect("type");
    c.find(Locator::XPath(
        "//button[normalize-space()='Save response']",
    ))
    .await
    .expect("save button")
    .click()
    .await
    .expect("submit");
    c.wait()
        .for_element(Locator::Id("response-headers-error"))
        .await
        .expect("the error beside the field");
    let state = c
        .execute(
            "const f = document.getElementById('response-headers'); \
             const r = f.getBoundingClientRect(); \
             return [document.activeElement === f, r.top >= 0 && r.bottom <= window.innerHeight, f.value];",
            vec![],
        )
        .await
        .expect("script");
    assert_eq!(
        state,
        serde_json::json!([true, true, "X-Ok: yes\nnocolonhere"]),
        "focused, in view, as typed"
    );
    c.close().await.expect("close");
}
