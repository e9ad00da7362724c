//! Command-line benchmark: `hookwire wait`, `hookwire tail` and `hookwire
//! send` in the state users live in, each beside a baseline measured in
//! the same run.
//!
//! 1. wait latency, on a bin at its cap (10,000 requests, search caught
//!    up): `wait --match json:/job_id=<fresh>` is spawned and the matching
//!    POST sent right after (whether wait is subscribed yet cannot be
//!    seen); timed from the POST's answer to wait's exit, and from spawn
//!    to exit; then with the POST sent 100 ms after the spawn (wait is
//!    subscribed by then: the notification alone). Baselines: the POST's
//!    own round trip, and a client polling `GET …/requests?limit=1` every
//!    100 ms (what scripts do today). Then all of it again with ~1000
//!    non-matching captures/s flowing into the bin (the poller then
//!    searches: `?limit=1&q=<job id>`).
//! 2. tail keeping up: `hookwire tail` (and `tail --json`), its stdout
//!    counted, while 16 keep-alive connections capture 1 KiB JSON POSTs
//!    back to back; captures/s (beside the same load with nothing
//!    tailing), lines/s printed, the lag from the last capture's answer to
//!    tail's last line, and the CPU time tail and the server spend.
//! 3. send's cost per attempt: `send --as stripe --secret whsec_x
//!    --retries none` to a bare local app, against `curl` posting the same
//!    body (whole process times); and `--duplicate 100` (the most it
//!    takes) in one process: attempts/s.
//!
//! hookwire, the commands and the app (a bare hyper server) run as child
//! processes on 127.0.0.1; the load generators and the poller run here.
//!
//! Run: `cargo bench --bench cli`. `HOOKWIRE_BENCH_SECS=3` shortens the
//! tail phases (default 5 s each). `HOOKWIRE_BENCH_BIN` runs another build
//! (a build without these commands reports them as n/a). The numbers are
//! printed, not asserted; the run fails only when something does not
//! start or most requests fail.

mod common;

use std::io::{BufRead as _, BufReader, Read};
use std::net::SocketAddr;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result, bail, ensure};
use common::{
    BODY_BYTES, Body, ChildGuard, STARTUP_TIMEOUT, TIMEOUT, connect, json_body, request,
    start_hookwire,
};
use http_body_util::BodyExt as _;
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper::{Method, StatusCode};
use tokio::time::MissedTickBehavior;

/// Runs of each latency measurement (wait, polling, send, curl).
const ITERATIONS: usize = 30;
/// How often the polling baseline asks.
const POLL_EVERY: Duration = Duration::from_millis(100);
/// The bin's cap (hookwire's default), filled before anything is measured.
const CAP: u64 = 10_000;
/// Connections filling the bin and driving the tail phases.
const CONNECTIONS: usize = 16;
/// Non-matching captures/s flowing into the bin in the busy wait phase.
const BACKGROUND_RATE: f64 = 1000.0;
/// Connections carrying that background load.
const BACKGROUND_CONNECTIONS: usize = 4;
/// How long before the POST the "early" wait runs are spawned.
const WAIT_LEAD: Duration = Duration::from_millis(100);
/// `wait --timeout`: a miss shows as exit 1 in bounded time.
const WAIT_TIMEOUT: &str = "10s";
/// How long tail may stay silent before it is deemed done (or stuck).
const TAIL_QUIET: Duration = Duration::from_secs(3);
/// Idle time before tail starts.
const TAIL_GAP: Duration = Duration::from_millis(200);
/// Longest wait for tail to print everything after the load stopped.
const TAIL_LIMIT: Duration = Duration::from_secs(30);
/// Extra deliveries of the one `send --duplicate` run (the first plus
/// these): the most `--duplicate` takes.
const DUPLICATES: u32 = 100;
/// Re-executing this binary with this argument runs the local app.
const APP_ARG: &str = "--bare-hyper-app";

fn main() -> Result<()> {
    if std::env::args().any(|a| a == APP_ARG) {
        return common::bare_server();
    }
    let secs = std::env::var("HOOKWIRE_BENCH_SECS").map_or(Ok(5), |v| v.trim().parse::<u64>());
    let secs = secs.context("HOOKWIRE_BENCH_SECS: whole seconds")?;
    ensure!(secs > 0, "HOOKWIRE_BENCH_SECS must be at least 1");
    tokio::runtime::Runtime::new()
        .context("building the load generator's runtime")?
        .block_on(bench(secs))
}

