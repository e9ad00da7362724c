//! The JSON Schemas of the core types the API takes and answers with.
//!
//! Those types live in [`crate::core`], which both sides share, so they
//! describe themselves with `schemars` (a data-description crate) rather
//! than with utoipa, the server's OpenAPI machinery. Here each one becomes
//! a utoipa schema *by name*: the handlers' `#[utoipa::path]` attributes and
//! the server's own `ToSchema` types refer to it as
//! `#/components/schemas/<Name>`, and [`add_core_schemas`] puts the
//! definitions schemars generates under those names in the served
//! document. The macro below is the one list: a type the API uses but that
//! is missing here does not compile; every listed type is defined.

use std::borrow::Cow;

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};
use utoipa::openapi::{RefOr, Schema};

use crate::core::model::{Action, Edits, ResponseConfig, RuleConfig};
use crate::core::payload_schema::{SchemaConfig, SchemaError, SchemaVerdict, SchemasBody};
use crate::core::scope::Scope;
use crate::core::verify::Signature;
use crate::core::verify::secrets::{HeaderRule, Secrets};
use crate::core::views::{
    AliasBody, AliasChange, AuditEntry, AuditPage, BinView, CreatedToken, DeliveryJson, ErrorBody,
    NewToken, RequestJson, RequestPage, TokenList, TokenView,
};

macro_rules! core_schemas {
    ($($ty:ty),* $(,)?) => {
        $(
            impl utoipa::PartialSchema for $ty {
                /// A placeholder: the served document holds the definition
                /// schemars generates (see [`add_core_schemas`]).
                fn schema() -> RefOr<Schema> {
                    RefOr::T(Schema::Object(Default::default()))
                }
            }

            impl utoipa::ToSchema for $ty {
                fn name() -> Cow<'static, str> {
                    <$ty as JsonSchema>::schema_name()
                }
            }
        )*

        /// The definitions of every core type the API uses (and of the
        /// types they contain), keyed by schema name.
        fn definitions() -> Map<String, Value> {
            let mut generator = SchemaSettings::draft2020_12()
                .with(|s| {
                    s.definitions_path = "/components/schemas".into();
                    s.meta_schema = None;
                })
                .into_generator();
            $( generator.subschema_for::<$ty>(); )*
            generator.take_definitions(true)
        }
    };
}

core_schemas!(
    ResponseConfig,
    Action,
    RuleConfig,
    Edits,
    Signature,
    Secrets,
    HeaderRule,
    BinView,
    ErrorBody,
    AliasBody,
    AliasChange,
    super::rules::RuleList,
    RequestJson<'_>,
    DeliveryJson<'_>,
    RequestPage<'_>,
    SchemasBody,
    SchemaConfig,
    SchemaVerdict,
    SchemaError,
    Scope,
    NewToken,
    TokenView,
    TokenList,
    CreatedToken,
    AuditEntry,
    AuditPage,
);

/// Replaces the placeholders of the core types in a serialised OpenAPI
/// document with their definitions.
pub fn add_core_schemas(doc: &mut Value) {
    let schemas = doc
        .pointer_mut("/components/schemas")
        .and_then(Value::as_object_mut);
    if let Some(schemas) = schemas {
        schemas.extend(definitions());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_core_type_is_defined_with_references_the_document_resolves() {
        let defs = definitions();
        for name in [
            "RequestJson",
            "DeliveryJson",
            "BinView",
            "ResponseConfig",
            "Signature",
        ] {
            assert!(defs.contains_key(name), "{name} is not defined");
        }
        let text = serde_json::to_string(&defs).expect("json");
        for r in text.split("\"$ref\":\"").skip(1) {
            let target = r.split('"').next().expect("ref");
            let name = target
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("{target} points outside the components"));
            assert!(defs.contains_key(name), "{target} is not defined");
        }
        assert_eq!(
            defs["RequestJson"]["properties"]["headers"]["type"], "array",
            "headers are [name, value] pairs"
        );
    }
}
