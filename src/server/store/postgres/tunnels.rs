//! SQL of the tunnel on PostgreSQL: each named tunnel's position in its
//! bin, the requests it still has to get, and the deliveries. Positions
//! are safe across replicas because ids become visible in id order (see
//! writer.rs).

use tokio_postgres::GenericClient;
use uuid::Uuid;

use super::queries::{request_columns, request_row};
use crate::core::model::CapturedRequest;
use crate::server::store::{Opened, Record, StoreError, to_json};

/// Registers a tunnel name's targets on its bin (those new) and returns,
/// per target, the id up to which it has everything: a new name starts
/// after the bin's newest request, a new target of a known name where the
/// name's furthest target is, and `from_start` before all of them,
/// rewinding known targets (what they already got is still skipped, see
/// [`pending`]). The name's other targets are forgotten.
pub(super) async fn open_tunnel(
    c: &impl GenericClient,
    bin: Uuid,
    name: &str,
    targets: &[String],
    from_start: bool,
) -> Result<Opened, StoreError> {
    let new_name = !from_start
        && !c
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM tunnels WHERE bin_id = $1 AND name = $2)",
                &[&bin, &name],
            )
            .await?
            .get::<_, bool>(0);
    let sql = if from_start {
        "INSERT INTO tunnels (bin_id, name, target, delivered_through) VALUES ($1, $2, $3, 0)
         ON CONFLICT (bin_id, name, target) DO UPDATE SET delivered_through = 0
         RETURNING delivered_through"
    } else {
        // DO UPDATE (a no-op) so the row comes back either way.
        "INSERT INTO tunnels (bin_id, name, target, delivered_through)
         VALUES ($1, $2, $3, COALESCE(
             (SELECT MAX(delivered_through) FROM tunnels WHERE bin_id = $1 AND name = $2),
             (SELECT COALESCE(MAX(id), 0) FROM requests WHERE bin_id = $1)))
         ON CONFLICT (bin_id, name, target)
         DO UPDATE SET delivered_through = tunnels.delivered_through
         RETURNING delivered_through"
    };
    let mut positions: Vec<i64> = Vec::with_capacity(targets.len());
    for target in targets {
        positions.push(c.query_one(sql, &[&bin, &name, target]).await?.get(0));
    }
    // Deliveries from before targets belong to the name's first target,
    // so what was answered beyond the old position is not sent again.
    if let Some(first) = targets.first().filter(|t| !t.is_empty()) {
        c.execute(
            "UPDATE deliveries SET target = $3 WHERE tunnel = $2 AND target = ''
               AND request_id IN (SELECT id FROM requests WHERE bin_id = $1)
               AND EXISTS (SELECT 1 FROM tunnels WHERE bin_id = $1 AND name = $2 AND target = '')",
            &[&bin, &name, first],
        )
        .await?;
    }
    // Targets the name no longer has (a changed --to, the position from
    // before targets) would count as backlog forever.
    c.execute(
        "DELETE FROM tunnels WHERE bin_id = $1 AND name = $2 AND NOT (target = ANY($3))",
        &[&bin, &name, &targets],
    )
    .await?;
    let skipped: i64 = match positions.iter().max() {
        Some(start) if new_name => c
            .query_one(
                "SELECT COUNT(*) FROM requests WHERE bin_id = $1 AND id <= $2",
                &[&bin, start],
            )
            .await?
            .get(0),
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
pub(super) async fn pending(
    c: &impl GenericClient,
    bin: Uuid,
    (name, target): (&str, &str),
    after: i64,
    limit: usize,
) -> Result<Vec<CapturedRequest>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    c.query(
        &format!(
            "SELECT {} FROM requests r
             WHERE bin_id = $1 AND id > $2 AND NOT EXISTS
               (SELECT 1 FROM deliveries d
                WHERE d.request_id = r.id AND d.tunnel = $3 AND d.target = $5 AND NOT d.replay)
             ORDER BY id LIMIT $4",
            request_columns("body")
        ),
        &[&bin, &after, &name, &limit, &target],
    )
    .await?
    .iter()
    .map(request_row)
    .collect()
}

/// Stores one tunnel's deliveries and moves each target's position forward
/// to the highest `through` given for it (never back); `c` is a
/// transaction.
pub(super) async fn record_deliveries(
    c: &impl GenericClient,
    bin: Uuid,
    name: &str,
    records: &[Record],
) -> Result<(), StoreError> {
    let insert = c
        .prepare(
            "INSERT INTO deliveries (request_id, tunnel, target, skipped, replay, status, headers,
                                     body, latency_ms, delivered_at, error)
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11
             WHERE EXISTS (SELECT 1 FROM requests WHERE id = $1)
             ON CONFLICT (request_id, tunnel, target) WHERE NOT replay DO NOTHING",
        )
        .await?;
    for r in records {
        let Some(d) = &r.delivery else { continue };
        c.execute(
            &insert,
            &[
                &r.request_id,
                &d.tunnel,
                &d.target,
                &d.skipped,
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
    for (target, through) in Record::positions(records) {
        c.execute(
            "UPDATE tunnels SET delivered_through = GREATEST(delivered_through, $4)
             WHERE bin_id = $1 AND name = $2 AND target = $3",
            &[&bin, &name, &target, &through],
        )
        .await?;
    }
    Ok(())
}
