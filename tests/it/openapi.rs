//! `GET /api/openapi.json`: a valid OpenAPI 3.1 document (checked by an
//! independent validator, PyPI's openapi-spec-validator) that describes
//! every `/api` route the server has — checked from the source and against
//! the live router, so the two cannot drift.

use crate::common;

use std::collections::BTreeSet;
use std::path::Path;

use common::TestServer;
use serde_json::Value;

async fn document(s: &TestServer) -> Value {
    let res = s
        .client
        .get(s.url("/api/openapi.json"))
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "application/json");
    common::json(res).await
}

/// (path, method) of every operation the document describes.
fn operations(doc: &Value) -> BTreeSet<(String, String)> {
    let mut ops = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for method in item.as_object().expect("path item").keys() {
            ops.insert((path.clone(), method.to_ascii_uppercase()));
        }
    }
    ops
}

/// Runs `python3 ARGS FILE` (the validators of tests/sdk/requirements.txt):
/// whether it succeeded, and what it printed.
async fn python(args: [&'static str; 2], file: std::path::PathBuf) -> (bool, String) {
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new("python3")
            .args(args)
            .arg(&file)
            .output()
    })
    .await
    .expect("join")
    .expect("python3 runs");
    let printed = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), printed)
}

#[tokio::test]
async fn the_document_is_valid_openapi_3_1() {
    let s = TestServer::spawn().await;
    let doc = document(&s).await;
    assert_eq!(doc["openapi"], "3.1.0");
    let file = s.dir.path().join("openapi.json");
    std::fs::write(&file, doc.to_string()).expect("write");
    let (ok, output) = python(["-m", "openapi_spec_validator"], file).await;
    assert!(
        ok,
        "openapi-spec-validator refused the document (installed by scripts/test from tests/sdk/requirements.txt):\n{output}"
    );
}

#[tokio::test]
async fn every_spec_route_is_described() {
    let s = TestServer::spawn().await;
    let ops = operations(&document(&s).await);
    // The /api routes every server has.
    for (path, method) in [
        ("/api/bins", "POST"),
        ("/api/bins/{bin_id}", "GET"),
        ("/api/bins/{bin_id}", "DELETE"),
        ("/api/bins/{bin_id}/response", "PUT"),
        ("/api/bins/{bin_id}/requests", "GET"),
        ("/api/bins/{bin_id}/requests", "DELETE"),
        ("/api/bins/{bin_id}/requests/{id}", "GET"),
        ("/api/bins/{bin_id}/requests/{id}", "DELETE"),
        ("/api/bins/{bin_id}/requests/{id}/body", "GET"),
        ("/api/bins/{bin_id}/requests/{id}/replay", "POST"),
        ("/api/bins/{bin_id}/secrets", "PUT"),
        ("/api/bins/{bin_id}/tunnel", "GET"),
        ("/api/openapi.json", "GET"),
    ] {
        assert!(
            ops.contains(&(path.to_owned(), method.to_owned())),
            "{method} {path} is not described"
        );
    }
}

/// Every `.rs` file under `dir`.
fn rust_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out
}

/// Routes are added to the router and to the document by the same
/// `routes!` call; a plain `.route("/api…")` would bypass the document.
#[tokio::test]
async fn the_source_registers_every_api_route_with_its_description() {
    let s = TestServer::spawn().await;
    let ops = operations(&document(&s).await);
    let mut annotated = BTreeSet::new();
    for file in rust_files(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        let text = std::fs::read_to_string(&file).expect("read");
        assert!(
            !text.contains(".route(\"/api"),
            "{}: register /api routes with utoipa's routes!, so they are described",
            file.display()
        );
        for attr in text.split("#[utoipa::path(").skip(1) {
            let method = attr
                .trim_start()
                .split(',')
                .next()
                .expect("method")
                .trim()
                .to_ascii_uppercase();
            let path = attr
                .split("path = \"")
                .nth(1)
                .and_then(|p| p.split('"').next())
                .expect("path");
            annotated.insert((path.to_owned(), method));
        }
    }
    assert_eq!(
        annotated, ops,
        "the annotated handlers and the document differ"
    );
}

