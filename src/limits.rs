//! Limits that protect a shared instance from one noisy sender: a rate per
//! bin (token bucket) and a quota on the body bytes stored by all bins.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use uuid::Uuid;

/// Buckets kept before full ones are dropped (a full bucket is the same as
/// none).
const MAX_BUCKETS: usize = 10_000;

struct Bucket {
    tokens: f64,
    last: Instant,
}

/// Captures per second per bin, with bursts of twice the rate.
pub struct RateLimiter {
    per_sec: f64,
    burst: f64,
    /// A std mutex: a map lookup and some arithmetic, never across `.await`.
    buckets: Mutex<HashMap<Uuid, Bucket>>,
}

impl RateLimiter {
    /// `None` when `per_sec` is 0 (no limit).
    pub fn new(per_sec: u32) -> Option<Self> {
        (per_sec > 0).then(|| Self {
            per_sec: f64::from(per_sec),
            burst: 2.0 * f64::from(per_sec),
            buckets: Mutex::default(),
        })
    }

    /// Takes one capture from the bin's bucket, or says how long until one
    /// is there.
    pub fn take(&self, bin: Uuid) -> Result<(), Duration> {
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= MAX_BUCKETS {
            let (per_sec, burst) = (self.per_sec, self.burst);
            buckets.retain(|_, b| {
                b.tokens + now.duration_since(b.last).as_secs_f64() * per_sec < burst
            });
        }
        let b = buckets.entry(bin).or_insert(Bucket {
            tokens: self.burst,
            last: now,
        });
        b.tokens =
            (b.tokens + now.duration_since(b.last).as_secs_f64() * self.per_sec).min(self.burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / self.per_sec))
        }
    }
}

/// Body bytes stored by all bins, against `--max-stored-bytes`. The total
/// grows with every capture and is recounted from the database by the
/// background purge, which also sees what deletes freed.
pub struct StoredBytes {
    limit: u64,
    used: AtomicU64,
}

impl StoredBytes {
    /// `None` when `limit` is 0 (no quota).
    pub fn new(limit: u64) -> Option<Self> {
        (limit > 0).then(|| Self {
            limit,
            used: AtomicU64::new(0),
        })
    }

    /// Reserves room for a body, or refuses it.
    pub fn reserve(&self, bytes: u64) -> Result<(), u64> {
        let mut used = self.used.load(Ordering::Relaxed);
        loop {
            if used.saturating_add(bytes) > self.limit {
                return Err(self.limit);
            }
            match self.used.compare_exchange_weak(
                used,
                used + bytes,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Ok(()),
                Err(now) => used = now,
            }
        }
    }

    /// Sets the total from a count of what the database holds.
    pub fn recount(&self, used: u64) {
        self.used.store(used, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bursts_then_limits_then_refills() {
        let r = RateLimiter::new(5).expect("limited");
        let bin = Uuid::new_v4();
        for _ in 0..10 {
            assert!(r.take(bin).is_ok());
        }
        let wait = r.take(bin).expect_err("over the burst");
        assert!(wait <= Duration::from_millis(200), "{wait:?}");
        assert!(r.take(Uuid::new_v4()).is_ok(), "other bins unaffected");
        assert!(RateLimiter::new(0).is_none());
    }

    #[test]
    fn quota_refuses_past_the_limit() {
        let q = StoredBytes::new(100).expect("quota");
        assert!(q.reserve(60).is_ok());
        assert_eq!(q.reserve(41), Err(100));
        assert!(q.reserve(40).is_ok());
        q.recount(10);
        assert!(q.reserve(90).is_ok());
    }
}
