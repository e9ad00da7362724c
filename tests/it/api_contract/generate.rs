//! Values from a JSON Schema of the API document: ones it allows, made
//! with proptest's generators from the schema itself (types, ranges,
//! lengths, patterns, enums, `prefixItems`, required properties), and
//! mutations of them that it likely forbids (wrong types, missing or
//! extra properties, out of range, broken patterns, wrong array sizes).
//! Which is which is decided afterwards by [`Schemas::verdict`], never by
//! the intent of the generator.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use proptest::strategy::{Strategy, ValueTree};
use proptest::string::RegexGeneratorStrategy;
use proptest::test_runner::TestRunner;
use serde_json::{Map, Value, json};

/// The extension that says what the server checks in words only; the
/// schema's `examples` pass it (`hookwire::core::shapes::CHECKED_KEY`).
pub const CHECKED: &str = hookwire::core::shapes::CHECKED_KEY;

/// What the document says of a value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed, and free of rules said only in words: must be taken.
    Valid,
    /// Forbidden: must be refused with 400 or 422, changing nothing.
    Invalid,
    /// Allowed by the schema, but somewhere a value that the server checks
    /// in words (the match language, templates) is not one of the
    /// document's examples: either answer is right; a refusal must
    /// change nothing.
    InWords,
}

/// A random number below `n` (0 when `n` is 0).
pub fn below(runner: &mut TestRunner, n: usize) -> usize {
    if n == 0 {
        return 0;
    }
    (0..n).new_tree(runner).expect("a number").current()
}

/// True `percent` times in a hundred.
pub fn chance(runner: &mut TestRunner, percent: usize) -> bool {
    below(runner, 100) < percent
}

fn pick<'a, T>(runner: &mut TestRunner, items: &'a [T]) -> Option<&'a T> {
    (!items.is_empty()).then(|| &items[below(runner, items.len())])
}

/// The document's components, for resolving `$ref`s.
pub struct Schemas {
    root: Value,
    /// Validators by schema text: each is compiled once.
    compiled: RefCell<HashMap<String, Rc<jsonschema::Validator>>>,
    /// String generators by pattern (`None`: proptest cannot read it).
    patterns: RefCell<HashMap<String, Option<Rc<RegexGeneratorStrategy<String>>>>>,
}

impl Schemas {
    pub fn new(doc: &Value) -> Self {
        Self {
            root: json!({ "components": doc["components"].clone() }),
            compiled: RefCell::default(),
            patterns: RefCell::default(),
        }
    }

    /// A validator of `schema`, its references resolved in the document.
    pub fn validator(&self, schema: &Value) -> Rc<jsonschema::Validator> {
        let key = schema.to_string();
        if let Some(v) = self.compiled.borrow().get(&key) {
            return v.clone();
        }
        let mut rooted = schema.clone();
        if let Some(obj) = rooted.as_object_mut() {
            obj.insert("components".into(), self.root["components"].clone());
        }
        let v = Rc::new(
            jsonschema::options()
                .with_draft(jsonschema::Draft::Draft202012)
                .build(&rooted)
                .unwrap_or_else(|e| panic!("the document's schema {schema} does not compile: {e}")),
        );
        self.compiled.borrow_mut().insert(key, v.clone());
        v
    }

    fn resolve<'a>(&'a self, mut schema: &'a Value) -> &'a Value {
        while let Some(r) = schema.get("$ref").and_then(Value::as_str) {
            match r.strip_prefix('#').and_then(|p| self.root.pointer(p)) {
                Some(s) => schema = s,
                None => break,
            }
        }
        schema
    }

    /// The document's verdict on `value` against `schema`.
    pub fn verdict(&self, schema: &Value, value: &Value) -> Verdict {
        if !self.validator(schema).is_valid(value) {
            Verdict::Invalid
        } else if self.in_words(schema, value) {
            Verdict::InWords
        } else {
            Verdict::Valid
        }
    }

