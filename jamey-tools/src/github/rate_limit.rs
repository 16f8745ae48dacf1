//! Reading GitHub's rate-limit answers: a 429, a 403 naming a secondary rate limit, or a
//! 403/429 with `x-ratelimit-remaining: 0`, and how long each says to wait.

use std::time::{Duration, SystemTime};

use reqwest::header::HeaderMap;

use super::error::RateLimitKind;

/// GitHub's advice when a limit answer names no time: wait at least a minute.
const DEFAULT_WAIT: Duration = Duration::from_secs(60);

/// What a rate-limit answer asks of the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RateLimit {
    pub(crate) kind: RateLimitKind,
    /// From the moment the answer was read.
    pub(crate) wait: Duration,
}

/// The rate limit an unsuccessful answer stands for, if it is one.
pub(crate) fn classify(
    status: u16,
    headers: &HeaderMap,
    message: &str,
    now: SystemTime,
) -> Option<RateLimit> {
    if status != 403 && status != 429 {
        return None;
    }
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::trim)
    };
    if header("x-ratelimit-remaining") == Some("0") {
        let wait = header("x-ratelimit-reset")
            .and_then(|reset| reset.parse::<u64>().ok())
            .map(|reset| {
                (SystemTime::UNIX_EPOCH + Duration::from_secs(reset))
                    .duration_since(now)
                    .unwrap_or(Duration::ZERO)
            })
            .unwrap_or(DEFAULT_WAIT);
        return Some(RateLimit {
            kind: RateLimitKind::Primary,
            wait,
        });
    }
    let secondary = message.to_ascii_lowercase().contains("rate limit");
    let kind = match status {
        429 => RateLimitKind::TooManyRequests,
        _ if secondary => RateLimitKind::Secondary,
        // A 403 with `retry-after` is a secondary limit too, whatever its text says.
        _ if header("retry-after").is_some() => RateLimitKind::Secondary,
        _ => return None,
    };
    let wait = header("retry-after")
        .and_then(|value| parse_retry_after(value, now))
        .unwrap_or(DEFAULT_WAIT);
    Some(RateLimit { kind, wait })
}

/// `Retry-After` as delay-seconds or an HTTP date; a date in the past means now.
fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let date = SystemTime::UNIX_EPOCH + Duration::from_secs(u64::try_from(date.timestamp()).ok()?);
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, value.parse().unwrap());
        }
        map
    }

    #[test]
    fn each_kind_of_limit_and_its_wait() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let too_many = classify(429, &headers(&[("retry-after", "7")]), "", now).unwrap();
        assert_eq!(too_many.kind, RateLimitKind::TooManyRequests);
        assert_eq!(too_many.wait, Duration::from_secs(7));
        let secondary = classify(
            403,
            &headers(&[("retry-after", "30")]),
            "You have exceeded a secondary rate limit.",
            now,
        )
        .unwrap();
        assert_eq!(secondary.kind, RateLimitKind::Secondary);
        assert_eq!(secondary.wait, Duration::from_secs(30));
        let primary = classify(
            403,
            &headers(&[
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "1600"),
            ]),
            "API rate limit exceeded",
            now,
        )
        .unwrap();
        assert_eq!(primary.kind, RateLimitKind::Primary);
        assert_eq!(primary.wait, Duration::from_secs(600));
        let dated = classify(
            429,
            &headers(&[("retry-after", "Thu, 01 Jan 1970 00:17:00 GMT")]),
            "",
            now,
        )
        .unwrap();
        assert_eq!(dated.wait, Duration::from_secs(20));
        let unnamed = classify(403, &HeaderMap::new(), "secondary rate limit", now).unwrap();
        assert_eq!(unnamed.wait, DEFAULT_WAIT);
    }

    #[test]
    fn a_plain_forbidden_or_other_status_is_no_limit() {
        let now = SystemTime::now();
        let remaining = headers(&[("x-ratelimit-remaining", "4999")]);
        assert_eq!(
            classify(403, &remaining, "Resource not accessible", now),
            None
        );
        assert_eq!(
            classify(404, &headers(&[("retry-after", "1")]), "", now),
            None
        );
    }
}
