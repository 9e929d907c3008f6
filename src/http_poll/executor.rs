//! IO: executes one delivered task to an [`Outcome`]: parse the input, check the condition, send the request
//! (once, or on every poll), ask the condition, and wait between polls by holding or parking. It never panics on
//! task input and never reports a success it did not see. Metrics are recorded as it goes. A task holding between
//! polls keeps little: its spec, its input and last response as JSON text (a response body exactly as received,
//! never a tree), its poll state and log, no tracing span; thousands can hold at once.
//!
//! This module parses the input and picks the path; the HTTP_POLL loop is [`poll_loop`], tasks without a condition
//! are [`single`], and one exchange with the target is [`exchange`].

use std::sync::Arc;
use std::time::Duration;

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::outcome::{ExecLog, Outcome, fit_output};
use super::server_view::ServerView;
use super::spec::{self, SpecDefaults};
use super::target::Target;
use super::termination::FailureKind;
use crate::condition::ConditionEvaluator;
use crate::conductor::{Task, TaskOutput};
use crate::logging::SpanSlot;
use crate::metrics::TaskMetrics;
use poll_loop::PollStart;

mod exchange;
mod poll_loop;
mod single;

/// Process-wide execution settings (from configuration).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ExecutorSettings {
    /// Defaults and limits for task input.
    pub spec_defaults: SpecDefaults,
    /// Longest wait between polls, whatever the strategy computes.
    pub max_poll_delay: Duration,
    /// Shortest wait between polls, whatever the input asks.
    pub min_poll_interval: Duration,
    /// Random spread of each wait, ±ratio (0 = none).
    pub jitter_ratio: f64,
    /// Largest task output reported (larger response bodies are truncated with a marker).
    pub max_output_bytes: usize,
    /// Callback of an `asyncComplete` task waiting to be completed.
    pub async_complete_recheck: Duration,
}

impl Default for ExecutorSettings {
    /// The settings' defaults.
    fn default() -> Self {
        use crate::config::catalog::{JITTER_RATIO, MAX_DELAY_SECS, MAX_OUTPUT_BYTES, MIN_INTERVAL_MS};
        Self {
            spec_defaults: SpecDefaults::default(),
            max_poll_delay: Duration::from_secs((MAX_DELAY_SECS.default)()),
            min_poll_interval: Duration::from_millis((MIN_INTERVAL_MS.default)()),
            jitter_ratio: (JITTER_RATIO.default)(),
            max_output_bytes: (MAX_OUTPUT_BYTES.default)(),
            async_complete_recheck: Duration::from_secs((crate::config::catalog::ASYNC_COMPLETE_RECHECK_SECS.default)()),
        }
    }
}

/// Per-delivery context from the worker.
#[derive(Debug)]
pub struct Delivery {
    /// When the poll returned this task.
    pub received_at: Instant,
    /// Waits at or above this park.
    pub park_threshold: Duration,
    /// Cancelled when shutdown begins: held tasks park at once.
    pub stop_holding: CancellationToken,
    /// Cancelled when the shutdown deadline is near: requests in flight are abandoned (a poll is parked to be made
    /// again, a single call fails retryably), so that the result can still be reported in time.
    pub stop_executing: CancellationToken,
    /// The task type's metric handles.
    pub metrics: TaskMetrics,
    /// The task's id (the idempotency key of its requests).
    pub task_id: String,
    /// The task type (a field of the task's span).
    pub task_type: Arc<str>,
    /// The task's span, let go while the task holds.
    pub span: SpanSlot,
    /// Whether the server still has the task IN_PROGRESS (checked between polls).
    pub server: Arc<dyn ServerView>,
    /// Where a held poll's progress goes (the listing, the execution log).
    pub progress: Arc<dyn super::progress::Progress>,
    /// The worker extends the task's lease while it runs ([`crate::worker::lease`]): a request may outlast the
    /// response timeout, and a hold need not fit into it.
    pub leased: bool,
}

/// Executes tasks; cheap to share.
#[derive(Debug, Clone)]
pub struct Executor {
    target: Arc<dyn Target>,
    conditions: ConditionEvaluator,
    settings: ExecutorSettings,
}

/// JSON text of a value (serializing a tree cannot fail).
fn to_text(value: &Value) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

impl Executor {
    /// An executor over a shared target client (the daemon's is [`super::request::HttpInvoker`]) and evaluator.
    pub fn new(target: Arc<dyn Target>, conditions: ConditionEvaluator, settings: ExecutorSettings) -> Self {
        Self { target, conditions, settings }
    }

    /// The condition evaluator (its health is part of the worker's liveness).
    pub fn conditions(&self) -> &ConditionEvaluator {
        &self.conditions
    }

    /// Runs the task until it completes, fails or parks; its output fits `max_output_bytes`. The task's
    /// `inputData` and `outputData` are taken out of it (kept compactly, or dropped, while the task holds).
    pub async fn execute(&self, task: &mut Task, delivery: &Delivery) -> Outcome {
        let mut logs = ExecLog::default();
        let (input, saved_output) = (std::mem::take(&mut task.input_data), std::mem::take(&mut task.output_data));
        let mut spec = match spec::parse(&input, &self.settings.spec_defaults) {
            Ok(spec) => spec,
            Err(error) => return Outcome::failed(FailureKind::InvalidInput, error.to_string(), logs),
        };
        if !delivery.leased {
            spec.request.bound_by_response_timeout(task.response_timeout_secs());
        }
        // Once per task, not again on every re-delivery of a parked poll.
        if task.poll_count <= 1 {
            for warning in std::mem::take(&mut spec.warnings) {
                logs.push(warning);
            }
        }
        let mut outcome = match &spec.polling {
            None if spec.async_complete => {
                drop(input);
                let retry_until = single::retry_deadline(task, delivery);
                Box::pin(self.async_call(task, &spec.request, delivery, logs, &saved_output, retry_until)).await
            }
            None => {
                drop((input, saved_output));
                let retry_until = single::retry_deadline(task, delivery);
                Box::pin(self.single_call(&spec.request, delivery, logs, retry_until)).await
            }
            Some(polling) => {
                let start = PollStart::new(task, &input, &saved_output);
                drop((input, saved_output));
                let cancel = spec.cancel_request.as_deref();
                Box::pin(self.poll(start, &spec.request, polling, cancel, delivery, logs)).await
            }
        };
        if let Err(size) = fit_output(&mut outcome.output, self.settings.max_output_bytes) {
            let max = self.settings.max_output_bytes;
            let reason = format!(
                "the task output is {size} bytes even with the response body cut; the limit is {max} (updates.max_output_bytes)"
            );
            return Outcome::failed(FailureKind::ResponseTooLarge, reason, outcome.logs);
        }
        outcome
    }
}

fn response_output(response: Option<Box<RawValue>>, polls: Option<u32>) -> TaskOutput {
    let mut fields = Map::new();
    if let Some(polls) = polls {
        fields.insert("pollCount".into(), polls.into());
    }
    TaskOutput { fields, response }
}
