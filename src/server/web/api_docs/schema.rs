//! JSON Schemas (OpenAPI 3.1's dialect, as utoipa and schemars write them)
//! described for people: a type in words with links to the named
//! schemas, and an object's fields as table rows.

use serde_json::{Map, Value};

use super::text::Text;
use crate::core::shapes::CHECKED_KEY;

/// Where named schemas live in the document.
const COMPONENT: &str = "#/components/schemas/";

/// One piece of a type: words, or the name of a component schema (a
/// link to its description).
pub struct TyPart {
    pub text: String,
    pub link: bool,
}

/// A type in words, e.g. `array of RuleConfig` or `string | null`.
#[derive(Default)]
pub struct Ty {
    pub parts: Vec<TyPart>,
}

impl Ty {
    fn word(&mut self, text: &str) {
        match self.parts.last_mut() {
            Some(last) if !last.link => last.text.push_str(text),
            _ => self.parts.push(TyPart {
                text: text.to_owned(),
                link: false,
            }),
        }
    }

    fn name(&mut self, name: &str) {
        self.parts.push(TyPart {
            text: name.to_owned(),
            link: true,
        });
    }

    fn append(&mut self, other: Ty) {
        for part in other.parts {
            if part.link {
                self.name(&part.text);
            } else {
                self.word(&part.text);
            }
        }
    }

    /// The type of `schema`.
    pub fn of(schema: &Value) -> Self {
        let mut ty = Ty::default();
        ty.describe(schema, 0);
        if ty.parts.is_empty() {
            ty.word("any");
        }
        ty
    }

