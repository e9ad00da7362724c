//! The load generator of the capture and replica benchmarks: keep-alive
//! HTTP/1.1 connections, closed loop or paced, latency of every request.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, ensure};
use http_body_util::BodyExt as _;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, Request};
use tokio::time::MissedTickBehavior;

use super::{Body, TIMEOUT, connect};

/// Connections of every load phase.
pub const CONNECTIONS: usize = 64;
/// Sent before measuring, to warm connections and caches.
pub const WARMUP: Duration = Duration::from_secs(1);

/// What one measured phase saw.
pub struct Phase {
    ok: u64,
    errors: u64,
    elapsed: Duration,
    /// Latencies of the successful requests, microseconds, sorted.
    latencies_us: Vec<u32>,
}

impl Phase {
    pub fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    pub fn percentile_ms(&self, p: f64) -> f64 {
        let n = self.latencies_us.len();
        let i = ((p * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        self.latencies_us
            .get(i)
            .map_or(f64::NAN, |&us| f64::from(us) / 1000.0)
    }

    pub fn line(&self) -> String {
        format!(
            "{:6.0} req/s  p50 {:.2} ms  p99 {:.2} ms  (errors: {})",
            self.rate(),
            self.percentile_ms(0.50),
            self.percentile_ms(0.99),
            self.errors
        )
    }

    pub fn check(&self, what: &str) -> Result<()> {
        ensure!(
            self.ok > 0 && self.errors <= self.ok,
            "{what}: most requests failed ({} ok, {} errors)",
            self.ok,
            self.errors
        );
        Ok(())
    }
}

/// Builds one load request for an address and path.
pub type Build = fn(SocketAddr, Method, &str, Bytes) -> Result<Request<Body>>;

/// Drives CONNECTIONS connections (spread over `addrs` in turn: replicas
/// behind a round-robin balancer) for WARMUP then `measure`, and reports
/// the requests that both started and finished inside `measure`. With
/// `rate` (req/s, all connections together), each connection sends at
/// its share of it; without, back to back.
pub async fn load(
    addrs: Vec<SocketAddr>,
    build: Build,
    path: Arc<str>,
    body: Bytes,
    measure: Duration,
    rate: Option<f64>,
) -> Result<Phase> {
    let measure_from = Instant::now() + WARMUP;
    let stop_at = measure_from + measure;
    let period = rate.map(|r| Duration::from_secs_f64(CONNECTIONS as f64 / r.max(1.0)));
    let mut tasks = Vec::with_capacity(CONNECTIONS);
    for i in 0..CONNECTIONS {
        let (path, body) = (path.clone(), body.clone());
        let addr = addrs[i % addrs.len()];
        // Paced connections are staggered so they do not fire in lockstep.
        let mut ticker = period.map(|p| {
            let start = tokio::time::Instant::now() + p.mul_f64(i as f64 / CONNECTIONS as f64);
            let mut t = tokio::time::interval_at(start, p);
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
            t
        });
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut lat) = (0u64, 0u64, Vec::new());
            let mut sender: Option<SendRequest<Body>> = None;
            while Instant::now() < stop_at {
                if let Some(t) = ticker.as_mut() {
                    t.tick().await;
                }
                let s = match sender.as_mut() {
                    Some(s) => s,
                    None => match tokio::time::timeout(TIMEOUT, connect(addr)).await {
                        Ok(Ok(s)) => sender.insert(s),
                        _ => {
                            if Instant::now() >= measure_from {
                                errors += 1;
                            }
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                let req = build(addr, Method::POST, &path, body.clone())?;
                let started = Instant::now();
                let result = tokio::time::timeout(TIMEOUT, async {
                    s.ready().await?;
                    let resp = s.send_request(req).await?;
                    let status = resp.status();
                    // Drained so the connection can carry the next request.
                    resp.into_body().collect().await?;
                    Ok::<_, hyper::Error>(status)
                })
                .await;
                let done = Instant::now();
                if !matches!(result, Ok(Ok(_))) {
                    sender = None;
                }
                if started < measure_from || done > stop_at {
                    continue;
                }
                match result {
                    Ok(Ok(status)) if status.is_success() => {
                        ok += 1;
                        let us = (done - started).as_micros();
                        lat.push(u32::try_from(us).unwrap_or(u32::MAX));
                    }
                    _ => errors += 1,
                }
            }
            Ok::<_, anyhow::Error>((ok, errors, lat))
        }));
    }
    let (mut ok, mut errors, mut latencies_us) = (0, 0, Vec::new());
    for task in tasks {
        let (o, e, lat) = task.await.context("a load task panicked")??;
        (ok, errors) = (ok + o, errors + e);
        latencies_us.extend(lat);
    }
    latencies_us.sort_unstable();
    Ok(Phase {
        ok,
        errors,
        elapsed: measure,
        latencies_us,
    })
}
