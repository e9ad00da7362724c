//! What the API accepts, written once as JSON Schema: the fragments the
//! schemars derives of [`crate::core::model`], [`crate::core::views`] and
//! [`crate::core::verify`] put in the API document (`schema_with`), each
//! beside the Rust check it describes. The document is enforced as written
//! (`server::web::api::contract`), so a fragment narrower than its check
//! refuses what the check would take, and a wider one lets the check refuse
//! what the document allows: the tests below hold each pair together.
//!
//! Patterns are ECMA-262 without look-arounds (what JSON Schema validators,
//! the `regex` crate and proptest's generators all read); a rule a pattern
//! cannot say is written as `not`, or, when JSON Schema cannot say it at all
//! (the match language, templates), in words under [`CHECKED_KEY`].

use schemars::{Schema, SchemaGenerator};
use serde_json::{Value, json};

/// A schema keyword (an OpenAPI extension) that says, in words, what the
/// server checks beyond the schema; the schema's `examples` pass it.
pub const CHECKED_KEY: &str = "x-hookwire-checks";

/// An HTTP header name: an RFC 9110 token (what `http::HeaderName` takes).
pub const HEADER_NAME: &str = "^[!#$%&'*+.^_`|~0-9A-Za-z-]+$";

/// Longest header name `http::HeaderName` takes.
pub const HEADER_NAME_MAX: usize = (1 << 16) - 1;

/// An HTTP header value: no control character but tab (what
/// `http::HeaderValue` takes from a string).
pub const HEADER_VALUE: &str = "^[^\\u0000-\\u0008\\u000A-\\u001F\\u007F]*$";

/// Standard base64 with its padding, as `base64`'s STANDARD engine
/// decodes it (the unused bits of the last symbol are zero).
pub const BASE64: &str =
    "(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=)?";

/// No control character (`char::is_control`).
pub const NO_CONTROL: &str = "^[^\\u0000-\\u001F\\u007F-\\u009F]*$";

/// A pattern that matches `word` in any letter case.
pub fn any_case(word: &str) -> String {
    word.chars()
        .map(|c| {
            if c.is_ascii_alphabetic() {
                format!("[{}{}]", c.to_ascii_uppercase(), c.to_ascii_lowercase())
            } else if c.is_ascii_alphanumeric() || c == '-' {
                c.to_string()
            } else {
                format!("\\{c}")
            }
        })
        .collect()
}

/// A header name that is none of `names` (in any case).
fn header_name_but(names: &[&str]) -> Value {
    let mut name = json!({
        "type": "string",
        "minLength": 1,
        "maxLength": HEADER_NAME_MAX,
        "pattern": HEADER_NAME,
        "description": "A header name (an RFC 9110 token)",
    });
    if !names.is_empty() {
        let words: Vec<String> = names.iter().map(|n| any_case(n)).collect();
        name["not"] = json!({ "pattern": format!("^(?:{})$", words.join("|")) });
        name["description"] = format!(
            "A header name (an RFC 9110 token), not {}",
            names.join(", ")
        )
        .into();
    }
    name
}

/// A list of `[name, value]` pairs whose names are none of `names`.
fn header_pairs(names: &[&str], description: &str) -> Value {
    json!({
        "type": "array",
        "description": description,
        "items": {
            "type": "array",
            "prefixItems": [
                header_name_but(names),
                {
                    "type": "string",
                    "pattern": HEADER_VALUE,
                    "description": "A header value: no control character but tab",
                },
            ],
            "minItems": 2,
            "maxItems": 2,
            "items": false,
        },
    })
}

fn schema(v: Value) -> Schema {
    Schema::try_from(v).unwrap_or_default()
}

/// Headers a bin's response may not set: hookwire sets them itself
/// (framing, and the request id header).
pub const RESERVED_RESPONSE_HEADERS: [&str; 4] = [
    "content-length",
    "transfer-encoding",
    "connection",
    // `protocol::REQUEST_ID_HEADER` (core lists protocol after this
    // module; its tests check the two agree).
    "x-hookwire-request-id",
];

/// First path segments the server's own routes use: never aliases.
pub const RESERVED_ALIASES: [&str; 9] = [
    "api", "bins", "static", "login", "logout", "healthz", "metrics", "events", "new",
];

/// `ResponseConfig.headers`.
pub fn response_headers(_: &mut SchemaGenerator) -> Schema {
    schema(header_pairs(
        &RESERVED_RESPONSE_HEADERS,
        "Headers in the order they are sent, as `[name, value]` pairs; hookwire sets content-length, transfer-encoding, connection and x-hookwire-request-id itself",
    ))
}

/// Any `[name, value]` header pairs (replay edits, imports).
pub fn header_list(_: &mut SchemaGenerator) -> Schema {
    schema(header_pairs(
        &[],
        "Headers in order, as `[name, value]` pairs",
    ))
}

/// `Option` of [`header_list`].
pub fn optional_header_list(_: &mut SchemaGenerator) -> Schema {
    let mut v = header_pairs(
        &[],
        "Other headers (all of them, in order), as `[name, value]` pairs",
    );
    v["type"] = json!(["array", "null"]);
    schema(v)
}

