//! The HTTP server: the router, the accept loop with hyper's limits, and
//! graceful shutdown.

use std::future::Future;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::sync::Arc;
use tokio::net::TcpListener;

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tower::ServiceExt as _;

use crate::server::capture::DropConnection;
use crate::server::config::ServerConfig;
use crate::server::services::{cluster, indexer, retention};
use crate::server::state::AppState;
use crate::server::store::{Store, StoreOptions};
use crate::server::{capture, web};

/// Largest request head (request line + headers); past it hyper answers
/// 431 itself (headers over 64 KiB).
pub const MAX_HEAD_BYTES: usize = 64 * 1024;

/// hyper's read buffer cap, above the head limit so that a too-large head
/// is usually read whole before the 431: closing with unread input would
/// make the kernel reset the connection and lose the answer.
const READ_BUF_BYTES: usize = 4 * MAX_HEAD_BYTES;

/// A client that has not sent its whole request head by then is dropped.
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);

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
    use anyhow::Context as _;
    let options = StoreOptions {
        max_requests_per_bin: config.max_requests_per_bin,
        durability: config.durability,
    };
    let (store, writer) = Store::connect(&config.db, options, config.db_ca_cert.as_deref())
        .await
        .with_context(|| match config.db {
            crate::server::config::Database::Postgres(_) => format!(
                "opening the database {} (--db; a server whose certificate comes from a \
                 private CA needs it passed with --db-ca-cert)",
                config.db
            ),
            crate::server::config::Database::Sqlite(_) => {
                format!("opening the database {} (--db)", config.db)
            }
        })?;
    let state = AppState::new(config, store);
    run(listener, state, shutdown).await;
    // Every store handle is gone with the state: the writer drains its queue
    // and stops.
    writer.join().await.map_err(anyhow::Error::msg)?;
    Ok(())
}

/// Serves `listener` with `state` until `shutdown` resolves, then stops
/// accepting and waits (bounded) for open connections to finish.
pub async fn run(listener: TcpListener, state: AppState, shutdown: impl Future<Output = ()>) {
    if let Some(quota) = &state.quota {
        retention::recount(&state.store, quota).await;
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
    ));
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
    let mut http = hyper::server::conn::http1::Builder::new();
    http.max_buf_size(READ_BUF_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        // No max_headers: hyper's default (100 lines, more get 431) parses
        // into a stack array; any other value allocates one per request.
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);

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
        // fails, and hyper closes the connection without an answer.
        let service = hyper::service::service_fn(move |mut req: hyper::Request<Incoming>| {
            req.extensions_mut().insert(ConnectInfo(addr));
            let answer = app.clone().oneshot(req.map(Body::new));
            async move {
                let Ok(res) = answer.await;
                if res.extensions().get::<DropConnection>().is_some() {
                    return Err(Dropped);
                }
                Ok(res)
            }
        });
        let (http, tls) = (http.clone(), tls.clone());
        let stop = stopping.subscribe();
        let alive = alive_tx.clone();
        tokio::spawn(async move {
            let _alive = alive;
            let _permit = permit;
            match tls {
                None => serve_connection(&http, stream, service, stop).await,
                Some(acceptor) => {
                    match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(stream)).await
                    {
                        Ok(Ok(stream)) => serve_connection(&http, stream, service, stop).await,
                        Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                        Err(_) => tracing::debug!("TLS handshake timed out"),
                    }
                }
            }
        });
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

/// Serves one connection (plain or TLS) until it ends or the server stops.
async fn serve_connection<I, S>(
    http: &hyper::server::conn::http1::Builder,
    io: I,
    service: S,
    mut stop: tokio::sync::watch::Receiver<bool>,
) where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
    S: hyper::service::HttpService<Incoming> + Send,
    S::Future: Send + 'static,
    S::ResBody: Send + 'static,
    <S::ResBody as hyper::body::Body>::Data: Send,
    <S::ResBody as hyper::body::Body>::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let conn = http
        .serve_connection(TokioIo::new(io), service)
        .with_upgrades();
    tokio::pin!(conn);
    tokio::select! {
        res = conn.as_mut() => log_conn_end(res),
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            log_conn_end(conn.await);
        }
    }
}

fn log_conn_end(res: Result<(), hyper::Error>) {
    if let Err(e) = res {
        // Clients hanging up mid-request are routine; keep them at debug.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}
