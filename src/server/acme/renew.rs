//! When to order: the renewal rule for a certificate's validity, and how
//! long to wait after a failed order. Pure time arithmetic, unit-tested.

use std::time::{Duration, SystemTime};

/// A certificate's validity period (notBefore, notAfter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    /// notBefore.
    pub from: SystemTime,
    /// notAfter.
    pub until: SystemTime,
}

impl Validity {
    /// Reads the validity of a DER certificate.
    pub fn of(der: &[u8]) -> Result<Self, String> {
        use x509_cert::der::Decode as _;
        let cert = x509_cert::Certificate::from_der(der)
            .map_err(|e| format!("not an X.509 certificate: {e}"))?;
        let validity = cert.tbs_certificate.validity;
        Ok(Self {
            from: SystemTime::UNIX_EPOCH + validity.not_before.to_unix_duration(),
            until: SystemTime::UNIX_EPOCH + validity.not_after.to_unix_duration(),
        })
    }

    /// When to renew: once two thirds of the lifetime have passed, i.e.
    /// with a third left — 30 days before the end of Let's Encrypt's
    /// 90-day certificates (what it recommends), 2 days before the end of
    /// its 6-day ones. Relative to the lifetime, so a CA that shortens its
    /// certificates needs no change here.
    pub fn renew_at(&self) -> SystemTime {
        let lifetime = self.until.duration_since(self.from).unwrap_or_default();
        self.until - lifetime / 3
    }

    /// Whether `now` is past notAfter: such a certificate is not served.
    pub fn expired(&self, now: SystemTime) -> bool {
        now >= self.until
    }

    /// How long from `now` until renewal is due; zero when it already is.
    pub fn until_renewal(&self, now: SystemTime) -> Duration {
        self.renew_at().duration_since(now).unwrap_or_default()
    }
}

/// The first pause after a failed order; it doubles with each failure
/// in a row, up to [`MAX_RETRY`].
pub const FIRST_RETRY: Duration = Duration::from_secs(120);

/// The longest pause between failed orders. With 2, 4, 8, 16, 32 minutes
/// first, at most 5 orders fail in the first hour: Let's Encrypt allows 5
/// failed validations per hostname per hour before it refuses for a while.
pub const MAX_RETRY: Duration = Duration::from_secs(3600);

/// The pause after `failures` failed orders in a row (at least 1).
pub fn retry_after(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(1).min(16);
    (FIRST_RETRY * 2u32.pow(doublings)).min(MAX_RETRY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn validity(days: u32) -> Validity {
        let from = SystemTime::UNIX_EPOCH + 20_000 * DAY;
        Validity {
            from,
            until: from + days * DAY,
        }
    }

    #[test]
    fn renews_with_a_third_of_the_lifetime_left() {
        let ninety = validity(90);
        assert_eq!(ninety.renew_at(), ninety.until - 30 * DAY);
        let six = validity(6);
        assert_eq!(six.renew_at(), six.until - 2 * DAY);
        // A day after issue, 59 days to go; past the renewal time, none.
        assert_eq!(ninety.until_renewal(ninety.from + DAY), 59 * DAY);
        assert_eq!(ninety.until_renewal(ninety.until - DAY), Duration::ZERO);
        assert!(!ninety.expired(ninety.until - DAY));
        assert!(ninety.expired(ninety.until));
    }

    #[test]
    fn a_validity_backwards_renews_at_once() {
        let v = validity(90);
        let backwards = Validity {
            from: v.until,
            until: v.from,
        };
        assert_eq!(backwards.renew_at(), backwards.until);
    }

    #[test]
    fn failed_orders_back_off_to_an_hour() {
        let mins: Vec<u64> = (1..=8).map(|n| retry_after(n).as_secs() / 60).collect();
        assert_eq!(mins, [2, 4, 8, 16, 32, 60, 60, 60]);
        assert_eq!(retry_after(0), FIRST_RETRY);
        assert_eq!(retry_after(u32::MAX), MAX_RETRY);
    }

    #[test]
    fn reads_the_validity_of_a_certificate() {
        let key = rcgen::KeyPair::generate().expect("key");
        let mut params = rcgen::CertificateParams::new(vec!["a.example".into()]).expect("params");
        params.not_before = rcgen::date_time_ymd(2026, 1, 1);
        params.not_after = rcgen::date_time_ymd(2026, 4, 1);
        let cert = params.self_signed(&key).expect("cert");
        let v = Validity::of(cert.der()).expect("validity");
        assert_eq!(v.until.duration_since(v.from).expect("order"), 90 * DAY);
        assert!(Validity::of(b"not a certificate").is_err());
    }
}
