//! The hookwire API as the command line calls it (`new`, `tail`, `wait`,
//! `resend`): minting a bin, a bin's requests after a cursor, one request,
//! and the live stream that says when there is something new.

use std::borrow::Cow;
use std::time::Duration;

use anyhow::{Context as _, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hyper::body::{Bytes, Incoming};
use serde::Deserialize as _;
use serde_json::Value;
use uuid::Uuid;

use crate::client::http::{Call, Outbound, Outcome};
use crate::core::headers::Header;
use crate::core::pasted::{self, BinRef};
use crate::core::payload_schema::SchemaVerdict;
use crate::core::time::{Millis, parse_rfc3339};
use crate::core::verify::Signature;
use crate::core::views::{
    AliasBody, BinView, CreatedToken, ErrorBody, NewToken, RequestJson, RequestPage, TokenList,
};

/// An API call that has not answered by then failed.
const API_TIMEOUT: Duration = Duration::from_secs(30);

/// A captured request, as the API gives it.
#[derive(Debug, Clone)]
pub struct Captured {
    /// Its id (increasing in arrival order).
    pub id: i64,
    /// Arrival, on the server's clock.
    pub received_at: Millis,
    /// Method, as sent.
    pub method: String,
    /// Raw sub-path.
    pub path: String,
    /// Raw query, without `?`.
    pub query: String,
    /// Headers in arrival order.
    pub headers: Vec<Header>,
    /// The exact body.
    pub body: Vec<u8>,
    /// The signature check, when the bin has a secret for its scheme.
    pub signature: Option<Signature>,
    /// The payload schema check, when one of the bin's schemas applied.
    pub schema: Option<SchemaVerdict>,
    /// The response rule that answered it, if one did.
    pub rule: Option<String>,
    /// The whole object the API returned (what `--json` prints).
    pub object: Value,
}

impl Captured {
    fn from_json(object: Value) -> anyhow::Result<Self> {
        let view = RequestJson::deserialize(&object)
            .context("the server's answer is not a request (is it a hookwire server?)")?;
        Ok(Self {
            id: view.id,
            received_at: parse_rfc3339(&view.received_at)
                .context("a request whose received_at is not RFC 3339")?,
            method: view.method.into_owned(),
            path: view.path.into_owned(),
            query: view.query.into_owned(),
            headers: view.headers.into_owned(),
            body: STANDARD
                .decode(&view.body_base64)
                .context("a request body that is not base64")?,
            signature: view.signature.map(Cow::into_owned),
            schema: view.schema.map(Cow::into_owned),
            rule: view.rule.map(Cow::into_owned),
            object,
        })
    }

    /// The sub-path with its query: `/a?x=1`.
    pub fn target(&self) -> String {
        crate::core::urls::target(&self.path, &self.query)
    }

    /// The subject conditions look at.
    pub fn subject(&self) -> crate::core::matcher::Subject<'_> {
        crate::core::matcher::Subject::new(
            &self.method,
            &self.path,
            &self.query,
            &self.headers,
            &self.body,
        )
        .with_schema(self.schema.as_ref().map(|v| v.valid))
    }
}

/// The server refused for good (no token, no such bin or request): worth
/// telling the user, not trying again.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// The server gave no answer (down, unreachable, too slow): trying again
/// later may help.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unanswered(pub String);

/// Requests per page when reading a bin's list after a cursor.
pub const PAGE: usize = 100;

/// A hookwire server's API.
#[derive(Clone)]
pub struct Remote {
    out: Outbound,
    /// `http://host:port` (no trailing slash).
    base: String,
    token: Option<String>,
}

impl Remote {
    /// The server at `base`, with its access token if it has one.
    pub fn new(out: Outbound, base: &str, token: Option<&str>) -> Self {
        Self {
            out,
            base: base.trim_end_matches('/').to_owned(),
            token: token.filter(|t| !t.is_empty()).map(str::to_owned),
        }
    }

    fn headers(&self, accept: &str) -> Vec<Header> {
        let mut h = vec![("accept".to_owned(), accept.to_owned())];
        if let Some(t) = &self.token {
            h.push(("authorization".into(), format!("Bearer {t}")));
        }
        h
    }

    /// `GET {base}{path}` as JSON, with errors that say what to do.
    async fn get(&self, path: &str) -> anyhow::Result<Value> {
        self.call_json("GET", path, Bytes::new()).await
    }

    /// `POST {base}{path}` with a JSON `body`; the answer as JSON.
    async fn post(&self, path: &str, body: String) -> anyhow::Result<Value> {
        self.call_json("POST", path, Bytes::from(body)).await
    }

