//! Idempotency keys: the same delivery sent more than once by a sender
//! (retries). A request's idempotency key is the sender's own id for the
//! delivery (a header such as `webhook-id`, a Stripe event id, an AI job id
//! with its status); requests with the same key are one delivery tried
//! again. Pure: no I/O.

use std::collections::HashMap;

use serde::Deserialize;

use crate::core::headers::Header;

/// Headers whose value is the sender's id for one delivery, kept the same
/// when it retries, in the order they are looked at.
const ID_HEADERS: [&str; 5] = [
    "webhook-id",
    "svix-id",
    "x-github-delivery",
    "x-shopify-webhook-id",
    // Twilio: the same on each retry of a callback.
    "i-twilio-idempotency-token",
];

/// Top-level JSON fields naming an asynchronous job, in the order they are
/// looked at.
const JOB_FIELDS: [&str; 4] = ["job_id", "run_id", "transcript_id", "request_id"];

/// Values longer than this are not taken for ids.
const MAX_ID_LEN: usize = 256;

/// The top-level fields of a JSON body that can name a delivery; every
/// other field is skipped without being kept.
#[derive(Deserialize)]
struct Top {
    id: Option<serde_json::Value>,
    /// Slack's Events API: the same on each retry of an event.
    event_id: Option<serde_json::Value>,
    job_id: Option<serde_json::Value>,
    run_id: Option<serde_json::Value>,
    transcript_id: Option<serde_json::Value>,
    request_id: Option<serde_json::Value>,
    status: Option<serde_json::Value>,
}

impl Top {
    fn job_field(&self, name: &str) -> Option<&serde_json::Value> {
        match name {
            "job_id" => self.job_id.as_ref(),
            "run_id" => self.run_id.as_ref(),
            "transcript_id" => self.transcript_id.as_ref(),
            "request_id" => self.request_id.as_ref(),
            _ => None,
        }
    }
}

/// The sender's id for the delivery a request carries, prefixed by its
/// kind so ids of different kinds never collide:
///
/// - `webhook-id:…`, `svix-id:…`, `x-github-delivery:…`,
///   `x-shopify-webhook-id:…`, `i-twilio-idempotency-token:…` from those
///   headers (names compared without case; the first present wins, in that
///   order);
/// - `stripe-event:evt_…` from a top-level `"id"` starting with `evt_` in a
///   JSON object body;
/// - `slack-event:Ev…` from a top-level `"event_id"` starting with `Ev`;
/// - `job_id:…`, `run_id:…`, `transcript_id:…` or `request_id:…` from the
///   first of those top-level fields of a JSON object body, followed by
///   ` status:…` when the body has a top-level `status`, so a job's
///   "processing" and "completed" webhooks stay apart.
///
/// Ids are strings or numbers, at most 256 bytes. `None` when the request
/// carries no such id.
pub fn idempotency_key(headers: &[Header], body: &[u8]) -> Option<String> {
    for name in ID_HEADERS {
        let value = headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.trim())
            .find(|v| !v.is_empty() && v.len() <= MAX_ID_LEN);
        if let Some(value) = value {
            return Some(format!("{name}:{value}"));
        }
    }
    body_key(body)
}

/// The key from a JSON object body, if it has one.
fn body_key(body: &[u8]) -> Option<String> {
    let start = body.iter().position(|b| !b.is_ascii_whitespace())?;
    // An object only: a derived struct would also take an array.
    if body[start] != b'{' {
        return None;
    }
    let top: Top = serde_json::from_slice(body).ok()?;
    if let Some(id) = top.id.as_ref().and_then(scalar)
        && id.starts_with("evt_")
    {
        return Some(format!("stripe-event:{id}"));
    }
    if let Some(id) = top.event_id.as_ref().and_then(scalar)
        && id.starts_with("Ev")
    {
        return Some(format!("slack-event:{id}"));
    }
    let (field, id) = JOB_FIELDS
        .into_iter()
        .find_map(|f| Some((f, top.job_field(f).and_then(scalar)?)))?;
    Some(match top.status.as_ref().and_then(scalar) {
        Some(status) => format!("{field}:{id} status:{status}"),
        None => format!("{field}:{id}"),
    })
}

/// A string (trimmed) or a number as its text; nothing else, nothing empty
/// or too long.
fn scalar(value: &serde_json::Value) -> Option<String> {
    let text = match value {
        serde_json::Value::String(s) => s.trim().to_owned(),
        serde_json::Value::Number(n) => n.to_string(),
        _ => return None,
    };
    (!text.is_empty() && text.len() <= MAX_ID_LEN).then_some(text)
}

/// Requests that carry the same idempotency key: one delivery and its
/// retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryGroup {
    /// The key they share, as [`idempotency_key`] made it.
    pub key: String,
    /// The requests' ids in arrival order (2 or more).
    pub ids: Vec<i64>,
    /// Milliseconds between each attempt and the one before it: one fewer
    /// than `ids`.
    pub gaps_ms: Vec<i64>,
}

