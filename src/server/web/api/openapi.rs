//! `GET /api/openapi.json`: the API described as OpenAPI 3.1, generated
//! from the handlers' own types and `#[utoipa::path]` attributes. Every
//! `/api` route is registered through utoipa's `routes!`, which adds it to
//! the router and to this document at once, so the two cannot drift
//! (`tests/it/openapi.rs` also checks the source and the live server).

use axum::body::Bytes;
use axum::http::header;
use axum::response::IntoResponse;
use axum::{Extension, Router};
use utoipa::openapi::OpenApi as Document;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use std::sync::Arc;

use super::contract::{self, Contract};
use super::refine::refine;
use super::schemas::add_core_schemas;
use crate::core::views::ErrorBody;
use crate::server::config::ServerConfig;
use crate::server::state::AppState;
use crate::server::web::api_docs::ApiDocs;

/// The document's frame: what the API is, how it is authenticated.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "hookwire",
        description = "Capture, inspect and relay webhooks. Capture URLs (`ANY /{bin_id}[/{path}]`) are public and answer with the bin's configured response; everything under `/api` needs the server's access token (`Authorization: Bearer`, or the inspector's session cookie) when it has one. State changes a browser sends from another site are refused with 403.",
        license(name = "MIT OR Apache-2.0"),
    ),
    modifiers(&BearerAuth),
    security(("bearer" = [])),
    tags(
        (name = "bins", description = "Capture URLs and what they answer"),
        (name = "requests", description = "Captured requests"),
        (name = "export", description = "Export as curl, HAR 1.2 or JSON; import"),
        (name = "tunnel", description = "The WebSocket of `hookwire tunnel`"),
        (name = "tokens", description = "A team instance's tokens and audit log (admin scope)"),
        (name = "meta", description = "This description"),
    ),
    components(schemas(ErrorBody)),
)]
struct ApiDoc;

/// Adds the access token as the `bearer` security scheme.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut Document) {
        doc.components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "bearer",
                SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
            );
    }
}

/// The serialised document, shared by every request for it.
#[derive(Clone)]
struct Serialized(Bytes);

/// This document.
#[utoipa::path(
    get, path = "/api/openapi.json", tag = "meta",
    responses(
        (status = 200, description = "The OpenAPI 3.1 document", body = Object, content_type = "application/json"),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
    )
)]
async fn openapi_json(Extension(Serialized(doc)): Extension<Serialized>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], doc)
}

/// Every `/api` route of `web`, with its description.
fn described(api: OpenApiRouter<AppState>) -> (Router<AppState>, Document) {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(openapi_json))
        .merge(api)
        .split_for_parts()
}

/// The `/api` routes (`api` holds every one but this document's) and
/// `GET /api/openapi.json`, each call checked against the document
/// (`contract`), bodies read up to [`body_limit`] within the server's body
/// deadline.
pub fn router(api: OpenApiRouter<AppState>, config: &ServerConfig) -> Router<AppState> {
    let (router, doc) = described(api);
    // Serialised once: the document never changes while the server runs.
    let mut doc = serde_json::to_value(&doc).unwrap_or_default();
    add_core_schemas(&mut doc);
    refine(&mut doc);
    let contract = match Contract::new(
        &doc,
        body_limit(config.max_body_bytes),
        config.body_deadline,
    ) {
        Ok(c) => Arc::new(c),
        // The document is the code's own: a schema that does not compile
        // is a bug every test meets at once.
        Err(e) => panic!("the API document does not compile: {e}"),
    };
    let json = serde_json::to_vec(&doc).unwrap_or_default();
    // The page for people (`GET /api/docs`) reads the same document.
    let docs = ApiDocs::new(&doc);
    router
        .route_layer(axum::middleware::from_fn(move |req, next| {
            contract::enforce(contract.clone(), req, next)
        }))
        .route_layer(Extension(Serialized(Bytes::from(json))))
        .route_layer(Extension(docs))
}

/// The largest body an API call may have: room for an import of a body of
/// `--max-body-bytes` written both as base64 and as escaped text, and never
/// under 64 MiB.
pub fn body_limit(max_body_bytes: usize) -> usize {
    max_body_bytes.saturating_mul(8).max(64 * 1024 * 1024)
}
