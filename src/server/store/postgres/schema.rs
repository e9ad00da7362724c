//! PostgreSQL's numbered migrations, run once for the whole cluster: the
//! first replica to start takes an advisory lock, the others wait for it
//! and then find nothing left to do.

use tokio_postgres::Client;

use crate::server::store::StoreError;

/// The migrations in order; `hookwire_schema.version` is how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_init.sql"),
    include_str!("migrations/0002_one_delivery_per_name.sql"),
    include_str!("migrations/0003_rules_routes_aliases.sql"),
    include_str!("migrations/0004_answers.sql"),
    include_str!("migrations/0005_schemas.sql"),
    include_str!("migrations/0006_tokens_audit.sql"),
];

/// The advisory lock migrations run under (any constant no other user of
/// the database takes; this one spells "hookwire").
const MIGRATION_LOCK: i64 = 0x686f_6f6b_7769_7265;

/// Runs the migrations this database has not seen, each in its own
/// transaction with the version bump; refuses a database a newer hookwire
/// migrated.
pub(crate) async fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    let result = run_pending(client).await;
    client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await?;
    result
}

async fn run_pending(client: &mut Client) -> Result<(), StoreError> {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS hookwire_schema (version integer NOT NULL);
             INSERT INTO hookwire_schema SELECT 0
             WHERE NOT EXISTS (SELECT 1 FROM hookwire_schema);",
        )
        .await?;
    let done: i32 = client
        .query_one("SELECT version FROM hookwire_schema", &[])
        .await?
        .get(0);
    let done = usize::try_from(done).unwrap_or(0);
    if done > MIGRATIONS.len() {
        return Err(StoreError::Schema(format!(
            "database schema version {done} is newer than this hookwire ({}); upgrade hookwire \
             on this replica",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = client.transaction().await?;
        tx.batch_execute(sql).await?;
        let version = i32::try_from(i + 1).unwrap_or(i32::MAX);
        tx.execute("UPDATE hookwire_schema SET version = $1", &[&version])
            .await?;
        tx.commit().await?;
    }
    Ok(())
}
