//! The API document, enforced: every `/api` call is checked against the
//! operation `GET /api/openapi.json` describes for it — path, query and
//! header parameters, whether a body is required, and the body's schema —
//! before its handler runs. What the document forbids is answered 400 with
//! the reasons in words and never reaches a handler, so it changes
//! nothing; the handlers' own checks come after, for what JSON Schema
//! cannot say (the document says those in words, under
//! [`crate::core::shapes::CHECKED_KEY`]).
//!
//! One place for every route: an operation added later is checked as soon
//! as it is described.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, RawPathParams, Request};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use super::refine::{EXCLUSIVE_KEY, LARGE_BODY_KEY};
use words::{describe, reason, refusal, too_large};

mod words;
use crate::server::capture::{BodyError, read_limited};
use crate::server::error::AppError;

/// How many reasons one refusal lists at most.
const MAX_REASONS: usize = 5;

/// Where a parameter is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Path,
    Query,
    Header,
}

/// How a parameter's text becomes the JSON value its schema checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Integer,
    Number,
    Boolean,
    Text,
}

struct Param {
    name: String,
    place: Place,
    required: bool,
    kind: Kind,
    description: String,
    validator: jsonschema::Validator,
}

struct BodyRule {
    required: bool,
    /// The most bytes read to check it.
    limit: usize,
    /// The root the validator was built from: the schema with the
    /// document's components, for finding a property's description.
    root: Value,
    validator: jsonschema::Validator,
}

struct Operation {
    params: Vec<Param>,
    exclusive: Vec<Vec<String>>,
    body: Option<BodyRule>,
}

/// Every described operation, by method and path template.
pub struct Contract {
    ops: HashMap<(String, String), Operation>,
    deadline: Duration,
}

/// The body limit of an operation not marked [`LARGE_BODY_KEY`]: axum's
/// default, which the handlers' extractors apply anyway.
const BODY_LIMIT: usize = 2 * 1024 * 1024;

/// `schema` with the document's components beside it, so that its
/// `#/components/…` references resolve.
fn rooted(schema: &Value, components: &Value) -> Value {
    let mut root = schema.clone();
    if let Some(obj) = root.as_object_mut() {
        obj.entry("components")
            .or_insert_with(|| components.clone());
    }
    root
}

fn compile(root: &Value) -> Result<jsonschema::Validator, String> {
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(root)
        .map_err(|e| e.to_string())
}

/// Follows a `$ref` into the components, once per step.
fn resolve<'a>(root: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..8 {
        match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => match r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                Some(target) => schema = target,
                None => break,
            },
            None => break,
        }
    }
    schema
}

fn kind(root: &Value, schema: &Value) -> Kind {
    let schema = resolve(root, schema);
    let types: Vec<&str> = match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if types.contains(&"integer") {
        Kind::Integer
    } else if types.contains(&"number") {
        Kind::Number
    } else if types.contains(&"boolean") {
        Kind::Boolean
    } else {
        Kind::Text
    }
}

impl Contract {
    /// Reads the serialised document; `large_body_limit` (for operations
    /// marked [`LARGE_BODY_KEY`]) and `deadline` bound the bodies it reads
    /// to check them.
    pub fn new(doc: &Value, large_body_limit: usize, deadline: Duration) -> Result<Self, String> {
        let components = doc.get("components").cloned().unwrap_or(Value::Null);
        let rootdoc = serde_json::json!({ "components": components });
        let mut ops = HashMap::new();
        let paths = doc.get("paths").and_then(Value::as_object);
        for (path, item) in paths.into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let at = format!("{} {path}", method.to_ascii_uppercase());
                let mut params = Vec::new();
                for p in op["parameters"].as_array().into_iter().flatten() {
                    let place = match p["in"].as_str() {
                        Some("path") => Place::Path,
                        Some("query") => Place::Query,
                        Some("header") => Place::Header,
                        _ => continue,
                    };
                    let schema = p.get("schema").unwrap_or(&Value::Bool(true));
                    let root = rooted(schema, &components);
                    params.push(Param {
                        name: p["name"].as_str().unwrap_or_default().to_owned(),
                        place,
                        required: p["required"].as_bool().unwrap_or(false),
                        kind: kind(&rootdoc, schema),
                        description: p["description"]
                            .as_str()
                            .unwrap_or_default()
                            .trim_end_matches('.')
                            .replace('\n', " "),
                        validator: compile(&root).map_err(|e| format!("{at}: {e}"))?,
                    });
                }
                let exclusive = op
                    .get(EXCLUSIVE_KEY)
                    .and_then(|v| serde_json::from_value(v.clone()).ok())
                    .unwrap_or_default();
                let body = match op.get("requestBody") {
                    Some(b) => {
                        let schema = b
                            .pointer("/content/application~1json/schema")
                            .unwrap_or(&Value::Bool(true));
                        let root = rooted(schema, &components);
                        let large = op.get(LARGE_BODY_KEY) == Some(&Value::Bool(true));
                        Some(BodyRule {
                            required: b["required"].as_bool().unwrap_or(false),
                            limit: if large { large_body_limit } else { BODY_LIMIT },
                            validator: compile(&root).map_err(|e| format!("{at}: {e}"))?,
                            root,
                        })
                    }
                    None => None,
                };
                ops.insert(
                    (method.to_ascii_uppercase(), path.clone()),
                    Operation {
                        params,
                        exclusive,
                        body,
                    },
                );
            }
        }
        Ok(Self { ops, deadline })
    }
}

