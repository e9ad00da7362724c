//! One ACME order (RFC 8555) with the TLS-ALPN-01 challenge: account,
//! order, challenge, finalize, certificate — through instant-acme over the
//! project's own hyper + rustls client.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::Request;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use instant_acme::{
    Account, AuthorizationStatus, BodyWrapper, BytesResponse, ChallengeType, HttpClient,
    Identifier, NewAccount, NewOrder, OrderStatus, RetryPolicy,
};
use tokio_rustls::rustls;

use super::Settings;
use super::cache::Cache;
use super::resolver::Certs;

/// One call to the ACME server may take this long.
const CALL_TIMEOUT: Duration = Duration::from_secs(30);

/// How long the CA may take to validate the challenge, then to issue.
const POLL: RetryPolicy = RetryPolicy::new()
    .initial_delay(Duration::from_millis(250))
    .backoff(2.0)
    .timeout(Duration::from_secs(120));

/// Why an order failed, and what the operator should check.
#[derive(Debug)]
pub struct Failure {
    /// What went wrong, in words, with the CA's own explanation.
    pub what: String,
    /// What to check.
    pub check: String,
}

/// A certificate just issued: chain and key as PEM.
pub struct Certificate {
    /// The chain, leaf first.
    pub chain_pem: String,
    /// The private key.
    pub key_pem: String,
}

/// instant-acme's HTTP client: hyper with the project's rustls client
/// configuration (the public roots plus `--acme-ca-cert`), so no second
/// TLS stack and no platform verifier come along.
struct Http(Client<HttpsConnector<HttpConnector>, BodyWrapper<Bytes>>);

impl HttpClient for Http {
    fn request(
        &self,
        req: Request<BodyWrapper<Bytes>>,
    ) -> Pin<Box<dyn Future<Output = Result<BytesResponse, instant_acme::Error>> + Send>> {
        let answer = tokio::time::timeout(CALL_TIMEOUT, self.0.request(req));
        Box::pin(async move {
            match answer.await {
                Ok(Ok(res)) => Ok(BytesResponse::from(res)),
                Ok(Err(e)) => Err(instant_acme::Error::Other(words(&e).into())),
                Err(_) => Err(instant_acme::Error::Other(
                    format!("no answer within {}s", CALL_TIMEOUT.as_secs()).into(),
                )),
            }
        })
    }
}

/// An error and its sources in one line ("client error (Connect):
/// tcp connect error: Connection refused").
fn words(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

fn http(tls: &rustls::ClientConfig) -> Box<dyn HttpClient> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls.clone())
        .https_only()
        .enable_http1()
        .build();
    Box::new(Http(Client::builder(TokioExecutor::new()).build(connector)))
}

/// The stored account, or a new one (then stored).
async fn account(
    settings: &Settings,
    tls: &rustls::ClientConfig,
    cache: &Cache,
) -> Result<Account, Failure> {
    let unreachable = |e: instant_acme::Error| Failure {
        what: format!(
            "the ACME directory at {} did not work: {}",
            settings.directory,
            words(&e)
        ),
        check: "--acme-directory (the directory URL), that this machine can make HTTPS \
                connections to it, and --acme-ca-cert when the CA has a private root"
            .into(),
    };
    let stored = cache.account().map_err(|e| Failure {
        what: e,
        check: format!(
            "the files in --acme-cache {}: remove the damaged one",
            cache.dir().display()
        ),
    })?;
    if let Some(credentials) = stored {
        return Account::builder_with_http(http(tls))
            .from_credentials(credentials)
            .await
            .map_err(unreachable);
    }
    let contact = settings.email.as_ref().map(|e| format!("mailto:{e}"));
    let contact: Vec<&str> = contact.iter().map(String::as_str).collect();
    let new = NewAccount {
        contact: &contact,
        terms_of_service_agreed: true,
        only_return_existing: false,
    };
    let (account, credentials) = Account::builder_with_http(http(tls))
        .create(&new, settings.directory.clone(), None)
        .await
        .map_err(unreachable)?;
    cache.store_account(&credentials).map_err(|e| Failure {
        what: format!("cannot keep the ACME account: {e}"),
        check: format!(
            "that --acme-cache {} is writable by this user",
            cache.dir().display()
        ),
    })?;
    Ok(account)
}

