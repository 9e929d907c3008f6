//! The series pre-created at zero for each task type: every value of every closed label set (error kinds,
//! statuses, outcomes, paths, drop reasons, configured target hosts), so that dashboards and alerts see a 0 rather
//! than no series, and `rate()` starts from the first increment.
//!
//! Owns: which label sets are pre-created. Does not own: the families (the parent module) or the closed sets
//! themselves ([`super::values`]).

use super::Metrics;
use super::labels::{
    Exception, Target, TaskTypeException, TaskTypeOutcome, TaskTypePath, TaskTypeReason, TaskTypeStatus,
};
use super::values::{
    AuthFailure, ClientErrorKind, ConditionOutcome, ConditionPath, DropReason, HttpPollStatus, PollOutcome,
};
use crate::failure::FailureKind;

impl Metrics {
    /// Creates every closed label set of a task type at zero.
    pub(super) fn create_series(&self, name: &str) {
        let task_type = || name.to_owned();
        for kind in ClientErrorKind::ALL {
            let exception = kind.label();
            let _ = self.task_poll_error.get_or_create(&TaskTypeException { taskType: task_type(), exception });
            let _ = self.task_update_error.get_or_create(&TaskTypeException { taskType: task_type(), exception });
        }
        for kind in FailureKind::ALL {
            let exception = kind.label();
            let _ = self.task_execute_error.get_or_create(&TaskTypeException { taskType: task_type(), exception });
        }
        for status in ["SUCCESS", "FAILURE"] {
            let _ = self.task_poll_time.get_or_create(&TaskTypeStatus { taskType: task_type(), status });
            let _ = self.task_execute_time.get_or_create(&TaskTypeStatus { taskType: task_type(), status });
            let _ = self.task_update_time.get_or_create(&TaskTypeStatus { taskType: task_type(), status });
            let _ = self.lease_extensions.get_or_create(&TaskTypeStatus { taskType: task_type(), status });
        }
        for status in HttpPollStatus::ALL.map(HttpPollStatus::label) {
            let _ = self.http_poll_duration.get_or_create(&TaskTypeStatus { taskType: task_type(), status });
        }
        for outcome in PollOutcome::ALL.map(PollOutcome::label) {
            let _ = self.http_poll_iterations.get_or_create(&TaskTypeOutcome { taskType: task_type(), outcome });
        }
        for outcome in ConditionOutcome::ALL.map(ConditionOutcome::label) {
            let _ = self.condition_evaluations.get_or_create(&TaskTypeOutcome { taskType: task_type(), outcome });
        }
        for path in ConditionPath::ALL.map(ConditionPath::label) {
            let _ = self.condition_evaluation_time.get_or_create(&TaskTypePath { taskType: task_type(), path });
        }
        for reason in DropReason::ALL.map(DropReason::label) {
            let _ = self.results_dropped.get_or_create(&TaskTypeReason { taskType: task_type(), reason });
        }
        for host in self.target_hosts.iter().cloned().chain(std::iter::once("other".to_owned())) {
            let _ = self.target_request_time.get_or_create(&Target { taskType: task_type(), host, statusClass: "2xx" });
        }
        let _ = self.thread_uncaught_exceptions.get_or_create(&Exception { exception: "Panic" });
        for reason in AuthFailure::ALL.map(AuthFailure::label) {
            let _ = self.auth_failures.get_or_create(&Exception { exception: reason });
        }
    }
}