/// A parameter's text as the JSON value its schema checks, or why not.
fn typed(kind: Kind, text: &str) -> Result<Value, String> {
    match kind {
        Kind::Integer => text
            .parse::<i64>()
            .map(Value::from)
            .or_else(|_| text.parse::<u64>().map(Value::from))
            .map_err(|_| format!("{text:?} is not a whole number")),
        Kind::Number => text
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| format!("{text:?} is not a number")),
        Kind::Boolean => match text {
            "true" => Ok(Value::Bool(true)),
            "false" => Ok(Value::Bool(false)),
            _ => Err(format!("{text:?} is not true or false")),
        },
        Kind::Text => Ok(Value::String(text.to_owned())),
    }
}

/// The reasons `params` (each one's text, when given) break the
/// operation's parameters.
fn check_params(op: &Operation, given: &dyn Fn(&Param) -> Option<String>) -> Vec<String> {
    let mut reasons = Vec::new();
    for p in &op.params {
        let place = match p.place {
            Place::Path => "path segment",
            Place::Query => "query parameter",
            Place::Header => "header",
        };
        let Some(text) = given(p) else {
            if p.required {
                reasons.push(format!(
                    "the {place} {} is required ({})",
                    p.name, p.description
                ));
            }
            continue;
        };
        let value = match typed(p.kind, &text) {
            Ok(v) => v,
            Err(why) => {
                reasons.push(format!("{place} {}: {why} ({})", p.name, p.description));
                continue;
            }
        };
        if let Some(e) = p.validator.iter_errors(&value).next() {
            let (_, e) = reason(&e);
            reasons.push(format!("{place} {}: {e} ({})", p.name, p.description));
        }
    }
    for group in &op.exclusive {
        let present: Vec<&String> = group
            .iter()
            .filter(|name| {
                op.params
                    .iter()
                    .any(|p| &p.name == *name && p.place == Place::Query && given(p).is_some())
            })
            .collect();
        if present.len() > 1 {
            let names: Vec<&str> = present.iter().map(|s| s.as_str()).collect();
            reasons.push(format!("give one of {}, not several", names.join(", ")));
        }
    }
    reasons
}

/// The reasons `body` breaks the operation's body rule (`None` when the
/// operation takes none).
fn check_body(rule: &BodyRule, body: &[u8]) -> Vec<String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return if rule.required {
            vec!["a JSON body is required".into()]
        } else {
            Vec::new()
        };
    }
    let value: Value = match serde_json::from_slice(body) {
        Ok(v) => v,
        Err(e) => return vec![format!("the body is not JSON ({e})")],
    };
    rule.validator
        .iter_errors(&value)
        .take(MAX_REASONS)
        .map(|e| {
            let (at, e) = reason(&e);
            let place = if at.is_empty() {
                "the body".to_owned()
            } else {
                format!("body {at}")
            };
            match describe(&rule.root, &at) {
                Some(what) => format!(
                    "{place}: {e} ({})",
                    what.trim_end_matches('.').replace('\n', " ")
                ),
                None => format!("{place}: {e}"),
            }
        })
        .collect()
}

