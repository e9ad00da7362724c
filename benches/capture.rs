//! Load benchmark for durable capture: hookwire's requests/s
//! against a bare hyper server that answers 200 without storing anything,
//! then hookwire's latency at half its own maximum rate, and its RSS; then
//! the state users live in: the bin at its cap, an idle gap in which search
//! catches up (`hookwire_search_lag_seconds` reaches 0), and a burst at
//! full and at half load.
//!
//! Both servers run as child processes on 127.0.0.1; the load generator
//! (64 keep-alive HTTP/1.1 connections, 1 KiB JSON POSTs) runs here.
//!
//! Run: `cargo bench --bench capture`. `HOOKWIRE_BENCH_SECS=3` shortens
//! every measured phase (default 10 s). The numbers are printed, not
//! asserted; the run fails only when a server does not start or most
//! requests fail.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use common::load::{CONNECTIONS, load};
use common::{BODY_BYTES, Body, connect, json_body, mint_bin, request, rss_mib, start_hookwire};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};

/// Re-executing this binary with this argument runs the baseline server.
const BASELINE_ARG: &str = "--bare-hyper-server";

fn main() -> Result<()> {
    if std::env::args().any(|a| a == BASELINE_ARG) {
        return common::bare_server();
    }
    let secs = std::env::var("HOOKWIRE_BENCH_SECS").map_or(Ok(10), |v| v.trim().parse::<u64>());
    let secs = secs.context("HOOKWIRE_BENCH_SECS: whole seconds")?;
    ensure!(secs > 0, "HOOKWIRE_BENCH_SECS must be at least 1");
    tokio::runtime::Runtime::new()
        .context("building the load generator's runtime")?
        .block_on(bench(secs))
}

