//! Shared server state: a `Clone` bundle of cheap handles (shallow clones
//! share everything behind them).

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use axum::http::HeaderMap;
use tokio::sync::watch;
use uuid::Uuid;

use crate::capture::PreparedResponse;
use crate::config::ServerConfig;
use crate::error::AppError;
use crate::limits::{RateLimiter, StoredBytes};
use crate::metrics::Metrics;
use crate::model::{Bin, ResponseConfig, now_millis};
use crate::store::Store;
use crate::tunnel::hub::Hub;
use crate::verify::Secrets;
use crate::web::assets::Assets;

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Settings from the command line.
    pub config: Arc<ServerConfig>,
    /// The database.
    pub store: Store,
    /// Response and secrets per bin, so captures skip a database read.
    pub bins: BinCache,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Embedded static files.
    pub assets: Arc<Assets>,
    /// Connected tunnels.
    pub hub: Hub,
    /// `--rate-limit`, when set.
    pub rate: Option<Arc<RateLimiter>>,
    /// `--max-stored-bytes`, when set.
    pub quota: Option<Arc<StoredBytes>>,
    /// Flips to true when the server stops: long-lived tasks (tunnel
    /// sessions) end on it.
    pub stopping: Arc<watch::Sender<bool>>,
    /// New captures, for inspector pages kept open (Server-Sent Events).
    pub live: tokio::sync::broadcast::Sender<crate::web::live::Summary>,
}

impl AppState {
    /// State over an opened store.
    pub fn new(config: ServerConfig, store: Store) -> Self {
        Self {
            store,
            bins: BinCache::default(),
            metrics: Arc::default(),
            assets: Arc::new(Assets::new()),
            hub: Hub::default(),
            rate: RateLimiter::new(config.rate_limit).map(Arc::new),
            quota: StoredBytes::new(config.max_stored_bytes).map(Arc::new),
            stopping: Arc::new(watch::channel(false).0),
            live: tokio::sync::broadcast::channel(crate::web::live::CAPACITY).0,
            config: Arc::new(config),
        }
    }

    /// What captures need of a bin, from the cache or the database; a
    /// not-found error when the bin does not exist.
    pub async fn cached_bin(&self, id: Uuid) -> Result<Arc<CachedBin>, AppError> {
        if let Some(bin) = self.bins.get(id) {
            return Ok(bin);
        }
        let version = self.bins.version();
        let bin = self.store.bin(id).await?.ok_or_else(AppError::no_bin)?;
        Ok(self.bins.put(&bin, version))
    }

    /// Creates a bin with the default response.
    pub async fn mint_bin(&self) -> Result<Bin, AppError> {
        let bin = Bin {
            id: Uuid::new_v4(),
            created_at: now_millis(),
            response: ResponseConfig::default(),
            secrets: Secrets::default(),
        };
        let version = self.bins.version();
        self.store.create_bin(bin.clone()).await?;
        self.bins.put(&bin, version);
        Ok(bin)
    }

    /// The base URL for links the server hands out: `--public-url`, else
    /// the `Host` the client used.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        self.public_base(
            headers
                .get(axum::http::header::HOST)
                .and_then(|h| h.to_str().ok()),
        )
    }

    /// `--public-url`, else `http://` and the given `Host`.
    pub fn public_base(&self, host: Option<&str>) -> String {
        match &self.config.public_url {
            Some(url) => url.clone(),
            None => {
                let scheme = if self.config.tls.is_some() {
                    "https"
                } else {
                    "http"
                };
                format!("{scheme}://{}", host.unwrap_or("127.0.0.1"))
            }
        }
    }
}

/// What a capture needs of its bin.
pub struct CachedBin {
    /// The answer, ready to send.
    pub response: PreparedResponse,
    /// What requests are verified with.
    pub secrets: Secrets,
}

/// Bin id → what captures need of it. Entries are dropped whenever the bin
/// changes (response, secrets, deletion) and reloaded by the next capture.
#[derive(Clone, Default)]
pub struct BinCache {
    /// A std lock: held for a map lookup or insert, never across `.await`.
    map: Arc<RwLock<HashMap<Uuid, Arc<CachedBin>>>>,
    /// Bumped by every removal: a row read before a change must not be
    /// cached after it.
    version: Arc<std::sync::atomic::AtomicU64>,
}

impl BinCache {
    fn get(&self, id: Uuid) -> Option<Arc<CachedBin>> {
        self.map.read().ok()?.get(&id).cloned()
    }

    fn version(&self) -> u64 {
        self.version.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// Caches a bin read when the cache was at `version`, unless a change
    /// happened since (then the next capture reads it again).
    fn put(&self, bin: &Bin, version: u64) -> Arc<CachedBin> {
        let cached = Arc::new(CachedBin {
            response: PreparedResponse::from(&bin.response),
            secrets: bin.secrets.clone(),
        });
        if let Ok(mut map) = self.map.write()
            && self.version() == version
        {
            map.insert(bin.id, cached.clone());
        }
        cached
    }

    /// Forgets a bin that changed or went.
    pub fn remove(&self, id: Uuid) {
        if let Ok(mut map) = self.map.write() {
            self.version
                .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            map.remove(&id);
        }
    }
}
