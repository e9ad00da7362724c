//! What the handlers' `#[utoipa::path]` attributes cannot say, added to
//! the serialised document: the WebSocket upgrade's headers, parameters
//! that exclude each other, the shape of an import document, and a
//! `required: false` written out on optional bodies. Every addition is
//! enforced like the rest of the document (`api::contract`).

use serde_json::{Map, Value, json};

use crate::core::shapes::{BASE64, CHECKED_KEY, HEADER_NAME, HEADER_VALUE};
use crate::server::web::export::MAX_IMPORT_REQUESTS;

/// An operation extension: groups of query parameters of which at most
/// one may be given.
pub const EXCLUSIVE_KEY: &str = "x-hookwire-exclusive";

/// An operation extension: its body may be as large as an import
/// (`openapi::body_limit`), not only axum's default 2 MiB.
pub const LARGE_BODY_KEY: &str = "x-hookwire-large-body";

/// Adds to `doc` what the attributes cannot say.
pub fn refine(doc: &mut Value) {
    if let Some(schemas) = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut)
    {
        schemas.extend(import_schemas());
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            // OpenAPI's default, written out: some readers take a body
            // described without `required` as a required one.
            if let Some(body) = op.get_mut("requestBody").and_then(Value::as_object_mut) {
                body.entry("required").or_insert(Value::Bool(false));
            }
            documented_refusals(op);
            match (method.as_str(), path.as_str()) {
                ("get", "/api/bins/{bin_id}/tunnel") => tunnel(op),
                ("get", "/api/bins/{bin_id}/requests") => {
                    op.insert(EXCLUSIVE_KEY.into(), json!([["before", "after"]]));
                }
                ("post", "/api/bins/{bin_id}/import") => {
                    op["requestBody"]["content"]["application/json"]["schema"] =
                        json!({ "$ref": "#/components/schemas/ImportDocument" });
                    op.insert(LARGE_BODY_KEY.into(), Value::Bool(true));
                }
                _ => {}
            }
        }
    }
}

/// The answers of `api::contract` itself: 400 for a call the document
/// forbids (on every operation that takes input), 413 for a body past
/// its limit; an operation's own words for them are kept.
fn documented_refusals(op: &mut Map<String, Value>) {
    let takes_params = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|p| !p.is_empty());
    let takes_body = op.contains_key("requestBody");
    let error =
        json!({ "application/json": { "schema": { "$ref": "#/components/schemas/ErrorBody" } } });
    let Some(responses) = op.get_mut("responses").and_then(Value::as_object_mut) else {
        return;
    };
    if takes_params || takes_body {
        responses.entry("400").or_insert_with(|| json!({
            "description": "A parameter or body the document forbids: the reasons, in words; nothing was changed",
            "content": error.clone(),
        }));
    }
    if takes_body {
        responses.entry("413").or_insert_with(|| json!({
            "description": "The body is too large (2 MiB; an import: the server's import limit)",
            "content": error,
        }));
    }
}

/// The upgrade's headers (what axum's `WebSocketUpgrade` checks) and the
/// routing JSON's words.
fn tunnel(op: &mut Map<String, Value>) {
    let params = op
        .entry("parameters")
        .or_insert_with(|| json!([]))
        .as_array_mut();
    let Some(params) = params else { return };
    for p in params.iter_mut() {
        if p["name"] == "streams" {
            p["schema"][CHECKED_KEY] = json!(
                "the routing JSON `hookwire tunnel` sends: targets, routes, default and filter that check"
            );
            p["schema"]["examples"] = json!([
                r#"{"targets":["http://localhost:3000"],"routes":[["/stripe/**",0]],"default":[0],"filter":["method=POST"]}"#
            ]);
        }
    }
    let header = |name: &str, pattern: &str, description: &str, example: &str| {
        json!({
            "name": name, "in": "header", "required": true, "description": description,
            "schema": { "type": "string", "pattern": pattern, "examples": [example] },
        })
    };
    params.extend([
        header(
            "Connection",
            "^(?:[ -~]*,)?[ \\t]*[Uu][Pp][Gg][Rr][Aa][Dd][Ee][ \\t]*(?:,[ -~]*)?$",
            "Lists `upgrade`",
            "upgrade",
        ),
        header(
            "Upgrade",
            "^[Ww][Ee][Bb][Ss][Oo][Cc][Kk][Ee][Tt]$",
            "`websocket`",
            "websocket",
        ),
        header("Sec-WebSocket-Version", "^13$", "`13` (RFC 6455)", "13"),
        header(
            "Sec-WebSocket-Key",
            "^[A-Za-z0-9+/]{21}[AQgw]==$",
            "16 random bytes, base64 (RFC 6455)",
            "dGhlIHNhbXBsZSBub25jZQ==",
        ),
    ]);
}

