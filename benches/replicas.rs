//! Capture on PostgreSQL with 1, 2 and 3 replicas against the SQLite
//! default, each with the default durability and with `--durability
//! fsync`, in the same run. The PostgreSQL cluster is a
//! throwaway one started here (Debian's postgresql, fsync on, as in
//! production), on the same 2-core machine as hookwire and the load.
//!
//! Replicas share one database; the load generator spreads its 64
//! keep-alive connections over them in turn, as a round-robin balancer
//! would. 1 KiB JSON POSTs to one bin.
//!
//! Run: `cargo bench --bench replicas`. `HOOKWIRE_BENCH_SECS=3` shortens
//! each phase (default 10 s). Printed, not asserted.

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, ensure};
use common::load::{CONNECTIONS, Phase, load};
use common::{BODY_BYTES, ChildGuard, json_body, mint_bin, start_hookwire_on};

fn main() -> Result<()> {
    let secs = std::env::var("HOOKWIRE_BENCH_SECS").map_or(Ok(10), |v| v.trim().parse::<u64>());
    let secs = secs.context("HOOKWIRE_BENCH_SECS: whole seconds")?;
    ensure!(secs > 0, "HOOKWIRE_BENCH_SECS must be at least 1");
    tokio::runtime::Runtime::new()
        .context("building the load generator's runtime")?
        .block_on(bench(Duration::from_secs(secs)))
}

/// One configuration: where the data lives, how many replicas, which
/// durability.
struct Setup {
    label: &'static str,
    postgres: bool,
    replicas: usize,
    fsync: bool,
}

const SETUPS: &[Setup] = &[
    Setup {
        label: "SQLite, process",
        postgres: false,
        replicas: 1,
        fsync: false,
    },
    Setup {
        label: "SQLite, fsync",
        postgres: false,
        replicas: 1,
        fsync: true,
    },
    Setup {
        label: "PostgreSQL x1, process",
        postgres: true,
        replicas: 1,
        fsync: false,
    },
    Setup {
        label: "PostgreSQL x1, fsync",
        postgres: true,
        replicas: 1,
        fsync: true,
    },
    Setup {
        label: "PostgreSQL x2, process",
        postgres: true,
        replicas: 2,
        fsync: false,
    },
    Setup {
        label: "PostgreSQL x2, fsync",
        postgres: true,
        replicas: 2,
        fsync: true,
    },
    Setup {
        label: "PostgreSQL x3, process",
        postgres: true,
        replicas: 3,
        fsync: false,
    },
    Setup {
        label: "PostgreSQL x3, fsync",
        postgres: true,
        replicas: 3,
        fsync: true,
    },
];

async fn bench(measure: Duration) -> Result<()> {
    let dir = tempfile::tempdir().context("creating a temporary directory")?;
    let body = json_body()?;
    println!(
        "replica benchmark: {CONNECTIONS} connections, {BODY_BYTES}-byte JSON POSTs, \
         {} s per phase, loopback, PostgreSQL with fsync on",
        measure.as_secs()
    );
    let mut results: Vec<(&str, Phase)> = Vec::new();
    for (i, setup) in SETUPS.iter().enumerate() {
        let run_dir = dir.path().join(format!("run{i}"));
        std::fs::create_dir(&run_dir).context("creating a run directory")?;
        let db = if setup.postgres {
            tokio::task::spawn_blocking(common::pg::durable_database)
                .await
                .context("creating a PostgreSQL database")?
        } else {
            run_dir.join("bench.db").to_string_lossy().into_owned()
        };
        let flags: &[&str] = if setup.fsync {
            &["--durability", "fsync"]
        } else {
            &[]
        };
        let (guards, addrs) = start_replicas(&run_dir, &db, setup.replicas, flags).await?;
        let path = mint_bin(addrs[0]).await?;
        let phase = load(
            addrs,
            common::json_request,
            path,
            body.clone(),
            measure,
            None,
        )
        .await?;
        phase.check(setup.label)?;
        drop(guards);
        results.push((setup.label, phase));
    }
    let base = results[0].1.rate();
    for (label, phase) in &results {
        println!(
            "{label:<24}: {}  ratio to SQLite: {:.2}",
            phase.line(),
            phase.rate() / base
        );
    }
    Ok(())
}

async fn start_replicas(
    dir: &Path,
    db: &str,
    n: usize,
    flags: &[&str],
) -> Result<(Vec<ChildGuard>, Vec<SocketAddr>)> {
    let (mut guards, mut addrs) = (Vec::new(), Vec::new());
    for r in 0..n {
        let replica_dir = dir.join(format!("replica{r}"));
        std::fs::create_dir(&replica_dir).context("creating a replica directory")?;
        let (guard, addr) = start_hookwire_on(&replica_dir, db, flags).await?;
        guards.push(guard);
        addrs.push(addr);
    }
    Ok((guards, addrs))
}
