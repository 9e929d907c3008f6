//! IO: executes one delivered task to an [`Outcome`]: parse the input, compile the condition, send the request
//! (once, or on every poll), ask the condition, and wait between polls by holding or parking. It never panics on
//! task input and never reports a success it did not see.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::outcome::{ExecLog, Outcome, OutcomeKind};
use super::request::{HttpInvoker, HttpResponse, describe_target};
use super::spec::{self, PollingSpec, RequestSpec, SpecDefaults};
use super::state::PollState;
use super::status::is_transient;
use super::strategy::with_jitter;
use super::termination::{Decision, Observation, decide_poll, decide_single};
use super::wait::{self, Wait, WaitInputs};
use crate::clock::epoch_ms;
use crate::condition::ConditionEvaluator;
use crate::conductor::Task;

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
}

impl Default for ExecutorSettings {
    fn default() -> Self {
        Self {
            spec_defaults: SpecDefaults::default(),
            max_poll_delay: Duration::from_secs(86_400),
            min_poll_interval: Duration::ZERO,
            jitter_ratio: 0.0,
        }
    }
}

/// Per-delivery context from the worker.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// When the poll returned this task.
    pub received_at: Instant,
    /// Waits at or above this park.
    pub park_threshold: Duration,
    /// Cancelled when shutdown begins: held tasks park at once.
    pub stop_holding: CancellationToken,
}

/// Executes tasks; cheap to share.
#[derive(Debug, Clone)]
pub struct Executor {
    invoker: HttpInvoker,
    conditions: ConditionEvaluator,
    settings: ExecutorSettings,
}

/// One request's result: the observation for the decision and the response for the output.
struct Exchange {
    observation: Observation,
    response: Option<HttpResponse>,
}

impl Executor {
    /// An executor over a shared invoker and evaluator.
    pub fn new(invoker: HttpInvoker, conditions: ConditionEvaluator, settings: ExecutorSettings) -> Self {
        Self { invoker, conditions, settings }
    }

    /// Runs the task until it completes, fails or parks.
    pub async fn execute(&self, task: &Task, delivery: &Delivery) -> Outcome {
        let logs = ExecLog::default();
        let spec = match spec::parse(&task.input_data, &self.settings.spec_defaults) {
            Ok(spec) => spec,
            Err(error) => return Outcome::failed(true, error.to_string(), logs),
        };
        match &spec.polling {
            None => self.single_call(&spec.request, logs).await,
            Some(polling) => self.poll(task, &spec.request, polling, delivery, logs).await,
        }
    }

    async fn single_call(&self, request: &RequestSpec, mut logs: ExecLog) -> Outcome {
        let exchange = self.send(request).await;
        logs.push(describe_exchange(request, &exchange, "call"));
        let output = response_output(exchange.response.as_ref(), None);
        let kind = match decide_single(&exchange.observation) {
            Decision::Fail { terminal, reason } => OutcomeKind::Failed { terminal, reason },
            Decision::Complete | Decision::PollAgain => OutcomeKind::Completed,
        };
        Outcome { kind, output, logs }
    }

