//! The SQL of bins and requests: every statement but the capture insert
//! (the writer's) and the tunnels' (see [`tunnels`](super::tunnels)).
//! Rows are read through [`rows`](super::rows).

use rusqlite::{Connection, OptionalExtension, params};
use uuid::Uuid;

use crate::core::model::{Bin, CapturedRequest, ResponseConfig};
use crate::core::time::Millis;
use crate::server::store::sqlite::rows::{
    BIN_COLUMNS, REQUEST_COLUMNS, attach_deliveries, bin_row, request_row, uuid,
};
use crate::server::store::{
    Cursor, ListQuery, Page, StoreError, answer_columns, like_pattern, to_json,
};

pub(super) fn insert_bin(c: &Connection, bin: &Bin) -> Result<(), StoreError> {
    let resp = &bin.response;
    c.prepare_cached(&format!(
        "INSERT INTO bins ({BIN_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
    ))?
    .execute(params![
        bin.id.hyphenated().to_string(),
        bin.created_at,
        resp.status,
        to_json(&resp.headers)?,
        resp.body,
        resp.delay_ms,
        to_json(&bin.secrets)?,
        bin.alias,
        to_json(&bin.rules)?,
        to_json(&bin.schemas)?
    ])
    .map_err(alias_taken)?;
    Ok(())
}

/// A unique-constraint failure on `bins.alias` as [`StoreError::AliasTaken`].
fn alias_taken(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::SqliteFailure(f, Some(msg))
            if f.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
                && msg.contains("bins.alias") =>
        {
            StoreError::AliasTaken
        }
        _ => e.into(),
    }
}

/// Sets or clears a bin's alias; false when the bin does not exist.
pub(super) fn update_alias(
    c: &Connection,
    id: Uuid,
    alias: Option<&str>,
) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached("UPDATE bins SET alias = ?2 WHERE id = ?1")?
        .execute(params![id.hyphenated().to_string(), alias])
        .map_err(alias_taken)?;
    Ok(n > 0)
}

/// Replaces a bin's response rules; false when the bin does not exist.
pub(super) fn update_rules(
    c: &Connection,
    id: Uuid,
    rules: &[crate::core::model::RuleConfig],
) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached("UPDATE bins SET rules = ?2 WHERE id = ?1")?
        .execute(params![id.hyphenated().to_string(), to_json(&rules)?])?;
    Ok(n > 0)
}

/// The bin an alias names, if any.
pub(super) fn bin_by_alias(c: &Connection, alias: &str) -> Result<Option<Uuid>, StoreError> {
    let id: Option<String> = c
        .prepare_cached("SELECT id FROM bins WHERE alias = ?1")?
        .query_row([alias], |r| r.get(0))
        .optional()?;
    id.as_deref().map(uuid).transpose()
}

pub(super) fn update_response(
    c: &Connection,
    id: Uuid,
    resp: &ResponseConfig,
) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(
            "UPDATE bins SET response_status = ?2, response_headers = ?3,
                 response_body = ?4, response_delay_ms = ?5 WHERE id = ?1",
        )?
        .execute(params![
            id.hyphenated().to_string(),
            resp.status,
            to_json(&resp.headers)?,
            resp.body,
            resp.delay_ms
        ])?;
    Ok(n > 0)
}

/// Index pages merged per indexer batch.
const MERGE_PAGES: i64 = 64;

