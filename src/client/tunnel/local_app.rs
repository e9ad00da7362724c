//! The tunnel client's calls to the local app: the captured request as it
//! was sent (method, sub-path, query, headers, exact body bytes) plus
//! `X-Hookwire-Request-Id`, retried with backoff until the app answers.

use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::{Request, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::quick_ack::QuickAckConnector;
use crate::client::reach::Failure;
use crate::core::headers::Header;
use crate::core::protocol::{REQUEST_ID_HEADER, RelayRequest, RelayResponse};

/// First pause after the app could not be reached; doubles up to
/// [`RETRY_MAX`].
const RETRY_FIRST: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);

/// An app that has not answered by then is tried again.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(60);

/// Connection-level headers (lower-case names): they describe the hop to
/// hookwire, not the request, and hyper sets its own for the next hop.
pub fn hop_by_hop(name: &str) -> bool {
    matches!(
        name,
        "connection"
            | "keep-alive"
            | "proxy-connection"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "content-length"
    )
}

/// Random in `[d/2, d]`: spreads retries of many clients apart.
pub fn jitter(d: Duration) -> Duration {
    d.mul_f64(0.5 + fastrand::f64() / 2.0)
}

/// The local app behind `--to` (clones share the connection pool).
#[derive(Clone)]
pub struct LocalApp {
    /// `http://host:port` of the app.
    origin: String,
    /// Path prefix of `--to` (empty or `/base` without a trailing slash).
    base_path: String,
    /// Requests go to exactly `base_path` (a route's endpoint), not to
    /// their sub-path under it.
    exact: bool,
    client: Client<QuickAckConnector, Full<Bytes>>,
}

/// The relay did not get an answer; worth trying again.
#[derive(Debug)]
pub struct Unreachable(pub Failure);

impl LocalApp {
    /// Parses `--to` (e.g. `http://localhost:3000` or `http://localhost:3000/hooks`).
    pub fn new(to: &str) -> anyhow::Result<Self> {
        let uri: Uri = to.parse().with_context(|| {
            format!("--to {to:?} is not a URL; write e.g. http://localhost:3000")
        })?;
        if uri.scheme_str() != Some("http") {
            bail!("--to must be an http:// URL of the local app, e.g. http://localhost:3000");
        }
        let authority = uri
            .authority()
            .with_context(|| format!("--to {to:?} has no host"))?;
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        Ok(Self {
            origin: format!("http://{authority}"),
            base_path: uri.path().trim_end_matches('/').to_owned(),
            exact: false,
            client: Client::builder(TokioExecutor::new()).build(QuickAckConnector(connector)),
        })
    }

    /// The same app, called at exactly its URL's path (a route's
    /// endpoint): the captured sub-path is not appended, the query is.
    pub fn exact(mut self) -> Self {
        self.exact = true;
        self
    }

    /// The app's URL for a captured sub-path and query.
    pub fn url(&self, path: &str, query: &str) -> String {
        let path = if self.exact { "/" } else { path };
        crate::core::urls::join(&format!("{}{}", self.origin, self.base_path), path, query)
    }

    /// Relays until the app answers (any status), pausing with backoff
    /// while it cannot be reached (each pause told to `on_retry` with the
    /// reason in words and its length). Returns a failed-for-good answer only when
    /// the request cannot be expressed at all.
    pub async fn deliver(
        &self,
        req: &RelayRequest,
        on_retry: impl Fn(&str, Duration),
    ) -> RelayResponse {
        let mut pause = RETRY_FIRST;
        loop {
            match self.try_once(req).await {
                Ok(resp) => return resp,
                Err(Unreachable(Failure::Other(why))) if why.starts_with("invalid request:") => {
                    return RelayResponse {
                        seq: req.seq,
                        status: None,
                        headers: Vec::new(),
                        latency_ms: 0.0,
                        error: Some(why),
                        body: Bytes::new(),
                    };
                }
                Err(Unreachable(why)) => {
                    let wait = jitter(pause);
                    // In words, with the fix: what is down and what to do.
                    let words = crate::client::reach::app(
                        &format!("{}{}", self.origin, self.base_path),
                        &why,
                    );
                    on_retry(&words, wait);
                    tokio::time::sleep(wait).await;
                    pause = (pause * 2).min(RETRY_MAX);
                }
            }
        }
    }

    /// One attempt.
    pub async fn try_once(&self, req: &RelayRequest) -> Result<RelayResponse, Unreachable> {
        let mut builder = Request::builder()
            .method(req.method.as_str())
            .uri(self.url(&req.path, &req.query));
        for (name, value) in &req.headers {
            if !hop_by_hop(name) && name != REQUEST_ID_HEADER {
                builder = builder.header(name.as_str(), value.as_str());
            }
        }
        let http_req = builder
            .header(REQUEST_ID_HEADER, req.request_id)
            .body(Full::new(req.body.clone()))
            .map_err(|e| Unreachable(Failure::Other(format!("invalid request: {e}"))))?;
        let started = Instant::now();
        let answer = async {
            let res = self
                .client
                .request(http_req)
                .await
                .map_err(|e| Unreachable(Failure::of(&e, &self.origin)))?;
            let (parts, body) = res.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| Unreachable(Failure::Other(format!("answer cut off: {e}"))))?
                .to_bytes();
            Ok::<_, Unreachable>((parts, body))
        };
        let (parts, body) = tokio::time::timeout(ANSWER_TIMEOUT, answer)
            .await
            .map_err(|_| {
                Unreachable(Failure::Other(format!(
                    "no answer within {} s",
                    ANSWER_TIMEOUT.as_secs()
                )))
            })??;
        let headers: Vec<Header> = parts
            .headers
            .iter()
            .filter(|(n, _)| !hop_by_hop(n.as_str()))
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect();
        Ok(RelayResponse {
            seq: req.seq,
            status: Some(parts.status.as_u16()),
            headers,
            latency_ms: crate::core::time::ms(started.elapsed()),
            error: None,
            body,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_join_base_path_sub_path_and_query() {
        let app = LocalApp::new("http://localhost:3000").expect("url");
        assert_eq!(app.url("/", ""), "http://localhost:3000/");
        assert_eq!(app.url("/a/b", "x=1"), "http://localhost:3000/a/b?x=1");
        let app = LocalApp::new("http://127.0.0.1:3000/hooks/").expect("url");
        assert_eq!(app.url("/", "q"), "http://127.0.0.1:3000/hooks?q");
        assert_eq!(app.url("/eden", ""), "http://127.0.0.1:3000/hooks/eden");
        assert!(LocalApp::new("https://x").is_err());
        assert!(LocalApp::new("localhost:3000").is_err());
        let app = LocalApp::new("http://127.0.0.1:4242/webhooks")
            .expect("url")
            .exact();
        assert_eq!(
            app.url("/stripe/evt", "a=1"),
            "http://127.0.0.1:4242/webhooks?a=1"
        );
    }

    #[test]
    fn jitter_stays_within_half_and_whole() {
        for _ in 0..100 {
            let j = jitter(Duration::from_millis(1000));
            assert!(j >= Duration::from_millis(500) && j <= Duration::from_millis(1000));
        }
    }
}
