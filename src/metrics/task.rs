//! Metric handles for one task type: label values resolved once, recording methods named after what happened.

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use std::time::Duration;

use super::Metrics;
use super::labels::*;
use super::values::{
    ClientErrorKind, ConditionOutcome, ConditionPath, DropReason, HttpPollStatus, PollOutcome, StatusClass,
};
use crate::failure::FailureKind;

/// Metric handles for one task type; cheap to clone (one `Arc`: every execution holds a clone).
#[derive(Debug, Clone)]
pub struct TaskMetrics(std::sync::Arc<Handles>);

impl std::ops::Deref for TaskMetrics {
    type Target = Handles;
    fn deref(&self) -> &Handles {
        &self.0
    }
}

/// The handles themselves.
#[derive(Debug)]
pub struct Handles {
    name: String,
    all: std::sync::Arc<Metrics>,
    task_poll: Counter,
    started: Counter,
    queue_full: Counter,
    paused: Counter,
    slots_used: Gauge,
    slots_free: Gauge,
    held: Gauge,
    parks: Counter,
    resumes: Counter,
    handed_back: Counter,
    update_retries: Counter,
    request_retries: Counter,
    result_size: Histogram,
    condition_native_time: Histogram,
    condition_engine_time: Histogram,
    queue_depth: Gauge,
    superseded: Counter,
    updates_pending: Gauge,
    updates_pending_bytes: Gauge,
}

impl Metrics {
    /// Handles for one task type (label values resolved once). The closed label sets are created at zero, so
    /// every series exists from the first scrape (the encoder omits families without series; dashboards and
    /// `increase()` need the zero).
    pub fn task_type(self: &std::sync::Arc<Self>, name: &str) -> TaskMetrics {
        self.create_series(name);
        let label = TaskType { taskType: name.to_owned() };
        TaskMetrics(std::sync::Arc::new(Handles {
            task_poll: self.task_poll.get_or_create_owned(&label),
            started: self.task_execution_started.get_or_create_owned(&label),
            queue_full: self.task_execution_queue_full.get_or_create_owned(&label),
            paused: self.task_paused.get_or_create_owned(&label),
            slots_used: self.active_workers.get_or_create_owned(&label),
            slots_free: self.slots_free.get_or_create_owned(&label),
            held: self.held_tasks.get_or_create_owned(&label),
            parks: self.parks.get_or_create_owned(&label),
            resumes: self.resumes.get_or_create_owned(&label),
            handed_back: self.handed_back.get_or_create_owned(&label),
            update_retries: self.update_retries.get_or_create_owned(&label),
            request_retries: self.request_retries.get_or_create_owned(&label),
            result_size: self.task_result_size.get_or_create_owned(&label),
            condition_native_time: self
                .condition_evaluation_time
                .get_or_create_owned(&TaskTypePath { taskType: name.to_owned(), path: ConditionPath::Native.label() }),
            condition_engine_time: self
                .condition_evaluation_time
                .get_or_create_owned(&TaskTypePath { taskType: name.to_owned(), path: ConditionPath::Engine.label() }),
            queue_depth: self.queue_depth.get_or_create_owned(&label),
            superseded: self.results_superseded.get_or_create_owned(&label),
            updates_pending: self.updates_pending.get_or_create_owned(&label),
            updates_pending_bytes: self.updates_pending_bytes.get_or_create_owned(&label),
            name: name.to_owned(),
            all: self.clone(),
        }))
    }
}

/// `SUCCESS` or `FAILURE`, the SDKs' status label values.
pub fn success(ok: bool) -> &'static str {
    if ok { "SUCCESS" } else { "FAILURE" }
}

impl TaskMetrics {
    /// A batch poll finished.
    pub fn poll(&self, elapsed: Duration, error: Option<ClientErrorKind>) {
        self.task_poll.inc();
        let labels = TaskTypeStatus { taskType: self.name.clone(), status: success(error.is_none()) };
        self.all.task_poll_time.get_or_create(&labels).observe(elapsed.as_secs_f64());
        if let Some(kind) = error {
            let exception = kind.label();
            self.all.task_poll_error.get_or_create(&TaskTypeException { taskType: self.name.clone(), exception }).inc();
        }
    }

    /// The poller waited for a free slot.
    pub fn queue_full(&self) {
        self.queue_full.inc();
    }

    /// A poll cycle was skipped while paused.
    pub fn paused(&self) {
        self.paused.inc();
    }

    /// Slot gauges after an acquire or release.
    pub fn slots(&self, used: usize, free: usize) {
        self.slots_used.set(used as i64);
        self.slots_free.set(free as i64);
    }

