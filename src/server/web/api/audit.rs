//! `GET /api/audit` (admin, SPEC §16): the audit log, newest first, with
//! a cursor as the request listing has.

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::core::time::rfc3339;
use crate::core::views::{AuditEntry, AuditPage, ErrorBody};
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::store::AuditRecord;

/// Entries per page unless `limit` says otherwise.
const DEFAULT_LIMIT: usize = 50;
/// The most entries one page holds.
const MAX_LIMIT: usize = 1000;

/// The route, with its description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_audit))
}

/// Query of `GET /api/audit`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// Page size, 1 to 1000 (default 50).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// Entries older than this id.
    #[param(minimum = 1)]
    before: Option<i64>,
}

/// A page of entries, newest first, and the cursor of the next.
pub async fn page(
    state: &AppState,
    before: Option<i64>,
    limit: usize,
) -> Result<AuditPage, AppError> {
    let records = state.store.audit(before, limit).await?;
    let next = (records.len() == limit)
        .then(|| records.last().map(|r| r.id))
        .flatten();
    Ok(AuditPage {
        entries: records.into_iter().map(entry).collect(),
        next,
    })
}

fn entry(r: AuditRecord) -> AuditEntry {
    AuditEntry {
        id: r.id,
        at: rfc3339(r.at),
        who: r.who,
        via: r.via,
        address: r.address,
        action: r.action,
        target: r.target,
    }
}

/// The audit log: who changed what, when, from where, newest first.
#[utoipa::path(
    get, path = "/api/audit", tag = "tokens",
    params(AuditParams),
    responses(
        (status = 200, description = "A page of the audit log", body = AuditPage),
        (status = 400, description = "A malformed query", body = ErrorBody),
        (status = 401, description = "A token is needed", body = ErrorBody),
        (status = 403, description = "Only the admin scope reads the audit log", body = ErrorBody),
    )
)]
async fn list_audit(
    State(state): State<AppState>,
    params: Result<Query<AuditParams>, QueryRejection>,
) -> Result<Json<AuditPage>, AppError> {
    let Query(p) = params.map_err(|e| {
        AppError::BadRequest(format!("{}; use ?limit=1..1000&before=ID", e.body_text()))
    })?;
    let limit = match p.limit {
        None => DEFAULT_LIMIT,
        Some(n @ 1..=MAX_LIMIT) => n,
        Some(n) => {
            return Err(AppError::BadRequest(format!(
                "limit={n}: use 1 to {MAX_LIMIT}"
            )));
        }
    };
    if p.before.is_some_and(|b| b < 1) {
        return Err(AppError::BadRequest(
            "before must be an entry id (1 or more)".into(),
        ));
    }
    Ok(Json(page(&state, p.before, limit).await?))
}
