//! The API means what its document says (SPEC §16), checked with calls
//! generated from `GET /api/openapi.json` itself against the real server:
//! every operation the document describes (so operations added later are
//! walked too), with parameters and bodies that the document allows and
//! that it forbids, each classified by the `jsonschema` crate against the
//! document's own schemas. Allowed → never 400/422; forbidden → 400/422
//! with a JSON error, and nothing the API shows changed. proptest makes
//! the values, from a fixed seed, so a run is reproducible.

use crate::common;

mod generate;

use std::collections::BTreeMap;

use common::TestServer;
use generate::{CHECKED, Schemas, Verdict, below, chance};
use hookwire::core::secret::Secret;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};

const TOKEN: &str = "contract-admin-token";

/// Calls per operation: half meant to be allowed, half mutated.
const CASES: usize = 24;

/// Keys whose values change by themselves (a clock, a connection).
const VOLATILE: [&str; 4] = ["tunnels", "exported_at", "last_used", "last_used_at"];

/// One parameter of an operation.
#[derive(Debug, Clone)]
struct Param {
    name: String,
    place: String,
    required: bool,
    schema: Value,
}

/// One described operation.
#[derive(Debug, Clone)]
struct Operation {
    method: String,
    path: String,
    params: Vec<Param>,
    exclusive: Vec<Vec<String>>,
    /// Whether a body is required, and its schema.
    body: Option<(bool, Value)>,
    /// Every documented status, with the JSON schema of its answer when
    /// it has one.
    answers: BTreeMap<u16, Option<Value>>,
}

fn operations(doc: &Value) -> Vec<Operation> {
    let mut ops = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("path item") {
            let params = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| Param {
                    name: p["name"].as_str().expect("name").to_owned(),
                    place: p["in"].as_str().expect("in").to_owned(),
                    required: p["required"].as_bool().unwrap_or(false),
                    schema: p.get("schema").cloned().unwrap_or(json!(true)),
                })
                .collect();
            let body = op.get("requestBody").map(|b| {
                (
                    b["required"].as_bool().unwrap_or(false),
                    b.pointer("/content/application~1json/schema")
                        .cloned()
                        .unwrap_or(json!(true)),
                )
            });
            ops.push(Operation {
                method: method.to_ascii_uppercase(),
                path: path.clone(),
                params,
                exclusive: op
                    .get("x-hookwire-exclusive")
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default(),
                body,
                answers: op["responses"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(status, r)| {
                        let schema = r.pointer("/content/application~1json/schema").cloned();
                        Some((status.parse().ok()?, schema))
                    })
                    .collect(),
            });
        }
    }
    ops
}

/// One generated call.
#[derive(Debug, Clone, Default)]
struct Call {
    /// Parameter texts by name (absent: not sent).
    params: BTreeMap<String, String>,
    /// The body's text (absent: none).
    body: Option<String>,
}

/// A bin with one captured request, the ids valid calls use.
struct Fixture {
    bin: String,
    request: i64,
}

struct Run<'a> {
    s: &'a TestServer,
    client: reqwest::Client,
    schemas: Schemas,
    ops: Vec<Operation>,
    runner: TestRunner,
}

