//! Tokens of a team instance (SPEC §16): made, listed, revoked, and looked
//! up on every request from memory.
//!
//! The store keeps only keyed hashes (HMAC-SHA256). A token is 256 random
//! bits, so its hash can be neither reversed nor brute-forced: a slow
//! password hash (argon2, bcrypt) protects guessable secrets and would
//! only cost every request. The key separates the two uses of a token: the
//! bearer lookup, and the inspector's session cookie, which is derived from
//! the token so that neither the cookie nor the database holds the token.
//!
//! Lookups read an in-memory copy, read again whenever tokens change: here
//! at once, on other replicas through the store's notifications (the path
//! of SPEC §9), and once a minute in case one was missed. Revoking a token
//! flips its `revoked` signal, which ends its open tunnels and event
//! streams. `last_used` is kept in memory and written once a minute, not
//! on every request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit as _, Mac as _};
use tokio::sync::watch;

use crate::core::scope::Scope;
use crate::core::time::{Millis, now_millis};
use crate::server::store::{Store, StoreError, TokenRow};

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// What every token starts with, so that one pasted in the wrong place
/// (a log, a chat) is recognisable.
pub const PREFIX: &str = "hwk_";

/// How often `last_used` is written, and the tokens read again.
const EVERY: Duration = Duration::from_secs(60);

