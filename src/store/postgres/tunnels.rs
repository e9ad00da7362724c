//! SQL of the tunnel on PostgreSQL: each named tunnel's position in its
//! bin, the requests it still has to get, and the deliveries. Positions
//! are safe across replicas because ids become visible in id order (see
//! writer.rs).

use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::queries::{request_columns, request_row};
use crate::model::{CapturedRequest, Delivery};
use crate::store::{StoreError, to_json};

/// Registers a tunnel name on its bin (if new) and returns the id up to
/// which it has everything: a new name starts after the bin's newest
/// request, or before all of them with `from_start`, which also rewinds a
/// known name (what it already got is still skipped, see [`pending`]).
pub(super) async fn open_tunnel(
    c: &impl GenericClient,
    bin: Uuid,
    name: &str,
    from_start: bool,
) -> Result<i64, StoreError> {
    let sql = if from_start {
        "INSERT INTO tunnels (bin_id, name, delivered_through) VALUES ($1, $2, 0)
         ON CONFLICT (bin_id, name) DO UPDATE SET delivered_through = 0
         RETURNING delivered_through"
    } else {
        // DO UPDATE (a no-op) so the row comes back either way.
        "INSERT INTO tunnels (bin_id, name, delivered_through)
         VALUES ($1, $2, (SELECT COALESCE(MAX(id), 0) FROM requests WHERE bin_id = $1))
         ON CONFLICT (bin_id, name) DO UPDATE SET delivered_through = tunnels.delivered_through
         RETURNING delivered_through"
    };
    Ok(c.query_one(sql, &[&bin, &name]).await?.get(0))
}

/// The bin's requests after `after` that the tunnel has not had yet, oldest
/// first. The NOT EXISTS covers the few answered beyond the stored position
/// (answers may come back out of order).
pub(super) async fn pending(
    c: &impl GenericClient,
    bin: Uuid,
    name: &str,
    after: i64,
    limit: usize,
) -> Result<Vec<CapturedRequest>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    c.query(
        &format!(
            "SELECT {} FROM requests r
             WHERE bin_id = $1 AND id > $2 AND NOT EXISTS
               (SELECT 1 FROM deliveries d
                WHERE d.request_id = r.id AND d.tunnel = $3 AND NOT d.replay)
             ORDER BY id LIMIT $4",
            request_columns("body")
        ),
        &[&bin, &after, &name, &limit],
    )
    .await?
    .iter()
    .map(request_row)
    .collect()
}

/// Stores one tunnel's deliveries and moves its position forward to the
/// highest `through` given (never back); `c` is a transaction.
pub(super) async fn record_deliveries(
    c: &impl GenericClient,
    bin: Uuid,
    records: &[(i64, Delivery, Option<i64>)],
) -> Result<(), StoreError> {
    let insert = c
        .prepare(
            "INSERT INTO deliveries
               (request_id, tunnel, replay, status, headers, body, latency_ms, delivered_at, error)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
             WHERE EXISTS (SELECT 1 FROM requests WHERE id = $1)
             ON CONFLICT (request_id, tunnel) WHERE NOT replay DO NOTHING",
        )
        .await?;
    for (request_id, d, _) in records {
        c.execute(
            &insert,
            &[
                request_id,
                &d.tunnel,
                &d.replay,
                &d.status.map(i32::from),
                &to_json(&d.headers)?,
                &&d.body[..],
                &d.latency_ms,
                &d.delivered_at,
                &d.error,
            ],
        )
        .await?;
    }
    let through = records.iter().filter_map(|(_, _, t)| *t).max();
    if let (Some(through), Some((_, d, _))) = (through, records.first()) {
        c.execute(
            "UPDATE tunnels SET delivered_through = GREATEST(delivered_through, $3)
             WHERE bin_id = $1 AND name = $2",
            &[&bin, &d.tunnel, &through],
        )
        .await?;
    }
    Ok(())
}
