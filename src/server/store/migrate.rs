//! `hookwire migrate`: copies an SQLite instance into an empty PostgreSQL
//! database, byte for byte: bins with their responses and secrets, every
//! request with its id, body, signature and schema verdict (bins with
//! their schemas), tunnel positions and
//! deliveries. Brings the SQLite file's schema up to date first (as
//! `serve` would), reads it on a thread of its own, writes in one
//! PostgreSQL transaction (all or nothing), then moves the id sequence past
//! the copied ids.

use std::path::Path;

use rusqlite::{OpenFlags, OptionalExtension as _};
use tokio::sync::mpsc;
use tokio_postgres::types::ToSql;
use uuid::Uuid;

use super::StoreError;
use super::postgres::{CAPTURE_LOCK, migrate_schema, search_doc_of};

/// Rows read per batch.
const CHUNK: usize = 500;

/// How much was copied.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Copied {
    /// Bins.
    pub bins: u64,
    /// Requests.
    pub requests: u64,
    /// Tunnel positions.
    pub tunnels: u64,
    /// Deliveries.
    pub deliveries: u64,
}

/// A row of one of the four tables, as read from SQLite.
enum Row {
    Bin {
        id: Uuid,
        created_at: i64,
        status: i32,
        headers: String,
        body: String,
        delay_ms: i64,
        secrets: String,
        alias: Option<String>,
        rules: String,
        schemas: String,
    },
    Request {
        id: i64,
        bin: Uuid,
        received_at: i64,
        method: String,
        path: String,
        query: String,
        headers: String,
        remote_addr: String,
        body: Vec<u8>,
        signature: Option<String>,
        schema: Option<String>,
        retry_key: Option<String>,
        rule: Option<String>,
        /// What the sender got back: status, who, name (as stored).
        response: (Option<i32>, Option<String>, Option<String>),
    },
    Tunnel {
        bin: Uuid,
        name: String,
        target: String,
        through: i64,
    },
    /// The highest request id SQLite ever gave (`sqlite_sequence`):
    /// deleted ids are never reused, here either.
    LastId(i64),
    Delivery {
        request_id: i64,
        tunnel: String,
        target: String,
        skipped: bool,
        replay: bool,
        status: Option<i32>,
        headers: String,
        body: Vec<u8>,
        latency_ms: f64,
        delivered_at: i64,
        error: Option<String>,
    },
}

fn uuid(text: &str) -> Result<Uuid, rusqlite::Error> {
    Uuid::parse_str(text).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Text, Box::new(e))
    })
}