async fn bench(secs: u64) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let measure = Duration::from_secs(secs);
    println!(
        "cli benchmark: a bin at its cap of {CAP}; wait/poll/send/curl {ITERATIONS} runs each; \
         tail under {CONNECTIONS} connections of {BODY_BYTES}-byte JSON POSTs for {secs} s; \
         loopback"
    );
    let has_wait = common::has_flag("wait", "--match")?;
    let has_tail = common::has_flag("tail", "--match")?;
    let has_send = common::has_flag("send", "--duplicate")?;

    let (hookwire, hw) = start_hookwire(dir.path(), &[]).await?;
    let bin = mint_bin(hw).await?;

    // The state users live in: the bin at its cap, and search caught up.
    let fill_started = Instant::now();
    let filled = drive(
        hw,
        bin.path.clone(),
        json_body()?,
        CONNECTIONS,
        None,
        Until::count(CAP),
    )
    .await?;
    ensure!(
        filled.ok >= CAP * 9 / 10,
        "filling the bin: {} of {CAP} captured ({} errors)",
        filled.ok,
        filled.errors
    );
    let fill_took = fill_started.elapsed();
    let caught_up = search_caught_up(hw).await?;
    println!(
        "bin filled               :  {} captures in {:.2} s; search caught up {:.1} s later",
        filled.ok,
        fill_took.as_secs_f64(),
        caught_up.as_secs_f64()
    );

    // Phase 1: wait latency, quiet bin then busy bin. Each phase prints
    // as it ends.
    wait_phase(hw, &bin, has_wait, false)
        .await?
        .print("quiet bin");
    let background = Background::start(hw, bin.path.clone())?;
    let busy = wait_phase(hw, &bin, has_wait, true).await;
    let background = background.stop().await?;
    busy?.print(&format!(
        "busy bin, {:.0} other captures/s",
        background.rate()
    ));

    // Phase 2: tail keeping up, beside the same load with nothing tailing.
    let server = hookwire.0.id();
    let cpu_before = cpu_secs(server);
    let bare_load = drive(
        hw,
        bin.path.clone(),
        json_body()?,
        CONNECTIONS,
        None,
        Until::time(measure),
    )
    .await?;
    bare_load.check("capturing with nothing tailing")?;
    let bare = Baseline {
        server_us: per_capture_us(cpu_before, cpu_secs(server), bare_load.ok),
        load: bare_load,
    };
    println!(
        "capture, nothing tailing :  {:6.0} captures/s  (errors: {}); server CPU per capture {}",
        bare.load.rate(),
        bare.load.errors,
        us(bare.server_us)
    );
    if has_tail {
        tail_phase(hw, server, &bin, measure, false)
            .await?
            .print("tail", &bare);
        tail_phase(hw, server, &bin, measure, true)
            .await?
            .print("tail --json", &bare);
    } else {
        println!("tail                     :  n/a (this build has no `hookwire tail`)");
    }
    drop(hookwire);

    // Phase 3: send's cost per attempt, against curl.
    if has_send {
        send_phase(dir.path()).await?.print();
    } else {
        println!("send                     :  n/a (this build has no `hookwire send`)");
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Phase 1: wait
// ---------------------------------------------------------------------------

/// What one wait phase (quiet or busy) saw.
struct WaitPhase {
    /// The matching POSTs' round trips (wait runs and poller runs).
    post: Samples,
    /// wait: from the POST's answer to the exit; None without `wait`.
    wait: Option<WaitRuns>,
    /// The same with the POST sent WAIT_LEAD after the spawn (wait is
    /// subscribed by then: the notification's latency alone).
    wait_early: Option<WaitRuns>,
    /// The poller: from the POST's answer to the poll answer holding it.
    poll: Samples,
    /// The poller's GETs' round trips.
    poll_get: Samples,
    /// What the poller asked.
    poll_query: &'static str,
    /// Poller runs that never saw their request.
    poll_missed: usize,
}

struct WaitRuns {
    after_post: Samples,
    whole: Samples,
    /// Runs that did not exit 0 with the request.
    failed: usize,
}

impl WaitPhase {
    fn print(&self, what: &str) {
        println!("wait, {what}:");
        println!("  matching POST round trip:  {}", self.post.line());
        match &self.wait {
            Some(w) => {
                println!(
                    "  wait, POST answer->exit :  {}{}",
                    w.after_post.line(),
                    missed(w.failed)
                );
                println!("  wait, spawn->exit       :  {}", w.whole.line());
            }
            None => {
                println!("  wait                    :  n/a (this build has no `hookwire wait`)")
            }
        }
        if let Some(w) = &self.wait_early {
            println!(
                "  wait, spawned early     :  {}{}   (POST answer->exit; spawned {} ms before \
                 the POST)",
                w.after_post.line(),
                missed(w.failed),
                WAIT_LEAD.as_millis()
            );
        }
        println!(
            "  polling every {} ms    :  {}{}   (each GET {}: {})",
            POLL_EVERY.as_millis(),
            self.poll.line(),
            missed(self.poll_missed),
            self.poll_query,
            self.poll_get.short()
        );
        if let (Some(w), Some(e)) = (&self.wait, &self.wait_early) {
            println!(
                "  ratio wait/polling      :  p50 {:.2}  p99 {:.2}   (POST answer->seen; spawned \
                 early: p50 {:.2}  p99 {:.2})",
                w.after_post.p(0.50) / self.poll.p(0.50),
                w.after_post.p(0.99) / self.poll.p(0.99),
                e.after_post.p(0.50) / self.poll.p(0.50),
                e.after_post.p(0.99) / self.poll.p(0.99)
            );
        }
    }
}

fn missed(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!("  ({n} runs MISSED)")
    }
}

