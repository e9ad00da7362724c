//! SQL of the tunnel: each named tunnel's position in its bin, the requests
//! it still has to get, and the deliveries (the local app's answers).
//! Rows are read through [`rows`](super::rows); [`queries`](super::queries)
//! is not used (the dependency goes one way, see the Layout in `sqlite`).

use rusqlite::{Connection, params};
use uuid::Uuid;

use crate::core::model::CapturedRequest;
use crate::server::store::sqlite::rows::{REQUEST_COLUMNS, request_row};
use crate::server::store::{Opened, Record, StoreError, to_json};

/// Registers a tunnel name's targets on its bin (those new) and returns,
/// per target, the id up to which it has everything. A new name starts
/// after the bin's newest request; a new target of a known name where the
/// name's furthest target is (so a changed `--to` keeps the backlog);
/// `from_start` starts every target before all requests, rewinding known
/// ones (what they already got is still skipped, see [`pending`]). The
/// name's other targets are forgotten.
pub(super) fn open_tunnel(
    tx: &Connection,
    bin: Uuid,
    name: &str,
    targets: &[String],
    from_start: bool,
) -> Result<Opened, StoreError> {
    let bin = bin.hyphenated().to_string();
    let new_name = !from_start
        && !tx
            .prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM tunnels WHERE bin_id = ?1 AND name = ?2)",
            )?
            .query_row(params![bin, name], |r| r.get::<_, bool>(0))?;
    let mut positions = Vec::with_capacity(targets.len());
    for target in targets {
        if from_start {
            tx.prepare_cached(
                "INSERT INTO tunnels (bin_id, name, target, delivered_through) VALUES (?1, ?2, ?3, 0)
                 ON CONFLICT (bin_id, name, target) DO UPDATE SET delivered_through = 0",
            )?
            .execute(params![bin, name, target])?;
        } else {
            tx.prepare_cached(
                "INSERT INTO tunnels (bin_id, name, target, delivered_through)
                 VALUES (?1, ?2, ?3, COALESCE(
                     (SELECT MAX(delivered_through) FROM tunnels WHERE bin_id = ?1 AND name = ?2),
                     (SELECT COALESCE(MAX(id), 0) FROM requests WHERE bin_id = ?1)))
                 ON CONFLICT (bin_id, name, target) DO NOTHING",
            )?
            .execute(params![bin, name, target])?;
        }
        positions.push(
            tx.prepare_cached(
                "SELECT delivered_through FROM tunnels
                 WHERE bin_id = ?1 AND name = ?2 AND target = ?3",
            )?
            .query_row(params![bin, name, target], |r| r.get(0))?,
        );
    }
    // Targets the name no longer has (a changed --to, the position from
    // before targets) would count as backlog forever.
    let known: Vec<String> = tx
        .prepare_cached("SELECT target FROM tunnels WHERE bin_id = ?1 AND name = ?2")?
        .query_map(params![bin, name], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    // Deliveries from before targets belong to the name's first target,
    // so what was answered beyond the old position is not sent again.
    if let Some(first) = targets
        .first()
        .filter(|_| known.iter().any(String::is_empty))
        && !first.is_empty()
    {
        tx.prepare_cached(
            "UPDATE deliveries SET target = ?3 WHERE tunnel = ?2 AND target = ''
               AND request_id IN (SELECT id FROM requests WHERE bin_id = ?1)",
        )?
        .execute(params![bin, name, first])?;
    }
    let mut forget =
        tx.prepare_cached("DELETE FROM tunnels WHERE bin_id = ?1 AND name = ?2 AND target = ?3")?;
    for gone in known.iter().filter(|t| !targets.contains(t)) {
        forget.execute(params![bin, name, gone])?;
    }
    let skipped = match positions.iter().max() {
        Some(&start) if new_name => tx
            .prepare_cached("SELECT COUNT(*) FROM requests WHERE bin_id = ?1 AND id <= ?2")?
            .query_row(params![bin, start], |r| r.get::<_, i64>(0))?,
        _ => 0,
    };
    Ok(Opened {
        positions,
        skipped: u64::try_from(skipped).unwrap_or(0),
    })
}

/// The bin's requests after `after` that the tunnel's `target` has not had
/// yet, oldest first. The NOT EXISTS covers the few answered beyond the
/// stored position (answers may come back out of order).
pub(super) fn pending(
    c: &Connection,
    bin: Uuid,
    name: &str,
    target: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<CapturedRequest>, StoreError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {REQUEST_COLUMNS} FROM requests r
         WHERE bin_id = ?1 AND id > ?2 AND NOT EXISTS
           (SELECT 1 FROM deliveries d WHERE d.request_id = r.id AND d.tunnel = ?3
              AND d.target = ?5 AND d.replay = 0)
         ORDER BY id LIMIT ?4"
    ))?;
    let mut rows = stmt.query(params![
        bin.hyphenated().to_string(),
        after,
        name,
        limit,
        target
    ])?;
    let mut out = Vec::new();
    while let Some(row) = rows.next()? {
        out.push(request_row(row)?);
    }
    Ok(out)
}

/// Stores one tunnel's deliveries and, in the same transaction, moves each
/// of its targets' positions forward to the highest `through` given for it
/// (never back).
pub(super) fn record_deliveries(
    tx: &Connection,
    bin: Uuid,
    name: &str,
    records: &[Record],
) -> Result<(), StoreError> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO deliveries (request_id, tunnel, target, skipped, replay, status, headers,
                                 body, latency_ms, delivered_at, error)
         SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11
         WHERE EXISTS (SELECT 1 FROM requests WHERE id = ?1)",
    )?;
    for r in records {
        let Some(d) = &r.delivery else { continue };
        insert.execute(params![
            r.request_id,
            d.tunnel,
            d.target,
            d.skipped,
            d.replay,
            d.status,
            to_json(&d.headers)?,
            &d.body[..],
            d.latency_ms,
            d.delivered_at,
            d.error
        ])?;
    }
    let mut update = tx.prepare_cached(
        "UPDATE tunnels SET delivered_through = MAX(delivered_through, ?4)
         WHERE bin_id = ?1 AND name = ?2 AND target = ?3",
    )?;
    for (target, through) in Record::positions(records) {
        update.execute(params![bin.hyphenated().to_string(), name, target, through])?;
    }
    Ok(())
}
