//! [`Backend`]: every operation of the store, declared once with its doc.
//! Each backend ([`sqlite`](super::sqlite), [`postgres`](super::postgres))
//! implements the trait; [`Store`]'s method for each operation, which runs
//! it on the store's backend, is generated from the same declaration.
//! Uses only the types of [`store`](super), none of the backends.

use uuid::Uuid;

use super::{
    AuditRecord, Engine, Event, ListQuery, NameHold, Opened, Page, Record, Store, StoreError,
    TokenRow,
};
use crate::core::model::{Answer, Bin, CapturedRequest, NewRequest, ResponseConfig, RuleConfig};
use crate::core::payload_schema::{SchemaConfig, SchemaVerdict};
use crate::core::time::Millis;
use crate::core::verify::{Secrets, Signature};

/// Declares the operations: emits the [`Backend`] trait and, for each
/// operation, the [`Store`] method that matches the store's [`Engine`] and
/// runs it there. An operation is `async fn` or `fn`; it ends in `;`, or in
/// a default body (what a backend that is its database's only writer, one
/// process, answers).
macro_rules! operations {
    // Munches one operation at a time into `{[attrs] kind name [args] [ret] body}`.
    (@munch [$($done:tt)*]
        $(#[$a:meta])* async fn $n:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $r:ty;
        $($rest:tt)*
    ) => {
        operations!(@munch [$($done)* {[$(#[$a])*] async $n [$($arg: $ty),*] [$r] ;}] $($rest)*);
    };
    (@munch [$($done:tt)*]
        $(#[$a:meta])* async fn $n:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $r:ty
        { $($default:tt)* }
        $($rest:tt)*
    ) => {
        operations!(@munch [$($done)* {[$(#[$a])*] async $n [$($arg: $ty),*] [$r] {
            $(let _ = &$arg;)*
            async move { $($default)* }
        }}] $($rest)*);
    };
    (@munch [$($done:tt)*]
        $(#[$a:meta])* fn $n:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $r:ty;
        $($rest:tt)*
    ) => {
        operations!(@munch [$($done)* {[$(#[$a])*] sync $n [$($arg: $ty),*] [$r] ;}] $($rest)*);
    };
    (@munch [$($done:tt)*]
        $(#[$a:meta])* fn $n:ident(&self $(, $arg:ident: $ty:ty)* $(,)?) -> $r:ty
        { $($default:tt)* }
        $($rest:tt)*
    ) => {
        operations!(@munch [$($done)* {[$(#[$a])*] sync $n [$($arg: $ty),*] [$r] {
            $(let _ = &$arg;)*
            $($default)*
        }}] $($rest)*);
    };
    // All munched: the trait, and the store's dispatch.
    (@munch [$({[$($a:tt)*] $kind:ident $n:ident [$($arg:ident: $ty:ty),*] [$r:ty] $body:tt})*]) => {
        /// What a database behind [`Store`] does: the store's operations,
        /// each documented here once. Futures are `Send`: handlers and
        /// sessions await them on any runtime thread.
        pub(super) trait Backend: Send + Sync {
            $($($a)* fn $n(&self $(, $arg: $ty)*) -> operations!(@returns $kind $r) $body)*
        }

        impl Store {
            $(operations!(@dispatch [$($a)*] $kind $n [$($arg: $ty),*] $r);)*
        }
    };
    (@returns async $r:ty) => { impl ::std::future::Future<Output = $r> + Send };
    (@returns sync $r:ty) => { $r };
    (@dispatch [$($a:tt)*] async $n:ident [$($arg:ident: $ty:ty),*] $r:ty) => {
        $($a)*
        pub async fn $n(&self $(, $arg: $ty)*) -> $r {
            match &self.engine {
                Engine::Sqlite(b) => b.$n($($arg),*).await,
                Engine::Postgres(b) => b.$n($($arg),*).await,
            }
        }
    };
    (@dispatch [$($a:tt)*] sync $n:ident [$($arg:ident: $ty:ty),*] $r:ty) => {
        $($a)*
        pub fn $n(&self $(, $arg: $ty)*) -> $r {
            match &self.engine {
                Engine::Sqlite(b) => b.$n($($arg),*),
                Engine::Postgres(b) => b.$n($($arg),*),
            }
        }
    };
    // Every operation opens with its doc.
    (#$($operations:tt)*) => { operations!(@munch [] #$($operations)*); };
}

operations! {
    /// Stores a captured request; resolves once its transaction committed.
    /// `None` when the bin does not exist (deleted since it was looked up).
    /// `on_id` runs with the new id inside the transaction, before any
    /// reader can see the row: the tunnel uses it to await the answer of a
    /// request no tunnel can have picked up yet. `on_commit` runs with the
    /// new id once its commit is done, in commit order (= id order) with
    /// every other capture's: tunnels get live captures in memory through
    /// it, none out of order.
    async fn capture_then(
        &self,
        req: NewRequest,
        on_id: impl FnOnce(i64) + Send + 'static,
        on_commit: Option<Box<dyn FnOnce(i64) + Send>>,
    ) -> Result<Option<i64>, StoreError>;

    /// Registers tunnel `name`'s targets on a bin; returns, per target, the
    /// id up to which it has had every request, and what a new name skips.
    async fn open_tunnel(
        &self,
        bin: Uuid,
        name: String,
        targets: Vec<String>,
        from_start: bool,
    ) -> Result<Opened, StoreError>;

    /// Requests after `after` that `stream` (tunnel name, target) has not
    /// had, oldest first.
    async fn pending(
        &self,
        bin: Uuid,
        stream: (String, String),
        after: i64,
        limit: usize,
    ) -> Result<Vec<CapturedRequest>, StoreError>;

    /// Stores tunnel `name`'s records and moves each target's position to
    /// its highest `through`, in one transaction. For a `passthrough`
    /// tunnel the other replicas hear of the answers (a capture there may
    /// wait for one).
    async fn record_deliveries(
        &self,
        bin: Uuid,
        name: String,
        records: Vec<Record>,
        passthrough: bool,
    ) -> Result<(), StoreError>;

    /// Names of the bin's tunnels connected to any replica (PostgreSQL);
    /// `None` when this process is the only one (the hub knows).
    async fn connected_tunnels(&self, bin: Uuid) -> Result<Option<Vec<String>>, StoreError> {
        Ok(None)
    }

    /// True when a passthrough tunnel of the bin is connected to another
    /// replica (PostgreSQL; checked at most once a second per bin). This
    /// replica's own tunnels are the hub's to know.
    async fn passthrough_elsewhere(&self, bin: Uuid) -> bool {
        false
    }

    /// Creates a bin with the default response.
    async fn create_bin(&self, bin: Bin) -> Result<(), StoreError>;

    /// Replaces a bin's response; false when the bin does not exist.
    async fn set_response(&self, id: Uuid, resp: ResponseConfig) -> Result<bool, StoreError>;

    /// Sets or clears a bin's alias; false when the bin does not exist,
    /// [`StoreError::AliasTaken`] when another bin has it.
    async fn set_alias(&self, id: Uuid, alias: Option<String>) -> Result<bool, StoreError>;

    /// Replaces a bin's response rules; false when the bin does not exist.
    async fn set_rules(&self, id: Uuid, rules: Vec<RuleConfig>) -> Result<bool, StoreError>;

    /// The bin an alias names, if any.
    async fn bin_by_alias(&self, alias: String) -> Result<Option<Uuid>, StoreError>;

    /// Replaces a bin's verification secrets; false when the bin does not
    /// exist.
    async fn set_secrets(&self, id: Uuid, secrets: Secrets) -> Result<bool, StoreError>;

    /// Replaces a bin's payload schemas; false when the bin does not exist.
    async fn set_schemas(&self, id: Uuid, schemas: Vec<SchemaConfig>) -> Result<bool, StoreError>;

    /// Stores re-checked schema verdicts of requests.
    async fn set_verdicts(&self, checked: Vec<(i64, Option<SchemaVerdict>)>)
        -> Result<(), StoreError>;

    /// Stores re-checked signatures of requests.
    async fn set_signatures(&self, checked: Vec<(i64, Option<Signature>)>)
        -> Result<(), StoreError>;

    /// Records what the sender of request `id` got back, when that was
    /// decided after its capture was stored (a passthrough app's answer,
    /// a sender that gave up). A request deleted meanwhile is no error.
    async fn set_answer(&self, id: i64, answer: Answer) -> Result<(), StoreError>;

    /// Deletes a bin and its requests; false when it did not exist.
    async fn delete_bin(&self, id: Uuid) -> Result<bool, StoreError>;

    /// Deletes one request, or all of a bin's; returns how many went.
    async fn delete_requests(&self, bin: Uuid, id: Option<i64>) -> Result<usize, StoreError>;

    /// Deletes up to `batch` requests received before `cutoff`; returns how
    /// many went. Called in a loop so one purge never holds the writer long.
    async fn purge_before(&self, cutoff: Millis, batch: usize) -> Result<usize, StoreError>;

    /// One bin, if it exists.
    async fn bin(&self, id: Uuid) -> Result<Option<Bin>, StoreError>;

    /// The most recently created bins, newest first.
    async fn recent_bins(&self, limit: usize) -> Result<Vec<(Bin, u64)>, StoreError>;

    /// A page of a bin's requests.
    async fn list_requests(&self, q: ListQuery) -> Result<Page, StoreError>;

    /// One request of a bin.
    async fn request(&self, bin: Uuid, id: i64) -> Result<Option<CapturedRequest>, StoreError>;

    /// How many requests a bin holds.
    async fn count(&self, bin: Uuid) -> Result<u64, StoreError>;

    /// How many of a bin's requests carry each idempotency key.
    async fn retry_counts(&self, bin: Uuid) -> Result<Vec<(String, u64)>, StoreError>;

    /// Every request of a bin sharing an idempotency key, oldest first.
    async fn attempts(&self, bin: Uuid, key: String) -> Result<Vec<(i64, Millis)>, StoreError>;

    /// True when no write waits: background work (indexing) can run
    /// without delaying captures.
    fn writer_idle(&self) -> bool;

    /// Adds up to `batch` new requests to the search index; returns how
    /// many (0 once it has caught up).
    async fn index_batch(&self, batch: usize) -> Result<usize, StoreError>;

    /// When the oldest request the search index has not reached arrived;
    /// `None` when the index has caught up.
    async fn oldest_unindexed(&self) -> Result<Option<Millis>, StoreError>;

    /// Requests waiting for delivery, over every tunnel name ever connected
    /// (a stopped laptop's backlog counts).
    async fn tunnel_backlog(&self) -> Result<u64, StoreError>;

    /// Body bytes stored by all bins.
    async fn stored_bytes(&self) -> Result<u64, StoreError>;

    /// Holds tunnel `name` of `bin` for the whole cluster until the
    /// returned hold is dropped: asks the replica holding it to end that
    /// session and waits until it has (PostgreSQL). A single SQLite process
    /// has only its own sessions, which the hub already orders.
    /// `ticket` orders claims across replicas; `wanted` is asked between
    /// attempts, and `None` comes back once it says no (a newer connection
    /// took the name meanwhile).
    async fn hold_name(
        &self,
        bin: Uuid,
        name: &str,
        ticket: u64,
        wanted: &(dyn Fn() -> bool + Sync),
    ) -> Result<Option<NameHold>, StoreError> {
        Ok(Some(NameHold(None)))
    }

    /// Captures other replicas commit, from now on; `None` when this
    /// process is the database's only writer (SQLite).
    fn events(&self) -> Option<tokio::sync::broadcast::Receiver<Event>> {
        None
    }

    /// True when this process is the database's only writer, so the
    /// commit hooks of [`Self::capture_then`] see every capture, in id
    /// order: tunnels may then take captures in memory. With several
    /// replicas a tunnel must read them from the database.
    fn sole_writer(&self) -> bool {
        true
    }

    /// Stores a new token; false when its name is taken. Other replicas
    /// hear of it (PostgreSQL).
    async fn create_token(&self, token: TokenRow) -> Result<bool, StoreError>;

    /// Every token, by name.
    async fn tokens(&self) -> Result<Vec<TokenRow>, StoreError>;

    /// Deletes a token; false when there was none of that name. Other
    /// replicas hear of it at the commit and refuse it from then on.
    async fn delete_token(&self, name: String) -> Result<bool, StoreError>;

    /// Moves tokens' `last_used_at` forward (never back).
    async fn touch_tokens(&self, used: Vec<(String, Millis)>) -> Result<(), StoreError>;

    /// Appends an entry to the audit log.
    async fn add_audit(&self, entry: AuditRecord) -> Result<(), StoreError>;

    /// Audit entries older than `before` (all when `None`), newest first.
    async fn audit(&self, before: Option<i64>, limit: usize)
        -> Result<Vec<AuditRecord>, StoreError>;

    /// True when a read query succeeds: what `/healthz` reports.
    async fn healthy(&self) -> bool;
}
