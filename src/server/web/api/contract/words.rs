//! The words of a refusal: where a call breaks the document, what the
//! validator says there (a failed `anyOf` through its meant branch, a
//! `not` by the value it refuses), and what the document says that place
//! is for.

use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::{MAX_REASONS, resolve};
use crate::server::error::AppError;

/// The description of what `pointer` (an instance location) points at,
/// found by walking the schema; `None` when the walk loses it.
pub(super) fn describe<'a>(root: &'a Value, pointer: &str) -> Option<&'a str> {
    let mut schema = resolve(root, root);
    let mut found = schema.get("description").and_then(Value::as_str);
    for seg in pointer.split('/').skip(1) {
        let seg = seg.replace("~1", "/").replace("~0", "~");
        // A property's own words first, then those of what it refers to.
        schema = step(root, schema, &seg)?;
        found = [schema, resolve(root, schema)]
            .iter()
            .find_map(|s| s.get("description").and_then(Value::as_str))
            .or(found);
    }
    found
}

/// One step of [`describe`]: into a property, or an item of an array.
fn step<'a>(root: &'a Value, schema: &'a Value, seg: &str) -> Option<&'a Value> {
    let schema = resolve(root, schema);
    if let Some(s) = schema.pointer(&format!("/properties/{}", seg.replace('/', "~1"))) {
        return Some(s);
    }
    if let Ok(i) = seg.parse::<usize>() {
        if let Some(s) = schema.get("prefixItems").and_then(|p| p.get(i)) {
            return Some(s);
        }
        if let Some(s) = schema.get("items").filter(|s| s.is_object()) {
            return Some(s);
        }
    }
    ["allOf", "anyOf", "oneOf"]
        .iter()
        .filter_map(|k| schema.get(*k).and_then(Value::as_array))
        .flatten()
        .find_map(|s| step(root, s, seg))
}

/// Where a validation error is and what it says, in the words closest to
/// the fix: a failed `anyOf`/`oneOf` speaks through the deepest error of
/// its branches (a branch that is only the wrong type, such as `null`,
/// says least), a failed `not` names the refused value rather than
/// printing the schema.
pub(super) fn reason(e: &jsonschema::ValidationError<'_>) -> (String, String) {
    let (at, what) = reason_in_full(e);
    // Messages open with the value: a long one is cut so the reason shows.
    let value = e.instance().to_string();
    let what = match what.strip_prefix(&value) {
        Some(rest) if value.len() > 80 => format!("{}{rest}", clipped(&value, 60)),
        _ => what,
    };
    (at, clipped(&what, 300))
}

/// At most `n` characters: an error may quote a whole body.
fn clipped(text: &str, n: usize) -> String {
    match text.char_indices().nth(n) {
        Some((i, _)) => format!("{}…", &text[..i]),
        None => text.to_owned(),
    }
}

fn reason_in_full(e: &jsonschema::ValidationError<'_>) -> (String, String) {
    use jsonschema::error::ValidationErrorKind as K;
    let at = e.instance_path().to_string();
    match e.kind() {
        K::Not { .. } => (
            at,
            format!("{} is one of the values refused here", e.instance()),
        ),
        K::AnyOf { context } | K::OneOfNotValid { context } => {
            // The branch meant is the one whose shape fits here: no error
            // at this very place, or else the only one whose type fits;
            // it speaks through its deepest error.
            let at_here = |b: &&Vec<jsonschema::ValidationError<'static>>, only_type: bool| {
                b.iter().any(|e| {
                    e.instance_path().to_string() == at
                        && (!only_type || matches!(e.kind(), K::Type { .. }))
                })
            };
            let clean: Vec<_> = context.iter().filter(|b| !at_here(b, false)).collect();
            let typed: Vec<_> = context.iter().filter(|b| !at_here(b, true)).collect();
            let branch = match (clean.first(), typed.as_slice()) {
                (Some(b), _) => Some(*b),
                (None, [only]) => Some(*only),
                _ => None,
            };
            branch
                .and_then(|b| {
                    b.iter()
                        .map(reason)
                        .max_by_key(|(path, _)| path.matches('/').count())
                })
                .unwrap_or_else(|| {
                    let what = format!("{} is none of the forms allowed here", e.instance());
                    (at, what)
                })
        }
        _ => (at, e.to_string()),
    }
}

pub(super) fn too_large(limit: usize) -> Response {
    let error = format!(
        "the body is over {limit} bytes: send a smaller one (an import: split it into several)"
    );
    (
        axum::http::StatusCode::PAYLOAD_TOO_LARGE,
        axum::Json(crate::core::views::ErrorBody { error }),
    )
        .into_response()
}

pub(super) fn refusal(method: &str, path: &str, reasons: &[String]) -> Response {
    let shown: Vec<&str> = reasons
        .iter()
        .take(MAX_REASONS)
        .map(String::as_str)
        .collect();
    AppError::BadRequest(format!(
        "{method} {path}: {}; nothing was changed. The API document (GET /api/openapi.json, or /api/docs) says what it takes",
        shown.join("; ")
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn first_reason(schema: Value, value: Value) -> (String, String) {
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .expect("schema");
        let e = v.iter_errors(&value).next().expect("an error");
        reason(&e)
    }

    #[test]
    fn a_failed_any_of_speaks_through_the_branch_meant() {
        let header = json!({"anyOf": [
            {"type": "object", "required": ["name"], "properties": {"name": {"minLength": 1}}},
            {"type": "null"},
        ]});
        let (at, what) = first_reason(header, json!({"name": ""}));
        assert_eq!(at, "/name");
        assert!(what.contains("shorter than 1"), "{what}");
        let forms = json!({"anyOf": [{"type": "array"}, {"type": "object", "required": ["log"]}]});
        let (at, what) = first_reason(forms, json!(7));
        assert_eq!(
            (at.as_str(), what.as_str()),
            ("", "7 is none of the forms allowed here")
        );
    }

    #[test]
    fn a_not_names_the_refused_value_and_long_values_are_cut() {
        let (_, what) = first_reason(json!({"not": {"enum": ["api"]}}), json!("api"));
        assert_eq!(what, "\"api\" is one of the values refused here");
        let long = "x".repeat(500);
        let (_, what) = first_reason(json!({"type": "integer"}), json!(long));
        assert!(
            what.chars().count() < 120 && what.ends_with("is not of type \"integer\""),
            "{what}"
        );
    }

    #[test]
    fn a_place_is_described_by_its_own_words_first() {
        let root = json!({
            "$ref": "#/components/schemas/Rule",
            "components": {"schemas": {
                "Rule": {"description": "A rule", "properties": {
                    "action": {"$ref": "#/components/schemas/Action", "description": "What it does"},
                    "name": {"type": "string"},
                }},
                "Action": {"description": "An action"},
            }},
        });
        assert_eq!(describe(&root, "/action"), Some("What it does"));
        assert_eq!(describe(&root, "/name"), Some("A rule"));
        assert_eq!(describe(&root, ""), Some("A rule"));
    }
}
