//! Inspector speed on a large bin (a bin of 100,000 requests
//! renders in ≤ 50 ms, search ≤ 100 ms). Fills a temporary database through
//! the real store, lets the search indexer catch up, then times the router
//! in process (no network), median of repeated runs.
//! Run: `cargo bench --bench inspector` (HOOKWIRE_BENCH_REQUESTS to change
//! the 100,000).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::Request;
use hookwire::core::model::NewRequest;
use hookwire::core::time::now_millis;
use hookwire::server::config::ServerConfig;
use hookwire::server::state::AppState;
use hookwire::server::store::{Store, StoreOptions};
use tower::ServiceExt as _;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::var("HOOKWIRE_BENCH_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let config = ServerConfig {
        db: hookwire::server::config::Database::Sqlite(dir.path().join("inspector.db")),
        max_requests_per_bin: 0,
        ..ServerConfig::default()
    };
    let (store, _writer) = Store::open(
        &dir.path().join("inspector.db"),
        StoreOptions {
            max_requests_per_bin: 0,
            ..StoreOptions::default()
        },
    )
    .expect("store");
    let state = AppState::new(config, store.clone());
    let bin = state.bins.mint(None).await.expect("bin").id;

    let started = Instant::now();
    let mut tasks = Vec::new();
    for t in 0..64 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in (t..n).step_by(64) {
                // One request in 10,000 carries the rare word.
                let word = if i % 10_000 == 7 { "needle" } else { "hay" };
                let body = format!(
                    r#"{{"job_id":"job-{i}","status":"success","note":"{word}","pad":"{}"}}"#,
                    "x".repeat(900)
                );
                let r = NewRequest {
                    bin_id: bin,
                    received_at: now_millis(),
                    method: if i % 5 == 0 {
                        "GET".into()
                    } else {
                        "POST".into()
                    },
                    path: format!("/hooks/{}", i % 17),
                    query: String::new(),
                    headers: vec![
                        ("content-type".into(), "application/json".into()),
                        ("user-agent".into(), "bench".into()),
                    ],
                    remote_addr: "127.0.0.1:1".into(),
                    body: body.into_bytes().into(),
                    signature: None,
                    schema: None,
                    retry_key: None,
                    rule: None,
                    answer: None,
                };
                store.capture(r, |_| {}).await.expect("capture");
            }
        }));
    }
    for t in tasks {
        t.await.expect("filler");
    }
    let filled = started.elapsed();
    let started = Instant::now();
    while store.index_batch(2000).await.expect("index") > 0 {}
    let indexed = started.elapsed();

    let app = hookwire::server::http::make_app(state.clone());
    let get = |uri: String| {
        let app = app.clone();
        async move {
            let req = Request::get(uri)
                .header("host", "127.0.0.1")
                .body(Body::empty())
                .expect("request");
            let started = Instant::now();
            let res = app.oneshot(req).await.expect("response");
            assert!(res.status().is_success(), "{}", res.status());
            let _ = axum::body::to_bytes(res.into_body(), usize::MAX)
                .await
                .expect("body");
            started.elapsed()
        }
    };
    let time = |uri: String| {
        let get = &get;
        async move {
            let mut runs = Vec::new();
            for _ in 0..15 {
                runs.push(get(uri.clone()).await);
            }
            median(runs)
        }
    };
    let ms = |d: Duration| format!("{:.1} ms", d.as_secs_f64() * 1000.0);
    println!(
        "inspector benchmark: one bin of {n} requests (~1 KiB JSON), median of 15, in process"
    );
    println!(
        "filled in {:.1} s, search index built in {:.1} s",
        filled.as_secs_f64(),
        indexed.as_secs_f64()
    );
    let page = time(format!("/bins/{bin}")).await;
    println!(
        "inspector page (newest 100 + detail) : {:>9}   (target <= 50 ms)",
        ms(page)
    );
    // A move in the inspector fetches one request's detail (ids are 1..=n
    // in this fresh database).
    let move_newest = time(format!("/bins/{bin}/requests/{n}/detail")).await;
    println!(
        "a move: the newest request's detail   : {:>9}   (target <= 50 ms)",
        ms(move_newest)
    );
    let move_old = time(format!("/bins/{bin}/requests/{}/detail", n / 2)).await;
    println!(
        "a move: a request halfway back        : {:>9}   (target <= 50 ms)",
        ms(move_old)
    );
    let older = time(format!("/bins/{bin}?before={}", n / 2)).await;
    println!("inspector page, halfway back         : {:>9}", ms(older));
    let rare = time(format!("/bins/{bin}?q=needle")).await;
    println!(
        "search, rare word (page)             : {:>9}   (target <= 100 ms)",
        ms(rare)
    );
    let common = time(format!("/bins/{bin}?q=success")).await;
    println!(
        "search, word in every request (page) : {:>9}   (target <= 100 ms)",
        ms(common)
    );
    let api = time(format!("/api/bins/{bin}/requests?q=needle&limit=50")).await;
    println!("search, rare word (API, bodies)      : {:>9}", ms(api));
    let method = time(format!("/bins/{bin}?method=GET")).await;
    println!("method filter (page)                 : {:>9}", ms(method));
}
