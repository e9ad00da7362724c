//! The HTTP server: the router, the accept loop with hyper's limits, and
//! graceful shutdown.
//!
//! Connections speak HTTP/1.1 or HTTP/2: over TLS as ALPN negotiated
//! (`h2`, else HTTP/1.1), over plain TCP by the client's first bytes (the
//! HTTP/2 connection preface, "prior knowledge", else HTTP/1.1).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tower::ServiceExt as _;
use tracing::Instrument as _;

use crate::server::acme::resolver::ACME_TLS_ALPN;
use crate::server::capture::DropConnection;
use crate::server::config::ServerConfig;
use crate::server::services::{cluster, indexer, retention};
use crate::server::state::AppState;
use crate::server::store::{Store, StoreOptions};
use crate::server::{capture, web};

/// Largest request head (request line + headers); past it hyper answers
/// 431 itself (headers over 64 KiB). Over HTTP/2 it is the advertised
/// SETTINGS_MAX_HEADER_LIST_SIZE, and a larger header block gets 431 too.
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// hyper's read buffer cap, above the head limit so that a too-large head
/// is usually read whole before the 431: closing with unread input would
/// make the kernel reset the connection and lose the answer.
const READ_BUF_BYTES: usize = 4 * MAX_HEAD_BYTES;

/// A client that has not sent its whole request head by then is dropped.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

/// Requests in flight at once on one HTTP/2 connection; more are refused
/// (REFUSED_STREAM, which clients retry). 100 is RFC 9113's recommended
/// minimum, plenty for a page, its live event stream and its API calls;
/// each stream can hold a whole capture body (`--max-body-bytes`) while it
/// is read, so the cap also bounds what one connection can make the
/// server buffer, where an HTTP/1.1 connection holds one request at a time.
const H2_MAX_STREAMS: u32 = 100;

/// An HTTP/2 connection is pinged this often when it has sent nothing...
const H2_PING_INTERVAL: Duration = Duration::from_secs(20);

/// ...and closed when the ping is not answered by then: a vanished peer
/// must not hold a connection slot (HTTP/1.1 drops idle connections after
/// `HEADER_READ_TIMEOUT`; an idle HTTP/2 connection, such as a page's live
/// event stream, is kept while the peer answers).
const H2_PING_TIMEOUT: Duration = Duration::from_secs(20);

/// The HTTP/2 connection preface a client with prior knowledge starts with.
const H2_PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// A client that has not finished its TLS handshake by then is dropped.
const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long shutdown waits for in-flight requests (a capture may be held
/// by its bin's response delay, at most 30 s).
const DRAIN_TIMEOUT: Duration = Duration::from_secs(35);

/// Why a connection ended without an answer: a response rule asked for it.
#[derive(Debug, thiserror::Error)]
#[error("connection dropped by a response rule")]
struct Dropped;

/// All routes: the inspector, the API and static files (with their
/// security headers), then the capture routes, which answer exactly what
/// the bin is configured to answer.
pub fn make_app(state: AppState) -> Router {
    web::router(state.clone())
        .merge(capture::router())
        .with_state(state)
}

/// Opens the store, serves `listener` until `shutdown` resolves, then
/// drains connections and waits for the writer to commit what it holds.
pub async fn serve(
    listener: TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    open(config).await?.serve(listener, shutdown).await
}

/// A server whose store is open: `serve` says it listens only once the
/// database is known to work.
pub struct Ready {
    state: AppState,
    writer: crate::server::store::Writer,
}

/// Opens the store of `config`; an error says once, in words, what to do.
pub async fn open(config: ServerConfig) -> anyhow::Result<Ready> {
    let options = StoreOptions {
        max_requests_per_bin: config.max_requests_per_bin,
        durability: config.durability,
    };
    let (store, writer) = Store::connect(&config.db, options, config.db_ca_cert.as_deref())
        .await
        .map_err(|e| anyhow::Error::msg(Store::open_error(&config.db, &e)))?;
    Ok(Ready {
        state: AppState::new(config, store),
        writer,
    })
}

impl Ready {
    /// What the server was started with.
    pub fn config(&self) -> &ServerConfig {
        &self.state.config
    }

    /// Serves `listener` until `shutdown` resolves, then drains connections
    /// and waits for the writer to commit what it holds.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()>,
    ) -> anyhow::Result<()> {
        run(listener, self.state, shutdown).await;
        // Every store handle is gone with the state: the writer drains its
        // queue and stops.
        self.writer.join().await.map_err(anyhow::Error::msg)
    }
}

