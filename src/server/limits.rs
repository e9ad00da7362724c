//! Limits that protect a shared instance from one noisy sender: a rate per
//! bin (governor's GCRA, a token bucket kept as one timestamp) and a quota
//! on the body bytes stored by all bins.

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::clock::{Clock as _, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};
use uuid::Uuid;

/// Bins tracked before the idle ones are dropped: an idle bin's state is
/// the same as a fresh one's, so dropping it changes no decision.
const MAX_BINS: usize = 10_000;

/// How many `take`s pass between two checks of the map's size: counting
/// the keys visits every shard, too much for every capture.
const SIZE_CHECK_EVERY: u64 = 256;

/// Captures per second per bin, with bursts of twice the rate.
pub struct RateLimiter {
    /// One GCRA state per bin: a compare-and-swap per take, in a sharded
    /// map, so captures to different bins do not queue on one lock.
    limiter: DefaultKeyedRateLimiter<Uuid>,
    /// `take`s so far, to check the map's size now and then.
    takes: AtomicU64,
}

impl RateLimiter {
    /// `None` when `per_sec` is 0 (no limit).
    pub fn new(per_sec: u32) -> Option<Self> {
        let rate = NonZeroU32::new(per_sec)?;
        let burst = rate.saturating_add(per_sec);
        Some(Self {
            limiter: DefaultKeyedRateLimiter::keyed(Quota::per_second(rate).allow_burst(burst)),
            takes: AtomicU64::new(0),
        })
    }

    /// Takes one capture from the bin's allowance, or says how long until
    /// one is there.
    pub fn take(&self, bin: Uuid) -> Result<(), Duration> {
        if self
            .takes
            .fetch_add(1, Ordering::Relaxed)
            .is_multiple_of(SIZE_CHECK_EVERY)
            && self.limiter.len() >= MAX_BINS
        {
            self.limiter.retain_recent();
        }
        self.limiter
            .check_key(&bin)
            .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
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