    /// One API call, its 2xx answer as JSON; otherwise an error that says
    /// what to do ([`Refused`] when trying again cannot help).
    async fn call_json(&self, method: &str, path: &str, body: Bytes) -> anyhow::Result<Value> {
        let url = format!("{}{path}", self.base);
        let mut headers = self.headers("application/json");
        if !body.is_empty() {
            headers.push(("content-type".into(), "application/json".into()));
        }
        let call = Call {
            method,
            url: &url,
            headers: &headers,
            body,
        };
        let (outcome, _) = self
            .out
            .call(call, API_TIMEOUT)
            .await
            .map_err(anyhow::Error::msg)?;
        let answer = match outcome {
            Outcome::Answered(a) => a,
            Outcome::TimedOut => {
                return Err(Unanswered(format!(
                    "{} did not answer within {} s",
                    self.base,
                    API_TIMEOUT.as_secs()
                ))
                .into());
            }
            Outcome::Unreachable(why) => {
                return Err(Unanswered(crate::client::reach::server(&self.base, &why)).into());
            }
        };
        let detail = || ErrorBody::message_of(&answer.body);
        match answer.status {
            // 204 (a deletion) has no body.
            200..=299 if answer.body.is_empty() => Ok(Value::Null),
            200..=299 => serde_json::from_slice(&answer.body)
                .with_context(|| format!("{url} did not answer like a hookwire server")),
            401 => Err(Refused(format!(
                "{} answered 401: it needs its access token; pass --access-token or set \
                 HOOKWIRE_ACCESS_TOKEN",
                self.base
            ))
            .into()),
            403 | 404 => Err(Refused(format!("{url}: {}", detail())).into()),
            status => bail!("{url} answered {status}: {}", detail()),
        }
    }

    /// Makes a token (admin).
    pub async fn create_token(&self, new: &NewToken) -> anyhow::Result<CreatedToken> {
        let answer = self
            .post("/api/tokens", serde_json::to_string(new)?)
            .await?;
        CreatedToken::deserialize(&answer)
            .with_context(|| format!("{} did not answer like a hookwire server", self.base))
    }

    /// Every token (admin).
    pub async fn tokens(&self) -> anyhow::Result<TokenList> {
        TokenList::deserialize(&self.get("/api/tokens").await?)
            .with_context(|| format!("{} did not answer like a hookwire server", self.base))
    }

    /// Revokes a token (admin).
    pub async fn revoke_token(&self, name: &str) -> anyhow::Result<()> {
        let name: String = form_urlencoded::byte_serialize(name.as_bytes()).collect();
        self.call_json("DELETE", &format!("/api/tokens/{name}"), Bytes::new())
            .await
            .map(|_| ())
    }

    /// One request.
    pub async fn request(&self, bin: Uuid, id: i64) -> anyhow::Result<Captured> {
        Captured::from_json(self.get(&format!("/api/bins/{bin}/requests/{id}")).await?)
    }

    /// The bin exists and the token lets us read it.
    pub async fn check_bin(&self, bin: Uuid) -> anyhow::Result<()> {
        self.bin(&bin.to_string()).await.map(|_| ())
    }

    /// A bin, by id or alias.
    pub async fn bin(&self, id_or_alias: &str) -> anyhow::Result<BinView> {
        let bin = self.get(&format!("/api/bins/{id_or_alias}")).await?;
        BinView::deserialize(&bin)
            .with_context(|| format!("{} did not answer like a hookwire server", self.base))
    }

    /// Mints a bin, with `alias` if given.
    pub async fn mint(&self, alias: Option<&str>) -> anyhow::Result<BinView> {
        let body = match alias {
            Some(alias) => serde_json::to_string(&AliasBody {
                alias: Some(alias.to_owned()),
            })?,
            None => String::new(),
        };
        let minted = self.post("/api/bins", body).await?;
        BinView::deserialize(&minted)
            .with_context(|| format!("{} did not answer like a hookwire server", self.base))
    }

    /// The server and bin a pasted URL names (capture, inspector, request
    /// or API URL; see [`crate::core::pasted`]), an alias looked up through
    /// the API.
    pub async fn for_bin(
        out: Outbound,
        url: &str,
        token: Option<&str>,
    ) -> anyhow::Result<(Self, Uuid)> {
        let pasted = pasted::parse(url).map_err(anyhow::Error::msg)?;
        let bin = pasted.bin().map_err(anyhow::Error::msg)?;
        let remote = Self::new(out, &pasted.server, token);
        let id = remote.bin_id(bin).await?;
        Ok((remote, id))
    }

