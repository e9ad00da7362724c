//! The SQL of a team instance: tokens (hashes only) and the audit log.

use rusqlite::{Connection, params};

use crate::core::scope::Scope;
use crate::core::time::Millis;
use crate::server::store::{AuditRecord, StoreError, TokenRow};

/// Stores a new token; false when the name is taken.
pub(super) fn insert_token(c: &Connection, t: &TokenRow) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "INSERT INTO tokens (name, scope, hash, session_hash, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (name) DO NOTHING",
        )?
        .execute(params![
            t.name,
            t.scope.as_str(),
            t.hash,
            t.session_hash,
            t.created_at
        ])?;
    Ok(n > 0)
}

pub(super) fn tokens(c: &Connection) -> Result<Vec<TokenRow>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT name, scope, hash, session_hash, created_at, last_used_at
         FROM tokens ORDER BY name",
    )?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, scope, hash, session_hash, created_at, last_used_at) = row?;
        let scope = Scope::parse(&scope)
            .ok_or_else(|| StoreError::Corrupt(format!("token {name}: scope {scope:?}")))?;
        out.push(TokenRow {
            name,
            scope,
            hash,
            session_hash,
            created_at,
            last_used_at,
        });
    }
    Ok(out)
}

pub(super) fn delete_token(c: &Connection, name: &str) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached("DELETE FROM tokens WHERE name = ?1")?
        .execute([name])?;
    Ok(n > 0)
}

pub(super) fn touch_tokens(c: &Connection, used: &[(String, Millis)]) -> Result<(), StoreError> {
    let mut stmt = c.prepare_cached(
        "UPDATE tokens SET last_used_at = max(coalesce(last_used_at, 0), ?2) WHERE name = ?1",
    )?;
    for (name, at) in used {
        stmt.execute(params![name, at])?;
    }
    Ok(())
}

pub(super) fn insert_audit(c: &Connection, e: &AuditRecord) -> Result<(), StoreError> {
    c.prepare_cached(
        "INSERT INTO audit (at, who, via, address, action, target) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![e.at, e.who, e.via, e.address, e.action, e.target])?;
    Ok(())
}

pub(super) fn audit(
    c: &Connection,
    before: Option<i64>,
    limit: usize,
) -> Result<Vec<AuditRecord>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, at, who, via, address, action, target FROM audit
         WHERE id < ?1 ORDER BY id DESC LIMIT ?2",
    )?;
    let rows = stmt.query_map(
        params![
            before.unwrap_or(i64::MAX),
            i64::try_from(limit).unwrap_or(i64::MAX)
        ],
        |r| {
            Ok(AuditRecord {
                id: r.get(0)?,
                at: r.get(1)?,
                who: r.get(2)?,
                via: r.get(3)?,
                address: r.get(4)?,
                action: r.get(5)?,
                target: r.get(6)?,
            })
        },
    )?;
    Ok(rows.collect::<Result<_, _>>()?)
}
