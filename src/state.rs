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
use crate::metrics::Metrics;
use crate::model::{Bin, ResponseConfig, now_millis};
use crate::store::Store;
use crate::tunnel::hub::Hub;
use crate::web::assets::Assets;

/// Everything a handler can reach.
#[derive(Clone)]
pub struct AppState {
    /// Settings from the command line.
    pub config: Arc<ServerConfig>,
    /// The database.
    pub store: Store,
    /// Response config per bin, so captures skip a database read.
    pub bins: BinCache,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// Embedded static files.
    pub assets: Arc<Assets>,
    /// Connected tunnels.
    pub hub: Hub,
    /// Flips to true when the server stops: long-lived tasks (tunnel
    /// sessions) end on it.
    pub stopping: Arc<watch::Sender<bool>>,
}

impl AppState {
    /// State over an opened store.
    pub fn new(config: ServerConfig, store: Store) -> Self {
        Self {
            config: Arc::new(config),
            store,
            bins: BinCache::default(),
            metrics: Arc::default(),
            assets: Arc::new(Assets::new()),
            hub: Hub::default(),
            stopping: Arc::new(watch::channel(false).0),
        }
    }

    /// The response a bin gives, from the cache or the database; a
    /// not-found error when the bin does not exist.
    pub async fn bin_response(&self, id: Uuid) -> Result<Arc<PreparedResponse>, AppError> {
        if let Some(resp) = self.bins.get(id) {
            return Ok(resp);
        }
        let bin = self.store.bin(id).await?.ok_or_else(AppError::no_bin)?;
        Ok(self.bins.put(id, &bin.response))
    }

    /// Creates a bin with the default response.
    pub async fn mint_bin(&self) -> Result<Bin, AppError> {
        let bin = Bin {
            id: Uuid::new_v4(),
            created_at: now_millis(),
            response: ResponseConfig::default(),
        };
        self.store.create_bin(bin.clone()).await?;
        self.bins.put(bin.id, &bin.response);
        Ok(bin)
    }

    /// The base URL for links the server hands out: `--public-url`, else
    /// the `Host` the client used.
    pub fn base_url(&self, headers: &HeaderMap) -> String {
        if let Some(url) = &self.config.public_url {
            return url.clone();
        }
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("127.0.0.1");
        format!("http://{host}")
    }
}

/// Bin id → its response config. Entries are replaced when the response
/// changes and removed when the bin is deleted; both go through here.
#[derive(Clone, Default)]
pub struct BinCache {
    /// A std lock: held for a map lookup or insert, never across `.await`.
    map: Arc<RwLock<HashMap<Uuid, Arc<PreparedResponse>>>>,
}

impl BinCache {
    fn get(&self, id: Uuid) -> Option<Arc<PreparedResponse>> {
        self.map.read().ok()?.get(&id).cloned()
    }

    /// Records a bin's (new) response config.
    pub fn put(&self, id: Uuid, resp: &ResponseConfig) -> Arc<PreparedResponse> {
        let resp = Arc::new(PreparedResponse::from(resp));
        if let Ok(mut map) = self.map.write() {
            map.insert(id, resp.clone());
        }
        resp
    }

    /// Forgets a deleted bin.
    pub fn remove(&self, id: Uuid) {
        if let Ok(mut map) = self.map.write() {
            map.remove(&id);
        }
    }
}
