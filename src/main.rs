//! The `hookwire` binary: parses the command line, starts logging and hands
//! over to the library.

use anyhow::Context as _;
use clap::Parser as _;
use hookwire::cli::{Cli, Command, LogFormat};
use std::io::Write as _;
use tracing_subscriber::EnvFilter;

/// Exit status of `send`/`resend`/`tail`/`wait` when they cannot do their
/// job at all (a bad flag, token or URL); 1 means "not delivered" or
/// "timed out" there.
const CANNOT: i32 = 2;

fn main() {
    // First thing, before the runtime's threads start: `wait` counts
    // requests from here (or from the process's start, which the OS knows
    // a little earlier).
    let started = hookwire::core::time::now_millis();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build();
    let code = match runtime {
        Ok(runtime) => {
            let code = runtime.block_on(cli_main(started));
            // As returning from `#[tokio::main]` would: blocking tasks
            // (the store's writer) finish before the process exits.
            drop(runtime);
            code
        }
        Err(e) => {
            eprintln!("Error: cannot start the async runtime: {e}");
            1
        }
    };
    std::process::exit(code);
}

/// Parses the command line and runs it; the exit status.
async fn cli_main(started: hookwire::core::time::Millis) -> i32 {
    let cli = Cli::parse();
    let format = match &cli.command {
        Command::Serve(args) => args.log_format,
        _ => LogFormat::Text,
    };
    init_logs(format);
    let whole_loop = matches!(
        cli.command,
        Command::Send(_)
            | Command::Resend(_)
            | Command::Tail(_)
            | Command::Wait(_)
            | Command::Check(_)
    );
    match run(cli.command, started).await {
        Ok(code) => code,
        // A log collector reads `serve --log-format json`: its last words
        // are a JSON line too.
        Err(e) if format == LogFormat::Json => {
            tracing::error!(error = format!("{e:#}"), "hookwire stopped");
            1
        }
        Err(e) => {
            eprintln!("Error: {e:#}");
            if whole_loop { CANNOT } else { 1 }
        }
    }
}