/// `ITERATIONS` wait runs then `ITERATIONS` poller runs on `bin`.
async fn wait_phase(hw: SocketAddr, bin: &Bin, has_wait: bool, busy: bool) -> Result<WaitPhase> {
    let mut post = Samples::default();
    let (wait, wait_early) = if has_wait {
        (
            Some(wait_runs(hw, bin, Duration::ZERO, &mut post).await?),
            Some(wait_runs(hw, bin, WAIT_LEAD, &mut post).await?),
        )
    } else {
        (None, None)
    };

    let (mut poll, mut poll_missed) = (Samples::default(), 0usize);
    let poll_get = Arc::new(Mutex::new(Samples::default()));
    for _ in 0..ITERATIONS {
        let job = fresh_job();
        let path = if busy {
            format!("/api/bins/{}/requests?limit=1&q={job}", bin.id)
        } else {
            format!("/api/bins/{}/requests?limit=1", bin.id)
        };
        let mut sender = connect(hw).await.context("connecting for the POST")?;
        let poller = tokio::spawn(poll_for(hw, path, job.clone(), poll_get.clone()));
        // A random phase against the poller's ticks, as a webhook's
        // arrival has.
        tokio::time::sleep(POLL_EVERY.mul_f64(fastrand::f64())).await;
        let (sent, answered) = post_job(&mut sender, hw, &bin.path, &job).await?;
        post.push(answered - sent);
        match poller.await.context("the poller panicked")?? {
            Some(seen) => poll.push(seen.saturating_duration_since(answered)),
            None => poll_missed += 1,
        }
    }
    ensure!(poll_missed < ITERATIONS, "the poller never saw its request");
    let poll_get = std::mem::take(&mut *poll_get.lock().map_err(|_| anyhow::anyhow!("poisoned"))?);
    Ok(WaitPhase {
        post,
        wait,
        wait_early,
        poll,
        poll_get,
        poll_query: if busy { "?limit=1&q=JOB" } else { "?limit=1" },
        poll_missed,
    })
}

