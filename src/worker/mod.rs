//! A worker per task type: its slots, its poll loop ([`poller`]), and the dispatch of each delivered task to an
//! execution that ends with a report ([`reporter`]).
//!
//! ```text
//! loop: acquire 1 slot (+ more when draining) ─▶ poll(count = slots) ─▶ for each task:
//!          ▲                                                  execute ─▶ report ─▶ release slot
//!          └── idle: count 1, long poll │ draining: count = free slots, no wait
//! ```
//! A delivered task is always answered: executed and reported, or, when it arrives during shutdown or without a
//! free slot, handed back at once (IN_PROGRESS, `callbackAfterSeconds` 0, its `outputData` unchanged) so another
//! worker can take it; an undecodable one is failed terminally. Nothing is left to Conductor's timeouts.

pub mod backoff;
mod poller;
pub mod reporter;
pub mod slots;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tokio::sync::Semaphore;
use tokio::time::Instant;
use tracing::Instrument;

use crate::clock::epoch_ms;
use crate::conductor::{ConductorApi, PolledTask, Task, TaskResult, TaskResultStatus};
use crate::config::TaskTypeConfig;
use crate::health::Health;
use crate::http_poll::{Delivery, Executor, OutcomeKind};
use crate::shutdown::Shutdown;
use reporter::{ReportOutcome, Reporter};
use slots::{Slot, Slots};

/// What every worker of the process shares.
#[derive(Debug)]
pub struct WorkerDeps<C> {
    /// The Conductor server.
    pub api: Arc<C>,
    /// Executes tasks.
    pub executor: Executor,
    /// Reports results.
    pub reporter: Reporter<C>,
    /// The process-wide execution limit.
    pub global_slots: Arc<Semaphore>,
    /// Liveness and readiness state.
    pub health: Arc<Health>,
    /// Shutdown tokens and the execution tracker.
    pub shutdown: Shutdown,
}

/// The worker for one task type.
#[derive(Debug)]
pub struct Worker<C> {
    config: TaskTypeConfig,
    slots: Slots,
    paused: AtomicBool,
    deps: Arc<WorkerDeps<C>>,
}

impl<C: ConductorApi> Worker<C> {
    /// A worker for one task type.
    pub fn new(config: TaskTypeConfig, deps: Arc<WorkerDeps<C>>) -> Arc<Self> {
        let slots = Slots::new(config.concurrency, deps.global_slots.clone());
        let paused = AtomicBool::new(config.paused);
        Arc::new(Self { config, slots, paused, deps })
    }

    /// The task type served.
    pub fn task_type(&self) -> &str {
        &self.config.name
    }

    /// Stops or resumes polling (executions in flight continue).
    pub fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
    }

    /// Polls until shutdown begins. Executions it started keep running on the shutdown tracker.
    pub async fn run(self: Arc<Self>) {
        poller::run(&self).await;
    }

    /// Starts the execution of one delivered task on the shutdown tracker.
    fn dispatch(self: &Arc<Self>, polled: PolledTask, slot: Option<Slot>, received_at: Instant) {
        let task = match polled {
            PolledTask::Task(task) => task,
            PolledTask::Undecodable { task_id, workflow_instance_id, error } => {
                return self.fail_undecodable(task_id, workflow_instance_id, error);
            }
        };
        let span = tracing::info_span!("task", task_type = %self.config.name, task_id = %task.task_id, workflow_id = %task.workflow_instance_id);
        let (Some(slot), false) = (slot, self.deps.shutdown.stop_polling.is_cancelled()) else {
            let worker = self.clone();
            self.deps.shutdown.executions.spawn(async move { worker.hand_back(&task).await }.instrument(span));
            return;
        };
        let worker = self.clone();
        let execution = async move {
            let delivery = Delivery {
                received_at,
                park_threshold: worker.config.park_threshold,
                stop_holding: worker.deps.shutdown.stop_holding.clone(),
            };
            tracing::debug!(poll_count = task.poll_count, "Task received.");
            let outcome = worker.deps.executor.execute(&task, &delivery).await;
            log_outcome(&outcome.kind);
            let result = outcome.into_task_result(&task, &worker.config.worker_id, epoch_ms());
            worker.deps.reporter.report(&result).await;
            drop(slot);
        };
        self.deps.shutdown.executions.spawn(execution.instrument(span));
    }

    /// Returns a task we will not execute to the queue, its state untouched.
    async fn hand_back(&self, task: &Task) {
        let output_data = match &task.output_data {
            Value::Object(map) => map.clone(),
            _ => serde_json::Map::new(),
        };
        let result = TaskResult {
            workflow_instance_id: task.workflow_instance_id.clone(),
            task_id: task.task_id.clone(),
            worker_id: self.config.worker_id.clone(),
            status: TaskResultStatus::InProgress,
            reason_for_incompletion: None,
            callback_after_seconds: 0,
            output_data,
            logs: Vec::new(),
        };
        tracing::info!("Task handed back to the queue (shutting down or no free slot).");
        self.deps.reporter.report(&result).await;
    }

    fn fail_undecodable(&self, task_id: String, workflow_instance_id: String, error: String) {
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
            output_data: serde_json::Map::new(),
            logs: Vec::new(),
        };
        tracing::error!(task_id = %result.task_id, error = %error, "Polled an undecodable task; failing it.");
        let reporter = self.deps.reporter.clone();
        self.deps.shutdown.executions.spawn(async move {
            if reporter.report(&result).await != ReportOutcome::Delivered {
                tracing::error!(task_id = %result.task_id, "Could not fail the undecodable task.");
            }
        });
    }
}

fn log_outcome(kind: &OutcomeKind) {
    match kind {
        OutcomeKind::Completed => tracing::info!("Task completed."),
        OutcomeKind::Parked { callback_after_secs } => tracing::debug!(callback_after_secs, "Task parked."),
        OutcomeKind::Failed { terminal, reason } => tracing::info!(terminal, reason = %reason, "Task failed."),
    }
}
