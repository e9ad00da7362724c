//! Errors on HTML routes: an [`AppError`] rendered as a page, with the
//! same status and message the JSON routes give.

use askama::Template;
use axum::response::{Html, IntoResponse, Response};

use crate::server::error::AppError;

/// The page shown for errors on HTML routes.
#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    status: u16,
    message: String,
}

/// An [`AppError`] on an HTML page.
#[derive(Debug)]
pub struct PageError(pub AppError);

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        Self(e.into())
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let status = self.0.status();
        let page = ErrorPage {
            status: status.as_u16(),
            message: self.0.public_message(),
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, page.message).into_response(),
        }
    }
}
