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
//!
//! Beside the families here: their label sets ([`labels`]), closed values ([`values`]), histogram buckets
//! ([`buckets`]), the series pre-created per task type ([`series`]), per-task-type handles ([`task`]) and the
//! evaluator's families ([`evaluator`]).

use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;

use values::AuthFailure;

mod buckets;
mod labels;
mod series;
use buckets::{Histograms, condition_histogram, family, size_histogram, task_duration_histogram, time_histogram};
use labels::*;

/// Registers a metric and hands it back, so that each family is created and registered in one place.
struct Registrar<'a>(&'a mut Registry);

impl Registrar<'_> {
    fn add<M: prometheus_client::registry::Metric + Clone>(&mut self, name: &str, help: &str, metric: M) -> M {
        self.0.register(name, help, metric.clone());
        metric
    }
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
    condition_evaluation_time: Histograms<TaskTypePath>,
    slots_free: Family<TaskType, Gauge>,
    held_tasks: Family<TaskType, Gauge>,
    parks: Family<TaskType, Counter>,
    resumes: Family<TaskType, Counter>,
    handed_back: Family<TaskType, Counter>,
    update_retries: Family<TaskType, Counter>,
    request_retries: Family<TaskType, Counter>,
    lease_extensions: Family<TaskTypeStatus, Counter>,
    results_dropped: Family<TaskTypeReason, Counter>,
    results_superseded: Family<TaskType, Counter>,
    updates_pending: Family<TaskType, Gauge>,
    updates_pending_bytes: Family<TaskType, Gauge>,
    queue_depth: Family<TaskType, Gauge>,
    server_up: Gauge,
    auth_ok: Gauge,
    auth_failures: Family<Exception, Counter>,
    evaluator: EvaluatorMetrics,
    credentials: CredentialMetrics,
    target_hosts: Vec<String>,
}