/// ITERATIONS runs of `hookwire wait` for a fresh job, its POST sent
/// `lead` after the spawn; the POSTs' round trips go to `post`.
async fn wait_runs(
    hw: SocketAddr,
    bin: &Bin,
    lead: Duration,
    post: &mut Samples,
) -> Result<WaitRuns> {
    let (mut after_post, mut whole, mut failed) = (Samples::default(), Samples::default(), 0usize);
    let mut last_error = String::new();
    for _ in 0..ITERATIONS {
        let job = fresh_job();
        let mut sender = connect(hw).await.context("connecting for the POST")?;
        let spawned = Instant::now();
        let child = hookwire_cli()
            .args(["wait", &bin.capture_url, "--match"])
            .arg(format!("json:/job_id={job}"))
            .args(["--timeout", WAIT_TIMEOUT])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("starting hookwire wait")?;
        let exited = wait_exit(ChildGuard(child));
        if !lead.is_zero() {
            tokio::time::sleep(lead).await;
        }
        let (sent, answered) = post_job(&mut sender, hw, &bin.path, &job).await?;
        let (out, exit_at) = exited.await.context("waiting for hookwire wait")??;
        post.push(answered - sent);
        let stdout = String::from_utf8_lossy(&out.stdout);
        if out.status.success() && stdout.contains(&job) {
            after_post.push(exit_at.saturating_duration_since(answered));
            whole.push(exit_at - spawned);
        } else {
            failed += 1;
            last_error = format!(
                "{}; stderr: {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
    ensure!(
        failed < ITERATIONS,
        "hookwire wait never saw its request; the last run: {last_error}"
    );
    if failed > 0 {
        eprintln!("note: {failed} wait runs failed; the last: {last_error}");
    }
    Ok(WaitRuns {
        after_post,
        whole,
        failed,
    })
}

/// A job id no other run uses.
fn fresh_job() -> String {
    format!("job_{:016x}", fastrand::u64(..))
}

/// A JSON body of BODY_BYTES bytes whose `job_id` is `job`.
fn job_body(job: &str) -> Result<Bytes> {
    let head = format!(r#"{{"job_id":"{job}","status":"completed","output":""#);
    let tail = r#""}"#;
    let pad = "x".repeat(BODY_BYTES.saturating_sub(head.len() + tail.len()));
    let text = format!("{head}{pad}{tail}");
    serde_json::from_str::<serde_json::Value>(&text).context("the job body is not JSON")?;
    Ok(Bytes::from(text))
}

/// POSTs the job's request on `sender`; when it was sent and answered.
async fn post_job(
    sender: &mut SendRequest<Body>,
    hw: SocketAddr,
    path: &str,
    job: &str,
) -> Result<(Instant, Instant)> {
    let req = common::json_request(hw, Method::POST, path, job_body(job)?)?;
    let sent = Instant::now();
    let status = tokio::time::timeout(TIMEOUT, async {
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        resp.into_body().collect().await?;
        anyhow::Ok(status)
    })
    .await
    .context("the matching POST timed out")??;
    let answered = Instant::now();
    ensure!(status.is_success(), "the matching POST: {status}");
    Ok((sent, answered))
}

/// Asks `path` every POLL_EVERY (each on a fresh connection, as `curl`
/// in a loop does) until an answer holds `job`; when that answer came.
/// None after `WAIT_TIMEOUT`'s worth of polls.
async fn poll_for(
    hw: SocketAddr,
    path: String,
    job: String,
    gets: Arc<Mutex<Samples>>,
) -> Result<Option<Instant>> {
    let mut ticker = tokio::time::interval(POLL_EVERY);
    ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(10) {
        ticker.tick().await;
        let asked = Instant::now();
        let (status, body) = tokio::time::timeout(TIMEOUT, request(hw, Method::GET, &path))
            .await
            .context("a poll timed out")??;
        let answered = Instant::now();
        ensure!(status == StatusCode::OK, "GET {path}: {status}");
        if let Ok(mut g) = gets.lock() {
            g.push(answered - asked);
        }
        if memchr::memmem::find(&body, job.as_bytes()).is_some() {
            return Ok(Some(answered));
        }
    }
    Ok(None)
}

/// Waits for `child` on a blocking thread, reading its output; the output
/// and when the exit was seen.
fn wait_exit(mut guard: ChildGuard) -> tokio::task::JoinHandle<Result<(Output, Instant)>> {
    tokio::task::spawn_blocking(move || {
        let (stdout, stderr) = (guard.0.stdout.take(), guard.0.stderr.take());
        let err_reader = std::thread::spawn(move || read_all(stderr));
        let out = read_all(stdout);
        let status = guard.0.wait().context("waiting for the child")?;
        let at = Instant::now();
        let err = err_reader.join().unwrap_or_default();
        Ok((
            Output {
                status,
                stdout: out,
                stderr: err,
            },
            at,
        ))
    })
}

fn read_all(pipe: Option<impl Read>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_end(&mut buf);
    }
    buf
}

/// Non-matching captures paced at BACKGROUND_RATE until stopped.
struct Background {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<Result<Driven>>,
}

impl Background {
    fn start(hw: SocketAddr, path: Arc<str>) -> Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(drive(
            hw,
            path,
            json_body()?,
            BACKGROUND_CONNECTIONS,
            Some(BACKGROUND_RATE),
            Until::Flag(stop.clone()),
        ));
        Ok(Self { stop, task })
    }

    async fn stop(self) -> Result<Driven> {
        self.stop.store(true, Ordering::Relaxed);
        let driven = self.task.await.context("the background load panicked")??;
        driven.check("the background load")?;
        Ok(driven)
    }
}

// ---------------------------------------------------------------------------
// Phase 2: tail
// ---------------------------------------------------------------------------

/// What one tail run saw.
struct TailRun {
    load: Driven,
    /// Lines tail printed.
    lines: u64,
    /// Bytes tail printed.
    bytes: u64,
    /// From the load's start to tail's last line.
    printing: Duration,
    /// From the last capture's answer to tail's last line (negative: tail
    /// printed its last line before the load's last answer arrived).
    lag_ms: f64,
    /// tail's CPU time (user + system).
    cpu: Option<f64>,
    /// The server's CPU time per capture while tail ran, microseconds.
    server_us: Option<f64>,
}

/// The same load with nothing tailing.
struct Baseline {
    load: Driven,
    /// The server's CPU time per capture, microseconds.
    server_us: Option<f64>,
}

/// CPU microseconds per capture between two readings.
fn per_capture_us(before: Option<f64>, after: Option<f64>, captures: u64) -> Option<f64> {
    Some((after? - before?) * 1e6 / captures.max(1) as f64)
}

fn us(v: Option<f64>) -> String {
    v.map_or("n/a".to_owned(), |v| format!("{v:.0} µs"))
}

impl TailRun {
    fn print(&self, what: &str, baseline: &Baseline) {
        let bare = &baseline.load;
        let lines_rate = self.lines as f64 / self.printing.as_secs_f64();
        println!(
            "{:<25}:  {:6.0} captures/s ({:.2} of nothing tailing, errors: {}), {:6.0} lines/s printed \
             ({:.1} MB/s)",
            what,
            self.load.rate(),
            self.load.rate() / bare.rate(),
            self.load.errors,
            lines_rate,
            self.bytes as f64 / self.printing.as_secs_f64() / 1e6,
        );
        let missing = self.load.ok.saturating_sub(self.lines);
        println!(
            "  lines/captures          :  {:.2} (rates); {} of {} printed{}; last line {:.0} ms after \
             the last capture's answer; tail CPU {}",
            lines_rate / self.load.rate(),
            self.lines,
            self.load.ok,
            if missing > 0 {
                format!(" ({missing} MISSING)")
            } else {
                String::new()
            },
            self.lag_ms,
            self.cpu.map_or("n/a".to_owned(), |c| format!(
                "{c:.2} s ({:.0}% of a core, {:.0} µs a line)",
                100.0 * c / self.printing.as_secs_f64(),
                c * 1e6 / self.lines.max(1) as f64
            )),
        );
        println!(
            "  server CPU per capture  :  {} ({} with nothing tailing)",
            us(self.server_us),
            us(baseline.server_us)
        );
    }
}

/// `hookwire tail` (with `--json` or not) while the bin takes a closed
/// loop of captures for `measure`.
async fn tail_phase(
    hw: SocketAddr,
    server: u32,
    bin: &Bin,
    measure: Duration,
    json: bool,
) -> Result<TailRun> {
    // tail counts from its process's start less up to 30 ms (the clock's
    // 10 ms tick and 20 ms of slack): a quiet gap keeps the previous
    // phase's captures out of the count.
    tokio::time::sleep(TAIL_GAP).await;
    let mut cmd = hookwire_cli();
    cmd.args(["tail", &bin.capture_url]);
    if json {
        cmd.arg("--json");
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting hookwire tail")?;
    let stdout = child.stdout.take().context("tail stdout")?;
    let stderr = child.stderr.take().context("tail stderr")?;
    let mut guard = ChildGuard(child);
    let base = Instant::now();
    let counter = Arc::new(Counter::default());
    let c = counter.clone();
    std::thread::spawn(move || c.count(stdout, base));
    let said = Arc::new(Mutex::new(Vec::new()));
    let (ready_tx, ready_rx) = tokio::sync::oneshot::channel();
    let keep = said.clone();
    std::thread::spawn(move || {
        let mut ready = Some(ready_tx);
        for line in BufReader::new(stderr).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).into_owned();
            if line.starts_with("tailing bin")
                && let Some(tx) = ready.take()
            {
                let _ = tx.send(());
            }
            if let Ok(mut l) = keep.lock() {
                l.push(line);
            }
        }
    });
    let stderr_text = || said.lock().map(|l| l.join("\n")).unwrap_or_default();
    // Subscribed and positioned: everything from here on is printed.
    if tokio::time::timeout(STARTUP_TIMEOUT, ready_rx)
        .await
        .is_err()
    {
        bail!(
            "hookwire tail did not start ({:?}); its stderr:\n{}",
            guard.0.try_wait(),
            stderr_text()
        );
    }
    let cpu_before = cpu_secs(server);
    let load = drive(
        hw,
        bin.path.clone(),
        json_body()?,
        CONNECTIONS,
        None,
        Until::time(measure),
    )
    .await?;
    load.check("capturing while tail runs")?;
    // Until tail has printed every capture, or stops printing.
    let started = Instant::now();
    loop {
        let (lines, last) = (counter.lines(), counter.last(base));
        if lines >= load.ok
            || last.is_some_and(|l| l.elapsed() > TAIL_QUIET && started.elapsed() > TAIL_QUIET)
            || started.elapsed() > TAIL_LIMIT
        {
            break;
        }
        if last.is_none() && started.elapsed() > TAIL_QUIET {
            bail!(
                "hookwire tail printed nothing; its stderr:\n{}",
                stderr_text()
            );
        }
        if let Some(status) = guard.0.try_wait().context("checking tail")? {
            bail!(
                "hookwire tail exited ({status}); its stderr:\n{}",
                stderr_text()
            );
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cpu = cpu_secs(guard.0.id());
    let server_us = per_capture_us(cpu_before, cpu_secs(server), load.ok);
    drop(guard);
    let last = counter.last(base).context("tail printed nothing")?;
    let last_answer = load.last_answer.context("no capture answered")?;
    let lag_ms = if last >= last_answer {
        (last - last_answer).as_secs_f64() * 1e3
    } else {
        -(last_answer - last).as_secs_f64() * 1e3
    };
    Ok(TailRun {
        lines: counter.lines(),
        bytes: counter.bytes.load(Ordering::Relaxed),
        printing: last.saturating_duration_since(load.started),
        lag_ms,
        cpu,
        server_us,
        load,
    })
}

/// Lines read from a pipe, and when the last one came.
#[derive(Default)]
struct Counter {
    lines: AtomicU64,
    bytes: AtomicU64,
    /// Nanoseconds from the base instant to the last line, plus one (0:
    /// none yet).
    last_ns: AtomicU64,
}

impl Counter {
    fn count(&self, pipe: impl Read, base: Instant) {
        let mut reader = BufReader::with_capacity(1 << 16, pipe);
        loop {
            let (n, lines) = match reader.fill_buf() {
                Ok([]) | Err(_) => break,
                Ok(buf) => (buf.len(), memchr::memchr_iter(b'\n', buf).count()),
            };
            reader.consume(n);
            self.bytes.fetch_add(n as u64, Ordering::Relaxed);
            if lines > 0 {
                let ns = u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX - 1);
                self.last_ns.store(ns + 1, Ordering::Relaxed);
                self.lines.fetch_add(lines as u64, Ordering::Relaxed);
            }
        }
    }

    fn lines(&self) -> u64 {
        self.lines.load(Ordering::Relaxed)
    }

    fn last(&self, base: Instant) -> Option<Instant> {
        match self.last_ns.load(Ordering::Relaxed) {
            0 => None,
            ns => Some(base + Duration::from_nanos(ns - 1)),
        }
    }
}

/// User plus system CPU seconds of `pid` so far; None without /proc.
fn cpu_secs(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // After the command name: state is field 3, utime 14, stime 15.
    let mut fields = stat.get(stat.rfind(')')? + 2..)?.split(' ');
    let utime: f64 = fields.nth(11)?.parse().ok()?;
    let stime: f64 = fields.next()?.parse().ok()?;
    // USER_HZ is 100 on Linux.
    Some((utime + stime) / 100.0)
}

// ---------------------------------------------------------------------------
// Phase 3: send
// ---------------------------------------------------------------------------

struct SendPhase {
    send: Samples,
    /// None when curl is not installed.
    curl: Option<Samples>,
    /// The `--duplicate` run: attempts, wall time, the attempts' own times
    /// as send printed them.
    dup_attempts: usize,
    dup_wall: Duration,
    dup_attempt_ms: Samples,
    /// Failed runs (not exit 0).
    send_failed: usize,
}

impl SendPhase {
    fn print(&self) {
        println!(
            "send, one attempt        :  {}{}   (whole process)",
            self.send.line(),
            missed(self.send_failed)
        );
        match &self.curl {
            Some(curl) => {
                println!("curl, same body          :  {}", curl.line());
                println!(
                    "ratio send/curl          :  p50 {:.2}",
                    self.send.p(0.50) / curl.p(0.50)
                );
            }
            None => println!("curl                     :  n/a (curl is not installed)"),
        }
        let expected = DUPLICATES as usize + 1;
        println!(
            "send --duplicate {DUPLICATES}     :  {:6.0} attempts/s  ({} attempts{} in {:.0} ms; \
             each as send printed it, to 0.1 ms: {})",
            self.dup_attempts as f64 / self.dup_wall.as_secs_f64(),
            self.dup_attempts,
            if self.dup_attempts == expected {
                String::new()
            } else {
                format!(", {expected} EXPECTED")
            },
            self.dup_wall.as_secs_f64() * 1e3,
            self.dup_attempt_ms.short()
        );
    }
}

async fn send_phase(dir: &std::path::Path) -> Result<SendPhase> {
    let (_app, app) = common::start_self_as(APP_ARG).await?;
    let url = format!("http://{app}/webhooks/stripe");
    let send_args = [
        "send",
        "--as",
        "stripe",
        "--secret",
        "whsec_x",
        "--retries",
        "none",
        "--to",
        &url,
    ];
    // Once with --json, for the body curl sends (and to warm the caches).
    let out = timed(hookwire_cli().args(send_args).arg("--json")).await?.0;
    ensure!(
        out.status.success(),
        "hookwire send failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).context("send --json did not print JSON")?;
    let body = report["request"]["body"]
        .as_str()
        .context("send --json: no request.body")?;
    let body_file = dir.join("stripe.json");
    std::fs::write(&body_file, body).context("writing the body for curl")?;

    let (mut send, mut send_failed) = (Samples::default(), 0usize);
    for _ in 0..ITERATIONS {
        let (out, took) = timed(hookwire_cli().args(send_args)).await?;
        if out.status.success() {
            send.push(took);
        } else {
            send_failed += 1;
        }
    }
    ensure!(send_failed < ITERATIONS, "every hookwire send failed");

    let data = format!("@{}", body_file.display());
    let curl_args = [
        "-s",
        "-o",
        "/dev/null",
        "-X",
        "POST",
        "-H",
        "content-type: application/json",
        "--data-binary",
        &data,
        &url,
    ];
    let curl = match timed(Command::new("curl").args(curl_args)).await {
        Ok((out, _)) if out.status.success() => {
            let mut curl = Samples::default();
            for _ in 0..ITERATIONS {
                let (out, took) = timed(Command::new("curl").args(curl_args)).await?;
                if out.status.success() {
                    curl.push(took);
                }
            }
            Some(curl)
        }
        Ok((out, _)) => {
            println!("note: no curl baseline: curl exited {}", out.status);
            None
        }
        Err(e) => {
            println!("note: no curl baseline: {e:#}");
            None
        }
    };

    let dup = DUPLICATES.to_string();
    let (out, dup_wall) = timed(hookwire_cli().args(send_args).args(["--duplicate", &dup])).await?;
    ensure!(
        out.status.success(),
        "hookwire send --duplicate failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let mut dup_attempt_ms = Samples::default();
    let mut dup_attempts = 0;
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        // `[duplicate N: ]attempt 1 -> 200 0.3 ms`
        if let Some((_, rest)) = line.split_once("attempt ")
            && let Some((_, result)) = rest.split_once(" -> ")
        {
            dup_attempts += 1;
            if let Some(ms) = result
                .strip_suffix(" ms")
                .and_then(|r| r.rsplit(' ').next())
                .and_then(|m| m.parse::<f64>().ok())
            {
                dup_attempt_ms.push(Duration::from_secs_f64(ms / 1e3));
            }
        }
    }
    Ok(SendPhase {
        send,
        curl,
        dup_attempts,
        dup_wall,
        dup_attempt_ms,
        send_failed,
    })
}

/// Runs `cmd` to its end, its output piped; the output and how long the
/// whole process took.
async fn timed(cmd: &mut Command) -> Result<(Output, Duration)> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let started = Instant::now();
    let child: Child = cmd
        .spawn()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    let (out, at) = wait_exit(ChildGuard(child))
        .await
        .context("waiting for a child")??;
    Ok((out, at - started))
}

// ---------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------

/// `hookwire` with no `HOOKWIRE_*` variable of the caller's environment
/// (the commands read several: server, token, CA, secret, log).
fn hookwire_cli() -> Command {
    let mut cmd = common::hookwire_command();
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("HOOKWIRE_") {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// Durations of repeated runs.
#[derive(Default)]
struct Samples(Vec<Duration>);

impl Samples {
    fn push(&mut self, d: Duration) {
        self.0.push(d);
    }

    /// The `q` quantile in milliseconds (NaN when empty).
    fn p(&self, q: f64) -> f64 {
        let mut v = self.0.clone();
        v.sort_unstable();
        let n = v.len();
        let i = ((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        v.get(i).map_or(f64::NAN, |d| d.as_secs_f64() * 1e3)
    }

    fn line(&self) -> String {
        format!(
            "p50 {:7.2} ms  p99 {:7.2} ms  (n={})",
            self.p(0.50),
            self.p(0.99),
            self.0.len()
        )
    }

    fn short(&self) -> String {
        format!("p50 {:.2} ms, p99 {:.2} ms", self.p(0.50), self.p(0.99))
    }
}

/// A minted bin.
struct Bin {
    id: String,
    capture_url: String,
    /// The capture URL's path.
    path: Arc<str>,
}

async fn mint_bin(addr: SocketAddr) -> Result<Bin> {
    let (status, body) = request(addr, Method::POST, "/api/bins").await?;
    ensure!(status == StatusCode::CREATED, "POST /api/bins: {status}");
    let json: serde_json::Value = serde_json::from_slice(&body).context("POST /api/bins JSON")?;
    let id = json["id"].as_str().context("no id")?.to_owned();
    let capture_url = json["capture_url"].as_str().context("no capture_url")?;
    let uri: hyper::Uri = capture_url.parse().context("capture_url is not a URI")?;
    Ok(Bin {
        id,
        capture_url: capture_url.to_owned(),
        path: uri.path().into(),
    })
}

/// When a load run stops.
#[derive(Clone)]
enum Until {
    /// After this many requests in all, counted through the shared counter.
    Count(u64, Arc<AtomicU64>),
    /// After this long.
    Time(Duration),
    /// When the flag is set.
    Flag(Arc<AtomicBool>),
}

impl Until {
    fn count(n: u64) -> Self {
        Self::Count(n, Arc::new(AtomicU64::new(0)))
    }

    fn time(d: Duration) -> Self {
        Self::Time(d)
    }
}

/// What a load run saw (every request counts: no warm-up).
struct Driven {
    ok: u64,
    errors: u64,
    started: Instant,
    elapsed: Duration,
    /// When the last successful answer came.
    last_answer: Option<Instant>,
}

impl Driven {
    fn rate(&self) -> f64 {
        self.ok as f64 / self.elapsed.as_secs_f64()
    }

    fn check(&self, what: &str) -> Result<()> {
        ensure!(
            self.ok > 0 && self.errors <= self.ok,
            "{what}: most requests failed ({} ok, {} errors)",
            self.ok,
            self.errors
        );
        Ok(())
    }
}

/// Drives `connections` keep-alive connections POSTing `body` to `path`,
/// back to back or (with `rate`, all connections together) paced, until
/// `until`.
async fn drive(
    addr: SocketAddr,
    path: Arc<str>,
    body: Bytes,
    connections: usize,
    rate: Option<f64>,
    until: Until,
) -> Result<Driven> {
    let started = Instant::now();
    let deadline = match &until {
        Until::Time(d) => Some(started + *d),
        _ => None,
    };
    let period = rate.map(|r| Duration::from_secs_f64(connections as f64 / r.max(1.0)));
    let mut tasks = Vec::with_capacity(connections);
    for i in 0..connections {
        let (path, body, until) = (path.clone(), body.clone(), until.clone());
        let mut ticker = period.map(|p| {
            let start = tokio::time::Instant::now() + p.mul_f64(i as f64 / connections as f64);
            let mut t = tokio::time::interval_at(start, p);
            t.set_missed_tick_behavior(MissedTickBehavior::Delay);
            t
        });
        tasks.push(tokio::spawn(async move {
            let (mut ok, mut errors, mut last) = (0u64, 0u64, None::<Instant>);
            let mut sender: Option<SendRequest<Body>> = None;
            loop {
                if let Some(t) = ticker.as_mut() {
                    t.tick().await;
                }
                let done = match &until {
                    Until::Count(n, sent) => sent.fetch_add(1, Ordering::Relaxed) >= *n,
                    Until::Time(_) => deadline.is_some_and(|d| Instant::now() >= d),
                    Until::Flag(stop) => stop.load(Ordering::Relaxed),
                };
                if done {
                    break;
                }
                let s = match sender.as_mut() {
                    Some(s) => s,
                    None => match tokio::time::timeout(TIMEOUT, connect(addr)).await {
                        Ok(Ok(s)) => sender.insert(s),
                        _ => {
                            errors += 1;
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                let req = common::json_request(addr, Method::POST, &path, body.clone())?;
                let result = tokio::time::timeout(TIMEOUT, async {
                    s.ready().await?;
                    let resp = s.send_request(req).await?;
                    let status = resp.status();
                    // Drained so the connection can carry the next request.
                    resp.into_body().collect().await?;
                    Ok::<_, hyper::Error>(status)
                })
                .await;
                match result {
                    Ok(Ok(status)) if status.is_success() => {
                        ok += 1;
                        last = Some(Instant::now());
                    }
                    Ok(Ok(_)) => errors += 1,
                    _ => {
                        errors += 1;
                        sender = None;
                    }
                }
            }
            Ok::<_, anyhow::Error>((ok, errors, last))
        }));
    }
    let (mut ok, mut errors, mut last_answer) = (0, 0, None);
    for task in tasks {
        let (o, e, l) = task.await.context("a load task panicked")??;
        (ok, errors) = (ok + o, errors + e);
        last_answer = last_answer.max(l);
    }
    Ok(Driven {
        ok,
        errors,
        started,
        elapsed: started.elapsed(),
        last_answer,
    })
}

/// Waits until every stored request is searchable
/// (`hookwire_search_lag_seconds 0` in /metrics); returns how long that
/// took. A build that does not report its lag gets a fixed idle gap.
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
            tokio::time::sleep(Duration::from_secs(5)).await;
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
