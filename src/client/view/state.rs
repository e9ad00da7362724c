//! What the view shows, apart from how: the requests seen, which one is
//! selected, the filter, the connection, the status line; and what each
//! key does to it. No terminal here, so every rule is unit-tested.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::client::tunnel::report::Event;
use crate::core::headers::Header;
use crate::core::matcher::{Match, Subject};
use crate::core::protocol::RelayRequest;
use crate::core::time::Millis;

/// Rows kept; the oldest go first (a long session must not grow without
/// bound).
const MAX_ROWS: usize = 5_000;

/// One request in the list: what arrived and, in a tunnel, what came of
/// its delivery.
#[derive(Debug, Clone)]
pub struct Row {
    /// The relay's key (the tunnel's), or the request id (tail).
    pub key: u64,
    /// When it arrived (tunnel: when the relay reached this client).
    pub at: Millis,
    /// The request: the tunnel's own, shared (the view copies nothing of
    /// what it shows), or a captured one (`tail --ui`).
    pub req: Arc<RelayRequest>,
    /// The target's URL, when the tunnel has several.
    pub target: Option<String>,
    /// What came of its delivery.
    pub delivery: Delivery,
}

impl Row {
    /// What the filter looks at.
    pub fn subject(&self) -> Subject<'_> {
        let r = &self.req;
        Subject::new(&r.method, &r.path, &r.query, &r.headers, &r.body)
    }
}

/// What came of a row's delivery.
#[derive(Debug, Clone, PartialEq)]
pub enum Delivery {
    /// `tail --ui`: arrivals only.
    None,
    /// On its way to the app; `retry` says why the app did not answer yet.
    Pending {
        /// Why the last attempt failed.
        retry: Option<String>,
    },
    /// The app answered.
    Answered {
        /// The app's status.
        status: u16,
        /// From sending to the whole answer read.
        latency_ms: f64,
        /// The app's headers.
        headers: Vec<Header>,
        /// The app's body.
        body: Bytes,
    },
    /// The relay failed for good.
    Failed {
        /// Why, in words.
        error: String,
    },
}

/// The connection, as the header line says it.
#[derive(Debug, Clone, PartialEq)]
pub enum Conn {
    /// Not connected yet.
    Connecting,
    /// Relaying.
    Connected {
        /// The name the server knows the tunnel by.
        name: String,
        /// Senders get the app's answer.
        passthrough: bool,
    },
    /// The connection failed; the next attempt is at `at`.
    Retrying {
        /// Why, in words.
        why: String,
        /// When the next attempt starts.
        at: Instant,
    },
    /// `tail --ui`: reading the bin.
    Following,
    /// `q` was pressed: finishing the deliveries under way.
    Stopping,
}

/// Which pane keys move in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    /// The request list.
    List,
    /// The selected request's detail.
    Detail,
}

/// A key, as the view reads it (terminal-independent).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // Each is the key it names.
pub enum Key {
    Up,
    Down,
    PageUp,
    PageDown,
    Home,
    End,
    Enter,
    Tab,
    Esc,
    Backspace,
    CtrlC,
    /// Clears the prompt's line, as in a shell.
    CtrlU,
    Char(char),
}

/// What a key asks of the world outside the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing beyond the state.
    None,
    /// Stop the tunnel (and the view once it has stopped).
    Quit,
    /// Replay this stored request.
    Replay(i64),
}

/// Everything the view shows.
#[derive(Debug)]
pub struct State {
    /// `tunnel` or `tail`: the header's first word.
    pub command: &'static str,
    /// The capture URL.
    pub capture: String,
    /// The tunnel's targets (empty for `tail`).
    pub targets: Vec<String>,
    /// The connection.
    pub conn: Conn,
    rows: Vec<Row>,
    /// Row position by key.
    by_key: HashMap<u64, usize>,
    /// Positions of the rows the filter lets through, oldest first.
    visible: Vec<usize>,
    filter: Option<(String, Match)>,
    /// Index into `visible`; `None` follows the newest.
    selected: Option<usize>,
    /// Where keys move.
    pub pane: Pane,
    /// Lines scrolled down in the detail pane.
    pub scroll: u16,
    /// The filter being typed, when the prompt is open.
    pub prompt: Option<String>,
    /// A message for the status line (a replay's outcome, a filter error).
    pub status: Option<String>,
    /// Something changed since the last frame.
    pub dirty: bool,
}

