//! Bins as captures see them: a cache of each bin's prepared response and
//! secrets, and the one place a bin is minted, changed or deleted — so the
//! cache is always dropped when the row changes, and stored requests are
//! re-checked when the secrets do.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use uuid::Uuid;

use crate::core::headers::Header;
use crate::core::model::{Bin, CapturedRequest, ResponseConfig, RuleConfig, validate_alias};
use crate::core::payload_schema::{SchemaConfig, SchemaVerdict, Schemas};
use crate::core::time::now_millis;
use crate::core::verify::{Secrets, Signature};
use crate::server::config::ServerConfig;
use crate::server::services::rules::Rules;
use crate::server::store::{Cursor, ListQuery, Store, StoreError};

/// Requests re-checked per read when secrets change.
const RECHECK_PAGE: usize = 500;

/// Why reading or changing a bin failed. What it is for the sender (a
/// status code, a message) is the web layer's to say:
/// `crate::server::error::AppError` maps every variant.
#[derive(Debug, thiserror::Error)]
pub enum BinError {
    /// No bin has this id or alias.
    #[error("no such bin")]
    NotFound,
    /// The input does not hold up (an alias, a response, rules, secrets):
    /// what is wrong with it.
    #[error("{0}")]
    Invalid(String),
    /// Another bin has the alias.
    #[error("the alias is taken by another bin")]
    AliasTaken,
    /// The database failed.
    #[error(transparent)]
    Store(StoreError),
    /// Re-checking signatures off the runtime failed (a panic, or the
    /// runtime stopping).
    #[error("a background task failed: {0}")]
    Task(#[from] tokio::task::JoinError),
}

impl From<StoreError> for BinError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::AliasTaken => Self::AliasTaken,
            e => Self::Store(e),
        }
    }
}

/// A bin's response, ready to send: headers parsed once when the response
/// is set, not on every capture. The capture layer turns it into a
/// response.
#[derive(Debug)]
pub struct PreparedResponse {
    /// The status as set; one that is not a status code (a row edited by
    /// hand) is answered as 200.
    pub status: u16,
    /// The headers that parsed.
    pub headers: HeaderMap,
    /// The body.
    pub body: Bytes,
    /// Wait after the commit, before answering.
    pub delay: Duration,
}

impl From<&ResponseConfig> for PreparedResponse {
    fn from(resp: &ResponseConfig) -> Self {
        Self::new(
            resp.status,
            &resp.headers,
            resp.body.clone(),
            Duration::from_millis(resp.delay_ms),
        )
    }
}

impl PreparedResponse {
    /// A response from its parts. Headers were validated when they were
    /// set (rendered rule headers have control characters replaced); one
    /// that still fails to parse (a row edited by hand) is skipped rather
    /// than failing captures.
    pub fn new(status: u16, headers: &[Header], body: impl Into<Bytes>, delay: Duration) -> Self {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            if let (Ok(n), Ok(v)) = (
                HeaderName::try_from(name.as_str()),
                HeaderValue::try_from(value.as_str()),
            ) {
                map.append(n, v);
            }
        }
        Self {
            status,
            headers: map,
            body: body.into(),
            delay,
        }
    }
}

/// What a capture needs of its bin.
pub struct CachedBin {
    /// The answer, ready to send.
    pub response: PreparedResponse,
    /// What requests are verified with.
    pub secrets: Secrets,
    /// Response rules, compiled.
    pub rules: Rules,
    /// Payload schemas, compiled.
    pub schemas: Schemas,
}

/// A bin's arrivals per webhook, for rules with `attempts` (absent: not
/// read from the database yet).
enum Arrivals {
    /// Read once, then counted here.
    Counted(HashMap<String, u32>),
    /// More webhooks stored than kept: each capture asks the database.
    TooMany,
}

/// Webhooks whose arrivals a bin counts in memory at most (senders can
/// make up keys): past it the counts are read again from the stored
/// requests, and a bin storing more keys than this counts in the database.
const MAX_COUNTED: usize = 20_000;