impl Metrics {
    /// Registers every family in `registry`. `target_hosts` are the `host:port` keys that get their own `host`
    /// label on target-request metrics.
    pub fn register(registry: &mut Registry, target_hosts: Vec<String>) -> Self {
        let mut r = Registrar(registry);
        let active_workers =
            r.add("active_workers", "Executions in flight (the SDKs' name for slots in use)", Family::default());
        let metrics = Self {
            // Canonical SDK catalog (the encoder appends `_total` to counters).
            task_poll: r.add("task_poll", "Batch polls sent to the server", Family::default()),
            task_poll_error: r.add("task_poll_error", "Polls that failed", Family::default()),
            task_execution_started: r.add("task_execution_started", "Tasks handed to an execution", Family::default()),
            task_execute_error: r.add(
                "task_execute_error",
                "Executions that ended FAILED or FAILED_WITH_TERMINAL_ERROR",
                Family::default(),
            ),
            task_update_error: r.add(
                "task_update_error",
                "Result updates that failed (each attempt)",
                Family::default(),
            ),
            task_execution_queue_full: r.add(
                "task_execution_queue_full",
                "Poll cycles that waited for a free slot",
                Family::default(),
            ),
            task_paused: r.add("task_paused", "Poll cycles skipped because the task type is paused", Family::default()),
            thread_uncaught_exceptions: r.add(
                "thread_uncaught_exceptions",
                "Executions that panicked",
                Family::default(),
            ),
            task_poll_time: r.add("task_poll_time_seconds", "Batch poll latency", family(time_histogram)),
            task_execute_time: r.add(
                "task_execute_time_seconds",
                "Execution time of one delivery (until completed, failed or parked)",
                family(time_histogram),
            ),
            task_update_time: r.add(
                "task_update_time_seconds",
                "Result update latency, retries included",
                family(time_histogram),
            ),
            api_request_time: r.add(
                "http_api_client_request_seconds",
                "Calls to the Conductor API by path template",
                family(time_histogram),
            ),
            task_result_size: r.add("task_result_size_bytes", "Serialized result size", family(size_histogram)),
            // This daemon's own.
            http_poll_iterations: r.add(
                "http_poll_iterations",
                "HTTP_POLL polls by outcome (continue, complete, fail, error)",
                Family::default(),
            ),
            http_poll_duration: r.add(
                "http_poll_duration_seconds",
                "Whole HTTP_POLL task time, first poll to final status, across parks",
                family(task_duration_histogram),
            ),
            target_request_time: r.add(
                "target_request_seconds",
                "Requests to target APIs by host and status class",
                family(time_histogram),
            ),
            condition_evaluations: r.add(
                "condition_evaluations",
                "terminationCondition evaluations by outcome",
                Family::default(),
            ),
            condition_evaluation_time: r.add(
                "condition_evaluation_seconds",
                "terminationCondition evaluation latency by path (native, engine), queueing included",
                family(condition_histogram),
            ),
            active_workers: r.add("worker_slots_used", "Execution slots in use", active_workers),
            slots_free: r.add("worker_slots_free", "Execution slots free", Family::default()),
            held_tasks: r.add(
                "http_poll_held_tasks",
                "HTTP_POLL tasks waiting in this process between polls",
                Family::default(),
            ),
            parks: r.add("http_poll_parks", "HTTP_POLL tasks parked on the server between polls", Family::default()),
            resumes: r.add(
                "http_poll_resumes",
                "Parked HTTP_POLL tasks resumed from their saved state",
                Family::default(),
            ),
            handed_back: r.add(
                "task_handed_back",
                "Tasks returned to the queue unexecuted (no slot, or shutting down)",
                Family::default(),
            ),
            update_retries: r.add("task_update_retry", "Result update retries", Family::default()),
            request_retries: r.add(
                "http_request_retries",
                "Single calls made again inside the task after a transient failure",
                Family::default(),
            ),
            lease_extensions: r.add(
                "task_lease_extend",
                "Lease extensions sent for tasks running longer than 80 % of their response timeout, by outcome",
                Family::default(),
            ),
            results_dropped: r.add(
                "task_result_dropped",
                "Results that could not be delivered (lost, rejected, unknown_task)",
                Family::default(),
            ),
            results_superseded: r.add(
                "task_update_superseded",
                "Undelivered results for tasks the server shows final already",
                Family::default(),
            ),
            updates_pending: r.add(
                "task_updates_pending",
                "Results waiting in the outbox for a retry",
                Family::default(),
            ),
            updates_pending_bytes: r.add(
                "task_updates_pending_bytes",
                "Bytes of the results waiting in the outbox (bounded by updates.outbox_max_bytes)",
                Family::default(),
            ),
            queue_depth: r.add("task_queue_depth", "Tasks waiting in the server's queue", Family::default()),
            server_up: r.add(
                "conductor_server_up",
                "1 if the last call to the Conductor server succeeded",
                Gauge::default(),
            ),
            auth_ok: r.add(
                "conductor_auth_ok",
                "1 if calls are authorized (or the server needs no auth)",
                Gauge::default(),
            ),
            auth_failures: r.add(
                "conductor_auth_failures",
                "Token requests and authorizations that failed",
                Family::default(),
            ),
            evaluator: EvaluatorMetrics::register(&mut r),
            credentials: CredentialMetrics::register(&mut r),
            target_hosts,
        };
        let build = r.add("conductor_http_worker_build_info", "Build information", Family::<Build, Gauge>::default());
        build.get_or_create(&Build { version: env!("CARGO_PKG_VERSION") }).set(1);
        metrics.auth_ok.set(1);
        metrics
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
    pub fn auth(&self, failure: Option<AuthFailure>) {
        match failure {
            Some(reason) => {
                self.auth_ok.set(0);
                self.auth_failures.get_or_create(&Exception { exception: reason.label() }).inc();
            }
            None => {
                self.auth_ok.set(1);
            }
        }
    }

    /// The evaluator processes' counters.
    pub fn evaluator(&self) -> EvaluatorMetrics {
        self.evaluator.clone()
    }

    /// The credential profiles' counters, with the series of `profiles` created at zero.
    pub fn credentials(&self, profiles: &[&str]) -> CredentialMetrics {
        self.credentials.with_profiles(profiles)
    }

    /// An execution panicked.
    pub fn panicked(&self) {
        self.thread_uncaught_exceptions.get_or_create(&Exception { exception: "Panic" }).inc();
    }

    fn host_label(&self, host: &str) -> String {
        if self.target_hosts.iter().any(|h| h == host) { host.to_owned() } else { "other".to_owned() }
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

mod credentials;
mod evaluator;
mod task;
pub mod values;
pub use credentials::CredentialMetrics;
pub use evaluator::EvaluatorMetrics;
pub use values::TokenOutcome;

pub use task::{TaskMetrics, success};

#[cfg(test)]
mod tests;
