//! `serve --acme-*`: the flags read into [`Settings`], and the
//! combinations that make no sense refused in words.

use std::path::PathBuf;

use super::ServeArgs;
use crate::server::acme::{LETS_ENCRYPT, Settings};
use crate::server::config::Database;

impl ServeArgs {
    /// The ACME settings, `None` without `--acme-domain`; an error naming
    /// the flags for a combination that makes no sense.
    pub(super) fn acme_settings(&self, db: &Database) -> anyhow::Result<Option<Settings>> {
        let Some(domain) = &self.acme_domain else {
            let stray = [
                ("--acme-email", self.acme_email.is_some()),
                ("--acme-directory", self.acme_directory.is_some()),
                ("--acme-ca-cert", self.acme_ca_cert.is_some()),
                ("--acme-cache", self.acme_cache.is_some()),
            ];
            if let Some((flag, _)) = stray.iter().find(|(_, set)| *set) {
                let env = format!("HOOKWIRE_{}", flag[2..].replace('-', "_").to_uppercase());
                anyhow::bail!(
                    "{flag} (or {env}) does nothing without --acme-domain: add --acme-domain \
                     NAME to get a certificate for NAME, or remove {flag}"
                );
            }
            return Ok(None);
        };
        if self.tls_cert.is_some() || self.tls_key.is_some() {
            anyhow::bail!(
                "--acme-domain obtains a certificate and --tls-cert/--tls-key give one: use \
                 one or the other (remove --tls-cert and --tls-key, or --acme-domain)"
            );
        }
        let domain = parse_domain(domain).map_err(anyhow::Error::msg)?;
        let email = match &self.acme_email {
            Some(e) => Some(parse_email(e).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let directory = match &self.acme_directory {
            Some(url) => parse_directory(url).map_err(anyhow::Error::msg)?,
            None => LETS_ENCRYPT.to_owned(),
        };
        let cache = match (&self.acme_cache, db) {
            (Some(dir), _) => dir.clone(),
            (None, Database::Sqlite(path)) => default_cache(path),
            (None, Database::Postgres(_)) => anyhow::bail!(
                "--acme-domain with a PostgreSQL --db needs --acme-cache DIR: there is no \
                 database file to keep the certificate beside (with several replicas, see \
                 docs/https.md)"
            ),
        };
        Ok(Some(Settings {
            domain,
            email,
            directory,
            ca_cert: self.acme_ca_cert.clone(),
            cache,
        }))
    }
}

/// `hookwire-acme` in the SQLite database's folder.
fn default_cache(db: &std::path::Path) -> PathBuf {
    let folder = db.parent().filter(|p| !p.as_os_str().is_empty());
    folder.map_or_else(
        || PathBuf::from("hookwire-acme"),
        |f| f.join("hookwire-acme"),
    )
}

/// A DNS name a CA can validate with TLS-ALPN-01, lower-cased.
fn parse_domain(text: &str) -> Result<String, String> {
    let name = text.trim().trim_end_matches('.').to_ascii_lowercase();
    let why = if name.contains('*') {
        "TLS-ALPN-01 cannot validate a wildcard name: give the exact name"
    } else if name.parse::<std::net::IpAddr>().is_ok() {
        "give the DNS name that points at this server, not an IP address"
    } else if rustls_pki_types::DnsName::try_from(name.as_str()).is_err() || !name.contains('.') {
        "give a DNS name such as hooks.example.com"
    } else {
        return Ok(name);
    };
    Err(format!("--acme-domain {text:?}: {why}"))
}

fn parse_email(text: &str) -> Result<String, String> {
    let ok = text.split_once('@').is_some_and(|(user, host)| {
        !user.is_empty() && host.contains('.') && !text.contains(char::is_whitespace)
    });
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "--acme-email {text:?} is not an email address: write it as ops@example.com"
        ))
    }
}

fn parse_directory(text: &str) -> Result<String, String> {
    if text.starts_with("https://") && text.len() > "https://".len() {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "--acme-directory {text:?}: ACME directories are https:// URLs, e.g. {LETS_ENCRYPT}"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_names_a_ca_can_validate() {
        assert_eq!(
            parse_domain("Hooks.Example.com."),
            Ok("hooks.example.com".into())
        );
        for bad in ["*.example.com", "127.0.0.1", "localhost", "a b.com", ""] {
            assert!(parse_domain(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn emails_and_directories_are_checked() {
        assert!(parse_email("ops@example.com").is_ok());
        assert!(parse_email("ops").is_err());
        assert!(parse_directory("https://ca.example/dir").is_ok());
        assert!(parse_directory("http://ca.example/dir").is_err());
    }

    #[test]
    fn the_cache_defaults_beside_the_database() {
        assert_eq!(
            default_cache("data/h.db".as_ref()),
            PathBuf::from("data/hookwire-acme")
        );
        assert_eq!(
            default_cache("h.db".as_ref()),
            PathBuf::from("hookwire-acme")
        );
    }
}