/// Bin id → what captures need of it. Entries are dropped whenever the bin
/// changes (response, secrets, rules, alias, deletion) and reloaded by the
/// next capture.
#[derive(Clone, Default)]
struct BinCache {
    /// A std lock: held for a map lookup or insert, never across `.await`.
    map: Arc<RwLock<HashMap<Uuid, Arc<CachedBin>>>>,
    /// Alias → bin, filled by captures at an alias.
    aliases: Arc<RwLock<HashMap<String, Uuid>>>,
    /// Bin → its webhooks' arrivals, counted in memory (see
    /// [`Bins::arrival`]); one per bin, whichever cached copy a capture
    /// holds.
    arrivals: Arc<Mutex<HashMap<Uuid, Arrivals>>>,
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
        // Rules were checked when set; rules that no longer compile (a row
        // edited by hand) answer nothing rather than failing captures.
        let rules = Rules::compile(&bin.rules).unwrap_or_else(|e| {
            tracing::warn!(bin = %bin.id, error = %e, "ignoring the bin's rules");
            Rules::default()
        });
        let schemas = Schemas::compile(&bin.schemas).unwrap_or_else(|e| {
            tracing::warn!(bin = %bin.id, error = %e, "ignoring the bin's schemas");
            Schemas::default()
        });
        let cached = Arc::new(CachedBin {
            schemas,
            response: PreparedResponse::from(&bin.response),
            secrets: bin.secrets.clone(),
            rules,
        });
        if let Ok(mut map) = self.map.write()
            && self.version() == version
        {
            map.insert(bin.id, cached.clone());
        }
        cached
    }

    /// Forgets a bin that changed or went (and every alias: one may have
    /// moved to another bin).
    fn remove(&self, id: Uuid) {
        if let Ok(mut map) = self.map.write() {
            self.version.fetch_add(1, Ordering::SeqCst);
            map.remove(&id);
        }
        if let Ok(mut aliases) = self.aliases.write() {
            aliases.retain(|_, bin| *bin != id);
        }
        lock(&self.arrivals).remove(&id);
    }
}

/// Per (bin, idempotency key): captures of one webhook count its earlier
/// arrivals one at a time, so two arriving together get arrival numbers 1
/// and 2, not 1 and 1 (within this process).
type AttemptLocks = Arc<Mutex<HashMap<(Uuid, String), Arc<tokio::sync::Mutex<()>>>>>;

/// Held while a capture counts its webhook's arrivals and commits.
pub struct AttemptGuard {
    locks: AttemptLocks,
    key: (Uuid, String),
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for AttemptGuard {
    fn drop(&mut self) {
        self.guard = None;
        let mut locks = self.locks.lock().unwrap_or_else(|e| e.into_inner());
        // Nobody else waits for it: the map's is the last handle.
        if locks
            .get(&self.key)
            .is_some_and(|l| Arc::strong_count(l) == 1)
        {
            locks.remove(&self.key);
        }
    }
}

/// Cheap, cloneable handle to the bins (clones share the cache).
#[derive(Clone)]
pub struct Bins {
    store: Store,
    cache: BinCache,
    config: Arc<ServerConfig>,
    attempts: AttemptLocks,
    /// Held while a bin's arrivals are read (see [`Bins::load_arrivals`]).
    loading: Arc<tokio::sync::Mutex<()>>,
}

impl Bins {
    /// Bins kept in `store`; `config` gives the public base URL that
    /// signatures are re-checked against.
    pub fn new(store: Store, config: Arc<ServerConfig>) -> Self {
        Self {
            store,
            cache: BinCache::default(),
            config,
            attempts: AttemptLocks::default(),
            loading: Arc::default(),
        }
    }

    /// Forgets what is cached of bin `id` (another replica changed it).
    pub fn forget(&self, id: Uuid) {
        self.cache.remove(id);
    }

    /// Forgets every cached bin (changes may have gone unheard).
    pub fn forget_all(&self) {
        if let Ok(mut map) = self.cache.map.write() {
            self.cache.version.fetch_add(1, Ordering::SeqCst);
            map.clear();
        }
        if let Ok(mut aliases) = self.cache.aliases.write() {
            aliases.clear();
        }
        lock(&self.cache.arrivals).clear();
    }

    /// The bin a capture URL's first segment names: its id, or an alias.
    pub async fn resolve(&self, segment: &str) -> Result<Uuid, BinError> {
        if let Ok(id) = Uuid::parse_str(segment) {
            return Ok(id);
        }
        if crate::core::model::validate_alias(segment).is_err() {
            return Err(BinError::NotFound);
        }
        let cached = self
            .cache
            .aliases
            .read()
            .ok()
            .and_then(|a| a.get(segment).copied());
        if let Some(id) = cached {
            return Ok(id);
        }
        let version = self.cache.version();
        let id = self
            .store
            .bin_by_alias(segment.to_owned())
            .await?
            .ok_or(BinError::NotFound)?;
        if let Ok(mut aliases) = self.cache.aliases.write()
            && self.cache.version() == version
        {
            aliases.insert(segment.to_owned(), id);
        }
        Ok(id)
    }

