//! Flags of the commands for the whole loop: `send`, `resend`,
//! `tail`, `wait`.

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;

use crate::client::send::catalogue::Provider;
use crate::client::send::policy::Retries;

fn parse_duration(text: &str) -> Result<Duration, String> {
    humantime::parse_duration(text)
        .map_err(|e| format!("{e}: write a duration like 500ms, 10s or 2m"))
}

pub(super) fn parse_header(text: &str) -> Result<(String, String), String> {
    let at = text
        .find(['=', ':'])
        .ok_or("write NAME=VALUE, e.g. X-Auth=s3cret")?;
    let (name, value) = (&text[..at], &text[at + 1..]);
    let name = name.trim();
    if name.is_empty() || hyper::header::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Err(format!("{name:?} is not a header name"));
    }
    Ok((name.to_ascii_lowercase(), value.trim().to_owned()))
}

fn parse_scale(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|f| f.is_finite() && *f > 0.0 && *f <= 1000.0)
        .ok_or_else(|| {
            "use a number above 0 and up to 1000, e.g. 0.001 to turn 10 s into 10 ms".into()
        })
}

/// Flags of `hookwire schema`.
#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// The provider whose payloads to describe.
    #[arg(long = "as", value_enum, value_name = "PROVIDER")]
    pub provider: Provider,

    /// Only this event's payload (default: any of the provider's events;
    /// `hookwire send --as PROVIDER --list` shows them).
    #[arg(long)]
    pub event: Option<String>,
}

/// Flags of `hookwire send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Where to send: your app (http://localhost:3000/webhooks, or just
    /// 3000 / HOST:PORT) or a capture URL.
    #[arg(long, required_unless_present = "list")]
    pub to: Option<String>,

    /// The provider to play.
    #[arg(
        long = "as",
        value_enum,
        value_name = "PROVIDER",
        required_unless_present = "list"
    )]
    pub provider: Option<Provider>,

    /// The event to send (default: the provider's first; --list shows them).
    #[arg(long)]
    pub event: Option<String>,

    /// Sign as the provider does with this secret (Stripe's whsec_…, a
    /// Standard Webhooks whsec_ base64 secret, GitHub's, Slack's signing
    /// secret, Shopify's client secret, Twilio's auth token).
    #[arg(long, env = "HOOKWIRE_SEND_SECRET", hide_env_values = true)]
    pub secret: Option<String>,

    /// An extra header on every attempt, e.g. AssemblyAI's custom auth
    /// header: X-Auth=s3cret.
    #[arg(long, value_name = "NAME=VALUE", value_parser = parse_header)]
    pub auth_header: Option<(String, String)>,

    /// Retry as the provider documents ("provider"), not at all ("none"),
    /// or N times on the provider's schedule.
    #[arg(long, default_value = "provider", value_parser = clap::value_parser!(Retries))]
    pub retries: Retries,

    /// Multiplies every pause and timeout: 0.001 turns 10 s into 10 ms (a
    /// scaled timeout stays at least 100 ms).
    #[arg(long, default_value_t = 1.0, value_parser = parse_scale)]
    pub time_scale: f64,

    /// The time an attempt may take, exactly (default: the provider's,
    /// scaled by --time-scale).
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,

    /// Deliver the same event N more times, as senders do.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u32).range(0..=100))]
    pub duplicate: u32,

    /// The body to send instead of the sample (@file.json, @- for stdin,
    /// or the text itself); it is still signed.
    #[arg(long)]
    pub data: Option<String>,

    /// Print one JSON object (attempts, statuses, the request) instead of
    /// lines.
    #[arg(long)]
    pub json: bool,

    /// List the providers, their events and their retry policies (with
    /// --as, one provider's). Nothing is sent: flags about sending are
    /// refused rather than ignored.
    #[arg(long, conflicts_with_all = [
        "to", "event", "auth_header", "retries", "time_scale", "timeout", "duplicate", "data", "json",
    ])]
    pub list: bool,

    /// PEM certificate(s) to trust for an https:// URL with a private CA.
    #[arg(long, env = "HOOKWIRE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

