//! Pure: why a task failed, as a closed set, and whether that failure is terminal. Shared by the decision code
//! ([`crate::http_poll`]) and the metrics (the `exception` label), so it depends on neither.
//!
//! Owns: the failure kinds, their label values and their terminality. Does not own: when a failure happens
//! ([`crate::http_poll::termination`]) or how it is reported ([`crate::http_poll::outcome`]).

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

    /// Whether a task failing this way fails for good (FAILED_WITH_TERMINAL_ERROR, never retried) rather than
    /// FAILED (retried per its TaskDef): the one place this is decided. Terminal when trying again cannot help:
    /// the input, the condition or the target policy is wrong, or the response is larger than the worker keeps
    /// (the same request brings the same body: raise `http.max_response_body_bytes` / `updates.max_output_bytes`).
    pub fn is_terminal(self) -> bool {
        match self {
            FailureKind::InvalidInput
            | FailureKind::ConditionError
            | FailureKind::ConditionFailed
            | FailureKind::ResponseTooLarge
            | FailureKind::TargetBlocked => true,
            FailureKind::HttpStatus
            | FailureKind::NoResponse
            | FailureKind::MaxPollCount
            | FailureKind::Internal
            | FailureKind::Interrupted => false,
        }
    }

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminality_per_kind() {
        let terminal: Vec<_> =
            FailureKind::ALL.into_iter().filter(|kind| kind.is_terminal()).map(FailureKind::name).collect();
        assert_eq!(
            terminal,
            ["InvalidInput", "ConditionError", "ConditionFailed", "ResponseTooLarge", "TargetBlocked"]
        );
    }
}
