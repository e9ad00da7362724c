//! `--acme-cache`: the ACME account and the certificate kept on disk, so a
//! restart serves the certificate at once instead of ordering again.
//!
//! Files are named after the ACME directory (a short hash of its URL), so
//! switching from a test CA to Let's Encrypt with the same folder neither
//! reuses an account the other CA does not know nor serves its
//! certificates. Keys are written owner-only, through a temporary file and
//! a rename, so a crash never leaves half a key.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use instant_acme::AccountCredentials;
use rustls_pki_types::pem::PemObject as _;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use sha2::Digest as _;

/// A certificate chain (leaf first) and its private key.
#[derive(Debug)]
pub struct Issued {
    /// The chain, leaf first.
    pub chain: Vec<CertificateDer<'static>>,
    /// The leaf's private key.
    pub key: PrivateKeyDer<'static>,
}

impl Issued {
    /// Reads a chain and its key from one PEM text.
    pub fn from_pem(pem: &[u8]) -> Result<Self, String> {
        let chain = CertificateDer::pem_slice_iter(pem)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| format!("reading the certificates: {e}"))?;
        if chain.is_empty() {
            return Err("no certificate in it".into());
        }
        let key = PrivateKeyDer::from_pem_slice(pem)
            .map_err(|e| format!("reading the private key: {e}"))?;
        Ok(Self { chain, key })
    }
}

/// The files of one ACME directory and domain in the cache folder.
#[derive(Debug, Clone)]
pub struct Cache {
    dir: PathBuf,
    account: PathBuf,
    certificate: PathBuf,
}

impl Cache {
    /// The cache in `dir` for certificates of `domain` from `directory`.
    pub fn new(dir: &Path, directory: &str, domain: &str) -> Self {
        let hash = hex::encode(&sha2::Sha256::digest(directory.as_bytes())[..8]);
        Self {
            dir: dir.to_owned(),
            account: dir.join(format!("account-{hash}.json")),
            // The domain is a checked DNS name: no '/' and no "..".
            certificate: dir.join(format!("{domain}-{hash}.pem")),
        }
    }

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Creates the folder (owner-only) if it is missing.
    pub fn prepare(&self) -> io::Result<()> {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&self.dir)
    }

    /// The stored account, if there is one.
    pub fn account(&self) -> Result<Option<AccountCredentials>, String> {
        let Some(bytes) = read(&self.account)? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| format!("{} is not an ACME account: {e}", self.account.display()))
    }

    /// Keeps the account.
    pub fn store_account(&self, account: &AccountCredentials) -> io::Result<()> {
        let json = serde_json::to_vec_pretty(account).map_err(io::Error::other)?;
        write_private(&self.account, &json)
    }

    /// The stored certificate and key, if there are.
    pub fn certificate(&self) -> Result<Option<Issued>, String> {
        let Some(pem) = read(&self.certificate)? else {
            return Ok(None);
        };
        Issued::from_pem(&pem)
            .map(Some)
            .map_err(|e| format!("{}: {e}", self.certificate.display()))
    }

    /// Keeps a certificate chain and its key (PEM) in one file.
    pub fn store_certificate(&self, chain_pem: &str, key_pem: &str) -> io::Result<()> {
        let text = format!("{}\n{}", chain_pem.trim_end(), key_pem);
        write_private(&self.certificate, text.as_bytes())
    }
}

/// A file's bytes; `None` when it does not exist.
fn read(path: &Path) -> Result<Option<Vec<u8>>, String> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(bytes)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("reading {}: {e}", path.display())),
    }
}

/// Writes `bytes` to `path`, readable by the owner only, atomically.
fn write_private(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = path.with_extension("tmp");
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_round_trips_through_the_cache() {
        let dir = tempfile::tempdir().expect("dir");
        let cache = Cache::new(&dir.path().join("acme"), "https://ca/dir", "a.example");
        cache.prepare().expect("prepare");
        assert!(cache.certificate().expect("read").is_none());
        let ck = rcgen::generate_simple_self_signed(vec!["a.example".into()]).expect("cert");
        (cache.store_certificate(&ck.cert.pem(), &ck.signing_key.serialize_pem())).expect("store");
        let issued = cache.certificate().expect("read").expect("stored");
        assert_eq!(issued.chain, [ck.cert.der().clone()]);
        // Another directory's files are not this one's.
        let other = Cache::new(&dir.path().join("acme"), "https://other/dir", "a.example");
        assert!(other.certificate().expect("read").is_none());
    }
}
