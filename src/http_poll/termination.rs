//! Pure: what happens after one request, given what it returned and what the condition said.
//!
//! | observation | single call | poll |
//! |---|---|---|
//! | accepted status (2xx or `acceptedStatusCodes`) | COMPLETED | condition decides: true/1 → COMPLETED, false/0 → poll again, −1 → FAILED_WITH_TERMINAL_ERROR |
//! | condition error (syntax, throw, limit, timeout, bad result) | – | FAILED_WITH_TERMINAL_ERROR |
//! | transient: no response, 408, 425, 429, 5xx | FAILED | poll again (the condition is not run) |
//! | any other status | FAILED | FAILED |
//!
//! "Poll again" becomes FAILED once `maxPollCount` polls were made. FAILED is retried per the TaskDef.

use std::num::NonZeroU32;

use crate::condition::{ConditionError, Verdict};

/// What one request produced, as far as the decision is concerned.
#[derive(Debug, Clone, PartialEq)]
pub enum Observation {
    /// An accepted response; for polls, with the condition's result.
    Accepted(Option<Result<Verdict, ConditionError>>),
    /// A response whose status is not accepted.
    Rejected {
        /// Whether the status may change by itself (408, 425, 429, 5xx).
        transient: bool,
        /// Describes the response, e.g. `GET http://h/x answered 404 Not Found`.
        description: String,
    },
    /// No response (connect error, timeout, reset).
    NoResponse(String),
    /// A response that cannot be used, or a target that may not be called: fails the task however often it is
    /// tried (oversized body: FAILED; blocked by the host policy: FAILED_WITH_TERMINAL_ERROR).
    Unusable {
        /// Why, as a closed set.
        kind: FailureKind,
        /// Never retried.
        terminal: bool,
        /// Describes it.
        description: String,
    },
}

/// Why a task failed, as a closed set (the `exception` label of `task_execute_error_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    /// The task input is invalid.
    InvalidInput,
    /// The condition did not parse, threw, exceeded a limit or returned something unusable.
    ConditionError,
    /// The condition returned -1.
    ConditionFailed,
    /// The target answered with a status that is not accepted.
    HttpStatus,
    /// The target did not answer (connect error, timeout, reset, oversized body).
    NoResponse,
    /// `maxPollCount` polls were made without the condition holding.
    MaxPollCount,
    /// The response body was larger than `http.max_response_body_bytes`.
    ResponseTooLarge,
    /// The outbound host policy refused the target.
    TargetBlocked,
    /// The worker itself failed (evaluator unavailable, a panic).
    Internal,
    /// The worker shut down with the request in flight.
    Interrupted,
}

impl FailureKind {
    /// Every kind, in label order (metrics pre-create one series per kind).
    pub const ALL: [FailureKind; 10] = [
        FailureKind::InvalidInput,
        FailureKind::ConditionError,
        FailureKind::ConditionFailed,
        FailureKind::HttpStatus,
        FailureKind::NoResponse,
        FailureKind::MaxPollCount,
        FailureKind::ResponseTooLarge,
        FailureKind::TargetBlocked,
        FailureKind::Internal,
        FailureKind::Interrupted,
    ];

    /// The label value.
    pub fn name(self) -> &'static str {
        match self {
            FailureKind::InvalidInput => "InvalidInput",
            FailureKind::ConditionError => "ConditionError",
            FailureKind::ConditionFailed => "ConditionFailed",
            FailureKind::HttpStatus => "HttpStatus",
            FailureKind::NoResponse => "NoResponse",
            FailureKind::MaxPollCount => "MaxPollCount",
            FailureKind::ResponseTooLarge => "ResponseTooLarge",
            FailureKind::TargetBlocked => "TargetBlocked",
            FailureKind::Internal => "Internal",
            FailureKind::Interrupted => "Interrupted",
        }
    }
}

/// What the executor does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Report COMPLETED with the last response.
    Complete,
    /// Wait per the polling strategy, then poll again.
    PollAgain,
    /// Report a failure.
    Fail {
        /// FAILED_WITH_TERMINAL_ERROR (never retried) rather than FAILED.
        terminal: bool,
        /// The `reasonForIncompletion`.
        reason: String,
        /// Why, as a closed set.
        kind: FailureKind,
    },
}

impl Decision {
    fn retryable(kind: FailureKind, reason: String) -> Self {
        Decision::Fail { terminal: false, reason, kind }
    }

    fn terminal(kind: FailureKind, reason: String) -> Self {
        Decision::Fail { terminal: true, reason, kind }
    }
}

/// The decision for a task without `terminationCondition`: one call, HTTP task semantics.
pub fn decide_single(observation: &Observation) -> Decision {
    match observation {
        Observation::Accepted(_) => Decision::Complete,
        Observation::Rejected { description, .. } => Decision::retryable(FailureKind::HttpStatus, description.clone()),
        Observation::NoResponse(error) => Decision::retryable(FailureKind::NoResponse, error.clone()),
        Observation::Unusable { kind, terminal, description } => {
            Decision::Fail { terminal: *terminal, reason: description.clone(), kind: *kind }
        }
    }
}

