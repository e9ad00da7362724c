//! The SQL of a team instance on PostgreSQL: tokens (hashes only) and the
//! audit log.

use tokio_postgres::GenericClient;

use crate::core::scope::Scope;
use crate::core::time::Millis;
use crate::server::store::{AuditRecord, StoreError, TokenRow};

/// Stores a new token; false when the name is taken.
pub(super) async fn insert_token(c: &impl GenericClient, t: &TokenRow) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "INSERT INTO tokens (name, scope, hash, session_hash, created_at)
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (name) DO NOTHING",
            &[
                &t.name,
                &t.scope.as_str(),
                &t.hash,
                &t.session_hash,
                &t.created_at,
            ],
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn tokens(c: &impl GenericClient) -> Result<Vec<TokenRow>, StoreError> {
    let rows = c
        .query(
            "SELECT name, scope, hash, session_hash, created_at, last_used_at
             FROM tokens ORDER BY name",
            &[],
        )
        .await?;
    rows.iter()
        .map(|r| {
            let name: String = r.get(0);
            let scope: String = r.get(1);
            let scope = Scope::parse(&scope)
                .ok_or_else(|| StoreError::Corrupt(format!("token {name}: scope {scope:?}")))?;
            Ok(TokenRow {
                name,
                scope,
                hash: r.get(2),
                session_hash: r.get(3),
                created_at: r.get(4),
                last_used_at: r.get(5),
            })
        })
        .collect()
}

pub(super) async fn delete_token(c: &impl GenericClient, name: &str) -> Result<bool, StoreError> {
    Ok(c.execute("DELETE FROM tokens WHERE name = $1", &[&name])
        .await?
        > 0)
}

pub(super) async fn touch_tokens(
    c: &impl GenericClient,
    used: &[(String, Millis)],
) -> Result<(), StoreError> {
    for (name, at) in used {
        c.execute(
            "UPDATE tokens SET last_used_at = GREATEST(coalesce(last_used_at, 0), $2)
             WHERE name = $1",
            &[name, at],
        )
        .await?;
    }
    Ok(())
}

pub(super) async fn insert_audit(
    c: &impl GenericClient,
    e: &AuditRecord,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO audit (at, who, via, address, action, target) VALUES ($1, $2, $3, $4, $5, $6)",
        &[&e.at, &e.who, &e.via, &e.address, &e.action, &e.target],
    )
    .await?;
    Ok(())
}

pub(super) async fn audit(
    c: &impl GenericClient,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows = c
        .query(
            "SELECT id, at, who, via, address, action, target FROM audit
             WHERE id < $1 ORDER BY id DESC LIMIT $2",
            &[&before.unwrap_or(i64::MAX), &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| AuditRecord {
            id: r.get(0),
            at: r.get(1),
            who: r.get(2),
            via: r.get(3),
            address: r.get(4),
            action: r.get(5),
            target: r.get(6),
        })
        .collect())
}
