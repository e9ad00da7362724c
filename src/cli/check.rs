//! `hookwire check`: its flags and the glue from them to
//! [`crate::client::check`].

use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use clap::Args;

use crate::client::check::{self, CheckConfig, Verdict, report};
use crate::client::send::catalogue::Provider;

/// `--only`'s names (a type of its own: clap reads an `Option<Vec<_>>`
/// as a flag given many times).
#[derive(Debug, Clone)]
pub struct Only(pub Vec<&'static str>);

fn only(text: &str) -> Result<Only, String> {
    check::parse_only(text).map(Only)
}

/// Flags of `hookwire check`.
#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Your receiver: http://localhost:3000/webhooks (or just 3000 /
    /// HOST:PORT).
    #[arg(long)]
    pub to: String,

    /// The provider to play (`hookwire send --list` shows them).
    #[arg(long = "as", value_enum, value_name = "PROVIDER")]
    pub provider: Provider,

    /// The event the checks start from (default: the provider's first).
    #[arg(long)]
    pub event: Option<String>,

    /// The receiver's signing secret, to sign as the provider does (without
    /// it the signature checks are skipped).
    #[arg(long, env = "HOOKWIRE_CHECK_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// A static header the receiver requires (AssemblyAI's kind):
    /// X-Auth=s3cret.
    #[arg(long, value_name = "NAME=VALUE", value_parser = super::loop_commands::parse_header)]
    pub auth_header: Option<(String, String)>,

    /// Run only these checks (comma-separated): accepts-valid,
    /// answers-in-time, rejects-bad-signature, rejects-tampered-body,
    /// rejects-missing-signature, rejects-replayed, survives-duplicate,
    /// survives-out-of-order, survives-malformed, survives-unknown-fields,
    /// survives-nulls, survives-burst, survives-large, still-alive.
    #[arg(long, value_name = "NAME,…", value_parser = only)]
    pub only: Option<Only>,

    /// Print one JSON object instead of lines.
    #[arg(long)]
    pub json: bool,

    /// Also write a JUnit XML report to FILE (for CI).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,

    /// PEM certificate(s) to trust for an https:// receiver with a private CA.
    #[arg(long, env = "HOOKWIRE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

/// Runs `hookwire check`; its exit status (0 no failure, 1 a failure).
/// `Err`: it could not run (the caller exits 2).
pub async fn run(args: CheckArgs) -> anyhow::Result<i32> {
    let to = crate::core::pasted::app_url("--to", &args.to).map_err(anyhow::Error::msg)?;
    let to = crate::client::send::sign::wire_url(to);
    let cfg = CheckConfig {
        to: to.clone(),
        provider: args.provider,
        event: args.event,
        secret: args.secret,
        auth_header: args.auth_header,
        only: args.only.map(|o| o.0),
        outbound: crate::client::http::Outbound::new(args.ca_cert.as_deref())?,
    };
    let started = Instant::now();
    let graded = check::run(&cfg).await.map_err(anyhow::Error::msg)?;
    let provider = args.provider.name();
    if let Some(path) = &args.junit {
        let xml = report::junit(provider, &to, &graded, started.elapsed().as_secs_f64());
        std::fs::write(path, xml)
            .with_context(|| format!("cannot write the JUnit report to {}", path.display()))?;
    }
    if args.json {
        println!("{}", report::json(provider, &to, &graded));
    } else {
        report::print_human(provider, &to, &graded);
    }
    let failed = graded.iter().any(|g| g.verdict == Verdict::Fail);
    Ok(i32::from(failed))
}
