//! The one error type of the HTTP layer and its one mapping to status
//! codes. API and capture routes answer JSON; inspector pages wrap it in
//! `web::error_page::PageError` to answer HTML. 5xx details are logged,
//! never sent. The services' domain errors come in through `From`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::core::views::ErrorBody;
use crate::server::services::bins::BinError;
use crate::server::store::StoreError;

/// What the sender hears when another bin has the alias.
const ALIAS_TAKEN: &str = "the alias is taken by another bin: pick another";

/// What a handler can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// 404, with what was not found and what to do.
    #[error("{0}")]
    NotFound(String),
    /// 400, with what is wrong with the input.
    #[error("{0}")]
    BadRequest(String),
    /// 413: a body over `--max-body-bytes`.
    #[error("request body is larger than the server's limit of {0} bytes (--max-body-bytes)")]
    PayloadTooLarge(usize),
    /// 429: the bin's rate limit; retry after this long.
    #[error("this bin takes at most --rate-limit captures per second; retry after {} s", .0.as_secs().max(1))]
    TooManyRequests(std::time::Duration),
    /// 507: the stored-bytes quota is used up.
    #[error(
        "the server's storage quota of {0} body bytes (--max-stored-bytes) is used up: clear old bins or requests"
    )]
    InsufficientStorage(u64),
    /// 408: the body did not arrive in time.
    #[error("the request body did not arrive within {0} s; send it again without pauses")]
    BodyTimeout(u64),
    /// 401: the access token is missing or wrong.
    #[error("{0}")]
    Unauthorized(String),
    /// 409: the action needs something that is not there (a tunnel).
    #[error("{0}")]
    Conflict(String),
    /// 403: a state change from another site.
    #[error("{0}")]
    Forbidden(String),
    /// 500/503: the database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// 500: work off the runtime failed (a panic in a blocking task).
    #[error("{0}")]
    Internal(String),
}

impl AppError {
    /// A blocking task that did not finish (it panicked, or the runtime is
    /// stopping).
    pub fn join(e: tokio::task::JoinError) -> Self {
        Self::Internal(format!("a background task failed: {e}"))
    }

    /// The unknown-request error every route uses.
    pub fn no_request() -> Self {
        Self::NotFound("no such request in this bin: it may have been deleted or purged".into())
    }

    /// The unknown-bin error every route uses.
    pub fn no_bin() -> Self {
        Self::NotFound(
            "no such bin: check the URL, or create a new one with POST /api/bins or on the home page"
                .into(),
        )
    }

    /// The status code: the one mapping.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            Self::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::Store(StoreError::Closed) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Store(StoreError::AliasTaken) => StatusCode::CONFLICT,
            Self::Store(_) | Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The text shown to the user: the error itself, or a generic line for
    /// server faults (which are logged here instead).
    pub fn public_message(&self) -> String {
        match self {
            Self::Store(StoreError::Closed) => "the server is shutting down; try again".into(),
            Self::Store(StoreError::AliasTaken) => ALIAS_TAKEN.into(),
            Self::Store(e) => {
                tracing::error!(error = %e, "database error");
                "internal error: the database failed; see the server log".into()
            }
            Self::Internal(e) => {
                tracing::error!(error = %e, "internal error");
                "internal error; see the server log".into()
            }
            other => other.to_string(),
        }
    }
}

impl From<BinError> for AppError {
    /// What each failure of a bin is for the sender (its status and
    /// message follow from the variant).
    fn from(e: BinError) -> Self {
        match e {
            BinError::NotFound => Self::no_bin(),
            BinError::Invalid(why) => Self::BadRequest(why),
            BinError::AliasTaken => Self::Conflict(ALIAS_TAKEN.into()),
            BinError::Store(e) => Self::Store(e),
            BinError::Task(e) => Self::join(e),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = self.status();
        let retry = match &self {
            Self::TooManyRequests(wait) => Some(wait.as_secs().max(1)),
            _ => None,
        };
        let body = ErrorBody {
            error: self.public_message(),
        };
        let mut res = (status, Json(body)).into_response();
        if let Some(secs) = retry {
            res.headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        res
    }
}
