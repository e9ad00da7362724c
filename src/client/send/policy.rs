//! Each provider's retry policy and timeout, as it documents them: the one
//! table `hookwire send` plays, with its sources. Where a provider
//! publishes no figure, the table says so and uses hookwire's stated
//! default ([`DEFAULT_PAUSES`], [`DEFAULT_TIMEOUT`]).

use std::time::Duration;

use super::catalogue::Provider;

/// What a failed attempt was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// An answer that is not a 2xx.
    Status,
    /// No answer within the provider's timeout.
    Timeout,
    /// No answer: connection refused, failed or dropped.
    Unreachable,
}

/// When a provider tries again.
#[derive(Debug, Clone, Copy)]
pub struct RetryOn {
    /// After a non-2xx answer.
    pub status: bool,
    /// After no answer within the timeout.
    pub timeout: bool,
    /// After a refused, failed or dropped connection.
    pub unreachable: bool,
}

impl RetryOn {
    /// Whether this failure is retried.
    pub fn allows(self, failure: Failure) -> bool {
        match failure {
            Failure::Status => self.status,
            Failure::Timeout => self.timeout,
            Failure::Unreachable => self.unreachable,
        }
    }
}

const ANY: RetryOn = RetryOn {
    status: true,
    timeout: true,
    unreachable: true,
};

/// A provider's policy.
#[derive(Debug, Clone, Copy)]
pub struct Policy {
    /// How long an attempt may take before it counts as failed.
    pub timeout: Duration,
    /// The pause before each retry, in seconds: its length is the number
    /// of retries.
    pub pauses: &'static [u64],
    /// Which failures are retried.
    pub retry_on: RetryOn,
    /// A header with which the receiver's answer stops the retries (set to
    /// `1`).
    pub stop_header: Option<&'static str>,
    /// The policy in a few words, for `--list` and the start line.
    pub summary: &'static str,
}

/// hookwire's stated default for providers that publish no retry
/// schedule: 3 retries after 10 s, 1 min and 5 min.
pub const DEFAULT_PAUSES: &[u64] = &[10, 60, 300];

/// hookwire's stated default timeout for providers that publish none
/// (GitHub's and Abstrakt's published figure).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

const MIN: u64 = 60;
const HOUR: u64 = 3600;

/// The policy of `provider`.
pub fn of(provider: Provider) -> Policy {
    match provider {
        // AssemblyAI, "Using webhooks": "If AssemblyAI receives a
        // non-2xx response … the request will be retried up to 10 times, with a
        // 10-second interval between each attempt … if AssemblyAI is unable to
        // reach your webhook URL (typically due to a timeout or if your server is
        // offline), no additional retries will be made." No timeout is published.
        Provider::Assemblyai => Policy {
            timeout: DEFAULT_TIMEOUT,
            pauses: &[10; 10],
            retry_on: RetryOn {
                status: true,
                timeout: false,
                unreachable: false,
            },
            stop_header: None,
            summary: "up to 10 retries 10 s apart after a non-2xx answer; none after a timeout or when unreachable; timeout 10 s (not published: hookwire's default)",
        },
        // Standard Webhooks specification, "Retry schedule" (the Svix schedule it
        // publishes): immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h after
        // each failure (non-2xx, timeout or unreachable). Svix waits 15 s for an
        // answer.
        Provider::StandardWebhooks => Policy {
            timeout: Duration::from_secs(15),
            pauses: &[
                5,
                5 * MIN,
                30 * MIN,
                2 * HOUR,
                5 * HOUR,
                10 * HOUR,
                10 * HOUR,
            ],
            retry_on: ANY,
            stop_header: None,
            summary: "7 retries after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h on any failure; timeout 15 s",
        },
        // Stripe, "Receive Stripe events in your webhook endpoint", retry
        // behaviour: in live mode up to three days with exponential backoff; in
        // test mode (what `send` stands for) three retries "over a few hours".
        // Stripe publishes neither the intervals nor a timeout: the pauses below
        // are hookwire's reading of "a few hours".
        Provider::Stripe => Policy {
            timeout: DEFAULT_TIMEOUT,
            pauses: &[5 * MIN, 30 * MIN, 2 * HOUR],
            retry_on: ANY,
            stop_header: None,
            summary: "test mode: 3 retries (5 min, 30 min, 2 h; Stripe says \"over a few hours\") on any failure; timeout 10 s (not published: hookwire's default)",
        },
        // GitHub Docs, "Handling failed webhook deliveries": a delivery fails
        // when the server is down or takes longer than 10 seconds; "GitHub does
        // not automatically redeliver failed deliveries."
        Provider::Github => Policy {
            timeout: Duration::from_secs(10),
            pauses: &[],
            retry_on: ANY,
            stop_header: None,
            summary: "no automatic retries; timeout 10 s",
        },
        // Slack, Events API "Retries": up to 3 retries — nearly immediately,
        // after 1 minute, after 5 minutes — after a non-2xx answer, no answer
        // within 3 seconds, or a failed connection; each retry carries
        // X-Slack-Retry-Num and X-Slack-Retry-Reason, and an answer with
        // `X-Slack-No-Retry: 1` stops them.
        Provider::Slack => Policy {
            timeout: Duration::from_secs(3),
            pauses: &[0, MIN, 5 * MIN],
            retry_on: ANY,
            stop_header: Some("x-slack-no-retry"),
            summary: "3 retries (at once, 1 min, 5 min) on any failure, with X-Slack-Retry-Num/-Reason; X-Slack-No-Retry: 1 stops them; timeout 3 s",
        },
        // Shopify, "Troubleshooting webhooks" and the changelog of 10 Sep 2024:
        // "retried a total of 8 times over 4 hours using an exponential backoff
        // schedule"; "If your app doesn't respond within five seconds, then the
        // delivery fails." The exact intervals are not published: doubling from
        // 1 minute, the last stretched to end at 4 hours.
        Provider::Shopify => Policy {
            timeout: Duration::from_secs(5),
            pauses: &[
                MIN,
                2 * MIN,
                4 * MIN,
                8 * MIN,
                16 * MIN,
                32 * MIN,
                64 * MIN,
                113 * MIN,
            ],
            retry_on: ANY,
            stop_header: None,
            summary: "8 retries over 4 h, exponential (1, 2, 4 … 64 min, then 113 min) on any failure; timeout 5 s",
        },
        // Twilio, "Webhooks connection overrides": by default one retry (rc=1)
        // when the connection fails (rp=ct); read timeout 15 s (rt=15000); an
        // HTTP error answer is not retried.
        Provider::Twilio => Policy {
            timeout: Duration::from_secs(15),
            pauses: &[0],
            retry_on: RetryOn {
                status: false,
                timeout: false,
                unreachable: true,
            },
            stop_header: None,
            summary: "1 retry at once when the connection fails; none after an answer or a timeout; timeout 15 s",
        },
        // Abstrakt, "Webhooks": "Respond with a 2xx status within
        // 10 seconds"; "Duplicate deliveries are possible". No retry schedule is
        // published.
        Provider::Abstrakt => Policy {
            timeout: Duration::from_secs(10),
            pauses: DEFAULT_PAUSES,
            retry_on: ANY,
            stop_header: None,
            summary: "no published schedule: hookwire's default, 3 retries (10 s, 1 min, 5 min) on any failure; timeout 10 s",
        },
        // Eden AI and Cerebrium publish neither retries nor a
        // timeout.
        Provider::Edenai | Provider::Cerebrium => Policy {
            timeout: DEFAULT_TIMEOUT,
            pauses: DEFAULT_PAUSES,
            retry_on: ANY,
            stop_header: None,
            summary: "no published policy: hookwire's default, 3 retries (10 s, 1 min, 5 min) on any failure; timeout 10 s",
        },
    }
}

