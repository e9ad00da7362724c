//! Static files, embedded in the binary and served under a content hash so
//! browsers may cache them forever.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::state::AppState;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    body: &'static str,
    hash: String,
}

/// The embedded files and their hashed URLs.
pub struct Assets {
    files: Vec<Asset>,
}

/// FNV-1a: a stable content hash with no dependency; collisions only cost
/// a stale cache entry.
fn fnv1a(data: &[u8]) -> u64 {
    data.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

impl Assets {
    /// Hashes the embedded files.
    pub fn new() -> Self {
        let files = [
            (
                "style.css",
                "text/css; charset=utf-8",
                include_str!("../../static/style.css"),
            ),
            (
                "app.js",
                "text/javascript; charset=utf-8",
                include_str!("../../static/app.js"),
            ),
        ]
        .into_iter()
        .map(|(name, content_type, body)| Asset {
            name,
            content_type,
            body,
            hash: format!("{:016x}", fnv1a(body.as_bytes())),
        })
        .collect();
        Self { files }
    }

    /// The URL of an embedded file, e.g. `/static/0123abcd…/style.css`.
    pub fn url(&self, name: &str) -> String {
        self.files
            .iter()
            .find(|a| a.name == name)
            .map(|a| format!("/static/{}/{}", a.hash, a.name))
            .unwrap_or_default()
    }
}

impl Default for Assets {
    fn default() -> Self {
        Self::new()
    }
}

/// `GET /static/{hash}/{file}`.
pub async fn serve(
    State(state): State<AppState>,
    Path((hash, file)): Path<(String, String)>,
) -> Response {
    let Some(asset) = state.assets.files.iter().find(|a| a.name == file) else {
        return (StatusCode::NOT_FOUND, "no such file").into_response();
    };
    // An old hash (a page rendered before an upgrade) still gets the file,
    // but must not pin it in caches.
    let cache = if asset.hash == hash {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    (
        [
            (header::CONTENT_TYPE, asset.content_type),
            (header::CACHE_CONTROL, cache),
        ],
        asset.body,
    )
        .into_response()
}
