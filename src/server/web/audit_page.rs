//! `GET /audit` (admin): the audit log as a page, newest first, fifty at
//! a time — the same entries `GET /api/audit` answers.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::error_page::PageError;
use super::layout::{Layout, render};
use crate::core::views::AuditEntry;
use crate::server::state::AppState;
use crate::server::web::api::audit::page;
use crate::server::web::auth::Principal;

/// Entries per page.
const PER_PAGE: usize = 50;

/// The route.
pub fn router() -> Router<AppState> {
    Router::new().route("/audit", get(audit))
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    layout: Layout,
    entries: Vec<AuditEntry>,
    older: Option<i64>,
    paged: bool,
}

/// Query of `GET /audit`.
#[derive(Debug, Deserialize)]
pub struct AuditQuery {
    before: Option<i64>,
}

async fn audit(
    State(state): State<AppState>,
    principal: Principal,
    Query(q): Query<AuditQuery>,
) -> Result<Response, PageError> {
    let p = page(&state, q.before, PER_PAGE).await?;
    Ok(render(&AuditPage {
        layout: Layout::new(&state, &principal),
        entries: p.entries,
        older: p.next,
        paged: q.before.is_some(),
    }))
}
