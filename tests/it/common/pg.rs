//! A throwaway PostgreSQL cluster for the tests that run against the
//! PostgreSQL store (`HOOKWIRE_TEST_STORE=postgres`): Debian's
//! `postgresql` binaries, `initdb` and `pg_ctl` as the `postgres` user
//! when the tests run as root, a temporary directory, loopback and a free
//! port. One cluster per test binary, one database per test. A watchdog
//! stops the cluster and removes its directory once the test binary exits.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

struct Cluster {
    bin: PathBuf,
    port: u16,
    /// The server's self-signed certificate (it serves TLS too).
    cert: PathBuf,
    /// Runs a PostgreSQL binary as the cluster's owner.
    as_owner: Vec<String>,
}

/// The tests' cluster (`fsync=off`: nothing here survives the test run)
/// and the benchmarks' (`fsync=on`, as a real one).
static CLUSTER: OnceLock<Cluster> = OnceLock::new();
static DURABLE_CLUSTER: OnceLock<Cluster> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

/// True when the tests should use PostgreSQL.
pub fn wanted() -> bool {
    std::env::var("HOOKWIRE_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// A new, empty database in the test binary's cluster; its URL (plain
/// TCP: the cluster's certificate is self-signed).
pub fn database() -> String {
    new_database(CLUSTER.get_or_init(|| start(false)))
}

/// A new, empty database reached over TLS only (`?sslmode=require`), and
/// the certificate to trust for it.
pub fn tls_database() -> (String, PathBuf) {
    let cluster = CLUSTER.get_or_init(|| start(false));
    let url = new_database(cluster).replace("sslmode=disable", "sslmode=require");
    (url, cluster.cert.clone())
}

/// A new, empty database in a cluster that flushes its WAL to the disk,
/// as a production one does (benchmarks).
pub fn durable_database() -> String {
    new_database(DURABLE_CLUSTER.get_or_init(|| start(true)))
}

fn new_database(cluster: &Cluster) -> String {
    let name = format!(
        "t{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    cluster.run(
        "createdb",
        &[
            "-h",
            "127.0.0.1",
            "-p",
            &cluster.port.to_string(),
            "-U",
            "postgres",
            &name,
        ],
    );
    format!(
        "postgres://postgres@127.0.0.1:{}/{name}?sslmode=disable",
        cluster.port
    )
}

impl Cluster {
    fn run(&self, tool: &str, args: &[&str]) {
        let mut cmd = self.command(tool);
        cmd.args(args);
        let out = cmd
            .output()
            .unwrap_or_else(|e| panic!("running {tool}: {e}"));
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn command(&self, tool: &str) -> Command {
        let path = self.bin.join(tool);
        match self.as_owner.split_first() {
            Some((first, rest)) => {
                let mut cmd = Command::new(first);
                cmd.args(rest).arg(path);
                cmd
            }
            None => Command::new(path),
        }
    }
}

/// Debian installs the server binaries under /usr/lib/postgresql/<major>/bin.
fn bin_dir() -> PathBuf {
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .expect(
            "PostgreSQL is not installed (/usr/lib/postgresql is missing): \
             run ./scripts/test, which installs Debian's postgresql",
        )
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|p| p.join("initdb").is_file())
        .collect();
    found.sort();
    found
        .pop()
        .expect("no initdb under /usr/lib/postgresql/*/bin")
}

fn start(fsync: bool) -> Cluster {
    let bin = bin_dir();
    let root = running_as_root();
    let dir = std::env::temp_dir().join(format!(
        "hookwire-pg-{}-{}",
        std::process::id(),
        if fsync { "durable" } else { "test" }
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("cluster dir");
    // initdb refuses to run as root: the cluster belongs to `postgres`.
    let as_owner: Vec<String> = if root {
        let ok = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .expect("chown");
        assert!(ok.success(), "chown postgres {}", dir.display());
        vec![
            "runuser".into(),
            "-u".into(),
            "postgres".into(),
            "--".into(),
        ]
    } else {
        Vec::new()
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    // A self-signed certificate for 127.0.0.1, so the cluster speaks TLS.
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).expect("cert");
    let cert = dir.join("server.crt");
    let key = dir.join("server.key");
    std::fs::write(&cert, ck.cert.pem()).expect("write cert");
    std::fs::write(&key, ck.signing_key.serialize_pem()).expect("write key");
    let ok = Command::new("chmod")
        .arg("600")
        .arg(&key)
        .status()
        .expect("chmod");
    assert!(ok.success());
    if root {
        let ok = Command::new("chown")
            .arg("postgres:postgres")
            .arg(&cert)
            .arg(&key)
            .status()
            .expect("chown");
        assert!(ok.success());
    }
    let cluster = Cluster {
        bin,
        port,
        cert: cert.clone(),
        as_owner,
    };
    let data = dir.join("data");
    let data = data.to_str().expect("utf-8 path");
    cluster.run(
        "initdb",
        &[
            "-D",
            data,
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ],
    );
    let options = format!(
        "-p {port} -c listen_addresses=127.0.0.1 -k {} -c fsync={} -c max_connections=400 \
         -c shared_buffers=128MB -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        dir.display(),
        if fsync { "on" } else { "off" },
        cert.display(),
        key.display()
    );
    let log = dir.join("log");
    cluster.run(
        "pg_ctl",
        &[
            "-D",
            data,
            "-o",
            &options,
            "-l",
            log.to_str().expect("utf-8"),
            "-w",
            "start",
        ],
    );
    // Stops the cluster once this test binary has exited.
    let pg_ctl = cluster.bin.join("pg_ctl");
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
         {owner} {pg_ctl} -D {data} -m immediate stop >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        owner = cluster.as_owner.join(" "),
        pg_ctl = pg_ctl.display(),
        dir = dir.display(),
    );
    #[allow(
        clippy::zombie_processes,
        reason = "the watchdog outlives this process on purpose"
    )]
    let _watchdog = Command::new("sh")
        .args(["-c", &script])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("cluster watchdog");
    cluster
}

/// Whether this process runs as root (its effective uid, from /proc).
fn running_as_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}
