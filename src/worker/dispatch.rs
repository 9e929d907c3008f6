//! What happens to each task the poller delivers, together with its slot: it is executed and reported, then
//! each task the server assigns in reply to a terminal update runs on the same slot; a task that came without a
//! slot or during shutdown is handed back (IN_PROGRESS, due at once, its newest stored state); an undecodable one is
//! failed terminally; an execution that panics is reported FAILED.
//!
//! Owns: the life of a delivered task from the poll to its last update. Does not own: polling and slots
//! ([`super::poller`], [`super::slots`]), execution ([`crate::http_poll`]) or delivery of results
//! ([`super::reporter`]). Tasks answered without an execution (handed back, or undecodable) are [`hand_back`]'s.

mod hand_back;

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures_util::FutureExt;
use tokio::time::Instant;
use tracing::Instrument;

use super::WorkerDeps;
use super::board::{Board, HeldTask};
use super::lease;
use super::progress::LiveProgress;
use super::reporter::ReportOutcome;
use super::resume;
use super::slots::Slot;
use crate::clock::epoch_ms;
use crate::conductor::{ConductorApi, EncodedResult, LeaseExtension, PolledTask, Task};
use crate::config::TaskTypeConfig;
use crate::http_poll::outcome::ExecLog;
use crate::http_poll::progress::Progress;
use crate::http_poll::server_view::{Checking, ServerState, ServerView};
use crate::http_poll::termination::FailureKind;
use crate::http_poll::{Delivery, Outcome, OutcomeKind};
use crate::logging::{SpanSlot, in_slot, task_span};
use crate::metrics::{Metrics, TaskMetrics};

/// Runs the tasks of one task type that the poller delivers.
#[derive(Debug)]
pub struct Dispatch<C> {
    config: TaskTypeConfig,
    metrics: TaskMetrics,
    /// `config.name`, shared with each execution (a field of the task's span).
    type_name: Arc<str>,
    /// Whether the "task without timeouts" warning was logged already.
    warned_unprotected: AtomicBool,
    /// The server's view of held tasks, for the executor.
    server: Arc<dyn ServerView>,
    /// The tasks running or holding here, for the listing.
    board: Arc<Board>,
    /// Where held polls report their progress.
    progress: Arc<dyn Progress>,
    deps: Arc<WorkerDeps<C>>,
}

/// [`ServerView`] over the Conductor client: the status `GET /tasks/{id}` gives; an unknown task has ended; a
/// failed read tells nothing.
struct TaskStatusView<C>(Arc<C>);

impl<C> std::fmt::Debug for TaskStatusView<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TaskStatusView")
    }
}

impl<C: ConductorApi> ServerView for TaskStatusView<C> {
    fn state<'a>(&'a self, task_id: &'a str) -> Checking<'a> {
        Box::pin(async move { self.0.task_status(task_id).await.ok().map(|status| ServerState::of(status.as_deref())) })
    }
}

impl<C: ConductorApi> Dispatch<C> {
    pub(super) fn new(config: TaskTypeConfig, metrics: TaskMetrics, deps: Arc<WorkerDeps<C>>) -> Self {
        let type_name = Arc::from(config.name.as_str());
        let server: Arc<dyn ServerView> = Arc::new(TaskStatusView(deps.api.clone()));
        let board = Arc::new(Board::default());
        let progress: Arc<dyn Progress> = Arc::new(LiveProgress::new(board.clone(), deps.api.clone(), deps.progress));
        let warned_unprotected = AtomicBool::new(false);
        Self { config, metrics, type_name, warned_unprotected, server, board, progress, deps }
    }

    /// The tasks running or holding here now, oldest first.
    pub fn held(&self) -> Vec<HeldTask> {
        self.board.list(epoch_ms())
    }

