//! The command line: `hookwire serve`, `tunnel`, `new`, `migrate`, and the
//! commands for the whole loop (`send`, `resend`, `tail`, `wait`). Most
//! flags also read a `HOOKWIRE_*` environment variable.

mod acme;
mod check;
mod loop_commands;

pub use check::{CheckArgs, run as check};

pub use loop_commands::{ResendArgs, SchemaArgs, SendArgs, TailArgs, WaitArgs, WatchArgs};

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::client::tunnel::TunnelConfig;
use crate::core::scope::Scope;
use crate::core::secret::Secret;
use crate::server::config::{AuthProxy, Database, Durability, ServerConfig};

/// Capture, inspect and relay webhooks.
#[derive(Debug, Parser)]
#[command(name = "hookwire", version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server: capture URLs, inspector, API.
    Serve(ServeArgs),
    /// Relay a bin's requests to a local app, e.g. http://localhost:3000.
    Tunnel(TunnelArgs),
    /// Ask a running server for a new capture URL and print it.
    New(NewArgs),
    /// Copy an SQLite instance into an empty PostgreSQL database.
    Migrate(MigrateArgs),
    /// Send a webhook as a provider does: payload, signature, retries.
    Send(SendArgs),
    /// Send a captured request again, byte for byte, to any URL.
    Resend(ResendArgs),
    /// Print each request to a bin as it arrives (--ui: the live view).
    Tail(TailArgs),
    /// Wait for a request matching conditions; print it as JSON.
    Wait(WaitArgs),
    /// Grade a webhook receiver: play a provider and check what it does.
    Check(CheckArgs),
    /// Print the JSON Schema of a provider's payloads (the ones `send`
    /// plays), to load into a bin: PUT /api/bins/{bin_id}/schemas.
    Schema(SchemaArgs),
    /// Make, list and revoke the tokens of a team instance (admin).
    Token(TokenArgs),
}

/// `hookwire token`: the tokens of a team instance, through the API of a
/// running server (as an admin: the operator's --access-token or an admin
/// token).
#[derive(Debug, Args)]
pub struct TokenArgs {
    /// What to do.
    #[command(subcommand)]
    pub action: TokenAction,

    /// The hookwire server (any of its URLs will do).
    #[arg(
        long,
        global = true,
        env = "HOOKWIRE_SERVER",
        default_value = "http://127.0.0.1:8080"
    )]
    pub server: String,

    /// An admin token: the server's --access-token, or a token of the
    /// admin scope.
    #[arg(
        long,
        global = true,
        env = "HOOKWIRE_ACCESS_TOKEN",
        hide_env_values = true
    )]
    pub access_token: Option<String>,

    /// PEM certificate(s) to trust for an https:// server with a private CA.
    #[arg(long, global = true, env = "HOOKWIRE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// Print JSON instead of lines for people.
    #[arg(long, global = true)]
    pub json: bool,
}

/// What `hookwire token` does.
#[derive(Debug, Subcommand)]
pub enum TokenAction {
    /// Make a token and print it, this once (the server keeps only a hash).
    Create {
        /// Whose token: a person or a machine (alice, ci-bot).
        name: String,
        /// What it may do: read (inspector, API reads, tail, wait), tunnel
        /// (read + tunnels), write (tunnel + every change to bins), admin
        /// (write + tokens and the audit log).
        #[arg(long, value_enum)]
        scope: Scope,
    },
    /// List the tokens: names, scopes, when made and last used.
    List,
    /// Revoke a token: refused from now on, its tunnels and sessions end.
    Revoke {
        /// The token's name.
        name: String,
    },
}

/// Flags of `hookwire migrate`.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// The SQLite database to copy (stop its server first).
    #[arg(long)]
    pub from: PathBuf,

    /// The PostgreSQL database to copy into, e.g.
    /// postgres://hookwire:…@db:5432/hookwire; it must hold no bins yet.
    #[arg(long)]
    pub to: String,

    /// PEM certificate(s) to trust for a PostgreSQL server with a private
    /// CA, as for `serve`.
    #[arg(long, env = "HOOKWIRE_DB_CA_CERT")]
    pub db_ca_cert: Option<PathBuf>,
}

