//! Pure: decorrelated-jitter backoff for calls to the server that fail (polls, updates). Each wait is random
//! between `base` and three times the previous wait, capped, so many replicas that lost the server at the same
//! moment do not come back in lockstep.

use std::time::Duration;

/// Backoff state: the previous wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    previous: Duration,
}

impl Backoff {
    /// Waits start at `base` and never exceed `cap`.
    pub fn new(base: Duration, cap: Duration) -> Self {
        Self { base, cap: cap.max(base), previous: Duration::ZERO }
    }

    /// The next wait; `unit` is a random number in [0, 1).
    pub fn next(&mut self, unit: f64) -> Duration {
        let upper = (self.previous * 3).max(self.base);
        let wait = self.base + (upper - self.base).mul_f64(unit.clamp(0.0, 1.0));
        self.previous = wait.min(self.cap);
        self.previous
    }

    /// After a success: the next failure starts from `base` again.
    pub fn reset(&mut self) {
        self.previous = Duration::ZERO;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: Duration = Duration::from_millis(100);
    const CAP: Duration = Duration::from_secs(30);

    #[test]
    fn grows_within_bounds_and_caps() {
        let mut backoff = Backoff::new(BASE, CAP);
        assert_eq!(backoff.next(0.0), BASE);
        assert_eq!(backoff.next(1.0), Duration::from_millis(300));
        assert_eq!(backoff.next(1.0), Duration::from_millis(900));
        for _ in 0..20 {
            backoff.next(1.0);
        }
        assert_eq!(backoff.next(1.0), CAP);
        assert!(backoff.next(0.5) <= CAP);
    }

    #[test]
    fn random_waits_stay_between_base_and_three_times_the_previous() {
        let mut backoff = Backoff::new(BASE, CAP);
        let mut previous = Duration::ZERO;
        for i in 0..200 {
            let wait = backoff.next(f64::from(i % 10) / 10.0);
            assert!(wait >= BASE && wait <= (previous * 3).max(BASE).min(CAP), "{wait:?} after {previous:?}");
            previous = wait;
        }
    }

    #[test]
    fn reset_starts_over() {
        let mut backoff = Backoff::new(BASE, CAP);
        for _ in 0..10 {
            backoff.next(1.0);
        }
        backoff.reset();
        assert_eq!(backoff.next(1.0), BASE);
    }
}