/// Starts the log subscriber on stderr. JSON lines carry the event's
/// level, target and fields and the spans it happened in (`conn{peer}`,
/// `tunnel{bin,tunnel}`, `request{method,path}` at debug).
fn init_logs(format: LogFormat) {
    let filter =
        EnvFilter::try_from_env("HOOKWIRE_LOG").unwrap_or_else(|_| EnvFilter::new("hookwire=info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => logs.json().with_ansi(false).init(),
        // Colour codes only for a person at a terminal, never in a file.
        LogFormat::Text => logs
            .with_ansi(hookwire::core::term::Stream::Stderr.colour())
            .init(),
    }
}

/// What the person who started `serve` should know, once: plain lines in
/// text mode (scripts wait for "hookwire is listening on"), log events
/// like every other line in JSON mode.
fn announce(
    format: LogFormat,
    addr: std::net::SocketAddr,
    config: &hookwire::server::config::ServerConfig,
    base: &str,
) {
    let (durability, survives) = match config.durability {
        hookwire::server::config::Durability::Process => ("process", "survives a killed process"),
        hookwire::server::config::Durability::Fsync => ("fsync", "survives a power cut"),
    };
    let json = format == LogFormat::Json;
    if json {
        tracing::info!(%addr, db = %config.db, durability, "hookwire is listening on {addr}");
    } else {
        eprintln!(
            "hookwire is listening on {addr}; database {} (durability: {durability}, {survives})",
            config.db
        );
    }
    let note = |warning: bool, text: String| match (json, warning) {
        (false, _) => eprintln!("{text}"),
        (true, false) => tracing::info!("{text}"),
        (true, true) => tracing::warn!("{text}"),
    };
    let signs_in = config.access_token.is_some() || config.auth_proxy.is_some();
    match (signs_in, addr.ip().is_loopback()) {
        (true, _) => note(
            false,
            match &config.auth_proxy {
                Some(p) => format!(
                    "the inspector, API and tunnels need a token or the login proxy's {} header \
                     (scope {}); capture URLs are public",
                    p.header, p.scope
                ),
                None => "access token required for the inspector, API and tunnels; capture URLs \
                         are public"
                    .into(),
            },
        ),
        (false, true) => note(
            false,
            format!("no access token: only this machine can reach the server (--listen {addr})"),
        ),
        (false, false) => note(
            true,
            format!(
                "WARNING: listening on {addr} with no access token: anyone who can reach it \
                 can read every captured request. Set --access-token (or HOOKWIRE_ACCESS_TOKEN)."
            ),
        ),
    }
    note(
        false,
        format!("open {base}/ and press \"New URL\" to get a capture URL"),
    );
}

/// Runs a command; its exit status.
async fn run(command: Command, started: hookwire::core::time::Millis) -> anyhow::Result<i32> {
    match command {
        Command::Serve(args) => {
            let listener = tokio::net::TcpListener::bind(args.listen)
                .await
                .with_context(|| format!("cannot listen on {} (--listen)", args.listen))?;
            let addr = listener.local_addr()?;
            let config = args.config()?;
            // Signals are caught from here on: a SIGTERM sent as soon as
            // the listening line appears stops the server gracefully.
            let shutdown = shutdown_signal();
            let scheme = if config.tls.is_some() {
                "https"
            } else {
                "http"
            };
            // The certificate from --acme-domain is for that name, not for
            // the address: the URL to open is the name's.
            let origin = match &config.acme {
                Some(acme) if addr.port() == 443 => format!("https://{}", acme.domain()),
                Some(acme) => format!("https://{}:{}", acme.domain(), addr.port()),
                None => format!("{scheme}://{addr}"),
            };
            let base = config.public_url.clone().unwrap_or(origin);
            // The database opens before the listening line: a script that
            // waits for that line never waits on a server that cannot start.
            let ready = hookwire::server::http::open(config).await?;
            announce(args.log_format, addr, ready.config(), &base);
            ready.serve(listener, shutdown).await?;
            Ok(0)
        }
        Command::Tunnel(args) => {
            let cfg = args.config()?;
            if args.ui.view()? {
                let pasted =
                    hookwire::core::pasted::parse(&cfg.capture_url).map_err(anyhow::Error::msg)?;
                let bin = pasted.bin().map_err(anyhow::Error::msg)?.clone();
                let remote = hookwire::client::api::Remote::new(
                    hookwire::client::http::Outbound::new(args.ca_cert.as_deref())?,
                    &pasted.server,
                    args.access_token.as_deref(),
                );
                let targets = hookwire::core::routing::Streams::from_flags(
                    &args.to,
                    &args.routes,
                    &args.filters,
                )
                .map_err(anyhow::Error::msg)?
                .1
                .into_iter()
                .map(|t| t.url)
                .collect();
                hookwire::client::view::tunnel(cfg, remote, bin, targets, shutdown_signal())
                    .await?;
            } else {
                hookwire::client::tunnel::run(
                    cfg,
                    hookwire::client::tunnel::report::Report::Lines,
                    shutdown_signal(),
                )
                .await?;
            }
            Ok(0)
        }
        Command::Migrate(args) => {
            let tls =
                hookwire::core::tls::client_config(args.db_ca_cert.as_deref(), "--db-ca-cert")?;
            let copied =
                hookwire::server::store::copy_sqlite_to_postgres(&args.from, &args.to, &tls)
                    .await
                    .with_context(|| format!("copying {} into PostgreSQL", args.from.display()))?;
            println!(
                "copied {} bins, {} requests, {} tunnel positions, {} deliveries",
                copied.bins, copied.requests, copied.tunnels, copied.deliveries
            );
            Ok(0)
        }
        Command::New(args) => {
            let out = hookwire::client::http::Outbound::new(args.ca_cert.as_deref())?;
            let bin = hookwire::client::new::mint(
                out,
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
            Ok(0)
        }
        Command::Send(args) => send(args).await,
        Command::Check(args) => hookwire::cli::check(args).await,
        Command::Schema(args) => {
            let schema =
                hookwire::client::send::schema::schema(args.provider, args.event.as_deref())
                    .map_err(anyhow::Error::msg)?;
            let text = serde_json::to_string_pretty(&schema)?;
            // `hookwire schema … | head` closing the pipe early is not an error.
            match writeln!(std::io::stdout().lock(), "{text}") {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
                _ => Ok(0),
            }
        }
        Command::Token(args) => {
            use hookwire::cli::TokenAction;
            use hookwire::client::tokens;
            let out = hookwire::client::http::Outbound::new(args.ca_cert.as_deref())?;
            let (server, token) = (&args.server, args.access_token.as_deref());
            match &args.action {
                TokenAction::Create { name, scope } => {
                    let made = tokens::create(out, server, token, name, *scope).await?;
                    if args.json {
                        println!("{}", serde_json::to_string(&made)?);
                    } else {
                        // The token alone on stdout, for `$(hookwire token create …)`.
                        println!("{}", made.token);
                        eprintln!(
                            "token {} (scope {}) made; it is shown this once (the server keeps only \
                             a hash). Use it with --access-token, Authorization: Bearer, or the \
                             login page.",
                            made.name, made.scope
                        );
                    }
                }
                TokenAction::List => {
                    let list = tokens::list(out, server, token).await?;
                    if args.json {
                        println!("{}", serde_json::to_string(&list)?);
                    } else {
                        print!("{}", tokens::table(&list));
                    }
                }
                TokenAction::Revoke { name } => {
                    tokens::revoke(out, server, token, name).await?;
                    if args.json {
                        println!("{}", serde_json::json!({ "revoked": name }));
                    } else {
                        println!(
                            "token {name} revoked: refused from now on; its open tunnels and \
                             inspector sessions are closed"
                        );
                    }
                }
            }
            Ok(0)
        }
        Command::Resend(args) => {
            let out = hookwire::client::http::Outbound::new(args.ca_cert.as_deref())?;
            let ok = hookwire::client::resend::resend(
                out,
                &args.request_url,
                &args.to,
                args.access_token.as_deref(),
                args.timeout,
                args.json,
            )
            .await?;
            Ok(if ok { 0 } else { 1 })
        }
        Command::Tail(args) => {
            let view = args.ui.view()?;
            let (watch, start) = watch(&args.watch, started).await?;
            if view {
                let capture = args.watch.capture_url.clone();
                hookwire::client::view::tail(watch, start, capture, shutdown_signal()).await?;
            } else {
                let json = args.watch.json;
                hookwire::client::tail_wait::tail(watch, start, json, shutdown_signal()).await?;
            }
            Ok(0)
        }
        Command::Wait(args) => {
            let (watch, start) = watch(&args.watch, started).await?;
            let what = match args.watch.matches.as_slice() {
                [] => "for a request".to_owned(),
                conds => format!("for a request matching {}", conds.join(" ")),
            };
            match hookwire::client::tail_wait::wait(watch, start, args.timeout, &what).await? {
                Some(request) => {
                    // Indented for a person at a terminal; one line (what
                    // `--json` always asks for) for a script or a file.
                    let compact =
                        args.watch.json || !hookwire::core::term::Stream::Stdout.is_terminal();
                    println!(
                        "{}",
                        if compact {
                            serde_json::to_string(&request)?
                        } else {
                            serde_json::to_string_pretty(&request)?
                        }
                    );
                    Ok(0)
                }
                None => {
                    eprintln!(
                        "no matching request arrived within {} (--timeout)",
                        humantime::format_duration(args.timeout)
                    );
                    Ok(1)
                }
            }
        }
    }
}

/// `hookwire send`.
async fn send(args: hookwire::cli::SendArgs) -> anyhow::Result<i32> {
    use hookwire::client::send;
    if args.list {
        print!("{}", send::list(args.provider));
        return Ok(0);
    }
    // clap requires both unless --list.
    let (Some(to), Some(provider)) = (args.to.clone(), args.provider) else {
        anyhow::bail!("give --to URL and --as PROVIDER (or --list)");
    };
    let to = hookwire::core::pasted::app_url("--to", &to).map_err(anyhow::Error::msg)?;
    let to = send::sign::wire_url(to);
    let mut webhook =
        send::catalogue::build(provider, args.event.as_deref()).map_err(anyhow::Error::msg)?;
    if let Some(body) = args.data()? {
        webhook.body = body;
    }
    let secret = args.secret.clone().filter(|s| !s.is_empty());
    send::check(&webhook, secret.as_deref()).map_err(anyhow::Error::msg)?;
    let cfg = send::SendConfig {
        to,
        webhook,
        secret,
        auth_header: args.auth_header.clone(),
        retries: args.retries,
        time_scale: args.time_scale,
        timeout: args.timeout,
        duplicate: args.duplicate,
        json: args.json,
        outbound: hookwire::client::http::Outbound::new(args.ca_cert.as_deref())?,
    };
    Ok(if send::run(&cfg).await? { 0 } else { 1 })
}

/// What `tail` and `wait` watch, and from where.
async fn watch(
    args: &hookwire::cli::WatchArgs,
    started: hookwire::core::time::Millis,
) -> anyhow::Result<(
    hookwire::client::tail_wait::Watch,
    hookwire::client::tail_wait::Start,
)> {
    let matches =
        hookwire::core::matcher::Match::parse(&args.matches).map_err(anyhow::Error::msg)?;
    let out = hookwire::client::http::Outbound::new(args.ca_cert.as_deref())?;
    let (remote, bin) = hookwire::client::api::Remote::for_bin(
        out,
        &args.capture_url,
        args.access_token.as_deref(),
    )
    .await?;
    let start = match args.after {
        Some(id) => hookwire::client::tail_wait::Start::After(id),
        None => hookwire::client::tail_wait::Start::Since(
            hookwire::client::tail_wait::process_start(started),
        ),
    };
    Ok((
        hookwire::client::tail_wait::Watch {
            remote,
            bin,
            matches,
        },
        start,
    ))
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
