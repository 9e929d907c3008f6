//! Prometheus metrics: every family registered in one place, recorded through domain-named methods.
//!
//! Two groups, both unprefixed:
//! - the official SDKs' canonical worker catalog, verbatim (names, camelCase label keys, `SUCCESS`/`FAILURE`,
//!   buckets), so existing Conductor worker dashboards work unchanged. Families that cannot happen in this worker
//!   are left out: `task_ack_*` (the batch poll is the ack), `external_payload_used_total` (no external storage),
//!   `workflow_start_error_total` and `workflow_input_size_bytes` (it starts no workflows);
//! - this daemon's own: HTTP_POLL iterations, whole-task durations (buckets up to a day), target requests by
//!   host and status class, condition evaluations, slots, held and parked tasks, update retries, dropped results,
//!   server reachability, auth state, queue depth and build info.
//!
//! Label values come from closed sets: task types from configuration, hosts from `[limits.hosts]` (everything
//! else is `other`), outcome and error-kind names from enums in the code. Never task ids, workflow ids, URLs or
//! error text. The registry is owned by the app and passed in; nothing is global.

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// The SDKs' latency buckets, in seconds.
const TIME_BUCKETS: [f64; 12] = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
/// The SDKs' size buckets, in bytes.
const SIZE_BUCKETS: [f64; 6] = [100.0, 1e3, 1e4, 1e5, 1e6, 1e7];
/// Whole HTTP_POLL tasks take minutes to hours.
const TASK_DURATION_BUCKETS: [f64; 14] =
    [1.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 86400.0];
/// Condition evaluations take microseconds; the cap is 100 ms by default.
const CONDITION_BUCKETS: [f64; 10] = [1e-5, 5e-5, 1e-4, 5e-4, 1e-3, 5e-3, 0.01, 0.05, 0.1, 0.25];

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

/// `exception` values of poll and update errors (`ClientError::kind`).
const CLIENT_ERROR_KINDS: [&str; 5] = ["Transport", "Status5xx", "Status4xx", "Decode", "Auth"];
/// `exception` values of execution errors (`FailureKind::name`).
const FAILURE_KINDS: [&str; 9] = [
    "InvalidInput",
    "ConditionError",
    "ConditionFailed",
    "HttpStatus",
    "NoResponse",
    "MaxPollCount",
    "ResponseTooLarge",
    "TargetBlocked",
    "Internal",
];

