//! The SQL of the PostgreSQL backend: row mapping and every statement but
//! the capture insert (writer.rs).

use std::collections::HashMap;

use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, Row};
use uuid::Uuid;

use crate::core::model::{Bin, CapturedRequest, Delivery, NewRequest, ResponseConfig};
use crate::core::time::Millis;
use crate::core::verify::{Secrets, Signature};
use crate::server::store::{
    Cursor, ListQuery, Page, StoreError, answer_of, from_json as json, like_pattern, to_json,
};

/// A stored integer that must fit a narrower type (a hand-edited row may
/// not).
fn narrow<T: TryFrom<i64>>(v: i64) -> Result<T, StoreError> {
    T::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} is out of range")))
}

const BIN_COLUMNS: &str = "id, created_at, response_status, response_headers, response_body, \
                           response_delay_ms, secrets, alias, rules, schemas";

fn bin_row(r: &Row) -> Result<Bin, StoreError> {
    Ok(Bin {
        id: r.get(0),
        created_at: r.get(1),
        response: ResponseConfig {
            status: narrow(i64::from(r.get::<_, i32>(2)))?,
            headers: json(r.get(3))?,
            body: r.get(4),
            delay_ms: narrow(r.get(5))?,
        },
        secrets: json(r.get(6))?,
        alias: r.get(7),
        rules: json(r.get(8))?,
        schemas: json(r.get(9))?,
    })
}

pub(super) async fn insert_bin(c: &impl GenericClient, bin: &Bin) -> Result<(), StoreError> {
    let resp = &bin.response;
    c.execute(
        &format!(
            "INSERT INTO bins ({BIN_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        ),
        &[
            &bin.id,
            &bin.created_at,
            &i32::from(resp.status),
            &to_json(&resp.headers)?,
            &resp.body,
            &i64::try_from(resp.delay_ms).unwrap_or(i64::MAX),
            &to_json(&bin.secrets)?,
            &bin.alias,
            &to_json(&bin.rules)?,
            &to_json(&bin.schemas)?,
        ],
    )
    .await
    .map_err(alias_taken)?;
    Ok(())
}

/// A unique violation on `bins.alias` as [`StoreError::AliasTaken`].
fn alias_taken(e: tokio_postgres::Error) -> StoreError {
    if e.as_db_error().is_some_and(|d| {
        d.code() == &tokio_postgres::error::SqlState::UNIQUE_VIOLATION
            && d.constraint() == Some("bins_by_alias")
    }) {
        StoreError::AliasTaken
    } else {
        e.into()
    }
}

/// Sets or clears a bin's alias; false when the bin does not exist.
pub(super) async fn update_alias(
    c: &impl GenericClient,
    id: Uuid,
    alias: Option<&str>,
) -> Result<bool, StoreError> {
    let n = c
        .execute("UPDATE bins SET alias = $2 WHERE id = $1", &[&id, &alias])
        .await
        .map_err(alias_taken)?;
    Ok(n > 0)
}

/// Replaces a bin's response rules; false when the bin does not exist.
pub(super) async fn update_rules(
    c: &impl GenericClient,
    id: Uuid,
    rules: &[crate::core::model::RuleConfig],
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE bins SET rules = $2 WHERE id = $1",
            &[&id, &to_json(&rules)?],
        )
        .await?;
    Ok(n > 0)
}

/// The bin an alias names, if any.
pub(super) async fn bin_by_alias(
    c: &impl GenericClient,
    alias: &str,
) -> Result<Option<Uuid>, StoreError> {
    Ok(
        c.query_opt("SELECT id FROM bins WHERE alias = $1", &[&alias])
            .await?
            .map(|r| r.get(0)),
    )
}

pub(super) async fn update_response(
    c: &impl GenericClient,
    id: Uuid,
    resp: &ResponseConfig,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE bins SET response_status = $2, response_headers = $3,
                 response_body = $4, response_delay_ms = $5 WHERE id = $1",
            &[
                &id,
                &i32::from(resp.status),
                &to_json(&resp.headers)?,
                &resp.body,
                &i64::try_from(resp.delay_ms).unwrap_or(i64::MAX),
            ],
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn update_secrets(
    c: &impl GenericClient,
    id: Uuid,
    secrets: &Secrets,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE bins SET secrets = $2 WHERE id = $1",
            &[&id, &to_json(secrets)?],
        )
        .await?;
    Ok(n > 0)
}