/// The decision after poll number `polls_made` (1-based) of a polling task.
pub fn decide_poll(observation: &Observation, polls_made: u32, max_poll_count: NonZeroU32) -> Decision {
    let poll_again_or_give_up = |last: &str| {
        if polls_made >= max_poll_count.get() {
            Decision::retryable(
                FailureKind::MaxPollCount,
                format!("maxPollCount ({max_poll_count}) reached after {polls_made} polls; last poll: {last}"),
            )
        } else {
            Decision::PollAgain
        }
    };
    match observation {
        Observation::Accepted(Some(Ok(Verdict::Holds))) => Decision::Complete,
        Observation::Accepted(Some(Ok(Verdict::NotYet))) => poll_again_or_give_up("terminationCondition was false"),
        Observation::Accepted(Some(Ok(Verdict::Fails))) => Decision::terminal(
            FailureKind::ConditionFailed,
            format!("terminationCondition returned -1 at poll {polls_made}"),
        ),
        Observation::Accepted(Some(Err(error))) if error.is_script_fault() => {
            Decision::terminal(FailureKind::ConditionError, error.to_string())
        }
        Observation::Accepted(Some(Err(error))) => Decision::retryable(FailureKind::Internal, error.to_string()),
        // An accepted response without a condition result cannot happen for a polling task; treat it as "not yet".
        Observation::Accepted(None) => poll_again_or_give_up("no condition result"),
        Observation::Rejected { transient: true, description } => poll_again_or_give_up(description),
        Observation::Rejected { transient: false, description } => {
            Decision::retryable(FailureKind::HttpStatus, format!("poll {polls_made}: {description}"))
        }
        Observation::NoResponse(error) => poll_again_or_give_up(error),
        Observation::Unusable { kind, terminal, description } => {
            Decision::Fail { terminal: *terminal, reason: format!("poll {polls_made}: {description}"), kind: *kind }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn max(n: u32) -> NonZeroU32 {
        NonZeroU32::new(n).unwrap()
    }

    fn verdict(v: Verdict) -> Observation {
        Observation::Accepted(Some(Ok(v)))
    }

    fn rejected(transient: bool) -> Observation {
        Observation::Rejected { transient, description: "GET http://h/x answered 503 Service Unavailable".into() }
    }

    #[test]
    fn single_call_outcomes() {
        assert_eq!(decide_single(&Observation::Accepted(None)), Decision::Complete);
        for observation in [rejected(true), rejected(false), Observation::NoResponse("timed out".into())] {
            assert!(matches!(decide_single(&observation), Decision::Fail { terminal: false, .. }), "{observation:?}");
        }
    }

    #[test]
    fn poll_outcomes() {
        let syntax = Observation::Accepted(Some(Err(ConditionError::Syntax("x".into()))));
        let timeout = Observation::Accepted(Some(Err(ConditionError::Timeout(std::time::Duration::from_millis(100)))));
        let unavailable = Observation::Accepted(Some(Err(ConditionError::Unavailable)));
        let cases: Vec<(Observation, u32, u32, Result<Decision, (bool, &str)>)> = vec![
            (verdict(Verdict::Holds), 1, 10, Ok(Decision::Complete)),
            (verdict(Verdict::Holds), 10, 10, Ok(Decision::Complete)),
            (verdict(Verdict::NotYet), 1, 10, Ok(Decision::PollAgain)),
            (verdict(Verdict::NotYet), 9, 10, Ok(Decision::PollAgain)),
            (verdict(Verdict::NotYet), 10, 10, Err((false, "maxPollCount (10) reached after 10 polls"))),
            (verdict(Verdict::Fails), 3, 10, Err((true, "returned -1 at poll 3"))),
            (syntax, 1, 10, Err((true, "syntax error"))),
            (timeout, 1, 10, Err((true, "was stopped"))),
            (unavailable, 1, 10, Err((false, "not available"))),
            (rejected(true), 2, 10, Ok(Decision::PollAgain)),
            (rejected(true), 10, 10, Err((false, "last poll: GET http://h/x answered 503"))),
            (rejected(false), 2, 10, Err((false, "poll 2: GET http://h/x answered"))),
            (Observation::NoResponse("connection refused".into()), 1, 10, Ok(Decision::PollAgain)),
            (Observation::NoResponse("connection refused".into()), 1, 1, Err((false, "connection refused"))),
        ];
        for (observation, polls, limit, want) in cases {
            let got = decide_poll(&observation, polls, max(limit));
            match (&got, want) {
                (got, Ok(want)) => assert_eq!(got, &want, "{observation:?}"),
                (Decision::Fail { terminal, reason, .. }, Err((want_terminal, fragment))) => {
                    assert_eq!(*terminal, want_terminal, "{observation:?}");
                    assert!(reason.contains(fragment), "{observation:?}: {reason}");
                }
                (got, want) => panic!("{observation:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
