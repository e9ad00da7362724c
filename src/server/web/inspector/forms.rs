//! The inspector's forms: response settings, secrets, clear, delete,
//! replay (as captured, or edited). Each answers with a redirect back to
//! the page, so every one works without JavaScript.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use super::form_errors::{FormState, failed_page, header_line_error, plain, saved_redirect};
use crate::core::headers::Header;
use crate::core::model::{Edits, ResponseConfig};
use crate::core::verify::Secrets;
use crate::server::error::AppError;
use crate::server::services::bins::BinError;
use crate::server::state::AppState;
use crate::server::web::auth::Principal;
use crate::server::web::bin_id;
use crate::server::web::error_page::PageError;

/// The form routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/bins/{bin_id}/response", post(set_response))
        .route("/bins/{bin_id}/clear", post(clear))
        .route("/bins/{bin_id}/secrets", post(set_secret))
        .route("/bins/{bin_id}/secrets/remove", post(remove_secret))
        .route("/bins/{bin_id}/delete", post(delete_bin))
        .route("/bins/{bin_id}/requests/{id}/delete", post(delete_request))
        .route("/bins/{bin_id}/requests/{id}/replay", post(replay))
}

/// The add-a-secret form.
#[derive(Debug, Deserialize)]
pub struct SecretForm {
    scheme: String,
    secret: String,
    #[serde(default)]
    header_name: String,
    /// The selected request, kept across the save.
    r: Option<i64>,
}

/// The remove-a-secret form.
#[derive(Debug, Deserialize)]
pub struct RemoveSecretForm {
    scheme: String,
    r: Option<i64>,
}

/// Sets (`Some`) or removes (`None`) one scheme's secret.
fn with_secret(
    mut s: Secrets,
    scheme: &str,
    secret: Option<(String, String)>,
) -> Result<Secrets, AppError> {
    s.set(scheme, secret).map_err(AppError::BadRequest)?;
    Ok(s)
}

/// `POST /bins/{bin_id}/secrets`: adds or replaces one scheme's secret and
/// re-checks the stored requests.
async fn set_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
    headers: HeaderMap,
    Form(form): Form<SecretForm>,
) -> Result<Response, PageError> {
    let id = bin_id(&id)?;
    let bin = state.bins.get(id).await?;
    let secret = Some((form.secret, form.header_name.clone()));
    let saved = match with_secret(bin.secrets, &form.scheme, secret) {
        Ok(secrets) => state.bins.set_secrets(id, secrets).await,
        Err(AppError::BadRequest(m)) => Err(BinError::Invalid(m)),
        Err(e) => return Err(e.into()),
    };
    match saved {
        Ok(n) => {
            let n = n.to_string();
            let extra = [("what", form.scheme.as_str()), ("n", n.as_str())];
            Ok(saved_redirect(id, form.r, "secret", &extra, "settings").into_response())
        }
        Err(BinError::Invalid(m)) => {
            let field = if form.scheme == "header" && m.contains("header") {
                "secret-header"
            } else {
                "secret"
            };
            let state_ = FormState {
                scheme: form.scheme,
                header_name: form.header_name,
                ..FormState::failed("secrets", field, plain(&m))
            };
            failed_page(&state, &principal, id, form.r, &headers, state_, |_| ()).await
        }
        Err(e) => Err(e.into()),
    }
}

/// `POST /bins/{bin_id}/secrets/remove`.
async fn remove_secret(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<RemoveSecretForm>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    let bin = state.bins.get(id).await?;
    let secrets = with_secret(bin.secrets, &form.scheme, None)?;
    let n = state.bins.set_secrets(id, secrets).await?.to_string();
    let extra = [("what", form.scheme.as_str()), ("n", n.as_str())];
    Ok(saved_redirect(
        id,
        form.r,
        "secret-removed",
        &extra,
        "settings",
    ))
}

/// The response settings form.
#[derive(Debug, Deserialize)]
pub struct ResponseForm {
    #[serde(default)]
    status: String,
    #[serde(default)]
    headers: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    delay_ms: String,
    /// The selected request, kept across the save.
    r: Option<i64>,
}

