//! The inspector page of a bin and its forms (response settings, clear,
//! delete). Server-rendered; every form works without JavaScript.

mod form_errors;
mod forms;
mod rules_form;

use std::collections::HashSet;

use askama::Template;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::get;
use serde::Deserialize;

use super::body_view::{self, BodyView};
use super::error_page::PageError;
use super::layout::{Layout, render};
use crate::core::headers::Header;
use crate::core::idempotency;
use crate::core::model::{Answer, CapturedRequest, Delivery};
use crate::core::payload_schema::SchemaVerdict;
use crate::core::time::rfc3339;
use crate::core::verify::{Secrets, Signature};
use crate::server::state::AppState;
use crate::server::store::{Cursor, ListQuery};
use crate::server::web::auth::Principal;
use crate::server::web::bin_id;
use forms::header_lines;

/// The page and its forms.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/bins/{bin_id}", get(page))
        .route("/bins/{bin_id}/requests/{rid}/detail", get(detail_fragment))
        .merge(forms::router())
        .merge(rules_form::router())
}

/// Bodies up to this size can be edited before a replay.
const EDIT_LIMIT: usize = 256 * 1024;

/// Requests listed per page of the inspector.
const PAGE_SIZE: usize = 100;

struct ListItem {
    id: i64,
    method: String,
    target: String,
    time: String,
    size: String,
    selected: bool,
    signature: Option<Signature>,
    /// The payload schema check, if a schema applied.
    schema: Option<SchemaVerdict>,
    /// Another listed request carries the same idempotency key.
    retry: bool,
    /// The response rule that answered it.
    rule: Option<String>,
    /// What the sender got back (the status pill), if recorded.
    response: Option<Answer>,
}

/// One attempt of a sender's retried delivery.
struct Attempt {
    id: i64,
    time: String,
    /// Seconds after the previous attempt ("" for the first).
    gap: String,
    current: bool,
}

struct Detail {
    id: i64,
    method: String,
    path: String,
    query: String,
    time: String,
    remote_addr: String,
    size: usize,
    size_human: String,
    content_type: String,
    query_params: Vec<Header>,
    headers: Vec<Header>,
    body: BodyView,
    truncated: bool,
    deliveries: Vec<DeliveryView>,
    signature: Option<Signature>,
    /// The payload schema check, if a schema applied.
    schema: Option<SchemaVerdict>,
    retry_key: Option<String>,
    /// The response rule that answered it.
    rule: Option<String>,
    /// What the sender got back, if recorded.
    response: Option<Answer>,
    /// The headers as `Name: value` lines, for the edit-and-replay form.
    headers_text: String,
    /// The body for the edit form, when it is text.
    body_text: Option<String>,
}

/// A tunnel's relay of the request, as the inspector shows it.
struct DeliveryView {
    tunnel: String,
    target: String,
    /// The tunnel's filter left it out.
    skipped: bool,
    replay: bool,
    status: String,
    latency: String,
    time: String,
    headers: Vec<Header>,
    body: BodyView,
    truncated: bool,
}

impl DeliveryView {
    fn new(d: &Delivery) -> Self {
        let (body, truncated) = body_view::view(
            crate::core::headers::get(&d.headers, "content-type"),
            crate::core::headers::get(&d.headers, "content-encoding"),
            &d.body,
        );
        Self {
            tunnel: d.tunnel.clone(),
            target: d.target.clone(),
            skipped: d.skipped,
            replay: d.replay,
            status: match (d.skipped, d.status) {
                (true, _) => "skipped".into(),
                (false, Some(s)) => s.to_string(),
                (false, None) => {
                    format!("failed: {}", d.error.as_deref().unwrap_or("no answer"))
                }
            },
            latency: format!("{:.1} ms", d.latency_ms),
            time: rfc3339(d.delivered_at),
            headers: d.headers.clone(),
            body,
            truncated,
        }
    }
}