/// The alias pattern (`model::validate_alias`, whose tests hold the two
/// together): 3-64 of `a-z 0-9 -`.
pub const ALIAS: &str = "^[a-z0-9-]{3,64}$";

/// The forms of a UUID an alias may not take (`Uuid::parse_str` reads them).
const UUID_SHAPED: &str =
    "^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$";

/// An alias, or null for none.
pub fn alias(_: &mut SchemaGenerator) -> Schema {
    let reserved = RESERVED_ALIASES.join("|");
    schema(json!({
        "type": ["string", "null"],
        "description": "3-64 of `a-z 0-9 -`, not shaped like a UUID, not one of hookwire's own paths; unique (409 when another bin has it). null: no alias",
        "pattern": ALIAS,
        "not": { "type": "string", "anyOf": [
            { "pattern": UUID_SHAPED },
            { "pattern": format!("^(?:{reserved})$") },
        ]},
        "examples": ["stripe-dev"],
    }))
}

/// A response rule's name (`services::rules`): 1-64 characters, no
/// control character.
pub fn rule_name(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "string",
        "description": "1-64 characters without control characters; unique within the bin. Requests it answered carry it as `rule`",
        "minLength": 1,
        "maxLength": 64,
        "pattern": NO_CONTROL,
        "examples": ["flaky"],
    }))
}

/// A rule's `attempts`: `"2"`, `"1-2"` or `"3-"`, arrivals 1 to 1000.
pub fn attempts(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": ["string", "null"],
        "description": "Which arrivals of the same webhook (same idempotency key) it applies to: `\"1-2\"`, `\"3\"`, `\"2-\"` (arrivals 1 to 1000, the first not after the last); absent: every arrival",
        "pattern": "^\\s*[1-9][0-9]{0,3}\\s*(?:-\\s*(?:[1-9][0-9]{0,3})?\\s*)?$",
        CHECKED_KEY: "each number is 1 to 1000 and the first is not after the last",
        "examples": ["1-2", "3", "2-"],
    }))
}

/// Conditions of the match language (docs/rules.md), `max` at most.
fn conditions(max: Option<usize>, example: Value) -> Value {
    let mut v = json!({
        "type": "array",
        "items": { "type": "string" },
        "description": "Conditions of the match language (docs/rules.md), all of which must hold; empty: every request",
        CHECKED_KEY: "each condition parses in the match language (docs/rules.md)",
        "examples": [example, []],
        "default": [],
    });
    if let Some(max) = max {
        v["maxItems"] = max.into();
    }
    v
}

/// `RuleConfig.match`.
pub fn rule_conditions(_: &mut SchemaGenerator) -> Schema {
    schema(conditions(
        None,
        json!(["method=POST", "json:/status=completed"]),
    ))
}

/// `SchemaConfig.match`.
pub fn schema_conditions(_: &mut SchemaGenerator) -> Schema {
    schema(conditions(Some(64), json!(["path=/hooks/eden"])))
}

/// `SchemaConfig.schema`.
pub fn payload_schema(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": ["object", "boolean"],
        "description": "A JSON Schema (2020-12 unless its `$schema` names another draft); `$ref`s to other documents are refused",
        CHECKED_KEY: "a valid JSON Schema that refers to no other document",
        "examples": [{ "type": "object", "required": ["status"] }, true],
    }))
}

/// A rule's response: a bin's response whose body and header values are
/// templates, and which sets no cookie.
pub fn rule_response(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "allOf": [
            { "$ref": "#/components/schemas/ResponseConfig" },
            { "properties": { "headers": { "items": { "prefixItems": [
                { "not": { "pattern": format!("^(?:{}|{})$", any_case("set-cookie"), any_case("clear-site-data")) } }
            ]}}}},
        ],
        "description": "The answer: the bin's response shape, without set-cookie or clear-site-data; body and header values are templates ({{request.id}}, {{method}}, {{path}}, {{query.NAME}}, {{header.NAME}}, {{json:/pointer}})",
        CHECKED_KEY: "every {{…}} in the body and header values names a placeholder; location, refresh and content-location hold none",
        "examples": [
            { "status": 503, "headers": [["retry-after", "1"]], "body": "{\"error\":\"try again\",\"id\":{{request.id}}}", "delay_ms": 0 },
        ],
    }))
}

/// A bin's list of rules (`services::rules::MAX_RULES` at most).
pub fn rule_list(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": "array",
        "items": { "$ref": "#/components/schemas/RuleConfig" },
        "maxItems": 50,
        "description": "The first rule whose `match` holds (and whose `attempts` range holds the webhook's arrival number) answers; else the bin's response. At most 50, names unique",
        CHECKED_KEY: "each rule checks (its match, attempts and templates) and no two share a name",
        "examples": [
            [
                { "name": "flaky", "match": ["method=POST"], "attempts": "1-2", "response": { "status": 503, "headers": [], "body": "", "delay_ms": 0 }, "action": "respond" },
                { "name": "gone", "match": ["path=/old"], "action": "close" },
            ],
            [],
        ],
    }))
}

