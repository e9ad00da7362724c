//! The certificate each TLS handshake gets: the domain's (once there is
//! one), or — when the CA's validator asks with ALPN `acme-tls/1` — the
//! TLS-ALPN-01 challenge certificate (RFC 8737).

use std::sync::{Arc, RwLock};

use rustls_pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio_rustls::rustls;
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

use super::cache::Issued;
use super::renew::Validity;
use crate::core::tls::provider;

/// The ALPN protocol of TLS-ALPN-01 validation handshakes.
pub const ACME_TLS_ALPN: &[u8] = b"acme-tls/1";

/// The served certificate and the pending challenge. Locks are held only
/// to clone or swap an `Arc`, never across I/O.
#[derive(Debug, Default)]
pub struct Certs {
    current: RwLock<Option<Served>>,
    challenge: RwLock<Option<Arc<CertifiedKey>>>,
}

/// A certificate in use, with its validity.
#[derive(Debug, Clone)]
pub struct Served {
    /// What handshakes get.
    pub key: Arc<CertifiedKey>,
    /// Its leaf's validity.
    pub validity: Validity,
}

impl Served {
    /// Checks a chain and key and reads the leaf's validity.
    pub fn new(issued: Issued) -> Result<Self, String> {
        let leaf = issued.chain.first().ok_or("an empty certificate chain")?;
        let validity = Validity::of(leaf)?;
        let key = CertifiedKey::from_der(issued.chain, issued.key, &provider())
            .map_err(|e| format!("the certificate and key do not go together: {e}"))?;
        Ok(Self {
            key: Arc::new(key),
            validity,
        })
    }
}

impl Certs {
    /// The certificate served now, if any.
    pub fn current(&self) -> Option<Served> {
        self.current.read().ok().and_then(|c| c.clone())
    }

    /// Serves `served` from the next handshake on.
    pub fn install(&self, served: Served) {
        if let Ok(mut current) = self.current.write() {
            *current = Some(served);
        }
    }

    /// Answers validation handshakes for `domain` with a certificate
    /// holding `digest` (SHA-256 of the key authorization) in its
    /// acmeIdentifier extension, until [`Certs::clear_challenge`].
    pub fn set_challenge(&self, domain: &str, digest: &[u8]) -> Result<(), String> {
        let key = rcgen::KeyPair::generate().map_err(|e| e.to_string())?;
        let mut params =
            rcgen::CertificateParams::new(vec![domain.to_owned()]).map_err(|e| e.to_string())?;
        params.custom_extensions = vec![rcgen::CustomExtension::new_acme_identifier(digest)];
        let cert = params.self_signed(&key).map_err(|e| e.to_string())?;
        let der = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.serialize_der()));
        // Not `CertifiedKey::from_der`: its consistency check parses the
        // certificate with webpki, which refuses the critical
        // acmeIdentifier extension this certificate must carry.
        let signing = (provider().key_provider.load_private_key(der)).map_err(|e| e.to_string())?;
        let certified = CertifiedKey::new(vec![cert.der().clone()], signing);
        if let Ok(mut challenge) = self.challenge.write() {
            *challenge = Some(Arc::new(certified));
        }
        Ok(())
    }

    /// Stops answering validation handshakes.
    pub fn clear_challenge(&self) {
        if let Ok(mut challenge) = self.challenge.write() {
            *challenge = None;
        }
    }
}

impl ResolvesServerCert for Certs {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let validation = hello
            .alpn()
            .is_some_and(|mut protocols| protocols.any(|p| p == ACME_TLS_ALPN));
        if validation {
            return self.challenge.read().ok().and_then(|c| c.clone());
        }
        // None (no certificate yet) fails the handshake: nothing better
        // can be offered before the CA has issued one.
        self.current().map(|s| s.key)
    }
}

/// The server side of TLS with certificates from `certs`: HTTP/2 and
/// HTTP/1.1 through ALPN, as for `--tls-cert`, plus `acme-tls/1` for the
/// CA's validation handshakes (a client that offers only that gets the
/// challenge certificate and no HTTP).
pub fn server_config(certs: Arc<Certs>) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_no_client_auth()
        .with_cert_resolver(certs);
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec(), ACME_TLS_ALPN.to_vec()];
    Ok(Arc::new(config))
}
