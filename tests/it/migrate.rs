//! `hookwire migrate`: an SQLite instance copied into PostgreSQL
//! reads back byte for byte through the API of a server on the copy.

use crate::common;

use std::process::Command;

use common::{JsonBody as _, TestServer};
use hookwire::server::config::Database;
use serde_json::{Value, json};

/// Everything the API shows of a bin: its settings and every request with
/// its body (base64) and signature check.
async fn snapshot(s: &TestServer, bin: &str) -> (Value, Vec<Value>) {
    let mut settings = s.get_json(&format!("/api/bins/{bin}"), 200).await;
    // The URLs name the server they come from.
    for url in ["capture_url", "inspect_url", "alias_url"] {
        settings.as_object_mut().expect("object").remove(url);
    }
    settings["rules"] = s.get_json(&format!("/api/bins/{bin}/rules"), 200).await["rules"].clone();
    let mut requests = Vec::new();
    for r in s.requests(bin).await {
        let id = r["id"].as_i64().expect("id");
        requests.push(
            s.get_json(&format!("/api/bins/{bin}/requests/{id}"), 200)
                .await,
        );
    }
    (settings, requests)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrate_copies_an_sqlite_instance_byte_for_byte() {
    let dir = tempfile::tempdir().expect("dir");
    let file = dir.path().join("source.db");
    let source_db = file.clone();
    let source = TestServer::spawn_with(move |c| c.db = Database::Sqlite(source_db)).await;
    let bin = source.new_bin().await;
    let res = source
        .client
        .put(source.url(&format!("/api/bins/{bin}/response")))
        .json_body(&json!({
            "status": 202,
            "headers": [["content-type", "text/plain"], ["x-a", "1"]],
            "body": "accepted",
            "delay_ms": 0
        }))
        .send()
        .await
        .expect("put response");
    assert_eq!(res.status(), 200);
    let res = source
        .client
        .put(source.url(&format!("/api/bins/{bin}/secrets")))
        .json_body(&json!({ "github": "s3cret" }))
        .send()
        .await
        .expect("put secrets");
    assert_eq!(res.status(), 200);
    // An alias, and a rule that answers one of the captures.
    let res = source
        .client
        .put(source.url(&format!("/api/bins/{bin}/alias")))
        .json_body(&json!({ "alias": "migrated" }))
        .send()
        .await
        .expect("put alias");
    assert_eq!(res.status(), 200);
    let res = source
        .client
        .put(source.url(&format!("/api/bins/{bin}/rules")))
        .json_body(&json!({ "rules": [{"name": "binary", "match": ["path=/bin"], "response": {"status": 203}}] }))
        .send()
        .await
        .expect("put rules");
    assert_eq!(res.status(), 200);
    // Text, every byte value (NUL included) and an empty body.
    let every_byte: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
    for (path, body) in [
        (
            "/hooks/eden?x=1&y=%20",
            br#"{"job_id":"550e8400","status":"success"}"#.to_vec(),
        ),
        ("/bin", every_byte),
        ("/", Vec::new()),
    ] {
        let res = source
            .client
            .post(source.url(&format!("/{bin}{path}")))
            .header("x-github-delivery", "d-1")
            .body(body)
            .send()
            .await
            .expect("capture");
        assert_eq!(res.status(), if path == "/bin" { 203 } else { 202 });
    }
    // A tunnel delivers them to an app: positions and deliveries to copy.
    let app = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("app");
    let app_url = format!("http://{}", app.local_addr().expect("addr"));
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = app.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
                let mut buf = vec![0u8; 8192];
                // One request per connection is enough here: answer and close.
                let _ = conn.read(&mut buf).await;
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                    )
                    .await;
            });
        }
    });
    let mut tunnel = Command::new(common::binary())
        .args(["tunnel", &source.url(&format!("/{bin}")), "--to", &app_url])
        .args([
            "--name",
            "laptop",
            "--from-start",
            "--filter",
            "!path=/hooks/**",
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start hookwire tunnel");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while source
        .requests(&bin)
        .await
        .iter()
        .any(|r| r["deliveries"].as_array().is_none_or(Vec::is_empty))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "deliveries within 20 s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let _ = tunnel.kill();
    let _ = tunnel.wait();

    // The newest id is deleted: the copy must not hand it out again.
    let newest = source.requests(&bin).await[0]["id"].as_i64().expect("id");
    let res = source
        .client
        .delete(source.url(&format!("/api/bins/{bin}/requests/{newest}")))
        .send()
        .await
        .expect("delete");
    assert!(res.status().is_success());
    let before = snapshot(&source, &bin).await;
    assert_eq!(before.1.len(), 2);
    // The copy has what this issue added: a skipped delivery, the rule that
    // answered, the alias.
    let eden = before
        .1
        .iter()
        .find(|r| r["path"] == "/hooks/eden")
        .expect("eden");
    assert_eq!(eden["deliveries"][0]["skipped"], true);
    let binary = before.1.iter().find(|r| r["path"] == "/bin").expect("bin");
    assert_eq!(binary["rule"], "binary");
    assert_eq!(binary["deliveries"][0]["skipped"], false);
    assert_eq!(before.0["alias"], "migrated");
    source.stop().await;

    let url = common::pg::database();
    let out = Command::new(common::binary())
        .args(["migrate", "--from"])
        .arg(&file)
        .args(["--to", &url])
        .output()
        .expect("run hookwire migrate");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "copied 1 bins, 2 requests, 1 tunnel positions, 2 deliveries"
    );

    let target_url = url.clone();
    let target = TestServer::spawn_with(move |c| c.db = Database::Postgres(target_url)).await;
    let after = snapshot(&target, &bin).await;
    assert_eq!(after, before, "the copy reads back the same");
    let res = target
        .client
        .post(target.url(&format!("/{bin}/next")))
        .body("x")
        .send()
        .await
        .expect("capture on the copy");
    assert!(common::request_id(&res) > newest, "ids are never reused");

    // Into a database that already holds bins: refused, nothing changes.
    let again = Command::new(common::binary())
        .args(["migrate", "--from"])
        .arg(&file)
        .args(["--to", &url])
        .output()
        .expect("run hookwire migrate");
    assert!(!again.status.success());
    let err = String::from_utf8_lossy(&again.stderr);
    assert!(err.contains("already holds 1 bins"), "{err}");
    assert_eq!(target.requests(&bin).await.len(), 3);
}