/// When to show the full-screen live view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Ui {
    /// When stdout is a terminal.
    Auto,
    /// Always (stdout must be a terminal).
    On,
    /// Never: one line per delivery.
    Off,
}

impl Ui {
    /// True for the view, false for lines; an error when the view is asked
    /// for and stdout is not a terminal.
    pub fn view(self) -> anyhow::Result<bool> {
        let terminal = crate::core::term::Stream::Stdout.is_terminal();
        match self {
            Ui::Off => Ok(false),
            Ui::Auto => Ok(terminal),
            Ui::On if terminal => Ok(true),
            Ui::On => anyhow::bail!(
                "the live view (--ui on) needs a terminal, and stdout is not one: run it in a \
                 terminal, or use --ui=off (one line per request) when its output goes to a file \
                 or a pipe"
            ),
        }
    }
}

/// Flags of `hookwire tunnel`.
#[derive(Debug, Args)]
pub struct TunnelArgs {
    /// The bin: its capture URL (http://127.0.0.1:8080/<bin-id> or
    /// /<alias>), or its inspector or API URL.
    pub capture_url: String,

    /// The local app to relay to: a port (3000), HOST:PORT or a URL
    /// (http://localhost:3000/webhooks). Give it several times to deliver every
    /// request to each (fan-out; each target is its own delivery stream).
    #[arg(long, env = "HOOKWIRE_TO", required = true)]
    pub to: Vec<String>,

    /// Send requests whose sub-path matches PATH_GLOB to URL instead
    /// (repeatable, first match wins; `*` within a segment, `**` across):
    /// '/stripe/**=http://localhost:4242/webhooks'. A URL with a path is
    /// the endpoint itself; without one the sub-path is appended.
    #[arg(long = "route", value_name = "PATH_GLOB=URL")]
    pub routes: Vec<String>,

    /// Deliver only requests meeting this condition (repeatable: all must
    /// hold): method=POST, path=/jobs/*, header.NAME=GLOB, query.NAME=GLOB,
    /// json:/pointer=VALUE, body~TEXT, schema=valid|invalid, ! to negate. The others are recorded
    /// as skipped.
    #[arg(long = "filter", value_name = "COND")]
    pub filters: Vec<String>,

    /// The server's access token, when it has one (sent in a header, never
    /// in the URL).
    #[arg(long, env = "HOOKWIRE_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,

    /// Senders get the local app's answer (status, headers, body) instead of
    /// the bin's configured response, like ngrok.
    #[arg(long, env = "HOOKWIRE_PASSTHROUGH")]
    pub passthrough: bool,

    /// The name the server tracks deliveries under; restart with the same
    /// name to resume where it stopped. Default: this machine's host name.
    #[arg(long, env = "HOOKWIRE_TUNNEL_NAME", value_parser = parse_name)]
    pub name: Option<String>,

    /// Relay the bin's stored history first (what this name has not had).
    #[arg(long, env = "HOOKWIRE_FROM_START")]
    pub from_start: bool,

    /// Deliveries to the app running at once. 1 (the default) keeps strict
    /// arrival order, each answered before the next starts; N > 1 starts
    /// them in order and lets N run at once (at most 64). Not with
    /// --passthrough, which delivers each request as it arrives.
    #[arg(long, env = "HOOKWIRE_CONCURRENCY", default_value_t = 1,
          value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,

    /// Largest body accepted from the server: match the server's setting.
    #[arg(long, env = "HOOKWIRE_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// PEM certificate(s) to trust besides the public roots, for an https
    /// server with a private CA or a self-signed certificate.
    #[arg(long, env = "HOOKWIRE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,

    /// The full-screen live view: auto (when stdout is a terminal), on or
    /// off (one line per delivery). Keys: ↑/↓ or j/k move, Enter or Tab
    /// switch panes, r replay, / filter, q quit.
    #[arg(long, env = "HOOKWIRE_UI", value_enum, default_value_t = Ui::Auto)]
    pub ui: Ui,
}

fn parse_name(text: &str) -> Result<String, String> {
    if crate::core::protocol::valid_name(text) {
        Ok(text.to_owned())
    } else {
        Err("use 1-64 letters, digits, '-', '_' or '.'".into())
    }
}

