//! Pure: the delay before the next poll.
//!
//! `pollCount` is the number of polls made so far (1 after the first). With interval `i`:
//! FIXED waits `i` every time; LINEAR_BACKOFF waits `i × pollCount` (60, 120, 180, ... for 60);
//! EXPONENTIAL_BACKOFF waits `i × 2^pollCount` (120, 240, ... for 60). These are the intervals Orkes' HTTP_POLL was
//! observed to use. Every delay is capped, never overflows, and gets jitter only when configured.

use std::time::Duration;

/// How the delay between polls grows (`pollingStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollingStrategy {
    /// `interval` every time.
    Fixed,
    /// `interval × pollCount`.
    LinearBackoff,
    /// `interval × 2^pollCount`.
    ExponentialBackoff,
}

impl PollingStrategy {
    /// Parses the input value; case-insensitive, `-` accepted for `_`.
    pub fn parse(raw: &str) -> Option<Self> {
        match raw.trim().to_ascii_uppercase().replace('-', "_").as_str() {
            "FIXED" => Some(Self::Fixed),
            "LINEAR_BACKOFF" | "LINEAR" => Some(Self::LinearBackoff),
            "EXPONENTIAL_BACKOFF" | "EXPONENTIAL" => Some(Self::ExponentialBackoff),
            _ => None,
        }
    }

    /// The input spelling.
    pub fn name(self) -> &'static str {
        match self {
            Self::Fixed => "FIXED",
            Self::LinearBackoff => "LINEAR_BACKOFF",
            Self::ExponentialBackoff => "EXPONENTIAL_BACKOFF",
        }
    }

    /// The wait after `polls_made` polls (≥ 1), at most `cap`.
    pub fn delay(self, interval: Duration, polls_made: u32, cap: Duration) -> Duration {
        let factor = match self {
            Self::Fixed => 1.0,
            Self::LinearBackoff => f64::from(polls_made.max(1)),
            // 2^1024 is infinite in f64; min() below turns that into the cap.
            Self::ExponentialBackoff => 2f64.powi(polls_made.clamp(1, 1100) as i32),
        };
        let secs = interval.as_secs_f64() * factor;
        if secs.is_finite() && secs < cap.as_secs_f64() { Duration::from_secs_f64(secs) } else { cap }
    }
}

/// Spreads a delay by up to `±ratio` (0 = none): `unit` is a random number in [0, 1).
pub fn with_jitter(delay: Duration, ratio: f64, unit: f64) -> Duration {
    if ratio <= 0.0 {
        return delay;
    }
    let spread = ratio.min(1.0) * (2.0 * unit - 1.0);
    delay.mul_f64((1.0 + spread).max(0.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn secs(strategy: PollingStrategy, interval: f64, polls: &[u32]) -> Vec<f64> {
        polls.iter().map(|&n| strategy.delay(Duration::from_secs_f64(interval), n, DAY).as_secs_f64()).collect()
    }

    #[test]
    fn orkes_observed_intervals_for_sixty_seconds() {
        assert_eq!(secs(PollingStrategy::Fixed, 60.0, &[1, 2, 3]), [60.0, 60.0, 60.0]);
        assert_eq!(secs(PollingStrategy::LinearBackoff, 60.0, &[1, 2, 3]), [60.0, 120.0, 180.0]);
        assert_eq!(secs(PollingStrategy::ExponentialBackoff, 60.0, &[1, 2, 3]), [120.0, 240.0, 480.0]);
    }

    #[test]
    fn fractional_intervals_and_zero_polls() {
        assert_eq!(secs(PollingStrategy::Fixed, 0.25, &[1, 7]), [0.25, 0.25]);
        assert_eq!(secs(PollingStrategy::LinearBackoff, 0.5, &[0, 1, 4]), [0.5, 0.5, 2.0]);
        assert_eq!(secs(PollingStrategy::ExponentialBackoff, 0.5, &[0, 3]), [1.0, 4.0]);
    }

    #[test]
    fn delays_are_capped_and_never_overflow() {
        let cap = Duration::from_secs(600);
        for polls in [20, 64, 1000, 5000, u32::MAX] {
            assert_eq!(PollingStrategy::ExponentialBackoff.delay(Duration::from_secs(60), polls, cap), cap, "{polls}");
        }
        assert_eq!(PollingStrategy::LinearBackoff.delay(Duration::from_secs(60), u32::MAX, cap), cap);
        assert_eq!(PollingStrategy::Fixed.delay(Duration::from_secs(3600), 1, cap), cap);
    }

    #[test]
    fn parse_accepts_the_documented_names() {
        let cases = [
            ("FIXED", Some(PollingStrategy::Fixed)),
            ("linear_backoff", Some(PollingStrategy::LinearBackoff)),
            ("EXPONENTIAL-BACKOFF", Some(PollingStrategy::ExponentialBackoff)),
            ("RANDOM", None),
            ("", None),
        ];
        for (raw, want) in cases {
            assert_eq!(PollingStrategy::parse(raw), want, "{raw}");
        }
    }

    #[test]
    fn jitter_stays_within_the_ratio() {
        let base = Duration::from_secs(10);
        assert_eq!(with_jitter(base, 0.0, 0.9), base);
        assert_eq!(with_jitter(base, 0.2, 0.0), Duration::from_secs(8));
        assert_eq!(with_jitter(base, 0.2, 0.5), base);
        assert!(with_jitter(base, 0.2, 0.999) <= Duration::from_secs(12));
        assert_eq!(with_jitter(base, 5.0, 0.0), Duration::ZERO);
    }
}