    /// Which arrival of webhook `key` a capture to `bin` is (1 for the
    /// first), counting this one; hold the guard until the capture
    /// committed. When this process writes every capture (SQLite), the
    /// bin's counts are read from the database once and kept in memory:
    /// no read per capture. With replicas, the database counts (one read
    /// per capture, one capture of a webhook at a time per replica).
    pub async fn arrival(
        &self,
        id: Uuid,
        key: &str,
    ) -> Result<(u32, Option<AttemptGuard>), BinError> {
        if self.store.sole_writer() {
            // Twice at most: a full bin is read again once.
            for _ in 0..2 {
                if !lock(&self.cache.arrivals).contains_key(&id) {
                    self.load_arrivals(id).await?;
                }
                match count(&mut lock(&self.cache.arrivals), id, key) {
                    Counted::Number(n) => return Ok((n, None)),
                    Counted::Full => {}
                    Counted::Database => break,
                }
            }
        }
        let guard = self.attempt_lock(id, key).await;
        let earlier = self.store.attempts(id, key.to_owned()).await?.len();
        let n = u32::try_from(earlier).unwrap_or(u32::MAX).saturating_add(1);
        Ok((n, Some(guard)))
    }

    /// Reads a bin's arrivals per webhook from its stored requests, one bin
    /// at a time: captures arriving meanwhile wait for it rather than read
    /// the whole bin too, and then all count in memory.
    async fn load_arrivals(&self, id: Uuid) -> Result<(), BinError> {
        let _one = self.loading.lock().await;
        if lock(&self.cache.arrivals).contains_key(&id) {
            return Ok(());
        }
        let version = self.cache.version();
        let read = self.store.retry_counts(id).await?;
        let counted = if read.len() > MAX_COUNTED {
            Arrivals::TooMany
        } else {
            let saturate = |n: u64| u32::try_from(n).unwrap_or(u32::MAX);
            Arrivals::Counted(read.into_iter().map(|(k, n)| (k, saturate(n))).collect())
        };
        // Not if the bin changed (requests deleted) meanwhile.
        if self.cache.version() == version {
            lock(&self.cache.arrivals).insert(id, counted);
        }
        Ok(())
    }

    /// Counts an arrival of webhook `key` that no rule asked the number of,
    /// where the bin's arrivals are counted in memory: they must match what
    /// is stored.
    pub fn note_arrival(&self, id: Uuid, key: &str) {
        let _ = count(&mut lock(&self.cache.arrivals), id, key);
    }

    /// Waits until no other capture of this process counts arrivals of the
    /// webhook `key` of `bin`; hold the guard until the capture committed.
    async fn attempt_lock(&self, bin: Uuid, key: &str) -> AttemptGuard {
        let lock = self
            .attempts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entry((bin, key.to_owned()))
            .or_default()
            .clone();
        AttemptGuard {
            locks: self.attempts.clone(),
            key: (bin, key.to_owned()),
            guard: Some(lock.lock_owned().await),
        }
    }

    /// What captures need of a bin, from the cache or the database; a
    /// [`BinError::NotFound`] when the bin does not exist.
    pub async fn cached(&self, id: Uuid) -> Result<Arc<CachedBin>, BinError> {
        if let Some(bin) = self.cache.get(id) {
            return Ok(bin);
        }
        let version = self.cache.version();
        let bin = self.store.bin(id).await?.ok_or(BinError::NotFound)?;
        Ok(self.cache.put(&bin, version))
    }

    /// The whole bin, read from the database; a [`BinError::NotFound`] when it
    /// does not exist.
    pub async fn get(&self, id: Uuid) -> Result<Bin, BinError> {
        self.store.bin(id).await?.ok_or(BinError::NotFound)
    }

    /// Creates a bin with the default response, and `alias` if given.
    pub async fn mint(&self, alias: Option<String>) -> Result<Bin, BinError> {
        if let Some(alias) = &alias {
            validate_alias(alias).map_err(BinError::Invalid)?;
        }
        let bin = Bin {
            id: Uuid::new_v4(),
            created_at: now_millis(),
            response: ResponseConfig::default(),
            secrets: Secrets::default(),
            alias,
            rules: Vec::new(),
            schemas: Vec::new(),
        };
        let version = self.cache.version();
        self.store.create_bin(bin.clone()).await?;
        self.cache.put(&bin, version);
        Ok(bin)
    }

    /// Deletes a bin with its requests.
    pub async fn delete(&self, id: Uuid) -> Result<(), BinError> {
        let found = self.store.delete_bin(id).await?;
        self.cache.remove(id);
        if found {
            Ok(())
        } else {
            Err(BinError::NotFound)
        }
    }

    /// Validates and stores a bin's response.
    pub async fn set_response(&self, id: Uuid, resp: ResponseConfig) -> Result<(), BinError> {
        resp.validate().map_err(BinError::Invalid)?;
        let found = self.store.set_response(id, resp).await?;
        self.cache.remove(id);
        if !found {
            return Err(BinError::NotFound);
        }
        Ok(())
    }

    /// Deletes one request of a bin (`id`) or all of them; how often each
    /// webhook arrived is counted again from what remains.
    pub async fn delete_requests(&self, bin: Uuid, id: Option<i64>) -> Result<usize, BinError> {
        let deleted = self.store.delete_requests(bin, id).await?;
        self.cache.remove(bin);
        Ok(deleted)
    }