    /// Starts the execution of one delivered task on the shutdown tracker: with a slot (and while polling), it
    /// is executed and reported; otherwise it is handed back.
    pub(super) fn start(self: &Arc<Self>, polled: PolledTask, slot: Option<Slot>, received_at: Instant) {
        let task = match polled {
            PolledTask::Task(task) => task,
            PolledTask::Undecodable { task_id, workflow_instance_id, error } => {
                return self.fail_undecodable(task_id, workflow_instance_id, error);
            }
        };
        let worker = self.clone();
        match (slot, self.deps.shutdown.stop_polling.is_cancelled()) {
            (Some(slot), false) => {
                self.deps.shutdown.executions.spawn(async move { worker.execute_chain(task, slot, received_at).await });
            }
            _ => {
                let span = task_span(&self.config.name, &task.task_id, &task.workflow_instance_id);
                self.deps.shutdown.executions.spawn(async move { worker.hand_back(task).await }.instrument(span));
            }
        }
    }

    /// Executes a task, then each task the server assigns in reply to a terminal update, holding one slot.
    async fn execute_chain(self: Arc<Self>, mut task: Box<Task>, slot: Slot, mut received_at: Instant) {
        loop {
            if resume::needs_a_look(&task) {
                // Boxed: the lookup's future would otherwise add its size to every held task's chain.
                Box::pin(resume::freshen(self.deps.api.as_ref(), &mut task)).await;
            }
            let next = self.execute_one(&mut task, received_at).await;
            match next {
                Some(PolledTask::Task(next)) if !self.deps.shutdown.stop_polling.is_cancelled() => {
                    task = next;
                    received_at = Instant::now();
                }
                Some(other) => {
                    self.start(other, None, Instant::now());
                    break;
                }
                None => break,
            }
        }
        drop(slot);
    }

    /// Executes and reports one task; returns the next task if the server assigned one.
    async fn execute_one(&self, task: &mut Task, received_at: Instant) -> Option<PolledTask> {
        let delivery = Delivery {
            received_at,
            park_threshold: self.config.park_threshold,
            stop_holding: self.deps.shutdown.stop_holding.clone(),
            stop_executing: self.deps.shutdown.stop_executing.clone(),
            metrics: self.metrics.clone(),
            task_id: task.task_id.clone(),
            task_type: self.type_name.clone(),
            span: SpanSlot::new(task_span(&self.config.name, &task.task_id, &task.workflow_instance_id)),
            server: self.server.clone(),
            progress: self.progress.clone(),
            leased: lease::interval(task.response_timeout_secs()).is_some(),
        };
        let received_ms = epoch_ms().saturating_sub(received_at.elapsed().as_millis() as u64);
        let (task_id, type_name) = (task.task_id.clone(), &self.config.name);
        self.board.add(&task_id, &task.workflow_instance_id, type_name, received_ms);
        let next = in_slot(self.execute_and_report(task, &delivery), &delivery.span).await;
        self.board.remove(&task_id);
        next
    }

    /// [`Self::execute_one`] inside the task's span.
    async fn execute_and_report(&self, task: &mut Task, delivery: &Delivery) -> Option<PolledTask> {
        let received_at = delivery.received_at;
        self.metrics.execution_started();
        tracing::debug!(poll_count = task.poll_count, "Task received.");
        if task.response_timeout_secs() == 0
            && task.timeout_secs() == 0
            && !self.warned_unprotected.swap(true, Ordering::Relaxed)
        {
            tracing::warn!(
                task_type = %self.config.name,
                "Tasks of this type have neither a response timeout nor a total timeout: if this worker dies while one \
                 runs, the server never recovers it. Register a TaskDef with responseTimeoutSeconds (waits between \
                 polls are parked meanwhile)."
            );
        }
        let started = Instant::now();
        let (outcome, last_contact) = match lease::interval(task.response_timeout_secs()) {
            Some(every) => {
                let (task_id, workflow_instance_id) = (task.task_id.clone(), task.workflow_instance_id.clone());
                let lease = LeaseExtension {
                    task_id: &task_id,
                    workflow_instance_id: &workflow_instance_id,
                    worker_id: &self.config.worker_id,
                };
                let execution = isolated(self.deps.executor.execute(task, delivery), &self.deps.metrics);
                lease::keep_leased(execution, self.deps.api.as_ref(), lease, every, received_at, &self.metrics).await
            }
            None => (isolated(self.deps.executor.execute(task, delivery), &self.deps.metrics).await, received_at),
        };
        let failure = match &outcome.kind {
            OutcomeKind::Failed { kind, .. } => Some(*kind),
            _ => None,
        };
        self.metrics.execution_ended(started.elapsed(), failure);
        log_outcome(&outcome.kind);
        let result = EncodedResult::new(&outcome.into_task_result(task, &self.config.worker_id, epoch_ms()));
        let chain = !self.deps.shutdown.stop_polling.is_cancelled();
        let deadline = self.update_deadline(task, last_contact);
        match Box::pin(self.deps.reporter.report(result, &self.config.worker_id, chain, &self.metrics, deadline)).await
        {
            ReportOutcome::Delivered(next) => next,
            _ => None,
        }
    }

