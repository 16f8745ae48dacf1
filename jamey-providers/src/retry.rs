//! Backoff between attempts (exponential with full jitter) and the `Retry-After` header.

use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::RetryConfig;

/// The pause before retry number `retry` (1 for the first retry): uniformly random between
/// zero and `min(max_delay, base_delay * 2^(retry-1))` ("full jitter"), which spreads out
/// clients that failed together.
pub(crate) fn backoff_delay(config: &RetryConfig, retry: u32) -> Duration {
    let exponent = retry.saturating_sub(1).min(20);
    let cap = config
        .base_delay
        .saturating_mul(1u32 << exponent)
        .min(config.max_delay);
    let cap_micros = u64::try_from(cap.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(rand::rng().random_range(0..=cap_micros))
}

/// Parses `Retry-After`: delay-seconds or an HTTP date (RFC 9110 §10.2.3). A date in the past
/// means "now".
pub(crate) fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    // Not in the RFC, but some servers send fractional seconds.
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0)
            .then(|| Duration::from_secs_f64(seconds.min(86_400.0)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_in_seconds_and_as_a_date() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("0.5", now),
            Some(Duration::from_millis(500))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(12));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(12))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(12));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn backoff_stays_under_the_growing_cap() {
        let config = RetryConfig {
            max_attempts: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(1),
        };
        for _ in 0..200 {
            assert!(backoff_delay(&config, 1) <= Duration::from_millis(100));
            assert!(backoff_delay(&config, 3) <= Duration::from_millis(400));
            assert!(backoff_delay(&config, 30) <= Duration::from_millis(1000));
        }
        let spread: std::collections::HashSet<_> =
            (0..50).map(|_| backoff_delay(&config, 5)).collect();
        assert!(spread.len() > 10, "full jitter spreads delays");
    }
}