/// The middleware: checks the call, then runs the handler.
pub async fn enforce(contract: Arc<Contract>, req: Request, next: Next) -> Response {
    let Some(template) = req
        .extensions()
        .get::<MatchedPath>()
        .map(|m| m.as_str().to_owned())
    else {
        return next.run(req).await;
    };
    let method = req.method().as_str().to_owned();
    let Some(op) = contract.ops.get(&(method.clone(), template.clone())) else {
        return next.run(req).await;
    };
    let (mut parts, body) = req.into_parts();
    let path_params: HashMap<String, String> = RawPathParams::from_request_parts(&mut parts, &())
        .await
        .map(|raw| {
            raw.iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut query: HashMap<String, String> = HashMap::new();
    let mut repeated = Vec::new();
    for (k, v) in form_urlencoded::parse(parts.uri.query().unwrap_or("").as_bytes()) {
        if query.contains_key(k.as_ref()) {
            repeated.push(k.into_owned());
        } else {
            query.insert(k.into_owned(), v.into_owned());
        }
    }
    let given = |p: &Param| -> Option<String> {
        match p.place {
            Place::Path => path_params.get(&p.name).cloned(),
            Place::Query => query.get(&p.name).cloned(),
            Place::Header => parts
                .headers
                .get(p.name.as_str())
                .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
        }
    };
    let mut reasons = check_params(op, &given);
    // A described parameter names one value; the handlers would refuse a
    // second one anyway, in less clear words.
    for name in repeated {
        let described = op
            .params
            .iter()
            .any(|p| p.place == Place::Query && p.name == name);
        if described
            && !reasons
                .iter()
                .any(|r| r.starts_with(&format!("give {name} once")))
        {
            reasons.push(format!("give {name} once"));
        }
    }
    let body = match &op.body {
        None => body,
        Some(rule) => {
            let bytes: Bytes = match read_limited(body, rule.limit, contract.deadline).await {
                Ok(b) => b,
                Err(BodyError::TooLarge) => {
                    return too_large(rule.limit);
                }
                Err(BodyError::TimedOut) => {
                    return AppError::BodyTimeout(contract.deadline.as_secs()).into_response();
                }
                Err(BodyError::Broken(e)) => {
                    return AppError::BadRequest(format!(
                        "the body could not be read ({e}); send it again"
                    ))
                    .into_response();
                }
            };
            // Parameters first: a bad id says so before the body is read
            // through.
            if reasons.is_empty() {
                reasons = check_body(rule, &bytes);
            }
            Body::from(bytes)
        }
    };
    if !reasons.is_empty() {
        return refusal(&method, &template, &reasons);
    }
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    //! The checks on a small document of their own.

    use super::*;
    use serde_json::json;

    fn contract() -> Contract {
        let doc = json!({
            "paths": { "/api/things/{id}": { "put": {
                "parameters": [
                    { "name": "id", "in": "path", "required": true, "description": "The id",
                      "schema": { "type": "integer", "minimum": 1 } },
                    { "name": "limit", "in": "query", "description": "Page size",
                      "schema": { "type": "integer", "minimum": 1, "maximum": 10 } },
                    { "name": "before", "in": "query", "schema": { "type": "integer" } },
                    { "name": "after", "in": "query", "schema": { "type": "integer" } },
                ],
                EXCLUSIVE_KEY: [["before", "after"]],
                "requestBody": { "required": true, "content": { "application/json": {
                    "schema": { "$ref": "#/components/schemas/Thing" } } } },
            }}},
            "components": { "schemas": { "Thing": {
                "type": "object", "additionalProperties": false, "required": ["rules"],
                "properties": { "rules": { "type": "array", "description": "The rules",
                    "items": { "type": "string", "minLength": 1, "description": "One rule" } } },
            }}},
        });
        Contract::new(&doc, 1024, Duration::from_secs(1)).expect("compiles")
    }

    fn op(c: &Contract) -> &Operation {
        &c.ops[&("PUT".to_owned(), "/api/things/{id}".to_owned())]
    }

    fn params(c: &Contract, given: &[(&str, &str)]) -> Vec<String> {
        let map: HashMap<String, String> = given
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        check_params(op(c), &|p: &Param| map.get(&p.name).cloned())
    }

    #[test]
    fn parameters_are_typed_then_checked_against_their_schema() {
        let c = contract();
        assert!(params(&c, &[("id", "3"), ("limit", "10")]).is_empty());
        let r = params(&c, &[("id", "-1")]);
        assert!(
            r[0].contains("path segment id") && r[0].contains("minimum"),
            "{r:?}"
        );
        let r = params(&c, &[("id", "x"), ("limit", "0")]);
        assert!(
            r[0].contains("not a whole number") && r[1].contains("Page size"),
            "{r:?}"
        );
        let r = params(&c, &[]);
        assert!(r[0].contains("id is required"), "{r:?}");
        let r = params(&c, &[("id", "1"), ("before", "1"), ("after", "2")]);
        assert_eq!(r, vec!["give one of before, after, not several".to_owned()]);
    }

    #[test]
    fn bodies_are_required_json_of_their_schema_with_the_reason_named() {
        let c = contract();
        let rule = op(&c).body.as_ref().expect("a body");
        assert!(check_body(rule, br#"{"rules":["a"]}"#).is_empty());
        assert_eq!(
            check_body(rule, b"  "),
            vec!["a JSON body is required".to_owned()]
        );
        assert!(
            check_body(rule, b"{")
                .first()
                .is_some_and(|r| r.contains("not JSON"))
        );
        // serde reads a struct from an array; the document does not.
        let r = check_body(rule, b"[[]]");
        assert!(
            r[0].starts_with("the body:") && r[0].contains("object"),
            "{r:?}"
        );
        let r = check_body(rule, br#"{"rules":[""]}"#);
        assert!(
            r[0].contains("body /rules/0") && r[0].contains("(One rule)"),
            "{r:?}"
        );
        let r = check_body(rule, br#"{"rules":[],"x":1}"#);
        assert!(r[0].contains("x"), "{r:?}");
    }
}
