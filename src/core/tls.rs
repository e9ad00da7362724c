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

/// A TLS failure talking to `url`, in words with the fix: what rustls
/// reports (`invalid peer certificate: Other(OtherError(CaUsedAsEndEntity))`)
/// names the rule broken, not what to do about it.
pub fn in_words(err: &rustls::Error, url: &str) -> String {
    use rustls::CertificateError as C;
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::Other(other) if is_ca_as_end_entity(other) => format!(
                "the server's certificate at {url} is a CA certificate (basicConstraints CA:TRUE), \
                 which TLS clients refuse as a server certificate: make a leaf certificate signed \
                 by a CA (e.g. mkcert, or openssl with -addext basicConstraints=critical,CA:FALSE) \
                 and pass the CA with --ca-cert"
            ),
            C::UnknownIssuer => format!(
                "the server's certificate at {url} is signed by a CA this machine does not trust: \
                 pass that CA's certificate with --ca-cert"
            ),
            C::NotValidForName => format!(
                "the server's certificate is not valid for the host of {url}: use a URL with a \
                 name the certificate holds, or make a certificate for this host"
            ),
            C::NotValidForNameContext {
                expected,
                presented,
            } => format!(
                "the server's certificate is for {} but {url} asks for {}: use a URL with one \
                 of those names, or make a certificate for this host",
                if presented.is_empty() {
                    "no name".to_owned()
                } else {
                    presented
                        .iter()
                        .map(|p| bare(p))
                        .collect::<Vec<_>>()
                        .join(", ")
                },
                expected.to_str()
            ),
            C::Expired | C::ExpiredContext { .. } => format!(
                "the server's certificate at {url} has expired: renew it (or check this \
                 machine's clock)"
            ),
            C::NotValidYet | C::NotValidYetContext { .. } => format!(
                "the server's certificate at {url} is not valid yet: check this machine's clock"
            ),
            other => format!("the server's certificate at {url} was refused: {other:?}"),
        },
        rustls::Error::InvalidMessage(rustls::InvalidMessage::InvalidContentType) => {
            let plain = url
                .replacen("https://", "http://", 1)
                .replacen("wss://", "ws://", 1);
            format!("the server at {url} answered in plain HTTP: use {plain}")
        }
        other => format!("TLS with {url} failed: {other}"),
    }
}

/// A name as rustls presents it (`DnsName("localhost")`), bare.
fn bare(presented: &str) -> &str {
    presented
        .strip_suffix(')')
        .and_then(|p| p.split_once('('))
        .map_or(presented, |(_, inner)| inner.trim_matches('"'))
}

/// webpki's "a CA certificate presented as the server's own", which
/// rustls passes on only as an opaque `OtherError`.
fn is_ca_as_end_entity(other: &rustls::OtherError) -> bool {
    other
        .0
        .downcast_ref::<webpki::Error>()
        .is_some_and(|e| matches!(e, webpki::Error::CaUsedAsEndEntity))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(e: rustls::Error) -> String {
        in_words(&e, "https://h:8443")
    }

    #[test]
    fn certificate_errors_say_what_to_do() {
        let ca = rustls::Error::InvalidCertificate(rustls::CertificateError::Other(
            rustls::OtherError(Arc::new(webpki::Error::CaUsedAsEndEntity)),
        ));
        let w = words(ca);
        assert!(
            w.contains("is a CA certificate (basicConstraints CA:TRUE)"),
            "{w}"
        );
        assert!(w.contains("pass the CA with --ca-cert"), "{w}");
        let w = words(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ));
        assert!(w.contains("--ca-cert"), "{w}");
        let w = words(rustls::Error::InvalidCertificate(
            rustls::CertificateError::NotValidForNameContext {
                expected: rustls_pki_types::ServerName::try_from("127.0.0.1")
                    .expect("name")
                    .to_owned(),
                presented: vec!["DnsName(\"localhost\")".into()],
            },
        ));
        assert!(w.contains("asks for 127.0.0.1"), "{w}");
        let w = words(rustls::Error::InvalidCertificate(
            rustls::CertificateError::Expired,
        ));
        assert!(w.contains("has expired"), "{w}");
        let w = words(rustls::Error::InvalidMessage(
            rustls::InvalidMessage::InvalidContentType,
        ));
        assert_eq!(
            w,
            "the server at https://h:8443 answered in plain HTTP: use http://h:8443"
        );
    }
}