/// Orders a certificate for `settings.domain`, answering the challenge
/// through `certs` (the account is kept in `cache`).
pub async fn obtain(
    settings: &Settings,
    tls: &rustls::ClientConfig,
    cache: &Cache,
    certs: &Arc<Certs>,
) -> Result<Certificate, Failure> {
    let account = account(settings, tls, cache).await?;
    let result = order(settings, &account, certs).await;
    certs.clear_challenge();
    let (chain_pem, key_pem) = result?;
    Ok(Certificate { chain_pem, key_pem })
}

/// The order itself: its chain and key as PEM.
async fn order(
    settings: &Settings,
    account: &Account,
    certs: &Certs,
) -> Result<(String, String), Failure> {
    let domain = &settings.domain;
    let refused = |e: instant_acme::Error| Failure {
        what: format!("the CA refused the order for {domain}: {}", words(&e)),
        check: "what the CA says above (for Let's Encrypt, \"too many\" means a rate limit: \
                wait as it says)"
            .into(),
    };
    let not_validated = |why: String| Failure {
        what: format!("the CA could not validate {domain} with TLS-ALPN-01: {why}"),
        check: format!(
            "that {domain} resolves (DNS A/AAAA) to this machine, that port 443 there reaches \
             this server's --listen address, and that nothing in front of it (a load balancer, \
             a CDN) terminates TLS"
        ),
    };
    let identifiers = [Identifier::Dns(domain.clone())];
    let mut order = account
        .new_order(&NewOrder::new(&identifiers))
        .await
        .map_err(refused)?;
    let mut authorizations = order.authorizations();
    while let Some(authz) = authorizations.next().await {
        let mut authz = authz.map_err(refused)?;
        match authz.status {
            AuthorizationStatus::Pending => {}
            // Validated recently (CAs reuse a validation for a while).
            AuthorizationStatus::Valid => continue,
            other => return Err(not_validated(format!("the authorization is {other:?}"))),
        }
        let mut challenge = authz
            .challenge(ChallengeType::TlsAlpn01)
            .ok_or_else(|| not_validated("the CA offers no tls-alpn-01 challenge".into()))?;
        let digest = challenge.key_authorization().digest();
        certs
            .set_challenge(domain, digest.as_ref())
            .map_err(|e| not_validated(format!("making the challenge certificate: {e}")))?;
        challenge.set_ready().await.map_err(refused)?;
    }
    match order.poll_ready(&POLL).await {
        Ok(OrderStatus::Ready) => {}
        Ok(_) | Err(instant_acme::Error::Api(_)) => {
            return Err(not_validated(challenge_error(&mut order).await));
        }
        Err(e) => return Err(refused(e)),
    }
    let key_pem = order.finalize().await.map_err(refused)?;
    let chain_pem = order.poll_certificate(&POLL).await.map_err(refused)?;
    Ok((chain_pem, key_pem))
}

/// What the CA said about the failed challenge.
async fn challenge_error(order: &mut instant_acme::Order) -> String {
    let mut why = Vec::new();
    let mut authorizations = order.authorizations();
    while let Some(Ok(mut authz)) = authorizations.next().await {
        let _ = authz.refresh().await;
        for c in &authz.challenges {
            if let Some(problem) = &c.error {
                why.push(
                    problem
                        .detail
                        .clone()
                        .unwrap_or_else(|| problem.to_string()),
                );
            }
        }
    }
    if why.is_empty() {
        "the order became invalid".into()
    } else {
        why.join("; ")
    }
}
