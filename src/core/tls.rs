//! TLS with rustls (ring): the trust roots of every outgoing connection
//! (`wss://` and `https://` from the command line, and the server's own
//! connection to PostgreSQL).

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::PemObject as _;
use tokio_rustls::rustls;

/// The crypto provider both sides use (ring).
pub fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The client side: the Mozilla roots, plus the certificates of `extra_ca`
/// (a private CA or a self-signed server), named in errors by `flag`.
pub fn client_config(
    extra_ca: Option<&Path>,
    flag: &str,
) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = extra_ca {
        for cert in CertificateDer::pem_file_iter(path)
            .with_context(|| format!("reading {} ({flag})", path.display()))?
        {
            roots
                .add(cert.with_context(|| format!("a certificate in {} ({flag})", path.display()))?)
                .with_context(|| format!("adding the {flag} certificate"))?;
        }
    }
    Ok(Arc::new(
        rustls::ClientConfig::builder_with_provider(provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    ))
}