/// Each described operation is answered by a handler of the live router:
/// never the router's own 404 (no route) or 405 (no such method).
#[tokio::test]
async fn the_live_router_answers_every_described_operation() {
    let s = TestServer::spawn().await;
    let ops = operations(&document(&s).await);
    for (path, method) in ops {
        // A bin and a request of its own: an operation may delete them.
        let bin = s.new_bin().await;
        let res = s
            .client
            .post(s.url(&format!("/{bin}/x")))
            .body("{}")
            .send()
            .await
            .expect("capture");
        let id = common::request_id(&res);
        let url = s.url(
            &path
                .replace("{bin_id}", &bin)
                .replace("{id}", &id.to_string()),
        );
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let res = s
            .client
            .request(method.clone(), &url)
            .header("content-type", "application/json")
            .body(if method == reqwest::Method::PUT {
                "{}"
            } else {
                ""
            })
            .send()
            .await
            .expect("send");
        let status = res.status().as_u16();
        let body = res.bytes().await.expect("body");
        assert_ne!(status, 405, "{method} {path}: no such method in the router");
        assert!(
            !(status == 404 && body.is_empty()),
            "{method} {path}: no such route in the router"
        );
    }
}

/// What the server answers matches the schemas it publishes: a request
/// (with a signature check), a page of them and a bin, each validated by
/// an independent JSON Schema validator (PyPI's jsonschema) against the
/// document's own component. The core view types describe themselves
/// (schemars) while serde writes them, so this catches the two drifting.
#[tokio::test]
async fn answers_match_the_documented_schemas() {
    let s = TestServer::spawn().await;
    let doc = document(&s).await;
    let bin = s.new_bin().await;
    let res = s
        .client
        .put(s.url(&format!("/api/bins/{bin}/secrets")))
        .header("content-type", "application/json")
        .body(r#"{"stripe":"whsec_test"}"#)
        .send()
        .await
        .expect("secrets");
    assert_eq!(res.status(), 200);
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hooks?x=1")))
        .header("stripe-signature", "t=1,v1=00")
        .body("{\"a\":1}")
        .send()
        .await
        .expect("capture");
    let id = common::request_id(&res);
    let get = |path: String| {
        let s = &s;
        async move {
            let res = s.client.get(s.url(&path)).send().await.expect("get");
            assert_eq!(res.status(), 200, "{path}");
            common::json(res).await
        }
    };
    let request = get(format!("/api/bins/{bin}/requests/{id}")).await;
    assert_eq!(request["signature"]["scheme"], "stripe", "{request}");
    let cases = serde_json::json!([
        ["RequestJson", request],
        [
            "RequestPage",
            get(format!("/api/bins/{bin}/requests")).await
        ],
        ["BinView", get(format!("/api/bins/{bin}")).await],
    ]);
    let file = s.dir.path().join("cases.json");
    std::fs::write(
        &file,
        serde_json::json!({ "doc": doc, "cases": cases }).to_string(),
    )
    .expect("write");
    let script = r##"
import json, sys
from jsonschema import Draft202012Validator
data = json.load(open(sys.argv[1]))
failed = []
for name, value in data["cases"]:
    schema = {"$ref": "#/components/schemas/" + name, "components": data["doc"]["components"]}
    errors = list(Draft202012Validator(schema).iter_errors(value))
    failed += [f"{name}: {e.json_path}: {e.message}" for e in errors]
print("\n".join(failed))
sys.exit(1 if failed else 0)
"##;
    let (ok, output) = python(["-c", script], file).await;
    assert!(
        ok,
        "answers that do not match their documented schema (jsonschema from tests/sdk/requirements.txt):\n{output}"
    );
}
