//! Row mapping of the SQLite backend: the columns of a bin, a request and
//! a delivery, and how a row of each becomes the model. Both [`queries`]
//! and [`tunnels`] read through it; it uses neither.
//!
//! [`queries`]: super::queries
//! [`tunnels`]: super::tunnels

use std::collections::HashMap;

use rusqlite::{Connection, Row};
use uuid::Uuid;

use crate::core::headers::Header;
use crate::core::model::{Bin, CapturedRequest, Delivery, NewRequest, ResponseConfig};
use crate::server::store::{StoreError, answer_of, from_json as json};

/// A stored id.
pub(super) fn uuid(text: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(text).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The columns [`bin_row`] reads, in order.
pub(super) const BIN_COLUMNS: &str = "id, created_at, response_status, response_headers, response_body, \
                           response_delay_ms, secrets, alias, rules, schemas";

/// A bin, from a row of [`BIN_COLUMNS`].
pub(super) fn bin_row(r: &Row<'_>) -> Result<Bin, StoreError> {
    let id: String = r.get(0)?;
    let headers: String = r.get(3)?;
    Ok(Bin {
        id: uuid(&id)?,
        created_at: r.get(1)?,
        response: ResponseConfig {
            status: r.get(2)?,
            headers: json(&headers)?,
            body: r.get(4)?,
            delay_ms: r.get(5)?,
        },
        secrets: json(&r.get::<_, String>(6)?)?,
        alias: r.get(7)?,
        rules: json(&r.get::<_, String>(8)?)?,
        schemas: json(&r.get::<_, String>(9)?)?,
    })
}

/// The columns [`request_row`] reads, in order.
pub(super) const REQUEST_COLUMNS: &str = "id, bin_id, received_at, method, path, query, headers, remote_addr, body, signature, retry_key, rule, response_status, response_by, response_name, schema";

/// A request (its deliveries left empty), from a row of
/// [`REQUEST_COLUMNS`].
pub(super) fn request_row(r: &Row<'_>) -> Result<CapturedRequest, StoreError> {
    let bin: String = r.get(1)?;
    let headers: String = r.get(6)?;
    let body: Vec<u8> = r.get(8)?;
    let signature: Option<String> = r.get(9)?;
    let retry_key: Option<String> = r.get(10)?;
    let answered_by: Option<String> = r.get(13)?;
    let schema: Option<String> = r.get(15)?;
    Ok(CapturedRequest {
        id: r.get(0)?,
        req: NewRequest {
            bin_id: uuid(&bin)?,
            received_at: r.get(2)?,
            method: r.get(3)?,
            path: r.get(4)?,
            query: r.get(5)?,
            headers: json::<Vec<Header>>(&headers)?,
            remote_addr: r.get(7)?,
            body: body.into(),
            signature: signature.as_deref().map(json).transpose()?,
            schema: schema.as_deref().map(json).transpose()?,
            retry_key,
            rule: r.get(11)?,
            answer: answer_of(r.get(12)?, answered_by.as_deref(), r.get(14)?)?,
        },
        deliveries: Vec::new(),
    })
}

/// A delivery and its request's id, from a row of [`attach_deliveries`]'s
/// query.
fn delivery_row(r: &Row<'_>) -> Result<(i64, Delivery), StoreError> {
    let headers: String = r.get(5)?;
    let body: Vec<u8> = r.get(6)?;
    Ok((
        r.get(0)?,
        Delivery {
            tunnel: r.get(1)?,
            target: r.get(9)?,
            skipped: r.get(10)?,
            replay: r.get(2)?,
            status: r.get(3)?,
            latency_ms: r.get(4)?,
            headers: json::<Vec<Header>>(&headers)?,
            body: body.into(),
            delivered_at: r.get(7)?,
            error: r.get(8)?,
        },
    ))
}

/// Fills in the deliveries of `requests`, oldest first.
pub(super) fn attach_deliveries(
    c: &Connection,
    requests: &mut [CapturedRequest],
) -> Result<(), StoreError> {
    if requests.is_empty() {
        return Ok(());
    }
    let placeholders = vec!["?"; requests.len()].join(",");
    let mut stmt = c.prepare_cached(&format!(
        "SELECT request_id, tunnel, replay, status, latency_ms, headers, body, delivered_at, error,
                target, skipped
         FROM deliveries WHERE request_id IN ({placeholders}) ORDER BY id"
    ))?;
    let ids: Vec<i64> = requests.iter().map(|r| r.id).collect();
    let mut rows = stmt.query(rusqlite::params_from_iter(&ids))?;
    let mut by_request: HashMap<i64, Vec<Delivery>> = HashMap::new();
    while let Some(row) = rows.next()? {
        let (id, d) = delivery_row(row)?;
        by_request.entry(id).or_default().push(d);
    }
    for r in requests {
        r.deliveries = by_request.remove(&r.id).unwrap_or_default();
    }
    Ok(())
}