impl Detail {
    fn new(r: &CapturedRequest) -> Self {
        let content_type = r.header("content-type").map(str::to_owned);
        let (body, truncated) = body_view::view(
            content_type.as_deref(),
            r.header("content-encoding"),
            &r.req.body,
        );
        Self {
            id: r.id,
            method: r.req.method.clone(),
            path: r.req.path.clone(),
            query: r.req.query.clone(),
            time: rfc3339(r.req.received_at),
            remote_addr: r.req.remote_addr.clone(),
            size: r.req.body.len(),
            size_human: body_view::human_size(r.req.body.len()),
            content_type: content_type.unwrap_or_default(),
            query_params: form_urlencoded::parse(r.req.query.as_bytes())
                .into_owned()
                .collect(),
            headers: r.req.headers.clone(),
            body,
            truncated,
            deliveries: r.deliveries.iter().map(DeliveryView::new).collect(),
            signature: r.req.signature.clone(),
            schema: r.req.schema.clone(),
            retry_key: r.req.retry_key.clone(),
            rule: r.req.rule.clone(),
            response: r.req.answer.clone(),
            headers_text: header_lines(&r.req.headers),
            body_text: std::str::from_utf8(&r.req.body)
                .ok()
                .filter(|t| t.len() <= EDIT_LIMIT)
                .map(str::to_owned),
        }
    }
}

