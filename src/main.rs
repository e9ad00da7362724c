//! The `hookwire` binary: parses the command line, starts logging and hands
//! over to the library.

use anyhow::Context as _;
use clap::Parser as _;
use hookwire::cli::{Cli, Command};
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("HOOKWIRE_LOG")
                .unwrap_or_else(|_| EnvFilter::new("hookwire=info")),
        )
        .with_writer(std::io::stderr)
        .init();
    match cli.command {
        Command::Serve(args) => {
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
            let addr = listener.local_addr()?;
            let config = args.config()?;
            let scheme = if config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            let base = config
                .public_url
                .clone()
                .unwrap_or_else(|| format!("{scheme}://{addr}"));
            eprintln!(
                "hookwire is listening on {addr}; database {} (durability: {})",
                config.db,
                match config.durability {
                    hookwire::config::Durability::Process => "process, survives a killed process",
                    hookwire::config::Durability::Fsync => "fsync, survives a power cut",
                }
            );
            match (&config.access_token, addr.ip().is_loopback()) {
                (Some(_), _) => eprintln!(
                    "access token required for the inspector, API and tunnels; capture URLs are public"
                ),
                (None, true) => eprintln!(
                    "no access token: only this machine can reach the server (--listen {addr})"
                ),
                (None, false) => eprintln!(
                    "WARNING: listening on {addr} with no access token: anyone who can reach it \
                     can read every captured request. Set --access-token (or HOOKWIRE_ACCESS_TOKEN)."
                ),
            }
            eprintln!("open {base}/ and press \"New URL\" to get a capture URL");
            hookwire::server::serve(listener, config, shutdown_signal()).await
        }
        Command::Tunnel(args) => {
            hookwire::tunnel::client::run(args.config()?, shutdown_signal()).await
        }
        Command::Migrate(args) => {
            let tls = hookwire::tls::client_config(args.db_ca_cert.as_deref(), "--db-ca-cert")?;
            let copied = hookwire::store::copy_sqlite_to_postgres(&args.from, &args.to, &tls)
                .await
                .with_context(|| format!("copying {} into PostgreSQL", args.from.display()))?;
            println!(
                "copied {} bins, {} requests, {} tunnel positions, {} deliveries",
                copied.bins, copied.requests, copied.tunnels, copied.deliveries
            );
            Ok(())
        }
        Command::New(args) => {
            let bin = hookwire::mint::mint(
                &args.server,
                args.access_token.as_deref(),
                args.alias.as_deref(),
            )
            .await?;
            println!("capture: {}", bin.capture_url);
            if let Some(url) = &bin.alias_url {
                println!("alias:   {url}");
            }
            println!("inspect: {}", bin.inspect_url);
            Ok(())
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed now, not
/// when the future is first polled: a SIGTERM that arrives while the
/// server is still starting must stop it cleanly, not kill it.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let signals = {
        use tokio::signal::unix::{SignalKind, signal};
        (
            signal(SignalKind::interrupt()).ok(),
            signal(SignalKind::terminate()).ok(),
        )
    };
    async move {
        #[cfg(unix)]
        {
            let (mut int, mut term) = signals;
            let int = async {
                match int.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            let term = async {
                match term.as_mut() {
                    Some(s) => s.recv().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = int => {},
                _ = term => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
