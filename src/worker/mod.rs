//! A worker per task type: its slots ([`slots`]), its poll loop ([`poller`]), which hands each delivered task with
//! its slot to [`dispatch`] (execute, then report through [`reporter`], whose [`outbox`] retries), and its runtime
//! controls (pause, concurrency).
//!
//! ```text
//! loop: acquire 1 slot (+ more when draining) ─▶ poll(count = slots) ─▶ for each task, holding its slot:
//!          ▲                                      execute ─▶ report (terminal: update-v2) ─┬─▶ release slot
//!          └── idle: count 1, long poll │ draining: count = free slots, no wait            └─ next task from the
//!                                                                                             reply: execute it
//! ```
//! A delivered task is always answered: executed and reported, or, when it arrives during shutdown or without a
//! free slot, handed back at once (IN_PROGRESS, `callbackAfterSeconds` 0, its newest stored `outputData` unchanged) so another
//! worker can take it; an undecodable one is failed terminally; an execution that panics is reported FAILED.
//! Nothing is left to Conductor's timeouts. A re-delivered task whose saved state may be older than the server's
//! resumes from the stored one ([`resume`]).

pub mod backoff;
pub mod board;
pub mod dispatch;
pub mod lease;
#[cfg(test)]
mod loop_tests;
pub mod outbox;
mod poller;
mod progress;
pub mod reporter;
mod resume;
pub mod slots;
pub mod update_failure;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::conductor::ConductorApi;
use crate::config::TaskTypeConfig;
use crate::health::Health;
use crate::http_poll::Executor;
use crate::http_poll::progress::LogPolicy;
use crate::metrics::{Metrics, TaskMetrics};
use crate::shutdown::Shutdown;
use board::HeldTask;
use dispatch::Dispatch;
use reporter::Reporter;
use slots::Slots;

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
    /// Metric families.
    pub metrics: Arc<Metrics>,
    /// How often the queue depth is read (zero: never).
    pub queue_depth_interval: Duration,
    /// How long a failed update is retried when the task has no deadline on the server.
    pub retry_window: Duration,
    /// How often held polls write to their execution log as they happen.
    pub progress: LogPolicy,
}

/// Runtime controls of one task type, independent of the server client type (for the admin endpoint).
pub trait Control: Send + Sync {
    /// The task type.
    fn task_type(&self) -> &str;
    /// Whether polling is paused.
    fn paused(&self) -> bool;
    /// Stops or resumes polling (executions in flight continue).
    fn set_paused(&self, paused: bool);
    /// The configured number of slots.
    fn concurrency(&self) -> usize;
    /// Slots in use.
    fn slots_used(&self) -> usize;
    /// Changes the number of slots.
    fn set_concurrency(&self, concurrency: usize);
    /// The tasks running or holding here now, oldest first.
    fn held(&self) -> Vec<HeldTask>;
}

/// The worker for one task type.
#[derive(Debug)]
pub struct Worker<C> {
    config: TaskTypeConfig,
    slots: Slots,
    paused: AtomicBool,
    metrics: TaskMetrics,
    deps: Arc<WorkerDeps<C>>,
    /// Runs what the poller delivers.
    dispatch: Arc<Dispatch<C>>,
}

impl<C: ConductorApi> Control for Worker<C> {
    fn task_type(&self) -> &str {
        &self.config.name
    }
    fn paused(&self) -> bool {
        self.paused.load(Ordering::Relaxed)
    }
    fn set_paused(&self, paused: bool) {
        self.paused.store(paused, Ordering::Relaxed);
        tracing::info!(task_type = %self.config.name, paused, "Polling paused state changed.");
    }
    fn concurrency(&self) -> usize {
        self.slots.limit()
    }
    fn slots_used(&self) -> usize {
        self.slots.limit().saturating_sub(self.slots.available())
    }
    fn set_concurrency(&self, concurrency: usize) {
        self.slots.resize(concurrency);
        tracing::info!(task_type = %self.config.name, concurrency, "Concurrency changed.");
    }
    fn held(&self) -> Vec<HeldTask> {
        self.dispatch.held()
    }
}

impl<C: ConductorApi> Worker<C> {
    /// A worker for one task type.
    pub fn new(config: TaskTypeConfig, deps: Arc<WorkerDeps<C>>) -> Arc<Self> {
        let metrics = deps.metrics.task_type(&config.name);
        let slots = Slots::new(config.concurrency, deps.global_slots.clone(), metrics.clone());
        let paused = AtomicBool::new(config.paused);
        let dispatch = Arc::new(Dispatch::new(config.clone(), metrics.clone(), deps.clone()));
        Arc::new(Self { config, slots, paused, metrics, deps, dispatch })
    }

    /// Polls until shutdown begins (and reads the queue depth meanwhile). Executions it started keep running on
    /// the shutdown tracker.
    pub async fn run(self: Arc<Self>) {
        tokio::join!(poller::run(&self), self.watch_queue_depth());
    }

    async fn watch_queue_depth(&self) {
        let interval = self.deps.queue_depth_interval;
        if interval.is_zero() {
            return;
        }
        let stop = &self.deps.shutdown.stop_polling;
        loop {
            match self.deps.api.queue_size(&self.config.name, self.config.domain.as_deref()).await {
                Ok(depth) => self.metrics.queue_depth(depth),
                Err(error) => tracing::debug!(task_type = %self.config.name, error = %error, "Queue size unavailable."),
            }
            tokio::select! {
                () = tokio::time::sleep(interval) => {}
                () = stop.cancelled() => return,
            }
        }
    }
}