impl State {
    /// An empty view of `command` for `capture`, relaying to `targets`.
    pub fn new(command: &'static str, capture: String, targets: Vec<String>) -> Self {
        Self {
            command,
            capture,
            conn: if targets.is_empty() {
                Conn::Following
            } else {
                Conn::Connecting
            },
            targets,
            rows: Vec::new(),
            by_key: HashMap::new(),
            visible: Vec::new(),
            filter: None,
            selected: None,
            pane: Pane::List,
            scroll: 0,
            prompt: None,
            status: None,
            dirty: true,
        }
    }

    /// Applies one of the tunnel's events; `now` stamps arrivals.
    pub fn event(&mut self, e: Event, now: Millis) {
        self.dirty = true;
        match e {
            Event::Connected {
                tunnel,
                passthrough,
                notice,
            } => {
                if notice.is_some() {
                    self.status = notice;
                }
                if self.conn != Conn::Stopping {
                    self.conn = Conn::Connected {
                        name: tunnel,
                        passthrough,
                    };
                }
            }
            Event::Retrying { why, wait } => {
                if self.conn != Conn::Stopping {
                    self.conn = Conn::Retrying {
                        why,
                        at: Instant::now() + wait,
                    };
                }
            }
            Event::Arrived { key, req } => {
                let target = (self.targets.len() > 1)
                    .then(|| self.targets.get(req.target).cloned())
                    .flatten();
                self.push(Row {
                    key,
                    at: now,
                    req,
                    target,
                    delivery: Delivery::Pending { retry: None },
                });
            }
            Event::AppDown { key, why } => {
                if let Some(row) = self.row_mut(key) {
                    row.delivery = Delivery::Pending { retry: Some(why) };
                }
            }
            Event::Answered { key, resp } => {
                if let Some(row) = self.row_mut(key) {
                    let resp = *resp;
                    row.delivery = match resp.status {
                        Some(status) => Delivery::Answered {
                            status,
                            latency_ms: resp.latency_ms,
                            headers: resp.headers,
                            body: resp.body,
                        },
                        None => Delivery::Failed {
                            error: resp.error.unwrap_or_else(|| "failed".into()),
                        },
                    };
                }
            }
            Event::Stopped => self.conn = Conn::Stopping,
        }
    }

    fn row_mut(&mut self, key: u64) -> Option<&mut Row> {
        let at = *self.by_key.get(&key)?;
        self.rows.get_mut(at)
    }

    /// Adds a row at the bottom (the list follows it unless a row is
    /// selected).
    pub fn push(&mut self, row: Row) {
        self.dirty = true;
        if self.rows.len() >= MAX_ROWS {
            self.forget_oldest(MAX_ROWS / 5);
        }
        let at = self.rows.len();
        self.by_key.insert(row.key, at);
        if self.passes(&row) {
            self.visible.push(at);
        }
        self.rows.push(row);
    }

    fn forget_oldest(&mut self, n: usize) {
        self.rows.drain(..n);
        self.by_key = self
            .rows
            .iter()
            .enumerate()
            .map(|(i, r)| (r.key, i))
            .collect();
        let before = self.visible.len();
        self.refilter();
        // The same row stays selected (or the oldest left, if it went).
        let gone = before.saturating_sub(self.visible.len());
        self.selected = self.selected.map(|s| s.saturating_sub(gone));
    }

    fn passes(&self, row: &Row) -> bool {
        self.filter
            .as_ref()
            .is_none_or(|(_, m)| m.holds(&row.subject()))
    }

    fn refilter(&mut self) {
        self.visible = (0..self.rows.len())
            .filter(|&i| self.passes(&self.rows[i]))
            .collect();
    }

    /// The rows the filter lets through, oldest first.
    pub fn visible(&self) -> impl ExactSizeIterator<Item = &Row> + DoubleEndedIterator {
        self.visible.iter().map(|&i| &self.rows[i])
    }

    /// How many rows there are (filtered or not).
    pub fn total(&self) -> usize {
        self.rows.len()
    }

    /// How many rows the filter lets through.
    pub fn visible_len(&self) -> usize {
        self.visible.len()
    }

    /// The selected position in [`State::visible`] (the newest when
    /// following).
    pub fn selected_index(&self) -> Option<usize> {
        let last = self.visible.len().checked_sub(1)?;
        Some(self.selected.map_or(last, |s| s.min(last)))
    }

    /// The selected row.
    pub fn selected(&self) -> Option<&Row> {
        let i = self.selected_index()?;
        self.visible.get(i).map(|&at| &self.rows[at])
    }

    /// The filter's text, when one is set.
    pub fn filter(&self) -> Option<&str> {
        self.filter.as_ref().map(|(text, _)| text.as_str())
    }

