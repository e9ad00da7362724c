//! The settings forms' answers: the confirmation after a save (a fixed
//! `?saved=` marker, never text echoed from the URL), and a failed
//! submission shown again in its form, the typed values kept and the
//! error beside the offending field in plain words.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{Redirect, Response};

use super::{InspectorPage, PageParams, inspector, render};
use crate::core::model::Bin;
use crate::server::state::AppState;
use crate::server::web::auth::Principal;
use crate::server::web::error_page::PageError;

/// The secret schemes the form offers: value and label.
const SCHEMES: [(&str, &str); 7] = [
    ("standard-webhooks", "Standard Webhooks / Svix (whsec_…)"),
    ("stripe", "Stripe (whsec_…)"),
    ("github", "GitHub"),
    ("slack", "Slack (signing secret)"),
    ("shopify", "Shopify (client secret)"),
    ("twilio", "Twilio (auth token)"),
    ("header", "Static header (e.g. AssemblyAI)"),
];

/// A scheme's short name for a confirmation.
fn scheme_name(scheme: &str) -> Option<&'static str> {
    Some(match scheme {
        "standard-webhooks" => "Standard Webhooks",
        "stripe" => "Stripe",
        "github" => "GitHub",
        "slack" => "Slack",
        "shopify" => "Shopify",
        "twilio" => "Twilio",
        "header" => "Static header",
        _ => return None,
    })
}

/// The add-a-rule form's values as typed.
pub(super) struct RuleInput {
    pub name: String,
    pub conditions: String,
    pub attempts: String,
    pub action: String,
    pub status: String,
    pub delay_ms: String,
    pub headers: String,
    pub body: String,
}

impl Default for RuleInput {
    fn default() -> Self {
        Self {
            name: String::new(),
            conditions: String::new(),
            attempts: String::new(),
            action: "respond".into(),
            status: "503".into(),
            delay_ms: "0".into(),
            headers: String::new(),
            body: String::new(),
        }
    }
}

/// The settings forms' state on the page.
#[derive(Default)]
pub(super) struct FormState {
    /// The panel shown open: "response", "rules", "alias", "secrets".
    pub open: &'static str,
    /// A confirmation of what was saved ("" for none).
    pub notice: String,
    /// The id of the field in error ("" for none) and what is wrong.
    pub field: &'static str,
    pub error: String,
    /// The add-a-rule form's values.
    pub rule: RuleInput,
    /// A refused alias, as typed.
    pub alias: Option<String>,
    /// Refused rules of the edit-all-as-JSON form, as typed.
    pub rules_json: Option<String>,
    /// The secret form's scheme and header name.
    pub scheme: String,
    pub header_name: String,
}

impl FormState {
    /// The confirmation for `?saved=` (one of a fixed set); names come
    /// from the bin, not the URL.
    pub fn saved(saved: Option<&str>, n: Option<u64>, what: Option<&str>, bin: &Bin) -> Self {
        let (open, notice) = match saved.unwrap_or("") {
            "response" => ("response", "Response saved".to_owned()),
            "rule-added" => (
                "rules",
                match what.filter(|w| bin.rules.iter().any(|r| r.name == *w)) {
                    Some(name) => format!("Rule \u{2018}{name}\u{2019} added"),
                    None => "Rule added".into(),
                },
            ),
            "rule-deleted" => ("rules", "Rule deleted".into()),
            "rules" => ("rules", "Rules saved".into()),
            "alias" => (
                "alias",
                match &bin.alias {
                    Some(a) => format!("Alias saved: {a}"),
                    None => "Alias removed".into(),
                },
            ),
            s @ ("secret" | "secret-removed") => {
                let name = what.and_then(scheme_name).unwrap_or("The");
                let mut text = if s == "secret" {
                    format!("{name} secret saved")
                } else {
                    format!("{name} secret removed")
                };
                if let Some(n) = n {
                    let requests = if n == 1 { "request" } else { "requests" };
                    text.push_str(&format!(" \u{2014} {n} stored {requests} re-checked"));
                }
                ("secrets", text)
            }
            _ => ("", String::new()),
        };
        Self {
            open,
            notice,
            ..Self::default()
        }
    }

    /// A failed submission of the form in `open`: `field` is in error.
    pub fn failed(open: &'static str, field: &'static str, error: String) -> Self {
        Self {
            open,
            field,
            error,
            ..Self::default()
        }
    }

    /// True when `field` is the one in error.
    pub fn err(&self, field: &str) -> bool {
        !self.field.is_empty() && self.field == field
    }

