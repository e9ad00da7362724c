//! Static files (`static/`), embedded in the binary, each with a content
//! hash for its URL so browsers may cache them forever (`web::static_files`
//! serves them).

/// One embedded file.
pub struct Asset {
    /// File name, e.g. `style.css`.
    pub name: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its contents.
    pub body: &'static str,
    /// Hex content hash, part of its URL.
    pub hash: String,
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
                "api_docs.css",
                "text/css; charset=utf-8",
                include_str!("../../static/api_docs.css"),
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

    /// The embedded file called `name`.
    pub fn get(&self, name: &str) -> Option<&Asset> {
        self.files.iter().find(|a| a.name == name)
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