/// Serves `listener` with `state` until `shutdown` resolves, then stops
/// accepting and waits (bounded) for open connections to finish.
pub async fn run(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()>) {
    if let Some(quota) = &state.quota {
        retention::recount(&state.store, quota).await;
    }
    if let Err(e) = state.tokens.reload().await {
        tracing::error!(error = %e, "reading the tokens: only --access-token is accepted until they are read");
    }
    // Background work holds the store; dropping the set (when this future
    // ends or is dropped) aborts it.
    let mut background = JoinSet::new();
    background.spawn(retention::run(
        state.store.clone(),
        state.metrics.clone(),
        state.config.retention,
        state.quota.clone(),
    ));
    background.spawn(indexer::run(state.store.clone(), state.metrics.clone()));
    background.spawn(cluster::run(
        state.store.clone(),
        state.bins.clone(),
        state.hub.clone(),
        state.live.clone(),
        state.tokens.clone(),
    ));
    background.spawn(state.tokens.clone().run(state.stopping.subscribe()));
    if let (Some(acme), Ok(addr)) = (&state.config.acme, listener.local_addr()) {
        background.spawn(acme.clone().run(addr));
    }
    let stopping = state.stopping.clone();
    let max_connections = state.config.max_connections;
    let tls = state
        .config
        .tls
        .clone()
        .map(tokio_rustls::TlsAcceptor::from);
    let app = make_app(state);
    // Each connection task holds a sender; `recv` returns None once all of
    // them have ended.
    let (alive_tx, mut alive_rx) = mpsc::channel::<()>(1);
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1
        .max_buf_size(READ_BUF_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        // No max_headers: hyper's default (100 lines, more get 431) parses
        // into a stack array; any other value allocates one per request.
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let mut http2 = hyper::server::conn::http2::Builder::new(TokioExecutor::new());
    http2
        .max_header_list_size(MAX_HEAD_BYTES as u32) // 64 KiB fits
        .max_concurrent_streams(H2_MAX_STREAMS)
        // hyper's defaults stay for the rest: 1 MiB flow-control windows,
        // 16 KiB frames, at most 20 streams reset by the client before the
        // server saw them (the "rapid reset" attack) and 1024 reset by the
        // server, past which the connection is closed.
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_INTERVAL)
        .keep_alive_timeout(H2_PING_TIMEOUT);
    let builders = Arc::new(Builders { http1, http2 });

    // One permit per connection: past --max-connections, new clients wait
    // in the kernel's listen backlog instead of costing memory here.
    let slots = Arc::new(Semaphore::new(max_connections));
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
            () = &mut shutdown => break,
        };
        let (stream, addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Out of file descriptors and the like: back off briefly
                    // instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        // The router, with the peer address attached as axum's `ConnectInfo`.
        let app = app.clone();
        // A response marked `DropConnection` is not sent: the service
        // fails, and hyper closes the connection without an answer (over
        // HTTP/2, resets the stream: RST_STREAM, the connection's other
        // streams go on).
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(addr));
            host_from_authority(&mut req);
            // Off by default (HOOKWIRE_LOG=hookwire=debug turns it on): the
            // method and path of what an event happened while answering.
            let span =
                tracing::debug_span!("request", method = %req.method(), path = %req.uri().path());
            let answer = app.clone().oneshot(req.map(Body::new)).instrument(span);
            async move {
                let Ok(res) = answer.await;
                if res.extensions().get::<DropConnection>().is_some() {
                    return Err(Dropped);
                }
                Ok(res)
            }
        });
        let (builders, tls) = (builders.clone(), tls.clone());
        let mut stop = stopping.subscribe();
        let alive = alive_tx.clone();
        // Every event of the connection says whose it is.
        let conn = tracing::info_span!("conn", peer = %addr);
        tokio::spawn(
            async move {
                let _alive = alive;
                let _permit = permit;
                match tls {
                    None => {
                        // Waiting for the first bytes is bounded like reading a
                        // head, and ends at shutdown like an idle connection.
                        let sniffed = tokio::select! {
                            s = tokio::time::timeout(HEADER_READ_TIMEOUT, sniff(stream)) => s,
                            _ = stop.changed() => return,
                        };
                        match sniffed {
                            Ok(Ok((version, io))) => {
                                serve_connection(&builders, version, io, service, stop).await;
                            }
                            Ok(Err(e)) => {
                                tracing::debug!(error = %e, "reading the first bytes failed")
                            }
                            Err(_) => tracing::debug!("no request before the header read timeout"),
                        }
                    }
                    Some(acceptor) => {
                        let accepted = crate::server::tls::accept(&acceptor, stream);
                        match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, accepted).await {
                            Ok(Ok(None)) => {
                                tracing::debug!("plain HTTP on the TLS port: answered 400")
                            }
                            Ok(Ok(Some(mut stream))) => {
                                let version = match stream.get_ref().1.alpn_protocol() {
                                    Some(b"h2") => Version::Http2,
                                    // An ACME CA validating TLS-ALPN-01: it has
                                    // seen the challenge certificate; no HTTP.
                                    Some(ACME_TLS_ALPN) => {
                                        let _ = stream.shutdown().await;
                                        return;
                                    }
                                    _ => Version::Http1,
                                };
                                serve_connection(&builders, version, stream, service, stop).await;
                            }
                            Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                            Err(_) => tracing::debug!("TLS handshake timed out"),
                        }
                    }
                }
            }
            .instrument(conn),
        );
    }
    drop(listener);
    drop(background);
    tracing::info!("shutting down: finishing in-flight requests");
    stopping.send_replace(true);
    drop(alive_tx);
    if tokio::time::timeout(DRAIN_TIMEOUT, alive_rx.recv())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not finish in time; closing them");
    }
}