    /// The server, bin and request a pasted request URL names (the
    /// inspector's `/bins/ID?r=N`, the API's `/api/bins/ID/requests/N`).
    pub async fn for_request(
        out: Outbound,
        url: &str,
        token: Option<&str>,
    ) -> anyhow::Result<(Self, Uuid, i64)> {
        let pasted = pasted::parse(url).map_err(anyhow::Error::msg)?;
        let (bin, request) = pasted.request().map_err(anyhow::Error::msg)?;
        let remote = Self::new(out, &pasted.server, token);
        let id = remote.bin_id(bin).await?;
        Ok((remote, id, request))
    }

    /// The id of a bin named by id or alias: the one alias lookup.
    pub async fn bin_id(&self, bin: &BinRef) -> anyhow::Result<Uuid> {
        match bin {
            BinRef::Id(id) => Ok(*id),
            BinRef::Alias(alias) => {
                let view = self.bin(alias).await?;
                Uuid::parse_str(&view.id)
                    .with_context(|| format!("{} did not answer like a hookwire server", self.base))
            }
        }
    }

    /// Up to [`PAGE`] requests after request `after`, oldest first.
    pub async fn after(&self, bin: Uuid, after: i64) -> anyhow::Result<Vec<Captured>> {
        let page = self
            .get(&format!(
                "/api/bins/{bin}/requests?after={after}&limit={PAGE}"
            ))
            .await?;
        requests(page).map(|(r, _)| r)
    }

    /// `limit` requests newest first, before request `before` (or the
    /// newest), and the cursor of the next page.
    pub async fn newest(
        &self,
        bin: Uuid,
        before: Option<i64>,
        limit: usize,
    ) -> anyhow::Result<(Vec<Captured>, Option<i64>)> {
        let cursor = before.map_or(String::new(), |b| format!("&before={b}"));
        let page = self
            .get(&format!("/api/bins/{bin}/requests?limit={limit}{cursor}"))
            .await?;
        requests(page)
    }

    /// Replays stored request `id` of `bin` to the bin's connected
    /// tunnels (only to `tunnel`, when given); the tunnels it went to.
    pub async fn replay(
        &self,
        bin: Uuid,
        id: i64,
        tunnel: Option<&str>,
    ) -> anyhow::Result<Vec<String>> {
        let only = tunnel.map_or(String::new(), |t| {
            format!(
                "?tunnel={}",
                form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
            )
        });
        let answer = self
            .post(
                &format!("/api/bins/{bin}/requests/{id}/replay{only}"),
                String::new(),
            )
            .await?;
        Ok(answer
            .get("replayed_to")
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(printable)
                    .collect()
            })
            .unwrap_or_default())
    }

    /// The bin's live stream (Server-Sent Events, one per capture), its
    /// body unread.
    pub async fn events(&self, bin: Uuid) -> Result<Incoming, String> {
        let url = format!("{}/bins/{bin}/events", self.base);
        let headers = self.headers("text/event-stream");
        let res = self
            .out
            .open(Call {
                method: "GET",
                url: &url,
                headers: &headers,
                body: Bytes::new(),
            })
            .await?;
        if res.status() != 200 {
            return Err(format!("{url} answered {}", res.status()));
        }
        Ok(res.into_body())
    }
}

fn requests(page: Value) -> anyhow::Result<(Vec<Captured>, Option<i64>)> {
    // Each request is read from its own JSON object, which `--json` prints
    // as the server sent it; the page's shape is checked once.
    let next = RequestPage::deserialize(&page)
        .context("the server's answer is not a page of requests")?
        .next;
    let Value::Object(mut page) = page else {
        bail!("the server's answer has no request list");
    };
    let Some(Value::Array(list)) = page.remove("requests") else {
        bail!("the server's answer has no request list");
    };
    let requests = list
        .into_iter()
        .map(Captured::from_json)
        .collect::<anyhow::Result<_>>()?;
    Ok((requests, next))
}

/// Text from a captured request made safe for a terminal: control and
/// bidirectional-formatting characters (which could move the cursor,
/// recolour or reorder the line) are shown escaped.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            let bidi = matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
            if c.is_control() || bidi {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_escapes_are_shown_not_obeyed() {
        assert_eq!(printable("/a b/é?x=1"), "/a b/é?x=1");
        assert_eq!(printable("/x\u{9b}31m\u{1b}[2J"), "/x\\u{9b}31m\\u{1b}[2J");
        assert_eq!(printable("evil\u{202e}gpj"), "evil\\u{202e}gpj");
    }
}
