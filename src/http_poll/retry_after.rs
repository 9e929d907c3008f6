//! Pure: a target that answers 429 (Too Many Requests) or 503 (Service Unavailable) with `Retry-After` sets the
//! wait before the next poll (RFC 9110 §10.2.3): delay-seconds or an HTTP date. The wait is never shorter than the
//! polling strategy's and never longer than `polling.max_delay_secs`. A hostile or broken target can therefore
//! slow only its own task, and only up to the configured ceiling; an unparseable value is ignored.

use std::time::{Duration, UNIX_EPOCH};

use serde_json::{Map, Value};

/// The header's name as responses store it (Title-Case).
const HEADER: &str = "Retry-After";

/// The wait `Retry-After` asks for in a response with `status` and `headers`, at `now_ms` (epoch milliseconds);
/// `None` when the status is not 429 or 503, or the header is missing or unreadable.
pub fn requested(status: u16, headers: &Map<String, Value>, now_ms: u64) -> Option<Duration> {
    if !matches!(status, 429 | 503) {
        return None;
    }
    let value = headers.get(HEADER)?.as_array()?.first()?.as_str()?.trim();
    if value.bytes().all(|b| b.is_ascii_digit()) && !value.is_empty() {
        // Longer than any ceiling anyway: saturate rather than fail on absurd values.
        return Some(Duration::from_secs(value.parse().unwrap_or(u64::MAX)));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let at_ms = at.duration_since(UNIX_EPOCH).ok()?.as_millis() as u64;
    Some(Duration::from_millis(at_ms.saturating_sub(now_ms)))
}

/// The next poll's delay: the strategy's `delay`, raised to what `Retry-After` asks, capped at `max_delay`
/// (never below the strategy's delay, even when that is above the cap).
pub fn next_delay(delay: Duration, requested: Option<Duration>, max_delay: Duration) -> Duration {
    match requested {
        Some(wait) if wait > delay => wait.min(max_delay).max(delay),
        _ => delay,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn headers(value: &str) -> Map<String, Value> {
        json!({"Retry-After": [value], "Content-Type": ["text/plain"]}).as_object().unwrap().clone()
    }

    #[test]
    fn seconds_and_dates_on_429_and_503_only() {
        // 2026-12-03T07:00:00Z
        let now = 1_796_281_200_000;
        assert_eq!(requested(429, &headers("120"), now), Some(Duration::from_secs(120)));
        assert_eq!(requested(503, &headers(" 7 "), now), Some(Duration::from_secs(7)));
        assert_eq!(requested(503, &headers("Thu, 03 Dec 2026 07:01:30 GMT"), now), Some(Duration::from_secs(90)));
        assert_eq!(requested(503, &headers("Thu, 03 Dec 2026 06:59:00 GMT"), now), Some(Duration::ZERO), "past");
        assert_eq!(requested(429, &headers("99999999999999999999999"), now), Some(Duration::from_secs(u64::MAX)));
        for ignored in ["", "-5", "1.5", "soon", "Thu, 32 Dec 2026 07:01:30 GMT"] {
            assert_eq!(requested(429, &headers(ignored), now), None, "{ignored:?}");
        }
        assert_eq!(requested(200, &headers("120"), now), None);
        assert_eq!(requested(500, &headers("120"), now), None);
        assert_eq!(requested(429, &Map::new(), now), None);
    }

    #[test]
    fn the_wait_is_between_the_strategy_and_the_ceiling() {
        let (s, cap) = (Duration::from_secs(5), Duration::from_secs(600));
        assert_eq!(next_delay(s, None, cap), s);
        assert_eq!(next_delay(s, Some(Duration::from_secs(60)), cap), Duration::from_secs(60));
        assert_eq!(next_delay(s, Some(Duration::from_secs(1)), cap), s, "never shorter than the strategy");
        assert_eq!(next_delay(s, Some(Duration::from_secs(u64::MAX)), cap), cap, "a hostile value stops at the cap");
        let long = Duration::from_secs(900);
        assert_eq!(next_delay(long, Some(Duration::from_secs(1000)), cap), long, "the strategy's own wait stands");
    }
}
