//! The served OpenAPI document, read once into what the page shows:
//! operations grouped by tag, each with its parameters, body and answers,
//! and every component schema with its fields.

use serde_json::Value;

use super::schema::{self, Field, Ty, Variant};
use super::text::Text;

/// The methods an OpenAPI path item may have, in the order they are shown.
const METHODS: [&str; 8] = [
    "get", "put", "post", "patch", "delete", "head", "options", "trace",
];

/// The whole page's content.
pub struct Model {
    pub title: String,
    pub version: String,
    pub description: Text,
    pub auth: Vec<Scheme>,
    pub tags: Vec<Tag>,
    pub schemas: Vec<Schema>,
}

/// A way to authenticate.
pub struct Scheme {
    pub name: String,
    /// e.g. `Authorization: Bearer <token>`.
    pub how: String,
    pub description: Text,
}

/// A group of operations.
pub struct Tag {
    pub name: String,
    pub description: Text,
    pub ops: Vec<Op>,
}

/// One operation.
pub struct Op {
    /// The element id: `op-` and the operationId (or method and path).
    pub anchor: String,
    /// Upper case, e.g. `GET`.
    pub method: String,
    pub path: String,
    pub summary: Text,
    pub description: Text,
    /// Operation-level `security: []`: no token needed.
    pub public: bool,
    pub deprecated: bool,
    pub params: Vec<Param>,
    pub body: Option<Body>,
    pub responses: Vec<Answer>,
}

/// A path, query, header or cookie parameter.
pub struct Param {
    pub name: String,
    pub location: String,
    pub required: bool,
    pub ty: Ty,
    pub description: Text,
    pub notes: Vec<String>,
    pub example: Option<String>,
}

/// A request body.
pub struct Body {
    pub required: bool,
    pub description: Text,
    pub contents: Vec<Content>,
}

/// A body's form for one media type.
pub struct Content {
    pub media_type: String,
    pub ty: Ty,
    /// The fields of its schema (its own or the one it refers to).
    pub fields: Vec<Field>,
    pub example: Option<String>,
}

/// One status an operation answers with.
pub struct Answer {
    pub status: String,
    /// `ok`, `redirect`, `error` or `info`: its colour.
    pub class: &'static str,
    pub description: Text,
    pub contents: Vec<Content>,
    pub headers: Vec<(String, Text)>,
}

/// A component schema.
pub struct Schema {
    pub name: String,
    pub ty: Ty,
    pub description: Text,
    pub fields: Vec<Field>,
    pub variants: Vec<Variant>,
    pub notes: Vec<String>,
}

impl Op {
    /// The path cut after each `/`, where a narrow column may wrap it.
    pub fn path_parts(&self) -> Vec<&str> {
        self.path.split_inclusive('/').collect()
    }
}

fn text_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

/// Follows a `$ref` to `#/components/{kind}/…` (parameters, request
/// bodies and responses may be shared too).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    text_at(v, "$ref")
        .and_then(|r| r.strip_prefix('#'))
        .and_then(|pointer| doc.pointer(pointer))
        .unwrap_or(v)
}

impl Model {
    /// Reads a document; what it lacks is simply not shown.
    pub fn new(doc: &Value) -> Self {
        let info = &doc["info"];
        Self {
            title: text_at(info, "title").unwrap_or("API").to_owned(),
            version: text_at(info, "version").unwrap_or_default().to_owned(),
            description: Text::of(info.get("description")),
            auth: schemes(doc),
            tags: tags(doc),
            schemas: schemas(doc),
        }
    }

    /// How many operations the page shows.
    pub fn op_count(&self) -> usize {
        self.tags.iter().map(|t| t.ops.len()).sum()
    }
}

fn schemes(doc: &Value) -> Vec<Scheme> {
    let Some(all) = doc
        .pointer("/components/securitySchemes")
        .and_then(Value::as_object)
    else {
        return Vec::new();
    };
    all.iter()
        .map(|(name, s)| {
            let kind = text_at(s, "type").unwrap_or_default();
            let how = match (kind, text_at(s, "scheme")) {
                ("http", Some(scheme)) if scheme.eq_ignore_ascii_case("bearer") => {
                    "Authorization: Bearer <token>".to_owned()
                }
                ("http", Some(scheme)) => format!("Authorization: {scheme} …"),
                ("apiKey", _) => format!(
                    "{} {}",
                    text_at(s, "in").unwrap_or_default(),
                    text_at(s, "name").unwrap_or_default()
                ),
                (other, _) => other.to_owned(),
            };
            Scheme {
                name: name.clone(),
                how,
                description: Text::of(s.get("description")),
            }
        })
        .collect()
}

/// The operations, grouped by their first tag in the document's tag
/// order; untagged ones (or ones with an undeclared tag) last.
fn tags(doc: &Value) -> Vec<Tag> {
    let mut tags: Vec<Tag> = doc["tags"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| {
            Some(Tag {
                name: text_at(t, "name")?.to_owned(),
                description: Text::of(t.get("description")),
                ops: Vec::new(),
            })
        })
        .collect();
    let Some(paths) = doc["paths"].as_object() else {
        return tags;
    };
    for (path, item) in paths {
        let item = resolve(doc, item);
        for method in METHODS {
            let Some(op) = item.get(method) else { continue };
            let tag = op["tags"]
                .as_array()
                .and_then(|t| t.first())
                .and_then(Value::as_str)
                .unwrap_or("other");
            let op = operation(doc, path, method, item, op);
            match tags.iter_mut().find(|t| t.name == tag) {
                Some(t) => t.ops.push(op),
                None => tags.push(Tag {
                    name: tag.to_owned(),
                    description: Text::default(),
                    ops: vec![op],
                }),
            }
        }
    }
    tags.retain(|t| !t.ops.is_empty());
    tags
}