impl Run<'_> {
    async fn fixture(&self) -> Fixture {
        let bin = self.s.new_bin().await;
        let res = self
            .client
            .post(self.s.url(&format!("/{bin}/hooks?a=1")))
            .header("content-type", "application/json")
            .body(r#"{"type":"invoice.paid"}"#)
            .send()
            .await
            .expect("capture");
        Fixture {
            bin,
            request: common::request_id(&res),
        }
    }

    /// True while the fixture's bin and request are still there.
    async fn fixture_holds(&self, f: &Fixture) -> bool {
        let url = self
            .s
            .url(&format!("/api/bins/{}/requests/{}", f.bin, f.request));
        self.client
            .get(url)
            .send()
            .await
            .is_ok_and(|r| r.status() == 200)
    }

    /// What the API shows of the server's state: the answer of every
    /// described GET that needs no more than the fixture's ids (the bin,
    /// its rules, schemas, requests, a request, its export; tokens and
    /// audit once described).
    async fn snapshot(&self, f: &Fixture) -> Vec<(String, u16, Value)> {
        let mut out = Vec::new();
        for op in &self.ops {
            let needs_more = op.params.iter().any(|p| {
                (p.place == "path" && p.name != "bin_id" && p.name != "id")
                    || (p.place != "path" && p.required)
            });
            if op.method != "GET" || needs_more || op.path.ends_with("/openapi.json") {
                continue;
            }
            let url = op
                .path
                .replace("{bin_id}", &f.bin)
                .replace("{id}", &f.request.to_string());
            let res = self
                .client
                .get(self.s.url(&url))
                .send()
                .await
                .expect("snapshot");
            let status = res.status().as_u16();
            let bytes = res.bytes().await.expect("body");
            let mut value = serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()));
            strip(&mut value);
            out.push((url, status, value));
        }
        out
    }

    /// A call `op` likely allows.
    fn allowed(&mut self, op: &Operation, f: &Fixture) -> Call {
        let mut call = Call::default();
        let mut taken_groups: Vec<usize> = Vec::new();
        for p in &op.params {
            let text = match (p.place.as_str(), p.name.as_str()) {
                ("path", "bin_id") => f.bin.clone(),
                ("path", "id") => f.request.to_string(),
                _ => {
                    if !p.required && !chance(&mut self.runner, 50) {
                        continue;
                    }
                    let group = op.exclusive.iter().position(|g| g.contains(&p.name));
                    if let Some(g) = group {
                        if taken_groups.contains(&g) {
                            continue;
                        }
                        taken_groups.push(g);
                    }
                    let v = self.schemas.valid(&mut self.runner, &p.schema, 0);
                    text_of(&v)
                }
            };
            call.params.insert(p.name.clone(), text);
        }
        if let Some((required, schema)) = &op.body
            && (*required || chance(&mut self.runner, 70))
        {
            let v = self.schemas.valid(&mut self.runner, schema, 0);
            call.body = Some(v.to_string());
        }
        call
    }

    /// An allowed call changed in one place: a parameter or the body.
    fn mutated(&mut self, op: &Operation, f: &Fixture) -> Call {
        let mut call = self.allowed(op, f);
        let r = &mut self.runner;
        let body_first = op.body.is_some() && (op.params.len() <= 1 || chance(r, 60));
        if body_first {
            let (_, schema) = op.body.as_ref().expect("a body");
            call.body = Some(match below(r, 6) {
                0 => String::new(),
                1 => "[[]]".into(),
                2 => "{\"unclosed\":".into(),
                _ => {
                    let v = self.schemas.valid(r, schema, 0);
                    self.schemas.mutate(r, &v).to_string()
                }
            });
            return call;
        }
        let Some(p) = op.params.get(below(r, op.params.len())) else {
            return call;
        };
        // A named path segment (a token's name) is broken where its pattern
        // says: with a space (an empty segment would be another route).
        if p.place == "path" && p.name != "bin_id" && p.name != "id" {
            let old = call.params.get(&p.name).cloned().unwrap_or_default();
            call.params.insert(p.name.clone(), format!("{old} X"));
            return call;
        }
        match below(r, 8) {
            0 if !p.required || p.place != "path" => {
                call.params.remove(&p.name);
            }
            1 => {
                // Every member of an exclusive group at once.
                for g in op.exclusive.iter().filter(|g| g.contains(&p.name)) {
                    for name in g {
                        call.params.insert(name.clone(), "1".into());
                    }
                }
            }
            n => {
                let old = call.params.get(&p.name).cloned().unwrap_or_default();
                let text = match n {
                    2 => "abc".into(),
                    3 => "-1".into(),
                    4 => "0".into(),
                    5 => "99999999999".into(),
                    6 => format!("{old} X"),
                    _ => String::new(),
                };
                call.params.insert(p.name.clone(), text);
            }
        }
        call
    }

    /// The document's verdict on a call.
    fn verdict(&self, op: &Operation, call: &Call) -> Verdict {
        let mut verdicts = Vec::new();
        for p in &op.params {
            verdicts.push(match call.params.get(&p.name) {
                None if p.required => Verdict::Invalid,
                None => Verdict::Valid,
                Some(text) => match typed(&p.schema, text) {
                    Some(v) => self.schemas.verdict(&p.schema, &v),
                    None => Verdict::Invalid,
                },
            });
        }
        for g in &op.exclusive {
            if g.iter().filter(|n| call.params.contains_key(*n)).count() > 1 {
                verdicts.push(Verdict::Invalid);
            }
        }
        if let Some((required, schema)) = &op.body {
            let text = call.body.as_deref().unwrap_or("");
            verdicts.push(if text.trim().is_empty() {
                if *required {
                    Verdict::Invalid
                } else {
                    Verdict::Valid
                }
            } else {
                match serde_json::from_str::<Value>(text) {
                    Ok(v) => self.schemas.verdict(schema, &v),
                    Err(_) => Verdict::Invalid,
                }
            });
        }
        if verdicts.contains(&Verdict::Invalid) {
            Verdict::Invalid
        } else if verdicts.contains(&Verdict::InWords) {
            Verdict::InWords
        } else {
            Verdict::Valid
        }
    }

    /// Sends a call; `None` when it cannot be sent (a header value no
    /// HTTP client can carry, an empty path segment no route has).
    async fn send(&self, op: &Operation, call: &Call) -> Option<(u16, String)> {
        let mut path = op.path.clone();
        let mut query = form_urlencoded::Serializer::new(String::new());
        let mut headers = reqwest::header::HeaderMap::new();
        for p in &op.params {
            let Some(text) = call.params.get(&p.name) else {
                continue;
            };
            match p.place.as_str() {
                "path" => {
                    if text.is_empty() {
                        return None;
                    }
                    let segment: String =
                        form_urlencoded::byte_serialize(text.as_bytes()).collect();
                    path = path.replace(&format!("{{{}}}", p.name), &segment.replace('+', "%20"));
                }
                "query" => {
                    query.append_pair(&p.name, text);
                }
                "header" => {
                    let name = reqwest::header::HeaderName::from_bytes(p.name.as_bytes()).ok()?;
                    let value = reqwest::header::HeaderValue::from_str(text).ok()?;
                    headers.insert(name, value);
                }
                _ => {}
            }
        }
        let query = query.finish();
        let url = if query.is_empty() {
            self.s.url(&path)
        } else {
            self.s.url(&format!("{path}?{query}"))
        };
        let method = reqwest::Method::from_bytes(op.method.as_bytes()).expect("method");
        let mut req = self.client.request(method, url).headers(headers);
        if let Some(body) = &call.body {
            req = req
                .header("content-type", "application/json")
                .body(body.clone());
        }
        let res = req.send().await.expect("send");
        let status = res.status().as_u16();
        if status == 101 {
            // A tunnel: not read, and dropped.
            return Some((status, String::new()));
        }
        let text = res.text().await.unwrap_or_default();
        Some((status, text))
    }
}