/// This machine's host name as a tunnel name, or `default`.
fn host_name() -> String {
    let raw = std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .unwrap_or_default();
    let name: String = raw
        .trim()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if name.is_empty() {
        "default".into()
    } else {
        name
    }
}

impl TunnelArgs {
    /// The client settings these flags describe.
    pub fn config(&self) -> anyhow::Result<TunnelConfig> {
        // `--to 3000`, `--route '/x/*=localhost:3001'`: the short forms
        // mean http://localhost.
        let app_url = crate::core::pasted::app_url;
        let to = (self.to.iter())
            .map(|t| app_url("--to", t))
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        let routes = (self.routes.iter())
            .map(|r| match r.split_once('=') {
                Some((glob, url)) => {
                    app_url(&format!("--route {r:?}:"), url).map(|url| format!("{glob}={url}"))
                }
                // Refused below, with the message the server would give.
                None => Ok(r.clone()),
            })
            .collect::<Result<Vec<_>, _>>()
            .map_err(anyhow::Error::msg)?;
        // Refused at start, with the message the server would give.
        crate::core::routing::Streams::from_flags(&to, &routes, &self.filters)
            .map_err(anyhow::Error::msg)?;
        // A flag that would be silently ignored is refused instead.
        if self.passthrough && self.concurrency > 1 {
            anyhow::bail!(
                "--concurrency does nothing with --passthrough: each sender waits for the app's \
                 own answer, so every request is delivered as it arrives; drop --concurrency \
                 (or HOOKWIRE_CONCURRENCY), or drop --passthrough to bound deliveries"
            );
        }
        Ok(TunnelConfig {
            capture_url: self.capture_url.clone(),
            to,
            routes,
            filters: self.filters.clone(),
            access_token: self
                .access_token
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            passthrough: self.passthrough,
            name: self.name.clone().unwrap_or_else(host_name),
            from_start: self.from_start,
            concurrency: usize::from(self.concurrency),
            max_message: crate::core::protocol::max_message(self.max_body_bytes),
            tls: crate::core::tls::client_config(self.ca_cert.as_deref(), "--ca-cert")?,
        })
    }
}

