//! The full-screen live view (SPEC §14) of `hookwire tunnel` and
//! `hookwire tail --ui`: the requests as they arrive, the selected one's
//! detail and the app's answer, replay, a filter in the match language.
//!
//! The view runs on a thread of its own. The tunnel hands it events
//! through an unbounded channel and never waits for it; the view draws
//! at most [`FRAME`] apart and only when something changed, so a burst of
//! deliveries costs one frame, not one per delivery. The terminal is
//! always given back: on the way out, on an error, and on a panic
//! (ratatui's panic hook leaves the alternate screen and raw mode before
//! the message is printed).
//!
//! # Layout
//! Modules depend one way, down this list:
//! - [`state`]: what is shown and what keys do to it (no terminal).
//! - [`draw`]: how it looks.

pub mod draw;
pub mod state;

use std::future::Future;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, TryRecvError, channel};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use ratatui::crossterm::event::{self, Event as TermEvent, KeyCode, KeyEventKind, KeyModifiers};
use tokio::sync::Notify;

use self::state::{Action, Delivery, Key, Row, State};
use crate::client::api::{Captured, Remote};
use crate::client::tail_wait::{Start, Watch};
use crate::client::tunnel::TunnelConfig;
use crate::client::tunnel::report::{Event, Report};
use crate::core::pasted::BinRef;
use crate::core::protocol::RelayRequest;
use crate::core::time::now_millis;

/// Shortest time between two frames (at most 20 a second).
const FRAME: Duration = Duration::from_millis(50);

/// What the view thread is told.
enum Input {
    /// One of the tunnel's events.
    Tunnel(Event),
    /// New requests of the bin (`tail --ui`).
    Arrivals(Vec<Row>),
    /// A line for the status line (a replay's outcome).
    Note(String),
    /// The command has stopped: leave.
    Done,
}

/// Replays the selected request through the server's API, so the
/// replay is captured-consistent (recorded as the inspector's would be).
struct Replayer {
    remote: Remote,
    /// An alias is looked up at replay time: the tunnel may have started
    /// before its server.
    bin: BinRef,
    /// Only this tunnel gets it (`tail --ui`: every connected tunnel).
    tunnel: Option<String>,
    runtime: tokio::runtime::Handle,
}

impl Replayer {
    fn replay(&self, id: i64, tx: Sender<Input>) {
        let (remote, bin, tunnel) = (self.remote.clone(), self.bin.clone(), self.tunnel.clone());
        self.runtime.spawn(async move {
            let replayed = match remote.bin_id(&bin).await {
                Ok(bin) => remote.replay(bin, id, tunnel.as_deref()).await,
                Err(e) => Err(e),
            };
            let note = match replayed {
                Ok(to) if to.is_empty() => format!("request #{id} was replayed"),
                Ok(to) => format!("request #{id} replayed to {}", to.join(", ")),
                Err(e) => format!("replay of #{id} failed: {e:#}"),
            };
            let _ = tx.send(Input::Note(note));
        });
    }
}

/// The terminal, in the view's hands until dropped.
struct Screen(ratatui::DefaultTerminal);

impl Screen {
    fn enter() -> anyhow::Result<Self> {
        // A half-done take-over (raw mode on, no alternate screen) is
        // undone before the error is printed.
        let terminal = ratatui::try_init().inspect_err(|_| ratatui::restore());
        terminal
            .map(Self)
            .context("cannot take over the terminal for the live view; run with --ui off")
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let _ = self.0.show_cursor();
        ratatui::restore();
    }
}

/// Wakes the command when the view thread ends, however it ends (`q`,
/// or a panic): a tunnel must not go on relaying behind a dead screen.
struct QuitOnDrop(Arc<Notify>);

impl Drop for QuitOnDrop {
    fn drop(&mut self) {
        self.0.notify_one();
    }
}

/// The view thread, and how to tell it things.
struct View {
    tx: Sender<Input>,
    quit: Arc<Notify>,
    thread: std::thread::JoinHandle<anyhow::Result<State>>,
}

impl View {
    /// Takes over the terminal and starts drawing `state`.
    fn open(state: State, replayer: Replayer) -> anyhow::Result<Self> {
        let screen = Screen::enter()?;
        let (tx, rx) = channel();
        let quit = Arc::new(Notify::new());
        let (thread_tx, thread_quit) = (tx.clone(), QuitOnDrop(quit.clone()));
        let asked = quit.clone();
        let thread = std::thread::Builder::new()
            .name("view".into())
            .spawn(move || {
                let _quit = thread_quit;
                let mut screen = screen;
                run(&mut screen, state, &rx, &thread_tx, &replayer, &asked)
            })
            .context("starting the view")?;
        Ok(Self { tx, quit, thread })
    }

    /// Tells the view the command stopped, waits for it to give the
    /// terminal back, and returns what it showed.
    async fn close(self) -> anyhow::Result<State> {
        let _ = self.tx.send(Input::Done);
        let thread = self.thread;
        tokio::task::spawn_blocking(move || thread.join())
            .await
            .context("waiting for the view")?
            .map_err(|_| anyhow::anyhow!("the live view failed; run with --ui off"))?
    }
}