    /// Until when a result for this delivery is worth retrying: the task's deadline on the server counted from when
    /// it last heard of the task (after it the server has timed the task out), or the retry window when the task
    /// has none.
    fn update_deadline(&self, task: &Task, last_contact: Instant) -> Instant {
        let contact_ms = epoch_ms().saturating_sub(last_contact.elapsed().as_millis() as u64);
        last_contact + task.server_deadline_after_delivery(contact_ms).unwrap_or(self.deps.retry_window)
    }
}

/// Runs an execution, turning a panic into a FAILED outcome (reported instead of losing the task). Caught in place
/// rather than in a task of its own: one spawn per execution, and no second future kept alive while a task holds.
/// Not an `async fn`: that would keep room for `execution` twice (as its argument and inside `catch_unwind`).
fn isolated<'a>(
    execution: impl Future<Output = Outcome> + 'a,
    metrics: &'a Metrics,
) -> impl Future<Output = Outcome> + 'a {
    AssertUnwindSafe(execution).catch_unwind().map(move |result| match result {
        Ok(outcome) => outcome,
        Err(panic) => {
            metrics.panicked();
            let message = panic
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                .unwrap_or("(no message)");
            tracing::error!(panic = %message, "Execution panicked; reporting the task as FAILED.");
            let reason = "the worker failed while executing this task (panic); see the worker's logs";
            Outcome::failed(FailureKind::Internal, reason, ExecLog::default())
        }
    })
}

/// Completions are logged at debug (at thousands of tasks per second an info line each cost ~5 % of the CPU, and
/// `task_execute_time_seconds_count` counts them); failures at info with their reason.
fn log_outcome(kind: &OutcomeKind) {
    match kind {
        OutcomeKind::Completed => tracing::debug!("Task completed."),
        OutcomeKind::Parked { callback_after_secs } => tracing::debug!(callback_after_secs, "Task parked."),
        OutcomeKind::Failed { reason, kind } => {
            tracing::info!(terminal = kind.is_terminal(), reason = %reason, "Task failed.");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    #[tokio::test]
    async fn a_panicking_execution_becomes_a_failed_outcome_and_is_counted() {
        let mut registry = Registry::default();
        let metrics = Metrics::register(&mut registry, Vec::new());
        let fine = isolated(async { Outcome::failed(FailureKind::InvalidInput, "x", ExecLog::default()) }, &metrics);
        assert!(matches!(fine.await.kind, OutcomeKind::Failed { kind: FailureKind::InvalidInput, .. }));
        for message in [String::from("boom"), String::from("formatted 42")] {
            let outcome = isolated(
                async move {
                    tokio::task::yield_now().await;
                    if message == "boom" { panic!("boom") } else { panic!("formatted {}", 42) }
                },
                &metrics,
            )
            .await;
            assert_eq!(
                outcome.kind,
                OutcomeKind::Failed {
                    reason: "the worker failed while executing this task (panic); see the worker's logs".into(),
                    kind: FailureKind::Internal,
                }
            );
        }
        let text = crate::metrics::encode(&registry);
        assert!(text.contains("thread_uncaught_exceptions_total{exception=\"Panic\"} 2"), "{text}");
    }
}