    /// True when, somewhere in `value`, a place the server checks in words
    /// holds something other than one of its examples.
    fn in_words(&self, schema: &Value, value: &Value) -> bool {
        let here = schema;
        let schema = self.resolve(schema);
        for s in [here, schema] {
            if s.get(CHECKED).is_some() {
                let examples = s["examples"].as_array().cloned().unwrap_or_default();
                return !examples.contains(value);
            }
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            for sub in schema[key].as_array().into_iter().flatten() {
                let fits = self.validator(sub).is_valid(value);
                if fits && self.in_words(sub, value) {
                    return true;
                }
            }
        }
        match value {
            Value::Object(map) => map.iter().any(|(k, v)| {
                schema["properties"]
                    .get(k)
                    .is_some_and(|s| self.in_words(s, v))
            }),
            Value::Array(items) => items.iter().enumerate().any(|(i, v)| {
                let s = schema["prefixItems"]
                    .get(i)
                    .or_else(|| schema.get("items").filter(|s| s.is_object()));
                s.is_some_and(|s| self.in_words(s, v))
            }),
            _ => false,
        }
    }

    /// A value `schema` allows, most of the time (what it does not say it
    /// cannot be made to: the verdict decides).
    pub fn valid(&self, runner: &mut TestRunner, schema: &Value, depth: usize) -> Value {
        let here = schema;
        let schema = self.resolve(schema);
        let examples: Vec<Value> = [here, schema]
            .iter()
            .flat_map(|s| s["examples"].as_array().cloned().unwrap_or_default())
            .collect();
        let checked = here.get(CHECKED).is_some() || schema.get(CHECKED).is_some();
        if (checked || chance(runner, 15) || depth > 6)
            && let Some(e) = pick(runner, &examples)
        {
            return e.clone();
        }
        if let Some(c) = schema.get("const") {
            return c.clone();
        }
        if let Some(options) = schema["enum"].as_array()
            && let Some(o) = pick(runner, options)
        {
            return o.clone();
        }
        if let Some(all) = schema["allOf"].as_array()
            && let Some(first) = all.first()
        {
            return self.valid(runner, first, depth + 1);
        }
        for key in ["anyOf", "oneOf"] {
            if let Some(branches) = schema[key].as_array()
                && let Some(b) = pick(runner, branches)
            {
                return self.valid(runner, b, depth + 1);
            }
        }
        let types: Vec<&str> = match &schema["type"] {
            Value::String(t) => vec![t.as_str()],
            Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
            _ => vec!["object", "string", "integer", "boolean", "array"],
        };
        // null is allowed but says little: chosen rarely.
        let non_null: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
        let ty = if non_null.is_empty() || (types.contains(&"null") && chance(runner, 15)) {
            "null"
        } else {
            pick(runner, &non_null).copied().unwrap_or("null")
        };
        match ty {
            "null" => Value::Null,
            "boolean" => Value::Bool(chance(runner, 50)),
            "integer" => json!(self.integer(runner, schema)),
            "number" => json!(self.integer(runner, schema) as f64 + 0.5),
            "string" => Value::String(self.string(runner, schema)),
            "array" => self.array(runner, schema, depth),
            _ => self.object(runner, schema, depth),
        }
    }

    fn integer(&self, runner: &mut TestRunner, schema: &Value) -> i64 {
        let min = schema["minimum"].as_i64().unwrap_or(-1000);
        let max = schema["maximum"]
            .as_i64()
            .unwrap_or(min.saturating_add(2000));
        let span = usize::try_from(max.saturating_sub(min)).unwrap_or(usize::MAX / 2);
        // The edges, and mostly small values near the low one.
        match below(runner, 4) {
            0 => min,
            1 => max,
            2 => min + i64::try_from(below(runner, span.min(10) + 1)).unwrap_or(0),
            _ => min + i64::try_from(below(runner, span.saturating_add(1))).unwrap_or(0),
        }
    }