/// The view's loop: keys, inputs, a frame when something changed.
fn run(
    screen: &mut Screen,
    mut s: State,
    rx: &Receiver<Input>,
    tx: &Sender<Input>,
    replayer: &Replayer,
    quit: &Notify,
) -> anyhow::Result<State> {
    let colour = !crate::core::term::no_color();
    let mut drawn = draw::Drawn::default();
    let mut last_frame = Instant::now() - FRAME;
    loop {
        // Keys first: they must feel immediate.
        while event::poll(Duration::ZERO)? {
            let Some(key) = key(event::read()?) else {
                s.dirty = true;
                continue;
            };
            match s.key(key, drawn.page) {
                Action::None => {}
                Action::Quit => {
                    s.conn = state::Conn::Stopping;
                    s.status = None;
                    quit.notify_one();
                }
                Action::Replay(id) => replayer.replay(id, tx.clone()),
            }
            // An answered key is drawn at once.
            last_frame = Instant::now() - FRAME;
        }
        // Sleep on the terminal only, until the next frame is due (or a
        // frame's time when there is nothing to draw): events wait in the
        // channel meanwhile, so a delivery never wakes this thread (a
        // wake-up per delivery costs the tunnel's threads a system call
        // each).
        let wait = if s.dirty {
            FRAME.saturating_sub(last_frame.elapsed())
        } else {
            FRAME
        };
        if event::poll(wait)? {
            continue;
        }
        loop {
            match rx.try_recv() {
                Ok(input) => {
                    if apply(&mut s, input) {
                        return Ok(s);
                    }
                }
                Err(TryRecvError::Empty) => break,
                Err(TryRecvError::Disconnected) => return Ok(s),
            }
        }
        if s.retry_in(Instant::now()).is_some() {
            // The countdown moves.
            s.dirty = true;
        }
        if s.dirty && last_frame.elapsed() >= FRAME {
            screen
                .0
                .draw(|f| draw::draw(f, &s, &mut drawn, colour))
                .context("drawing the view")?;
            s.dirty = false;
            last_frame = Instant::now();
        }
    }
}

/// Applies an input; true when the view should end.
fn apply(s: &mut State, input: Input) -> bool {
    match input {
        Input::Tunnel(e) => s.event(e, now_millis()),
        Input::Arrivals(rows) => rows.into_iter().for_each(|r| s.push(r)),
        Input::Note(text) => {
            s.status = Some(text);
            s.dirty = true;
        }
        Input::Done => return true,
    }
    false
}

/// A terminal event as a view key (`None`: not a key, e.g. a resize).
fn key(e: TermEvent) -> Option<Key> {
    let TermEvent::Key(k) = e else { return None };
    if k.kind == KeyEventKind::Release {
        return None;
    }
    Some(match k.code {
        KeyCode::Char('c') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlC,
        KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => Key::CtrlU,
        // Alt+key (or Esc read together with the next key): not ours.
        KeyCode::Char(_) if k.modifiers.contains(KeyModifiers::ALT) => return None,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Enter => Key::Enter,
        KeyCode::Tab | KeyCode::BackTab => Key::Tab,
        KeyCode::Esc => Key::Esc,
        KeyCode::Backspace => Key::Backspace,
        _ => return None,
    })
}

/// `hookwire tunnel` with the live view: relays as in line mode, the view
/// showing each delivery; `q` (or Ctrl-C) stops it as a signal would.
pub async fn tunnel(
    cfg: TunnelConfig,
    remote: Remote,
    bin: BinRef,
    targets: Vec<String>,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let replayer = Replayer {
        remote,
        bin,
        tunnel: Some(cfg.name.clone()),
        runtime: tokio::runtime::Handle::current(),
    };
    let view = View::open(
        State::new("tunnel", cfg.capture_url.clone(), targets),
        replayer,
    )?;
    let report = {
        let tx = view.tx.clone();
        Report::sink(move |e| {
            let _ = tx.send(Input::Tunnel(e));
        })
    };
    let quit = view.quit.clone();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            () = quit.notified() => {}
        }
    };
    let relayed = crate::client::tunnel::run(cfg, report, stop).await;
    let shown = view.close().await;
    // Back on the normal screen: what the view showed, in one line.
    if let (Ok(()), Ok(s)) = (&relayed, &shown) {
        let (ok, bad, pending) = s.counts();
        eprintln!(
            "tunnel stopped: {} delivered ({ok} ok, {bad} errors), {pending} not answered",
            ok + bad
        );
    }
    relayed.and(shown.map(|_| ()))
}

/// `hookwire tail --ui`: the bin's requests as they arrive, in the view.
pub async fn tail(
    w: Watch,
    start: Start,
    capture: String,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let replayer = Replayer {
        remote: w.remote.clone(),
        bin: BinRef::Id(w.bin),
        tunnel: None,
        runtime: tokio::runtime::Handle::current(),
    };
    let view = View::open(State::new("tail", capture, Vec::new()), replayer)?;
    let tx = view.tx.clone();
    let quit = view.quit.clone();
    let stop = async move {
        tokio::select! {
            () = shutdown => {}
            () = quit.notified() => {}
        }
    };
    let followed = crate::client::tail_wait::follow(
        w,
        start,
        || {},
        |batch| {
            let _ = tx.send(Input::Arrivals(batch.into_iter().map(row).collect()));
            Ok(std::ops::ControlFlow::Continue(()))
        },
        &|why| {
            let _ = tx.send(Input::Note(why));
        },
        stop,
    )
    .await;
    let shown = view.close().await;
    followed.and(shown.map(|_| ()))
}

/// A captured request as a row of `tail --ui`.
fn row(r: Captured) -> Row {
    Row {
        key: u64::try_from(r.id).unwrap_or_default(),
        at: r.received_at,
        req: Arc::new(RelayRequest {
            seq: 0,
            request_id: r.id,
            method: r.method,
            path: r.path,
            query: r.query,
            headers: r.headers,
            replay: false,
            target: 0,
            body: r.body.into(),
        }),
        target: None,
        delivery: Delivery::None,
    }
}
