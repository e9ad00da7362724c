//! Payload schemas (SPEC §15): a bin's list of `{match, schema}` pairs,
//! checked and compiled once, and the verdict a JSON body gets from the
//! first pair whose match holds. Shared by the server (captures, re-checks)
//! and the client (`hookwire schema`'s tests), so it lives in core.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::core::matcher::{Match, Subject};

/// Most schemas on one bin.
pub const MAX_SCHEMAS: usize = 32;

/// Most errors kept per verdict: enough to fix a payload, bounded so a
/// huge wrong array does not make a huge stored row.
pub const MAX_ERRORS: usize = 20;

/// One schema as the user writes it: the requests it applies to, and the
/// JSON Schema (2020-12 unless its `$schema` says otherwise).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemaConfig {
    /// Conditions of the match language (all must hold; empty: every
    /// request), e.g. `["path=/hooks/eden"]`.
    #[serde(rename = "match", default)]
    #[schemars(schema_with = "crate::core::shapes::schema_conditions")]
    pub matches: Vec<String>,
    /// A JSON Schema (2020-12) object.
    #[schemars(schema_with = "crate::core::shapes::payload_schema")]
    pub schema: serde_json::Value,
}

/// The body `PUT /api/bins/{bin_id}/schemas` takes and `GET` answers.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SchemasBody {
    /// In order: the first whose match holds validates a request.
    #[schemars(length(max = 32))]
    pub schemas: Vec<SchemaConfig>,
}

/// What a schema said of a request's body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SchemaVerdict {
    /// True when the body is JSON and the schema accepts it.
    pub valid: bool,
    /// Why not (at most 20), each at the JSON pointer of the offending
    /// value; empty when valid.
    pub errors: Vec<SchemaError>,
}

/// One reason a body does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct SchemaError {
    /// RFC 6901 pointer into the body (`""`: the whole body).
    #[schemars(example = &"/status")]
    pub pointer: String,
    /// What is wrong there, in the validator's words.
    pub message: String,
}

/// A bin's schemas, compiled.
#[derive(Default)]
pub struct Schemas {
    entries: Vec<(Match, jsonschema::Validator)>,
}

impl std::fmt::Debug for Schemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Schemas({})", self.entries.len())
    }
}

impl Schemas {
    /// Checks and compiles schemas as the user wrote them; the error names
    /// the entry (`schemas[1]`) and says what is wrong.
    pub fn compile(configs: &[SchemaConfig]) -> Result<Self, String> {
        if configs.len() > MAX_SCHEMAS {
            return Err(format!(
                "{} schemas is too many: a bin has at most {MAX_SCHEMAS}",
                configs.len()
            ));
        }
        let mut entries = Vec::with_capacity(configs.len());
        for (i, c) in configs.iter().enumerate() {
            let m = Match::parse(&c.matches).map_err(|e| format!("schemas[{i}].match: {e}"))?;
            let v = compile_one(&c.schema).map_err(|e| format!("schemas[{i}].schema: {e}"))?;
            entries.push((m, v));
        }
        Ok(Self { entries })
    }

    /// True when the bin has no schemas.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The verdict of the first schema whose match holds; `None` when none
    /// does. A body that is not JSON fails that schema with one error.
    pub fn check(&self, s: &Subject<'_>) -> Option<SchemaVerdict> {
        let (_, validator) = self.entries.iter().find(|(m, _)| m.holds(s))?;
        Some(match s.json() {
            Some(json) => verdict(validator, json),
            None => SchemaVerdict {
                valid: false,
                errors: vec![SchemaError {
                    pointer: String::new(),
                    message: "the body is not JSON".to_owned(),
                }],
            },
        })
    }
}

/// Compiles one JSON Schema, 2020-12 unless its `$schema` names another
/// draft; `$ref`s to other documents are refused (nothing is fetched).
pub fn compile_one(schema: &serde_json::Value) -> Result<jsonschema::Validator, String> {
    if !schema.is_object() && !schema.is_boolean() {
        return Err(
            "a JSON Schema is an object (or true/false), e.g. {\"type\":\"object\"}".into(),
        );
    }
    jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .build(schema)
        .map_err(|e| format!("not a valid JSON Schema: {e}"))
}

/// Every error of `json` against `validator` (at most [`MAX_ERRORS`]).
pub fn verdict(validator: &jsonschema::Validator, json: &serde_json::Value) -> SchemaVerdict {
    // The fast yes/no first: valid bodies (the common case) never build
    // error messages.
    if validator.is_valid(json) {
        return SchemaVerdict {
            valid: true,
            errors: Vec::new(),
        };
    }
    let errors = validator
        .iter_errors(json)
        .take(MAX_ERRORS)
        .map(|e| SchemaError {
            pointer: e.instance_path().to_string(),
            message: e.to_string(),
        })
        .collect();
    SchemaVerdict {
        valid: false,
        errors,
    }
}

#[cfg(test)]
mod tests {
    //! The first matching schema decides; pointers and messages; refusals.

    use super::*;

    fn cfg(m: &[&str], schema: serde_json::Value) -> SchemaConfig {
        SchemaConfig {
            matches: m.iter().map(|s| (*s).to_owned()).collect(),
            schema,
        }
    }

    #[test]
    fn the_first_matching_schema_decides_with_pointers() {
        let s = Schemas::compile(&[
            cfg(
                &["path=/a"],
                serde_json::json!({"type":"object","properties":{"status":{"enum":["ok"]}},"required":["status"]}),
            ),
            cfg(&[], serde_json::json!(false)),
        ])
        .expect("compiles");
        let sub = |path, body: &'static [u8]| Subject::new("POST", path, "", &[], body);
        assert_eq!(
            s.check(&sub("/a", br#"{"status":"ok"}"#)).map(|v| v.valid),
            Some(true)
        );
        let bad = s
            .check(&sub("/a", br#"{"status":"nope"}"#))
            .expect("verdict");
        assert!(!bad.valid);
        assert_eq!(bad.errors[0].pointer, "/status");
        assert!(bad.errors[0].message.contains("nope"), "{:?}", bad.errors);
        let other = s.check(&sub("/b", br#"{"status":"ok"}"#)).expect("second");
        assert!(!other.valid);
        let not_json = s.check(&sub("/a", b"x=1")).expect("not json");
        assert_eq!(not_json.errors[0].message, "the body is not JSON");
        assert!(
            Schemas::compile(&[])
                .expect("none")
                .check(&sub("/a", b"{}"))
                .is_none()
        );
    }

    #[test]
    fn bad_schemas_and_matches_are_refused_in_words() {
        let e = Schemas::compile(&[cfg(&["heder.x=1"], serde_json::json!({}))]).expect_err("m");
        assert!(
            e.starts_with("schemas[0].match: condition \"heder.x=1\""),
            "{e}"
        );
        let e = Schemas::compile(&[cfg(&[], serde_json::json!({"type": 12}))]).expect_err("s");
        assert!(
            e.starts_with("schemas[0].schema: not a valid JSON Schema"),
            "{e}"
        );
        let e = Schemas::compile(&[cfg(&[], serde_json::json!("x"))]).expect_err("str");
        assert!(e.contains("is an object"), "{e}");
    }
}