impl ResponseForm {
    /// The response, or the field in error and what is wrong.
    fn response(&self) -> Result<ResponseConfig, (&'static str, String)> {
        let status = self.status.trim().parse::<u16>().map_err(|_| {
            let e = "The status must be a number from 200 to 599, e.g. 200.";
            ("response-status", e.to_owned())
        })?;
        let delay_ms = match self.delay_ms.trim() {
            "" => 0,
            d => d.parse::<u64>().map_err(|_| {
                let e = "The delay must be a whole number of milliseconds, e.g. 250.";
                ("response-delay", e.to_owned())
            })?,
        };
        if let Some(e) = header_line_error(&self.headers) {
            return Err(("response-headers", e));
        }
        let resp = ResponseConfig {
            status,
            headers: parse_header_lines(&self.headers)
                .map_err(|e| ("response-headers", e.to_string()))?,
            body: self.body.clone(),
            delay_ms,
        };
        resp.validate().map_err(|m| {
            let field = if m.starts_with("status") {
                "response-status"
            } else if m.starts_with("delay") {
                "response-delay"
            } else if m.contains("body") {
                "response-body"
            } else {
                "response-headers"
            };
            (field, plain(&m))
        })?;
        Ok(resp)
    }
}

/// Headers as `Name: value` lines (what [`parse_header_lines`] reads).
pub(super) fn header_lines(headers: &[Header]) -> String {
    headers
        .iter()
        .map(|(n, v)| format!("{n}: {v}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Parses `Name: value` lines; blank lines are skipped.
pub(super) fn parse_header_lines(text: &str) -> Result<Vec<Header>, AppError> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|line| {
            let (name, value) = line.split_once(':').ok_or_else(|| {
                AppError::BadRequest(format!(
                    "header line {line:?} has no colon: write one header per line as Name: value"
                ))
            })?;
            Ok((name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        })
        .collect()
}

/// `POST /bins/{bin_id}/response`: invalid input comes back in the form.
async fn set_response(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
    headers: HeaderMap,
    Form(form): Form<ResponseForm>,
) -> Result<Response, PageError> {
    let id = bin_id(&id)?;
    let error = match form.response() {
        Ok(resp) => match state.bins.set_response(id, resp).await {
            Ok(()) => {
                return Ok(saved_redirect(id, form.r, "response", &[], "settings").into_response());
            }
            Err(BinError::Invalid(m)) => ("response-headers", plain(&m)),
            Err(e) => return Err(e.into()),
        },
        Err(e) => e,
    };
    let r = form.r;
    let fs = FormState::failed("response", error.0, error.1);
    failed_page(&state, &principal, id, r, &headers, fs, move |p| {
        p.status = form.status;
        p.headers_text = form.headers;
        p.body = form.body;
        p.delay_ms = form.delay_ms;
    })
    .await
}

/// `POST /bins/{bin_id}/clear`: deletes every request of the bin.
async fn clear(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    state.bins.delete_requests(id, None).await?;
    Ok(Redirect::to(&format!("/bins/{id}")))
}

/// `POST /bins/{bin_id}/delete`: deletes the bin; back to the home page.
async fn delete_bin(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    state.bins.delete(id).await?;
    Ok(Redirect::to("/"))
}

/// `POST /bins/{bin_id}/requests/{id}/replay`: sends it to the connected
/// tunnels again, then shows it with their answers.
async fn replay(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, i64)>,
    Form(form): Form<ReplayForm>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    let edits = match form.method {
        // The edit form: every field is the new value.
        Some(method) => {
            let (path, query) = form
                .target
                .split_once('?')
                .map_or((form.target.as_str(), ""), |(p, q)| (p, q));
            Some(Edits {
                method: Some(method),
                path: Some(path.to_owned()),
                query: Some(query.to_owned()),
                headers: Some(parse_header_lines(&form.headers)?),
                body: form.body,
                body_base64: None,
            })
        }
        None => None,
    };
    crate::server::replay::replay(&state, id, rid, edits, None).await?;
    Ok(Redirect::to(&format!("/bins/{id}?r={rid}")))
}

/// The replay buttons: empty for "replay as captured", filled for "edit
/// and replay".
#[derive(Debug, Deserialize)]
pub struct ReplayForm {
    method: Option<String>,
    #[serde(default)]
    target: String,
    #[serde(default)]
    headers: String,
    /// Absent when the body is binary (the form has no body field then).
    body: Option<String>,
}

/// `POST /bins/{bin_id}/requests/{id}/delete`.
async fn delete_request(
    State(state): State<AppState>,
    Path((id, rid)): Path<(String, i64)>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    state.bins.delete_requests(id, Some(rid)).await?;
    Ok(Redirect::to(&format!("/bins/{id}")))
}

#[cfg(test)]
mod tests {
    use super::parse_header_lines;

    #[test]
    fn header_lines_parse_and_reject() {
        let h = parse_header_lines("Content-Type: text/plain\n\nX-A:  b:c \n").expect("parses");
        assert_eq!(
            h,
            vec![
                ("content-type".into(), "text/plain".into()),
                ("x-a".into(), "b:c".into())
            ]
        );
        assert!(parse_header_lines("nocolon").is_err());
    }
}
