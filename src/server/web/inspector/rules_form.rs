//! The inspector's rule and alias forms: add a response rule, delete one,
//! replace them all as JSON, set the alias. Each answers with a redirect
//! back to the page, so every one works without JavaScript; checking is
//! [`crate::server::services::bins::Bins::set_rules`]'s, as for the API.

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::post;
use axum::{Form, Router};
use serde::Deserialize;

use super::form_errors::{
    FormState, RuleInput, condition_error, failed_page, header_line_error, plain, saved_redirect,
};
use super::forms::parse_header_lines;
use crate::core::model::{Action, ResponseConfig, RuleConfig};
use crate::server::services::bins::BinError;
use crate::server::state::AppState;
use crate::server::web::auth::Principal;
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
    #[serde(default)]
    name: String,
    /// One condition a line.
    #[serde(default)]
    conditions: String,
    #[serde(default)]
    attempts: String,
    #[serde(default)]
    action: String,
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

/// A field in error and what is wrong.
type FieldError = (&'static str, String);

impl RuleForm {
    fn rule(&self) -> Result<RuleConfig, FieldError> {
        let action = match self.action.as_str() {
            "respond" => Action::Respond,
            "close" => Action::Close,
            "hang" => Action::Hang,
            _ => {
                let e = "Pick what the rule does: respond, close the connection or hang.";
                return Err(("rule-action", e.into()));
            }
        };
        let name = self.name.trim().to_owned();
        if name.is_empty() || name.len() > 64 {
            let e = "Give the rule a name of 1 to 64 characters, e.g. flaky.";
            return Err(("rule-name", e.into()));
        }
        let conditions: Vec<String> = self
            .conditions
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        if let Some(e) = condition_error(&conditions) {
            return Err(("rule-conditions", e));
        }
        let status = self.status.trim().parse::<u16>().map_err(|_| {
            let e = "The status must be a number from 200 to 599, e.g. 503.";
            ("rule-status", e.to_owned())
        })?;
        let delay_ms = match self.delay_ms.trim() {
            "" => 0,
            d => d.parse::<u64>().map_err(|_| {
                let e = "The delay must be a whole number of milliseconds, e.g. 250.";
                ("rule-delay", e.to_owned())
            })?,
        };
        if let Some(e) = header_line_error(&self.headers) {
            return Err(("rule-headers", e));
        }
        let headers =
            parse_header_lines(&self.headers).map_err(|e| ("rule-headers", e.to_string()))?;
        Ok(RuleConfig {
            name,
            conditions,
            attempts: Some(self.attempts.trim().to_owned()).filter(|a| !a.is_empty()),
            response: ResponseConfig {
                status,
                headers,
                body: self.body.clone(),
                delay_ms,
            },
            action,
        })
    }

    /// The values as typed, for the form shown again.
    fn input(self) -> RuleInput {
        RuleInput {
            name: self.name,
            conditions: self.conditions,
            attempts: self.attempts,
            action: self.action,
            status: self.status,
            delay_ms: self.delay_ms,
            headers: self.headers,
            body: self.body,
        }
    }
}

/// Which add-a-rule field a checker's message is about.
fn rule_field(msg: &str) -> &'static str {
    let m = plain(msg).to_ascii_lowercase();
    if m.starts_with("attempts") {
        "rule-attempts"
    } else if m.starts_with("status") {
        "rule-status"
    } else if m.starts_with("delay") {
        "rule-delay"
    } else if m.starts_with("header") {
        "rule-headers"
    } else if m.starts_with("condition") || m.starts_with("at most") {
        "rule-conditions"
    } else if m.contains("name") {
        "rule-name"
    } else {
        "rule-body"
    }
}

