//! The full-screen live view in a real terminal: tmux runs the real
//! `hookwire tunnel` / `tail --ui` against a real server and a real local
//! app; keys go in with `send-keys`, the screen comes back with
//! `capture-pane`, polled until what is expected shows (never a fixed
//! sleep). Each test has its own tmux server (socket), killed on drop.

use crate::common;

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use common::TestServer;
use common::proc::Proc;
use common::tunnel::{LocalApp, wait_all_delivered, wait_tunnels};

/// How long a screen may take to show what is expected (two cores shared
/// by parallel tests and other builds).
const SCREEN_WAIT: Duration = Duration::from_secs(20);

/// A tmux server of its own running one command in a 160x45 (or other)
/// window; the pane stays after the command exits, so its last words and
/// exit status (`EXIT=N`) can be read.
struct Tmux {
    socket: String,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn start(width: u16, height: u16, command: &str) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let socket = dir.path().join("tmux.sock").display().to_string();
        let conf = dir.path().join("tmux.conf");
        // Esc reaches the program at once (tmux waits 500 ms by default
        // to see whether an escape sequence follows).
        std::fs::write(&conf, "set -s escape-time 0\n").expect("write tmux.conf");
        let t = Self { socket, _dir: dir };
        // The shell stays, so the screen after the exit can be read (a
        // dead pane's screen is not kept reliably); kill-server ends it.
        let shell = format!("{command}; echo EXIT=$?; exec sleep 600");
        let out = t.tmux(&[
            "-f",
            &conf.display().to_string(),
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            &shell,
        ]);
        assert!(out.status.success(), "tmux: {out:?}");
        t
    }

    fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .arg("-S")
            .arg(&self.socket)
            .args(args)
            .env_remove("TMUX")
            .output()
            .expect("run tmux (is it installed? scripts/test installs it)")
    }

    /// Sends keys, as tmux names them (`Enter`, `Escape`, `C-u`, `j`…).
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "0"];
        args.extend_from_slice(keys);
        assert!(self.tmux(&args).status.success());
    }

    /// Types text literally.
    fn type_text(&self, text: &str) {
        assert!(
            self.tmux(&["send-keys", "-t", "0", "-l", text])
                .status
                .success()
        );
    }

    fn screen(&self) -> String {
        let out = self.tmux(&["capture-pane", "-p", "-t", "0"]);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Polls the screen until `ok` holds; panics with the screen after
    /// [`SCREEN_WAIT`].
    async fn wait_for(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + SCREEN_WAIT;
        loop {
            let screen = self.screen();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the screen:\n{screen}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn wait_text(&self, text: &str) -> String {
        self.wait_for(&format!("{text:?}"), |s| s.contains(text))
            .await
    }

    fn alternate_on(&self) -> String {
        let out = self.tmux(&["display", "-p", "-t", "0", "#{alternate_on}"]);
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

/// The list's row for a path: the list's part of a screen line (at 160
/// columns the detail pane shares the line, right of `││`).
fn list_line<'a>(screen: &'a str, path: &str) -> Option<&'a str> {
    screen
        .lines()
        .filter_map(|l| l.split("││").next())
        .find(|l| l.contains(path) && l.contains(" #"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tunnel_view_shows_selects_replays_filters_and_quits_with_nothing_lost() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let app = LocalApp::start().await;
    let tmux = Tmux::start(
        160,
        45,
        &format!(
            "{} tunnel {} --to {} --name view --ui on",
            common::binary().display(),
            s.url(&format!("/{bin}")),
            app.url()
        ),
    );
    wait_tunnels(&s, &bin, &["view"]).await;
    tmux.wait_text("connected as view").await;
    assert_eq!(tmux.alternate_on(), "1", "the view is full-screen");

    // Two arrivals: the app answers 201, then 500.
    let res = s
        .client
        .post(s.url(&format!("/{bin}/hooks/stripe")))
        .header("content-type", "application/json")
        .header("x-kind", "paid")
        .body(r#"{"type":"invoice.paid","data":{"amount":1200}}"#)
        .send()
        .await
        .expect("capture");
    let first = common::request_id(&res);
    app.wait_for(1).await;
    tmux.wait_for("the first row answered 201", |s| {
        list_line(s, "/hooks/stripe").is_some_and(|l| l.contains("201") && l.contains(" ms"))
    })
    .await;
    app.shared.answer.lock().expect("lock").status = 500;
    s.client
        .put(s.url(&format!("/{bin}/orders/7")))
        .body("plain \x1b[31mred")
        .send()
        .await
        .expect("capture");
    app.wait_for(2).await;
    let screen = tmux
        .wait_for("the second row answered 500", |s| {
            list_line(s, "/orders/7").is_some_and(|l| l.contains("500"))
        })
        .await;
    // The newest is selected; its body's escape sequence is shown, not obeyed.
    assert!(screen.contains("Request #2"), "{screen}");
    assert!(screen.contains(r"plain \u{1b}[31mred"), "{screen}");

    // Up to the first, Enter: its header and its body, pretty-printed.
    tmux.keys(&["k"]);
    tmux.wait_text(&format!("Request #{first}")).await;
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_text("x-kind: paid").await;
    assert!(screen.contains(r#"    "amount": 1200"#), "{screen}");
    assert!(screen.contains("Answer: 201"), "{screen}");

    // r: replayed through the server to this tunnel; the app sees it again
    // (and now answers 500).
    tmux.keys(&["r"]);
    let seen = app.wait_for(3).await;
    assert_eq!(seen[2].request_id(), first);
    tmux.wait_text("replayed to view").await;
    tmux.wait_for("the replay's row", |s| {
        list_line(s, "/hooks/stripe (replay)").is_some_and(|l| l.contains("500"))
    })
    .await;

    // /: only the matching rows stay.
    tmux.keys(&["/", "C-u"]);
    tmux.type_text("method=PUT");
    tmux.keys(&["Enter"]);
    let screen = tmux.wait_text("filter: method=PUT (1 shown)").await;
    assert!(list_line(&screen, "/orders/7").is_some(), "{screen}");
    assert!(!screen.contains("/hooks/stripe"), "{screen}");
    // A condition that does not parse: the matcher's own message.
    tmux.keys(&["/", "C-u"]);
    tmux.type_text("heder.x=1");
    tmux.keys(&["Enter"]);
    tmux.wait_text(r#"condition "heder.x=1""#).await;
    tmux.keys(&["Escape"]);
    tmux.wait_text("q quit").await;

    // q: the terminal comes back, the exit is clean, nothing is lost.
    tmux.keys(&["q"]);
    let screen = tmux.wait_text("EXIT=").await;
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert!(
        screen.contains("tunnel stopped: 3 delivered (1 ok, 2 errors), 0 not answered"),
        "{screen}"
    );
    assert_eq!(tmux.alternate_on(), "0", "the alternate screen is left");
    wait_all_delivered(&s, &bin, "view").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tail_ui_shows_arrivals_in_a_small_terminal() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let tmux = Tmux::start(
        80,
        24,
        &format!(
            "{} tail {} --ui",
            common::binary().display(),
            s.url(&format!("/{bin}"))
        ),
    );
    tmux.wait_text("following the bin").await;
    s.client
        .post(s.url(&format!("/{bin}/tail/me?x=1")))
        .body(r#"{"hello":"tail"}"#)
        .send()
        .await
        .expect("capture");
    let screen = tmux
        .wait_for("the arrival", |s| {
            list_line(s, "/tail/me?x=1").is_some_and(|l| l.contains("16 B"))
        })
        .await;
    assert!(screen.contains(r#"  "hello": "tail""#), "{screen}");
    tmux.keys(&["q"]);
    let screen = tmux.wait_text("EXIT=").await;
    assert!(screen.contains("EXIT=0"), "{screen}");
    assert_eq!(tmux.alternate_on(), "0");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ui_on_without_a_terminal_says_what_to_do() {
    let s = TestServer::spawn().await;
    let bin = s.new_bin().await;
    let capture = s.url(&format!("/{bin}"));
    for args in [
        vec![
            "tunnel",
            &capture,
            "--to",
            "http://127.0.0.1:9",
            "--ui",
            "on",
        ],
        vec!["tail", &capture, "--ui"],
    ] {
        let done = Proc::start(&args).finish().await;
        assert!(!done.status.success(), "{done:?}");
        let err = done.stderr.join("\n");
        assert!(
            err.contains("needs a terminal") && err.contains("--ui=off"),
            "{err}"
        );
    }
    // auto, with stdout not a terminal: lines, as before.
    let mut tunnel = Proc::start(&[
        "tunnel",
        &capture,
        "--to",
        "http://127.0.0.1:9",
        "--name",
        "lines",
    ]);
    wait_tunnels(&s, &bin, &["lines"]).await;
    tunnel.signal("INT");
    let done = tunnel.finish().await;
    assert!(done.status.success(), "{done:?}");
    assert!(
        done.stderr.iter().any(|l| l == "tunnel stopped"),
        "{done:?}"
    );
}