    /// The error attributes of `field`'s input ("" when it is fine); the
    /// ids are fixed, so the text is safe to insert unescaped.
    pub fn attrs(&self, field: &str) -> String {
        if self.err(field) {
            format!(r#" aria-invalid="true" aria-describedby="{field}-error""#)
        } else {
            String::new()
        }
    }

    /// True when panel `panel` has a confirmation to show.
    pub fn notice_in(&self, panel: &str) -> bool {
        !self.notice.is_empty() && self.open == panel
    }

    /// The form's secret schemes.
    pub fn schemes(&self) -> &'static [(&'static str, &'static str)] {
        &SCHEMES
    }
}

/// The redirect after a save: back to the page, the selection kept, with
/// the `saved` marker (and `extra` query pairs) for the confirmation.
pub(super) fn saved_redirect(
    id: uuid::Uuid,
    r: Option<i64>,
    saved: &str,
    extra: &[(&str, &str)],
    fragment: &str,
) -> Redirect {
    let mut q = form_urlencoded::Serializer::new(String::new());
    if let Some(r) = r {
        q.append_pair("r", &r.to_string());
    }
    q.append_pair("saved", saved);
    for (k, v) in extra {
        q.append_pair(k, v);
    }
    Redirect::to(&format!("/bins/{id}?{}#{fragment}", q.finish()))
}

/// The page again with a failed form: 400, `form` open with its error,
/// `fill` putting the typed values back.
pub(super) async fn failed_page(
    state: &AppState,
    principal: &Principal,
    id: uuid::Uuid,
    r: Option<i64>,
    headers: &HeaderMap,
    form: FormState,
    fill: impl FnOnce(&mut InspectorPage),
) -> Result<Response, PageError> {
    let params = PageParams {
        r,
        ..PageParams::default()
    };
    let mut page = inspector(state, principal, id, params, headers, Some(form)).await?;
    fill(&mut page);
    let mut res = render(&page);
    *res.status_mut() = StatusCode::BAD_REQUEST;
    Ok(res)
}

/// A checker's message in plain words: without the `rules[0] ("name"): `
/// position prefix, starting with a capital, ending with a full stop.
pub(super) fn plain(msg: &str) -> String {
    let mut m = msg;
    if let Some(rest) = m.strip_prefix("rules[")
        && let Some(end) = rest.find(']')
    {
        let after = &rest[end + 1..];
        m = if let Some(x) = after.strip_prefix(": ") {
            x
        } else if after.starts_with(" (") {
            after.find("): ").map_or(after, |i| &after[i + 3..])
        } else {
            after
        };
    }
    let mut out: String = m.trim().to_owned();
    if let Some(first) = out.get(..1) {
        out = first.to_ascii_uppercase() + &out[1..];
    }
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The first header line without a colon, as a plain-words error.
pub(super) fn header_line_error(text: &str) -> Option<String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
        .find(|(_, l)| !l.contains(':'))
        .map(|(i, l)| {
            format!(
                "Header line {} (\u{201c}{l}\u{201d}) has no colon. Write one header per line as Name: value, e.g. Content-Type: application/json.",
                i + 1
            )
        })
}

/// The first condition that does not parse, as a plain-words error.
pub(super) fn condition_error(conditions: &[String]) -> Option<String> {
    conditions.iter().enumerate().find_map(|(i, c)| {
        let e = crate::core::matcher::Match::parse(std::slice::from_ref(c)).err()?;
        let prefix = format!("condition {c:?}: ");
        let why = e.strip_prefix(&prefix).unwrap_or(&e).trim_end_matches('.');
        Some(format!(
            "Condition {} is not valid: in condition {c:?}, {why}. Write it like json:/status=completed.",
            i + 1
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::{condition_error, header_line_error, plain};

    #[test]
    fn messages_read_plainly() {
        assert_eq!(
            plain("rules[0] (\"flaky\"): attempts \"x\" is not a range"),
            "Attempts \"x\" is not a range."
        );
        assert_eq!(plain("rules[1]: the name is taken"), "The name is taken.");
        assert!(header_line_error("A: b\nnocolon").is_some_and(|e| e.starts_with("Header line 2")));
        assert!(header_line_error("A: b").is_none());
        let e = condition_error(&["method=POST".into(), "nonsense".into()]).expect("bad");
        assert!(
            e.starts_with("Condition 2 is not valid: in condition \"nonsense\", "),
            "{e}"
        );
        assert!(condition_error(&["method=POST".into()]).is_none());
    }
}