    async fn poll(
        &self,
        task: &Task,
        request: &RequestSpec,
        polling: &PollingSpec,
        delivery: &Delivery,
        mut logs: ExecLog,
    ) -> Outcome {
        let condition: Arc<str> = polling.condition.as_str().into();
        if let Err(error) = self.conditions.compile(condition.clone()).await {
            return Outcome::failed(error.is_script_fault(), error.to_string(), logs);
        }
        let restored = PollState::restore(&task.task_id, &task.output_data);
        let mut last_response = restored.as_ref().and_then(|_| task.output_data.get("response").cloned());
        let mut state = restored.unwrap_or_else(|| PollState {
            version: super::state::STATE_VERSION,
            task_id: task.task_id.clone(),
            polls_made: 0,
            first_poll_at_ms: 0,
            next_poll_at_ms: 0,
        });
        if state.polls_made > 0 {
            logs.push(format!("Resumed after {} polls.", state.polls_made));
        }
        let response_timeout = Some(task.response_timeout_secs()).filter(|s| *s > 0).map(Duration::from_secs);
        loop {
            let due_in = Duration::from_millis(state.next_poll_at_ms.saturating_sub(epoch_ms()));
            if !due_in.is_zero() {
                let choice = wait::choose(WaitInputs {
                    delay: due_in,
                    park_threshold: delivery.park_threshold,
                    held_for: delivery.received_at.elapsed(),
                    next_request_budget: request.timeout,
                    response_timeout,
                    shutting_down: delivery.stop_holding.is_cancelled(),
                });
                let parked = match choice {
                    Wait::Park { callback_after_secs } => Some(callback_after_secs),
                    Wait::Hold(delay) => tokio::select! {
                        () = tokio::time::sleep(delay) => None,
                        () = delivery.stop_holding.cancelled() => {
                            let left = state.next_poll_at_ms.saturating_sub(epoch_ms());
                            Some(left.div_ceil(1000))
                        }
                    },
                };
                if let Some(callback_after_secs) = parked {
                    logs.push(format!("Parked for {callback_after_secs} s after {} polls.", state.polls_made));
                    let mut output = response_output_value(last_response, Some(state.polls_made));
                    state.store(&mut output);
                    return Outcome { kind: OutcomeKind::Parked { callback_after_secs }, output, logs };
                }
            }

            let mut exchange = self.send(request).await;
            state.polls_made += 1;
            if state.first_poll_at_ms == 0 {
                state.first_poll_at_ms = epoch_ms();
            }
            if let (Observation::Accepted(verdict), Some(response)) = (&mut exchange.observation, &exchange.response) {
                let dollar = dollar(&task.input_data, response, state.polls_made);
                *verdict = Some(self.conditions.evaluate(condition.clone(), dollar).await);
            }
            let decision = decide_poll(&exchange.observation, state.polls_made, polling.max_poll_count);
            let mut line = describe_exchange(request, &exchange, &format!("poll {}", state.polls_made));
            last_response = exchange.response.as_ref().map(HttpResponse::to_json).or(last_response);
            match decision {
                Decision::Complete => {
                    logs.push(line + "; terminationCondition holds.");
                    let output = response_output_value(last_response, Some(state.polls_made));
                    return Outcome { kind: OutcomeKind::Completed, output, logs };
                }
                Decision::Fail { terminal, reason } => {
                    logs.push(line);
                    let output = response_output_value(last_response, Some(state.polls_made));
                    return Outcome { kind: OutcomeKind::Failed { terminal, reason }, output, logs };
                }
                Decision::PollAgain => {
                    let delay = self.next_delay(polling, state.polls_made);
                    if matches!(exchange.observation, Observation::Accepted(_)) {
                        line.push_str("; terminationCondition false");
                    }
                    line.push_str(&format!("; next poll in {:.3} s.", delay.as_secs_f64()));
                    logs.push(line);
                    state.next_poll_at_ms = epoch_ms() + delay.as_millis() as u64;
                }
            }
        }
    }

    fn next_delay(&self, polling: &PollingSpec, polls_made: u32) -> Duration {
        let base = polling.strategy.delay(polling.interval, polls_made, self.settings.max_poll_delay);
        with_jitter(base, self.settings.jitter_ratio, fastrand::f64())
            .max(self.settings.min_poll_interval)
            .min(self.settings.max_poll_delay)
    }

    async fn send(&self, request: &RequestSpec) -> Exchange {
        let target = describe_target(&request.method, &request.url);
        match self.invoker.send(request).await {
            Ok(response) if request.accepted.accepts(response.status) => {
                Exchange { observation: Observation::Accepted(None), response: Some(response) }
            }
            Ok(response) => {
                let description = format!("{target} answered {} {}", response.status, response.reason);
                let transient = is_transient(response.status);
                Exchange { observation: Observation::Rejected { transient, description }, response: Some(response) }
            }
            Err(error) => {
                Exchange { observation: Observation::NoResponse(format!("{target} failed: {error}")), response: None }
            }
        }
    }
}

/// `$` for the condition: the task input's keys, plus `input` (the task input) and `output` (this poll's output:
/// `response`, `pollCount`, and `status` = the status code, as some HTTP_POLL examples read `$.output.status`).
pub fn dollar(input: &Value, response: &HttpResponse, polls_made: u32) -> Value {
    let mut root = input.as_object().cloned().unwrap_or_default();
    let output = json!({"response": response.to_json(), "pollCount": polls_made, "status": response.status});
    root.insert("input".into(), input.clone());
    root.insert("output".into(), output);
    Value::Object(root)
}

fn response_output(response: Option<&HttpResponse>, polls: Option<u32>) -> Map<String, Value> {
    response_output_value(response.map(HttpResponse::to_json), polls)
}

fn response_output_value(response: Option<Value>, polls: Option<u32>) -> Map<String, Value> {
    let mut output = Map::new();
    if let Some(response) = response {
        output.insert("response".into(), response);
    }
    if let Some(polls) = polls {
        output.insert("pollCount".into(), polls.into());
    }
    output
}

fn describe_exchange(request: &RequestSpec, exchange: &Exchange, what: &str) -> String {
    let target = describe_target(&request.method, &request.url);
    match (&exchange.response, &exchange.observation) {
        (Some(response), _) => format!(
            "{what}: {target} answered {} {} in {} ms",
            response.status,
            response.reason,
            response.elapsed.as_millis()
        ),
        (None, Observation::NoResponse(error)) => format!("{what}: {error}"),
        (None, _) => format!("{what}: {target}: no response"),
    }
}
