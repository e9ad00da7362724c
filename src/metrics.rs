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
}

impl Reject {
    const ALL: [Reject; 3] = [Reject::UnknownBin, Reject::BodyTooLarge, Reject::BadBody];

    fn label(self) -> &'static str {
        match self {
            Reject::UnknownBin => "unknown_bin",
            Reject::BodyTooLarge => "body_too_large",
            Reject::BadBody => "bad_body",
        }
    }
}

/// The server's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    captured: AtomicU64,
    captured_bytes: AtomicU64,
    rejected: [AtomicU64; 3],
    db_errors: AtomicU64,
    latency_buckets: [AtomicU64; BUCKETS.len()],
    latency_count: AtomicU64,
    latency_sum_micros: AtomicU64,
}

impl Metrics {
    /// A capture was stored and acknowledged after `took`.
    pub fn captured(&self, bytes: usize, took: Duration) {
        self.captured.fetch_add(1, Relaxed);
        self.captured_bytes.fetch_add(bytes as u64, Relaxed);
        let secs = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|b| secs <= *b) {
            self.latency_buckets[i].fetch_add(1, Relaxed);
        }
        self.latency_count.fetch_add(1, Relaxed);
        self.latency_sum_micros
            .fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
    }

    /// A capture was refused.
    pub fn rejected(&self, why: Reject) {
        self.rejected[why as usize].fetch_add(1, Relaxed);
    }

    /// A database operation failed.
    pub fn db_error(&self) {
        self.db_errors.fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
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
        let _ = writeln!(
            s,
            "# HELP hookwire_capture_duration_seconds Time from request to acknowledgement, commit included.\n\
             # TYPE hookwire_capture_duration_seconds histogram"
        );
        let mut cumulative = 0;
        for (b, n) in BUCKETS.iter().zip(&self.latency_buckets) {
            cumulative += n.load(Relaxed);
            let _ = writeln!(
                s,
                "hookwire_capture_duration_seconds_bucket{{le=\"{b}\"}} {cumulative}"
            );
        }
        let count = self.latency_count.load(Relaxed);
        let _ = writeln!(
            s,
            "hookwire_capture_duration_seconds_bucket{{le=\"+Inf\"}} {count}\n\
             hookwire_capture_duration_seconds_sum {}\n\
             hookwire_capture_duration_seconds_count {count}",
            self.latency_sum_micros.load(Relaxed) as f64 / 1e6
        );
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
        let text = m.render();
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"0.0005\"} 1\n"));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"0.005\"} 2\n"));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"2.5\"} 2\n"));
        assert!(text.contains("hookwire_capture_duration_seconds_bucket{le=\"+Inf\"} 3\n"));
        assert!(text.contains("hookwire_captured_bytes_total 30\n"));
    }
}