/// `POST /bins/{bin_id}/rules`: adds a rule after the others; invalid
/// input comes back in the form.
async fn add_rule(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
    headers: HeaderMap,
    Form(form): Form<RuleForm>,
) -> Result<Response, PageError> {
    let id = bin_id(&id)?;
    let mut rules = state.bins.get(id).await?.rules;
    let error = match form.rule() {
        Ok(rule) if rules.iter().any(|r| r.name == rule.name) => {
            let e = format!(
                "A rule named \u{201c}{}\u{201d} already exists; give this one another name.",
                rule.name
            );
            ("rule-name", e)
        }
        Ok(rule) => {
            let name = rule.name.clone();
            rules.push(rule);
            match state.bins.set_rules(id, rules).await {
                Ok(()) => {
                    let redirect = match form.r {
                        // Without a selection the URL stays the bare page.
                        None => Redirect::to(&format!("/bins/{id}#rules")),
                        r => saved_redirect(id, r, "rule-added", &[("what", &name)], "rules"),
                    };
                    return Ok(redirect.into_response());
                }
                Err(BinError::Invalid(m)) => (rule_field(&m), plain(&m)),
                Err(e) => return Err(e.into()),
            }
        }
        Err(e) => e,
    };
    let r = form.r;
    let fs = FormState {
        rule: form.input(),
        ..FormState::failed("rules", error.0, error.1)
    };
    failed_page(&state, &principal, id, r, &headers, fs, |_| ()).await
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
    // Back to the rules table, which shows the change.
    Ok(Redirect::to(&format!("/bins/{id}#rules")))
}

/// The edit-all-as-JSON form.
#[derive(Debug, Deserialize)]
pub struct RulesJsonForm {
    rules: String,
}

/// `POST /bins/{bin_id}/rules/json`: replaces every rule (reorder, edit);
/// rules that do not check come back in the form, as typed.
async fn replace_rules(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
    headers: HeaderMap,
    Form(form): Form<RulesJsonForm>,
) -> Result<Response, PageError> {
    let id = bin_id(&id)?;
    let text = form.rules.trim();
    let parsed: Result<Vec<RuleConfig>, String> = if text.is_empty() {
        Ok(Vec::new())
    } else {
        serde_json::from_str(text).map_err(|e| {
            format!(
                "These are not a JSON array of rules ({e}). A rule looks like \
                 {{\"name\": \"flaky\", \"match\": [\"method=POST\"], \"response\": {{\"status\": 503}}}}."
            )
        })
    };
    let error = match parsed {
        Ok(rules) => match state.bins.set_rules(id, rules).await {
            Ok(()) => return Ok(Redirect::to(&format!("/bins/{id}#rules")).into_response()),
            Err(BinError::Invalid(m)) => plain(&m),
            Err(e) => return Err(e.into()),
        },
        Err(m) => m,
    };
    let fs = FormState {
        rules_json: Some(form.rules),
        ..FormState::failed("rules", "rules-json", error)
    };
    failed_page(&state, &principal, id, None, &headers, fs, |_| ()).await
}

/// The alias form; empty removes it.
#[derive(Debug, Deserialize)]
pub struct AliasForm {
    #[serde(default)]
    alias: String,
    r: Option<i64>,
}

/// `POST /bins/{bin_id}/alias`: a refused alias comes back in the form.
async fn set_alias(
    State(state): State<AppState>,
    Path(id): Path<String>,
    principal: Principal,
    headers: HeaderMap,
    Form(form): Form<AliasForm>,
) -> Result<Response, PageError> {
    let id = bin_id(&id)?;
    let alias = Some(form.alias.trim().to_owned()).filter(|a| !a.is_empty());
    let error = match state.bins.set_alias(id, alias).await {
        Ok(()) => return Ok(saved_redirect(id, form.r, "alias", &[], "settings").into_response()),
        Err(BinError::Invalid(m)) => plain(&m),
        Err(BinError::AliasTaken) => {
            "Another bin already uses this alias; pick another.".to_owned()
        }
        Err(e) => return Err(e.into()),
    };
    let fs = FormState {
        alias: Some(form.alias),
        ..FormState::failed("alias", "alias-input", error)
    };
    failed_page(&state, &principal, id, form.r, &headers, fs, |_| ()).await
}