pub(super) async fn bin(c: &impl GenericClient, id: Uuid) -> Result<Option<Bin>, StoreError> {
    c.query_opt(
        &format!("SELECT {BIN_COLUMNS} FROM bins WHERE id = $1"),
        &[&id],
    )
    .await?
    .as_ref()
    .map(bin_row)
    .transpose()
}

pub(super) async fn recent_bins(
    c: &impl GenericClient,
    limit: usize,
) -> Result<Vec<(Bin, u64)>, StoreError> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    c.query(
        &format!("SELECT {BIN_COLUMNS}, request_count FROM bins ORDER BY created_at DESC LIMIT $1"),
        &[&limit],
    )
    .await?
    .iter()
    .map(|r| Ok((bin_row(r)?, narrow(r.get(10))?)))
    .collect()
}

/// The columns [`request_row`] reads, in order (`{body}`: the body or an
/// empty one).
pub(super) fn request_columns(body: &str) -> String {
    format!(
        "id, bin_id, received_at, method, path, query, headers, remote_addr, {body}, signature, \
         retry_key, rule, response_status, response_by, response_name, schema, octet_length(body)"
    )
}

pub(super) fn request_row(r: &Row) -> Result<CapturedRequest, StoreError> {
    let signature: Option<String> = r.get(9);
    let schema: Option<String> = r.get(15);
    Ok(CapturedRequest {
        id: r.get(0),
        req: NewRequest {
            bin_id: r.get(1),
            received_at: r.get(2),
            method: r.get(3),
            path: r.get(4),
            query: r.get(5),
            headers: json(r.get(6))?,
            remote_addr: r.get(7),
            body: r.get::<_, Vec<u8>>(8).into(),
            signature: signature.as_deref().map(json::<Signature>).transpose()?,
            schema: schema.as_deref().map(json).transpose()?,
            retry_key: r.get(10),
            rule: r.get(11),
            answer: answer_of(r.get(12), r.get(13), r.get(14))?,
        },
        deliveries: Vec::new(),
    })
}

/// A page of a bin's requests. Search is `ILIKE` over `search_doc`, which
/// the trigram index answers for text of 3+ characters.
pub(super) async fn list(c: &impl GenericClient, q: &ListQuery) -> Result<Page, StoreError> {
    let columns = request_columns(if q.with_bodies { "body" } else { "''::bytea" });
    let mut sql = format!("SELECT {columns} FROM requests WHERE bin_id = $1");
    let limit = i64::try_from(q.limit + 1).unwrap_or(i64::MAX);
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&q.bin, &limit];
    let (cursor, order) = match q.cursor {
        Cursor::Newest => (None, "DESC"),
        Cursor::Before(id) => (Some(("<", id)), "DESC"),
        Cursor::After(id) => (Some((">", id)), "ASC"),
    };
    let cursor_id = cursor.map(|(_, id)| id);
    if let (Some((op, _)), Some(id)) = (cursor, &cursor_id) {
        params.push(id);
        sql.push_str(&format!(" AND id {op} ${}", params.len()));
    }
    let pattern = q.search.as_deref().map(like_pattern);
    if let Some(p) = &pattern {
        params.push(p);
        sql.push_str(&format!(" AND search_doc ILIKE ${}", params.len()));
    }
    if let Some(m) = &q.method {
        params.push(m);
        sql.push_str(&format!(" AND method = ${}", params.len()));
    }
    let valid = q.schema.map(|v| if v { "true" } else { "false" });
    if let Some(v) = &valid {
        params.push(v);
        sql.push_str(&format!(" AND schema::jsonb->>'valid' = ${}", params.len()));
    }
    sql.push_str(&format!(" ORDER BY id {order} LIMIT $2"));
    let rows = c.query(&sql, &params).await?;
    let mut requests = Vec::with_capacity(rows.len().min(q.limit));
    let mut body_sizes = Vec::with_capacity(rows.len().min(q.limit));
    for row in rows.iter().take(q.limit) {
        requests.push(request_row(row)?);
        body_sizes.push(narrow(i64::from(row.get::<_, i32>(16)))?);
    }
    let next = (rows.len() > q.limit)
        .then(|| requests.last().map(|r: &CapturedRequest| r.id))
        .flatten();
    Ok(Page {
        requests,
        body_sizes,
        next,
    })
}

pub(super) async fn request(
    c: &impl GenericClient,
    bin: Uuid,
    id: i64,
) -> Result<Option<CapturedRequest>, StoreError> {
    let row = c
        .query_opt(
            &format!(
                "SELECT {} FROM requests WHERE bin_id = $1 AND id = $2",
                request_columns("body")
            ),
            &[&bin, &id],
        )
        .await?;
    let Some(row) = row else { return Ok(None) };
    let mut one = [request_row(&row)?];
    attach_deliveries(c, &mut one).await?;
    let [r] = one;
    Ok(Some(r))
}

