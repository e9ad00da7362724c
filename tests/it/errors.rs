//! Errors in words (SPEC §14): each failure a new user meets names the URL
//! and says what to do — a dead app, a server that is down, a CA
//! certificate used as the server's, https spoken to a plain server, plain
//! HTTP sent to the TLS port, a new tunnel name that skips what the bin
//! holds, a tunnel closed for a reason the log names, a database that
//! cannot be opened. The real binary, real sockets, real certificates.

use crate::common;

use common::TestServer;
use common::certs::Cert;
use common::proc::Proc;
use common::tunnel::{LocalApp, eventually, wait_tunnels};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// A port nothing listens on (bound, then closed).
fn dead_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

/// A bin with one captured request; its id and the request's.
async fn bin_with_request(s: &TestServer) -> (String, i64) {
    let bin = s.new_bin().await;
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hook")))
        .body("x")
        .send()
        .await
        .expect("capture");
    (bin, common::request_id(&res))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_app_is_named_with_the_fix() {
    let s = TestServer::spawn().await;
    let (bin, id) = bin_with_request(&s).await;
    let port = dead_port();
    let app = format!("http://localhost:{port}");
    let fix = format!(
        "nothing is listening on {app} (connection refused): start your app, or check --to"
    );
    // resend: its result line.
    let mut p = Proc::start(&[
        "resend",
        &s.url(&format!("/bins/{bin}?r={id}")),
        "--to",
        &port.to_string(),
    ]);
    let done = p.finish().await;
    assert_eq!(done.code(), Some(1), "not delivered: {done:#?}");
    assert!(
        done.stdout.join("\n").contains(&format!(
            "nothing is listening on {app}/hook (connection refused): start your app, or check --to"
        )),
        "{done:#?}"
    );
    // tunnel: its retry line, for every delivery it cannot make.
    let t = Proc::start(&[
        "tunnel",
        &s.url(&format!("/{bin}")),
        "--to",
        &port.to_string(),
        "--name",
        "dead-app",
        "--from-start",
    ]);
    let line = t.stderr_line("nothing is listening").await;
    assert!(line.starts_with(&fix), "{line}");
    assert!(line.contains(&format!("retrying request {id}")), "{line}");
    // Killed, not stopped: a stop waits (bounded) for the delivery under
    // way, which keeps retrying the dead app.
    drop(t);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_is_down_is_named_with_the_fix() {
    let server = format!("http://127.0.0.1:{}", dead_port());
    let fix = format!(
        "cannot reach the server at {server}: connection refused — is `hookwire serve` running \
         there? (--server / the URL you gave)"
    );
    let bin = "8d5c2f3e-1b7a-4c2d-9e0f-123456789abc";
    for args in [
        vec!["new".to_owned(), "--server".into(), server.clone()],
        vec!["tail".into(), format!("{server}/{bin}")],
        vec!["wait".into(), format!("{server}/bins/{bin}")],
        vec![
            "resend".into(),
            format!("{server}/api/bins/{bin}/requests/1"),
            "--to".into(),
            "3000".into(),
        ],
    ] {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let done = Proc::start(&args).finish().await;
        assert_ne!(done.code(), Some(0), "{args:?}: {done:#?}");
        assert_eq!(
            done.stderr,
            vec![format!("Error: {fix}")],
            "{args:?}: one line, the URL and the fix"
        );
    }
    // A tunnel keeps trying, saying so in its retry line: by bin id, to
    // connect; by alias, to look the alias up first.
    for (url, retry) in [
        (format!("{server}/{bin}"), "; reconnecting in "),
        (
            format!("{server}/eden-dev"),
            "; looking up eden-dev again in ",
        ),
    ] {
        let mut t = Proc::start(&["tunnel", &url, "--to", "3000"]);
        let line = t.stderr_line(retry).await;
        assert!(line.starts_with(&format!("{fix}{retry}")), "{line}");
        t.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_ca_certificate_used_as_the_servers_is_explained() {
    let cert = Cert::ca_used_as_server();
    let config =
        hookwire::server::tls::server_config(&cert.cert(), &cert.key()).expect("tls config");
    let s = TestServer::spawn_with(|c| c.tls = Some(config)).await;
    let server = format!("https://localhost:{}", s.addr.port());
    let ca = cert.cert();
    let ca = ca.to_str().expect("utf-8 path");
    let done = Proc::start(&["new", "--server", &server, "--ca-cert", ca])
        .finish()
        .await;
    assert_ne!(done.code(), Some(0), "{done:#?}");
    let err = done.stderr_text();
    assert!(
        err.contains(&format!(
            "the server's certificate at {server} is a CA certificate (basicConstraints \
             CA:TRUE), which TLS clients refuse as a server certificate: make a leaf \
             certificate signed by a CA (e.g. mkcert, or openssl with -addext \
             basicConstraints=critical,CA:FALSE) and pass the CA with --ca-cert"
        )),
        "{done:#?}"
    );
    assert!(!err.contains("OtherError"), "{err}");
    // The tunnel says the same in its retry line.
    let bin = "8d5c2f3e-1b7a-4c2d-9e0f-123456789abc";
    let mut t = Proc::start(&[
        "tunnel",
        &format!("{server}/{bin}"),
        "--to",
        "3000",
        "--ca-cert",
        ca,
    ]);
    let line = t.stderr_line("reconnecting in").await;
    assert!(
        line.contains("is a CA certificate (basicConstraints CA:TRUE)"),
        "{line}"
    );
    t.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_to_a_plain_server_says_use_http() {
    let s = TestServer::spawn().await;
    let https = format!("https://127.0.0.1:{}", s.addr.port());
    let done = Proc::start(&["new", "--server", &https]).finish().await;
    assert_ne!(done.code(), Some(0), "{done:#?}");
    assert!(
        done.stderr_text().contains(&format!(
            "the server at {https} answered in plain HTTP: use {}",
            s.base
        )),
        "{done:#?}"
    );
    assert!(
        !done.stderr_text().contains("InvalidContentType"),
        "{done:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plain_http_to_the_tls_port_is_answered_400_in_words() {
    let cert = Cert::new();
    let config =
        hookwire::server::tls::server_config(&cert.cert(), &cert.key()).expect("tls config");
    let s = TestServer::spawn_with(|c| c.tls = Some(config)).await;
    let host = format!("localhost:{}", s.addr.port());
    let mut tcp = tokio::net::TcpStream::connect(s.addr)
        .await
        .expect("connect");
    let request = format!("GET /abc/x?y=1 HTTP/1.1\r\nHost: {host}\r\n\r\n");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut answer = String::new();
    tcp.read_to_string(&mut answer).await.expect("read");
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(
        answer.ends_with(&format!(
            "\r\n\r\nThis port speaks HTTPS: use https://{host}/abc/x?y=1\n"
        )),
        "{answer}"
    );
    // What the command line makes of it.
    let done = Proc::start(&["new", "--server", &format!("http://{host}")])
        .finish()
        .await;
    assert!(
        done.stderr_text().contains(&format!(
            "This port speaks HTTPS: use https://{host}/api/bins"
        )),
        "{done:#?}"
    );
    // TLS still works on the same port.
    let ok = Proc::start(&[
        "new",
        "--server",
        &format!("https://{host}"),
        "--ca-cert",
        cert.cert().to_str().expect("utf-8"),
    ])
    .finish()
    .await;
    assert_eq!(ok.code(), Some(0), "{ok:#?}");
    // A name the certificate does not hold: which names it holds.
    let ip = format!("https://127.0.0.1:{}", s.addr.port());
    let ca = cert.cert();
    let done = Proc::start(&[
        "new",
        "--server",
        &ip,
        "--ca-cert",
        ca.to_str().expect("utf-8"),
    ])
    .finish()
    .await;
    assert!(
        done.stderr_text().contains(&format!(
            "the server's certificate is for localhost but {ip} asks for 127.0.0.1"
        )),
        "{done:#?}"
    );
    // Without --ca-cert, the fix is to pass one.
    let done = Proc::start(&["new", "--server", &format!("https://{host}")])
        .finish()
        .await;
    assert!(
        done.stderr_text().contains(
            "is signed by a CA this machine does not trust: pass that CA's certificate with \
             --ca-cert"
        ),
        "{done:#?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_tunnel_name_says_what_it_skips() {
    let s = TestServer::spawn().await;
    let (bin, _) = bin_with_request(&s).await;
    for _ in 0..2 {
        s.client
            .post(s.url(&format!("/{bin}")))
            .send()
            .await
            .expect("capture");
    }
    let app = LocalApp::start().await;
    let port = app.addr.port().to_string();
    let tunnel = |bin: &str, name: &str, flags: &[&str]| {
        let url = s.url(&format!("/{bin}"));
        let mut args = vec!["tunnel", &url, "--to", &port, "--name", name];
        args.extend_from_slice(flags);
        Proc::start(&args)
    };
    let mut t = tunnel(&bin, "fresh", &[]);
    let line = t.stderr_line("is new").await;
    assert_eq!(
        line,
        "tunnel fresh is new: it will receive requests from now on; the 3 requests already in \
         the bin are skipped — use --from-start to receive them too"
    );
    t.stop().await;
    // The same name again, a new name with --from-start, a name new to an
    // empty bin: nothing is skipped, nothing said.
    let empty = s.new_bin().await;
    for (name, bin, flags) in [
        ("fresh", bin.as_str(), &[][..]),
        ("all", bin.as_str(), &["--from-start"][..]),
        ("e", empty.as_str(), &[][..]),
    ] {
        let mut t = tunnel(bin, name, flags);
        wait_tunnels(&s, bin, &[name]).await;
        let done = t.stop().await;
        assert!(
            done.stderr_text().contains("connected") && !done.stderr_text().contains("is new"),
            "{name}: {done:#?}"
        );
    }
    // --from-start delivered the three.
    app.wait_for(3).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_names_why_each_tunnel_closed() {
    let dir = tempfile::tempdir().expect("dir");
    let db = dir.path().join("x.db");
    let mut serve = Proc::start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().expect("utf-8"),
    ]);
    let listening = serve.stderr_line("hookwire is listening on ").await;
    let addr = listening
        .strip_prefix("hookwire is listening on ")
        .and_then(|l| l.split(';').next())
        .expect("address")
        .to_owned();
    let base = format!("http://{addr}");
    let client = reqwest::Client::new();
    let res = client
        .post(format!("{base}/api/bins"))
        .send()
        .await
        .expect("mint");
    let bin = common::json(res).await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let connected = |want: &'static [&'static str]| {
        let (client, url) = (client.clone(), format!("{base}/api/bins/{bin}"));
        async move {
            eventually(&format!("tunnels {want:?}"), || async {
                let v = common::json(client.get(&url).send().await.expect("get")).await;
                (v["tunnels"] == serde_json::json!(want)).then_some(())
            })
            .await;
        }
    };
    let capture = format!("{base}/{bin}");
    let tunnel = |name: &str| Proc::start(&["tunnel", &capture, "--to", "3000", "--name", name]);
    // Replaced by a tunnel of the same name, then closed by its client.
    let mut first = tunnel("one");
    connected(&["one"]).await;
    let mut second = tunnel("one");
    let took_over = first.finish().await;
    assert!(
        took_over.stderr_text().contains("took over"),
        "{took_over:#?}"
    );
    connected(&["one"]).await;
    second.stop().await;
    connected(&[]).await;
    // Open when the server stops.
    let _third = tunnel("two");
    connected(&["two"]).await;
    let done = serve.stop_with("TERM").await;
    let closed: Vec<&String> = done
        .stderr
        .iter()
        .filter(|l| l.contains("tunnel closed"))
        .collect();
    assert!(closed.len() >= 3, "{:#?}", done.stderr);
    for line in &closed {
        let reason = line.split_once("reason=").map_or("", |(_, r)| r).trim();
        assert!(!reason.is_empty(), "a reason: {line}");
    }
    for reason in [
        "reason=replaced by a newer connection with the same --name",
        "reason=the client closed the connection",
        "reason=server shutting down",
    ] {
        assert!(
            closed.iter().any(|l| l.contains(reason)),
            "{reason}: {closed:#?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_with_a_db_in_a_missing_directory_says_so_once() {
    let dir = tempfile::tempdir().expect("dir");
    let missing = dir.path().join("no-such-dir");
    let db = missing.join("x.db");
    let done = Proc::start(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--db",
        db.to_str().expect("utf-8"),
    ])
    .finish()
    .await;
    assert_eq!(done.code(), Some(1), "{done:#?}");
    assert_eq!(
        done.stderr,
        vec![format!(
            "Error: cannot open the database {}: the directory {} does not exist — create it or \
             pass another --db",
            db.display(),
            missing.display()
        )],
        "one line, no listening line"
    );
}