/// The HTTP versions a connection can speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Version {
    Http1,
    Http2,
}

/// One connection builder per version, configured once.
struct Builders {
    http1: hyper::server::conn::http1::Builder,
    http2: hyper::server::conn::http2::Builder<TokioExecutor>,
}

/// Serves one connection (plain or TLS) in `version` until it ends or the
/// server stops; stopping answers the requests in flight, then closes
/// (HTTP/2: GOAWAY, then the open streams finish).
async fn serve_connection<I, S>(
    builders: &Builders,
    version: Version,
    io: I,
    service: S,
    stop: tokio::sync::watch::Receiver<bool>,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send + 'static,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let io = TokioIo::new(io);
    match version {
        Version::Http1 => {
            let conn = builders.http1.serve_connection(io, service).with_upgrades();
            drive(conn, |c| c.graceful_shutdown(), stop).await;
        }
        Version::Http2 => {
            let conn = builders.http2.serve_connection(io, service);
            drive(conn, |c| c.graceful_shutdown(), stop).await;
        }
    }
}

/// Runs a connection to its end; when the server stops first, starts its
/// graceful shutdown and waits for that.
async fn drive<C>(
    conn: C,
    graceful_shutdown: impl FnOnce(Pin<&mut C>),
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    C: Future<Output = Result<(), hyper::Error>>,
{
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => log_conn_end(res),
        _ = stop.changed() => {
            graceful_shutdown(conn.as_mut());
            log_conn_end(conn.await);
        }
    }
}

/// Reads a plain connection's first bytes to tell HTTP/2 with prior
/// knowledge (the connection preface) from HTTP/1.1 (anything else, known
/// from its first byte that differs); the bytes read are handed on.
async fn sniff(mut stream: TcpStream) -> io::Result<(Version, Rewind<TcpStream>)> {
    let mut buf = [0u8; H2_PREFACE.len()];
    let mut filled = 0;
    let version = loop {
        let n = stream.read(&mut buf[filled..]).await?;
        filled += n;
        if n == 0 || buf[..filled] != H2_PREFACE[..filled] {
            break Version::Http1;
        }
        if filled == H2_PREFACE.len() {
            break Version::Http2;
        }
    };
    let prefix = Bytes::copy_from_slice(&buf[..filled]);
    Ok((version, Rewind { prefix, io: stream }))
}

/// A stream whose first bytes, already read, are read again.
struct Rewind<I> {
    prefix: Bytes,
    io: I,
}

impl<I: AsyncRead + Unpin> AsyncRead for Rewind<I> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.prefix.is_empty() {
            let n = self.prefix.len().min(buf.remaining());
            let head = self.prefix.split_to(n);
            buf.put_slice(&head);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<I: AsyncWrite + Unpin> AsyncWrite for Rewind<I> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// HTTP/2 carries the host in the `:authority` pseudo-header, not in
/// `Host`: it is given back as `Host` (as RFC 9113 §8.3.1 asks of a proxy
/// forwarding to HTTP/1.1) so that links handed out, the same-origin check,
/// stored captures, replays and exports see the host as over HTTP/1.1.
fn host_from_authority<B>(req: &mut hyper::Request<B>) {
    if req.version() != http::Version::HTTP_2 || req.headers().contains_key(http::header::HOST) {
        return;
    }
    let host = req
        .uri()
        .authority()
        .and_then(|a| http::HeaderValue::from_str(a.as_str()).ok());
    if let Some(host) = host {
        req.headers_mut().insert(http::header::HOST, host);
    }
}

fn log_conn_end(res: Result<(), hyper::Error>) {
    if let Err(e) = res {
        // Clients hanging up mid-request are routine; keep them at debug.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