/// `--retries`: the provider's policy, none, or N retries on its schedule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retries {
    /// As the provider does.
    Provider,
    /// A single attempt.
    None,
    /// This many retries, paced by the provider's schedule.
    Count(u32),
}

impl std::str::FromStr for Retries {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "provider" => Ok(Retries::Provider),
            "none" | "0" => Ok(Retries::None),
            n => n
                .parse::<u32>()
                .ok()
                .filter(|n| *n <= 100)
                .map(Retries::Count)
                .ok_or_else(|| "use provider, none, or a number of retries up to 100".into()),
        }
    }
}

impl Policy {
    /// The pause before retry `n` (0-based) under `retries`, or `None`
    /// when there is no such retry.
    pub fn pause(&self, retries: Retries, n: usize) -> Option<Duration> {
        let secs = match retries {
            Retries::Provider => *self.pauses.get(n)?,
            Retries::None => return None,
            Retries::Count(count) => {
                if n >= count as usize {
                    return None;
                }
                // Beyond the provider's schedule (or with none), its last
                // pause repeats.
                let pauses = if self.pauses.is_empty() {
                    DEFAULT_PAUSES
                } else {
                    self.pauses
                };
                pauses.get(n).or(pauses.last()).copied().unwrap_or(0)
            }
        };
        Some(Duration::from_secs(secs))
    }

    /// The number of retries under `retries`.
    pub fn retries(&self, retries: Retries) -> usize {
        match retries {
            Retries::Provider => self.pauses.len(),
            Retries::None => 0,
            Retries::Count(n) => n as usize,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assemblyai_retries_ten_times_only_after_answers() {
        let p = of(Provider::Assemblyai);
        assert_eq!(p.retries(Retries::Provider), 10);
        assert_eq!(p.pause(Retries::Provider, 9), Some(Duration::from_secs(10)));
        assert_eq!(p.pause(Retries::Provider, 10), None);
        assert!(p.retry_on.allows(Failure::Status));
        assert!(!p.retry_on.allows(Failure::Unreachable));
        assert!(!p.retry_on.allows(Failure::Timeout));
    }

    #[test]
    fn only_slack_lets_the_receiver_stop_retries() {
        for p in crate::client::send::catalogue::PROVIDERS {
            let want = (p == Provider::Slack).then_some("x-slack-no-retry");
            assert_eq!(of(p).stop_header, want, "{}", p.name());
        }
    }

    #[test]
    fn overrides() {
        let p = of(Provider::Github);
        assert_eq!(p.pause(Retries::Provider, 0), None);
        assert_eq!(p.pause(Retries::Count(2), 1), Some(Duration::from_secs(60)));
        assert_eq!(p.pause(Retries::Count(2), 2), None);
        let sw = of(Provider::StandardWebhooks);
        assert_eq!(
            sw.pause(Retries::Count(9), 8),
            Some(Duration::from_secs(10 * HOUR))
        );
        assert_eq!(sw.pause(Retries::None, 0), None);
        assert_eq!("none".parse::<Retries>(), Ok(Retries::None));
        assert_eq!("3".parse::<Retries>(), Ok(Retries::Count(3)));
        assert!("lots".parse::<Retries>().is_err());
    }
}
