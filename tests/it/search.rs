//! Search keeps up: requests captured under concurrent load become
//! searchable through the index, `hookwire_search_lag_seconds` says when,
//! and a full bin's trimmed requests are never found.

use crate::common;

use std::time::{Duration, Instant};

use common::TestServer;

/// The lag /metrics reports.
async fn search_lag(s: &TestServer) -> f64 {
    let text = s
        .client
        .get(s.url("/metrics"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("text");
    text.lines()
        .find_map(|l| l.strip_prefix("hookwire_search_lag_seconds "))
        .expect("hookwire_search_lag_seconds in /metrics")
        .parse()
        .expect("a number")
}

async fn search(s: &TestServer, bin: &str, q: &str) -> Vec<i64> {
    s.get_json(&format!("/api/bins/{bin}/requests?q={q}&limit=1000"), 200)
        .await["requests"]
        .as_array()
        .expect("requests")
        .iter()
        .map(|r| r["id"].as_i64().expect("id"))
        .collect()
}

/// Captures `{"n":i,"token":"tok-i-end"}` for each i, 16 at a time.
async fn capture_tokens(s: &TestServer, bin: &str, n: usize) -> Vec<i64> {
    let url = s.url(&format!("/{bin}/load"));
    let mut ids = vec![0; n];
    for chunk in (0..n).collect::<Vec<_>>().chunks(16) {
        let sent = chunk.iter().map(|&i| {
            s.client
                .post(&url)
                .body(format!(r#"{{"n":{i},"token":"tok-{i}-end"}}"#))
                .send()
        });
        for (res, &i) in futures_util::future::join_all(sent)
            .await
            .into_iter()
            .zip(chunk)
        {
            ids[i] = common::request_id(&res.expect("capture"));
        }
    }
    ids
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_was_captured_under_load_is_found_once_search_caught_up() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let ids = capture_tokens(&s, &bin, 2000).await;
    // The indexer catches up (bounded wait; 2,000 small requests take it
    // well under a second).
    let started = Instant::now();
    while search_lag(&s).await > 0.0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "search never caught up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for i in [0, 1, 777, 1999] {
        assert_eq!(
            search(&s, &bin, &format!("TOK-{i}-END")).await,
            [ids[i]],
            "token {i}"
        );
    }
    // A substring shared by all: every one, newest first.
    let all = search(&s, &bin, "-end").await;
    assert_eq!(all.len(), 1000, "a full page");
    assert_eq!(Some(&all[0]), ids.iter().max());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_bins_trimmed_requests_are_never_found() {
    let s = TestServer::spawn_with(|c| c.max_requests_per_bin = 50).await;
    let bin = s.new_bin().await;
    let ids = capture_tokens(&s, &bin, 200).await;
    let started = Instant::now();
    while search_lag(&s).await > 0.0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "search never caught up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let oldest = *ids.iter().min().expect("ids");
    let i = ids.iter().position(|&id| id == oldest).expect("oldest");
    assert!(
        search(&s, &bin, &format!("tok-{i}-end")).await.is_empty(),
        "trimmed"
    );
    let newest = *ids.iter().max().expect("ids");
    let i = ids.iter().position(|&id| id == newest).expect("newest");
    assert_eq!(search(&s, &bin, &format!("tok-{i}-end")).await, [newest]);
    assert_eq!(
        search(&s, &bin, "-end").await.len(),
        50,
        "the bin keeps its newest 50"
    );
}
