//! Shared server state: a `Clone` bundle of cheap handles (shallow clones
//! share everything behind them).

use std::sync::Arc;

use axum::http::HeaderMap;
use tokio::sync::watch;

use crate::server::assets::Assets;
use crate::server::config::ServerConfig;
use crate::server::limits::{RateLimiter, StoredBytes};
use crate::server::metrics::Metrics;
use crate::server::services::bins::Bins;
use crate::server::services::hub::Hub;
use crate::server::services::live::Live;
use crate::server::services::tokens::Tokens;
use crate::server::store::Store;

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Settings from the command line.
    pub config: Arc<ServerConfig>,
    /// The database.
    pub store: Store,
    /// Bins, with the cache captures read them from.
    pub bins: Bins,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Embedded static files.
    pub assets: Arc<Assets>,
    /// Connected tunnels.
    pub hub: Hub,
    /// The tokens of a team instance (SPEC §16).
    pub tokens: Tokens,
    /// `--rate-limit`, when set.
    pub rate: Option<Arc<RateLimiter>>,
    /// `--max-stored-bytes`, when set.
    pub quota: Option<Arc<StoredBytes>>,
    /// Flips to true when the server stops: long-lived tasks (tunnel
    /// sessions, event streams) end on it.
    pub stopping: Arc<watch::Sender<bool>>,
    /// New captures, for inspector pages kept open.
    pub live: Live,
    /// Captures a `hang` rule may hold at once (see [`crate::server::services::rules::MAX_HANGING`]).
    pub hanging: Arc<tokio::sync::Semaphore>,
}

impl AppState {
    /// State over an opened store.
    pub fn new(config: ServerConfig, store: Store) -> Self {
        let config = Arc::new(config);
        Self {
            bins: Bins::new(store.clone(), config.clone()),
            tokens: Tokens::new(store.clone()),
            store,
            metrics: Arc::default(),
            assets: Arc::new(Assets::new()),
            hub: Hub::default(),
            rate: RateLimiter::new(config.rate_limit).map(Arc::new),
            quota: StoredBytes::new(config.max_stored_bytes).map(Arc::new),
            stopping: Arc::new(watch::channel(false).0),
            live: Live::default(),
            hanging: Arc::new(tokio::sync::Semaphore::new(
                crate::server::services::rules::MAX_HANGING,
            )),
            config,
        }
    }

    /// The base URL for links the server hands out: `--public-url`, else
    /// the `Host` the client used.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        self.config.public_base(
            headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok()),
        )
    }
}