impl SendArgs {
    /// The body `--data` gives, read from its file or stdin.
    pub fn data(&self) -> anyhow::Result<Option<Vec<u8>>> {
        use anyhow::Context as _;
        use std::io::Read as _;
        Ok(match self.data.as_deref() {
            None => None,
            Some("@-") => {
                let mut body = Vec::new();
                std::io::stdin()
                    .read_to_end(&mut body)
                    .context("reading --data @- from stdin")?;
                Some(body)
            }
            Some(text) => match text.strip_prefix('@') {
                Some(path) => {
                    Some(std::fs::read(path).with_context(|| format!("reading --data @{path}"))?)
                }
                None => Some(text.as_bytes().to_vec()),
            },
        })
    }
}

/// Flags of `hookwire resend`.
#[derive(Debug, Args)]
pub struct ResendArgs {
    /// The captured request: $SERVER/api/bins/<bin>/requests/<id> (or the
    /// inspector's $SERVER/bins/<bin>?r=<id>).
    pub request_url: String,

    /// Where to send it (a port, HOST:PORT or a URL): the captured
    /// sub-path and query are appended, as `hookwire tunnel --to` does.
    #[arg(long)]
    pub to: String,

    /// The server's access token, when it has one.
    #[arg(long, env = "HOOKWIRE_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,

    /// The time the answer may take.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    pub timeout: Duration,

    /// Print the answer as one JSON object.
    #[arg(long)]
    pub json: bool,

    /// PEM certificate(s) to trust for https:// with a private CA.
    #[arg(long, env = "HOOKWIRE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

/// Flags `tail` and `wait` share.
#[derive(Debug, Args)]
pub struct WatchArgs {
    /// The bin: its capture URL (http://127.0.0.1:8080/<bin-id> or
    /// /<alias>), or its inspector or API URL.
    pub capture_url: String,

    /// Only requests meeting this condition (repeatable: all must hold):
    /// method=POST, path=/jobs/*, header.NAME=GLOB, query.NAME=GLOB,
    /// json:/pointer=VALUE, body~TEXT, schema=valid|invalid, ! to negate.
    #[arg(long = "match", value_name = "COND")]
    pub matches: Vec<String>,

    /// Print the API's request objects, one compact JSON object per line
    /// (`wait` without it indents its object on a terminal).
    #[arg(long)]
    pub json: bool,

    /// Count requests after this request id, including ones already
    /// captured (default: those arriving from now on).
    #[arg(long, value_name = "ID")]
    pub after: Option<i64>,

    /// The server's access token, when it has one.
    #[arg(long, env = "HOOKWIRE_ACCESS_TOKEN", hide_env_values = true)]
    pub access_token: Option<String>,

    /// PEM certificate(s) to trust for https:// with a private CA.
    #[arg(long, env = "HOOKWIRE_CA_CERT")]
    pub ca_cert: Option<PathBuf>,
}

/// Flags of `hookwire tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// What to watch and match.
    #[command(flatten)]
    pub watch: WatchArgs,

    /// Show the requests in the full-screen live view (`--ui` alone: on;
    /// `--ui=auto`: when stdout is a terminal). Keys: ↑/↓ or j/k, Enter,
    /// r, /, q.
    // `=` is required so that `tail --ui CAPTURE_URL` does not read the URL
    // as the flag's value.
    #[arg(long, env = "HOOKWIRE_UI", value_enum, num_args = 0..=1, require_equals = true,
          default_value_t = super::Ui::Off, default_missing_value = "on")]
    pub ui: super::Ui,
}

/// Flags of `hookwire wait`.
#[derive(Debug, Args)]
pub struct WaitArgs {
    /// What to watch and match.
    #[command(flatten)]
    pub watch: WatchArgs,

    /// Give up (exit 1) after this long.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_and_scales_parse() {
        assert_eq!(
            parse_header("X-Auth=s3cret"),
            Ok(("x-auth".into(), "s3cret".into()))
        );
        assert_eq!(
            parse_header("X-Auth: a=b"),
            Ok(("x-auth".into(), "a=b".into()))
        );
        assert!(parse_header("novalue").is_err());
        assert!(parse_header("bad name=1").is_err());
        assert!(parse_scale("0").is_err());
        assert_eq!(parse_scale("0.001"), Ok(0.001));
    }
}
