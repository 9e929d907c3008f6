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
//! While the worker extends the task's lease ([`crate::worker::lease`]), a hold need not fit into the response
//! timeout: the server hears of the task every 80 % of it. Holds are still only for waits below the park threshold.
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

/// What the choice depends on, besides how long the wait is.
#[derive(Debug, Clone, Copy)]
pub struct WaitContext {
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
    /// The worker extends the task's lease while it holds.
    pub leased: bool,
}

/// The longest rest of a parked wait that is held instead of parked again (servers re-deliver up to ~1 s early).
pub const EARLY_RETURN_HOLD_MAX: Duration = Duration::from_secs(2);

/// Slack kept below the response timeout: the server checks it late, but our clock and its clock differ too.
pub fn response_timeout_margin(response_timeout: Duration) -> Duration {
    (response_timeout / 10).max(Duration::from_secs(2))
}

/// Chooses how to spend a wait of `delay`: hold or park.
pub fn choose(delay: Duration, context: &WaitContext) -> Wait {
    let park = Wait::Park { callback_after_secs: delay.as_secs_f64().ceil() as u64 };
    let rest_of_a_park = context.came_back_early && delay <= EARLY_RETURN_HOLD_MAX;
    if context.shutting_down || (delay >= context.park_threshold && !rest_of_a_park) {
        return park;
    }
    let Some(timeout) = context.response_timeout else {
        return park;
    };
    let needed = context.held_for + delay + context.next_request_budget + response_timeout_margin(timeout);
    if needed > timeout && !context.leased {
        return park;
    }
    Wait::Hold(delay)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context() -> WaitContext {
        WaitContext {
            park_threshold: Duration::from_secs(30),
            held_for: Duration::ZERO,
            next_request_budget: Duration::from_secs(6),
            response_timeout: Some(Duration::from_secs(3600)),
            shutting_down: false,
            came_back_early: false,
            leased: false,
        }
    }

    fn after_ms(delay_ms: u64, context: WaitContext) -> Wait {
        choose(Duration::from_millis(delay_ms), &context)
    }

    #[test]
    fn the_short_rest_of_a_parked_wait_is_held_not_parked_again() {
        let early = WaitContext { park_threshold: Duration::ZERO, came_back_early: true, ..context() };
        assert_eq!(after_ms(600, early), Wait::Hold(Duration::from_millis(600)));
        assert_eq!(after_ms(2_000, early), Wait::Hold(Duration::from_secs(2)));
        assert_eq!(after_ms(2_001, early), Wait::Park { callback_after_secs: 3 }, "a long rest parks again");
        let unprotected = WaitContext { response_timeout: None, ..early };
        assert_eq!(
            after_ms(600, unprotected),
            Wait::Park { callback_after_secs: 1 },
            "no response timeout: never hold"
        );
        let stopping = WaitContext { shutting_down: true, ..early };
        assert_eq!(after_ms(600, stopping), Wait::Park { callback_after_secs: 1 });
        let tight = WaitContext { response_timeout: Some(Duration::from_secs(5)), ..early };
        assert_eq!(
            after_ms(600, tight),
            Wait::Park { callback_after_secs: 1 },
            "the hold must fit the response timeout"
        );
    }

    #[test]
    fn without_a_response_timeout_every_wait_parks() {
        let unprotected = WaitContext { response_timeout: None, ..context() };
        assert_eq!(after_ms(500, unprotected), Wait::Park { callback_after_secs: 1 });
    }

    #[test]
    fn threshold_decides_when_the_timeout_is_far() {
        assert_eq!(after_ms(5_000, context()), Wait::Hold(Duration::from_secs(5)));
        assert_eq!(after_ms(250, context()), Wait::Hold(Duration::from_millis(250)));
        assert_eq!(after_ms(29_999, context()), Wait::Hold(Duration::from_millis(29_999)));
        assert_eq!(after_ms(30_000, context()), Wait::Park { callback_after_secs: 30 });
        assert_eq!(after_ms(90_500, context()), Wait::Park { callback_after_secs: 91 });
    }

    #[test]
    fn zero_threshold_parks_every_wait_rounded_up() {
        let zero = WaitContext { park_threshold: Duration::ZERO, ..context() };
        assert_eq!(after_ms(1, zero), Wait::Park { callback_after_secs: 1 });
        assert_eq!(after_ms(1_000, zero), Wait::Park { callback_after_secs: 1 });
        assert_eq!(after_ms(1_001, zero), Wait::Park { callback_after_secs: 2 });
        assert_eq!(after_ms(0, zero), Wait::Park { callback_after_secs: 0 });
    }

    #[test]
    fn a_hold_must_fit_the_response_timeout() {
        let with_timeout = |held_secs, timeout_secs| WaitContext {
            held_for: Duration::from_secs(held_secs),
            response_timeout: Some(Duration::from_secs(timeout_secs)),
            ..context()
        };
        // 0 + 5 + 6 + max(2, 3) = 14 <= 30: hold.
        assert_eq!(after_ms(5_000, with_timeout(0, 30)), Wait::Hold(Duration::from_secs(5)));
        // 17 + 5 + 6 + 3 = 31 > 30: park.
        assert_eq!(after_ms(5_000, with_timeout(17, 30)), Wait::Park { callback_after_secs: 5 });
        // A response timeout shorter than one request: always park.
        assert_eq!(after_ms(5_000, with_timeout(0, 5)), Wait::Park { callback_after_secs: 5 });
        assert_eq!(after_ms(5_000, with_timeout(250, 300)), Wait::Hold(Duration::from_secs(5)));
        assert_eq!(after_ms(5_000, with_timeout(260, 300)), Wait::Park { callback_after_secs: 5 });
    }

    #[test]
    fn a_leased_hold_need_not_fit_the_response_timeout() {
        let leased = |held_secs| WaitContext {
            held_for: Duration::from_secs(held_secs),
            response_timeout: Some(Duration::from_secs(10)),
            leased: true,
            ..context()
        };
        // 0 + 5 + 6 + 2 = 13 > 10, and 100 s held already: the lease keeps the server waiting.
        assert_eq!(after_ms(5_000, leased(0)), Wait::Hold(Duration::from_secs(5)));
        assert_eq!(after_ms(5_000, leased(100)), Wait::Hold(Duration::from_secs(5)));
        assert_eq!(after_ms(30_000, leased(0)), Wait::Park { callback_after_secs: 30 }, "the threshold still parks");
        let stopping = WaitContext { shutting_down: true, ..leased(0) };
        assert_eq!(after_ms(5_000, stopping), Wait::Park { callback_after_secs: 5 });
    }

    #[test]
    fn shutdown_parks_even_short_waits() {
        let stopping = WaitContext { shutting_down: true, ..context() };
        assert_eq!(after_ms(100, stopping), Wait::Park { callback_after_secs: 1 });
    }
}
