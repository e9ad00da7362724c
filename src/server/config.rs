//! The server's configuration, handed over by the CLI (`serve`): plain
//! settings, no I/O.

use std::path::PathBuf;
use std::time::Duration;

use crate::core::scope::Scope;
use crate::core::secret::Secret;

/// Everything `serve` needs beyond the bound listener.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Where the data lives (`--db`).
    pub db: Database,
    /// Base URL used in the URLs the server prints and returns, without a
    /// trailing slash. `None`: derived from the request's `Host` header.
    pub public_url: Option<String>,
    /// Largest body a capture accepts; larger ones get 413 and are not stored.
    pub max_body_bytes: usize,
    /// A bin keeps at most this many of its newest requests; 0 = no cap.
    pub max_requests_per_bin: u64,
    /// Requests older than this are purged; `None` keeps them forever.
    pub retention: Option<Duration>,
    /// Protects the inspector, the API and tunnels; captures stay public.
    pub access_token: Option<Secret>,
    /// A login proxy in front (`--auth-proxy-header`): who is signed in.
    pub auth_proxy: Option<AuthProxy>,
    /// Captures a bin accepts per second (bursts up to twice that); 0 = no limit.
    pub rate_limit: u32,
    /// Body bytes all bins may store together; 0 = no quota.
    pub max_stored_bytes: u64,
    /// Connections served at once; more wait in the listen backlog.
    pub max_connections: usize,
    /// How long a capture's body may take to arrive once its head has.
    pub body_deadline: Duration,
    /// Serve HTTPS with this certificate and key (`--tls-cert`, `--tls-key`),
    /// or with the certificates of `acme`.
    pub tls: Option<std::sync::Arc<tokio_rustls::rustls::ServerConfig>>,
    /// Obtains and renews the certificate `tls` serves (`--acme-domain`).
    pub acme: Option<std::sync::Arc<crate::server::acme::Acme>>,
    /// When a capture counts as stored, and so may be acknowledged.
    pub durability: Durability,
    /// Certificates to trust, besides the public roots, when PostgreSQL
    /// speaks TLS (`--db-ca-cert`).
    pub db_ca_cert: Option<PathBuf>,
}

/// A login proxy (oauth2-proxy, Cloudflare Access…) that signs users in
/// and names them in a header.
#[derive(Debug, Clone)]
pub struct AuthProxy {
    /// The header naming the user (lowercase).
    pub header: String,
    /// Where the proxy connects from; the header is ignored from elsewhere.
    pub trusted: Vec<ipnet::IpNet>,
    /// What its users may do.
    pub scope: Scope,
}

impl AuthProxy {
    /// True when `peer` is one of the proxy's addresses.
    pub fn trusts(&self, peer: std::net::IpAddr) -> bool {
        // An IPv4 client on a dual-stack socket shows as ::ffff:a.b.c.d.
        let peer = match peer {
            std::net::IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(peer, std::net::IpAddr::V4),
            v4 => v4,
        };
        self.trusted.iter().any(|net| net.contains(&peer))
    }
}

/// Where the data lives: an SQLite file (the embedded default) or a
/// PostgreSQL database shared by several replicas.
#[derive(Clone, PartialEq, Eq)]
pub enum Database {
    /// A file path (`hookwire.db`, `sqlite:hookwire.db`).
    Sqlite(PathBuf),
    /// A `postgres://` or `postgresql://` connection URL.
    Postgres(String),
}

impl Database {
    /// Reads `--db`: a PostgreSQL URL, `sqlite:PATH`, or a path.
    pub fn parse(text: &str) -> Self {
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            Self::Postgres(text.to_owned())
        } else {
            Self::Sqlite(PathBuf::from(text.strip_prefix("sqlite:").unwrap_or(text)))
        }
    }
}

/// Shown in logs and errors with the password masked.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "{}", path.display()),
            Self::Postgres(url) => {
                // postgres://user:password@host/db → postgres://user:****@host/db
                let masked = url.split_once("://").and_then(|(scheme, rest)| {
                    let (auth, host) = rest.split_once('@')?;
                    let (user, _) = auth.split_once(':')?;
                    Some(format!("{scheme}://{user}:****@{host}"))
                });
                f.write_str(masked.as_deref().unwrap_or(url))
            }
        }
    }
}

impl std::fmt::Debug for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Database({self})")
    }
}

/// When a commit counts as durable (`--durability`). Group commit
/// keeps the cost of `Fsync` to one flush per batch of captures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Durability {
    /// In the operating system's page cache once committed: survives a
    /// killed process, not a power cut.
    #[default]
    Process,
    /// Flushed to the disk before the commit returns: survives a power cut.
    Fsync,
}

impl ServerConfig {
    /// The base URL for links the server hands out: `--public-url`, else
    /// the scheme it serves and the `Host` the client used.
    pub fn public_base(&self, host: Option<&str>) -> String {
        match &self.public_url {
            Some(url) => url.clone(),
            None => {
                let scheme = if self.tls.is_some() { "https" } else { "http" };
                format!("{scheme}://{}", host.unwrap_or("127.0.0.1"))
            }
        }
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            db: Database::Sqlite(PathBuf::from("hookwire.db")),
            public_url: None,
            max_body_bytes: 10 * 1024 * 1024,
            max_requests_per_bin: 10_000,
            retention: Some(Duration::from_secs(7 * 24 * 3600)),
            access_token: None,
            auth_proxy: None,
            rate_limit: 0,
            max_stored_bytes: 0,
            max_connections: 1024,
            body_deadline: Duration::from_secs(60),
            tls: None,
            acme: None,
            durability: Durability::Process,
            db_ca_cert: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Database;

    #[test]
    fn db_parses_and_masks_the_password() {
        let pg = Database::parse("postgres://hookwire:s3cret@db:5432/hooks?sslmode=require");
        assert_eq!(
            pg.to_string(),
            "postgres://hookwire:****@db:5432/hooks?sslmode=require"
        );
        assert!(!format!("{pg:?}").contains("s3cret"));
        assert_eq!(
            Database::parse("sqlite:data/h.db"),
            Database::Sqlite("data/h.db".into())
        );
        assert_eq!(Database::parse("h.db"), Database::Sqlite("h.db".into()));
    }
}
