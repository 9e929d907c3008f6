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

use super::request::InvokeError;
use super::status::{StatusFilter, is_transient};
use crate::condition::{ConditionError, Verdict};
pub use crate::failure::FailureKind;

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
    /// A response that cannot be used, or a target that may not be called: fails the task now (an oversized body,
    /// a target the host policy refuses, credentials that may not be used or could not be had);
    /// [`FailureKind::is_terminal`] says whether for good.
    Unusable {
        /// Why, as a closed set.
        kind: FailureKind,
        /// Describes it.
        description: String,
    },
}

/// What one request's result is, for the decision: a response's `status` (and reason phrase) against the
/// accepted statuses, or the error. `target` describes the request in reasons, e.g. `GET http://h/x`. An accepted
/// response has no condition result yet: the caller evaluates the condition and fills it in.
pub fn observe(sent: Result<(u16, &str), &InvokeError>, accepted: &StatusFilter, target: &str) -> Observation {
    match sent {
        Ok((status, _)) if accepted.accepts(status) => Observation::Accepted(None),
        Ok((status, reason)) => Observation::Rejected {
            transient: is_transient(status),
            description: format!("{target} answered {status} {reason}"),
        },
        Err(error @ InvokeError::Blocked(_)) => {
            Observation::Unusable { kind: FailureKind::TargetBlocked, description: format!("{target}: {error}") }
        }
        Err(error @ InvokeError::BodyTooLarge(_)) => {
            Observation::Unusable { kind: FailureKind::ResponseTooLarge, description: format!("{target}: {error}") }
        }
        Err(error @ InvokeError::CredentialsRefused(_)) => {
            Observation::Unusable { kind: FailureKind::CredentialsRefused, description: format!("{target}: {error}") }
        }
        Err(error @ InvokeError::CredentialsUnavailable(_)) => Observation::Unusable {
            kind: FailureKind::CredentialsUnavailable,
            description: format!("{target}: {error}"),
        },
        Err(error) => Observation::NoResponse(format!("{target} failed: {error}")),
    }
}

/// What the executor does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Report COMPLETED with the last response.
    Complete,
    /// Wait per the polling strategy, then poll again.
    PollAgain,
    /// Report a failure: FAILED_WITH_TERMINAL_ERROR when [`FailureKind::is_terminal`], else FAILED.
    Fail {
        /// The `reasonForIncompletion`.
        reason: String,
        /// Why, as a closed set.
        kind: FailureKind,
    },
}

impl Decision {
    fn fail(kind: FailureKind, reason: String) -> Self {
        Decision::Fail { reason, kind }
    }
}

/// The decision for a task without `terminationCondition`: one call, HTTP task semantics.
pub fn decide_single(observation: &Observation) -> Decision {
    match observation {
        Observation::Accepted(_) => Decision::Complete,
        Observation::Rejected { description, .. } => Decision::fail(FailureKind::HttpStatus, description.clone()),
        Observation::NoResponse(error) => Decision::fail(FailureKind::NoResponse, error.clone()),
        Observation::Unusable { kind, description } => Decision::fail(*kind, description.clone()),
    }
}

/// The decision after poll number `polls_made` (1-based) of a polling task.
pub fn decide_poll(observation: &Observation, polls_made: u32, max_poll_count: NonZeroU32) -> Decision {
    let poll_again_or_give_up = |last: &str| {
        if polls_made >= max_poll_count.get() {
            Decision::fail(
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
        Observation::Accepted(Some(Ok(Verdict::Fails))) => Decision::fail(
            FailureKind::ConditionFailed,
            format!("terminationCondition returned -1 at poll {polls_made}"),
        ),
        Observation::Accepted(Some(Err(error))) if error.is_script_fault() => {
            Decision::fail(FailureKind::ConditionError, error.to_string())
        }
        Observation::Accepted(Some(Err(error))) => Decision::fail(FailureKind::Internal, error.to_string()),
        // An accepted response without a condition result cannot happen for a polling task; treat it as "not yet".
        Observation::Accepted(None) => poll_again_or_give_up("no condition result"),
        Observation::Rejected { transient: true, description } => poll_again_or_give_up(description),
        Observation::Rejected { transient: false, description } => {
            Decision::fail(FailureKind::HttpStatus, format!("poll {polls_made}: {description}"))
        }
        Observation::NoResponse(error) => poll_again_or_give_up(error),
        Observation::Unusable { kind, description } => {
            Decision::fail(*kind, format!("poll {polls_made}: {description}"))
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
    fn observations_of_responses_and_errors() {
        use crate::outbound::Blocked;
        let two_xx = StatusFilter::default();
        let with_404 = StatusFilter::parse(&serde_json::json!(["2xx", 404])).unwrap();
        let rejected = |transient, text: &str| Observation::Rejected { transient, description: text.into() };
        let cases: Vec<(Result<(u16, &str), InvokeError>, &StatusFilter, Observation)> = vec![
            (Ok((200, "OK")), &two_xx, Observation::Accepted(None)),
            (Ok((204, "")), &two_xx, Observation::Accepted(None)),
            (Ok((404, "Not Found")), &two_xx, rejected(false, "GET h answered 404 Not Found")),
            (Ok((404, "Not Found")), &with_404, Observation::Accepted(None)),
            (Ok((503, "Service Unavailable")), &two_xx, rejected(true, "GET h answered 503 Service Unavailable")),
            (Ok((429, "Too Many Requests")), &with_404, rejected(true, "GET h answered 429 Too Many Requests")),
            (Ok((302, "Found")), &two_xx, rejected(false, "GET h answered 302 Found")),
            (
                Err(InvokeError::Blocked(Blocked("loopback is not allowed".into()))),
                &two_xx,
                Observation::Unusable {
                    kind: FailureKind::TargetBlocked,
                    description: "GET h: blocked by the outbound policy: loopback is not allowed".into(),
                },
            ),
            (
                Err(InvokeError::BodyTooLarge(10)),
                &two_xx,
                Observation::Unusable {
                    kind: FailureKind::ResponseTooLarge,
                    description: "GET h: response body larger than 10 bytes (http.max_response_body_bytes)".into(),
                },
            ),
            (
                Err(InvokeError::Timeout(std::time::Duration::from_secs(1))),
                &two_xx,
                Observation::NoResponse("GET h failed: no complete response within 1s".into()),
            ),
            (
                Err(InvokeError::Transport("connection refused".into())),
                &with_404,
                Observation::NoResponse("GET h failed: connection refused".into()),
            ),
        ];
        for (sent, accepted, want) in cases {
            assert_eq!(observe(sent.as_ref().map(|r| *r), accepted, "GET h"), want, "{sent:?}");
        }
    }

    #[test]
    fn single_call_outcomes() {
        assert_eq!(decide_single(&Observation::Accepted(None)), Decision::Complete);
        for observation in [rejected(true), rejected(false), Observation::NoResponse("timed out".into())] {
            assert!(
                matches!(decide_single(&observation), Decision::Fail { kind, .. } if !kind.is_terminal()),
                "{observation:?}"
            );
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
                (Decision::Fail { kind, reason }, Err((want_terminal, fragment))) => {
                    assert_eq!(kind.is_terminal(), want_terminal, "{observation:?}");
                    assert!(reason.contains(fragment), "{observation:?}: {reason}");
                }
                (got, want) => panic!("{observation:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
