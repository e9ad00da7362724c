//! Export (JSON, HAR 1.2, curl) and import of captured requests: round
//! trips byte for byte, the curl command replayed with the real curl, the
//! whole-bin export, and the errors of import.

use crate::common;

use common::{JsonBody, TestServer, json};
use serde_json::{Value, json};

/// Every byte value: not UTF-8, with NUL, CR, LF and quotes.
fn all_bytes() -> Vec<u8> {
    (0..=255u8).collect()
}

/// Sends a request with exact bytes on a raw connection; returns its id.
async fn send_raw(
    s: &TestServer,
    bin: &str,
    method: &str,
    target: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> i64 {
    let mut head = format!("{method} /{bin}{target} HTTP/1.1\r\nhost: {}\r\n", s.addr);
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!(
        "content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    ));
    let mut bytes = head.into_bytes();
    bytes.extend_from_slice(body);
    let out = s.raw_open(&bytes).await;
    assert!(out.starts_with("HTTP/1.1 200"), "{out}");
    out.lines()
        .find_map(|l| l.strip_prefix("x-hookwire-request-id: "))
        .expect("request id header")
        .trim()
        .parse()
        .expect("integer id")
}

async fn request(s: &TestServer, bin: &str, id: i64) -> Value {
    s.get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
        .await
}

async fn export(s: &TestServer, path: &str) -> reqwest::Response {
    s.client.get(s.url(path)).send().await.expect("export")
}

async fn import(s: &TestServer, bin: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
    s.client
        .post(s.url(&format!("/api/bins/{bin}/import")))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("import")
}

/// Imports `doc` and returns the new ids.
async fn import_ok(s: &TestServer, bin: &str, doc: &Value) -> Vec<i64> {
    let res = s
        .client
        .post(s.url(&format!("/api/bins/{bin}/import")))
        .json_body(doc)
        .send()
        .await
        .expect("import");
    assert_eq!(res.status(), 200);
    let v = json(res).await;
    let ids: Vec<i64> = v["ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|i| i.as_i64().expect("id"))
        .collect();
    assert_eq!(v["imported"], ids.len());
    ids
}

/// Asserts that `copy` is `orig` stored again: same method, sub-path,
/// query, headers and exact body.
async fn assert_same(s: &TestServer, orig: (&str, i64), copy: (&str, i64)) {
    let a = request(s, orig.0, orig.1).await;
    let b = request(s, copy.0, copy.1).await;
    for key in [
        "method",
        "path",
        "query",
        "headers",
        "received_at",
        "body_size",
    ] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_eq!(b["remote_addr"], "imported");
    assert_eq!(
        s.raw_body(orig.0, orig.1).await,
        s.raw_body(copy.0, copy.1).await
    );
}

const DUP_HEADERS: &[(&str, &str)] = &[
    ("content-type", "application/octet-stream"),
    ("x-dup", "1"),
    ("X-Quote", "it's \"quoted\" $HOME `x`"),
    ("x-dup", "2"),
    ("x-empty", ""),
];

#[tokio::test]
async fn har_round_trip_keeps_binary_body_and_duplicate_headers() {
    let s = TestServer::spawn().await;
    let (a, b) = (s.new_bin().await, s.new_bin().await);
    let id = send_raw(
        &s,
        &a,
        "PATCH",
        "/hooks/x%2Fy?a=1&a=2&sp=%20+x&flag",
        DUP_HEADERS,
        &all_bytes(),
    )
    .await;

    let res = export(
        &s,
        &format!("/api/bins/{a}/requests/{id}/export?format=har"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"request-{id}.har\"")
    );
    let har = json(res).await;
    assert_eq!(har["log"]["version"], "1.2");
    assert_eq!(har["log"]["creator"]["name"], "hookwire");
    assert_eq!(har["log"]["creator"]["version"], env!("CARGO_PKG_VERSION"));
    let entries = har["log"]["entries"].as_array().expect("entries");
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(e["_hookwire_id"], id);
    assert!(e["startedDateTime"].as_str().expect("time").ends_with('Z'));
    let r = &e["request"];
    assert_eq!(r["method"], "PATCH");
    assert_eq!(r["httpVersion"], "HTTP/1.1");
    assert_eq!(
        r["url"],
        format!("http://{}/{a}/hooks/x%2Fy?a=1&a=2&sp=%20+x&flag", s.addr)
    );
    assert_eq!(
        r["queryString"],
        json!([
            {"name": "a", "value": "1"},
            {"name": "a", "value": "2"},
            {"name": "sp", "value": "  x"},
            {"name": "flag", "value": ""},
        ])
    );
    assert_eq!(r["postData"]["encoding"], "base64");
    assert_eq!(r["postData"]["mimeType"], "application/octet-stream");
    assert_eq!(r["bodySize"], 256);
    assert_eq!(r["headersSize"], -1);
    let dups: Vec<&Value> = r["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|h| h["name"] == "x-dup")
        .map(|h| &h["value"])
        .collect();
    assert_eq!(dups, [&json!("1"), &json!("2")]);
    assert_eq!(e["response"]["status"], 0);
    assert_eq!(e["timings"], json!({"send": 0, "wait": 0.0, "receive": 0}));

    let ids = import_ok(&s, &b, &har).await;
    assert_eq!(ids.len(), 1);
    assert_same(&s, (&a, id), (&b, ids[0])).await;
}

#[tokio::test]
async fn json_round_trip_single_object_array_and_requests_list() {
    let s = TestServer::spawn().await;
    let (a, b) = (s.new_bin().await, s.new_bin().await);
    let id = send_raw(&s, &a, "POST", "/j?x=%00", DUP_HEADERS, &all_bytes()).await;
    let text = send_raw(
        &s,
        &a,
        "PUT",
        "/",
        &[("content-type", "text/plain")],
        "héllo\n".as_bytes(),
    )
    .await;

    let res = export(
        &s,
        &format!("/api/bins/{a}/requests/{id}/export?format=json"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"request-{id}.json\"")
    );
    let exported = json(res).await;
    assert_eq!(exported, request(&s, &a, id).await);

    // The single object, an array, and {"requests": […]} all import.
    let one = import_ok(&s, &b, &exported).await;
    assert_same(&s, (&a, id), (&b, one[0])).await;
    let text_obj = request(&s, &a, text).await;
    let two = import_ok(&s, &b, &json!([exported, text_obj])).await;
    assert_eq!(two.len(), 2);
    assert!(two[0] < two[1], "ids in the given order: {two:?}");
    assert_same(&s, (&a, id), (&b, two[0])).await;
    assert_same(&s, (&a, text), (&b, two[1])).await;

    let whole = json(export(&s, &format!("/api/bins/{a}/export?format=json")).await).await;
    let again = import_ok(&s, &b, &whole).await;
    assert_same(&s, (&a, id), (&b, again[0])).await;
    assert_same(&s, (&a, text), (&b, again[1])).await;

    // body_text alone is enough for a text body.
    let ids = import_ok(
        &s,
        &b,
        &json!([{"method": "POST", "path": "/t", "body_text": "plain"}]),
    )
    .await;
    assert_eq!(s.raw_body(&b, ids[0]).await, b"plain");
    let r = request(&s, &b, ids[0]).await;
    assert_eq!(r["query"], "");
    assert_eq!(r["headers"], json!([]));
}

/// Runs a curl command from the export with bash.
async fn run_curl(cmd: &str) {
    let owned = cmd.to_owned();
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("bash")
            .arg("-c")
            .arg(owned)
            .output()
    })
    .await
    .expect("join")
    .expect("bash runs (is curl installed?)");
    assert!(
        out.status.success(),
        "{cmd}\nstdout: {}\nstderr: {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The stored headers without the ones curl sets itself.
fn headers_without_framing(r: &Value) -> Vec<Value> {
    r["headers"]
        .as_array()
        .expect("headers")
        .iter()
        .filter(|h| h[0] != "host" && h[0] != "content-length")
        .cloned()
        .collect()
}

async fn assert_curl_reproduces(s: &TestServer, bin: &str, id: i64) {
    let res = export(
        s,
        &format!("/api/bins/{bin}/requests/{id}/export?format=curl"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "text/plain; charset=utf-8");
    assert!(
        res.headers()["content-disposition"]
            .to_str()
            .expect("ascii")
            .starts_with("inline")
    );
    let cmd = res.text().await.expect("text");
    let before = s.requests(bin).await.len();
    run_curl(&cmd).await;
    let after = s.requests(bin).await;
    assert_eq!(after.len(), before + 1, "{cmd}");
    let copy = after[0]["id"].as_i64().expect("id");
    let (a, b) = (request(s, bin, id).await, request(s, bin, copy).await);
    for key in ["method", "path", "query", "body_size"] {
        assert_eq!(a[key], b[key], "{key}\n{cmd}");
    }
    assert_eq!(
        headers_without_framing(&a),
        headers_without_framing(&b),
        "{cmd}"
    );
    assert_eq!(s.raw_body(bin, id).await, s.raw_body(bin, copy).await);
}

#[tokio::test]
async fn curl_command_reproduces_the_request() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let id = send_raw(
        &s,
        &bin,
        "PUT",
        "/p/it's/[x]/../y?q='1'&b=%20&c[]=2",
        DUP_HEADERS,
        &all_bytes(),
    )
    .await;
    assert_curl_reproduces(&s, &bin, id).await;

    // No body, no content-type: curl must not add its own headers.
    let id = send_raw(
        &s,
        &bin,
        "GET",
        "?only=query",
        &[("accept", "text/html")],
        b"",
    )
    .await;
    assert_curl_reproduces(&s, &bin, id).await;

    // A text body whose last bytes are newlines.
    let id = send_raw(&s, &bin, "POST", "/", &[], b"{\"a\": 1}\n\n").await;
    assert_curl_reproduces(&s, &bin, id).await;

    // `to` points the command elsewhere.
    let res = export(
        &s,
        &format!("/api/bins/{bin}/requests/{id}/export?format=curl&to=http://localhost:3000/hooks"),
    )
    .await;
    let cmd = res.text().await.expect("text");
    assert!(cmd.ends_with(" 'http://localhost:3000/hooks'\n"), "{cmd}");
}

#[tokio::test]
async fn whole_bin_export_is_oldest_first() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let mut ids = Vec::new();
    for i in 0..40 {
        ids.push(
            send_raw(
                &s,
                &bin,
                "POST",
                &format!("/{i}"),
                &[],
                format!("{i}").as_bytes(),
            )
            .await,
        );
    }

    let res = export(&s, &format!("/api/bins/{bin}/export?format=json")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"bin-{bin}.json\"")
    );
    let doc = json(res).await;
    assert_eq!(doc["bin_id"], bin);
    let got: Vec<i64> = doc["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect();
    assert_eq!(got, ids);

    let res = export(&s, &format!("/api/bins/{bin}/export?format=har")).await;
    assert_eq!(
        res.headers()["content-disposition"],
        format!("attachment; filename=\"bin-{bin}.har\"")
    );
    let har = json(res).await;
    assert_eq!(har["log"]["version"], "1.2");
    let entries = har["log"]["entries"].as_array().expect("entries");
    let got: Vec<i64> = entries
        .iter()
        .map(|e| e["_hookwire_id"].as_i64().expect("id"))
        .collect();
    assert_eq!(got, ids);
    assert_eq!(entries[3]["request"]["postData"]["text"], "3");

    // A HAR of the whole bin imports into another bin in the same order.
    let other = s.new_bin().await;
    let new_ids = import_ok(&s, &other, &har).await;
    assert_eq!(new_ids.len(), ids.len());
    for (old, new) in ids.iter().zip(&new_ids) {
        assert_same(&s, (&bin, *old), (&other, *new)).await;
    }

    // An empty bin is an empty document.
    let empty = s.new_bin().await;
    let har = json(export(&s, &format!("/api/bins/{empty}/export?format=har")).await).await;
    assert_eq!(har["log"]["entries"], json!([]));
    let doc = json(export(&s, &format!("/api/bins/{empty}/export")).await).await;
    assert_eq!(doc["requests"], json!([]));
}

#[tokio::test]
async fn foreign_har_imports() {
    // The entry is older than the default retention: keep the purge away.
    let s = TestServer::spawn_with(|c| c.retention = None).await;
    let bin = s.new_bin().await;
    let har = json!({"log": {"version": "1.2", "creator": {"name": "browser", "version": "1"},
    "entries": [
        {"startedDateTime": "2026-01-02T03:04:05.678+01:00", "request": {
            "method": "POST", "url": "https://api.example.com/v1/items?x=1#frag",
            "httpVersion": "HTTP/2",
            "headers": [{"name": ":authority", "value": "api.example.com"},
                        {"name": "Content-Type", "value": "application/x-www-form-urlencoded"}],
            "postData": {"mimeType": "application/x-www-form-urlencoded",
                         "params": [{"name": "a b", "value": "c&d"}]}}},
        {"request": {"method": "GET", "url": "http://h/"}}
    ]}});
    let ids = import_ok(&s, &bin, &har).await;
    let r = request(&s, &bin, ids[0]).await;
    assert_eq!(r["method"], "POST");
    assert_eq!(r["path"], "/v1/items");
    assert_eq!(r["query"], "x=1");
    assert_eq!(r["received_at"], "2026-01-02T02:04:05.678Z");
    assert_eq!(
        r["headers"],
        json!([["content-type", "application/x-www-form-urlencoded"]])
    );
    assert_eq!(s.raw_body(&bin, ids[0]).await, b"a+b=c%26d");
    let r = request(&s, &bin, ids[1]).await;
    assert_eq!(r["path"], "/");
    assert_eq!(r["body_size"], 0);
}

#[tokio::test]
async fn import_checks_signatures_with_the_bins_secrets() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/secrets")))
        .json_body(&json!({"header": {"name": "x-auth", "value": "s3cret"}}))
        .send()
        .await
        .expect("secrets");
    assert_eq!(res.status(), 200);
    let ids = import_ok(
        &s,
        &bin,
        &json!([{"method": "POST", "headers": [["x-auth", "s3cret"]]},
                {"method": "POST", "headers": [["x-auth", "nope"]]}]),
    )
    .await;
    assert_eq!(
        request(&s, &bin, ids[0]).await["signature"]["verified"],
        true
    );
    assert_eq!(
        request(&s, &bin, ids[1]).await["signature"]["verified"],
        false
    );
}

async fn assert_400(res: reqwest::Response, says: &str) {
    assert_eq!(res.status(), 400);
    let v = json(res).await;
    let msg = v["error"].as_str().expect("error message");
    assert!(msg.contains(says), "{msg:?} should say {says:?}");
}

#[tokio::test]
async fn import_errors_say_what_is_wrong() {
    let s = TestServer::spawn_with(|c| c.max_body_bytes = 100).await;
    let bin = s.new_bin().await;
    assert_400(import(&s, &bin, "not json").await, "not JSON").await;
    assert_400(
        import(&s, &bin, "{\"foo\": 1}").await,
        "A HAR document, a list of request objects",
    )
    .await;
    assert_400(
        import(&s, &bin, "{\"log\": {}}").await,
        "\"entries\" is a required property",
    )
    .await;
    assert_400(
        import(&s, &bin, "{\"requests\": 3}").await,
        "body /requests: 3 is not of type",
    )
    .await;
    assert_400(
        import(&s, &bin, "[{\"path\": \"/x\"}]").await,
        "body /0: \"method\" is a required property",
    )
    .await;
    assert_400(
        import(&s, &bin, "[{\"method\": \"GET\"}, 7]").await,
        "body /1: 7 is not of type \"object\"",
    )
    .await;
    assert_400(
        import(&s, &bin, "[{\"method\": \"G T\"}]").await,
        "body /0/method: \"G T\" does not match",
    )
    .await;
    assert_400(
        import(&s, &bin, "[{\"method\": \"GET\", \"path\": \"/a b\"}]").await,
        "not a valid path",
    )
    .await;
    assert_400(
        import(&s, &bin, "[{\"method\": \"GET\", \"path\": \"x\"}]").await,
        "body /0/path: \"x\" does not match",
    )
    .await;
    assert_400(
        import(
            &s,
            &bin,
            "[{\"method\": \"GET\", \"headers\": [[\"a b\", \"1\"]]}]",
        )
        .await,
        "body /0/headers/0/0: \"a b\" does not match",
    )
    .await;
    assert_400(
        import(
            &s,
            &bin,
            "[{\"method\": \"GET\", \"headers\": {\"a\": \"1\"}}]",
        )
        .await,
        "body /0/headers: {\"a\":\"1\"} is not of types",
    )
    .await;
    assert_400(
        import(&s, &bin, "[{\"method\": \"GET\", \"body_base64\": \"!!\"}]").await,
        "body /0/body_base64",
    )
    .await;
    assert_400(
        import(
            &s,
            &bin,
            "[{\"method\": \"GET\", \"body_text\": \"ab\", \"body_size\": 3}]",
        )
        .await,
        "body_size is 3",
    )
    .await;
    assert_400(
        import(
            &s,
            &bin,
            "[{\"method\": \"GET\", \"received_at\": \"yesterday\"}]",
        )
        .await,
        "not an RFC 3339 time",
    )
    .await;
    let big = json!([{"method": "POST", "body_text": "x".repeat(101)}]).to_string();
    assert_400(
        import(&s, &bin, big).await,
        "over the server's limit of 100 bytes",
    )
    .await;
    let har = json!({"log": {"entries": [{"request": {"method": "POST", "url": "/x",
        "postData": {"mimeType": "", "text": "x", "encoding": "gzip"}}}]}});
    assert_400(
        import(&s, &bin, har.to_string()).await,
        "log.entries[0]: request.postData.encoding",
    )
    .await;
    let har = json!({"log": {"entries": [{"request": {"url": "/x"}}]}});
    assert_400(
        import(&s, &bin, har.to_string()).await,
        "body /log/entries/0/request: \"method\" is a required property",
    )
    .await;
    let many = Value::Array(vec![json!({"method": "GET"}); 10_001]).to_string();
    assert_400(import(&s, &bin, many).await, "has more than 10000 items").await;

    // Nothing was stored by the refused imports, including the valid
    // entries before a bad one.
    assert!(s.requests(&bin).await.is_empty());
}

#[tokio::test]
async fn unknown_bins_requests_and_formats() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let gone = "2f0b8f6e-8c4f-4d51-9d1c-7f2b1d2c3a4b";
    let id = send_raw(&s, &bin, "POST", "/", &[], b"x").await;
    for path in [
        format!("/api/bins/{gone}/requests/{id}/export?format=har"),
        format!("/api/bins/{bin}/requests/999999/export?format=json"),
        format!("/api/bins/{gone}/export?format=har"),
        "/api/bins/not-a-bin/export".to_owned(),
    ] {
        s.get_json(&path, 404).await;
    }
    assert_eq!(import(&s, gone, "[]").await.status(), 404);
    // Not an id at all: the document says an id is a whole number from 1.
    let error = s
        .get_json(
            &format!("/api/bins/{bin}/requests/nope/export?format=curl"),
            400,
        )
        .await;
    assert!(
        error["error"]
            .as_str()
            .is_some_and(|e| e.contains("not a whole number")),
        "{error}"
    );
    s.get_json(
        &format!("/api/bins/{bin}/requests/{id}/export?format=xml"),
        400,
    )
    .await;
    let v = s
        .get_json(&format!("/api/bins/{bin}/export?format=curl"), 400)
        .await;
    assert!(v["error"].as_str().expect("error").contains("one request"));
    s.get_json(
        &format!("/api/bins/{bin}/requests/{id}/export?format=curl&to=ftp://x"),
        400,
    )
    .await;
    // An empty import is fine and stores nothing.
    let res = import(&s, &bin, "[]").await;
    assert_eq!(res.status(), 200);
    assert_eq!(json(res).await, json!({"imported": 0, "ids": []}));
}

#[tokio::test]
async fn curl_shows_a_text_body_inline_and_pipes_the_rest() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let curl = |id: i64| {
        let (s, bin) = (&s, &bin);
        async move {
            export(
                s,
                &format!("/api/bins/{bin}/requests/{id}/export?format=curl"),
            )
            .await
            .text()
            .await
            .expect("text")
        }
    };
    // Text with a quote and trailing newlines: inline, and still exact.
    let text = b"{\"name\": \"O'Brien\"}\n\n";
    let id = send_raw(
        &s,
        &bin,
        "POST",
        "/t",
        &[("content-type", "application/json")],
        text,
    )
    .await;
    let cmd = curl(id).await;
    assert!(
        cmd.contains("--data-binary '{\"name\": \"O'\\''Brien\"}\n\n'"),
        "{cmd}"
    );
    assert!(!cmd.contains("base64 -d"), "{cmd}");
    assert_curl_reproduces(&s, &bin, id).await;
    // Binary, and text curl would read as a file name: piped as base64.
    for body in [&b"\x00\xffbin"[..], b"@/etc/hostname"] {
        let id = send_raw(&s, &bin, "POST", "/b", &[], body).await;
        let cmd = curl(id).await;
        assert!(
            cmd.starts_with("printf '%s' '") && cmd.contains("--data-binary @-"),
            "{cmd}"
        );
        assert_curl_reproduces(&s, &bin, id).await;
    }
}
