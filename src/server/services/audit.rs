//! The audit log (SPEC §16): who changed what, when, from where. Entries
//! are written by the web layer after a change succeeded (see
//! `web::auth::require`); they hold fixed action names and ids, never a
//! request body, so never a secret or a token.

use crate::core::time::now_millis;
use crate::server::store::{AuditRecord, Store};

/// Who did something, as the audit log names them.
#[derive(Debug, Clone)]
pub struct Actor {
    /// The token's name, the proxy's user, `operator` or `anonymous`.
    pub who: String,
    /// How they signed in: `token`, `operator`, `proxy` or `open`.
    pub via: &'static str,
    /// The client's address.
    pub address: String,
}

/// Appends an entry. The change it records has happened, so a failure to
/// write it is logged rather than undoing or failing the change.
pub async fn record(store: &Store, actor: &Actor, action: &str, target: Option<String>) {
    let entry = AuditRecord {
        id: 0,
        at: now_millis(),
        who: actor.who.clone(),
        via: actor.via.to_owned(),
        address: actor.address.clone(),
        action: action.to_owned(),
        target,
    };
    if let Err(e) = store.add_audit(entry).await {
        tracing::error!(error = %e, action, "writing the audit log");
    }
}