async fn bench(secs: u64) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let (body, measure) = (json_body()?, Duration::from_secs(secs));
    let run = |addr, path: &Arc<str>, rate| {
        load(vec![addr], build, path.clone(), body.clone(), measure, rate)
    };
    println!(
        "capture benchmark: {CONNECTIONS} connections, {BODY_BYTES}-byte JSON POSTs, \
         {secs} s per phase, loopback"
    );

    // Baseline first, then stopped, so it never competes with hookwire.
    let (baseline, base_addr) = common::start_self_as(BASELINE_ARG).await?;
    let base = run(base_addr, &"/hook".into(), None).await?;
    drop(baseline);
    base.check("baseline")?;

    let (hookwire, hw_addr) = start_hookwire(dir.path(), &[]).await?;
    let capture_path = mint_bin(hw_addr).await?;
    let rss_idle = rss_mib(hookwire.0.id());
    let hw = run(hw_addr, &capture_path, None).await?;
    let rss_loaded = rss_mib(hookwire.0.id());
    hw.check("hookwire")?;

    // The same load on a bin with a payload schema that holds for every
    // request (so each capture is validated, the valid path users see
    // most), then on a fresh plain bin again: the ratio compares
    // neighbouring phases. An older build may have no schemas.
    let schema_path = mint_bin(hw_addr).await?;
    let schema = if set_schema(hw_addr, &schema_path).await? {
        let with = run(hw_addr, &schema_path, None).await?;
        with.check("hookwire with a schema")?;
        let plain_path = mint_bin(hw_addr).await?;
        let without = run(hw_addr, &plain_path, None).await?;
        without.check("hookwire without a schema")?;
        Some((with, without))
    } else {
        None
    };

    // The same load on a bin with a GitHub secret: every request carries a
    // valid X-Hub-Signature-256 (all requests do; bins without secrets
    // skip the check).
    let signed_path = mint_bin(hw_addr).await?;
    set_secret(hw_addr, &signed_path).await?;
    let signed = run(hw_addr, &signed_path, None).await?;
    signed.check("hookwire with a secret")?;

    // The same load on a bin with five response rules, the last one the
    // answer: four that do not match (method, header, JSON, path), then one
    // that renders a templated body; then the same with the last rule
    // counting the webhook's arrivals (each request has its own
    // webhook-id). An older build (HOOKWIRE_BENCH_BIN) may have no rules.
    let mut ruled = Vec::new();
    for counting in [false, true] {
        let path = mint_bin(hw_addr).await?;
        if !set_rules(hw_addr, &path, counting).await? {
            break;
        }
        let phase = run(hw_addr, &format!("{path}{RULED}").into(), None).await?;
        phase.check("hookwire with rules")?;
        ruled.push(phase);
    }

    let half_rate = hw.rate() / 2.0;
    let paced = run(hw_addr, &capture_path, Some(half_rate)).await?;
    paced.check("hookwire at 50% load")?;

    // The state users live in: the bin sits at its cap (10,000,
    // the default; the phases above filled it many times over), search has
    // caught up in an idle gap, and load comes as a burst.
    let caught_up = search_caught_up(hw_addr).await?;
    let steady = run(hw_addr, &capture_path, None).await?;
    steady.check("hookwire at its cap, after an idle gap")?;
    let caught_up_after = search_caught_up(hw_addr).await?;
    let steady_half = steady.rate() / 2.0;
    let steady_paced = run(hw_addr, &capture_path, Some(steady_half)).await?;
    steady_paced.check("hookwire at its cap, 50% load")?;
    drop(hookwire);

    // The same fresh load with every batch flushed to the disk before it is
    // acknowledged. An older build (HOOKWIRE_BENCH_BIN) may not have the flag.
    let fsync = if common::has_flag("serve", "--durability")? {
        let fsync_dir = dir.path().join("fsync");
        std::fs::create_dir(&fsync_dir).context("creating the fsync run's directory")?;
        let (hookwire, addr) = start_hookwire(&fsync_dir, &["--durability", "fsync"]).await?;
        let path = mint_bin(addr).await?;
        let fsync = run(addr, &path, None).await?;
        fsync.check("hookwire --durability fsync")?;
        drop(hookwire);
        Some(fsync)
    } else {
        None
    };

    let ratio = hw.rate() / base.rate();
    let mib = |v: Option<f64>| v.map_or("n/a".to_owned(), |m| format!("{m:.1} MiB"));
    println!("baseline (bare hyper)   : {}", base.line());
    println!("hookwire capture        : {}", hw.line());
    println!("ratio hookwire/baseline :  {ratio:.2}   (target >= 0.50)");
    println!("hookwire, GitHub secret : {}", signed.line());
    println!(
        "ratio with/without secret: {:.2}   (every capture verified)",
        signed.rate() / hw.rate()
    );
    match &schema {
        Some((with, without)) => {
            println!("hookwire, JSON Schema   : {}", with.line());
            println!("  next, no schema       : {}", without.line());
            println!(
                "ratio with/without schema: {:.2}  (every capture validated; \
                 target >= 0.90, else validate after the commit)",
                with.rate() / without.rate()
            );
        }
        None => println!("hookwire, JSON Schema   :  n/a (this build has no schemas)"),
    }
    match &ruled[..] {
        [plain, counting] => {
            println!(
                "hookwire, 5 rules       : {}  (ratio to no rules: {:.2})",
                plain.line(),
                plain.rate() / hw.rate()
            );
            println!(
                "  counting attempts     : {}  (ratio to no rules: {:.2})",
                counting.line(),
                counting.rate() / hw.rate()
            );
        }
        _ => println!("hookwire, 5 rules       :  n/a (this build has no rules)"),
    }
    println!(
        "hookwire at 50% load    : {}  (target p99 <= 10 ms; asked {half_rate:.0} req/s)",
        paced.line()
    );
    println!(
        "at the cap, after a gap : {}  (search caught up in {:.1} s before it, {:.1} s after)",
        steady.line(),
        caught_up.as_secs_f64(),
        caught_up_after.as_secs_f64()
    );
    println!(
        "ratio steady/baseline   :  {:.2}   (target >= 0.50)",
        steady.rate() / base.rate()
    );
    println!(
        "at the cap, 50% load    : {}  (target p99 <= 10 ms; asked {steady_half:.0} req/s)",
        steady_paced.line()
    );
    match &fsync {
        Some(fsync) => println!(
            "--durability fsync      : {}  (ratio to the default: {:.2})",
            fsync.line(),
            fsync.rate() / hw.rate()
        ),
        None => println!("--durability fsync      :  n/a (this build has no --durability)"),
    }
    println!(
        "hookwire RSS            :  idle {}, loaded {} (target idle <= 30 MiB)",
        mib(rss_idle),
        mib(rss_loaded)
    );
    Ok(())
}

/// The idle gap given to a build that does not report its search lag.
const OLD_BUILD_GAP: Duration = Duration::from_secs(5);