/// Flags of `hookwire serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on. Keep it on loopback unless the instance is
    /// meant to be reached from other machines.
    #[arg(long, env = "HOOKWIRE_LISTEN", default_value = "127.0.0.1:8080")]
    pub listen: SocketAddr,

    /// SQLite database file, created if missing (`sqlite:PATH` works too),
    /// or a PostgreSQL URL (postgres://USER:PASS@HOST:5432/DB) shared by
    /// several replicas.
    #[arg(
        long,
        env = "HOOKWIRE_DB",
        default_value = "hookwire.db",
        hide_env_values = true
    )]
    pub db: String,

    /// When a capture is acknowledged: "process" once its commit is in the
    /// OS (survives a killed process), "fsync" once it reached the disk
    /// (survives a power cut; one flush per batch of captures).
    #[arg(long, env = "HOOKWIRE_DURABILITY", value_enum, default_value_t = Durability::Process)]
    pub durability: Durability,

    /// PEM certificate(s) to trust besides the public roots for a
    /// PostgreSQL server with a private CA (add ?sslmode=require to --db
    /// to insist on TLS). Refused with an SQLite --db.
    #[arg(long, env = "HOOKWIRE_DB_CA_CERT")]
    pub db_ca_cert: Option<PathBuf>,

    /// Base URL in the URLs the server prints and returns, when it is
    /// reached through a proxy (e.g. https://hooks.example.com).
    #[arg(long, env = "HOOKWIRE_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,

    /// Largest request body a capture accepts; larger ones get 413.
    #[arg(long, env = "HOOKWIRE_MAX_BODY_BYTES", default_value_t = 10 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// Requests a bin keeps; the oldest go first. 0 keeps all.
    #[arg(long, env = "HOOKWIRE_MAX_REQUESTS_PER_BIN", default_value_t = 10_000)]
    pub max_requests_per_bin: u64,

    /// Purge requests older than this (e.g. 12h, 7d, 30d); "off" keeps them.
    #[arg(long, env = "HOOKWIRE_RETENTION", default_value = "7d", value_parser = parse_retention)]
    pub retention: Retention,

    /// Require this token for the inspector (login page), the API and
    /// tunnels (Authorization: Bearer). Capture URLs stay public.
    #[arg(long, env = "HOOKWIRE_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,

    /// Behind a login proxy (oauth2-proxy, Cloudflare Access, Tailscale):
    /// take the signed-in user from this header (e.g. X-Forwarded-Email),
    /// on connections from --trusted-proxies only.
    #[arg(long, env = "HOOKWIRE_AUTH_PROXY_HEADER", requires = "trusted_proxies", value_parser = parse_header_name)]
    pub auth_proxy_header: Option<String>,

    /// Addresses the login proxy connects from, as CIDRs
    /// (127.0.0.1/32,10.0.0.0/8): the header is ignored from any other.
    #[arg(long, env = "HOOKWIRE_TRUSTED_PROXIES", value_delimiter = ',', requires = "auth_proxy_header", value_parser = parse_cidr)]
    pub trusted_proxies: Vec<ipnet::IpNet>,

    /// What users the login proxy signs in may do.
    #[arg(long, env = "HOOKWIRE_AUTH_PROXY_SCOPE", value_enum, default_value_t = Scope::Read, requires = "auth_proxy_header")]
    pub auth_proxy_scope: Scope,

    /// Captures a bin accepts per second, bursts up to twice that; more get
    /// 429 with Retry-After. 0 = no limit.
    #[arg(long, env = "HOOKWIRE_RATE_LIMIT", default_value_t = 0)]
    pub rate_limit: u32,

    /// Body bytes all bins may store together; past it captures get 507.
    /// 0 = no quota.
    #[arg(long, env = "HOOKWIRE_MAX_STORED_BYTES", default_value_t = 0)]
    pub max_stored_bytes: u64,

    /// Connections served at once; more wait in the listen backlog.
    #[arg(long, env = "HOOKWIRE_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Serve HTTPS with this PEM certificate chain (with --tls-key).
    #[arg(long, env = "HOOKWIRE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,

    /// The PEM private key of --tls-cert.
    #[arg(long, env = "HOOKWIRE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,

    /// Serve HTTPS with a certificate for this domain from Let's Encrypt
    /// (or --acme-directory), obtained with the TLS-ALPN-01 challenge on
    /// the listening port (the CA connects to DOMAIN:443, which must reach
    /// --listen) and renewed before it expires. Not with --tls-cert.
    #[arg(long, env = "HOOKWIRE_ACME_DOMAIN")]
    pub acme_domain: Option<String>,

    /// Contact address of the ACME account (optional; the CA may write
    /// about problems with the certificate).
    #[arg(long, env = "HOOKWIRE_ACME_EMAIL")]
    pub acme_email: Option<String>,

    /// The ACME directory URL. Default: Let's Encrypt's production
    /// directory; its staging one, or a private CA (Pebble, step-ca) for
    /// trials.
    #[arg(long, env = "HOOKWIRE_ACME_DIRECTORY")]
    pub acme_directory: Option<String>,

    /// PEM root certificate(s) to trust, besides the public roots, when
    /// talking to the ACME directory (a private or test CA).
    #[arg(long, env = "HOOKWIRE_ACME_CA_CERT")]
    pub acme_ca_cert: Option<PathBuf>,

    /// Folder keeping the ACME account and certificate, so a restart does
    /// not order again. Default: hookwire-acme beside an SQLite --db
    /// (required with PostgreSQL).
    #[arg(long, env = "HOOKWIRE_ACME_CACHE")]
    pub acme_cache: Option<PathBuf>,

    /// Log format on stderr: text for people, or json (one object per
    /// line: level, target, fields, spans) for log collectors.
    #[arg(long, env = "HOOKWIRE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How `serve` writes its log lines (`--log-format`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// One line of text per event; coloured only on a terminal without
    /// `NO_COLOR`.
    #[default]
    Text,
    /// One JSON object per line, start-up lines included.
    Json,
}

