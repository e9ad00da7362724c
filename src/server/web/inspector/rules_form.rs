//! The inspector's rule and alias forms: add a response rule, delete one,
//! replace them all as JSON, set the alias. Each answers with a redirect
//! back to the page, so every one works without JavaScript; checking is
//! [`crate::server::services::bins::Bins::set_rules`]'s, as for the API.

use axum::extract::{Path, State};
use axum::response::Redirect;
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use super::forms::parse_header_lines;
use crate::core::model::{Action, ResponseConfig, RuleConfig};
use crate::server::error::AppError;
use crate::server::state::AppState;
use crate::server::web::bin_id;
use crate::server::web::error_page::PageError;

/// The form routes.
pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/bins/{bin_id}/rules", post(add_rule))
        .route("/bins/{bin_id}/rules/json", post(replace_rules))
        .route("/bins/{bin_id}/rules/delete", post(delete_rule))
        .route("/bins/{bin_id}/alias", post(set_alias))
}

/// The add-a-rule form.
#[derive(Debug, Deserialize)]
pub struct RuleForm {
    name: String,
    /// One condition a line.
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    attempts: String,
    action: String,
    status: u16,
    #[serde(default)]
    headers: String,
    #[serde(default)]
    body: String,
    #[serde(default)]
    delay_ms: u64,
}

impl RuleForm {
    fn rule(self) -> Result<RuleConfig, AppError> {
        let action = match self.action.as_str() {
            "respond" => Action::Respond,
            "close" => Action::Close,
            "hang" => Action::Hang,
            other => {
                return Err(AppError::BadRequest(format!(
                    "action {other:?} is not one of respond, close, hang"
                )));
            }
        };
        Ok(RuleConfig {
            name: self.name.trim().to_owned(),
            conditions: self
                .conditions
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            attempts: Some(self.attempts.trim().to_owned()).filter(|a| !a.is_empty()),
            response: ResponseConfig {
                status: self.status,
                headers: parse_header_lines(&self.headers)?,
                body: self.body,
                delay_ms: self.delay_ms,
            },
            action,
        })
    }
}

/// `POST /bins/{bin_id}/rules`: adds a rule after the others.
async fn add_rule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<RuleForm>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    let mut rules = state.bins.get(id).await?.rules;
    rules.push(form.rule()?);
    state.bins.set_rules(id, rules).await?;
    Ok(Redirect::to(&format!("/bins/{id}#rules")))
}

/// The delete button of one rule.
#[derive(Debug, Deserialize)]
pub struct DeleteRuleForm {
    name: String,
}

/// `POST /bins/{bin_id}/rules/delete`: by name, so a page open while the
/// rules changed elsewhere never deletes another rule.
async fn delete_rule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<DeleteRuleForm>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    let mut rules = state.bins.get(id).await?.rules;
    let before = rules.len();
    rules.retain(|r| r.name != form.name);
    if rules.len() != before {
        state.bins.set_rules(id, rules).await?;
    }
    Ok(Redirect::to(&format!("/bins/{id}#rules")))
}

/// The edit-all-as-JSON form.
#[derive(Debug, Deserialize)]
pub struct RulesJsonForm {
    rules: String,
}

/// `POST /bins/{bin_id}/rules/json`: replaces every rule (reorder, edit).
async fn replace_rules(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<RulesJsonForm>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    let text = form.rules.trim();
    let rules: Vec<RuleConfig> = if text.is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(text).map_err(|e| {
            AppError::BadRequest(format!(
                "the rules are not a JSON array of rules ({e}); see GET /api/bins/{id}/rules for the shape"
            ))
        })?
    };
    state.bins.set_rules(id, rules).await?;
    Ok(Redirect::to(&format!("/bins/{id}#rules")))
}

/// The alias form; empty removes it.
#[derive(Debug, Deserialize)]
pub struct AliasForm {
    #[serde(default)]
    alias: String,
}

/// `POST /bins/{bin_id}/alias`.
async fn set_alias(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Form(form): Form<AliasForm>,
) -> Result<Redirect, PageError> {
    let id = bin_id(&id)?;
    let alias = Some(form.alias.trim().to_owned()).filter(|a| !a.is_empty());
    state.bins.set_alias(id, alias).await?;
    Ok(Redirect::to(&format!("/bins/{id}")))
}