/// Waits until every stored request is searchable
/// (`hookwire_search_lag_seconds 0` in /metrics); returns how long that took.
async fn search_caught_up(addr: SocketAddr) -> Result<Duration> {
    let started = Instant::now();
    loop {
        let (status, body) = request(addr, Method::GET, "/metrics").await?;
        ensure!(status == StatusCode::OK, "GET /metrics: {status}");
        let text = String::from_utf8_lossy(&body);
        let Some(lag) = text
            .lines()
            .find_map(|l| l.strip_prefix("hookwire_search_lag_seconds "))
        else {
            // An older build (HOOKWIRE_BENCH_BIN) does not say: give its
            // indexer a fixed idle gap instead.
            tokio::time::sleep(OLD_BUILD_GAP).await;
            return Ok(started.elapsed());
        };
        let lag = lag
            .trim()
            .parse::<f64>()
            .context("hookwire_search_lag_seconds is not a number")?;
        if lag == 0.0 {
            return Ok(started.elapsed());
        }
        ensure!(
            started.elapsed() < Duration::from_secs(120),
            "search did not catch up within 120 s (lag {lag} s)"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The GitHub secret of the signed phase.
const SECRET: &[u8] = b"bench-secret";

/// A load request, signed for the GitHub-secret phase (bins without a
/// secret ignore the header).
fn build(addr: SocketAddr, method: Method, path: &str, body: Bytes) -> Result<Request<Body>> {
    let signature = format!(
        "sha256={}",
        hex::encode(hookwire::core::verify::hmac_sha256(SECRET, &[&body]))
    );
    let ruled = path.ends_with(RULED);
    let mut req = common::json_request(addr, method, path, body)?;
    req.headers_mut()
        .insert("x-hub-signature-256", signature.parse()?);
    if ruled {
        // Each its own webhook: every capture counts its arrivals.
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        req.headers_mut()
            .insert("webhook-id", format!("msg_{n}").parse()?);
    }
    Ok(req)
}

/// The sub-path the rules phase sends to.
const RULED: &str = "/ruled";

/// Gives the bin behind `capture_path` the rules phase's five rules, the
/// last `counting` arrivals or not; false when the build has no rules.
async fn set_rules(addr: SocketAddr, capture_path: &str, counting: bool) -> Result<bool> {
    let path = format!("/api/bins{capture_path}/rules");
    let mut last = serde_json::json!(
        {"name": "first", "match": ["json:/event=invoice.paid", "body~in_"],
         "response": {"status": 202, "headers": [["x-invoice", "{{json:/data/id}}"]],
                      "body": "{\"accepted\":\"{{json:/data/id}}\",\"id\":{{request.id}}}"}});
    if counting {
        last["attempts"] = "1".into();
    }
    let rules = serde_json::json!({"rules": [
        {"name": "gone", "match": ["method=DELETE"], "response": {"status": 410}},
        {"name": "push", "match": ["header.x-github-event=push"], "response": {"status": 204}},
        {"name": "failed", "match": ["json:/event=invoice.failed"], "response": {"status": 500}},
        {"name": "other", "match": ["path=/other/**"], "action": "close"},
        last
    ]});
    let req = common::json_request(addr, Method::PUT, &path, Bytes::from(rules.to_string()))?;
    let resp = connect(addr).await?.send_request(req).await?;
    Ok(resp.status() == StatusCode::OK)
}

/// Gives the bin behind `capture_path` a JSON Schema the bench body fits
/// (types, an enum, a pattern, a length bound: the kinds of checks
/// provider schemas make); false when the build has no schemas.
async fn set_schema(addr: SocketAddr, capture_path: &str) -> Result<bool> {
    let path = format!("/api/bins{capture_path}/schemas");
    let schemas = serde_json::json!({"schemas": [{"match": ["method=POST"], "schema": {
        "type": "object",
        "required": ["event", "attempt", "data"],
        "properties": {
            "event": {"enum": ["invoice.paid", "invoice.failed"]},
            "attempt": {"type": "integer", "minimum": 1},
            "data": {"type": "object", "required": ["id"], "properties": {
                "id": {"type": "string", "pattern": "^in_[0-9]+$"},
                "note": {"type": "string", "maxLength": 4096}
            }}
        }
    }}]});
    let req = common::json_request(addr, Method::PUT, &path, Bytes::from(schemas.to_string()))?;
    let resp = connect(addr).await?.send_request(req).await?;
    Ok(resp.status() == StatusCode::OK)
}

/// Gives the bin behind `capture_path` the GitHub secret.
async fn set_secret(addr: SocketAddr, capture_path: &str) -> Result<()> {
    let path = format!("/api/bins{capture_path}/secrets");
    let body = Bytes::from(format!(
        r#"{{"github":"{}"}}"#,
        std::str::from_utf8(SECRET).context("ascii secret")?
    ));
    let req = build(addr, Method::PUT, &path, body)?;
    let resp = connect(addr).await?.send_request(req).await?;
    ensure!(
        resp.status() == StatusCode::OK,
        "PUT {path}: {}",
        resp.status()
    );
    Ok(())
}