/// Reads every row, table by table (bins first, so foreign keys hold).
fn read_sqlite(path: &Path, out: &mpsc::Sender<Row>) -> Result<(), rusqlite::Error> {
    let c = rusqlite::Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)?;
    // One snapshot for every table, even if a server still writes to it.
    c.execute_batch("BEGIN")?;
    let send = |row: Row| out.blocking_send(row).is_ok();
    let mut stmt = c.prepare(
        "SELECT id, created_at, response_status, response_headers, response_body,
                response_delay_ms, secrets, alias, rules, schemas FROM bins",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let row = Row::Bin {
            id: uuid(&r.get::<_, String>(0)?)?,
            created_at: r.get(1)?,
            status: r.get(2)?,
            headers: r.get(3)?,
            body: r.get(4)?,
            delay_ms: r.get(5)?,
            secrets: r.get(6)?,
            alias: r.get(7)?,
            rules: r.get(8)?,
            schemas: r.get(9)?,
        };
        if !send(row) {
            return Ok(());
        }
    }
    let mut stmt = c.prepare(
        "SELECT id, bin_id, received_at, method, path, query, headers, remote_addr, body,
                signature, retry_key, rule, response_status, response_by, response_name, schema
         FROM requests WHERE id > ?1 ORDER BY id LIMIT ?2",
    )?;
    let mut after = 0i64;
    loop {
        let mut rows = stmt.query(rusqlite::params![after, CHUNK])?;
        let mut n = 0;
        while let Some(r) = rows.next()? {
            n += 1;
            after = r.get(0)?;
            let row = Row::Request {
                id: after,
                bin: uuid(&r.get::<_, String>(1)?)?,
                received_at: r.get(2)?,
                method: r.get(3)?,
                path: r.get(4)?,
                query: r.get(5)?,
                headers: r.get(6)?,
                remote_addr: r.get(7)?,
                body: r.get(8)?,
                signature: r.get(9)?,
                schema: r.get(15)?,
                retry_key: r.get(10)?,
                rule: r.get(11)?,
                response: (r.get(12)?, r.get(13)?, r.get(14)?),
            };
            if !send(row) {
                return Ok(());
            }
        }
        if n < CHUNK {
            break;
        }
    }
    let mut stmt = c.prepare("SELECT bin_id, name, target, delivered_through FROM tunnels")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let row = Row::Tunnel {
            bin: uuid(&r.get::<_, String>(0)?)?,
            name: r.get(1)?,
            target: r.get(2)?,
            through: r.get(3)?,
        };
        if !send(row) {
            return Ok(());
        }
    }
    let mut stmt = c.prepare(
        "SELECT request_id, tunnel, replay, status, headers, body, latency_ms, delivered_at, error,
                target, skipped
         FROM deliveries ORDER BY id",
    )?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        let row = Row::Delivery {
            request_id: r.get(0)?,
            tunnel: r.get(1)?,
            replay: r.get(2)?,
            status: r.get(3)?,
            headers: r.get(4)?,
            body: r.get(5)?,
            latency_ms: r.get(6)?,
            delivered_at: r.get(7)?,
            error: r.get(8)?,
            target: r.get(9)?,
            skipped: r.get(10)?,
        };
        if !send(row) {
            return Ok(());
        }
    }
    let last: Option<i64> = c
        .query_row(
            "SELECT seq FROM sqlite_sequence WHERE name = 'requests'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    send(Row::LastId(last.unwrap_or(0)));
    Ok(())
}