/// A parameter value as the text a URL or header carries.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A parameter's text as its schema's type reads it; `None` when it
/// cannot be (`abc` for an integer).
fn typed(schema: &Value, text: &str) -> Option<Value> {
    let ty = match &schema["type"] {
        Value::String(t) => t.clone(),
        Value::Array(ts) => ts
            .iter()
            .filter_map(Value::as_str)
            .find(|t| *t != "null")
            .unwrap_or("string")
            .to_owned(),
        _ => "string".to_owned(),
    };
    match ty.as_str() {
        "integer" => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .ok(),
        "number" => text.parse::<f64>().ok().map(Value::from),
        "boolean" => match text {
            "true" => Some(json!(true)),
            "false" => Some(json!(false)),
            _ => None,
        },
        _ => Some(Value::String(text.to_owned())),
    }
}

fn strip(v: &mut Value) {
    match v {
        Value::Object(map) => {
            for key in VOLATILE {
                map.remove(key);
            }
            map.values_mut().for_each(strip);
        }
        Value::Array(items) => items.iter_mut().for_each(strip),
        _ => {}
    }
}

/// Every schema that says what the server checks in words gives examples
/// that pass it: the generator draws those places from them.
fn words_come_with_examples(v: &Value, at: &str, missing: &mut Vec<String>) {
    match v {
        Value::Object(map) => {
            if map.contains_key(CHECKED)
                && map
                    .get("examples")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
            {
                missing.push(at.to_owned());
            }
            for (k, child) in map {
                words_come_with_examples(child, &format!("{at}/{k}"), missing);
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                words_come_with_examples(child, &format!("{at}/{i}"), missing);
            }
        }
        _ => {}
    }
}