/// Attempts in arrival order with the gap before each.
fn attempt_list(found: &[(i64, i64)], current: Option<i64>) -> Vec<Attempt> {
    let mut previous: Option<i64> = None;
    found
        .iter()
        .map(|&(id, at)| {
            let gap = previous.map_or(String::new(), |p| {
                format!("+{:.1} s", (at - p) as f64 / 1000.0)
            });
            previous = Some(at);
            Attempt {
                id,
                time: rfc3339(at),
                gap,
                current: Some(id) == current,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "inspector.html")]
struct InspectorPage {
    layout: Layout,
    /// The viewer may change the bin: its forms are shown.
    can_write: bool,
    bin_id: String,
    capture_url: String,
    count: u64,
    search: String,
    items: Vec<ListItem>,
    older: Option<i64>,
    paged: bool,
    detail: Option<Detail>,
    status: String,
    headers_text: String,
    body: String,
    delay_ms: String,
    tunnels: Vec<String>,
    /// Configured secrets: scheme and masked value.
    secrets: Vec<(String, String)>,
    /// The method filter ("" for all).
    method: String,
    /// The sender's attempts at the selected request, when it retried.
    attempts: Vec<Attempt>,
    /// Arrivals over the listed requests' time span, for the burst chart.
    timeline: Vec<Bar>,
    /// What the timeline spans, e.g. "last 100 over 12 min".
    timeline_label: String,
    /// The response rules, in order.
    rules: Vec<RuleRow>,
    /// The same, as JSON for the edit-all form.
    rules_json: String,
    /// The bin's alias ("" for none) and its capture URL.
    alias: String,
    alias_url: String,
    /// The compare form's default other request: the newest listed one
    /// that is not shown.
    compare_with: Option<i64>,
    /// `?r=` as given (none: the newest is shown).
    selected_param: Option<i64>,
    /// The settings forms' confirmation, error and open panel.
    form: form_errors::FormState,
}

/// The detail alone (`templates/detail.html`, the same partial the page
/// includes), for moving between requests without reloading the page.
#[derive(Template)]
#[template(path = "detail.html")]
struct DetailFragment {
    bin_id: String,
    capture_url: String,
    detail: Option<Detail>,
    attempts: Vec<Attempt>,
    tunnels: Vec<String>,
    compare_with: Option<i64>,
    /// The viewer may change the bin: replay and delete are shown.
    can_write: bool,
}

/// A response rule as the settings list shows it.
struct RuleRow {
    name: String,
    conditions: String,
    attempts: String,
    action: String,
    status: u16,
}

impl RuleRow {
    fn new(r: &crate::core::model::RuleConfig) -> Self {
        Self {
            name: r.name.clone(),
            conditions: if r.conditions.is_empty() {
                "every request".into()
            } else {
                r.conditions.join(" and ")
            },
            attempts: r.attempts.clone().unwrap_or_default(),
            action: format!("{:?}", r.action).to_ascii_lowercase(),
            status: r.response.status,
        }
    }
}

/// One bar of the burst chart (SVG units; attributes, not inline CSS, so
/// the strict CSP holds).
struct Bar {
    x: usize,
    y: usize,
    height: usize,
    count: usize,
}

/// Bars of the burst chart.
const BARS: usize = 40;

/// Buckets arrival times into [`BARS`] bars over their span.
fn timeline(times: &[i64]) -> (Vec<Bar>, String) {
    let (Some(&min), Some(&max)) = (times.iter().min(), times.iter().max()) else {
        return (Vec::new(), String::new());
    };
    let span = (max - min).max(1);
    let mut counts = [0usize; BARS];
    for t in times {
        let i = usize::try_from((t - min) * (BARS as i64 - 1) / span).unwrap_or(0);
        counts[i.min(BARS - 1)] += 1;
    }
    let top = counts.iter().copied().max().unwrap_or(1).max(1);
    let bars = counts
        .iter()
        .enumerate()
        .map(|(i, &count)| {
            let height = if count == 0 {
                0
            } else {
                (count * 28 / top).max(2)
            };
            Bar {
                x: i * 6,
                y: 30 - height,
                height,
                count,
            }
        })
        .collect();
    let secs = span / 1000;
    let n = times.len();
    let requests = if n == 1 { "request" } else { "requests" };
    let label = if secs < 120 {
        format!("{n} {requests} over {secs} s")
    } else if secs < 7200 {
        format!("{n} {requests} over {} min", secs / 60)
    } else {
        format!("{n} {requests} over {} h", secs / 3600)
    };
    (bars, label)
}

/// Query of the inspector page.
#[derive(Debug, Deserialize, Default)]
pub struct PageParams {
    /// The selected request; default the newest.
    r: Option<i64>,
    /// List requests older than this id.
    before: Option<i64>,
    /// Search text.
    q: Option<String>,
    /// Only this method.
    method: Option<String>,
    /// What a settings form just saved (one of a fixed set).
    saved: Option<String>,
    /// How many stored requests a saved secret re-checked.
    n: Option<u64>,
    /// The secret's scheme, or the added rule's name (shown only when
    /// the bin has it).
    what: Option<String>,
}

/// `GET /bins/{bin_id}`.
async fn page(
    State(state): State<AppState>,
    principal: Principal,
    Path(id): Path<String>,
    Query(params): Query<PageParams>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let id = bin_id(&id)?;
    Ok(render(
        &inspector(&state, &principal, id, params, &headers, None).await?,
    ))
}

/// The inspector page's data; `form` is a settings form's failed
/// submission (none: the stored settings and any `?saved=` notice).
async fn inspector(
    state: &AppState,
    principal: &Principal,
    id: uuid::Uuid,
    params: PageParams,
    headers: &HeaderMap,
    form: Option<form_errors::FormState>,
) -> Result<InspectorPage, PageError> {
    let bin = state.bins.get(id).await?;
    let form = form.unwrap_or_else(|| {
        let what = params.what.as_deref();
        form_errors::FormState::saved(params.saved.as_deref(), params.n, what, &bin)
    });
    let search = params.q.filter(|q| !q.is_empty());
    let method = params
        .method
        .filter(|m| !m.is_empty())
        .map(|m| m.to_ascii_uppercase());
    let list = state
        .store
        .list_requests(ListQuery {
            bin: id,
            limit: PAGE_SIZE,
            cursor: params.before.map_or(Cursor::Newest, Cursor::Before),
            search: search.clone(),
            with_bodies: false,
            method: method.clone(),
            schema: None,
        })
        .await?;
    let selected = params.r.or_else(|| list.requests.first().map(|r| r.id));
    let detail = match selected {
        Some(rid) => state.store.request(id, rid).await?.map(|r| Detail::new(&r)),
        None => None,
    };
    let attempts = retry_attempts(state, id, detail.as_ref()).await?;
    let compare_with = list
        .requests
        .iter()
        .map(|r| r.id)
        .find(|&r| Some(r) != selected);
    // Requests another listed request shares an idempotency key with.
    let keyed: Vec<(i64, i64, Option<String>)> = list
        .requests
        .iter()
        .map(|r| (r.id, r.req.received_at, r.req.retry_key.clone()))
        .collect();
    let retried: HashSet<i64> = idempotency::group(&keyed)
        .into_iter()
        .flat_map(|g| g.ids)
        .collect();
    let items = list
        .requests
        .iter()
        .zip(&list.body_sizes)
        .map(|(r, size)| ListItem {
            id: r.id,
            method: r.req.method.clone(),
            target: r.req.target(),
            time: rfc3339(r.req.received_at),
            size: body_view::human_size(*size),
            selected: Some(r.id) == selected,
            signature: r.req.signature.clone(),
            schema: r.req.schema.clone(),
            retry: retried.contains(&r.id),
            rule: r.req.rule.clone(),
            response: r.req.answer.clone(),
        })
        .collect();
    let times: Vec<i64> = list.requests.iter().map(|r| r.req.received_at).collect();
    let (timeline, timeline_label) = timeline(&times);
    let resp = bin.response;
    let base = state.base_url(headers);
    Ok(InspectorPage {
        layout: Layout::new(state, principal),
        can_write: principal.can_write(),
        bin_id: id.to_string(),
        capture_url: format!("{base}/{id}"),
        count: state.store.count(id).await?,
        search: search.unwrap_or_default(),
        items,
        older: list.next,
        paged: params.before.is_some(),
        detail,
        status: resp.status.to_string(),
        headers_text: header_lines(&resp.headers),
        body: resp.body,
        delay_ms: resp.delay_ms.to_string(),
        tunnels: crate::server::services::cluster::connected(&state.store, &state.hub, id).await?,
        secrets: masked_secrets(&bin.secrets),
        method: method.unwrap_or_default(),
        attempts,
        timeline,
        timeline_label,
        rules: bin.rules.iter().map(RuleRow::new).collect(),
        rules_json: serde_json::to_string_pretty(&bin.rules).unwrap_or_default(),
        alias_url: bin
            .alias
            .as_ref()
            .map(|a| format!("{base}/{a}"))
            .unwrap_or_default(),
        alias: bin.alias.unwrap_or_default(),
        compare_with,
        selected_param: params.r,
        form,
    })
}

/// The sender's attempts at the shown request, when it retried.
async fn retry_attempts(
    state: &AppState,
    bin: uuid::Uuid,
    detail: Option<&Detail>,
) -> Result<Vec<Attempt>, PageError> {
    let Some(d) = detail else {
        return Ok(Vec::new());
    };
    let Some(key) = d.retry_key.clone() else {
        return Ok(Vec::new());
    };
    let found = state.store.attempts(bin, key).await?;
    Ok(if found.len() > 1 {
        attempt_list(&found, Some(d.id))
    } else {
        Vec::new()
    })
}

/// `GET /bins/{bin_id}/requests/{rid}/detail`: the detail section of one
/// request, read by id (the bin is not listed), for `static/app.js`.
async fn detail_fragment(
    State(state): State<AppState>,
    principal: Principal,
    Path((id, rid)): Path<(String, i64)>,
    headers: HeaderMap,
) -> Result<Response, PageError> {
    let id = bin_id(&id)?;
    state.bins.cached(id).await?;
    let Some(r) = state.store.request(id, rid).await? else {
        return Err(PageError(crate::server::error::AppError::NotFound(
            "no such request in this bin".into(),
        )));
    };
    let detail = Detail::new(&r);
    let attempts = retry_attempts(&state, id, Some(&detail)).await?;
    let base = state.base_url(&headers);
    let mut res = render(&DetailFragment {
        bin_id: id.to_string(),
        capture_url: format!("{base}/{id}"),
        detail: Some(detail),
        attempts,
        tunnels: crate::server::services::cluster::connected(&state.store, &state.hub, id).await?,
        compare_with: None,
        can_write: principal.can_write(),
    });
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

fn masked_secrets(secrets: &Secrets) -> Vec<(String, String)> {
    match secrets.masked() {
        serde_json::Value::Object(map) => map
            .into_iter()
            .map(|(k, v)| {
                let shown = match v {
                    serde_json::Value::String(s) => s,
                    other => format!(
                        "{}: {}",
                        other["name"].as_str().unwrap_or(""),
                        other["value"].as_str().unwrap_or("")
                    ),
                };
                (k, shown)
            })
            .collect(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::timeline;

    #[test]
    fn timeline_shows_bursts() {
        let (bars, label) = timeline(&[0, 1000, 1000, 1000, 60_000]);
        assert_eq!(bars.len(), 40);
        assert_eq!(bars.iter().map(|b| b.count).sum::<usize>(), 5);
        assert_eq!(bars.iter().map(|b| b.height).max(), Some(28));
        assert_eq!(label, "5 requests over 60 s");
        assert_eq!(timeline(&[7]).1, "1 request over 0 s");
        assert!(timeline(&[]).0.is_empty());
    }
}
