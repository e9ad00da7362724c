//! HTTPS by itself against a real ACME server: Debian's Pebble (Let's
//! Encrypt's test CA) with pebble-challtestsrv answering its DNS. The whole
//! flow as a user runs it — `hookwire serve --acme-domain …` starts without
//! a certificate, Pebble validates TLS-ALPN-01 on the listening port and
//! issues one, an HTTPS capture goes over HTTP/2 through ALPN — then a
//! restart with the same cache serves the certificate at once, with Pebble
//! gone. Also the flag combinations `serve` refuses.

use crate::common;
use crate::http2::{Curled, curl};

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use common::proc::Proc;
use common::tunnel::{eventually, eventually_within};
use common::{Daemon, free_port};

/// The name Pebble issues for; challtestsrv resolves every name to 127.0.0.1.
const DOMAIN: &str = "hooks.acme.test";

/// An order takes well under a second here; this bounds a loaded machine.
const ORDER_LIMIT: Duration = Duration::from_secs(60);

/// A program of Debian's pebble package, its output in `log`, or a
/// failure saying how to get it.
fn pebble_program(name: &str, log: &Path) -> Command {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "{name} is missing: install Debian's pebble package (scripts/test does)"
    );
    let log = std::fs::File::create(log).expect("log file");
    let mut cmd = Command::new(name);
    cmd.stdout(log.try_clone().expect("log")).stderr(log);
    cmd
}

/// A CA and a certificate for 127.0.0.1 signed by it, for Pebble's own
/// HTTPS API (the Debian package ships no test certificates); the CA is
/// what `--acme-ca-cert` trusts.
fn pebble_certificates(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let ca_key = rcgen::KeyPair::generate().expect("CA key");
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("CA params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    // Names of their own: a leaf named like its issuer looks self-signed
    // to OpenSSL (curl), which then refuses it.
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "hookwire test CA for Pebble");
    let ca_cert = ca.self_signed(&ca_key).expect("CA");
    let issuer = rcgen::Issuer::new(ca, ca_key);
    let key = rcgen::KeyPair::generate().expect("key");
    let mut params =
        rcgen::CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).expect("p");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "pebble");
    let cert = params.signed_by(&key, &issuer).expect("leaf");
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("write CA");
    std::fs::write(&paths.1, cert.pem()).expect("write cert");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write key");
    paths
}

/// Pebble and its DNS, validating TLS-ALPN-01 on `tls_port` of whatever
/// address the DNS answers for every name; killed on drop.
struct Pebble {
    _dns: Daemon,
    _ca: Daemon,
    ca_cert: PathBuf,
    directory: String,
    management: String,
}

impl Pebble {
    async fn start(dir: &Path, answer: &str, tls_port: u16) -> Self {
        let (ca_cert, cert, key) = pebble_certificates(dir);
        let dns_port = free_port();
        let dns = pebble_program("pebble-challtestsrv", &dir.join("dns.log"))
            .args(["-defaultIPv4", answer, "-defaultIPv6", ""])
            .args(["-dns01", &format!("127.0.0.1:{dns_port}")])
            .args(["-http01", "", "-https01", "", "-tlsalpn01", ""])
            .args(["-management", &format!("127.0.0.1:{}", free_port())])
            .spawn()
            .expect("start pebble-challtestsrv");
        let (api, management) = (free_port(), free_port());
        let config = serde_json::json!({"pebble": {
            "listenAddress": format!("127.0.0.1:{api}"),
            "managementListenAddress": format!("127.0.0.1:{management}"),
            "certificate": cert,
            "privateKey": key,
            "httpPort": free_port(),
            "tlsPort": tls_port,
            "ocspResponderURL": "",
            "externalAccountBindingRequired": false,
        }});
        let config_path = dir.join("pebble.json");
        std::fs::write(&config_path, config.to_string()).expect("write config");
        let ca = pebble_program("pebble", &dir.join("pebble.log"))
            .arg("-config")
            .arg(&config_path)
            .args(["-dnsserver", &format!("127.0.0.1:{dns_port}")])
            // No random pauses before validating, no nonces refused on
            // purpose: the test is about hookwire, not retries.
            .env("PEBBLE_VA_NOSLEEP", "1")
            .env("PEBBLE_WFE_NONCEREJECT", "0")
            .spawn()
            .expect("start pebble");
        let pebble = Self {
            _dns: Daemon(dns),
            _ca: Daemon(ca),
            directory: format!("https://127.0.0.1:{api}/dir"),
            management: format!("https://127.0.0.1:{management}"),
            ca_cert,
        };
        let cacert = pebble.ca_cert.display().to_string();
        let directory = pebble.directory.clone();
        eventually("Pebble's directory", || {
            let args = vec!["--cacert".into(), cacert.clone(), directory.clone()];
            async move { (curl(args, None).await.status == 200).then_some(()) }
        })
        .await;
        pebble
    }

