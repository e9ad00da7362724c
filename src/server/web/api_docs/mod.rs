//! `GET /api/docs`: the API described for people, rendered on the server
//! from the very document `GET /api/openapi.json` serves, so the two cannot
//! drift. Built once at start-up ([`ApiDocs::new`], attached by
//! `web::api::openapi`) and rendered once on the first request: no script,
//! nothing from another host, the site's layout and strict CSP.
//!
//! - [`text`]: descriptions as prose and `code` spans.
//! - [`schema`]: JSON Schemas as types in words and field tables.
//! - [`model`]: the document read into what the page shows.

mod model;
mod schema;
mod text;

use std::sync::{Arc, OnceLock};

use askama::Template;
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use self::model::Model;
use super::layout::Layout;
use crate::core::views::ErrorBody;
use crate::server::state::AppState;

/// The route, with its description.
pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(api_docs))
}

/// The page's content, read from the served document once; and the page
/// itself, once it has been rendered.
#[derive(Clone)]
pub struct ApiDocs(Arc<Inner>);

struct Inner {
    model: Model,
    html: OnceLock<Bytes>,
}

impl ApiDocs {
    /// Reads the document the server serves.
    pub fn new(doc: &Value) -> Self {
        Self(Arc::new(Inner {
            model: Model::new(doc),
            html: OnceLock::new(),
        }))
    }
}

#[derive(Template)]
#[template(path = "api_docs.html")]
struct Page<'a> {
    layout: Layout,
    css: String,
    m: &'a Model,
}

/// The API described for people: every operation of `/api/openapi.json`
/// with its parameters, bodies and answers, and every schema.
#[utoipa::path(
    get, path = "/api/docs", tag = "meta",
    responses(
        (status = 200, description = "This description as a page for people (HTML)", body = String, content_type = "text/html"),
        (status = 401, description = "The server's access token is needed", body = ErrorBody),
    )
)]
async fn api_docs(State(state): State<AppState>, Extension(docs): Extension<ApiDocs>) -> Response {
    // The layout cannot change while the server runs (the assets are
    // embedded, the access token is fixed): render once.
    let html = match docs.0.html.get() {
        Some(html) => html.clone(),
        None => {
            let page = Page {
                layout: Layout::for_everyone(&state),
                css: state.assets.url("api_docs.css"),
                m: &docs.0.model,
            };
            match page.render() {
                Ok(html) => docs.0.html.get_or_init(|| Bytes::from(html)).clone(),
                Err(e) => {
                    tracing::error!(error = %e, "api docs template failed");
                    return (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response();
                }
            }
        }
    };
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], html).into_response()
}