/// The keyed hash of `text` for one `purpose`, hex.
fn keyed(purpose: &str, text: &str) -> String {
    let mut mac = HmacSha256::new_from_slice(purpose.as_bytes()).expect("HMAC takes any key");
    mac.update(text.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// What a bearer token is looked up by.
pub fn token_hash(token: &str) -> String {
    keyed("hookwire-token-v1", token)
}

/// The inspector session cookie of a token.
pub fn session_cookie(token: &str) -> String {
    keyed("hookwire-session-v2", token)
}

/// What a session cookie is looked up by.
fn session_hash(cookie: &str) -> String {
    keyed("hookwire-session-lookup-v1", cookie)
}

/// A new token: `hwk_` and 256 random bits from the operating system.
fn new_token() -> Result<String, StoreError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| StoreError::Corrupt(format!("no randomness for a token: {e}")))?;
    Ok(format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// A token that authorised a request: who, what it may do, and the signal
/// that flips when it is revoked.
#[derive(Debug)]
pub struct Known {
    /// The token's name.
    pub name: String,
    /// Its scope.
    pub scope: Scope,
    revoked: watch::Sender<bool>,
}

impl Known {
    /// Resolves once the token is revoked.
    pub fn revocation(&self) -> Revocation {
        Revocation(Some(self.revoked.subscribe()))
    }
}

/// Resolves when a token is revoked; never for someone signed in without
/// one (the operator, a proxy's user, an open server). Long-lived
/// connections (tunnels, event streams) end on it.
#[derive(Debug, Clone, Default)]
pub struct Revocation(Option<watch::Receiver<bool>>);

impl Revocation {
    /// Waits for the revocation.
    pub async fn wait(&self) {
        match self.0.clone() {
            Some(mut rx) => {
                // A dropped sender is a token no longer known: revoked too.
                let _ = rx.wait_for(|revoked| *revoked).await;
            }
            None => std::future::pending().await,
        }
    }
}

/// The lookups: by token hash and by session hash, each to the same entry.
#[derive(Default)]
struct Index {
    by_name: HashMap<String, Arc<Known>>,
    by_hash: HashMap<String, Arc<Known>>,
    by_session: HashMap<String, Arc<Known>>,
}

/// The tokens (a cheap handle).
#[derive(Clone)]
pub struct Tokens {
    store: Store,
    index: Arc<RwLock<Index>>,
    /// Last use per name, not written yet.
    used: Arc<Mutex<HashMap<String, Millis>>>,
}

/// What creating a token gives: the row as stored, and the token itself,
/// shown this once.
pub struct Created {
    /// As stored.
    pub row: TokenRow,
    /// The token.
    pub token: String,
}

impl Tokens {
    /// The tokens of `store`, none known until [`Self::reload`].
    pub fn new(store: Store) -> Self {
        Self {
            store,
            index: Arc::default(),
            used: Arc::default(),
        }
    }

    /// Reads the tokens again: new ones are known, deleted ones revoked.
    pub async fn reload(&self) -> Result<(), StoreError> {
        let rows = self.store.tokens().await?;
        let mut index = self.index.write().expect("token index lock");
        let mut next = Index::default();
        for row in rows {
            let known = match index.by_name.remove(&row.name) {
                // The same token (the name could have been revoked and
                // made again meanwhile: then it is another token).
                Some(k)
                    if index
                        .by_hash
                        .get(&row.hash)
                        .is_some_and(|h| Arc::ptr_eq(h, &k))
                        && k.scope == row.scope =>
                {
                    k
                }
                Some(old) => {
                    old.revoked.send_replace(true);
                    Arc::new(Known::new(&row))
                }
                None => Arc::new(Known::new(&row)),
            };
            next.by_hash.insert(row.hash, known.clone());
            next.by_session.insert(row.session_hash, known.clone());
            next.by_name.insert(row.name, known);
        }
        for gone in index.by_name.values() {
            gone.revoked.send_replace(true);
        }
        *index = next;
        Ok(())
    }

    /// The token a bearer token is, if any.
    pub fn by_token(&self, token: &str) -> Option<Arc<Known>> {
        let known = self
            .index
            .read()
            .expect("token index lock")
            .by_hash
            .get(&token_hash(token))
            .cloned()?;
        self.touch(&known.name);
        Some(known)
    }

    /// The token a session cookie was made from, if any.
    pub fn by_cookie(&self, cookie: &str) -> Option<Arc<Known>> {
        let known = self
            .index
            .read()
            .expect("token index lock")
            .by_session
            .get(&session_hash(cookie))
            .cloned()?;
        self.touch(&known.name);
        Some(known)
    }

    fn touch(&self, name: &str) {
        self.used
            .lock()
            .expect("token use lock")
            .insert(name.to_owned(), now_millis());
    }

    /// Makes a token; `None` when the name is taken.
    pub async fn create(&self, name: &str, scope: Scope) -> Result<Option<Created>, StoreError> {
        let token = new_token()?;
        let row = TokenRow {
            name: name.to_owned(),
            scope,
            hash: token_hash(&token),
            session_hash: session_hash(&session_cookie(&token)),
            created_at: now_millis(),
            last_used_at: None,
        };
        if !self.store.create_token(row.clone()).await? {
            return Ok(None);
        }
        self.reload().await?;
        Ok(Some(Created { row, token }))
    }

    /// Every token, with uses not written yet counted.
    pub async fn list(&self) -> Result<Vec<TokenRow>, StoreError> {
        let mut rows = self.store.tokens().await?;
        let used = self.used.lock().expect("token use lock");
        for row in &mut rows {
            if let Some(&at) = used.get(&row.name) {
                row.last_used_at = row.last_used_at.max(Some(at));
            }
        }
        Ok(rows)
    }

    /// Revokes a token: refused from now on, here and (at their next
    /// notification) on the other replicas; its open tunnels and event
    /// streams end. False when there was none of that name.
    pub async fn revoke(&self, name: &str) -> Result<bool, StoreError> {
        let deleted = self.store.delete_token(name.to_owned()).await?;
        self.reload().await?;
        Ok(deleted)
    }

    /// Writes the uses of the last minute and reads the tokens again, once
    /// a minute, until the server stops.
    pub async fn run(self, mut stopping: watch::Receiver<bool>) {
        let mut tick = tokio::time::interval(EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        loop {
            tokio::select! {
                _ = tick.tick() => {}
                _ = stopping.changed() => {
                    self.flush().await;
                    return;
                }
            }
            self.flush().await;
            if let Err(e) = self.reload().await {
                tracing::warn!(error = %e, "reading the tokens again");
            }
        }
    }

    async fn flush(&self) {
        let used: Vec<(String, Millis)> =
            self.used.lock().expect("token use lock").drain().collect();
        if used.is_empty() {
            return;
        }
        if let Err(e) = self.store.touch_tokens(used).await {
            tracing::warn!(error = %e, "writing when tokens were last used");
        }
    }
}

impl Known {
    fn new(row: &TokenRow) -> Self {
        Self {
            name: row.name.clone(),
            scope: row.scope,
            revoked: watch::channel(false).0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_recognisable() {
        let a = new_token().expect("token");
        let b = new_token().expect("token");
        assert!(a.starts_with(PREFIX));
        assert_eq!(a.len(), PREFIX.len() + 43);
        assert_ne!(a, b);
    }

    #[test]
    fn hashes_are_keyed_by_use() {
        let t = "hwk_example";
        assert_ne!(token_hash(t), session_cookie(t));
        assert_ne!(session_cookie(t), session_hash(&session_cookie(t)));
        assert_eq!(token_hash(t).len(), 64);
        assert!(!token_hash(t).contains("example"));
    }
}
