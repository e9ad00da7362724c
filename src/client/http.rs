//! HTTP(S) calls the command line makes (`send`, `resend`, and the API
//! calls of `tail`/`wait`): one request with a deadline, and what came of
//! it — an answer, a timeout, or no answer at all.

use std::path::Path;
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use tokio_rustls::rustls;

use crate::client::reach::Failure;
use crate::core::headers::Header;

/// What one call came to.
#[derive(Debug)]
pub enum Outcome {
    /// The server answered (any status).
    Answered(Answer),
    /// No complete answer within the deadline.
    TimedOut,
    /// No answer: the connection was refused, failed or dropped.
    Unreachable(Failure),
}

/// An answer, read whole.
#[derive(Debug)]
pub struct Answer {
    /// Its status code.
    pub status: u16,
    /// Its headers, in order.
    pub headers: Vec<Header>,
    /// Its body.
    pub body: Bytes,
}

impl Outcome {
    /// True for a 2xx answer.
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Answered(a) if (200..300).contains(&a.status))
    }
}

/// One request to make.
pub struct Call<'a> {
    /// The method, as it should be sent.
    pub method: &'a str,
    /// The whole URL.
    pub url: &'a str,
    /// Headers in order, duplicates kept.
    pub headers: &'a [Header],
    /// The exact body.
    pub body: Bytes,
}

/// An HTTP/1 client for http:// and https:// URLs (clones share its
/// connection pool).
#[derive(Clone)]
pub struct Outbound {
    client: Client<HttpsConnector<HttpConnector>, Full<Bytes>>,
}

impl Outbound {
    /// A client trusting the public roots, plus `ca_cert` (named in errors
    /// by `--ca-cert`) for a server with a private CA.
    pub fn new(ca_cert: Option<&Path>) -> anyhow::Result<Self> {
        let tls = crate::core::tls::client_config(ca_cert, "--ca-cert")?;
        Ok(Self::with_tls(&tls))
    }

    /// A client with these trust roots (the tunnel's, for its API calls).
    pub fn with_tls(tls: &rustls::ClientConfig) -> Self {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls.clone())
            .https_or_http()
            .enable_http1()
            .wrap_connector(http);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    /// Makes one call and reads the whole answer within `timeout`. `Err`
    /// when the request cannot be expressed (a bad URL or header).
    pub async fn call(
        &self,
        call: Call<'_>,
        timeout: Duration,
    ) -> Result<(Outcome, Duration), String> {
        let req = request(&call)?;
        let started = Instant::now();
        let answer = async {
            let res = self
                .client
                .request(req)
                .await
                .map_err(|e| Failure::of(&e, origin(call.url)))?;
            let (parts, body) = res.into_parts();
            let body = body
                .collect()
                .await
                .map_err(|e| Failure::Other(format!("the answer was cut off: {e}")))?
                .to_bytes();
            let headers = parts
                .headers
                .iter()
                .map(|(n, v)| {
                    (
                        n.as_str().to_owned(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            Ok::<_, Failure>(Answer {
                status: parts.status.as_u16(),
                headers,
                body,
            })
        };
        let outcome = match tokio::time::timeout(timeout, answer).await {
            Ok(Ok(answer)) => Outcome::Answered(answer),
            Ok(Err(why)) => Outcome::Unreachable(why),
            Err(_) => Outcome::TimedOut,
        };
        Ok((outcome, started.elapsed()))
    }

    /// Sends a request and hands back the answer with its body unread (a
    /// stream, e.g. Server-Sent Events).
    pub async fn open(&self, call: Call<'_>) -> Result<Response<Incoming>, String> {
        let req = request(&call)?;
        self.client
            .request(req)
            .await
            .map_err(|e| Failure::of(&e, origin(call.url)).to_string())
    }
}

fn request(call: &Call<'_>) -> Result<Request<Full<Bytes>>, String> {
    let mut builder = Request::builder().method(call.method).uri(call.url);
    for (name, value) in call.headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
        .body(Full::new(call.body.clone()))
        .map_err(|e| format!("cannot send that request to {}: {e}", call.url))
}

/// `scheme://host:port` of a URL: what a connection failure is about.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find(['/', '?', '#'])
        .map_or(url, |end| &url[..after_scheme + end])
}
