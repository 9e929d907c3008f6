//! Pure: whether a single call (a task without `terminationCondition`) is tried again inside the task, and after
//! how long. Only transient failures are retried: no response (connect error, timeout, reset) and the statuses that
//! may change by themselves (408, 425, 429, 5xx). The same task id and Idempotency-Key go with every attempt, so
//! no new task or Conductor retry is spent and a target can drop duplicates.

use std::time::Duration;

use super::retry_after;
use super::termination::Observation;

/// The first retry's base wait; each next one doubles it.
const FIRST_WAIT: Duration = Duration::from_millis(500);
/// The longest base wait (a target's Retry-After may ask for more, up to `polling.max_delay_secs`).
const LONGEST_WAIT: Duration = Duration::from_secs(30);

/// Whether this result of a call may be different if the call is made again.
pub fn worth_retrying(observation: &Observation) -> bool {
    matches!(observation, Observation::NoResponse(_) | Observation::Rejected { transient: true, .. })
}

/// The wait before retry number `retry` (1-based): 0.5 s doubling up to 30 s, half of it fixed and half random
/// (`random` in [0, 1)), raised to what the target's `Retry-After` asked and capped at `max_delay`.
pub fn wait_before(retry: u32, random: f64, retry_after: Option<Duration>, max_delay: Duration) -> Duration {
    let base = FIRST_WAIT.saturating_mul(1u32 << retry.saturating_sub(1).min(16)).min(LONGEST_WAIT);
    let jittered = base / 2 + base.mul_f64(random.clamp(0.0, 1.0) / 2.0);
    retry_after::next_delay(jittered, retry_after, max_delay)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::FailureKind;

    #[test]
    fn only_transient_failures_are_retried() {
        let rejected = |transient| Observation::Rejected { transient, description: "x".into() };
        assert!(worth_retrying(&Observation::NoResponse("timeout".into())));
        assert!(worth_retrying(&rejected(true)));
        assert!(!worth_retrying(&rejected(false)), "a 404 stays a 404");
        assert!(!worth_retrying(&Observation::Accepted(None)));
        let blocked = Observation::Unusable { kind: FailureKind::TargetBlocked, description: "x".into() };
        assert!(!worth_retrying(&blocked));
    }

    #[test]
    fn waits_double_with_jitter_and_follow_retry_after() {
        let cap = Duration::from_secs(600);
        let at = |retry, random| wait_before(retry, random, None, cap);
        assert_eq!(at(1, 0.0), Duration::from_millis(250));
        assert_eq!(at(1, 1.0), Duration::from_millis(500));
        assert_eq!(at(2, 0.5), Duration::from_millis(750));
        assert_eq!(at(3, 1.0), Duration::from_secs(2));
        assert_eq!(at(30, 1.0), LONGEST_WAIT, "capped");
        assert_eq!(wait_before(1, 0.0, Some(Duration::from_secs(5)), cap), Duration::from_secs(5));
        assert_eq!(wait_before(1, 0.0, Some(Duration::from_secs(5000)), cap), cap, "Retry-After is capped too");
    }
}