/// Copies the SQLite database at `from` into the PostgreSQL database at
/// `to` (migrated first if needed), which must hold no bins yet.
/// `tls`: whom to trust when PostgreSQL speaks TLS.
pub async fn copy_sqlite_to_postgres(
    from: &Path,
    to: &str,
    tls: &tokio_rustls::rustls::ClientConfig,
) -> Result<Copied, StoreError> {
    if !from.is_file() {
        return Err(StoreError::Schema(format!(
            "{} is not a file: pass the SQLite database to copy with --from",
            from.display()
        )));
    }
    let config: tokio_postgres::Config = to
        .parse()
        .map_err(|e| StoreError::Schema(format!("--to is not a PostgreSQL URL: {e}")))?;
    // A file an older hookwire wrote lacks the newest columns.
    let source = from.to_owned();
    tokio::task::spawn_blocking(move || super::sqlite::upgrade(&source))
        .await
        .map_err(|e| StoreError::Thread(e.to_string()))??;
    let (mut client, connection) = config.connect(super::postgres::tls(tls)).await?;
    tokio::spawn(connection);
    migrate_schema(&mut client).await?;
    let tx = client.transaction().await?;
    // No replica captures, and no other migrate copies, until this commits.
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&CAPTURE_LOCK])
        .await?;
    tx.batch_execute("LOCK TABLE bins IN EXCLUSIVE MODE")
        .await?;
    let existing: i64 = tx.query_one("SELECT COUNT(*) FROM bins", &[]).await?.get(0);
    if existing > 0 {
        return Err(StoreError::Schema(format!(
            "the target database already holds {existing} bins: migrate into an empty one"
        )));
    }

    let (rows_tx, mut rows) = mpsc::channel(CHUNK);
    let path = from.to_owned();
    let reader = tokio::task::spawn_blocking(move || read_sqlite(&path, &rows_tx));
    let insert_bin = tx
        .prepare(
            "INSERT INTO bins (id, created_at, response_status, response_headers, response_body,
                               response_delay_ms, secrets, alias, rules, schemas)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .await?;
    let insert_request = tx
        .prepare(
            "INSERT INTO requests (id, bin_id, received_at, method, path, query, headers,
                                   remote_addr, body, signature, retry_key, search_doc, rule,
                                   response_status, response_by, response_name, schema)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16,
                     $17)",
        )
        .await?;
    let insert_tunnel = tx
        .prepare(
            "INSERT INTO tunnels (bin_id, name, target, delivered_through)
             VALUES ($1, $2, $3, $4)",
        )
        .await?;
    let insert_delivery = tx
        .prepare(
            "INSERT INTO deliveries (request_id, tunnel, replay, status, headers, body,
                                     latency_ms, delivered_at, error, target, skipped)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
             ON CONFLICT (request_id, tunnel, target) WHERE NOT replay DO NOTHING",
        )
        .await?;
    let mut copied = Copied::default();
    let mut last_id = 0i64;
    while let Some(row) = rows.recv().await {
        match row {
            Row::Bin {
                id,
                created_at,
                status,
                headers,
                body,
                delay_ms,
                secrets,
                alias,
                rules,
                schemas,
            } => {
                let p: [&(dyn ToSql + Sync); 10] = [
                    &id,
                    &created_at,
                    &status,
                    &headers,
                    &body,
                    &delay_ms,
                    &secrets,
                    &alias,
                    &rules,
                    &schemas,
                ];
                tx.execute(&insert_bin, &p).await?;
                copied.bins += 1;
            }
            Row::Request {
                id,
                bin,
                received_at,
                method,
                path,
                query,
                headers,
                remote_addr,
                body,
                signature,
                schema,
                retry_key,
                rule,
                response: (response_status, response_by, response_name),
            } => {
                let doc = search_doc_of(&method, &path, &query, &headers, &body);
                let p: [&(dyn ToSql + Sync); 17] = [
                    &id,
                    &bin,
                    &received_at,
                    &method,
                    &path,
                    &query,
                    &headers,
                    &remote_addr,
                    &body,
                    &signature,
                    &retry_key,
                    &doc,
                    &rule,
                    &response_status,
                    &response_by,
                    &response_name,
                    &schema,
                ];
                tx.execute(&insert_request, &p).await?;
                copied.requests += 1;
            }
            Row::LastId(id) => last_id = id,
            Row::Tunnel {
                bin,
                name,
                target,
                through,
            } => {
                tx.execute(&insert_tunnel, &[&bin, &name, &target, &through])
                    .await?;
                copied.tunnels += 1;
            }
            Row::Delivery {
                request_id,
                tunnel,
                target,
                skipped,
                replay,
                status,
                headers,
                body,
                latency_ms,
                delivered_at,
                error,
            } => {
                let p: [&(dyn ToSql + Sync); 11] = [
                    &request_id,
                    &tunnel,
                    &replay,
                    &status,
                    &headers,
                    &body,
                    &latency_ms,
                    &delivered_at,
                    &error,
                    &target,
                    &skipped,
                ];
                tx.execute(&insert_delivery, &p).await?;
                copied.deliveries += 1;
            }
        }
    }
    reader
        .await
        .map_err(|e| StoreError::Thread(e.to_string()))??;
    tx.batch_execute(
        "UPDATE bins b SET request_count = (SELECT COUNT(*) FROM requests r WHERE r.bin_id = b.id)",
    )
    .await?;
    tx.execute(
        "SELECT setval('requests_id_seq', GREATEST((SELECT MAX(id) FROM requests), $1,
                                                   (SELECT last_value FROM requests_id_seq), 1))",
        &[&last_id],
    )
    .await?;
    tx.commit().await?;
    Ok(copied)
}