    /// Pebble's issuing root (it makes a new one at each start), as PEM.
    async fn root(&self, dir: &Path) -> PathBuf {
        let cacert = self.ca_cert.display().to_string();
        let got = curl(
            vec![
                "--cacert".into(),
                cacert,
                format!("{}/roots/0", self.management),
            ],
            None,
        )
        .await;
        assert_eq!(got.status, 200, "{}", got.stderr);
        let path = dir.join("pebble-root.pem");
        std::fs::write(&path, &got.body).expect("write root");
        path
    }
}

/// curl over HTTPS to DOMAIN on `port` (resolved to 127.0.0.1), trusting
/// only `root`, offering HTTP/2 through ALPN.
async fn https(root: &Path, port: u16, args: &[&str]) -> Curled {
    let mut all = vec![
        "--http2".to_owned(),
        "--cacert".into(),
        root.display().to_string(),
        "--resolve".into(),
        format!("{DOMAIN}:{port}:127.0.0.1"),
    ];
    all.extend(args.iter().map(|a| (*a).to_owned()));
    curl(all, None).await
}

/// `hookwire serve` on `port` with ACME from `directory`.
async fn serve(port: u16, db: &str, directory: &str, ca: &Path, cache: &Path) -> Proc {
    let listen = format!("127.0.0.1:{port}");
    let (ca, cache) = (ca.display().to_string(), cache.display().to_string());
    let p = Proc::start(&[
        "serve",
        "--listen",
        &listen,
        "--db",
        db,
        "--acme-domain",
        DOMAIN,
        "--acme-email",
        "ops@example.com",
        "--acme-directory",
        directory,
        "--acme-ca-cert",
        &ca,
        "--acme-cache",
        &cache,
    ]);
    p.stderr_line("is listening on").await;
    p
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_from_pebble_serves_https_with_h2_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    let pebble = Pebble::start(dir.path(), "127.0.0.1", port).await;
    let db = if common::pg::wanted() {
        common::pg::database()
    } else {
        dir.path().join("h.db").display().to_string()
    };
    let cache = dir.path().join("acme-cache");
    let mut server = serve(port, &db, &pebble.directory, &pebble.ca_cert, &cache).await;
    // The server starts before it has a certificate, and says what it waits
    // for; the URL it offers is the certificate's name.
    server
        .stderr_line(&format!("no certificate for {DOMAIN} yet"))
        .await;
    server
        .stderr_line(&format!("open https://{DOMAIN}:{port}/"))
        .await;

    // Issued by Pebble for DOMAIN: curl trusts only Pebble's root and
    // checks the name.
    let root = pebble.root(dir.path()).await;
    let (root_ref, server_ref, logs) = (&root, &server, dir.path());
    eventually_within("a certificate from Pebble", ORDER_LIMIT, || async move {
        // A failed order is reported at once, with both sides' words.
        let said = server_ref.stderr();
        if said.iter().any(|l| l.contains("could not obtain")) {
            let pebble_log = std::fs::read_to_string(logs.join("pebble.log")).unwrap_or_default();
            panic!("the order failed: {said:#?}\nPebble: {pebble_log}");
        }
        let got = https(
            root_ref,
            port,
            &[&format!("https://{DOMAIN}:{port}/healthz")],
        )
        .await;
        (got.status == 200).then_some(())
    })
    .await;
    server.stderr_line("obtained a certificate for").await;

    // A capture over HTTPS, HTTP/2 negotiated through ALPN, stored.
    let base = format!("https://{DOMAIN}:{port}");
    let minted = https(&root, port, &["-X", "POST", &format!("{base}/api/bins")]).await;
    assert_eq!((minted.version.as_str(), minted.status), ("2", 201));
    let v: serde_json::Value = serde_json::from_slice(&minted.body).expect("json");
    let bin = v["id"].as_str().expect("id").to_owned();
    let url = format!("{base}/{bin}/acme");
    let captured = https(&root, port, &["--data-binary", "over h2", &url]).await;
    assert_eq!(
        (captured.version.as_str(), captured.status),
        ("2", 200),
        "{}",
        captured.stderr
    );
    let id = captured.request_id();
    let listed = https(&root, port, &[&format!("{base}/api/bins/{bin}/requests")]).await;
    let v: serde_json::Value = serde_json::from_slice(&listed.body).expect("json");
    let stored = &v["requests"][0];
    assert_eq!(
        (stored["id"].as_i64(), stored["path"].as_str()),
        (Some(id), Some("/acme"))
    );
    assert_eq!(stored["body_text"], "over h2");

    // Plain HTTP to the HTTPS port is still answered in words.
    let plain = curl(vec![format!("http://127.0.0.1:{port}/x")], None).await;
    assert_eq!(plain.status, 400);
    assert!(
        String::from_utf8_lossy(&plain.body).contains("This port speaks HTTPS"),
        "{}",
        String::from_utf8_lossy(&plain.body)
    );

    // Restarted with the same cache and Pebble gone: the cached certificate
    // is served from the first handshake, nothing is ordered.
    server.stop_with("TERM").await;
    let kept = std::fs::read_dir(&cache).expect("cache").count();
    assert_eq!(kept, 2, "the account and the certificate are kept");
    let directory = pebble.directory.clone();
    drop(pebble);
    let mut again = serve(port, &db, &directory, &root, &cache).await;
    let got = https(
        &root,
        port,
        &[&format!("{base}/api/bins/{bin}/requests/{id}")],
    )
    .await;
    assert_eq!(
        (got.version.as_str(), got.status),
        ("2", 200),
        "{}",
        got.stderr
    );
    again.stderr_line("renewing it at").await;
    let done = again.stop_with("TERM").await;
    let log = done.stderr_text();
    assert!(!log.contains("no certificate"), "{log}");
    assert!(!log.contains("could not obtain"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_validation_is_logged_with_what_to_check() {
    let dir = tempfile::tempdir().expect("dir");
    let port = free_port();
    // The name resolves to 127.0.0.2, where nothing listens: as when DNS
    // points elsewhere or port 443 does not reach the server.
    let pebble = Pebble::start(dir.path(), "127.0.0.2", port).await;
    let db = dir.path().join("h.db").display().to_string();
    let cache = dir.path().join("acme-cache");
    let mut server = serve(port, &db, &pebble.directory, &pebble.ca_cert, &cache).await;
    let line = eventually_within("the failure logged", ORDER_LIMIT, || {
        let found = (server.stderr().into_iter()).find(|l| l.contains("could not obtain"));
        async move { found }
    })
    .await;
    for says in [
        &format!("the CA could not validate {DOMAIN} with TLS-ALPN-01") as &str,
        "127.0.0.2",
        "resolves (DNS A/AAAA) to this machine",
        "port 443 there reaches",
        "Trying again in 2m",
    ] {
        assert!(line.contains(says), "says {says:?}: {line}");
    }
    // Still serving: plain HTTP is told to use HTTPS.
    let plain = curl(vec![format!("http://127.0.0.1:{port}/")], None).await;
    assert_eq!(plain.status, 400);
    server.stop_with("TERM").await;
}

#[tokio::test]
async fn combinations_that_make_no_sense_are_refused_in_words() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("h.db").display().to_string();
    let cert = common::certs::Cert::new();
    let (c, k) = (
        cert.cert().display().to_string(),
        cert.key().display().to_string(),
    );
    let cases: [(&[&str], &[&str]); 5] = [
        (
            &["--acme-email", "ops@example.com"],
            &["--acme-email", "without --acme-domain"],
        ),
        (
            &[
                "--acme-domain",
                "hooks.example.com",
                "--tls-cert",
                &c,
                "--tls-key",
                &k,
            ],
            &["one or the other"],
        ),
        (&["--acme-domain", "*.example.com"], &["wildcard"]),
        (
            &[
                "--acme-domain",
                "hooks.example.com",
                "--acme-directory",
                "http://ca/dir",
            ],
            &["https://"],
        ),
        (
            &[
                "--acme-domain",
                "hooks.example.com",
                "--db",
                "postgres://u@127.0.0.1:1/d",
            ],
            &["--acme-cache"],
        ),
    ];
    for (flags, says) in cases {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        if !flags.contains(&"--db") {
            args.extend(["--db", &db]);
        }
        args.extend_from_slice(flags);
        let done = Proc::start(&args).finish().await;
        assert_eq!(done.code(), Some(1), "{flags:?}: {done:#?}");
        let err = done.stderr_text();
        for s in says {
            assert!(err.contains(s), "{flags:?}: says {s:?}: {err}");
        }
    }
}