/// A secret of a signature scheme: not blank.
pub fn secret(_: &mut SchemaGenerator) -> Schema {
    schema(json!({ "type": ["string", "null"], "pattern": "\\S" }))
}

/// The Standard Webhooks secret: `whsec_` and base64.
pub fn standard_webhooks_secret(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": ["string", "null"],
        "description": "`whsec_<base64>` (Standard Webhooks, Svix)",
        "pattern": format!("^\\s*(?:whsec_)?{BASE64}\\s*$"),
        "not": { "type": "string", "pattern": "^\\s*$" },
        "examples": ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"],
    }))
}

/// The static header rule's name.
pub fn static_header_name(_: &mut SchemaGenerator) -> Schema {
    schema(header_name_but(&[]))
}

/// The static header rule's value: not empty.
pub fn static_header_value(_: &mut SchemaGenerator) -> Schema {
    schema(json!({ "type": "string", "minLength": 1, "description": "The exact value" }))
}

/// A body as standard base64, or null.
pub fn optional_base64(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": ["string", "null"],
        "description": "Another body, standard base64 with padding (for binary)",
        "pattern": format!("^{BASE64}$"),
    }))
}

/// A replay's method: letters and `-`.
pub fn optional_method(_: &mut SchemaGenerator) -> Schema {
    schema(json!({
        "type": ["string", "null"],
        "description": "Another method: letters and `-`",
        "pattern": "^[A-Za-z-]+$",
    }))
}

#[cfg(test)]
mod tests {
    //! Each fragment against the Rust check it describes, on chosen
    //! cases and on random strings.

    use super::*;
    use proptest::prelude::*;

    fn validator(v: Schema) -> jsonschema::Validator {
        jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&v.to_value())
            .expect("a valid schema")
    }

    fn fits(f: fn(&mut SchemaGenerator) -> Schema, v: Value) -> bool {
        validator(f(&mut SchemaGenerator::default())).is_valid(&v)
    }

    /// The header pair fragment, with its one item checked alone.
    fn pair_fits(name: &str, value: &str) -> bool {
        fits(header_list, json!([[name, value]]))
    }

    fn http_takes(name: &str, value: &str) -> bool {
        http::HeaderName::try_from(name).is_ok() && http::HeaderValue::try_from(value).is_ok()
    }

    #[test]
    fn header_pairs_are_pairs_of_what_http_takes() {
        for (name, value) in [
            ("content-type", "application/json"),
            ("X-Up", "a\tb"),
            ("", "x"),
            ("a b", "x"),
            ("é", "x"),
            ("x", "a\nb"),
            ("x", "\u{7f}"),
            ("x", "café"),
        ] {
            assert_eq!(
                pair_fits(name, value),
                http_takes(name, value),
                "{name:?} {value:?}"
            );
        }
        for wrong in [
            json!([[]]),
            json!([["a"]]),
            json!([["a", "b", "c"]]),
            json!([[1, "b"]]),
        ] {
            assert!(!fits(header_list, wrong.clone()), "{wrong}");
        }
        assert!(!fits(response_headers, json!([["Content-Length", "1"]])));
        assert!(fits(
            response_headers,
            json!([["content-type", "text/plain"]])
        ));
    }

    #[test]
    fn base64_is_what_the_standard_engine_decodes() {
        use base64::Engine as _;
        for text in [
            "", "QQ==", "QR==", "QUI=", "QUJ=", "QUJD", "QUJ", "Q===", "QU I=",
        ] {
            let pattern_says = fits(optional_base64, json!(text));
            let engine_says = base64::engine::general_purpose::STANDARD
                .decode(text)
                .is_ok();
            assert_eq!(pattern_says, engine_says, "{text:?}");
        }
    }

    #[test]
    fn any_case_matches_every_spelling() {
        let v = validator(schema(
            json!({ "pattern": format!("^{}$", any_case("set-cookie")) }),
        ));
        assert!(v.is_valid(&json!("Set-Cookie")) && v.is_valid(&json!("SET-COOKIE")));
        assert!(!v.is_valid(&json!("set-cookies")));
    }

    #[test]
    fn rule_names_fit_exactly_when_1_to_64_characters_without_controls() {
        for (name, ok) in [
            ("flaky", true),
            ("", false),
            ("a\u{85}", false),
            ("é", true),
        ] {
            assert_eq!(fits(rule_name, json!(name)), ok, "{name:?}");
        }
        assert!(fits(rule_name, json!("é".repeat(64))));
        assert!(!fits(rule_name, json!("a".repeat(65))));
    }

    proptest! {
        #[test]
        fn random_header_pairs_agree_with_http(name in "\\PC{0,6}|[!-~]{0,6}", value in "[\\u{0}-\\u{ff}]{0,6}") {
            prop_assert_eq!(pair_fits(&name, &value), http_takes(&name, &value));
        }


        #[test]
        fn random_base64_agrees_with_the_engine(text in "[A-Za-z0-9+/=]{0,9}") {
            use base64::Engine as _;
            prop_assert_eq!(
                fits(optional_base64, json!(text)),
                base64::engine::general_purpose::STANDARD.decode(&text).is_ok()
            );
        }
    }
}