/// The indexer's step: removes up to `batch` deleted requests from the
/// search index, or when none wait, indexes up to `batch` requests past its
/// position. Returns how many (0 once caught up).
pub(super) fn index_batch(c: &Connection, batch: usize) -> Result<usize, StoreError> {
    // Entries of deleted requests first: they only cost space until then.
    let queued: Vec<i64> = c
        .prepare_cached("SELECT id FROM fts_deleted ORDER BY id LIMIT ?1")?
        .query_map([batch], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if let Some(&last) = queued.last() {
        let mut remove = c.prepare_cached("DELETE FROM requests_fts WHERE rowid = ?1")?;
        for id in &queued {
            remove.execute([id])?;
        }
        c.prepare_cached("DELETE FROM fts_deleted WHERE id <= ?1")?
            .execute([last])?;
        return Ok(queued.len());
    }
    let through: i64 = c
        .prepare_cached("SELECT indexed_through FROM fts_state")?
        .query_row([], |r| r.get(0))?;
    let last: Option<i64> = c
        .prepare_cached(
            "SELECT MAX(id) FROM (SELECT id FROM requests WHERE id > ?1 ORDER BY id LIMIT ?2)",
        )?
        .query_row(params![through, batch], |r| r.get(0))?;
    let Some(last) = last else { return Ok(0) };
    // Bodies are indexed up to 64 KiB: enough to find a webhook by content
    // without making the index as large as the bodies.
    let n = c
        .prepare_cached(
            "INSERT INTO requests_fts (rowid, doc)
             SELECT id, method || ' ' || path || ' ' || query || ' ' || headers || ' '
                        || CAST(substr(body, 1, 65536) AS TEXT)
             FROM requests WHERE id > ?1 AND id <= ?2",
        )?
        .execute(params![through, last])?;
    c.prepare_cached("UPDATE fts_state SET indexed_through = ?1")?
        .execute([last])?;
    // A bounded share of merge work per batch (automerge is off): about a
    // batch's worth of pages, so no single job grows long.
    c.prepare_cached("INSERT INTO requests_fts (requests_fts, rank) VALUES ('merge', ?1)")?
        .execute([MERGE_PAGES])?;
    Ok(n)
}

/// How many of a bin's requests carry each idempotency key.
pub(super) fn retry_counts(c: &Connection, bin: Uuid) -> Result<Vec<(String, u64)>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT retry_key, COUNT(*) FROM requests
         WHERE bin_id = ?1 AND retry_key IS NOT NULL GROUP BY retry_key",
    )?;
    let rows = stmt.query_map([bin.hyphenated().to_string()], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Every request of a bin with this idempotency key: (id, arrival), oldest
/// first.
pub(super) fn attempts(
    c: &Connection,
    bin: Uuid,
    key: &str,
) -> Result<Vec<(i64, Millis)>, StoreError> {
    let mut stmt = c.prepare_cached(
        "SELECT id, received_at FROM requests WHERE bin_id = ?1 AND retry_key = ?2 ORDER BY id LIMIT 1000",
    )?;
    let rows = stmt.query_map(params![bin.hyphenated().to_string(), key], |r| {
        Ok((r.get(0)?, r.get(1)?))
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

pub(super) fn update_secrets(
    c: &Connection,
    id: Uuid,
    secrets: &crate::core::verify::Secrets,
) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached("UPDATE bins SET secrets = ?2 WHERE id = ?1")?
        .execute(params![id.hyphenated().to_string(), to_json(secrets)?])?;
    Ok(n > 0)
}

/// Sets a bin's JSON column `column` (a constant of ours, never user
/// text); false when the bin does not exist.
pub(super) fn update_json_column<T: serde::Serialize>(
    c: &Connection,
    id: Uuid,
    column: &'static str,
    value: &T,
) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached(&format!("UPDATE bins SET {column} = ?2 WHERE id = ?1"))?
        .execute(params![id.hyphenated().to_string(), to_json(value)?])?;
    Ok(n > 0)
}

/// Stores re-checked schema verdicts.
pub(super) fn update_verdicts(
    c: &Connection,
    checked: &[(i64, Option<crate::core::payload_schema::SchemaVerdict>)],
) -> Result<(), StoreError> {
    let mut stmt = c.prepare_cached("UPDATE requests SET schema = ?2 WHERE id = ?1")?;
    for (id, v) in checked {
        stmt.execute(params![id, v.as_ref().map(to_json).transpose()?])?;
    }
    Ok(())
}

/// Stores re-checked signatures.
pub(super) fn update_signatures(
    c: &Connection,
    checked: &[(i64, Option<crate::core::verify::Signature>)],
) -> Result<(), StoreError> {
    let mut stmt = c.prepare_cached("UPDATE requests SET signature = ?2 WHERE id = ?1")?;
    for (id, sig) in checked {
        let sig = sig.as_ref().map(to_json).transpose()?;
        stmt.execute(params![id, sig])?;
    }
    Ok(())
}

pub(super) fn update_answer(
    c: &Connection,
    id: i64,
    answer: &crate::core::model::Answer,
) -> Result<(), StoreError> {
    let (status, by, name) = answer_columns(Some(answer));
    c.prepare_cached(
        "UPDATE requests SET response_status = ?2, response_by = ?3, response_name = ?4
         WHERE id = ?1",
    )?
    .execute(params![id, status, by, name])?;
    Ok(())
}

pub(super) fn delete_bin(c: &Connection, id: Uuid) -> Result<bool, StoreError> {
    let n = c
        .prepare_cached("DELETE FROM bins WHERE id = ?1")?
        .execute([id.hyphenated().to_string()])?;
    Ok(n > 0)
}

pub(super) fn delete_requests(
    c: &Connection,
    bin: Uuid,
    id: Option<i64>,
) -> Result<usize, StoreError> {
    let bin = bin.hyphenated().to_string();
    Ok(match id {
        Some(id) => c
            .prepare_cached("DELETE FROM requests WHERE bin_id = ?1 AND id = ?2")?
            .execute(params![bin, id])?,
        None => c
            .prepare_cached("DELETE FROM requests WHERE bin_id = ?1")?
            .execute([bin])?,
    })
}

/// Deletes up to `batch` of the oldest requests received before `cutoff`.
/// Ids grow with arrival time, so it walks from the oldest id and stops at
/// the first newer request: no index on the time is needed, and a purge
/// with nothing to do reads one row.
pub(super) fn purge_before(
    c: &Connection,
    cutoff: Millis,
    batch: usize,
) -> Result<usize, StoreError> {
    let mut stmt = c.prepare_cached("SELECT id, received_at FROM requests ORDER BY id LIMIT ?1")?;
    let mut rows = stmt.query([batch])?;
    let mut last = None;
    while let Some(row) = rows.next()? {
        if row.get::<_, Millis>(1)? >= cutoff {
            break;
        }
        last = Some(row.get::<_, i64>(0)?);
    }
    drop(rows);
    let Some(last) = last else { return Ok(0) };
    Ok(c.prepare_cached("DELETE FROM requests WHERE id <= ?1")?
        .execute([last])?)
}

pub(super) fn bin(c: &Connection, id: Uuid) -> Result<Option<Bin>, StoreError> {
    c.prepare_cached(&format!("SELECT {BIN_COLUMNS} FROM bins WHERE id = ?1"))?
        .query_row([id.hyphenated().to_string()], |r| Ok(bin_row(r)))
        .optional()?
        .transpose()
}

pub(super) fn recent_bins(c: &Connection, limit: usize) -> Result<Vec<(Bin, u64)>, StoreError> {
    let mut stmt = c.prepare_cached(&format!(
        "SELECT {BIN_COLUMNS},
            (SELECT COUNT(*) FROM requests r WHERE r.bin_id = bins.id)
         FROM bins ORDER BY created_at DESC LIMIT ?1"
    ))?;
    let rows = stmt.query_map([limit], |r| Ok(bin_row(r).map(|b| (b, r.get(10)))))?;
    let mut out = Vec::new();
    for row in rows {
        let (bin, count) = row??;
        out.push((bin, count?));
    }
    Ok(out)
}

pub(super) fn count(c: &Connection, bin: Uuid) -> Result<u64, StoreError> {
    Ok(
        c.prepare_cached("SELECT COUNT(*) FROM requests WHERE bin_id = ?1")?
            .query_row([bin.hyphenated().to_string()], |r| r.get(0))?,
    )
}

pub(super) fn list(c: &Connection, q: &ListQuery) -> Result<Page, StoreError> {
    let body = if q.with_bodies { "body" } else { "x''" };
    let (cond, order, cursor) = match q.cursor {
        Cursor::Newest => ("", "DESC", i64::MAX),
        Cursor::Before(id) => ("AND id < ?2", "DESC", id),
        Cursor::After(id) => ("AND id > ?2", "ASC", id),
    };
    // Search: the trigram index for what the indexer has reached (text of
    // 3+ characters), LIKE for the rest. ?5 is the FTS phrase.
    let like = r"(method LIKE ?4 ESCAPE '\' OR path LIKE ?4 ESCAPE '\' OR query LIKE ?4 ESCAPE '\'
              OR headers LIKE ?4 ESCAPE '\' OR CAST(body AS TEXT) LIKE ?4 ESCAPE '\')";
    let phrase = q
        .search
        .as_deref()
        .filter(|t| t.chars().count() >= 3)
        .map(|t| format!("\"{}\"", t.replace('"', "\"\"")));
    let columns = format!(
        "id, bin_id, received_at, method, path, query, headers, remote_addr, {body}, signature,
         retry_key, rule, response_status, response_by, response_name, schema, length(body)"
    );
    let sql = match (&q.search, &phrase) {
        (None, _) => format!(
            "SELECT {columns} FROM requests
             WHERE bin_id = ?1 AND ?2 = ?2 {cond} AND ?4 IS NULL AND ?5 IS NULL
               AND (?6 IS NULL OR method = ?6)
               AND (?7 IS NULL OR json_extract(schema, '$.valid') = ?7)
             ORDER BY id {order} LIMIT ?3"
        ),
        (Some(_), None) => format!(
            "SELECT {columns} FROM requests
             WHERE bin_id = ?1 AND ?2 = ?2 {cond} AND ?5 IS NULL AND {like}
               AND (?6 IS NULL OR method = ?6)
               AND (?7 IS NULL OR json_extract(schema, '$.valid') = ?7)
             ORDER BY id {order} LIMIT ?3"
        ),
        // The index walked in id order, joined to the bin's rows, stops
        // once the page is full: a word in every request costs a page, not
        // a set of every match. Rows it has not reached yet are searched
        // with LIKE; the two parts never share a row.
        (Some(_), Some(_)) => {
            let fts_cond = cond.replace("id", "f.rowid");
            let indexed = format!(
                "r.id, r.bin_id, r.received_at, r.method, r.path, r.query, r.headers,
                 r.remote_addr, {}, r.signature, r.retry_key, r.rule, r.response_status,
                 r.response_by, r.response_name, r.schema, length(r.body)",
                if q.with_bodies { "r.body" } else { "x''" }
            );
            format!(
                "SELECT * FROM (
                   SELECT {indexed} FROM requests_fts f JOIN requests r ON r.id = f.rowid
                   WHERE requests_fts MATCH ?5 AND ?2 = ?2 {fts_cond} AND r.bin_id = ?1
                     AND (?6 IS NULL OR r.method = ?6)
                     AND (?7 IS NULL OR json_extract(r.schema, '$.valid') = ?7)
                   ORDER BY f.rowid {order} LIMIT ?3)
                 UNION ALL
                 SELECT * FROM (
                   SELECT {columns} FROM requests
                   WHERE bin_id = ?1 AND id > (SELECT indexed_through FROM fts_state) {cond}
                     AND {like} AND (?6 IS NULL OR method = ?6)
               AND (?7 IS NULL OR json_extract(schema, '$.valid') = ?7)
                   ORDER BY id {order} LIMIT ?3)
                 ORDER BY id {order} LIMIT ?3"
            )
        }
    };
    let pattern = q.search.as_deref().map(like_pattern);
    let mut stmt = c.prepare_cached(&sql)?;
    let mut rows = stmt.query(params![
        q.bin.hyphenated().to_string(),
        cursor,
        q.limit + 1,
        pattern,
        phrase,
        q.method,
        q.schema
    ])?;
    let mut requests = Vec::with_capacity(q.limit.min(1024));
    let mut body_sizes = Vec::with_capacity(q.limit.min(1024));
    while let Some(row) = rows.next()? {
        if requests.len() == q.limit {
            let next = requests.last().map(|r: &CapturedRequest| r.id);
            return Ok(Page {
                requests,
                body_sizes,
                next,
            });
        }
        requests.push(request_row(row)?);
        body_sizes.push(row.get(16)?);
    }
    Ok(Page {
        requests,
        body_sizes,
        next: None,
    })
}

/// [`list`], with each request's deliveries when bodies are wanted too.
pub(super) fn list_full(c: &Connection, q: &ListQuery) -> Result<Page, StoreError> {
    let mut page = list(c, q)?;
    if q.with_bodies {
        attach_deliveries(c, &mut page.requests)?;
    }
    Ok(page)
}

pub(super) fn request(
    c: &Connection,
    bin: Uuid,
    id: i64,
) -> Result<Option<CapturedRequest>, StoreError> {
    let found = c
        .prepare_cached(&format!(
            "SELECT {REQUEST_COLUMNS} FROM requests WHERE bin_id = ?1 AND id = ?2"
        ))?
        .query_row(params![bin.hyphenated().to_string(), id], |r| {
            Ok(request_row(r))
        })
        .optional()?
        .transpose()?;
    let Some(r) = found else { return Ok(None) };
    let mut one = [r];
    attach_deliveries(c, &mut one)?;
    let [r] = one;
    Ok(Some(r))
}

#[cfg(test)]
mod tests {
    use crate::server::store::like_pattern;

    #[test]
    fn like_pattern_escapes_wildcards() {
        assert_eq!(like_pattern("a%b_c\\"), r"%a\%b\_c\\%");
    }
}