pub(super) async fn count(c: &impl GenericClient, bin: Uuid) -> Result<u64, StoreError> {
    let n: Option<i64> = c
        .query_opt("SELECT request_count FROM bins WHERE id = $1", &[&bin])
        .await?
        .map(|r| r.get(0));
    narrow(n.unwrap_or(0))
}

/// How many of a bin's requests carry each idempotency key.
pub(super) async fn retry_counts(
    c: &impl GenericClient,
    bin: Uuid,
) -> Result<Vec<(String, u64)>, StoreError> {
    c.query(
        "SELECT retry_key, COUNT(*) FROM requests
         WHERE bin_id = $1 AND retry_key IS NOT NULL GROUP BY retry_key",
        &[&bin],
    )
    .await?
    .iter()
    .map(|r| Ok((r.get(0), narrow(r.get(1))?)))
    .collect()
}

pub(super) async fn attempts(
    c: &impl GenericClient,
    bin: Uuid,
    key: &str,
) -> Result<Vec<(i64, Millis)>, StoreError> {
    Ok(c.query(
        "SELECT id, received_at FROM requests WHERE bin_id = $1 AND retry_key = $2
             ORDER BY id LIMIT 1000",
        &[&bin, &key],
    )
    .await?
    .iter()
    .map(|r| (r.get(0), r.get(1)))
    .collect())
}

/// The oldest `batch` requests; those received before `cutoff` (ids grow
/// with arrival time, so it stops at the first newer one) are deleted.
pub(super) async fn purge_before(
    c: &impl GenericClient,
    cutoff: Millis,
    batch: usize,
) -> Result<usize, StoreError> {
    let batch = i64::try_from(batch).unwrap_or(i64::MAX);
    let rows = c
        .query(
            "SELECT id, received_at FROM requests ORDER BY id LIMIT $1",
            &[&batch],
        )
        .await?;
    let last = rows
        .iter()
        .take_while(|r| r.get::<_, Millis>(1) < cutoff)
        .last()
        .map(|r| r.get::<_, i64>(0));
    let Some(last) = last else { return Ok(0) };
    let n = c
        .execute("DELETE FROM requests WHERE id <= $1", &[&last])
        .await?;
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Fills in the deliveries of `requests`, oldest first.
pub(super) async fn attach_deliveries(
    c: &impl GenericClient,
    requests: &mut [CapturedRequest],
) -> Result<(), StoreError> {
    if requests.is_empty() {
        return Ok(());
    }
    let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let rows = c
        .query(
            "SELECT request_id, tunnel, replay, status, latency_ms, headers, body, delivered_at,
                    error, target, skipped
             FROM deliveries WHERE request_id = ANY($1) ORDER BY id",
            &[&ids],
        )
        .await?;
    let mut by_request: HashMap<i64, Vec<Delivery>> = HashMap::new();
    for r in &rows {
        let status: Option<i32> = r.get(3);
        let delivery = Delivery {
            tunnel: r.get(1),
            target: r.get(9),
            skipped: r.get(10),
            replay: r.get(2),
            status: status.map(|s| narrow(i64::from(s))).transpose()?,
            latency_ms: r.get(4),
            headers: json(r.get(5))?,
            body: r.get::<_, Vec<u8>>(6).into(),
            delivered_at: r.get(7),
            error: r.get(8),
        };
        by_request.entry(r.get(0)).or_default().push(delivery);
    }
    for r in requests {
        r.deliveries = by_request.remove(&r.id).unwrap_or_default();
    }
    Ok(())
}

/// What search looks in: method, path, query, headers (as stored) and the
/// body's first 64 KiB as text, as the SQLite index does. PostgreSQL text
/// cannot hold NUL, so those become spaces.
pub(super) fn search_doc(r: &NewRequest, headers_json: &str) -> String {
    search_doc_of(&r.method, &r.path, &r.query, headers_json, &r.body)
}

/// [`search_doc`] from the stored columns (`hookwire migrate`).
pub(crate) fn search_doc_of(
    method: &str,
    path: &str,
    query: &str,
    headers_json: &str,
    body: &[u8],
) -> String {
    let body = &body[..body.len().min(64 * 1024)];
    let mut doc = format!(
        "{method} {path} {query} {headers_json} {}",
        String::from_utf8_lossy(body)
    );
    if doc.contains('\0') {
        doc = doc.replace('\0', " ");
    }
    doc
}
