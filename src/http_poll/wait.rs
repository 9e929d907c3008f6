//! Pure: how to wait before the next poll, in this process (hold) or on the server (park).
//!
//! - Hold: the task stays here on a timer, its slot kept. Cheap and precise (sub-second intervals work), but the
//!   server hears nothing meanwhile, so the whole hold must fit the TaskDef's `responseTimeoutSeconds`, and a
//!   crash loses the progress (the server re-delivers the task only after that timeout).
//! - Park: report IN_PROGRESS with `callbackAfterSeconds` = the wait rounded up and the state in `outputData`;
//!   the slot is freed and whichever replica polls the task next resumes it. Used for waits at or above the park
//!   threshold, for waits a hold cannot fit into the response timeout, for every wait of a task without a
//!   response timeout (conductor-oss 3.30+ gives tasks without a TaskDef none: a task held by a worker that dies
//!   would never be recovered), and for every wait once shutdown began.
//!
//! A parked task can come back early: conductor-oss 3.21.x's SQLite queue hands out tasks up to about a second
//! before `callbackAfterSeconds` is up. The rest of that wait is held (when it is short and fits the response
//! timeout) rather than parked again: parking it would come back early again, in a loop of updates and polls.

use std::time::Duration;

/// How to spend the wait.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wait {
    /// Sleep here for this long.
    Hold(Duration),
    /// Hand the task back; the server re-delivers it after this many seconds.
    Park {
        /// `callbackAfterSeconds`.
        callback_after_secs: u64,
    },
}

/// Everything the choice depends on.
#[derive(Debug, Clone, Copy)]
pub struct WaitInputs {
    /// How long until the next poll is due.
    pub delay: Duration,
    /// Waits at or above this park (0 parks every wait).
    pub park_threshold: Duration,
    /// How long this delivery has been held without an update to the server.
    pub held_for: Duration,
    /// The longest the next request may take (its connect + read timeout).
    pub next_request_budget: Duration,
    /// The TaskDef's `responseTimeoutSeconds`, if any.
    pub response_timeout: Option<Duration>,
    /// Shutdown has begun: nothing new is held.
    pub shutting_down: bool,
    /// This is the rest of a parked wait: the task came back before it was due.
    pub came_back_early: bool,
}

/// The longest rest of a parked wait that is held instead of parked again (servers re-deliver up to ~1 s early).
pub const EARLY_RETURN_HOLD_MAX: Duration = Duration::from_secs(2);

/// Slack kept below the response timeout: the server checks it late, but our clock and its clock differ too.
fn safety_margin(response_timeout: Duration) -> Duration {
    (response_timeout / 10).max(Duration::from_secs(2))
}

/// Chooses hold or park.
pub fn choose(inputs: WaitInputs) -> Wait {
    let park = Wait::Park { callback_after_secs: inputs.delay.as_secs_f64().ceil() as u64 };
    let rest_of_a_park = inputs.came_back_early && inputs.delay <= EARLY_RETURN_HOLD_MAX;
    if inputs.shutting_down || (inputs.delay >= inputs.park_threshold && !rest_of_a_park) {
        return park;
    }
    let Some(timeout) = inputs.response_timeout else {
        return park;
    };
    let needed = inputs.held_for + inputs.delay + inputs.next_request_budget + safety_margin(timeout);
    if needed > timeout {
        return park;
    }
    Wait::Hold(inputs.delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inputs(delay_ms: u64) -> WaitInputs {
        WaitInputs {
            delay: Duration::from_millis(delay_ms),
            park_threshold: Duration::from_secs(30),
            held_for: Duration::ZERO,
            next_request_budget: Duration::from_secs(6),
            response_timeout: Some(Duration::from_secs(3600)),
            shutting_down: false,
            came_back_early: false,
        }
    }

    #[test]
    fn the_short_rest_of_a_parked_wait_is_held_not_parked_again() {
        let early = |delay_ms| WaitInputs { park_threshold: Duration::ZERO, came_back_early: true, ..inputs(delay_ms) };
        assert_eq!(choose(early(600)), Wait::Hold(Duration::from_millis(600)));
        assert_eq!(choose(early(2_000)), Wait::Hold(Duration::from_secs(2)));
        assert_eq!(choose(early(2_001)), Wait::Park { callback_after_secs: 3 }, "a long rest parks again");
        let unprotected = WaitInputs { response_timeout: None, ..early(600) };
        assert_eq!(choose(unprotected), Wait::Park { callback_after_secs: 1 }, "no response timeout: never hold");
        let stopping = WaitInputs { shutting_down: true, ..early(600) };
        assert_eq!(choose(stopping), Wait::Park { callback_after_secs: 1 });
        let tight = WaitInputs { response_timeout: Some(Duration::from_secs(5)), ..early(600) };
        assert_eq!(choose(tight), Wait::Park { callback_after_secs: 1 }, "the hold must fit the response timeout");
    }

    #[test]
    fn without_a_response_timeout_every_wait_parks() {
        let unprotected = WaitInputs { response_timeout: None, ..inputs(500) };
        assert_eq!(choose(unprotected), Wait::Park { callback_after_secs: 1 });
    }

    #[test]
    fn threshold_decides_when_the_timeout_is_far() {
        assert_eq!(choose(inputs(5_000)), Wait::Hold(Duration::from_secs(5)));
        assert_eq!(choose(inputs(250)), Wait::Hold(Duration::from_millis(250)));
        assert_eq!(choose(inputs(29_999)), Wait::Hold(Duration::from_millis(29_999)));
        assert_eq!(choose(inputs(30_000)), Wait::Park { callback_after_secs: 30 });
        assert_eq!(choose(inputs(90_500)), Wait::Park { callback_after_secs: 91 });
    }

    #[test]
    fn zero_threshold_parks_every_wait_rounded_up() {
        let zero = |delay_ms| WaitInputs { park_threshold: Duration::ZERO, ..inputs(delay_ms) };
        assert_eq!(choose(zero(1)), Wait::Park { callback_after_secs: 1 });
        assert_eq!(choose(zero(1_000)), Wait::Park { callback_after_secs: 1 });
        assert_eq!(choose(zero(1_001)), Wait::Park { callback_after_secs: 2 });
        assert_eq!(choose(zero(0)), Wait::Park { callback_after_secs: 0 });
    }

    #[test]
    fn a_hold_must_fit_the_response_timeout() {
        let with_timeout = |held_secs, timeout_secs| WaitInputs {
            held_for: Duration::from_secs(held_secs),
            response_timeout: Some(Duration::from_secs(timeout_secs)),
            ..inputs(5_000)
        };
        // 0 + 5 + 6 + max(2, 3) = 14 <= 30: hold.
        assert_eq!(choose(with_timeout(0, 30)), Wait::Hold(Duration::from_secs(5)));
        // 17 + 5 + 6 + 3 = 31 > 30: park.
        assert_eq!(choose(with_timeout(17, 30)), Wait::Park { callback_after_secs: 5 });
        // A response timeout shorter than one request: always park.
        assert_eq!(choose(with_timeout(0, 5)), Wait::Park { callback_after_secs: 5 });
        assert_eq!(choose(with_timeout(250, 300)), Wait::Hold(Duration::from_secs(5)));
        assert_eq!(choose(with_timeout(260, 300)), Wait::Park { callback_after_secs: 5 });
    }

    #[test]
    fn shutdown_parks_even_short_waits() {
        let stopping = WaitInputs { shutting_down: true, ..inputs(100) };
        assert_eq!(choose(stopping), Wait::Park { callback_after_secs: 1 });
    }
}
