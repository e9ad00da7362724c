//! Counters behind `/metrics`, rendered in the OpenMetrics text format
//! (which Prometheus also reads as its plain text format) by
//! `prometheus-client`. The capture path pays two relaxed increments and
//! one histogram observation (a short uncontended lock).

use std::time::Duration;

use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

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

/// The label set of the rejected-captures family: `reason`.
type ReasonLabel = [(&'static str, &'static str); 1];

/// The server's counters.
#[derive(Debug)]
pub struct Metrics {
    /// What `/metrics` shows, but for the gauges given to [`Metrics::render`].
    registry: Registry,
    captured: Counter,
    captured_bytes: Counter,
    /// Handles into the `reason` family, by `Reject as usize`, so counting
    /// a rejection needs no lookup in the family's map.
    rejected: [Counter; Reject::ALL.len()],
    db_errors: Counter,
    capture_latency: Histogram,
    delivery_latency: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        // Help texts carry no final period: the registry adds one.
        let mut registry = Registry::default();
        let captured = Counter::default();
        registry.register(
            "hookwire_requests_captured",
            "Requests stored and acknowledged",
            captured.clone(),
        );
        let captured_bytes = Counter::default();
        registry.register_with_unit(
            "hookwire_captured",
            "Body bytes stored",
            Unit::Bytes,
            captured_bytes.clone(),
        );
        let reasons = Family::<ReasonLabel, Counter>::default();
        // Every reason is created now so each shows from the first scrape,
        // at 0, rather than only once it has happened.
        let rejected = Reject::ALL.map(|r| reasons.get_or_create_owned(&[("reason", r.label())]));
        registry.register(
            "hookwire_captures_rejected",
            "Captures refused, by reason",
            reasons,
        );
        let db_errors = Counter::default();
        registry.register(
            "hookwire_db_errors",
            "Failed database operations",
            db_errors.clone(),
        );
        let capture_latency = Histogram::new(BUCKETS);
        registry.register_with_unit(
            "hookwire_capture_duration",
            "Time from request to acknowledgement, commit included",
            Unit::Seconds,
            capture_latency.clone(),
        );
        let delivery_latency = Histogram::new(BUCKETS);
        registry.register_with_unit(
            "hookwire_delivery_duration",
            "Time the tunnels' local apps took to answer relayed requests",
            Unit::Seconds,
            delivery_latency.clone(),
        );
        Self {
            registry,
            captured,
            captured_bytes,
            rejected,
            db_errors,
            capture_latency,
            delivery_latency,
        }
    }
}

impl Metrics {
    /// A capture was stored and acknowledged after `took`.
    pub fn captured(&self, bytes: usize, took: Duration) {
        self.captured.inc();
        self.captured_bytes.inc_by(bytes as u64);
        self.capture_latency.observe(took.as_secs_f64());
    }

    /// A tunnel's local app answered after `took` (measured by the client).
    pub fn delivered(&self, took: Duration) {
        self.delivery_latency.observe(took.as_secs_f64());
    }

    /// A capture was refused.
    pub fn rejected(&self, why: Reject) {
        self.rejected[why as usize].inc();
    }

    /// A database operation failed.
    pub fn db_error(&self) {
        self.db_errors.inc();
    }

    /// The text exposition: the counters, then the gauges read now.
    pub fn render(&self, tunnels: usize, backlog: Option<u64>) -> String {
        // The gauges are the caller's figures of the moment, so they live in
        // a registry of this scrape's own: two scrapes at once cannot mix
        // their values.
        let mut now = Registry::default();
        now.register(
            "hookwire_tunnels_connected",
            "Tunnel clients connected now",
            ConstGauge::new(tunnels),
        );
        if let Some(backlog) = backlog {
            now.register(
                "hookwire_tunnel_backlog",
                "Requests not yet delivered to a tunnel name that has connected before",
                ConstGauge::new(backlog),
            );
        }
        let mut s = String::with_capacity(4096);
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut s, &self.registry);
        let _ = encode_registry(&mut s, &now);
        let _ = encode_eof(&mut s);
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
        let text = m.render(2, Some(7));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"2.5\"} 2\n"));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("hookwire_captured_bytes_total 30\n"));
        assert!(text.contains("hookwire_tunnels_connected 2\n"));
        assert!(text.contains("hookwire_tunnel_backlog 7\n"));
    }
}
