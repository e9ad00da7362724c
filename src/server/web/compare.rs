//! Two requests side by side: `GET /bins/{bin_id}/compare?a=ID&b=ID`, with
//! a header table that marks what changed and a line diff of the bodies.

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;
use similar::{ChangeTag, TextDiff};

use super::bin_id;
use super::body_view::{self, BodyView};
use super::error_page::PageError;
use super::layout::{Layout, render};
use crate::core::headers::Header;
use crate::core::model::CapturedRequest;
use crate::core::time::rfc3339;
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::web::auth::Principal;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/bins/{bin_id}/compare", get(page))
}

/// Query of the compare page.
#[derive(Debug, Deserialize)]
pub struct CompareParams {
    a: i64,
    b: i64,
}

/// One side's facts.
struct Side {
    id: i64,
    method: String,
    target: String,
    time: String,
    size: usize,
}

/// A header name and its values on each side.
struct HeaderRow {
    name: String,
    a: String,
    b: String,
    /// `same`, `changed`, `only-a` or `only-b` (a CSS class).
    status: &'static str,
}

/// A line of the body diff: `same`, `removed` (only in A) or `added`.
struct Line {
    status: &'static str,
    text: String,
}

#[derive(Template)]
#[template(path = "compare.html")]
struct ComparePage {
    layout: Layout,
    bin_id: String,
    a: Side,
    b: Side,
    headers: Vec<HeaderRow>,
    lines: Vec<Line>,
    same_body: bool,
}

fn side(r: &CapturedRequest) -> Side {
    Side {
        id: r.id,
        method: r.req.method.clone(),
        target: r.req.target(),
        time: rfc3339(r.req.received_at),
        size: r.req.body.len(),
    }
}

/// Header names in first-seen order, each with both sides' values.
fn header_rows(a: &[Header], b: &[Header]) -> Vec<HeaderRow> {
    let values = |hs: &[Header], name: &str| {
        hs.iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut names: Vec<&str> = Vec::new();
    for (n, _) in a.iter().chain(b) {
        if !names.contains(&n.as_str()) {
            names.push(n);
        }
    }
    names
        .into_iter()
        .map(|name| {
            let (in_a, in_b) = (
                a.iter().any(|(n, _)| n == name),
                b.iter().any(|(n, _)| n == name),
            );
            let (va, vb) = (values(a, name), values(b, name));
            let status = match (in_a, in_b) {
                (true, false) => "only-a",
                (false, true) => "only-b",
                _ if va == vb => "same",
                _ => "changed",
            };
            HeaderRow {
                name: name.to_owned(),
                a: va,
                b: vb,
                status,
            }
        })
        .collect()
}

/// The text a body is compared as: pretty JSON, text, or a hex dump.
fn comparable(r: &CapturedRequest) -> String {
    let ct = r.header("content-type");
    match body_view::view(ct, r.header("content-encoding"), &r.req.body).0 {
        BodyView::Json(t) | BodyView::Text(t) | BodyView::Xml(t) => t,
        _ => body_view::hex_dump(&r.req.body[..r.req.body.len().min(64 * 1024)]),
    }
}

/// `GET /bins/{bin_id}/compare?a=&b=`.
async fn page(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(p): Query<CompareParams>,
) -> Result<Response, PageError> {
    let id = bin_id(&id)?;
    let missing = |n: i64| AppError::NotFound(format!("request #{n} is not in this bin"));
    let a = state
        .store
        .request(id, p.a)
        .await?
        .ok_or_else(|| missing(p.a))?;
    let b = state
        .store
        .request(id, p.b)
        .await?
        .ok_or_else(|| missing(p.b))?;
    let (ta, tb) = (comparable(&a), comparable(&b));
    let diff = TextDiff::from_lines(&ta, &tb);
    let lines = diff
        .iter_all_changes()
        .map(|c| Line {
            status: match c.tag() {
                ChangeTag::Equal => "same",
                ChangeTag::Delete => "removed",
                ChangeTag::Insert => "added",
            },
            text: c.value().trim_end_matches('\n').to_owned(),
        })
        .collect();
    Ok(render(&ComparePage {
        layout: Layout::new(&state, &principal),
        bin_id: id.to_string(),
        headers: header_rows(&a.req.headers, &b.req.headers),
        same_body: a.req.body == b.req.body,
        lines,
        a: side(&a),
        b: side(&b),
    }))
}

#[cfg(test)]
mod tests {
    use super::header_rows;

    #[test]
    fn header_rows_mark_changes() {
        let h = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect::<Vec<_>>()
        };
        let rows = header_rows(
            &h(&[("a", "1"), ("b", "2"), ("c", "x")]),
            &h(&[("a", "1"), ("b", "3"), ("d", "y")]),
        );
        let got: Vec<_> = rows.iter().map(|r| (r.name.as_str(), r.status)).collect();
        assert_eq!(
            got,
            [
                ("a", "same"),
                ("b", "changed"),
                ("c", "only-a"),
                ("d", "only-b")
            ]
        );
    }
}
