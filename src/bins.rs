//! Bins as captures see them: a cache of each bin's prepared response and
//! secrets, and the one place a bin is minted, changed or deleted — so the
//! cache is always dropped when the row changes, and stored requests are
//! re-checked when the secrets do.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use axum::response::Response;
use uuid::Uuid;

use crate::config::ServerConfig;
use crate::error::AppError;
use crate::model::{Bin, ResponseConfig};
use crate::store::{Cursor, ListQuery, Store};
use crate::time::now_millis;
use crate::tunnel::protocol::REQUEST_ID_HEADER;
use crate::verify::Secrets;

/// Requests re-checked per read when secrets change.
const RECHECK_PAGE: usize = 500;

/// A bin's response, ready to send: headers parsed once when the response
/// is set, not on every capture.
#[derive(Debug)]
pub struct PreparedResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
    /// Wait after the commit, before answering.
    pub delay: Duration,
}

impl From<&ResponseConfig> for PreparedResponse {
    fn from(resp: &ResponseConfig) -> Self {
        let mut headers = HeaderMap::new();
        // Validated when the config was set; a header that still fails to
        // parse (a row edited by hand) is skipped rather than failing captures.
        for (name, value) in &resp.headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                headers.append(n, v);
            }
        }
        Self {
            status: StatusCode::from_u16(resp.status).unwrap_or(StatusCode::OK),
            headers,
            body: Bytes::from(resp.body.clone()),
            delay: Duration::from_millis(resp.delay_ms),
        }
    }
}

impl PreparedResponse {
    /// The answer to a stored capture.
    pub fn to_response(&self, id: i64) -> Response {
        let mut out = Response::new(Body::from(self.body.clone()));
        *out.status_mut() = self.status;
        let headers = out.headers_mut();
        headers.clone_from(&self.headers);
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from(id));
        out
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
struct BinCache {
    /// A std lock: held for a map lookup or insert, never across `.await`.
    map: Arc<RwLock<HashMap<Uuid, Arc<CachedBin>>>>,
    /// Bumped by every removal: a row read before a change must not be
    /// cached after it.
    version: Arc<AtomicU64>,
}

impl BinCache {
    fn get(&self, id: Uuid) -> Option<Arc<CachedBin>> {
        self.map.read().ok()?.get(&id).cloned()
    }

    fn version(&self) -> u64 {
        self.version.load(Ordering::SeqCst)
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
    fn remove(&self, id: Uuid) {
        if let Ok(mut map) = self.map.write() {
            self.version.fetch_add(1, Ordering::SeqCst);
            map.remove(&id);
        }
    }
}

/// Cheap, cloneable handle to the bins (clones share the cache).
#[derive(Clone)]
pub struct Bins {
    store: Store,
    cache: BinCache,
    config: Arc<ServerConfig>,
}

impl Bins {
    /// Bins kept in `store`; `config` gives the public base URL that
    /// signatures are re-checked against.
    pub fn new(store: Store, config: Arc<ServerConfig>) -> Self {
        Self {
            store,
            cache: BinCache::default(),
            config,
        }
    }

    /// What captures need of a bin, from the cache or the database; a
    /// not-found error when the bin does not exist.
    pub async fn cached(&self, id: Uuid) -> Result<Arc<CachedBin>, AppError> {
        if let Some(bin) = self.cache.get(id) {
            return Ok(bin);
        }
        let version = self.cache.version();
        let bin = self.store.bin(id).await?.ok_or_else(AppError::no_bin)?;
        Ok(self.cache.put(&bin, version))
    }

    /// The whole bin, read from the database; a not-found error when it
    /// does not exist.
    pub async fn get(&self, id: Uuid) -> Result<Bin, AppError> {
        self.store.bin(id).await?.ok_or_else(AppError::no_bin)
    }

    /// Creates a bin with the default response.
    pub async fn mint(&self) -> Result<Bin, AppError> {
        let bin = Bin {
            id: Uuid::new_v4(),
            created_at: now_millis(),
            response: ResponseConfig::default(),
            secrets: Secrets::default(),
        };
        let version = self.cache.version();
        self.store.create_bin(bin.clone()).await?;
        self.cache.put(&bin, version);
        Ok(bin)
    }

    /// Deletes a bin with its requests.
    pub async fn delete(&self, id: Uuid) -> Result<(), AppError> {
        let found = self.store.delete_bin(id).await?;
        self.cache.remove(id);
        if found {
            Ok(())
        } else {
            Err(AppError::no_bin())
        }
    }

    /// Validates and stores a bin's response.
    pub async fn set_response(&self, id: Uuid, resp: ResponseConfig) -> Result<(), AppError> {
        resp.validate().map_err(AppError::BadRequest)?;
        let found = self.store.set_response(id, resp).await?;
        self.cache.remove(id);
        if !found {
            return Err(AppError::no_bin());
        }
        Ok(())
    }

    /// Replaces a bin's secrets and re-checks its stored requests with
    /// them; returns how many were re-checked.
    pub async fn set_secrets(&self, id: Uuid, secrets: Secrets) -> Result<usize, AppError> {
        secrets.validate().map_err(AppError::BadRequest)?;
        let found = self.store.set_secrets(id, secrets.clone()).await?;
        self.cache.remove(id);
        if !found {
            return Err(AppError::no_bin());
        }
        let secrets = Arc::new(secrets);
        let mut rechecked = 0;
        let mut cursor = Cursor::After(0);
        loop {
            let page = self
                .store
                .list_requests(ListQuery {
                    bin: id,
                    limit: RECHECK_PAGE,
                    cursor,
                    search: None,
                    with_bodies: true,
                    method: None,
                })
                .await?;
            let Some(last) = page.requests.last().map(|r| r.id) else {
                break;
            };
            let more = page.next.is_some();
            let (config, secrets) = (self.config.clone(), secrets.clone());
            // HMACs over large bodies: off the async runtime.
            let checked = tokio::task::spawn_blocking(move || {
                page.requests
                    .iter()
                    .map(|r| {
                        let base = config.public_base(r.header("host"));
                        (r.id, r.req.verify(&secrets, &base))
                    })
                    .collect::<Vec<_>>()
            })
            .await
            .map_err(AppError::join)?;
            rechecked += checked.len();
            self.store.set_signatures(checked).await?;
            if !more {
                break;
            }
            cursor = Cursor::After(last);
        }
        Ok(rechecked)
    }
}