/// An element id made of letters, digits, `-` and `_` only.
fn anchor(words: &str) -> String {
    let mut out = String::from("op-");
    for c in words.chars() {
        if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_end_matches('-').to_owned()
}

fn operation(doc: &Value, path: &str, method: &str, item: &Value, op: &Value) -> Op {
    let id = text_at(op, "operationId").map_or_else(|| format!("{method} {path}"), str::to_owned);
    // Path-level parameters apply unless the operation redefines them.
    let mut params: Vec<Param> = Vec::new();
    let own = op["parameters"].as_array().into_iter().flatten();
    let shared = item["parameters"].as_array().into_iter().flatten();
    for p in own.chain(shared) {
        let p = resolve(doc, p);
        let name = text_at(p, "name").unwrap_or_default();
        let location = text_at(p, "in").unwrap_or_default();
        if params
            .iter()
            .any(|q| q.name == name && q.location == location)
        {
            continue;
        }
        let schema = p.get("schema").unwrap_or(&Value::Null);
        params.push(Param {
            name: name.to_owned(),
            location: location.to_owned(),
            required: p["required"].as_bool().unwrap_or(false),
            ty: Ty::of(schema),
            description: Text::of(p.get("description")),
            notes: schema::notes(schema),
            example: schema::example(p).or_else(|| schema::example(schema)),
        });
    }
    let body = op.get("requestBody").map(|b| {
        let b = resolve(doc, b);
        Body {
            required: b["required"].as_bool().unwrap_or(false),
            description: Text::of(b.get("description")),
            contents: contents(doc, b),
        }
    });
    let responses = op["responses"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(status, r)| {
            let r = resolve(doc, r);
            Answer {
                status: status.clone(),
                class: match status.as_bytes().first() {
                    Some(b'2') => "ok",
                    Some(b'3') => "redirect",
                    Some(b'4' | b'5') => "error",
                    _ => "info",
                },
                description: Text::of(r.get("description")),
                contents: contents(doc, r),
                headers: r["headers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(name, h)| (name.clone(), Text::of(resolve(doc, h).get("description"))))
                    .collect(),
            }
        })
        .collect();
    Op {
        anchor: anchor(&id),
        method: method.to_ascii_uppercase(),
        path: path.to_owned(),
        summary: Text::of(op.get("summary")),
        description: Text::of(op.get("description")),
        public: op["security"].as_array().is_some_and(Vec::is_empty),
        deprecated: op["deprecated"].as_bool().unwrap_or(false),
        params,
        body,
        responses,
    }
}

/// The media types of a body or answer, each with its schema's fields.
fn contents(doc: &Value, holder: &Value) -> Vec<Content> {
    let components = schema::components(doc);
    holder["content"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(media_type, c)| {
            let s = c.get("schema").unwrap_or(&Value::Null);
            let named = schema::main_ref(s)
                .and_then(|name| components.and_then(|all| all.get(name)))
                .unwrap_or(s);
            Content {
                media_type: media_type.clone(),
                ty: Ty::of(s),
                fields: schema::fields(named),
                example: schema::example(c),
            }
        })
        .collect()
}

fn schemas(doc: &Value) -> Vec<Schema> {
    let mut out: Vec<Schema> = schema::components(doc)
        .into_iter()
        .flatten()
        .map(|(name, s)| Schema {
            name: name.clone(),
            ty: Ty::of(s),
            description: Text::of(s.get("description")),
            fields: schema::fields(s),
            variants: schema::variants(s),
            notes: schema::notes(s),
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_plain() {
        assert_eq!(anchor("get_bin"), "op-get_bin");
        assert_eq!(anchor("get /api/bins/{bin_id}"), "op-get-api-bins-bin_id");
    }

    #[test]
    fn a_document_becomes_operations_and_schemas() {
        let doc = serde_json::json!({
            "info": {"title": "t", "version": "1"},
            "tags": [{"name": "a", "description": "The `a` things"}],
            "paths": {"/x/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}],
                "get": {"tags": ["a"], "operationId": "get_x",
                        "responses": {"200": {"description": "ok", "content": {"application/json":
                            {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/X"}}}}}}},
                "put": {"requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/X"}}}},
                        "security": [],
                        "responses": {"204": {"description": "done"}}}
            }},
            "components": {"schemas": {"X": {"type": "object", "required": ["n"],
                "properties": {"n": {"type": ["integer", "null"], "minimum": 1, "examples": [3]},
                               "inner": {"type": "object", "properties": {"m": {"type": "string"}}}}}}}
        });
        let m = Model::new(&doc);
        assert_eq!(m.op_count(), 2);
        assert_eq!(m.tags[0].ops[0].anchor, "op-get_x");
        assert_eq!(m.tags[0].ops[0].params[0].name, "id");
        let answer = &m.tags[0].ops[0].responses[0];
        let words: Vec<_> = answer.contents[0]
            .ty
            .parts
            .iter()
            .map(|p| (p.text.as_str(), p.link))
            .collect();
        assert_eq!(words, [("array of ", false), ("X", true)]);
        let put = &m.tags[1].ops[0];
        assert_eq!(m.tags[1].name, "other");
        assert!(put.public);
        let fields = &put.body.as_ref().expect("body").contents[0].fields;
        let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["n", "inner", "inner.m"]);
        assert!(fields[0].required);
        assert_eq!(fields[0].example.as_deref(), Some("3"));
        assert_eq!(fields[0].notes, ["≥ 1"]);
        assert_eq!(m.schemas[0].name, "X");
    }
}