/// Flags of `hookwire new`.
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The hookwire server to ask (any of its URLs will do: its inspector,
    /// a capture URL…).
    #[arg(long, env = "HOOKWIRE_SERVER", default_value = "http://127.0.0.1:8080")]
    pub server: String,

    /// The server's access token, when it has one.
    #[arg(long, env = "HOOKWIRE_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,

    /// A readable name the bin also captures at (3-64 of a-z, 0-9, '-'),
    /// e.g. `stripe-dev` for http://127.0.0.1:8080/stripe-dev.
    #[arg(long)]
    pub alias: Option<String>,

    /// PEM certificate(s) to trust for an https:// server with a private CA.
    #[arg(long, env = "HOOKWIRE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

/// A retention period, or none.
#[derive(Debug, Clone, Copy)]
pub struct Retention(pub Option<Duration>);

fn parse_retention(text: &str) -> Result<Retention, String> {
    if matches!(text, "off" | "0" | "never") {
        return Ok(Retention(None));
    }
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("{e}: write a duration like 12h, 7d or 30d, or \"off\""))?;
    if d.is_zero() {
        return Ok(Retention(None));
    }
    Ok(Retention(Some(d)))
}

fn parse_header_name(text: &str) -> Result<String, String> {
    axum::http::HeaderName::try_from(text)
        .map(|h| h.as_str().to_owned())
        .map_err(|_| "not a header name: write one like X-Forwarded-Email".into())
}

fn parse_cidr(text: &str) -> Result<ipnet::IpNet, String> {
    let text = text.trim();
    text.parse::<ipnet::IpNet>()
        .or_else(|_| text.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
        .map_err(|_| {
            format!("{text:?} is not an address or CIDR: write e.g. 127.0.0.1/32,10.0.0.0/8")
        })
}

fn parse_public_url(text: &str) -> Result<String, String> {
    if !crate::core::urls::is_http(text) {
        return Err("must start with http:// or https://, e.g. https://hooks.example.com".into());
    }
    Ok(text.trim_end_matches('/').to_owned())
}

impl ServeArgs {
    /// The server settings these flags describe.
    pub fn config(&self) -> anyhow::Result<ServerConfig> {
        let db = Database::parse(&self.db);
        if let (Database::Sqlite(path), Some(_)) = (&db, &self.db_ca_cert) {
            anyhow::bail!(
                "--db-ca-cert is for a PostgreSQL --db (postgres://…), and --db {} is an SQLite \
                 file: remove --db-ca-cert (or HOOKWIRE_DB_CA_CERT)",
                path.display()
            );
        }
        let acme = match self.acme_settings(&db)? {
            Some(settings) => Some(crate::server::acme::Acme::new(settings)?),
            None => None,
        };
        let tls = match (&self.tls_cert, &self.tls_key, &acme) {
            (Some(cert), Some(key), _) => Some(crate::server::tls::server_config(cert, key)?),
            (_, _, Some(acme)) => Some(acme.server_config()),
            _ => None,
        };
        Ok(ServerConfig {
            db,
            durability: self.durability,
            db_ca_cert: self.db_ca_cert.clone(),
            public_url: self.public_url.clone(),
            max_body_bytes: self.max_body_bytes,
            max_requests_per_bin: self.max_requests_per_bin,
            retention: self.retention.0,
            access_token: self
                .access_token
                .as_deref()
                .filter(|t| !t.is_empty())
                .map(Secret::new),
            auth_proxy: self.auth_proxy_header.clone().map(|header| AuthProxy {
                header,
                trusted: self.trusted_proxies.clone(),
                scope: self.auth_proxy_scope,
            }),
            rate_limit: self.rate_limit,
            max_stored_bytes: self.max_stored_bytes,
            max_connections: self.max_connections.max(1),
            tls,
            acme,
            ..ServerConfig::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retention_parses() {
        assert_eq!(
            parse_retention("7d").map(|r| r.0),
            Ok(Some(Duration::from_secs(7 * 86400)))
        );
        assert_eq!(parse_retention("off").map(|r| r.0), Ok(None));
        assert!(parse_retention("soon").is_err());
    }

    #[test]
    fn public_url_is_normalised() {
        assert_eq!(
            parse_public_url("https://h.example.com/"),
            Ok("https://h.example.com".into())
        );
        assert!(parse_public_url("h.example.com").is_err());
    }

    #[test]
    fn cli_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }
}
