//! Progress for long waits: one line on stderr, rewritten in place once a
//! second (`\r`, no escape sequence) while something is waited for, and
//! cleared when the wait ends. Only a person at a terminal sees it: when
//! stderr is a file or a pipe nothing is written, so logs and scripts get
//! exactly the lines they got before.

use std::future::Future;
use std::io::Write as _;
use std::time::{Duration, Instant};

use crate::core::term::Stream;
use crate::core::time::clock;

/// How often the line is rewritten.
const TICK: Duration = Duration::from_secs(1);
/// Longer lines are cut: a line that wraps cannot be rewritten with `\r`.
const WIDTH: usize = 78;

/// Runs `work`, showing `line(elapsed)` on a terminal's stderr meanwhile.
pub async fn show_while<F: Future>(work: F, line: impl Fn(Duration) -> String) -> F::Output {
    if !Stream::Stderr.is_terminal() {
        return work.await;
    }
    let started = Instant::now();
    let mut ticks = tokio::time::interval(TICK);
    let mut shown = 0;
    tokio::pin!(work);
    let out = loop {
        tokio::select! {
            out = &mut work => break out,
            _ = ticks.tick() => shown = rewrite(&line(started.elapsed()), shown),
        }
    };
    clear(shown);
    out
}

/// Sleeps for `pause`, counting it down on a terminal's stderr:
/// `what` followed by the time left, e.g. "next attempt in 4:59".
pub async fn countdown(pause: Duration, what: &str) {
    if pause < TICK {
        // Over before a person could read it.
        tokio::time::sleep(pause).await;
        return;
    }
    show_while(tokio::time::sleep(pause), |gone| {
        format!("{what} {}", clock(pause.saturating_sub(gone)))
    })
    .await;
}

/// Writes `text` over the line shown (`shown` characters long); its length.
fn rewrite(text: &str, shown: usize) -> usize {
    let text: String = text.chars().take(WIDTH).collect();
    let len = text.chars().count();
    let pad = shown.saturating_sub(len);
    let mut err = std::io::stderr().lock();
    // A failed write to a terminal costs the progress line, nothing else.
    let _ = write!(err, "\r{text}{:pad$}", "").and_then(|()| err.flush());
    len
}

/// Blanks the line shown, leaving the cursor at its start: what comes next
/// is written where the progress was.
fn clear(shown: usize) {
    if shown > 0 {
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{:shown$}\r", "").and_then(|()| err.flush());
    }
}
