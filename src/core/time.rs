//! Time as hookwire stores and shows it: milliseconds since the Unix epoch,
//! written as RFC 3339 in UTC.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch: how every timestamp is stored.
pub type Millis = i64;

/// The current wall-clock time in [`Millis`].
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// RFC 3339 with milliseconds in UTC, e.g. `2026-11-23T03:36:34.123Z`.
pub fn rfc3339(ms: Millis) -> String {
    let t = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_millis(t).to_string()
}

/// RFC 3339 to [`Millis`]; `Z`, `+00:00` and other offsets are understood.
pub fn parse_rfc3339(text: &str) -> Option<Millis> {
    let b = text.as_bytes();
    let (local, offset_secs) = match b.len().checked_sub(6) {
        Some(i) if i >= 19 && matches!(b[i], b'+' | b'-') && b[i + 3] == b':' => {
            let hours: i64 = text.get(i + 1..i + 3)?.parse().ok()?;
            let minutes: i64 = text.get(i + 4..)?.parse().ok()?;
            let sign = if b[i] == b'+' { 1 } else { -1 };
            (&text[..i], sign * (hours * 3600 + minutes * 60))
        }
        _ => (text.trim_end_matches(['Z', 'z']), 0),
    };
    let t = humantime::parse_rfc3339_weak(local).ok()?;
    let ms = i64::try_from(t.duration_since(UNIX_EPOCH).ok()?.as_millis()).ok()?;
    ms.checked_sub(offset_secs * 1000)
}

/// Milliseconds rounded to 2 decimals (10 µs): how every latency is shown
/// and reported. Timer noise below that means nothing to a person and
/// only makes `0.8379019999999999` of `0.84`.
pub fn round_ms(ms: f64) -> f64 {
    (ms * 100.0).round() / 100.0
}

/// A measured duration in milliseconds, rounded by [`round_ms`].
pub fn ms(d: Duration) -> f64 {
    round_ms(d.as_secs_f64() * 1000.0)
}

/// A duration as a clock reads it: `0:07`, `4:59`, `1:02:03`, to the
/// nearest second (a ticker reading a few µs past or before a whole second
/// shows that second).
pub fn clock(d: Duration) -> String {
    let secs = d.as_secs() + u64::from(d.subsec_millis() >= 500);
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_for_people() {
        assert_eq!(round_ms(0.8379019999999999), 0.84);
        assert_eq!(ms(Duration::from_nanos(837_901)), 0.84);
        assert_eq!(ms(Duration::from_nanos(1_234_567_890)), 1234.57);
        assert_eq!(ms(Duration::ZERO), 0.0);
        assert_eq!(
            serde_json::to_string(&ms(Duration::from_nanos(837_901_999))).ok(),
            Some("837.9".into())
        );
    }

    #[test]
    fn clocks() {
        assert_eq!(clock(Duration::from_millis(12_000)), "0:12");
        assert_eq!(clock(Duration::from_millis(299_997)), "5:00");
        assert_eq!(clock(Duration::from_millis(1_003)), "0:01");
        assert_eq!(clock(Duration::from_secs(3723)), "1:02:03");
    }

    #[test]
    fn times_with_offsets() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:01.500Z"), Some(1500));
        assert_eq!(parse_rfc3339("1970-01-01T01:00:01+01:00"), Some(1000));
        assert_eq!(
            parse_rfc3339("1970-01-01T00:00:01-00:30"),
            Some(1000 + 1_800_000)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn round_trips() {
        assert_eq!(rfc3339(1500), "1970-01-01T00:00:01.500Z");
        assert_eq!(
            parse_rfc3339(&rfc3339(1_790_000_000_123)),
            Some(1_790_000_000_123)
        );
    }
}
