//! The inspector's forms: response settings, secrets, clear, delete,
//! replay (as captured, or edited). Each answers with a redirect back to
//! the page, so every one works without JavaScript.

use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use crate::core::headers::Header;
use crate::core::model::{Edits, ResponseConfig};
use crate::core::verify::Secrets;
use crate::server::error::AppError;
use crate::server::state::AppState;
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
}

/// The remove-a-secret form.
#[derive(Debug, Deserialize)]
pub struct RemoveSecretForm {
    scheme: String,
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
    Form(form): Form<SecretForm>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    let bin = state.bins.get(id).await?;
    let secrets = with_secret(
        bin.secrets,
        &form.scheme,
        Some((form.secret, form.header_name)),
    )?;
    state.bins.set_secrets(id, secrets).await?;
    Ok(Redirect::to(&format!("/bins/{id}")))
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
    state.bins.set_secrets(id, secrets).await?;
    Ok(Redirect::to(&format!("/bins/{id}")))
}

/// The response settings form.
#[derive(Debug, Deserialize)]
pub struct ResponseForm {
    status: u16,
    #[serde(default)]
    headers: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    delay_ms: u64,
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

/// `POST /bins/{bin_id}/response`.
async fn set_response(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<ResponseForm>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    let resp = ResponseConfig {
        status: form.status,
        headers: parse_header_lines(&form.headers)?,
        body: form.body,
        delay_ms: form.delay_ms,
    };
    state.bins.set_response(id, resp).await?;
    Ok(Redirect::to(&format!("/bins/{id}")))
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
    crate::server::replay::replay(&state, id, rid, edits).await?;
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