#[allow(non_snake_case)] // label keys are camelCase, as in the SDKs
mod labels {
    use prometheus_client::encoding::EncodeLabelSet;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct TaskType {
        pub taskType: String,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct TaskTypeException {
        pub taskType: String,
        pub exception: &'static str,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct TaskTypeStatus {
        pub taskType: String,
        pub status: &'static str,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct TaskTypeOutcome {
        pub taskType: String,
        pub outcome: &'static str,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct TaskTypeReason {
        pub taskType: String,
        pub reason: &'static str,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct Exception {
        pub exception: &'static str,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct ApiCall {
        pub method: &'static str,
        pub uri: &'static str,
        pub status: String,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct Target {
        pub taskType: String,
        pub host: String,
        pub statusClass: &'static str,
    }
    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    pub struct Build {
        pub version: &'static str,
    }
}
use labels::*;

fn family<L: Clone + std::hash::Hash + Eq>(make: fn() -> Histogram) -> Histograms<L> {
    Family::new_with_constructor(make)
}
fn time_histogram() -> Histogram {
    Histogram::new(TIME_BUCKETS)
}
fn size_histogram() -> Histogram {
    Histogram::new(SIZE_BUCKETS)
}
fn task_duration_histogram() -> Histogram {
    Histogram::new(TASK_DURATION_BUCKETS)
}
fn condition_histogram() -> Histogram {
    Histogram::new(CONDITION_BUCKETS)
}

/// Every metric family of the process.
#[derive(Debug)]
pub struct Metrics {
    task_poll: Family<TaskType, Counter>,
    task_poll_error: Family<TaskTypeException, Counter>,
    task_execution_started: Family<TaskType, Counter>,
    task_execute_error: Family<TaskTypeException, Counter>,
    task_update_error: Family<TaskTypeException, Counter>,
    task_execution_queue_full: Family<TaskType, Counter>,
    task_paused: Family<TaskType, Counter>,
    thread_uncaught_exceptions: Family<Exception, Counter>,
    task_poll_time: Histograms<TaskTypeStatus>,
    task_execute_time: Histograms<TaskTypeStatus>,
    task_update_time: Histograms<TaskTypeStatus>,
    api_request_time: Histograms<ApiCall>,
    task_result_size: Histograms<TaskType>,
    active_workers: Family<TaskType, Gauge>,
    http_poll_iterations: Family<TaskTypeOutcome, Counter>,
    http_poll_duration: Histograms<TaskTypeStatus>,
    target_request_time: Histograms<Target>,
    condition_evaluations: Family<TaskTypeOutcome, Counter>,
    condition_evaluation_time: Histograms<TaskType>,
    slots_free: Family<TaskType, Gauge>,
    held_tasks: Family<TaskType, Gauge>,
    parks: Family<TaskType, Counter>,
    resumes: Family<TaskType, Counter>,
    handed_back: Family<TaskType, Counter>,
    update_retries: Family<TaskType, Counter>,
    results_dropped: Family<TaskTypeReason, Counter>,
    results_superseded: Family<TaskType, Counter>,
    updates_pending: Family<TaskType, Gauge>,
    queue_depth: Family<TaskType, Gauge>,
    server_up: Gauge,
    auth_ok: Gauge,
    auth_failures: Family<Exception, Counter>,
    target_hosts: Vec<String>,
}

impl Metrics {
    /// Registers every family in `registry`. `target_hosts` are the `host:port` keys that get their own `host`
    /// label on target-request metrics.
    pub fn register(registry: &mut Registry, target_hosts: Vec<String>) -> Self {
        let metrics = Self {
            task_poll: Family::default(),
            task_poll_error: Family::default(),
            task_execution_started: Family::default(),
            task_execute_error: Family::default(),
            task_update_error: Family::default(),
            task_execution_queue_full: Family::default(),
            task_paused: Family::default(),
            thread_uncaught_exceptions: Family::default(),
            task_poll_time: family(time_histogram),
            task_execute_time: family(time_histogram),
            task_update_time: family(time_histogram),
            api_request_time: family(time_histogram),
            task_result_size: family(size_histogram),
            active_workers: Family::default(),
            http_poll_iterations: Family::default(),
            http_poll_duration: family(task_duration_histogram),
            target_request_time: family(time_histogram),
            condition_evaluations: Family::default(),
            condition_evaluation_time: family(condition_histogram),
            slots_free: Family::default(),
            held_tasks: Family::default(),
            parks: Family::default(),
            resumes: Family::default(),
            handed_back: Family::default(),
            update_retries: Family::default(),
            results_dropped: Family::default(),
            results_superseded: Family::default(),
            updates_pending: Family::default(),
            queue_depth: Family::default(),
            server_up: Gauge::default(),
            auth_ok: Gauge::default(),
            auth_failures: Family::default(),
            target_hosts,
        };
        let r = registry;
        // Canonical SDK catalog (counters get `_total` appended by the encoder).
        r.register("task_poll", "Batch polls sent to the server", metrics.task_poll.clone());
        r.register("task_poll_error", "Polls that failed", metrics.task_poll_error.clone());
        r.register("task_execution_started", "Tasks handed to an execution", metrics.task_execution_started.clone());
        r.register(
            "task_execute_error",
            "Executions that ended FAILED or FAILED_WITH_TERMINAL_ERROR",
            metrics.task_execute_error.clone(),
        );
        r.register("task_update_error", "Result updates that failed (each attempt)", metrics.task_update_error.clone());
        r.register(
            "task_execution_queue_full",
            "Poll cycles that waited for a free slot",
            metrics.task_execution_queue_full.clone(),
        );
        r.register("task_paused", "Poll cycles skipped because the task type is paused", metrics.task_paused.clone());
        r.register(
            "thread_uncaught_exceptions",
            "Executions that panicked",
            metrics.thread_uncaught_exceptions.clone(),
        );
        r.register("task_poll_time_seconds", "Batch poll latency", metrics.task_poll_time.clone());
        r.register(
            "task_execute_time_seconds",
            "Execution time of one delivery (until completed, failed or parked)",
            metrics.task_execute_time.clone(),
        );
        r.register(
            "task_update_time_seconds",
            "Result update latency, retries included",
            metrics.task_update_time.clone(),
        );
        r.register(
            "http_api_client_request_seconds",
            "Calls to the Conductor API by path template",
            metrics.api_request_time.clone(),
        );
        r.register("task_result_size_bytes", "Serialized result size", metrics.task_result_size.clone());
        r.register("active_workers", "Executions in flight", metrics.active_workers.clone());
        // This daemon's own.
        r.register(
            "http_poll_iterations",
            "HTTP_POLL polls by outcome (continue, complete, fail, error)",
            metrics.http_poll_iterations.clone(),
        );
        r.register(
            "http_poll_duration_seconds",
            "Whole HTTP_POLL task time, first poll to final status, across parks",
            metrics.http_poll_duration.clone(),
        );
        r.register(
            "target_request_seconds",
            "Requests to target APIs by host and status class",
            metrics.target_request_time.clone(),
        );
        r.register(
            "condition_evaluations",
            "terminationCondition evaluations by outcome",
            metrics.condition_evaluations.clone(),
        );
        r.register(
            "condition_evaluation_seconds",
            "terminationCondition evaluation latency, queueing included",
            metrics.condition_evaluation_time.clone(),
        );
        r.register("worker_slots_used", "Execution slots in use", metrics.active_workers.clone());
        r.register("worker_slots_free", "Execution slots free", metrics.slots_free.clone());
        r.register(
            "http_poll_held_tasks",
            "HTTP_POLL tasks waiting in this process between polls",
            metrics.held_tasks.clone(),
        );
        r.register("http_poll_parks", "HTTP_POLL tasks parked on the server between polls", metrics.parks.clone());
        r.register(
            "http_poll_resumes",
            "Parked HTTP_POLL tasks resumed from their saved state",
            metrics.resumes.clone(),
        );
        r.register(
            "task_handed_back",
            "Tasks returned to the queue unexecuted (no slot, or shutting down)",
            metrics.handed_back.clone(),
        );
        r.register("task_update_retry", "Result update retries", metrics.update_retries.clone());
        r.register(
            "task_result_dropped",
            "Results that could not be delivered (lost, rejected, unknown_task)",
            metrics.results_dropped.clone(),
        );
        r.register(
            "task_update_superseded",
            "Undelivered results for tasks the server shows final already",
            metrics.results_superseded.clone(),
        );
        r.register(
            "task_updates_pending",
            "Results waiting in the outbox for a retry",
            metrics.updates_pending.clone(),
        );
        r.register("task_queue_depth", "Tasks waiting in the server's queue", metrics.queue_depth.clone());
        r.register(
            "conductor_server_up",
            "1 if the last call to the Conductor server succeeded",
            metrics.server_up.clone(),
        );
        r.register(
            "conductor_auth_ok",
            "1 if calls are authorized (or the server needs no auth)",
            metrics.auth_ok.clone(),
        );
        r.register(
            "conductor_auth_failures",
            "Token requests and authorizations that failed",
            metrics.auth_failures.clone(),
        );
        let build = Family::<Build, Gauge>::default();
        build.get_or_create(&Build { version: env!("CARGO_PKG_VERSION") }).set(1);
        r.register("conductor_http_worker_build_info", "Build information", build);
        metrics.auth_ok.set(1);
        metrics
    }

    /// Handles for one task type (label values resolved once). The closed label sets are created at zero, so
    /// every series exists from the first scrape (the encoder omits families without series; dashboards and
    /// `increase()` need the zero).
    pub fn task_type(self: &std::sync::Arc<Self>, name: &str) -> TaskMetrics {
        self.create_series(name);
        let label = TaskType { taskType: name.to_owned() };
        TaskMetrics {
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
            result_size: self.task_result_size.get_or_create_owned(&label),
            condition_time: self.condition_evaluation_time.get_or_create_owned(&label),
            queue_depth: self.queue_depth.get_or_create_owned(&label),
            superseded: self.results_superseded.get_or_create_owned(&label),
            updates_pending: self.updates_pending.get_or_create_owned(&label),
            name: name.to_owned(),
            all: self.clone(),
        }
    }

    fn create_series(&self, name: &str) {
        let task_type = || name.to_owned();
        for exception in CLIENT_ERROR_KINDS {
            let _ = self.task_poll_error.get_or_create(&TaskTypeException { taskType: task_type(), exception });
            let _ = self.task_update_error.get_or_create(&TaskTypeException { taskType: task_type(), exception });
        }
        for exception in FAILURE_KINDS {
            let _ = self.task_execute_error.get_or_create(&TaskTypeException { taskType: task_type(), exception });
        }
        for status in ["SUCCESS", "FAILURE"] {
            let _ = self.task_poll_time.get_or_create(&TaskTypeStatus { taskType: task_type(), status });
            let _ = self.task_execute_time.get_or_create(&TaskTypeStatus { taskType: task_type(), status });
            let _ = self.task_update_time.get_or_create(&TaskTypeStatus { taskType: task_type(), status });
        }
        for status in ["COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR"] {
            let _ = self.http_poll_duration.get_or_create(&TaskTypeStatus { taskType: task_type(), status });
        }
        for outcome in ["continue", "complete", "fail", "error"] {
            let _ = self.http_poll_iterations.get_or_create(&TaskTypeOutcome { taskType: task_type(), outcome });
        }
        for outcome in ["true", "false", "fail", "error", "timeout"] {
            let _ = self.condition_evaluations.get_or_create(&TaskTypeOutcome { taskType: task_type(), outcome });
        }
        for reason in ["lost", "rejected", "unknown_task"] {
            let _ = self.results_dropped.get_or_create(&TaskTypeReason { taskType: task_type(), reason });
        }
        for host in self.target_hosts.iter().cloned().chain(std::iter::once("other".to_owned())) {
            let _ = self.target_request_time.get_or_create(&Target { taskType: task_type(), host, statusClass: "2xx" });
        }
        let _ = self.thread_uncaught_exceptions.get_or_create(&Exception { exception: "Panic" });
        for reason in ["TokenRequest", "TokenRejected"] {
            let _ = self.auth_failures.get_or_create(&Exception { exception: reason });
        }
    }

    /// A Conductor API call: method, path template (e.g. `/tasks/poll/batch/{taskType}`), HTTP status or `0`.
    pub fn api_call(&self, method: &'static str, uri: &'static str, status: u16, elapsed: Duration) {
        let labels = ApiCall { method, uri, status: status.to_string() };
        self.api_request_time.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// Whether the last server call succeeded.
    pub fn server_up(&self, up: bool) {
        self.server_up.set(i64::from(up));
    }

    /// Auth state: a failed token request or authorization (`reason` from a closed set), or recovery.
    pub fn auth(&self, failure: Option<&'static str>) {
        match failure {
            Some(reason) => {
                self.auth_ok.set(0);
                self.auth_failures.get_or_create(&Exception { exception: reason }).inc();
            }
            None => {
                self.auth_ok.set(1);
            }
        }
    }

    /// An execution panicked.
    pub fn panicked(&self) {
        self.thread_uncaught_exceptions.get_or_create(&Exception { exception: "Panic" }).inc();
    }

    fn host_label(&self, host: &str) -> String {
        if self.target_hosts.iter().any(|h| h == host) { host.to_owned() } else { "other".to_owned() }
    }
}

/// Metric handles for one task type.
#[derive(Debug, Clone)]
pub struct TaskMetrics {
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
    result_size: Histogram,
    condition_time: Histogram,
    queue_depth: Gauge,
    superseded: Counter,
    updates_pending: Gauge,
}

/// `SUCCESS` or `FAILURE`, the SDKs' status label values.
pub fn success(ok: bool) -> &'static str {
    if ok { "SUCCESS" } else { "FAILURE" }
}

impl TaskMetrics {
    /// A batch poll finished.
    pub fn poll(&self, elapsed: Duration, error: Option<&'static str>) {
        self.task_poll.inc();
        let labels = TaskTypeStatus { taskType: self.name.clone(), status: success(error.is_none()) };
        self.all.task_poll_time.get_or_create(&labels).observe(elapsed.as_secs_f64());
        if let Some(exception) = error {
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
    pub fn execution_ended(&self, elapsed: Duration, failure: Option<&'static str>) {
        let status = success(failure.is_none());
        let labels = TaskTypeStatus { taskType: self.name.clone(), status };
        self.all.task_execute_time.get_or_create(&labels).observe(elapsed.as_secs_f64());
        if let Some(exception) = failure {
            self.all
                .task_execute_error
                .get_or_create(&TaskTypeException { taskType: self.name.clone(), exception })
                .inc();
        }
    }

    /// One HTTP_POLL poll: `continue`, `complete`, `fail` or `error`.
    pub fn poll_iteration(&self, outcome: &'static str) {
        self.all.http_poll_iterations.get_or_create(&TaskTypeOutcome { taskType: self.name.clone(), outcome }).inc();
    }

    /// A whole HTTP_POLL task ended with `status` after `elapsed` since its first poll.
    pub fn http_poll_finished(&self, status: &'static str, elapsed: Duration) {
        let labels = TaskTypeStatus { taskType: self.name.clone(), status };
        self.all.http_poll_duration.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// A target request finished; `status_class` is `2xx`..`5xx`, `error` or `timeout`.
    pub fn target_request(&self, host: &str, status_class: &'static str, elapsed: Duration) {
        let labels = Target { taskType: self.name.clone(), host: self.all.host_label(host), statusClass: status_class };
        self.all.target_request_time.get_or_create(&labels).observe(elapsed.as_secs_f64());
    }

    /// A condition evaluation: `true`, `false`, `fail`, `error` or `timeout`.
    pub fn condition(&self, outcome: &'static str, elapsed: Duration) {
        self.all.condition_evaluations.get_or_create(&TaskTypeOutcome { taskType: self.name.clone(), outcome }).inc();
        self.condition_time.observe(elapsed.as_secs_f64());
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

    /// A task was returned to the queue unexecuted.
    pub fn handed_back(&self) {
        self.handed_back.inc();
    }

    /// An update attempt failed with `exception`; `retrying` when another attempt follows.
    pub fn update_failed(&self, exception: &'static str, retrying: bool) {
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

    /// A result could not be delivered: `lost`, `rejected` or `unknown_task`.
    pub fn result_dropped(&self, reason: &'static str) {
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

    /// The server's queue depth for this task type.
    pub fn queue_depth(&self, depth: u64) {
        self.queue_depth.set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// The process-wide families (API calls, server and auth state).
    pub fn process(&self) -> &Metrics {
        &self.all
    }
}

/// Encodes the registry in the Prometheus text format (0.0.4).
pub fn encode(registry: &Registry) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = prometheus_client::encoding::prometheus_text::encode(&mut out, registry);
    out
}

/// The `Content-Type` of [`encode`]'s output.
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;

#[cfg(test)]
mod tests;