    fn string(&self, runner: &mut TestRunner, schema: &Value) -> String {
        let min = schema["minLength"].as_u64().unwrap_or(0) as usize;
        let max = schema["maxLength"]
            .as_u64()
            .map_or(min + 12, |m| m as usize);
        let max = max.min(min + 40);
        if let Some(pattern) = schema["pattern"].as_str() {
            let strategy = self
                .patterns
                .borrow_mut()
                .entry(pattern.to_owned())
                .or_insert_with(|| {
                    let full = pattern.strip_prefix('^').unwrap_or(pattern);
                    let full = full.strip_suffix('$').unwrap_or(full);
                    proptest::string::string_regex(full).ok().map(Rc::new)
                })
                .clone();
            if let Some(strategy) = strategy {
                for _ in 0..8 {
                    let s = strategy.new_tree(runner).expect("a string").current();
                    // Lengths the schema states; the pattern's own otherwise.
                    let most = schema["maxLength"]
                        .as_u64()
                        .map_or(usize::MAX, |m| m as usize);
                    if (min..=most).contains(&s.chars().count()) {
                        return s;
                    }
                }
            }
        }
        let len = min + below(runner, max.saturating_sub(min) + 1);
        let alphabet: Vec<char> = "abcXYZ019-_. /:é✓\t{}\"\\".chars().collect();
        (0..len)
            .map(|_| *pick(runner, &alphabet).unwrap_or(&'a'))
            .collect()
    }

    fn array(&self, runner: &mut TestRunner, schema: &Value, depth: usize) -> Value {
        let mut out: Vec<Value> = schema["prefixItems"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|s| self.valid(runner, s, depth + 1))
            .collect();
        let min = schema["minItems"].as_u64().unwrap_or(0) as usize;
        let max = schema["maxItems"].as_u64().map_or(3, |m| m as usize).min(3);
        if let Some(items) = schema.get("items").filter(|s| s.is_object()) {
            let want = min.max(out.len()) + below(runner, max.saturating_sub(min) + 1);
            while out.len() < want.min(max.max(min)) {
                out.push(self.valid(runner, items, depth + 1));
            }
        }
        Value::Array(out)
    }

    fn object(&self, runner: &mut TestRunner, schema: &Value, depth: usize) -> Value {
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut out = Map::new();
        for (name, s) in schema["properties"].as_object().into_iter().flatten() {
            if required.contains(&name.as_str()) || chance(runner, 50) {
                out.insert(name.clone(), self.valid(runner, s, depth + 1));
            }
        }
        Value::Object(out)
    }

    /// `value` changed in one place, in a way that its schema likely
    /// forbids.
    pub fn mutate(&self, runner: &mut TestRunner, value: &Value) -> Value {
        let mut out = value.clone();
        let mut places = Vec::new();
        places_of(&out, String::new(), &mut places);
        let at = pick(runner, &places).cloned().unwrap_or_default();
        if let Some(target) = out.pointer_mut(&at) {
            *target = changed(runner, target);
        }
        out
    }
}

/// Every JSON pointer into `v`, `v` itself first.
fn places_of(v: &Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                places_of(
                    child,
                    format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")),
                    out,
                );
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                places_of(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// One change of one value: its type, its size or its text.
fn changed(runner: &mut TestRunner, v: &Value) -> Value {
    let other_type = [
        json!(null),
        json!(true),
        json!(7),
        json!(-1),
        json!("x"),
        json!([]),
        json!([[]]),
        json!({}),
    ];
    if chance(runner, 30) {
        return pick(runner, &other_type).cloned().unwrap_or(Value::Null);
    }
    match v {
        Value::Object(map) => {
            let mut map = map.clone();
            let keys: Vec<String> = map.keys().cloned().collect();
            match pick(runner, &keys) {
                Some(k) if chance(runner, 50) => {
                    map.remove(k);
                }
                _ => {
                    map.insert("unexpected".into(), json!(1));
                }
            }
            Value::Object(map)
        }
        Value::Array(items) => {
            let mut items = items.clone();
            match below(runner, 3) {
                0 => {
                    items.pop();
                }
                1 => items.push(items.last().cloned().unwrap_or(json!("x"))),
                _ => items.push(json!([])),
            }
            Value::Array(items)
        }
        Value::String(s) => Value::String(match below(runner, 5) {
            0 => String::new(),
            1 => format!("{s}\u{0}"),
            2 => s.to_uppercase() + " X",
            3 => s.repeat(40) + &"y".repeat(70),
            _ => format!("{{{{{s}"),
        }),
        Value::Number(n) => {
            let n = n.as_f64().unwrap_or(0.0);
            match below(runner, 4) {
                0 => json!(-n - 1.0),
                1 => json!(n as i64 + 100_000),
                2 => json!(0),
                _ => json!(n + 0.5),
            }
        }
        Value::Bool(b) => json!(if *b { "true" } else { "false" }),
        Value::Null => json!("null"),
    }
}
