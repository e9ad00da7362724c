//! HTTPS by itself (`--acme-domain`): a certificate from Let's Encrypt or
//! another ACME CA, validated with TLS-ALPN-01 on the listening port,
//! kept in `--acme-cache` and renewed before it expires.
//!
//! The ACME client is instant-acme, not rustls-acme. rustls-acme does the
//! challenge, cache and renewal itself, but brings its own async stack
//! (async-io, futures-rustls and an HTTP client of its own) beside tokio
//! and hyper. instant-acme does only the protocol and takes any HTTP
//! client, so it runs over the hyper + rustls (ring) the project already
//! has; the ~150 lines it leaves to us (the challenge certificate, the
//! cache, when to renew) are here and tested.
//!
//! # Layout
//! - [`renew`]: the renewal rule and the pause after a failed order.
//! - [`cache`]: the account and certificate on disk.
//! - [`resolver`]: which certificate a handshake gets (the domain's, or
//!   the challenge's for `acme-tls/1`).
//! - [`order`]: one ACME order with TLS-ALPN-01.

pub mod cache;
pub mod order;
pub mod renew;
pub mod resolver;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use anyhow::Context as _;
use tokio_rustls::rustls;

use cache::{Cache, Issued};
use resolver::{Certs, Served};

/// Let's Encrypt's production directory, the default `--acme-directory`.
pub const LETS_ENCRYPT: &str = "https://acme-v02.api.letsencrypt.org/directory";

/// The longest single wait: a clock that jumps (a suspended machine) is
/// noticed within a day.
const LONGEST_WAIT: Duration = Duration::from_secs(86_400);

/// What `serve --acme-*` asked for.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The name to get a certificate for (`--acme-domain`).
    pub domain: String,
    /// The account's contact (`--acme-email`), if any.
    pub email: Option<String>,
    /// The ACME directory URL (`--acme-directory`).
    pub directory: String,
    /// An extra root to trust for the directory (`--acme-ca-cert`).
    pub ca_cert: Option<PathBuf>,
    /// Where the account and certificate are kept (`--acme-cache`).
    pub cache: PathBuf,
}

/// The certificates and the settings they come from. Cheap to share.
#[derive(Debug)]
pub struct Acme {
    settings: Settings,
    tls: Arc<rustls::ClientConfig>,
    cache: Cache,
    certs: Arc<Certs>,
    server: Arc<rustls::ServerConfig>,
}

impl Acme {
    /// Checks the settings, prepares the cache and loads a cached
    /// certificate, so that a restart serves it from the first handshake.
    pub fn new(settings: Settings) -> anyhow::Result<Arc<Self>> {
        let tls = crate::core::tls::client_config(settings.ca_cert.as_deref(), "--acme-ca-cert")?;
        let cache = Cache::new(&settings.cache, &settings.directory, &settings.domain);
        cache.prepare().with_context(|| {
            format!(
                "cannot create --acme-cache {}: create it, or pass a writable folder",
                settings.cache.display()
            )
        })?;
        let certs = Arc::new(Certs::default());
        match cache.certificate() {
            Ok(Some(issued)) => match Served::new(issued) {
                Ok(served) if !served.validity.expired(SystemTime::now()) => certs.install(served),
                Ok(_) => tracing::info!("the cached certificate has expired: ordering a new one"),
                Err(e) => tracing::warn!("the cached certificate is unusable ({e}): ordering anew"),
            },
            Ok(None) => {}
            Err(e) => tracing::warn!("{e}: ordering a new certificate"),
        }
        let server = resolver::server_config(certs.clone())?;
        Ok(Arc::new(Self {
            settings,
            tls,
            cache,
            certs,
            server,
        }))
    }

    /// The name the certificate is for.
    pub fn domain(&self) -> &str {
        &self.settings.domain
    }

    /// The TLS configuration that serves these certificates.
    pub fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server.clone()
    }

    /// Obtains the certificate when there is none and renews it when due,
    /// forever; `listen` is named in what it logs.
    pub async fn run(self: Arc<Self>, listen: SocketAddr) {
        let (domain, directory) = (&self.settings.domain, &self.settings.directory);
        let mut failures = 0u32;
        loop {
            match self.certs.current() {
                None => tracing::info!(
                    "no certificate for {domain} yet: ordering one from {directory} with \
                     TLS-ALPN-01 (the CA connects to {domain}:443, which must reach --listen \
                     {listen}); HTTPS handshakes fail until it is issued"
                ),
                Some(served) => {
                    let wait = served.validity.until_renewal(SystemTime::now());
                    if !wait.is_zero() {
                        tracing::info!(
                            "certificate for {domain} valid until {}; renewing it at {}",
                            humantime::format_rfc3339_seconds(served.validity.until),
                            humantime::format_rfc3339_seconds(served.validity.renew_at()),
                        );
                        tokio::time::sleep(wait.min(LONGEST_WAIT)).await;
                        continue;
                    }
                    tracing::info!("renewing the certificate for {domain} from {directory}");
                }
            }
            match self.obtain().await {
                Ok(served) => {
                    failures = 0;
                    tracing::info!(
                        "obtained a certificate for {domain} from {directory}, valid until {}; \
                         kept in {}",
                        humantime::format_rfc3339_seconds(served.validity.until),
                        self.cache.dir().display()
                    );
                    self.certs.install(served);
                }
                Err(failure) => {
                    failures += 1;
                    let pause = renew::retry_after(failures);
                    tracing::warn!(
                        "could not obtain a certificate for {domain}: {}. Check {}. Trying \
                         again in {}",
                        failure.what,
                        failure.check,
                        humantime::format_duration(pause)
                    );
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }

    /// One order; its certificate is checked, then kept, then served.
    async fn obtain(&self) -> Result<Served, order::Failure> {
        let issued = order::obtain(&self.settings, &self.tls, &self.cache, &self.certs).await?;
        let served =
            Issued::from_pem(format!("{}\n{}", issued.chain_pem, issued.key_pem).as_bytes())
                .and_then(Served::new)
                .map_err(|e| order::Failure {
                    what: format!("the CA's certificate cannot be used: {e}"),
                    check:
                        "--acme-directory: is it an ACME CA that issues TLS server certificates?"
                            .into(),
                })?;
        (self.cache)
            .store_certificate(&issued.chain_pem, &issued.key_pem)
            .map_err(|e| order::Failure {
                what: format!("cannot keep the certificate: {e}"),
                check: format!(
                    "that --acme-cache {} is writable by this user",
                    self.cache.dir().display()
                ),
            })?;
        Ok(served)
    }
}
