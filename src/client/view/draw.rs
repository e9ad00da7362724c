//! How the view looks: the header (capture URL, targets, connection), the
//! request list, the selected request's detail, the status line and the
//! keys. Reads the state only; every captured text is made printable
//! first, so a sender's escape sequence cannot drive the terminal.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Paragraph, Row as TableRow, Table, Wrap};

use super::state::{Conn, Delivery, Pane, Row, State};
use crate::client::api::printable;
use crate::core::headers::Header;
use crate::core::time::rfc3339;

/// Bodies are shown up to this many bytes (the rest is counted): a
/// frame must stay cheap whatever was captured.
const BODY_SHOWN: usize = 64 * 1024;

/// At least this wide, list and detail sit side by side; narrower, one
/// above the other.
const SIDE_BY_SIDE: u16 = 120;

/// What drawing remembers between frames.
#[derive(Debug, Default)]
pub struct Drawn {
    /// The first list row on screen.
    offset: usize,
    /// Rows the list shows at once (for page up/down).
    pub page: usize,
}

/// Draws one frame of `s`.
pub fn draw(frame: &mut Frame<'_>, s: &State, drawn: &mut Drawn, colour: bool) {
    let wide = frame.area().width >= SIDE_BY_SIDE;
    let top = header_lines(s, colour, wide);
    let [header, main, status, help] = Layout::vertical([
        Constraint::Length(u16::try_from(top.len()).unwrap_or(2)),
        Constraint::Min(4),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    frame.render_widget(Paragraph::new(top), header);
    let (list, detail) = if main.width >= SIDE_BY_SIDE {
        // The list gets room for a useful path; the detail the rest.
        let list_width = (main.width * 48 / 100).max(72);
        let [l, d] =
            Layout::horizontal([Constraint::Length(list_width), Constraint::Fill(1)]).areas(main);
        (l, d)
    } else {
        let [l, d] =
            Layout::vertical([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(main);
        (l, d)
    };
    draw_list(frame, s, drawn, list, colour);
    draw_detail(frame, s, detail);
    frame.render_widget(Paragraph::new(status_line(s)), status);
    frame.render_widget(
        Paragraph::new(help_line(s)).style(Style::new().add_modifier(Modifier::DIM)),
        help,
    );
}

/// The capture URL and targets (on a line of their own when narrow), the
/// connection and the counts.
fn header_lines(s: &State, colour: bool, wide: bool) -> Vec<Line<'static>> {
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut lines = Vec::new();
    let mut first = vec![
        Span::styled(format!(" hookwire {} ", s.command), bold),
        Span::raw(s.capture.clone()),
    ];
    if !s.targets.is_empty() {
        let to = format!(" → {}", s.targets.join(", "));
        if wide {
            first.push(Span::raw(to));
        } else {
            lines.push(Line::from(first));
            first = vec![Span::raw(format!("         {to}"))];
        }
    }
    lines.push(Line::from(first));
    let (state, tint) = match &s.conn {
        Conn::Connecting => ("connecting…".to_owned(), Color::Yellow),
        Conn::Connected { name, passthrough } => (
            format!(
                "connected as {name}{}",
                if *passthrough { " (passthrough)" } else { "" }
            ),
            Color::Green,
        ),
        Conn::Retrying { why, .. } => {
            let secs = s.retry_in(Instant::now()).unwrap_or_default().as_secs_f64();
            (
                format!("reconnecting in {secs:.1} s: {}", printable(why)),
                Color::Red,
            )
        }
        Conn::Following => ("following the bin".to_owned(), Color::Green),
        Conn::Stopping => (
            "stopping: finishing the deliveries under way…".to_owned(),
            Color::Yellow,
        ),
    };
    let mut second = vec![Span::styled(
        format!(" {state}"),
        if colour {
            Style::new().fg(tint)
        } else {
            Style::new()
        },
    )];
    let mut counts = format!("  ·  {}", plural(s.total(), "request"));
    if !s.targets.is_empty() {
        let (ok, bad, pending) = s.counts();
        counts.push_str(&format!(
            "  ·  {ok} ok  ·  {}  ·  {pending} pending",
            plural(bad, "error")
        ));
    }
    if let Some(f) = s.filter() {
        counts.push_str(&format!(
            "  ·  filter: {} ({} shown)",
            printable(f),
            s.visible_len()
        ));
    }
    second.push(Span::raw(counts));
    lines.push(Line::from(second));
    lines
}

/// `1 request`, `2 requests`.
fn plural(n: usize, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}

/// `HH:MM:SS` of an arrival (UTC, like every time hookwire prints).
fn clock(at: i64) -> String {
    rfc3339(at).get(11..19).unwrap_or_default().to_owned()
}

/// `text` cut to `width` characters, with `…` when cut.
fn fit(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// The status and latency columns of a row.
fn outcome(row: &Row, colour: bool) -> (Cell<'static>, String) {
    let tint = |c: Color| {
        if colour {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    };
    match &row.delivery {
        Delivery::None => (
            Cell::from(format!("{} B", row.req.body.len())),
            String::new(),
        ),
        Delivery::Pending { retry: None } => (
            Cell::from("pending").style(tint(Color::Yellow)),
            String::new(),
        ),
        Delivery::Pending { retry: Some(_) } => (
            Cell::from("retrying").style(tint(Color::Red)),
            String::new(),
        ),
        Delivery::Failed { .. } => (Cell::from("failed").style(tint(Color::Red)), String::new()),
        Delivery::Answered {
            status, latency_ms, ..
        } => {
            let c = match status {
                200..=399 => Color::Green,
                400..=499 => Color::Yellow,
                _ => Color::Red,
            };
            (
                Cell::from(status.to_string()).style(tint(c)),
                format!("{latency_ms:.1} ms"),
            )
        }
    }
}

fn draw_list(frame: &mut Frame<'_>, s: &State, drawn: &mut Drawn, area: Rect, colour: bool) {
    let focused = s.pane == Pane::List;
    let block = Block::new()
        .borders(Borders::ALL)
        .title(" Requests ")
        .border_style(border(focused));
    // Borders and the column headings.
    let height = usize::from(area.height.saturating_sub(3));
    drawn.page = height.max(1);
    let total = s.visible_len();
    let selected = s.selected_index();
    if let Some(sel) = selected {
        if sel < drawn.offset {
            drawn.offset = sel;
        } else if sel >= drawn.offset + height {
            drawn.offset = sel + 1 - height;
        }
    }
    drawn.offset = drawn.offset.min(total.saturating_sub(height));
    let tunnel = !s.targets.is_empty();
    // The other columns and the one-space gaps between columns.
    let fixed: u16 = if tunnel {
        8 + 6 + 7 + 8 + 9 + 5
    } else {
        8 + 6 + 7 + 8 + 4
    };
    let path_width = usize::from(area.width.saturating_sub(2 + fixed)).max(4);
    let rows: Vec<TableRow<'static>> = s
        .visible()
        .enumerate()
        .skip(drawn.offset)
        .take(height)
        .map(|(i, r)| {
            let (status, latency) = outcome(r, colour);
            let mut path = printable(&crate::core::urls::target(&r.req.path, &r.req.query));
            if r.req.replay {
                path.push_str(" (replay)");
            }
            if let Some(t) = &r.target {
                // Fan-out: which target this row is (the detail has the URL).
                let short = t.strip_prefix("http://").unwrap_or(t);
                path.push_str(&format!(" → {}", printable(short)));
            }
            let mut cells = vec![
                Cell::from(clock(r.at)),
                Cell::from(format!("#{}", r.req.request_id)),
                Cell::from(fit(&printable(&r.req.method), 7)),
                Cell::from(fit(&path, path_width)),
                status,
            ];
            if tunnel {
                cells.push(Cell::from(format!("{latency:>9}")));
            }
            let row = TableRow::new(cells);
            if Some(i) == selected {
                row.style(Style::new().add_modifier(Modifier::REVERSED))
            } else {
                row
            }
        })
        .collect();
    let mut widths = vec![
        Constraint::Length(8),
        Constraint::Length(6),
        Constraint::Length(7),
        Constraint::Fill(1),
        Constraint::Length(8),
    ];
    let mut heading = vec![
        "TIME",
        "#",
        "METHOD",
        "PATH",
        if tunnel { "STATUS" } else { "SIZE" },
    ];
    if tunnel {
        widths.push(Constraint::Length(9));
        heading.push("  LATENCY");
    }
    let table = Table::new(rows, widths)
        .header(TableRow::new(heading).style(Style::new().add_modifier(Modifier::BOLD)))
        .block(block);
    frame.render_widget(table, area);
}

fn border(focused: bool) -> Style {
    if focused {
        Style::new().add_modifier(Modifier::BOLD)
    } else {
        Style::new().add_modifier(Modifier::DIM)
    }
}

fn draw_detail(frame: &mut Frame<'_>, s: &State, area: Rect) {
    let focused = s.pane == Pane::Detail;
    let title = match s.selected() {
        Some(r) => format!(" Request #{} ", r.req.request_id),
        None => " Request ".to_owned(),
    };
    let block = Block::new()
        .borders(Borders::ALL)
        .title(title)
        .border_style(border(focused));
    let text = match s.selected() {
        Some(r) => detail_lines(r),
        None => vec![Line::from(if s.filter().is_some() {
            " no request matches the filter (/ to change it, empty to clear)"
        } else {
            " waiting for requests…"
        })],
    };
    frame.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((s.scroll, 0)),
        area,
    );
}

fn heading(text: String) -> Line<'static> {
    Line::styled(text, Style::new().add_modifier(Modifier::BOLD))
}

fn detail_lines(r: &Row) -> Vec<Line<'static>> {
    let mut lines = vec![heading(format!(
        "{} {}",
        printable(&r.req.method),
        printable(&crate::core::urls::target(&r.req.path, &r.req.query))
    ))];
    let mut about = rfc3339(r.at);
    if r.req.replay {
        about.push_str(" · replay");
    }
    if let Some(t) = &r.target {
        about.push_str(&format!(" · to {t}"));
    }
    lines.push(Line::from(about));
    lines.push(Line::default());
    header_block(&mut lines, &r.req.headers);
    body_block(&mut lines, &r.req.headers, &r.req.body);
    lines.push(Line::default());
    match &r.delivery {
        Delivery::None => {}
        Delivery::Pending { retry } => {
            lines.push(heading("Answer: pending".into()));
            if let Some(why) = retry {
                lines.push(Line::from(format!(
                    "the app did not answer: {}",
                    printable(why)
                )));
            }
        }
        Delivery::Failed { error } => {
            lines.push(heading("Answer: failed".into()));
            lines.push(Line::from(printable(error)));
        }
        Delivery::Answered {
            status,
            latency_ms,
            headers,
            body,
        } => {
            lines.push(heading(format!("Answer: {status} in {latency_ms:.1} ms")));
            header_block(&mut lines, headers);
            body_block(&mut lines, headers, body);
        }
    }
    lines
}

fn header_block(lines: &mut Vec<Line<'static>>, headers: &[Header]) {
    let name = Style::new().add_modifier(Modifier::DIM);
    for (n, v) in headers {
        lines.push(Line::from(vec![
            Span::styled(format!("{}: ", printable(n)), name),
            Span::raw(printable(v)),
        ]));
    }
}

fn body_block(lines: &mut Vec<Line<'static>>, headers: &[Header], body: &[u8]) {
    if body.is_empty() {
        return;
    }
    lines.push(Line::default());
    for line in body_text(headers, body).lines() {
        lines.push(Line::from(printable(&line.replace('\t', "    "))));
    }
}

/// A body as text: pretty JSON when it parses as JSON, UTF-8 text as
/// it is, anything else as its size.
pub fn body_text(headers: &[Header], body: &[u8]) -> String {
    let shown = &body[..body.len().min(BODY_SHOWN)];
    let more = body.len() - shown.len();
    let tail = if more > 0 {
        format!("\n… ({more} more bytes)")
    } else {
        String::new()
    };
    if more == 0
        && let Ok(json) = serde_json::from_slice::<serde_json::Value>(body)
        && let Ok(pretty) = serde_json::to_string_pretty(&json)
    {
        return pretty;
    }
    match std::str::from_utf8(shown) {
        Ok(text) => format!("{text}{tail}"),
        Err(e) if more > 0 && e.error_len().is_none() => {
            // Cut inside a character: the text up to it.
            format!(
                "{}{tail}",
                String::from_utf8_lossy(&shown[..e.valid_up_to()])
            )
        }
        Err(_) => {
            let kind = crate::core::headers::get(headers, "content-type").unwrap_or("binary");
            format!("({}, {} bytes)", printable(kind), body.len())
        }
    }
}

fn status_line(s: &State) -> Line<'static> {
    if let Some(text) = &s.prompt {
        let mut spans = vec![Span::styled(
            format!(" filter: {}█", printable(text)),
            Style::new().add_modifier(Modifier::BOLD),
        )];
        if let Some(e) = &s.status {
            spans.push(Span::raw(format!("   {}", printable(e))));
        }
        return Line::from(spans);
    }
    Line::from(format!(
        " {}",
        s.status.as_deref().map(printable).unwrap_or_default()
    ))
}

fn help_line(s: &State) -> &'static str {
    match (&s.prompt, s.pane) {
        (Some(_), _) => {
            " Enter apply · Esc cancel · empty clears · e.g. method=POST path=/hooks/* header.x-kind=ping json:/type=paid"
        }
        (None, Pane::List) => {
            " ↑↓/jk move · Enter/Tab detail · r replay · / filter · g/G first/last · q quit"
        }
        (None, Pane::Detail) => " ↑↓/jk scroll · Enter/Tab/Esc list · r replay · / filter · q quit",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_show_as_pretty_json_text_or_size() {
        let json: Vec<Header> = vec![("content-type".into(), "application/json".into())];
        assert_eq!(
            body_text(&json, b"{\"a\":{\"b\":1}}"),
            "{\n  \"a\": {\n    \"b\": 1\n  }\n}"
        );
        assert_eq!(body_text(&[], b"plain text"), "plain text");
        let png: Vec<Header> = vec![("content-type".into(), "image/png".into())];
        assert_eq!(body_text(&png, &[0x89, 0xff, 0x00]), "(image/png, 3 bytes)");
        let big = "x".repeat(BODY_SHOWN + 5);
        assert!(body_text(&[], big.as_bytes()).ends_with("… (5 more bytes)"));
    }

    #[test]
    fn long_text_is_cut_with_an_ellipsis() {
        assert_eq!(fit("/short", 10), "/short");
        assert_eq!(fit("/a/very/long/path", 8), "/a/very…");
    }
}