fn short(text: &str) -> String {
    let mut s: String = text.chars().take(160).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_operation_takes_what_its_document_allows_and_refuses_what_it_forbids() {
    let mut s = TestServer::spawn_with(|c| c.access_token = Some(Secret::new(TOKEN))).await;
    let mut auth = reqwest::header::HeaderMap::new();
    auth.insert(
        "authorization",
        format!("Bearer {TOKEN}").parse().expect("header"),
    );
    let client = reqwest::Client::builder()
        .default_headers(auth)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    // The server's own helpers (`new_bin`) carry the token too.
    s.client = client.clone();
    let res = client
        .get(s.url("/api/openapi.json"))
        .send()
        .await
        .expect("document");
    assert_eq!(res.status(), 200);
    let doc = common::json(res).await;
    let mut missing = Vec::new();
    words_come_with_examples(&doc, "", &mut missing);
    assert!(
        missing.is_empty(),
        "{CHECKED} without examples at {missing:?}"
    );

    let mut run = Run {
        s: &s,
        client,
        schemas: Schemas::new(&doc),
        ops: operations(&doc),
        // A fixed seed: every run makes the same calls.
        runner: TestRunner::deterministic(),
    };
    let mut mismatches: Vec<String> = Vec::new();
    let mut tally: BTreeMap<String, [usize; 3]> = BTreeMap::new();
    for op in run.ops.clone() {
        let name = format!("{} {}", op.method, op.path);
        let mut f = run.fixture().await;
        let mut state: Option<Vec<(String, u16, Value)>> = None;
        for case in 0..CASES {
            let call = if case % 2 == 0 {
                run.allowed(&op, &f)
            } else {
                run.mutated(&op, &f)
            };
            let verdict = run.verdict(&op, &call);
            if verdict != Verdict::Valid && state.is_none() {
                state = Some(run.snapshot(&f).await);
            }
            let Some((status, text)) = run.send(&op, &call).await else {
                continue;
            };
            // Every answer is a documented one, of the documented shape.
            if !op.answers.contains_key(&status) {
                mismatches.push(format!(
                    "an undocumented status: {name} {status} {}",
                    short(&text)
                ));
            }
            if let (Some(Some(schema)), Ok(answer)) = (
                op.answers.get(&status),
                serde_json::from_str::<Value>(&text),
            ) && run.schemas.verdict(schema, &answer) == Verdict::Invalid
            {
                mismatches.push(format!(
                    "an answer not of its documented shape: {name} {status} {}",
                    short(&text)
                ));
            }
            let counts = tally.entry(name.clone()).or_default();
            counts[verdict as usize] += 1;
            let refused = status == 400 || status == 422;
            let said = format!(
                "{name} {:?} params={:?} body={}: {status} {}",
                verdict,
                call.params,
                short(call.body.as_deref().unwrap_or("-")),
                short(&text)
            );
            let mut wrong = |why: &str| mismatches.push(format!("{why}: {said}"));
            if status >= 500 || matches!(status, 401 | 403 | 405) {
                wrong("a server or set-up failure");
            }
            match verdict {
                Verdict::Valid if refused => wrong("allowed by the document, refused"),
                Verdict::Invalid if !refused => wrong("forbidden by the document, not refused"),
                _ => {}
            }
            if refused {
                let error = serde_json::from_str::<Value>(&text)
                    .ok()
                    .and_then(|v| v["error"].as_str().map(str::to_owned));
                if error.is_none_or(|e| e.trim().is_empty()) {
                    wrong("refused without a JSON error message");
                }
                if let Some(before) = &state {
                    let after = run.snapshot(&f).await;
                    if &after != before {
                        wrong("refused, yet the state changed");
                        state = Some(after);
                    }
                }
            } else {
                // Taken (or not found): the state may have changed, the
                // fixture may be gone.
                state = None;
                if !run.fixture_holds(&f).await {
                    f = run.fixture().await;
                }
            }
        }
    }
    let total = |i: usize| tally.values().map(|c| c[i]).sum::<usize>();
    eprintln!(
        "api_contract: {} operations, {} calls: {} allowed, {} forbidden, {} checked in words; {} mismatches\n  per operation (allowed, forbidden, in words): {tally:?}",
        tally.len(),
        total(0) + total(1) + total(2),
        total(0),
        total(1),
        total(2),
        mismatches.len()
    );
    for m in &mismatches {
        eprintln!("  {m}");
    }
    assert!(
        mismatches.is_empty(),
        "{} mismatches between the API document and the server:\n{}",
        mismatches.len(),
        mismatches.join("\n")
    );
    // Every operation met allowed calls, and every one that takes input
    // met forbidden ones.
    for op in &run.ops {
        let name = format!("{} {}", op.method, op.path);
        let counts = tally.get(&name).copied().unwrap_or_default();
        assert!(
            counts[0] > 0,
            "{name}: no allowed call was made: {counts:?}"
        );
        let takes_input = op.body.is_some() || op.params.iter().any(|p| p.name != "bin_id");
        assert!(
            !takes_input || counts[1] > 0,
            "{name}: no forbidden call was made: {counts:?}"
        );
    }
}

/// The mismatches an independent run found, each now as the document says:
/// refused with a JSON reason and nothing changed, or taken.
#[tokio::test]
async fn the_mismatches_found_are_settled() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let call = |method: reqwest::Method, path: String, body: Option<String>| {
        let s = &s;
        async move {
            let mut req = s.client.request(method, s.url(&path));
            if let Some(body) = body {
                req = req.header("content-type", "application/json").body(body);
            }
            let res = req.send().await.expect("call");
            (res.status().as_u16(), common::json(res).await)
        }
    };
    let put = |path: &str, body: Option<&str>| {
        call(
            reqwest::Method::PUT,
            format!("/api/bins/{bin}/{path}"),
            body.map(str::to_owned),
        )
    };
    let rules = r#"{"rules":[{"name":"flaky","match":["method=POST"]}]}"#;
    assert_eq!(put("rules", Some(rules)).await.0, 200);
    assert_eq!(put("alias", Some(r#"{"alias":"kept"}"#)).await.0, 200);
    let before = s.get_json(&format!("/api/bins/{bin}"), 200).await;

    for (path, body, says) in [
        ("rules", Some("[[]]"), "is not of type \"object\""),
        ("schemas", Some("[[]]"), "is not of type \"object\""),
        ("alias", None, "a JSON body is required"),
        ("alias", Some("{}"), "\"alias\" is a required property"),
        (
            "alias",
            Some(r#"{"alias":"Not An Alias"}"#),
            "does not match",
        ),
        ("response", Some(r#"{"headers":[[]]}"#), "less than 2 items"),
        (
            "secrets",
            Some(r#"{"header":{"name":"","value":"x"}}"#),
            "body /header/name",
        ),
    ] {
        let (status, answer) = put(path, body).await;
        assert_eq!(status, 400, "{path} {body:?}: {answer}");
        let error = answer["error"].as_str().expect("a reason");
        assert!(
            error.contains(says) && error.contains("nothing was changed"),
            "{error}"
        );
    }
    for query in [
        "requests?limit=0",
        "requests/-1",
        "export?to=",
        "requests?before=2&after=1",
        "requests?limit=5&limit=7",
    ] {
        s.get_json(&format!("/api/bins/{bin}/{query}"), 400).await;
    }
    let import = |body: &str| {
        call(
            reqwest::Method::POST,
            format!("/api/bins/{bin}/import"),
            Some(body.to_owned()),
        )
    };
    assert_eq!(import("{}").await.0, 400);
    assert_eq!(import("[]").await.0, 200, "an empty list imports nothing");
    let after = s.get_json(&format!("/api/bins/{bin}"), 200).await;
    assert_eq!(after, before, "a refused call changed the bin");
    let kept = s.get_json(&format!("/api/bins/{bin}/rules"), 200).await;
    assert_eq!(kept["rules"][0]["name"], "flaky");

    // No body, null or {} mint a bin; a body past 2 MiB is 413, in JSON.
    for body in [None, Some("null"), Some("{}")] {
        let minted = call(
            reqwest::Method::POST,
            "/api/bins".into(),
            body.map(str::to_owned),
        )
        .await;
        assert_eq!(minted.0, 201, "{body:?}");
    }
    let big = format!("{{\"rules\":[],\"x\":\"{}\"}}", "y".repeat(3 << 20));
    let (status, answer) = put("rules", Some(&big)).await;
    assert_eq!(status, 413);
    assert!(
        answer["error"].as_str().is_some_and(|e| e.contains("over")),
        "{answer}"
    );
}