/// Groups requests given as `(id, received_at_ms, key)` by key, keeping the
/// keys that 2 or more requests share. Each group lists its requests in
/// arrival order (time, then id) with the gaps between them; groups come in
/// the order of their first request.
pub fn group(items: &[(i64, i64, Option<String>)]) -> Vec<RetryGroup> {
    let mut by_key: HashMap<&str, Vec<(i64, i64)>> = HashMap::new();
    for (id, at, key) in items {
        if let Some(key) = key {
            by_key.entry(key.as_str()).or_default().push((*at, *id));
        }
    }
    let mut groups: Vec<(i64, i64, RetryGroup)> = by_key
        .into_iter()
        .filter(|(_, members)| members.len() >= 2)
        .map(|(key, mut members)| {
            members.sort_unstable();
            let gaps_ms = members
                .windows(2)
                .map(|w| w[1].0.saturating_sub(w[0].0))
                .collect();
            let (first_at, first_id) = members[0];
            let group = RetryGroup {
                key: key.to_owned(),
                ids: members.into_iter().map(|(_, id)| id).collect(),
                gaps_ms,
            };
            (first_at, first_id, group)
        })
        .collect();
    groups.sort_unstable_by_key(|(at, id, _)| (*at, *id));
    groups.into_iter().map(|(_, _, g)| g).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn standard_webhooks_retries_share_their_webhook_id() {
        let headers = h(&[
            ("content-type", "application/json"),
            ("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
            ("webhook-timestamp", "1674087231"),
        ]);
        let key = idempotency_key(&headers, br#"{"type":"x"}"#);
        assert_eq!(
            key.as_deref(),
            Some("webhook-id:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W")
        );
        let retry = h(&[
            ("webhook-id", "msg_2KWPBgLlAfxdpx2AI54pPJ85f4W"),
            ("webhook-timestamp", "1674087236"),
        ]);
        let items = vec![
            (1, 1_000, key),
            (2, 6_000, idempotency_key(&retry, br#"{"type":"x"}"#)),
            (3, 7_000, None),
        ];
        assert_eq!(
            group(&items),
            vec![RetryGroup {
                key: "webhook-id:msg_2KWPBgLlAfxdpx2AI54pPJ85f4W".into(),
                ids: vec![1, 2],
                gaps_ms: vec![5_000],
            }]
        );
    }

    #[test]
    fn svix_and_shopify_headers_are_ids_too() {
        assert_eq!(
            idempotency_key(&h(&[("Svix-Id", " msg_1 ")]), b"").as_deref(),
            Some("svix-id:msg_1")
        );
        assert_eq!(
            idempotency_key(&h(&[("x-shopify-webhook-id", "b54557e4")]), b"").as_deref(),
            Some("x-shopify-webhook-id:b54557e4")
        );
    }

    #[test]
    fn twilio_and_slack_retries_are_keyed_too() {
        assert_eq!(
            idempotency_key(&h(&[("I-Twilio-Idempotency-Token", "tok-1")]), b"").as_deref(),
            Some("i-twilio-idempotency-token:tok-1")
        );
        let slack =
            br#"{"type":"event_callback","event_id":"Ev0PV52K25","event":{"type":"app_mention"}}"#;
        assert_eq!(
            idempotency_key(&[], slack).as_deref(),
            Some("slack-event:Ev0PV52K25")
        );
        // Not Slack's shape: no key from an arbitrary event_id.
        assert_eq!(idempotency_key(&[], br#"{"event_id":"123"}"#), None);
    }

    #[test]
    fn github_redelivery_groups() {
        let delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958";
        let first = h(&[
            ("x-github-event", "push"),
            ("x-github-delivery", delivery),
            ("x-github-hook-id", "292430182"),
        ]);
        let key = idempotency_key(&first, br#"{"ref":"refs/heads/main"}"#);
        assert_eq!(key, Some(format!("x-github-delivery:{delivery}")));
        let other = h(&[("x-github-delivery", "d0b2a5d0-0000-0000-0000-000000000000")]);
        let items = vec![
            (10, 100, key.clone()),
            (11, 150, idempotency_key(&other, b"{}")),
            (12, 90_100, key),
        ];
        let groups = group(&items);
        assert_eq!(groups.len(), 1);
        assert_eq!(groups[0].ids, vec![10, 12]);
        assert_eq!(groups[0].gaps_ms, vec![90_000]);
    }

    #[test]
    fn request_ids_and_timestamps_are_not_idempotency_keys() {
        let headers = h(&[
            ("x-request-id", "abc"),
            ("x-slack-request-timestamp", "1531420618"),
            ("x-correlation-id", "def"),
        ]);
        assert_eq!(idempotency_key(&headers, b"payload=1"), None);
        assert_eq!(idempotency_key(&h(&[("webhook-id", "  ")]), b""), None);
    }

    #[test]
    fn stripe_events_are_keyed_by_their_event_id() {
        let body = br#"{"id":"evt_1NG8Du2eZvKYlo2CUI79vXWy","object":"event","type":"invoice.paid","data":{"object":{"id":"in_1","job_id":"x"}}}"#;
        assert_eq!(
            idempotency_key(&h(&[("stripe-signature", "t=1,v1=ab")]), body).as_deref(),
            Some("stripe-event:evt_1NG8Du2eZvKYlo2CUI79vXWy")
        );
        // Other ids are not event ids, and nested ones do not count.
        assert_eq!(idempotency_key(&[], br#"{"id":"cus_123"}"#), None);
        assert_eq!(
            idempotency_key(&[], br#"{"data":{"id":"evt_1","job_id":"j"}}"#),
            None
        );
        // A header id wins over the body.
        assert_eq!(
            idempotency_key(&h(&[("webhook-id", "msg_9")]), br#"{"id":"evt_1"}"#).as_deref(),
            Some("webhook-id:msg_9")
        );
    }

    #[test]
    fn eden_ai_resends_group_with_their_gaps() {
        let body = br#"{"job_id":"550e8400-e29b-41d4-a716-446655440000","status":"success","results":{"a":1}}"#;
        let key = idempotency_key(&h(&[("content-type", "application/json")]), body);
        assert_eq!(
            key.as_deref(),
            Some("job_id:550e8400-e29b-41d4-a716-446655440000 status:success")
        );
        // Given out of order: grouped by arrival.
        let items = vec![
            (7, 61_000, key.clone()),
            (5, 1_000, key.clone()),
            (6, 11_000, key),
        ];
        assert_eq!(
            group(&items),
            vec![RetryGroup {
                key: "job_id:550e8400-e29b-41d4-a716-446655440000 status:success".into(),
                ids: vec![5, 6, 7],
                gaps_ms: vec![10_000, 50_000],
            }]
        );
    }

    #[test]
    fn processing_then_completed_is_not_a_retry() {
        let processing = idempotency_key(
            &[],
            br#"{"transcript_id":"5551722-f677-48a6-9287-39c0aafd9ac1","status":"processing"}"#,
        );
        let completed = idempotency_key(
            &[],
            br#"{"transcript_id":"5551722-f677-48a6-9287-39c0aafd9ac1","status":"completed"}"#,
        );
        assert_ne!(processing, completed);
        assert_eq!(
            completed.as_deref(),
            Some("transcript_id:5551722-f677-48a6-9287-39c0aafd9ac1 status:completed")
        );
        assert!(group(&[(1, 0, processing), (2, 5_000, completed)]).is_empty());
    }

    #[test]
    fn job_ids_without_status_and_numeric_ids() {
        assert_eq!(
            idempotency_key(&[], br#"{"run_id":12345,"output":null}"#).as_deref(),
            Some("run_id:12345")
        );
        assert_eq!(
            idempotency_key(&[], br#"{"request_id":"r1","job_id":"j1","status":7}"#).as_deref(),
            Some("job_id:j1 status:7")
        );
        // Ids that are not scalars, empty or huge are not ids.
        assert_eq!(idempotency_key(&[], br#"{"job_id":{"a":1}}"#), None);
        assert_eq!(idempotency_key(&[], br#"{"job_id":""}"#), None);
        let huge = format!(r#"{{"job_id":"{}"}}"#, "x".repeat(1000));
        assert_eq!(idempotency_key(&[], huge.as_bytes()), None);
    }

    #[test]
    fn bodies_that_are_not_json_objects_have_no_key() {
        for body in [
            &b""[..],
            b"job_id=550e8400&status=success",
            b"<xml><job_id>1</job_id></xml>",
            br#"["evt_1", "job"]"#,
            br#"{"job_id":"j1""#,
            b"\xff\xfe{",
            b"  \n",
        ] {
            assert_eq!(idempotency_key(&[], body), None, "{body:?}");
        }
    }

    #[test]
    fn kinds_never_collide_and_singles_are_not_groups() {
        let a = idempotency_key(&h(&[("webhook-id", "1")]), b"");
        let b = idempotency_key(&h(&[("svix-id", "1")]), b"");
        let c = idempotency_key(&[], br#"{"job_id":"1"}"#);
        assert!(a != b && b != c && a != c);
        let items = vec![(1, 0, a), (2, 0, b), (3, 0, c), (4, 0, None), (5, 0, None)];
        assert!(group(&items).is_empty());
    }

    #[test]
    fn groups_come_in_order_of_their_first_request() {
        let k = |s: &str| Some(s.to_owned());
        let items = vec![
            (1, 100, k("b")),
            (2, 50, k("a")),
            (3, 200, k("b")),
            (4, 300, k("a")),
            (5, 300, k("c")),
            (6, 300, k("c")),
        ];
        let groups = group(&items);
        let keys: Vec<&str> = groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["a", "b", "c"]);
        assert_eq!(groups[0].gaps_ms, vec![250]);
        assert_eq!(groups[2].ids, vec![5, 6]);
        assert_eq!(groups[2].gaps_ms, vec![0]);
    }
}
