//! Certificates for TLS tests, written as PEM files: the usual
//! self-signed one for localhost, and a CA certificate used as the
//! server's own (what `openssl req -x509` makes by default).

/// A certificate and its key for localhost, as PEM files in a temp dir.
pub struct Cert {
    dir: tempfile::TempDir,
    pub der: rustls_pki_types::CertificateDer<'static>,
}

impl Cert {
    /// Self-signed, no basicConstraints: a leaf its clients may trust.
    pub fn new() -> Self {
        let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).expect("cert");
        Self::write(&ck.cert, &ck.signing_key)
    }

    /// Self-signed with basicConstraints CA:TRUE, as `openssl req -x509`
    /// makes it: TLS clients refuse it as a server's certificate.
    pub fn ca_used_as_server() -> Self {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params =
            rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let cert = params.self_signed(&key).expect("self-signed CA");
        Self::write(&cert, &key)
    }

    fn write(cert: &rcgen::Certificate, key: &rcgen::KeyPair) -> Self {
        let dir = tempfile::tempdir().expect("dir");
        std::fs::write(dir.path().join("cert.pem"), cert.pem()).expect("write cert");
        std::fs::write(dir.path().join("key.pem"), key.serialize_pem()).expect("write key");
        Self {
            der: cert.der().clone(),
            dir,
        }
    }

    pub fn cert(&self) -> std::path::PathBuf {
        self.dir.path().join("cert.pem")
    }

    pub fn key(&self) -> std::path::PathBuf {
        self.dir.path().join("key.pem")
    }
}