    /// Counts for the header: (answered 2xx-3xx, answered 4xx-5xx or
    /// failed, pending).
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut c = (0, 0, 0);
        for r in &self.rows {
            match &r.delivery {
                Delivery::Answered { status, .. } if *status < 400 => c.0 += 1,
                Delivery::Answered { .. } | Delivery::Failed { .. } => c.1 += 1,
                Delivery::Pending { .. } => c.2 += 1,
                Delivery::None => {}
            }
        }
        c
    }

    /// Sets the filter from the prompt's text: empty clears it; one that
    /// does not parse leaves the prompt open with the matcher's error.
    pub fn set_filter(&mut self, text: &str) -> Result<(), String> {
        let conditions: Vec<&str> = text.split_whitespace().collect();
        if conditions.is_empty() {
            self.filter = None;
        } else {
            let m = Match::parse(&conditions)?;
            self.filter = Some((conditions.join(" "), m));
        }
        self.refilter();
        self.selected = None;
        self.scroll = 0;
        Ok(())
    }

    fn move_by(&mut self, delta: isize) {
        let Some(current) = self.selected_index() else {
            return;
        };
        let last = self.visible.len() - 1;
        let next = current.saturating_add_signed(delta).min(last);
        // Reaching the newest row follows new arrivals again.
        self.selected = (next != last).then_some(next);
        self.scroll = 0;
    }

    /// What `key` does.
    pub fn key(&mut self, key: Key, page: usize) -> Action {
        self.dirty = true;
        if let Some(text) = &mut self.prompt {
            match key {
                Key::Esc => self.prompt = None,
                Key::CtrlC => return Action::Quit,
                Key::Backspace => {
                    text.pop();
                }
                Key::CtrlU => text.clear(),
                Key::Char(c) => text.push(c),
                Key::Enter => {
                    let text = text.clone();
                    match self.set_filter(&text) {
                        Ok(()) => {
                            self.prompt = None;
                            self.status = None;
                        }
                        Err(e) => self.status = Some(e),
                    }
                }
                _ => {}
            }
            return Action::None;
        }
        let page = isize::try_from(page.max(1)).unwrap_or(isize::MAX);
        match (key, self.pane) {
            (Key::Char('q') | Key::CtrlC, _) => return Action::Quit,
            (Key::Enter | Key::Tab, Pane::List) => self.pane = Pane::Detail,
            (Key::Enter | Key::Tab | Key::Esc, Pane::Detail) => self.pane = Pane::List,
            (Key::Down | Key::Char('j'), Pane::List) => self.move_by(1),
            (Key::Up | Key::Char('k'), Pane::List) => self.move_by(-1),
            (Key::PageDown, Pane::List) => self.move_by(page),
            (Key::PageUp, Pane::List) => self.move_by(-page),
            (Key::Home | Key::Char('g'), Pane::List) => self.move_by(isize::MIN / 2),
            (Key::End | Key::Char('G'), Pane::List) => self.selected = None,
            (Key::Down | Key::Char('j'), Pane::Detail) => {
                self.scroll = self.scroll.saturating_add(1)
            }
            (Key::Up | Key::Char('k'), Pane::Detail) => self.scroll = self.scroll.saturating_sub(1),
            (Key::PageDown, Pane::Detail) => {
                self.scroll = self
                    .scroll
                    .saturating_add(u16::try_from(page).unwrap_or(u16::MAX));
            }
            (Key::PageUp, Pane::Detail) => {
                self.scroll = self
                    .scroll
                    .saturating_sub(u16::try_from(page).unwrap_or(u16::MAX));
            }
            (Key::Home | Key::Char('g'), Pane::Detail) => self.scroll = 0,
            (Key::Char('/'), _) => {
                self.prompt = Some(self.filter().unwrap_or_default().to_owned());
                self.status = None;
            }
            (Key::Char('r'), _) => match self.selected() {
                Some(row) => {
                    let id = row.req.request_id;
                    self.status = Some(format!("replaying request #{id}…"));
                    return Action::Replay(id);
                }
                None => self.status = Some("nothing to replay yet".into()),
            },
            (Key::Esc, Pane::List) => self.status = None,
            _ => self.dirty = false,
        }
        Action::None
    }

    /// The seconds left before the next connection attempt, when waiting
    /// for one.
    pub fn retry_in(&self, now: Instant) -> Option<Duration> {
        match &self.conn {
            Conn::Retrying { at, .. } => Some(at.saturating_duration_since(now)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(key: u64, method: &str, path: &str) -> Row {
        Row {
            key,
            at: 0,
            req: Arc::new(RelayRequest {
                seq: key,
                request_id: i64::try_from(key).expect("small"),
                method: method.into(),
                path: path.into(),
                query: String::new(),
                headers: vec![("content-type".into(), "application/json".into())],
                replay: false,
                target: 0,
                body: Bytes::from_static(b"{\"a\":1}"),
            }),
            target: None,
            delivery: Delivery::Pending { retry: None },
        }
    }

    fn state(n: u64) -> State {
        let mut s = State::new("tunnel", "http://h/b".into(), vec!["http://app".into()]);
        for k in 1..=n {
            s.push(row(k, if k % 2 == 0 { "PUT" } else { "POST" }, "/x"));
        }
        s
    }

    #[test]
    fn the_list_follows_the_newest_until_a_row_is_chosen() {
        let mut s = state(3);
        assert_eq!(s.selected().map(|r| r.key), Some(3));
        s.key(Key::Char('k'), 10);
        assert_eq!(s.selected().map(|r| r.key), Some(2));
        s.push(row(4, "POST", "/y"));
        assert_eq!(
            s.selected().map(|r| r.key),
            Some(2),
            "stays on the chosen row"
        );
        s.key(Key::Down, 10);
        s.key(Key::Down, 10);
        assert_eq!(s.selected().map(|r| r.key), Some(4));
        s.push(row(5, "POST", "/y"));
        assert_eq!(
            s.selected().map(|r| r.key),
            Some(5),
            "follows again at the bottom"
        );
        s.key(Key::Home, 10);
        assert_eq!(s.selected().map(|r| r.key), Some(1));
    }

    #[test]
    fn enter_switches_panes_and_j_scrolls_the_detail() {
        let mut s = state(2);
        assert_eq!(s.key(Key::Enter, 10), Action::None);
        assert_eq!(s.pane, Pane::Detail);
        s.key(Key::Char('j'), 10);
        s.key(Key::Char('j'), 10);
        assert_eq!(s.scroll, 2);
        assert_eq!(s.selected().map(|r| r.key), Some(2), "j scrolls, not moves");
        s.key(Key::Tab, 10);
        assert_eq!(s.pane, Pane::List);
    }

    #[test]
    fn the_filter_keeps_matching_rows_and_reports_errors() {
        let mut s = state(4);
        s.key(Key::Char('/'), 10);
        for c in "method=PUT".chars() {
            s.key(Key::Char(c), 10);
        }
        s.key(Key::Enter, 10);
        assert_eq!(s.prompt, None);
        assert_eq!(s.visible().map(|r| r.key).collect::<Vec<_>>(), [2, 4]);
        s.push(row(5, "POST", "/z"));
        s.push(row(6, "PUT", "/z"));
        assert_eq!(s.visible_len(), 3);
        // A bad one leaves the prompt open and says why.
        s.key(Key::Char('/'), 10);
        s.prompt = Some("heder.x=1".into());
        s.key(Key::Enter, 10);
        assert!(s.prompt.is_some());
        assert!(
            s.status.as_deref().is_some_and(|e| e.contains("heder")),
            "{:?}",
            s.status
        );
        assert_eq!(s.filter(), Some("method=PUT"), "the old filter stays");
        // Esc cancels; an empty one clears.
        s.key(Key::Esc, 10);
        assert_eq!(s.prompt, None);
        s.key(Key::Char('/'), 10);
        s.prompt = Some(String::new());
        s.key(Key::Enter, 10);
        assert_eq!(s.visible_len(), 6);
    }

    #[test]
    fn r_replays_the_selected_request_and_q_quits() {
        let mut s = state(0);
        assert_eq!(s.key(Key::Char('r'), 10), Action::None);
        let mut s = state(3);
        s.key(Key::Up, 10);
        assert_eq!(s.key(Key::Char('r'), 10), Action::Replay(2));
        assert_eq!(s.key(Key::Char('q'), 10), Action::Quit);
        assert_eq!(s.key(Key::CtrlC, 10), Action::Quit);
    }

    #[test]
    fn answers_land_on_their_row_and_old_rows_go() {
        let mut s = state(2);
        s.event(
            Event::Answered {
                key: 1,
                resp: Box::new(crate::core::protocol::RelayResponse {
                    seq: 0,
                    status: Some(500),
                    headers: Vec::new(),
                    latency_ms: 1.5,
                    error: None,
                    body: Bytes::new(),
                }),
            },
            0,
        );
        assert_eq!(s.counts(), (0, 1, 1));
        let mut s = state(u64::try_from(MAX_ROWS).expect("small"));
        s.key(Key::Home, 10);
        s.key(Key::Down, 10);
        s.push(row(100_000, "GET", "/"));
        assert!(s.visible_len() < MAX_ROWS);
        assert_eq!(
            s.selected().map(|r| r.key),
            Some(u64::try_from(MAX_ROWS / 5 + 1).expect("small"))
        );
    }
}
