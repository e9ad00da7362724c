//! Connection settings and numbered migrations, tracked in `user_version`.

use rusqlite::Connection;

use super::StoreError;
use crate::server::config::Durability;

/// The migrations in order; the database's `user_version` is how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_tunnels.sql"),
    include_str!("migrations/0003_signatures.sql"),
    include_str!("migrations/0004_search.sql"),
    include_str!("migrations/0005_retries.sql"),
    include_str!("migrations/0006_deferred_index_delete.sql"),
    include_str!("migrations/0007_bounded_index_merges.sql"),
    include_str!("migrations/0008_rules_routes_aliases.sql"),
    include_str!("migrations/0009_answers.sql"),
    include_str!("migrations/0010_schemas.sql"),
    include_str!("migrations/0011_tokens_audit.sql"),
];

/// Settings the writer's connection needs. WAL lets readers run beside the
/// writer. `synchronous=NORMAL` in WAL mode survives a killed process (the
/// commit is in the OS page cache once `COMMIT` returns), which is what
/// the durability promise asks (docs/durability.md); only a power cut can lose the last commits, and group
/// commit keeps that window to one batch. `Fsync` (`synchronous=FULL`)
/// flushes the WAL at every commit: one fsync per batch.
pub(super) fn configure(conn: &Connection, durability: Durability) -> Result<(), StoreError> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    let synchronous = match durability {
        Durability::Process => "NORMAL",
        Durability::Fsync => "FULL",
    };
    conn.pragma_update(None, "synchronous", synchronous)?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    Ok(())
}

/// Runs the migrations the database has not seen yet, each in its own
/// transaction together with the version bump.
pub(super) fn migrate(conn: &mut Connection) -> Result<(), StoreError> {
    let done: usize = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if done > MIGRATIONS.len() {
        return Err(StoreError::Schema(format!(
            "database schema version {done} is newer than this hookwire ({}); upgrade hookwire",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(None, "user_version", i + 1)?;
        tx.commit()?;
    }
    Ok(())
}
