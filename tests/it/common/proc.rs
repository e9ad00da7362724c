//! A `hookwire` subcommand as a child process: its output collected line
//! by line as it comes, signals, and how it ended. Used by every test that
//! runs the real binary (follow, output, pasted URLs, errors, terminal).

use std::io::{BufRead as _, BufReader, Read};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::tunnel::WAIT;

type Lines = Arc<std::sync::Mutex<Vec<String>>>;

/// A `hookwire` subcommand running as a child process, its output
/// collected line by line as it comes; killed on drop.
pub struct Proc {
    child: Child,
    stdout: Lines,
    stderr: Lines,
    readers: Vec<std::thread::JoinHandle<()>>,
    started: Instant,
}

/// How a process ended, with everything it printed.
#[derive(Debug)]
pub struct Done {
    pub status: ExitStatus,
    pub stdout: Vec<String>,
    pub stderr: Vec<String>,
    /// From spawning to the exit being seen.
    pub took: Duration,
}

/// Reads a pipe into `lines` until EOF, so the child never blocks on it.
fn reader(pipe: impl Read + Send + 'static, lines: Lines) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        for line in BufReader::new(pipe).split(b'\n') {
            let Ok(line) = line else { break };
            let line = String::from_utf8_lossy(&line).into_owned();
            lines.lock().expect("lock").push(line);
        }
    })
}

impl Proc {
    /// `hookwire ARGS…` with no `HOOKWIRE_*` variable of the test's
    /// environment.
    pub fn start(args: &[&str]) -> Self {
        Self::start_env(args, &[])
    }

    /// `hookwire ARGS…` with only these `HOOKWIRE_*` variables.
    pub fn start_env(args: &[&str], env: &[(&str, &str)]) -> Self {
        let mut cmd = Command::new(super::binary());
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (name, _) in std::env::vars_os() {
            if name.to_string_lossy().starts_with("HOOKWIRE_") {
                cmd.env_remove(name);
            }
        }
        cmd.envs(env.iter().copied());
        let started = Instant::now();
        let mut child = cmd.spawn().expect("start hookwire");
        let (stdout, stderr) = (Lines::default(), Lines::default());
        let readers = vec![
            reader(child.stdout.take().expect("stdout"), stdout.clone()),
            reader(child.stderr.take().expect("stderr"), stderr.clone()),
        ];
        Self {
            child,
            stdout,
            stderr,
            readers,
            started,
        }
    }

    pub fn stdout(&self) -> Vec<String> {
        self.stdout.lock().expect("lock").clone()
    }

    pub fn stderr(&self) -> Vec<String> {
        self.stderr.lock().expect("lock").clone()
    }

    /// Waits until stdout has at least `n` lines; returns them all.
    pub async fn lines(&self, n: usize) -> Vec<String> {
        let deadline = Instant::now() + WAIT;
        loop {
            let out = self.stdout();
            if out.len() >= n {
                return out;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {n} lines on stdout; got {out:#?}\nstderr: {:#?}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Waits until a stderr line contains `text`; returns that line.
    pub async fn stderr_line(&self, text: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(line) = self.stderr().into_iter().find(|l| l.contains(text)) {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {text:?} on stderr; got {:#?}\nstdout: {:#?}",
                self.stderr(),
                self.stdout()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Sends a signal: "INT" (Ctrl-C) or "TERM".
    pub fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .expect("run kill");
        assert!(ok.success(), "kill -{name} failed");
    }

    /// Waits (bounded) for the process to exit and for its pipes to close.
    pub async fn finish(&mut self) -> Done {
        let deadline = Instant::now() + WAIT + Duration::from_secs(5);
        let status = loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "hookwire did not exit; stdout: {:#?}\nstderr: {:#?}",
                self.stdout(),
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        let took = self.started.elapsed();
        let readers = std::mem::take(&mut self.readers);
        tokio::task::spawn_blocking(move || {
            for r in readers {
                r.join().expect("pipe reader");
            }
        })
        .await
        .expect("join the pipe readers");
        Done {
            status,
            stdout: self.stdout(),
            stderr: self.stderr(),
            took,
        }
    }

    /// SIGINT, then the exit, which must be 0.
    pub async fn stop(&mut self) -> Done {
        self.stop_with("INT").await
    }

    /// A signal, then the exit, which must be 0.
    pub async fn stop_with(&mut self, signal: &str) -> Done {
        self.signal(signal);
        let done = self.finish().await;
        assert_eq!(done.code(), Some(0), "SIG{signal} exits 0: {done:#?}");
        done
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Done {
    pub fn code(&self) -> Option<i32> {
        self.status.code()
    }

    pub fn stderr_text(&self) -> String {
        self.stderr.join("\n")
    }

    /// Exit 0 and stdout exactly one line of JSON: that object.
    #[track_caller]
    pub fn one_json_line(&self) -> Value {
        assert_eq!(self.code(), Some(0), "exit 0: {self:#?}");
        assert_eq!(self.stdout.len(), 1, "one line on stdout: {self:#?}");
        serde_json::from_str(&self.stdout[0])
            .unwrap_or_else(|e| panic!("stdout is not JSON ({e}): {self:#?}"))
    }

    /// Exit 2 with a message on stderr containing every one of `says`
    /// (case-insensitive).
    #[track_caller]
    pub fn usage_error(&self, what: &str, says: &[&str]) {
        assert_eq!(self.code(), Some(2), "{what}: exit 2: {self:#?}");
        let err = self.stderr_text().to_lowercase();
        for s in says {
            assert!(
                err.contains(&s.to_lowercase()),
                "{what}: stderr names {s:?}: {self:#?}"
            );
        }
    }

    /// Exit 2 with a message naming the access token.
    #[track_caller]
    pub fn token_error(&self, what: &str) {
        assert_eq!(self.code(), Some(2), "{what}: exit 2: {self:#?}");
        let err = self.stderr_text().to_lowercase().replace(['-', '_'], " ");
        assert!(
            err.contains("access token"),
            "{what}: the message names the access token: {self:#?}"
        );
    }
}
