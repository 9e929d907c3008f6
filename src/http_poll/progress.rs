//! The seam through which a held poll shows its progress while it runs: after each poll that another poll follows,
//! the executor reports it ([`Progress::polled`]); the worker records it for the held-task listing and, for
//! polls that wait long enough to matter, sends the poll's line to the task's execution log at once
//! ([`should_log`], pure), so that the Conductor UI shows a running task's polls, not only its last 20 lines at the
//! end.
//!
//! Owns: what a progress report carries and when a line is worth a call to the server. Does not own: the calls
//! (`crate::worker::progress`) or the line's wording (the poll loop's).

use std::time::Duration;

use tokio::time::Instant;

/// Polls followed by a shorter wait are not logged live: the task is done soon, and its lines go with the update.
pub const MIN_LIVE_WAIT: Duration = Duration::from_secs(1);

/// One poll that another poll follows.
#[derive(Debug, Clone, Copy)]
pub struct PollProgress<'a> {
    /// The poll's number (1-based).
    pub poll: u32,
    /// The response's status code; `None` when there was no response.
    pub status: Option<u16>,
    /// What came of it, e.g. `terminationCondition false`.
    pub verdict: &'a str,
    /// The wait before the next poll.
    pub next_poll_in: Duration,
    /// Whether the task holds here for that wait (rather than parking on the server, whose update carries the
    /// line anyway).
    pub holds: bool,
    /// The line for the execution log.
    pub line: &'a str,
}

/// Receives the progress of held polls.
pub trait Progress: Send + Sync + std::fmt::Debug {
    /// A poll of `task_id` was made and another follows. True when `progress.line` went to the task's execution
    /// log now, so that the next update need not carry it; never waits for the server.
    fn polled(&self, task_id: &str, progress: &PollProgress<'_>) -> bool;
}

/// Progress that goes nowhere (tools and tests without a worker).
#[derive(Debug, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn polled(&self, _task_id: &str, _progress: &PollProgress<'_>) -> bool {
        false
    }
}

/// How often held polls write to their execution log as they happen (`[progress]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogPolicy {
    /// Every one of a task's first polls is logged.
    pub first_polls: u32,
    /// After those, at most one line per this long (zero: none).
    pub every: Duration,
}

/// Whether poll `progress.poll` of a task whose last line went out at `last_logged` is logged live at `now`.
pub fn should_log(policy: LogPolicy, progress: &PollProgress<'_>, last_logged: Option<Instant>, now: Instant) -> bool {
    if !progress.holds || progress.next_poll_in < MIN_LIVE_WAIT {
        return false;
    }
    if progress.poll <= policy.first_polls {
        return true;
    }
    !policy.every.is_zero() && last_logged.is_none_or(|at| now.saturating_duration_since(at) >= policy.every)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_polls_then_one_line_per_interval_and_never_quick_or_parked_ones() {
        let policy = LogPolicy { first_polls: 3, every: Duration::from_secs(60) };
        let at = |secs: u64, start: Instant| start + Duration::from_secs(secs);
        let start = Instant::now();
        let poll = |n: u32, wait_ms: u64, holds: bool| PollProgress {
            poll: n,
            status: Some(200),
            verdict: "terminationCondition false",
            next_poll_in: Duration::from_millis(wait_ms),
            holds,
            line: "",
        };
        // (poll, wait, holds, last logged, now) -> logged?
        let cases = [
            (poll(1, 5000, true), None, at(0, start), true),
            (poll(3, 5000, true), Some(at(10, start)), at(15, start), true),
            (poll(4, 5000, true), Some(at(15, start)), at(20, start), false),
            (poll(14, 5000, true), Some(at(15, start)), at(75, start), true),
            (poll(1, 500, true), None, at(0, start), false),
            (poll(1, 60_000, false), None, at(0, start), false),
        ];
        for (progress, last, now, want) in cases {
            assert_eq!(should_log(policy, &progress, last, now), want, "{progress:?} last {last:?}");
        }
        let quiet = LogPolicy { first_polls: 0, every: Duration::ZERO };
        assert!(!should_log(quiet, &poll(1, 5000, true), None, start), "0 and 0 turn it off");
    }
}