    /// An execution started.
    pub fn execution_started(&self) {
        self.started.inc();
    }

    /// An execution ended: `failure` is the closed-set kind when it failed.
    pub fn execution_ended(&self, elapsed: Duration, failure: Option<FailureKind>) {
        let status = success(failure.is_none());
        let labels = TaskTypeStatus { taskType: self.name.clone(), status };
        self.all.task_execute_time.get_or_create(&labels).observe(elapsed.as_secs_f64());
        if let Some(kind) = failure {
            let exception = kind.label();
            self.all
                .task_execute_error
                .get_or_create(&TaskTypeException { taskType: self.name.clone(), exception })
                .inc();
        }
    }

    /// One HTTP_POLL poll and what it led to.
    pub fn poll_iteration(&self, outcome: PollOutcome) {
        let outcome = outcome.label();
        self.all.http_poll_iterations.get_or_create(&TaskTypeOutcome { taskType: self.name.clone(), outcome }).inc();
    }

    /// A whole HTTP_POLL task ended with `status` after `elapsed` since its first poll.
    pub fn http_poll_finished(&self, status: HttpPollStatus, elapsed: Duration) {
        let status = status.label();
        let labels = TaskTypeStatus { taskType: self.name.clone(), status };
        self.all.http_poll_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// A target request finished.
    pub fn target_request(&self, host: &str, status_class: StatusClass, elapsed: Duration) {
        let host = self.all.host_label(host);
        let labels = Target { taskType: self.name.clone(), host, statusClass: status_class.label() };
        self.all.target_request_time.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// A condition evaluation; `native` when the native evaluator answered it (else the engine did).
    pub fn condition(&self, outcome: ConditionOutcome, native: bool, elapsed: Duration) {
        let outcome = outcome.label();
        self.all.condition_evaluations.get_or_create(&TaskTypeOutcome { taskType: self.name.clone(), outcome }).inc();
        let time = if native { &self.condition_native_time } else { &self.condition_engine_time };
        time.observe(elapsed.as_secs_f64());
    }

    /// A task started or stopped waiting here between polls.
    pub fn held(&self, delta: i64) {
        self.held.inc_by(delta);
    }

    /// A task was parked on the server.
    pub fn parked(&self) {
        self.parks.inc();
    }

    /// A parked task was resumed from its saved state.
    pub fn resumed(&self) {
        self.resumes.inc();
    }

    /// A lease extension was sent; `ok` when the server took it.
    pub fn lease_extended(&self, ok: bool) {
        let labels = TaskTypeStatus { taskType: self.name.clone(), status: success(ok) };
        self.all.lease_extensions.get_or_create(&labels).inc();
    }

    /// A single call is made again after a transient failure.
    pub fn request_retried(&self) {
        self.request_retries.inc();
    }

    /// A task was returned to the queue unexecuted.
    pub fn handed_back(&self) {
        self.handed_back.inc();
    }

    /// An update attempt failed with `exception`; `retrying` when another attempt follows.
    pub fn update_failed(&self, kind: ClientErrorKind, retrying: bool) {
        let exception = kind.label();
        self.all.task_update_error.get_or_create(&TaskTypeException { taskType: self.name.clone(), exception }).inc();
        if retrying {
            self.update_retries.inc();
        }
    }

    /// An update finished (delivered or given up), retries included.
    pub fn update_finished(&self, delivered: bool, elapsed: Duration, result_bytes: usize) {
        let labels = TaskTypeStatus { taskType: self.name.clone(), status: success(delivered) };
        self.all.task_update_time.get_or_create(&labels).observe(elapsed.as_secs_f64());
        self.result_size.observe(result_bytes as f64);
    }

    /// A result could not be delivered.
    pub fn result_dropped(&self, reason: DropReason) {
        let reason = reason.label();
        self.all.results_dropped.get_or_create(&TaskTypeReason { taskType: self.name.clone(), reason }).inc();
    }

    /// A result in the outbox was given up because the server shows the task final already.
    pub fn result_superseded(&self) {
        self.superseded.inc();
    }

    /// A result entered (1) or left (-1) the outbox.
    pub fn outbox(&self, delta: i64) {
        self.updates_pending.inc_by(delta);
    }

    /// Bytes entering (positive) or leaving (negative) the outbox.
    pub fn outbox_bytes(&self, delta: i64) {
        self.updates_pending_bytes.inc_by(delta);
    }

    /// The server's queue depth for this task type.
    pub fn queue_depth(&self, depth: u64) {
        self.queue_depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// The process-wide families (API calls, server and auth state).
    pub fn process(&self) -> &Metrics {
        &self.all
    }
}