    fn describe(&mut self, schema: &Value, depth: usize) {
        if depth > 8 {
            self.word("…");
            return;
        }
        if let Some(name) = ref_name(schema) {
            self.name(name);
            return;
        }
        if let Some(v) = schema.get("const") {
            self.word(&compact(v));
            return;
        }
        if let Some(values) = schema.get("enum").and_then(Value::as_array) {
            let words: Vec<String> = values.iter().map(compact).collect();
            self.word(&words.join(" | "));
            return;
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            if let Some(options) = schema.get(key).and_then(Value::as_array) {
                let joiner = if key == "allOf" { " & " } else { " | " };
                for (i, option) in options.iter().enumerate() {
                    if i > 0 {
                        self.word(joiner);
                    }
                    self.describe(option, depth + 1);
                }
                return;
            }
        }
        let types: Vec<&str> = match schema.get("type") {
            Some(Value::String(t)) => vec![t.as_str()],
            Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        for (i, t) in types.iter().enumerate() {
            if i > 0 {
                self.word(" | ");
            }
            self.one_type(t, schema, depth);
        }
    }

    fn one_type(&mut self, t: &str, schema: &Value, depth: usize) {
        match t {
            "array" => {
                if let Some(tuple) = schema.get("prefixItems").and_then(Value::as_array) {
                    // A fixed-size tuple, e.g. a `[name, value]` pair.
                    self.word("[");
                    for (i, item) in tuple.iter().enumerate() {
                        if i > 0 {
                            self.word(", ");
                        }
                        self.describe(item, depth + 1);
                    }
                    self.word("]");
                } else if let Some(items) = schema.get("items").filter(|i| i.is_object()) {
                    self.word("array of ");
                    let mut inner = Ty::default();
                    inner.describe(items, depth + 1);
                    let compound = inner
                        .parts
                        .iter()
                        .any(|p| !p.link && p.text.contains(" | "));
                    if compound {
                        self.word("(");
                    }
                    self.append(inner);
                    if compound {
                        self.word(")");
                    }
                } else {
                    self.word("array");
                }
            }
            "object" => match schema.get("additionalProperties") {
                Some(extra) if extra.is_object() && schema.get("properties").is_none() => {
                    self.word("map of string → ");
                    self.describe(extra, depth + 1);
                }
                _ => self.word("object"),
            },
            other => {
                self.word(other);
                if let Some(format) = schema.get("format").and_then(Value::as_str) {
                    self.word(&format!(" ({format})"));
                }
            }
        }
    }
}

/// The component a schema refers to, if it is `$ref` to one.
pub fn ref_name(schema: &Value) -> Option<&str> {
    schema.get("$ref")?.as_str()?.strip_prefix(COMPONENT)
}

/// The component schema a body or answer is: `$ref` to it, or "it or
/// null".
pub fn main_ref(schema: &Value) -> Option<&str> {
    if let Some(name) = ref_name(schema) {
        return Some(name);
    }
    for key in ["oneOf", "anyOf"] {
        if let Some(options) = schema.get(key).and_then(Value::as_array) {
            let named: Vec<&str> = options.iter().filter_map(ref_name).collect();
            let rest_null = options
                .iter()
                .filter(|o| ref_name(o).is_none())
                .all(|o| o.get("type").and_then(Value::as_str) == Some("null"));
            if named.len() == 1 && rest_null {
                return named.first().copied();
            }
        }
    }
    None
}

/// A value as compact JSON, e.g. `"stripe-dev"` or `[["a","b"]]`.
pub fn compact(v: &Value) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// One row of a field table.
pub struct Field {
    /// Dotted for nested fields: `response.status`, `items[].name`.
    pub name: String,
    pub ty: Ty,
    pub required: bool,
    pub description: Text,
    /// Default, range, length: short facts.
    pub notes: Vec<String>,
    pub example: Option<String>,
}

/// The fields of an object schema, nested inline objects flattened with
/// dotted names (named ones are links instead).
pub fn fields(schema: &Value) -> Vec<Field> {
    let mut out = Vec::new();
    collect(schema, "", &mut out, 0);
    out
}

fn collect(schema: &Value, prefix: &str, out: &mut Vec<Field>, depth: usize) {
    let Some(props) = schema.get("properties").and_then(Value::as_object) else {
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    for (name, prop) in props {
        let full = format!("{prefix}{name}");
        out.push(Field {
            name: full.clone(),
            ty: Ty::of(prop),
            required: required.contains(&name.as_str()),
            description: Text::of(prop.get("description")),
            notes: notes(prop),
            example: example(prop),
        });
        if depth < 4 {
            if prop.get("properties").is_some() {
                collect(prop, &format!("{full}."), out, depth + 1);
            } else if let Some(items) = prop.get("items").filter(|i| i.get("properties").is_some())
            {
                collect(items, &format!("{full}[]."), out, depth + 1);
            }
        }
    }
}

/// The first example a schema (or parameter) gives.
pub fn example(v: &Value) -> Option<String> {
    v.get("examples")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
        .or_else(|| v.get("example"))
        .map(compact)
}

/// Short facts about a value: default, range, lengths, pattern, unknown
/// fields refused.
pub fn notes(schema: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let get = |k: &str| schema.get(k).filter(|v| !v.is_null());
    if let Some(d) = get("default") {
        out.push(format!("default {}", compact(d)));
    }
    let unsigned = get("format")
        .and_then(Value::as_str)
        .is_some_and(|f| f.starts_with("uint"));
    let min = get("minimum").filter(|m| !(unsigned && m.as_f64() == Some(0.0)));
    match (min, get("maximum")) {
        (Some(lo), Some(hi)) => out.push(format!("{}–{}", compact(lo), compact(hi))),
        (Some(lo), None) => out.push(format!("≥ {}", compact(lo))),
        (None, Some(hi)) => out.push(format!("≤ {}", compact(hi))),
        (None, None) => {}
    }
    for (key, label) in [
        ("exclusiveMinimum", ">"),
        ("exclusiveMaximum", "<"),
        ("minLength", "length ≥"),
        ("maxLength", "length ≤"),
        ("minItems", "items ≥"),
        ("maxItems", "items ≤"),
        ("pattern", "pattern"),
    ] {
        if let Some(v) = get(key) {
            let v = v.as_str().map_or_else(|| compact(v), str::to_owned);
            out.push(format!("{label} {v}"));
        }
    }
    if schema.get("additionalProperties") == Some(&Value::Bool(false))
        && schema.get("properties").is_some()
    {
        out.push("no other fields".to_owned());
    }
    if let Some(not) = get("not") {
        let mut refused = Vec::new();
        patterns(not, &mut refused);
        if !refused.is_empty() {
            out.push(format!("not matching {}", refused.join(" or ")));
        }
    }
    if let Some(words) = get(CHECKED_KEY).and_then(Value::as_str) {
        out.push(format!("checked: {words}"));
    }
    out
}

/// Every `pattern` in a schema (those of a `not`, for its note).
fn patterns(schema: &Value, out: &mut Vec<String>) {
    match schema {
        Value::Object(map) => {
            for (k, v) in map {
                match (k.as_str(), v) {
                    ("pattern", Value::String(p)) => out.push(p.clone()),
                    _ => patterns(v, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| patterns(v, out)),
        _ => {}
    }
}

/// A named schema's variants (`oneOf`/`anyOf`), each with its description.
pub struct Variant {
    pub ty: Ty,
    pub description: Text,
}

/// The variants of a schema that is one of several.
pub fn variants(schema: &Value) -> Vec<Variant> {
    ["oneOf", "anyOf"]
        .iter()
        .find_map(|k| schema.get(*k).and_then(Value::as_array))
        .map(|options| {
            options
                .iter()
                .map(|o| Variant {
                    ty: Ty::of(o),
                    description: Text::of(o.get("description")),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The component schemas of a document, in document order.
pub fn components(doc: &Value) -> Option<&Map<String, Value>> {
    doc.pointer("/components/schemas")
        .and_then(Value::as_object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn words(ty: &Ty) -> String {
        ty.parts.iter().map(|p| p.text.as_str()).collect()
    }

    #[test]
    fn pairs_refusals_and_checks_in_words_are_shown() {
        let pairs = json!({"type": "array", "items": {"type": "array",
            "prefixItems": [{"type": "string"}, {"type": "string"}], "minItems": 2, "maxItems": 2}});
        assert_eq!(words(&Ty::of(&pairs)), "array of [string, string]");
        let alias = json!({"type": "string", "pattern": "^[a-z]+$",
            "not": {"anyOf": [{"pattern": "^api$"}, {"pattern": "^new$"}]},
            CHECKED_KEY: "unique"});
        let notes = notes(&alias);
        assert!(
            notes.contains(&"not matching ^api$ or ^new$".to_owned()),
            "{notes:?}"
        );
        assert!(notes.contains(&"checked: unique".to_owned()), "{notes:?}");
    }
}