    /// Sets (or with `None` clears) a bin's alias.
    pub async fn set_alias(&self, id: Uuid, alias: Option<String>) -> Result<(), BinError> {
        if let Some(alias) = &alias {
            validate_alias(alias).map_err(BinError::Invalid)?;
        }
        let found = self.store.set_alias(id, alias).await;
        self.cache.remove(id);
        if !found? {
            return Err(BinError::NotFound);
        }
        Ok(())
    }

    /// Checks and stores a bin's response rules.
    pub async fn set_rules(&self, id: Uuid, rules: Vec<RuleConfig>) -> Result<(), BinError> {
        Rules::compile(&rules).map_err(BinError::Invalid)?;
        let found = self.store.set_rules(id, rules).await?;
        self.cache.remove(id);
        if !found {
            return Err(BinError::NotFound);
        }
        Ok(())
    }

    /// Replaces a bin's secrets and re-checks its stored requests with
    /// them; returns how many were re-checked.
    pub async fn set_secrets(&self, id: Uuid, secrets: Secrets) -> Result<usize, BinError> {
        secrets.validate().map_err(BinError::Invalid)?;
        let found = self.store.set_secrets(id, secrets.clone()).await?;
        self.cache.remove(id);
        if !found {
            return Err(BinError::NotFound);
        }
        let secrets = Arc::new(secrets);
        let config = self.config.clone();
        self.recheck(id, move |requests| {
            let checked = requests
                .iter()
                .map(|r| {
                    let base = config.public_base(r.header("host"));
                    (r.id, r.req.verify(&secrets, &base))
                })
                .collect();
            Recheck::Signatures(checked)
        })
        .await
    }

    /// Replaces a bin's payload schemas (checked: a bad schema or match is
    /// [`BinError::Invalid`], nothing changed) and re-checks its stored
    /// requests against them, as [`Self::set_secrets`] does; answers how
    /// many were re-checked.
    pub async fn set_schemas(
        &self,
        id: Uuid,
        schemas: Vec<SchemaConfig>,
    ) -> Result<usize, BinError> {
        let compiled = Arc::new(Schemas::compile(&schemas).map_err(BinError::Invalid)?);
        let found = self.store.set_schemas(id, schemas).await?;
        self.cache.remove(id);
        if !found {
            return Err(BinError::NotFound);
        }
        self.recheck(id, move |requests| {
            Recheck::Verdicts(
                requests
                    .iter()
                    .map(|r| (r.id, r.req.verdict(&compiled)))
                    .collect(),
            )
        })
        .await
    }

    /// Runs `check` over every stored request of bin `id`, a page at a
    /// time off the async runtime (HMACs and validation of large bodies),
    /// and stores what it found; answers how many were checked.
    async fn recheck<F>(&self, id: Uuid, check: F) -> Result<usize, BinError>
    where
        F: Fn(&[CapturedRequest]) -> Recheck + Send + Sync + 'static,
    {
        let check = Arc::new(check);
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
                    schema: None,
                })
                .await?;
            let Some(last) = page.requests.last().map(|r| r.id) else {
                break;
            };
            let more = page.next.is_some();
            rechecked += page.requests.len();
            let check = check.clone();
            match tokio::task::spawn_blocking(move || check(&page.requests)).await? {
                Recheck::Signatures(s) => self.store.set_signatures(s).await?,
                Recheck::Verdicts(v) => self.store.set_verdicts(v).await?,
            }
            if !more {
                break;
            }
            cursor = Cursor::After(last);
        }
        Ok(rechecked)
    }
}

/// What a re-check found, per request id.
enum Recheck {
    Signatures(Vec<(i64, Option<Signature>)>),
    Verdicts(Vec<(i64, Option<SchemaVerdict>)>),
}

/// What counting an arrival in memory came to.
enum Counted {
    /// The arrival's number.
    Number(u32),
    /// The bin's counts were full and are dropped: read them again.
    Full,
    /// Not counted in memory here: the database counts.
    Database,
}

/// Counts an arrival of `key` at bin `id` where its arrivals are counted in
/// memory.
fn count(all: &mut HashMap<Uuid, Arrivals>, id: Uuid, key: &str) -> Counted {
    let Some(Arrivals::Counted(counts)) = all.get_mut(&id) else {
        return Counted::Database;
    };
    if counts.len() < MAX_COUNTED || counts.contains_key(key) {
        let n = counts.entry(key.to_owned()).or_default();
        *n = n.saturating_add(1);
        return Counted::Number(*n);
    }
    // Full: read again from what is stored (the per-bin cap keeps that
    // small), dropping webhooks whose requests are gone.
    all.remove(&id);
    Counted::Full
}

/// A std mutex, poison ignored: it guards plain counts, never held across
/// an `.await`.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
