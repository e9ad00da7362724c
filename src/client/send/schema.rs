//! `hookwire schema --as PROVIDER [--event E]`: the JSON Schema (2020-12)
//! of the payloads `hookwire send` plays, ready to load into a bin
//! (`PUT /api/bins/{bin_id}/schemas`). The schema text lives in data files
//! beside this one, `schemas/<provider>.json`: `{"title", "$defs": {event:
//! schema}}`, one definition per event of [`Provider::events`]. Their
//! `enum`s, `const`s and `required`s follow [`super::payloads`]; the tests
//! build every event many times (ids are random) and validate each, with
//! the providers' documented examples (tests/fixtures/seeds).

use serde_json::{Map, Value, json};

use super::catalogue::Provider;

/// The dialect every printed schema declares.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// The data file of a provider; `None` for Twilio, whose bodies are forms.
fn source(provider: Provider) -> Option<&'static str> {
    Some(match provider {
        Provider::Edenai => include_str!("schemas/edenai.json"),
        Provider::Abstrakt => include_str!("schemas/abstrakt.json"),
        Provider::Cerebrium => include_str!("schemas/cerebrium.json"),
        Provider::Assemblyai => include_str!("schemas/assemblyai.json"),
        Provider::Stripe => include_str!("schemas/stripe.json"),
        Provider::Github => include_str!("schemas/github.json"),
        Provider::StandardWebhooks => include_str!("schemas/standard-webhooks.json"),
        Provider::Slack => include_str!("schemas/slack.json"),
        Provider::Shopify => include_str!("schemas/shopify.json"),
        Provider::Twilio => return None,
    })
}

/// The JSON Schema of `provider`'s `event` (every event when `None`: any
/// one of them), as a standalone document.
pub fn schema(provider: Provider, event: Option<&str>) -> Result<Value, String> {
    let name = provider.name();
    let Some(text) = source(provider) else {
        return Err(format!(
            "{name} sends form-encoded bodies (application/x-www-form-urlencoded), which a JSON \
             Schema does not describe; match its fields with body~TEXT in a rule or filter instead"
        ));
    };
    // The files are ours, checked by the tests: a broken one is a build bug.
    let file: Value =
        serde_json::from_str(text).map_err(|e| format!("schemas/{name}.json: {e}"))?;
    let title = file["title"].as_str().unwrap_or(name);
    let defs = file["$defs"].as_object().cloned().unwrap_or_default();
    let one = |event: &str| -> Result<Value, String> {
        defs.get(event).cloned().ok_or_else(|| {
            format!(
                "{name} has no event {event:?}; its events are {} (hookwire send --as {name} --list)",
                provider.events().join(", ")
            )
        })
    };
    let mut doc = Map::new();
    doc.insert("$schema".into(), json!(DIALECT));
    match event {
        Some(event) => {
            doc.insert("title".into(), json!(format!("{title}: {event}")));
            let Value::Object(body) = one(event)? else {
                return Err(format!("schemas/{name}.json: {event} is not an object"));
            };
            doc.extend(body);
        }
        None => {
            doc.insert(
                "title".into(),
                json!(format!("{title}: any of {}", provider.events().join(", "))),
            );
            let each = provider
                .events()
                .iter()
                .map(|e| one(e))
                .collect::<Result<Vec<_>, _>>()?;
            doc.insert("anyOf".into(), Value::Array(each));
        }
    }
    Ok(Value::Object(doc))
}

#[cfg(test)]
mod tests {
    //! Every event `send` builds validates against its schema and the
    //! provider's; a wrong payload fails at the right pointer.

    use super::*;
    use crate::client::send::catalogue::{PROVIDERS, build};
    use crate::core::payload_schema::{compile_one, verdict};

    #[test]
    fn every_payload_send_builds_validates() {
        for p in PROVIDERS {
            if p == Provider::Twilio {
                assert!(schema(p, None).expect_err("forms").contains("form-encoded"));
                continue;
            }
            let all = compile_one(&schema(p, None).expect("all")).expect("compiles");
            for e in p.events() {
                let one = compile_one(&schema(p, Some(e)).expect("one")).expect("compiles");
                // Ids, times and amounts are random: many draws.
                for _ in 0..200 {
                    let body: Value =
                        serde_json::from_slice(&build(p, Some(e)).expect("builds").body)
                            .expect("JSON");
                    let v = verdict(&one, &body);
                    assert!(v.valid, "{} {e}: {:?}\n{body:#}", p.name(), v.errors);
                    assert!(all.is_valid(&body), "{} (any event) {e}", p.name());
                }
            }
            // No definition for an event send does not play.
            let file: Value = serde_json::from_str(source(p).expect("file")).expect("json");
            let defs = file["$defs"].as_object().expect("$defs");
            assert_eq!(defs.len(), p.events().len(), "{}", p.name());
            assert!(
                schema(p, Some("nope"))
                    .expect_err("nope")
                    .contains("--list")
            );
        }
    }

    #[test]
    fn the_seeds_documented_examples_validate() {
        let doc: Value =
            serde_json::from_str(include_str!("../../../tests/fixtures/seeds/examples.json"))
                .expect("fixture JSON");
        let examples = doc["examples"].as_array().expect("examples");
        assert!(examples.len() >= 6);
        for x in examples {
            let p = PROVIDERS
                .into_iter()
                .find(|p| x["provider"] == p.name())
                .expect("a provider of send");
            let event = x["event"].as_str().expect("event");
            let one = compile_one(&schema(p, Some(event)).expect("schema")).expect("compiles");
            let v = verdict(&one, &x["example"]);
            assert!(
                v.valid,
                "{} {event} ({}): {:?}",
                p.name(),
                x["seed"],
                v.errors
            );
        }
    }

    #[test]
    fn an_event_validates_against_its_own_schema_only() {
        let paid = compile_one(&schema(Provider::Stripe, Some("charge.refunded")).expect("s"))
            .expect("compiles");
        let other: Value = serde_json::from_slice(
            &build(Provider::Stripe, Some("payment_intent.succeeded"))
                .expect("b")
                .body,
        )
        .expect("json");
        let v = verdict(&paid, &other);
        assert!(!v.valid);
        assert!(
            v.errors.iter().any(|e| e.pointer == "/type"),
            "{:?}",
            v.errors
        );
    }

    #[test]
    fn a_wrong_payload_fails_at_its_pointer() {
        let eden =
            compile_one(&schema(Provider::Edenai, Some("success")).expect("s")).expect("compiles");
        let mut body: Value =
            serde_json::from_slice(&build(Provider::Edenai, Some("success")).expect("b").body)
                .expect("json");
        body["status"] = json!("done");
        body["job_id"] = json!(42);
        let v = verdict(&eden, &body);
        let pointers: Vec<&str> = v.errors.iter().map(|e| e.pointer.as_str()).collect();
        assert!(
            !v.valid && pointers.contains(&"/status") && pointers.contains(&"/job_id"),
            "{:?}",
            v.errors
        );
        let status = v
            .errors
            .iter()
            .find(|e| e.pointer == "/status")
            .expect("status");
        assert!(status.message.contains("\"success\""), "{}", status.message);
    }
}
