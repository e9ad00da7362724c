//! Counters behind `/metrics`, rendered in the Prometheus text format.
//! Plain atomics: the capture path pays a few relaxed increments.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// Upper bounds (seconds) of the capture latency histogram's buckets.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
];

/// Why a capture was refused.
#[derive(Debug, Clone, Copy)]
pub enum Reject {
    /// 404: no such bin.
    UnknownBin,
    /// 413: body over the limit.
    BodyTooLarge,
    /// 400: the body could not be read (client hung up, bad chunking).
    BadBody,
    /// 429: over the bin's rate limit.
    RateLimited,
    /// 507: over the stored-bytes quota.
    Quota,
    /// 408: the body came too slowly.
    BodyTimeout,
}

impl Reject {
    const ALL: [Reject; 6] = [
        Reject::UnknownBin,
        Reject::BodyTooLarge,
        Reject::BadBody,
        Reject::RateLimited,
        Reject::Quota,
        Reject::BodyTimeout,
    ];

    fn label(self) -> &'static str {
        match self {
            Reject::UnknownBin => "unknown_bin",
            Reject::BodyTooLarge => "body_too_large",
            Reject::BadBody => "bad_body",
            Reject::RateLimited => "rate_limited",
            Reject::Quota => "quota",
            Reject::BodyTimeout => "body_timeout",
        }
    }
}

/// A latency histogram with the [`BUCKETS`] bounds.
#[derive(Debug, Default)]
struct Histogram {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, took: Duration) {
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.buckets[i].fetch_add(1, Relaxed);
        }
        self.count.fetch_add(1, Relaxed);
        self.sum_micros
            .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    fn render(&self, s: &mut String, name: &str, help: &str) {
        let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} histogram");
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&self.buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(s, "{name}_bucket{{le=\"{b}\"}} {cumulative}");
        }
        let count = self.count.load(Relaxed);
        let _ = writeln!(
            s,
            "{name}_bucket{{le=\"+Inf\"}} {count}\n{name}_sum {}\n{name}_count {count}",
            self.sum_micros.load(Relaxed) as f64 / 1e6
        );
    }
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    captured: AtomicU64,
    captured_bytes: AtomicU64,
    rejected: [AtomicU64; 6],
    db_errors: AtomicU64,
    capture_latency: Histogram,
    delivery_latency: Histogram,
}

impl Metrics {
    /// A capture was stored and acknowledged after `took`.
    pub fn captured(&self, bytes: usize, took: Duration) {
        self.captured.fetch_add(1, Relaxed);
        self.captured_bytes.fetch_add(bytes as u64, Relaxed);
        self.capture_latency.observe(took);
    }

    /// A tunnel's local app answered after `took` (measured by the client).
    pub fn delivered(&self, took: Duration) {
        self.delivery_latency.observe(took);
    }

    /// A capture was refused.
    pub fn rejected(&self, why: Reject) {
        self.rejected[why as usize].fetch_add(1, Relaxed);
    }

    /// A database operation failed.
    pub fn db_error(&self) {
        self.db_errors.fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition. `search_lag` is how long ago the
    /// oldest request not yet searchable arrived (0 when search caught up).
    pub fn render(&self, tunnels: usize, backlog: Option<u64>, search_lag: Option<f64>) -> String {
        let mut s = String::with_capacity(2048);
        let _ = writeln!(
            s,
            "# HELP hookwire_requests_captured_total Requests stored and acknowledged.\n\
             # TYPE hookwire_requests_captured_total counter\n\
             hookwire_requests_captured_total {}",
            self.captured.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP hookwire_captured_bytes_total Body bytes stored.\n\
             # TYPE hookwire_captured_bytes_total counter\n\
             hookwire_captured_bytes_total {}",
            self.captured_bytes.load(Relaxed)
        );
        let _ = writeln!(
            s,
            "# HELP hookwire_captures_rejected_total Captures refused, by reason.\n\
             # TYPE hookwire_captures_rejected_total counter"
        );
        for r in Reject::ALL {
            let _ = writeln!(
                s,
                "hookwire_captures_rejected_total{{reason=\"{}\"}} {}",
                r.label(),
                self.rejected[r as usize].load(Relaxed)
            );
        }
        let _ = writeln!(
            s,
            "# HELP hookwire_db_errors_total Failed database operations.\n\
             # TYPE hookwire_db_errors_total counter\n\
             hookwire_db_errors_total {}",
            self.db_errors.load(Relaxed)
        );
        self.capture_latency.render(
            &mut s,
            "hookwire_capture_duration_seconds",
            "Time from request to acknowledgement, commit included.",
        );
        self.delivery_latency.render(
            &mut s,
            "hookwire_delivery_duration_seconds",
            "Time the tunnels' local apps took to answer relayed requests.",
        );
        let _ = writeln!(
            s,
            "# HELP hookwire_tunnels_connected Tunnel clients connected now.\n\
             # TYPE hookwire_tunnels_connected gauge\n\
             hookwire_tunnels_connected {tunnels}"
        );
        if let Some(lag) = search_lag {
            let _ = writeln!(
                s,
                "# HELP hookwire_search_lag_seconds Age of the oldest stored request that search does not find through its index yet (0: caught up).\n\
                 # TYPE hookwire_search_lag_seconds gauge\n\
                 hookwire_search_lag_seconds {lag}"
            );
        }
        if let Some(backlog) = backlog {
            let _ = writeln!(
                s,
                "# HELP hookwire_tunnel_backlog Requests not yet delivered to a tunnel name that has connected before.\n\
                 # TYPE hookwire_tunnel_backlog gauge\n\
                 hookwire_tunnel_backlog {backlog}"
            );
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_is_cumulative() {
        let m = Metrics::default();
        m.captured(10, Duration::from_micros(300));
        m.captured(10, Duration::from_millis(3));
        m.captured(10, Duration::from_secs(9));
        let text = m.render(2, Some(7), Some(1.5));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"2.5\"} 2\n"));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("hookwire_captured_bytes_total 30\n"));
        assert!(text.contains("hookwire_tunnels_connected 2\n"));
        assert!(text.contains("hookwire_tunnel_backlog 7\n"));
        assert!(text.contains("hookwire_search_lag_seconds 1.5\n"));
    }
}
