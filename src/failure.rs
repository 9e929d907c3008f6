//! Pure: why a task failed, as a closed set, and whether that failure is terminal. Shared by the decision code
//! ([`crate::http_poll`]) and the metrics (the `exception` label), so it depends on neither.
//!
//! Owns: the failure kinds, their label values and their terminality. Does not own: when a failure happens
//! ([`crate::http_poll::termination`]) or how it is reported ([`crate::http_poll::outcome`]).

use crate::closed_set::closed_set;

closed_set! {
    /// Why a task failed, as a closed set (the `exception` label of `task_execute_error_total`).
    pub enum FailureKind {
        /// The task input is invalid.
        InvalidInput => "InvalidInput",
        /// The condition did not parse, threw, exceeded a limit or returned something unusable.
        ConditionError => "ConditionError",
        /// The condition returned -1.
        ConditionFailed => "ConditionFailed",
        /// The target answered with a status that is not accepted.
        HttpStatus => "HttpStatus",
        /// The target did not answer (connect error, timeout, reset).
        NoResponse => "NoResponse",
        /// `maxPollCount` polls were made without the condition holding.
        MaxPollCount => "MaxPollCount",
        /// The response body was larger than `http.max_response_body_bytes`.
        ResponseTooLarge => "ResponseTooLarge",
        /// The outbound host policy refused the target.
        TargetBlocked => "TargetBlocked",
        /// The worker itself failed (evaluator unavailable, a panic).
        Internal => "Internal",
        /// The worker shut down with the request in flight.
        Interrupted => "Interrupted",
        /// The server no longer has the task IN_PROGRESS (its workflow was terminated, cancelled or timed out):
        /// polling stopped.
        Cancelled => "Cancelled",
        /// The task named credentials it may not use: no such profile, or one that does not cover the host.
        CredentialsRefused => "CredentialsRefused",
        /// The credential profile's credentials could not be had (its token endpoint failed).
        CredentialsUnavailable => "CredentialsUnavailable",
    }
}

impl FailureKind {
    /// Whether a task failing this way fails for good (FAILED_WITH_TERMINAL_ERROR, never retried) rather than
    /// FAILED (retried per its TaskDef): the one place this is decided. Terminal when trying again cannot help:
    /// the input, the condition, the target policy or the credentials named are wrong, or the response is larger
    /// than the worker keeps
    /// (the same request brings the same body: raise `http.max_response_body_bytes` / `updates.max_output_bytes`).
    pub fn is_terminal(self) -> bool {
        match self {
            FailureKind::InvalidInput
            | FailureKind::ConditionError
            | FailureKind::ConditionFailed
            | FailureKind::ResponseTooLarge
            | FailureKind::TargetBlocked
            | FailureKind::CredentialsRefused => true,
            FailureKind::HttpStatus
            | FailureKind::NoResponse
            | FailureKind::MaxPollCount
            | FailureKind::Internal
            | FailureKind::Interrupted
            | FailureKind::Cancelled
            | FailureKind::CredentialsUnavailable => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminality_per_kind() {
        let terminal: Vec<_> =
            FailureKind::ALL.into_iter().filter(|kind| kind.is_terminal()).map(FailureKind::label).collect();
        assert_eq!(
            terminal,
            [
                "InvalidInput",
                "ConditionError",
                "ConditionFailed",
                "ResponseTooLarge",
                "TargetBlocked",
                "CredentialsRefused"
            ]
        );
    }
}
