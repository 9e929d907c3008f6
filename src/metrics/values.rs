//! The closed sets of label values this daemon records, one enum each (see [`crate::closed_set`]): recording
//! sites pass a value, never a string, and every value's series is pre-created from `ALL`.
//!
//! Owns: the label values. Does not own: which family uses them ([`super::Metrics`]) or when they are recorded.

use crate::closed_set::closed_set;

closed_set! {
    /// `outcome` of `http_poll_iterations_total`: what one HTTP_POLL poll led to.
    pub enum PollOutcome {
        /// Another poll follows.
        Continue => "continue",
        /// The condition held.
        Complete => "complete",
        /// The task failed (status, max polls, condition -1, no response).
        Fail => "fail",
        /// The condition or the worker failed.
        Error => "error",
    }
}

closed_set! {
    /// `status` of `http_poll_duration_seconds`: how a whole HTTP_POLL task ended.
    pub enum HttpPollStatus {
        /// The condition held.
        Completed => "COMPLETED",
        /// A retryable failure.
        Failed => "FAILED",
        /// A terminal failure.
        FailedWithTerminalError => "FAILED_WITH_TERMINAL_ERROR",
    }
}

closed_set! {
    /// `outcome` of `condition_evaluations_total`.
    pub enum ConditionOutcome {
        /// The condition holds.
        True => "true",
        /// Not yet.
        False => "false",
        /// The condition returned -1.
        Fail => "fail",
        /// It threw, returned something unusable or the evaluator was unavailable.
        Error => "error",
        /// It ran out of time.
        Timeout => "timeout",
    }
}

closed_set! {
    /// `path` of `condition_evaluation_seconds`: which evaluator answered.
    pub enum ConditionPath {
        /// The native evaluator (no JavaScript engine).
        Native => "native",
        /// The engine, in an evaluator process.
        Engine => "engine",
    }
}

closed_set! {
    /// `statusClass` of `target_request_seconds`.
    pub enum StatusClass {
        /// 1xx.
        Informational => "1xx",
        /// 2xx.
        Success => "2xx",
        /// 3xx.
        Redirection => "3xx",
        /// 4xx.
        ClientError => "4xx",
        /// 5xx.
        ServerError => "5xx",
        /// No response: connect error, reset, refused by the policy.
        Error => "error",
        /// No complete response within the deadline.
        Timeout => "timeout",
    }
}

impl StatusClass {
    /// The class of an HTTP status code.
    pub fn of(status: u16) -> Self {
        match status / 100 {
            1 => StatusClass::Informational,
            2 => StatusClass::Success,
            3 => StatusClass::Redirection,
            4 => StatusClass::ClientError,
            _ => StatusClass::ServerError,
        }
    }
}

closed_set! {
    /// `reason` of `task_result_dropped_total`: why a result was never delivered.
    pub enum DropReason {
        /// Retries ran out (deadline, shutdown).
        Lost => "lost",
        /// The server refused it (a 4xx other than 404).
        Rejected => "rejected",
        /// The server does not know the task (404).
        UnknownTask => "unknown_task",
    }
}

closed_set! {
    /// `exception` of `task_poll_error_total` and `task_update_error_total`: a Conductor call's failure.
    pub enum ClientErrorKind {
        /// No response (connect error, timeout, reset).
        Transport => "Transport",
        /// A 5xx.
        Status5xx => "Status5xx",
        /// A 4xx.
        Status4xx => "Status4xx",
        /// A body that did not decode.
        Decode => "Decode",
        /// No token could be had.
        Auth => "Auth",
    }
}

closed_set! {
    /// `exception` of `conductor_auth_failures_total`.
    pub enum AuthFailure {
        /// The token request failed.
        TokenRequest => "TokenRequest",
        /// The server rejected a token.
        TokenRejected => "TokenRejected",
    }
}

closed_set! {
    /// `lane` of `condition_evaluator_processes`: which queue an evaluator process serves.
    pub enum EvaluatorLane {
        /// Conditions that answered in time before.
        Main => "main",
        /// Conditions not yet known to answer in time.
        Probation => "probation",
    }
}

closed_set! {
    /// `reason` of `condition_evaluator_respawns_total`: why an evaluator process was replaced.
    pub enum Respawn {
        /// Killed for spending more than the cap on one job.
        Killed => "killed",
        /// Died by itself (during a job: an allocation over the limit, or a crash).
        Died => "died",
        /// Exited after a job that left it holding a lot of memory.
        Recycled => "recycled",
    }
}

closed_set! {
    /// `outcome` of `conductor_http_worker_token_fetches_total`: one OAuth2 token request of a credential profile.
    pub enum TokenOutcome {
        /// A token was granted.
        Fetched => "fetched",
        /// The endpoint refused, failed or could not be reached.
        Failed => "failed",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_cover_every_code() {
        let classes: Vec<_> = [100, 204, 302, 404, 503, 999].into_iter().map(|s| StatusClass::of(s).label()).collect();
        assert_eq!(classes, ["1xx", "2xx", "3xx", "4xx", "5xx", "5xx"]);
    }
}
