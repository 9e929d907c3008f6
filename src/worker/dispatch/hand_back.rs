//! Tasks answered without being executed: a task that came without a slot or during shutdown is handed back
//! (IN_PROGRESS, due at once, with the newest state the server stores), and one that could not be decoded is failed
//! terminally.
//!
//! Owns: those two answers. Does not own: executions (the parent module) or delivering the update
//! ([`crate::worker::reporter`]).

use serde_json::Value;
use tokio::time::Instant;

use super::Dispatch;
use crate::conductor::{ConductorApi, EncodedResult, Task, TaskOutput, TaskResult, TaskResultStatus};
use crate::worker::reporter::ReportOutcome;
use crate::worker::resume;

impl<C: ConductorApi> Dispatch<C> {
    /// Returns a task we will not execute to the queue, its state untouched.
    pub(super) async fn hand_back(&self, task: Box<Task>) {
        let deadline = self.update_deadline(&task, Instant::now());
        let result = hand_back_result(self.deps.api.as_ref(), *task, &self.config.worker_id).await;
        self.metrics.handed_back();
        tracing::info!("Task handed back to the queue (shutting down or no free slot).");
        let encoded = EncodedResult::new(&result);
        self.deps.reporter.report(encoded, &self.config.worker_id, false, &self.metrics, deadline).await;
    }

    pub(super) fn fail_undecodable(&self, task_id: String, workflow_instance_id: String, error: String) {
        if task_id.is_empty() || workflow_instance_id.is_empty() {
            tracing::error!(task_type = %self.config.name, error = %error, "Polled a task without ids; cannot answer it.");
            return;
        }
        let result = TaskResult {
            workflow_instance_id,
            task_id,
            worker_id: self.config.worker_id.clone(),
            status: TaskResultStatus::FailedWithTerminalError,
            reason_for_incompletion: Some(format!("the worker could not decode the task: {error}")),
            callback_after_seconds: 0,
            output_data: TaskOutput::default(),
            logs: Vec::new(),
        };
        tracing::error!(task_id = %result.task_id, error = %error, "Polled an undecodable task; failing it.");
        let (reporter, metrics, worker_id) =
            (self.deps.reporter.clone(), self.metrics.clone(), self.config.worker_id.clone());
        let deadline = Instant::now() + self.deps.retry_window;
        self.deps.shutdown.executions.spawn(async move {
            let task_id = result.task_id.clone();
            let outcome = reporter.report(EncodedResult::new(&result), &worker_id, false, &metrics, deadline).await;
            if matches!(outcome, ReportOutcome::UnknownTask | ReportOutcome::Rejected(_)) {
                tracing::error!(task_id = %task_id, "Could not fail the undecodable task.");
            }
        });
    }
}

/// The update that hands `task` back: IN_PROGRESS, due at once, with the newest state the server stores. A
/// delivery can carry an older state than the server stores (the server queues a park before it stores its
/// output), and handing that copy back would overwrite the newer state, so a delivery that looks stale is freshened
/// first, as before an execution.
async fn hand_back_result<C: ConductorApi>(api: &C, mut task: Task, worker_id: &str) -> TaskResult {
    resume::freshen(api, &mut task).await;
    let output_data = match task.output_data {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    TaskResult {
        workflow_instance_id: task.workflow_instance_id,
        task_id: task.task_id,
        worker_id: worker_id.to_owned(),
        status: TaskResultStatus::InProgress,
        reason_for_incompletion: None,
        callback_after_seconds: 0,
        output_data: TaskOutput::from_fields(output_data),
        logs: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use super::*;

    /// The shutdown race seen on a real server: a task parked due at once reached the worker's last poll with the
    /// state it had before the park; handing that copy back wiped the saved state.
    #[tokio::test]
    async fn a_stale_delivery_is_handed_back_with_the_stored_state() {
        use crate::http_poll::state::{PollState, STATE_VERSION};
        let api = crate::test_support::FakeConductor::default();
        let mut stored = serde_json::Map::new();
        let state = PollState {
            version: STATE_VERSION,
            task_id: "t1".into(),
            polls_made: 1,
            first_poll_at_ms: 1,
            next_poll_at_ms: 2,
            saved_at_delivery: Some(1),
            status_uri: None,
        };
        state.store(&mut stored);
        api.stored_outputs.lock().unwrap().push_back(Value::Object(stored.clone()));
        // Second delivery, carrying the first one's (empty) output.
        let task = Task { task_id: "t1".into(), poll_count: 2, output_data: serde_json::json!({}), ..Task::default() };
        let result = hand_back_result(&api, task, "me").await;
        assert_eq!(result.status, TaskResultStatus::InProgress);
        assert_eq!(serde_json::to_value(&result.output_data).unwrap(), Value::Object(stored));

        // A first delivery is handed back as it came, without a lookup.
        let api = crate::test_support::FakeConductor::default();
        let first = Task { task_id: "t2".into(), poll_count: 1, ..Task::default() };
        let result = hand_back_result(&api, first, "me").await;
        assert_eq!(serde_json::to_value(&result.output_data).unwrap(), serde_json::json!({}));
        assert_eq!(api.output_reads.load(Ordering::SeqCst), 0);
    }
}
