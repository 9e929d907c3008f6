//! Pure: one step of a polling task, given its state and the time. The executor reads the clock once per step,
//! asks here what to do, and does it; it decides nothing itself.
//!
//! ```text
//! before_poll(state, now, context) ─▶ PollNow | Wait(Hold(d) | Park{callback})
//! poll_sent(state, now)              (counts the poll, stamps the first one)
//! after_poll(state, observation, max, delay, now) ─▶ Finish(Complete | Fail) | PollAgain (next poll due at now + delay)
//! park_for_rest(state, now)          (shutdown during a hold: the callback for what is left of the wait)
//! ```
//!
//! Owns: how the state advances and which action follows. Does not own: what an observation means
//! ([`super::termination`]), how a wait is spent ([`super::wait`]), or the delay after n polls ([`super::strategy`]).

use std::num::NonZeroU32;
use std::time::Duration;

use super::state::PollState;
use super::termination::{Decision, Observation, decide_poll};
pub use super::wait::WaitContext;
use super::wait::{self, Wait};

/// Before a poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Before {
    /// The poll is due: send it.
    PollNow,
    /// Not yet: hold here or park on the server.
    Wait(Wait),
}

/// What to do before the next poll, at `now_ms`.
pub fn before_poll(state: &PollState, now_ms: u64, context: WaitContext) -> Before {
    let delay = Duration::from_millis(state.next_poll_at_ms.saturating_sub(now_ms));
    if delay.is_zero() {
        return Before::PollNow;
    }
    Before::Wait(wait::choose(delay, &context))
}

/// A poll was sent and answered (or failed) at `now_ms`: it counts.
pub fn poll_sent(state: &mut PollState, now_ms: u64) {
    state.polls_made += 1;
    if state.first_poll_at_ms == 0 {
        state.first_poll_at_ms = now_ms;
    }
}

/// After a counted poll: the decision, with the next poll due `delay` after `now_ms` when it is to poll again.
pub fn after_poll(
    state: &mut PollState,
    observation: &Observation,
    max_poll_count: NonZeroU32,
    delay: Duration,
    now_ms: u64,
) -> Decision {
    let decision = decide_poll(observation, state.polls_made, max_poll_count);
    if decision == Decision::PollAgain {
        state.next_poll_at_ms = now_ms + delay.as_millis() as u64;
    }
    decision
}

/// Shutdown ended a hold at `now_ms`: the `callbackAfterSeconds` for the rest of the wait, rounded up.
pub fn park_for_rest(state: &PollState, now_ms: u64) -> u64 {
    state.next_poll_at_ms.saturating_sub(now_ms).div_ceil(1000)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::condition::Verdict;
    use crate::failure::FailureKind;
    use crate::http_poll::state::STATE_VERSION;

    fn state(polls_made: u32, next_poll_at_ms: u64) -> PollState {
        PollState {
            version: STATE_VERSION,
            task_id: "t".into(),
            polls_made,
            first_poll_at_ms: if polls_made > 0 { 1_000 } else { 0 },
            next_poll_at_ms,
            saved_at_delivery: None,
            status_uri: None,
        }
    }

    fn context() -> WaitContext {
        WaitContext {
            park_threshold: Duration::from_secs(30),
            held_for: Duration::ZERO,
            next_request_budget: Duration::from_secs(5),
            response_timeout: Some(Duration::from_secs(600)),
            shutting_down: false,
            came_back_early: false,
            leased: false,
        }
    }

    #[test]
    fn before_a_poll() {
        let secs = Duration::from_secs;
        let cases = [
            (state(0, 0), 10_000, context(), Before::PollNow),
            (state(3, 10_000), 10_000, context(), Before::PollNow),
            (state(3, 9_000), 10_000, context(), Before::PollNow),
            (state(3, 15_000), 10_000, context(), Before::Wait(Wait::Hold(secs(5)))),
            (state(3, 70_000), 10_000, context(), Before::Wait(Wait::Park { callback_after_secs: 60 })),
            (
                state(3, 10_400),
                10_000,
                WaitContext { shutting_down: true, ..context() },
                Before::Wait(Wait::Park { callback_after_secs: 1 }),
            ),
            (
                state(3, 15_000),
                10_000,
                WaitContext { response_timeout: None, ..context() },
                Before::Wait(Wait::Park { callback_after_secs: 5 }),
            ),
        ];
        for (state, now, context, want) in cases {
            assert_eq!(before_poll(&state, now, context), want, "{state:?} at {now}");
        }
    }

    #[test]
    fn after_a_poll() {
        let max = NonZeroU32::new(3).unwrap();
        let holds = Observation::Accepted(Some(Ok(Verdict::Holds)));
        let not_yet = Observation::Accepted(Some(Ok(Verdict::NotYet)));
        let unavailable = Observation::Rejected { transient: true, description: "503".into() };

        let mut first = state(0, 0);
        poll_sent(&mut first, 5_000);
        assert_eq!((first.polls_made, first.first_poll_at_ms), (1, 5_000), "the first poll is stamped");
        assert_eq!(after_poll(&mut first, &not_yet, max, Duration::from_secs(2), 5_100), Decision::PollAgain);
        assert_eq!(first.next_poll_at_ms, 7_100, "due one delay after the answer");
        poll_sent(&mut first, 7_100);
        assert_eq!(first.first_poll_at_ms, 5_000, "later polls keep the first stamp");
        assert_eq!(after_poll(&mut first, &unavailable, max, Duration::from_secs(2), 7_200), Decision::PollAgain);

        let mut last = state(2, 7_100);
        poll_sent(&mut last, 9_000);
        let given_up = after_poll(&mut last, &not_yet, max, Duration::from_secs(2), 9_000);
        assert!(matches!(given_up, Decision::Fail { kind: FailureKind::MaxPollCount, .. }), "{given_up:?}");
        assert_eq!(last.next_poll_at_ms, 7_100, "a finished task is not rescheduled");

        let mut done = state(1, 0);
        poll_sent(&mut done, 9_000);
        assert_eq!(after_poll(&mut done, &holds, max, Duration::from_secs(2), 9_000), Decision::Complete);
    }

    #[test]
    fn a_park_at_shutdown_covers_the_rest_of_the_wait() {
        assert_eq!(park_for_rest(&state(2, 12_500), 10_000), 3);
        assert_eq!(park_for_rest(&state(2, 12_000), 10_000), 2);
        assert_eq!(park_for_rest(&state(2, 9_000), 10_000), 0, "already due: poll at once");
    }
}