/// The import document (`export::import`'s `parse_document`): a HAR
/// document, a list of request objects, `{"requests":[…]}` or one request
/// object.
fn import_schemas() -> Map<String, Value> {
    let name = json!({ "type": "string", "minLength": 1, "pattern": HEADER_NAME });
    let value = json!({ "type": "string", "pattern": HEADER_VALUE });
    let request = json!({
        "type": "object",
        "description": "A request object as `GET …/requests/{id}` answers it (other keys are ignored); only method is required",
        "required": ["method"],
        "properties": {
            "method": { "type": "string", "pattern": HEADER_NAME, "description": "An HTTP method (a token)" },
            "path": { "type": ["string", "null"], "pattern": "^/", "description": "The sub-path, from `/` (default `/`)" },
            "query": { "type": ["string", "null"], "description": "The raw query, without `?`" },
            "headers": {
                "type": ["array", "null"],
                "description": "`[name, value]` pairs or `{\"name\",\"value\"}` objects",
                "items": { "anyOf": [
                    { "type": "array", "prefixItems": [name, value], "minItems": 2, "maxItems": 2, "items": false },
                    { "type": "object", "required": ["name", "value"], "properties": { "name": name, "value": value } },
                ]},
            },
            "body_base64": { "type": ["string", "null"], "pattern": format!("^\\s*{BASE64}\\s*$"), "description": "The body, standard base64 (wins over body_text)" },
            "body_text": { "type": ["string", "null"], "description": "The body as text" },
            "body_size": { "type": ["integer", "null"], "minimum": 0, "description": "When given, the body's length in bytes" },
            "received_at": { "type": ["string", "null"], "description": "RFC 3339, e.g. 2026-11-23T03:36:34.123Z (default: now)" },
        },
        CHECKED_KEY: "path and query form a valid request target; body_size is the body's length; received_at is an RFC 3339 time; the body is within --max-body-bytes",
        "examples": [
            { "method": "POST", "path": "/hooks", "query": "a=1", "headers": [["content-type", "application/json"]], "body_text": "{\"ok\":true}" },
            { "method": "GET", "received_at": "2026-11-23T03:36:34.123Z", "headers": [{ "name": "x-a", "value": "1" }], "body_base64": "aGk=", "body_size": 2 },
        ],
    });
    let entry = json!({
        "type": "object",
        "description": "A HAR 1.2 entry: its request becomes a capture",
        "required": ["request"],
        "properties": {
            "startedDateTime": { "type": ["string", "null"], "description": "RFC 3339 (default: now)" },
            "request": {
                "type": "object",
                "required": ["method", "url"],
                "properties": {
                    "method": { "type": "string", "pattern": HEADER_NAME },
                    "url": { "type": "string" },
                    "headers": { "type": ["array", "null"], "items": {
                        "type": "object", "required": ["name", "value"],
                        "properties": { "name": { "type": "string" }, "value": { "type": "string" } },
                    }},
                    "postData": { "type": ["object", "null"] },
                },
            },
        },
        CHECKED_KEY: "the url's path and query form a valid request target, headers are valid (`:` pseudo-headers are dropped), postData's encoding is base64 or absent, startedDateTime is an RFC 3339 time",
        "examples": [
            { "startedDateTime": "2026-11-23T03:36:34.123Z", "request": { "method": "POST", "url": "http://localhost:8080/hooks?a=1", "headers": [{ "name": "content-type", "value": "application/json" }], "postData": { "mimeType": "application/json", "text": "{}" } } },
        ],
    });
    let list =
        |items: Value| json!({ "type": "array", "maxItems": MAX_IMPORT_REQUESTS, "items": items });
    let request_ref = json!({ "$ref": "#/components/schemas/ImportRequest" });
    let document = json!({
        "description": "A HAR document, a list of request objects, `{\"requests\":[…]}` or one request object; at most 10,000 requests",
        "anyOf": [
            { "type": "object", "required": ["log"], "properties": { "log": {
                "type": "object", "required": ["entries"],
                "properties": { "entries": list(json!({ "$ref": "#/components/schemas/HarEntry" })) },
            }}},
            list(request_ref.clone()),
            { "type": "object", "required": ["requests"], "not": { "required": ["log"] },
              "properties": { "requests": list(request_ref.clone()) } },
            { "allOf": [request_ref], "not": { "anyOf": [{ "required": ["log"] }, { "required": ["requests"] }] } },
        ],
    });
    [
        ("ImportDocument", document),
        ("ImportRequest", request),
        ("HarEntry", entry),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_the_attributes_cannot_say_is_added() {
        let mut doc = json!({
            "paths": {
                "/api/bins": { "post": { "requestBody": { "content": {} } } },
                "/api/bins/{bin_id}/tunnel": { "get": { "parameters": [
                    { "name": "streams", "in": "query", "schema": { "type": "string" } },
                ]}},
                "/api/bins/{bin_id}/requests": { "get": {} },
                "/api/bins/{bin_id}/import": { "post": { "requestBody": { "required": true,
                    "content": { "application/json": { "schema": { "type": "object" } } } } } },
            },
            "components": { "schemas": {} },
        });
        refine(&mut doc);
        assert_eq!(
            doc["paths"]["/api/bins"]["post"]["requestBody"]["required"],
            false
        );
        let tunnel = &doc["paths"]["/api/bins/{bin_id}/tunnel"]["get"]["parameters"];
        let headers: Vec<&str> = tunnel
            .as_array()
            .expect("parameters")
            .iter()
            .filter(|p| p["in"] == "header")
            .filter_map(|p| p["name"].as_str())
            .collect();
        assert_eq!(
            headers,
            [
                "Connection",
                "Upgrade",
                "Sec-WebSocket-Version",
                "Sec-WebSocket-Key"
            ]
        );
        assert!(tunnel[0]["schema"][CHECKED_KEY].is_string());
        assert_eq!(
            doc["paths"]["/api/bins/{bin_id}/requests"]["get"][EXCLUSIVE_KEY],
            json!([["before", "after"]])
        );
        let import = &doc["paths"]["/api/bins/{bin_id}/import"]["post"];
        assert_eq!(import[LARGE_BODY_KEY], true);
        assert_eq!(import["requestBody"]["required"], true);
        for name in ["ImportDocument", "ImportRequest", "HarEntry"] {
            assert!(doc["components"]["schemas"][name].is_object(), "{name}");
        }
    }

    #[test]
    fn the_import_document_takes_the_four_forms_and_nothing_else() {
        let doc = json!({ "components": { "schemas": import_schemas() } });
        let mut root = json!({ "$ref": "#/components/schemas/ImportDocument" });
        root["components"] = doc["components"].clone();
        let v = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&root)
            .expect("compiles");
        let request = json!({ "method": "POST", "path": "/x" });
        for ok in [
            json!([]),
            json!([request]),
            json!({ "requests": [request] }),
            request.clone(),
            json!({ "log": { "entries": [{ "request": { "method": "GET", "url": "http://h/x" } }] } }),
        ] {
            assert!(v.is_valid(&ok), "{ok}");
        }
        for bad in [
            json!({}),
            json!({ "foo": 1 }),
            json!({ "log": {} }),
            json!({ "requests": 3 }),
            json!({ "log": 5, "method": "GET" }),
            json!([{ "path": "/x" }]),
            json!(7),
        ] {
            assert!(!v.is_valid(&bad), "{bad}");
        }
    }
}
