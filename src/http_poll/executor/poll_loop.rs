//! IO: the HTTP_POLL loop of one task: before each poll, hold or park (through [`step::before_poll`]); check that
//! the server still has the task IN_PROGRESS (sending `cancelRequest` once when it shows CANCELED); send poll n
//! with its idempotency key, follow a 202's Location (`pollLocation`); ask the condition; and decide (complete,
//! fail, poll again after the strategy's delay or the target's `Retry-After`).
//!
//! Owns: the order of those steps and what each writes to the log and output. Does not own: the decisions
//! themselves (`step`, `termination`, `wait`, `retry_after`), one exchange ([`super::exchange`]) or tasks without a
//! condition ([`super::single`]).

use std::time::Duration;

use reqwest::Method;
use serde_json::Value;
use serde_json::value::RawValue;
use tokio::time::Instant;
use tracing::Instrument;

use super::exchange::{describe_exchange, iteration_outcome};
use super::{Delivery, Executor, response_output, to_text};
use crate::clock::epoch_ms;
use crate::condition::Condition;
use crate::condition::dollar::{Dollar, PollView};
use crate::conductor::Task;
use crate::http_poll::location;
use crate::http_poll::outcome::{ExecLog, Outcome, OutcomeKind};
use crate::http_poll::progress::PollProgress;
use crate::http_poll::request::describe_target;
use crate::http_poll::response::HttpResponse;
use crate::http_poll::retry_after;
use crate::http_poll::server_view::{CHECK_EVERY, ServerState};
use crate::http_poll::spec::{PollingSpec, RequestSpec};
use crate::http_poll::state::{PollState, STATE_VERSION};
use crate::http_poll::step::{self, Before, WaitContext};
use crate::http_poll::strategy::with_jitter;
use crate::http_poll::termination::{Decision, FailureKind, Observation};
use crate::http_poll::wait::Wait;
use crate::logging::task_span;
use crate::metrics::values::HttpPollStatus;

/// What an HTTP_POLL execution keeps from its task, as JSON text: the input (for `$`), and for a parked task its
/// saved state and last response.
pub(super) struct PollStart<'a> {
    task: &'a Task,
    input: Box<RawValue>,
    /// The newest response seen, as the output's `response`.
    last_response: Option<Box<RawValue>>,
    state: PollState,
}

impl<'a> PollStart<'a> {
    pub(super) fn new(task: &'a Task, input: &Value, saved_output: &Value) -> Self {
        let restored = PollState::restore(&task.task_id, saved_output);
        let last_response = restored.as_ref().and_then(|_| saved_output.get("response")).map(to_text);
        let state = restored.unwrap_or_else(|| PollState {
            version: STATE_VERSION,
            task_id: task.task_id.clone(),
            polls_made: 0,
            first_poll_at_ms: 0,
            next_poll_at_ms: 0,
            saved_at_delivery: None,
            status_uri: None,
        });
        Self { task, input: to_text(input), last_response, state }
    }
}

impl Executor {
    pub(super) async fn poll(
        &self,
        start: PollStart<'_>,
        request: &RequestSpec,
        polling: &PollingSpec,
        cancel: Option<&RequestSpec>,
        delivery: &Delivery,
        mut logs: ExecLog,
    ) -> Outcome {
        // The common shapes are answered natively wherever the answer is certain (else the engine runs them); they
        // are valid JavaScript by construction, so they need no check either.
        let condition = Condition::new(&polling.condition);
        if let Err(error) = Box::pin(self.conditions.check(&condition)).await {
            let kind = if error.is_script_fault() { FailureKind::ConditionError } else { FailureKind::Internal };
            return Outcome::failed(kind, error.to_string(), logs);
        }
        let PollStart { task, input, mut last_response, mut state } = start;
        if state.polls_made > 0 {
            delivery.metrics.resumed();
            logs.push(format!("Resumed after {} polls.", state.polls_made));
        }
        let response_timeout = Some(task.response_timeout_secs()).filter(|s| *s > 0).map(Duration::from_secs);
        // A resumed task whose next poll is not due yet came back before its callback time.
        let mut came_back_early = state.polls_made > 0;
        // Where the polls go once a 202 handed over its Location (pollLocation); kept across parks in the state.
        let mut status_request =
            state.status_uri.as_deref().and_then(|uri| url::Url::parse(uri).ok()).map(|url| request.at_location(url));
        let mut last_check = Instant::now();
        loop {
            let context = WaitContext {
                park_threshold: delivery.park_threshold,
                held_for: delivery.received_at.elapsed(),
                next_request_budget: request.timeout,
                response_timeout,
                shutting_down: delivery.stop_holding.is_cancelled(),
                came_back_early,
                leased: delivery.leased,
            };
            if let Before::Wait(choice) = step::before_poll(&state, epoch_ms(), context) {
                let parked = match choice {
                    Wait::Park { callback_after_secs } => Some(callback_after_secs),
                    Wait::Hold(delay) => {
                        delivery.span.release();
                        let parked = hold(delay, &state, delivery).await;
                        let (task_type, task_id) = (&delivery.task_type, &delivery.task_id);
                        delivery.span.restore(|| task_span(task_type, task_id, &task.workflow_instance_id));
                        parked
                    }
                };
                if let Some(callback_after_secs) = parked {
                    delivery.metrics.parked();
                    logs.push(format!("Parked for {callback_after_secs} s after {} polls.", state.polls_made));
                    let mut output = response_output(last_response, Some(state.polls_made));
                    state.saved_at_delivery = Some(task.poll_count);
                    state.store(&mut output.fields);
                    return Outcome { kind: OutcomeKind::Parked { callback_after_secs }, output, logs };
                }
            }

            came_back_early = false;
            if state.polls_made > 0 && last_check.elapsed() >= CHECK_EVERY {
                last_check = Instant::now();
                if let Some(seen @ (ServerState::Cancelled | ServerState::Ended)) =
                    delivery.server.state(&delivery.task_id).await
                {
                    let reason = format!(
                        "the server no longer has this task IN_PROGRESS (its workflow was terminated, cancelled or \
                         timed out): polling stopped after {} polls",
                        state.polls_made
                    );
                    logs.push(reason.clone());
                    if let (ServerState::Cancelled, Some(cancel)) = (seen, cancel) {
                        Box::pin(self.send_cancel(cancel, delivery, &mut logs)).await;
                    }
                    let output = response_output(last_response, Some(state.polls_made));
                    return Outcome {
                        kind: OutcomeKind::Failed { reason, kind: FailureKind::Cancelled },
                        output,
                        logs,
                    };
                }
            }
            // Poll n of a task always carries the same key, so a poll repeated after a crash can be recognised.
            let key = format!("{}:{}", delivery.task_id, state.polls_made + 1);
            // Instrumented itself: the span may have been made again after a hold within this same poll of the task.
            let sending = status_request.as_ref().unwrap_or(request);
            let sent = Box::pin(self.send(sending, delivery, &key).instrument(delivery.span.current())).await;
            let Some(mut exchange) = sent else {
                // Shutting down with this poll in flight: park so that another worker makes poll n again (with
                // the same idempotency key) at once.
                delivery.metrics.parked();
                logs.push(format!("Shutting down during poll {}: parked to be polled again.", state.polls_made + 1));
                let mut output = response_output(last_response, Some(state.polls_made));
                state.next_poll_at_ms = epoch_ms();
                state.saved_at_delivery = Some(task.poll_count);
                if state.polls_made > 0 {
                    state.store(&mut output.fields);
                }
                return Outcome { kind: OutcomeKind::Parked { callback_after_secs: 0 }, output, logs };
            };
            let mut line = describe_exchange(sending, &exchange, &format!("poll {}", state.polls_made + 1));
            step::poll_sent(&mut state, epoch_ms());
            if let (true, None, Some(response)) = (polling.poll_location, &status_request, &exchange.response) {
                match location::handed_over(&request.url, response) {
                    Ok(None) => {}
                    Ok(Some(url)) => {
                        line.push_str(&format!(
                            "; polling {} from now on (pollLocation)",
                            describe_target(&Method::GET, &url)
                        ));
                        state.status_uri = Some(url.to_string());
                        status_request = Some(request.at_location(url));
                    }
                    Err(reason) => {
                        logs.push(line);
                        let output = response_output(Some(response.to_raw()), Some(state.polls_made));
                        let kind = OutcomeKind::Failed { reason, kind: FailureKind::TargetBlocked };
                        return Outcome { kind, output, logs };
                    }
                }
            }
            if let (Observation::Accepted(verdict), Some(response)) = (&mut exchange.observation, &exchange.response) {
                let dollar = Dollar {
                    input: &input,
                    output: PollView { response: response.view(), poll_count: state.polls_made },
                };
                *verdict = Some(Box::pin(self.evaluate(&condition, &dollar, delivery)).await);
            }
            let now_ms = epoch_ms();
            let requested =
                exchange.response.as_ref().and_then(|r| retry_after::requested(r.status, &r.headers, now_ms));
            let delay = retry_after::next_delay(
                self.next_delay(polling, state.polls_made),
                requested,
                self.settings.max_poll_delay,
            );
            if let Some(wait) = requested {
                logs.push(format!("The target asked to retry after {} s (Retry-After).", wait.as_secs()));
            }
            let decision = step::after_poll(&mut state, &exchange.observation, polling.max_poll_count, delay, now_ms);
            delivery.metrics.poll_iteration(iteration_outcome(&decision));
            let newest = |last: Option<Box<RawValue>>| exchange.response.as_ref().map(HttpResponse::to_raw).or(last);
            let whole_task = Duration::from_millis(now_ms.saturating_sub(state.first_poll_at_ms));
            match decision {
                Decision::Complete => {
                    delivery.metrics.http_poll_finished(HttpPollStatus::Completed, whole_task);
                    logs.push(line + "; terminationCondition holds.");
                    let output = response_output(newest(last_response), Some(state.polls_made));
                    return Outcome { kind: OutcomeKind::Completed, output, logs };
                }
                Decision::Fail { reason, kind } => {
                    let status = if kind.is_terminal() {
                        HttpPollStatus::FailedWithTerminalError
                    } else {
                        HttpPollStatus::Failed
                    };
                    delivery.metrics.http_poll_finished(status, whole_task);
                    logs.push(line);
                    let output = response_output(newest(last_response), Some(state.polls_made));
                    return Outcome { kind: OutcomeKind::Failed { reason, kind }, output, logs };
                }
                Decision::PollAgain => {
                    let verdict = match exchange.observation {
                        Observation::Accepted(_) => "terminationCondition false",
                        _ => "polling again",
                    };
                    if matches!(exchange.observation, Observation::Accepted(_)) {
                        line.push_str("; terminationCondition false");
                    }
                    line.push_str(&format!("; next poll in {:.3} s.", delay.as_secs_f64()));
                    let progress = PollProgress {
                        poll: state.polls_made,
                        status: exchange.response.as_ref().map(|r| r.status),
                        verdict,
                        next_poll_in: delay,
                        holds: delay < delivery.park_threshold,
                        line: &line,
                    };
                    // A line sent to the execution log now need not go with the next update.
                    if !delivery.progress.polled(&delivery.task_id, &progress) {
                        logs.push(line);
                    }
                    if let Some(response) = &exchange.response {
                        last_response = Some(response.to_raw());
                    }
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
}

/// Sleeps for a hold, or until shutdown asks held tasks to park: then returns the callback for the time left.
async fn hold(delay: Duration, state: &PollState, delivery: &Delivery) -> Option<u64> {
    delivery.metrics.held(1);
    let parked = tokio::select! {
        () = tokio::time::sleep(delay) => None,
        () = delivery.stop_holding.cancelled() => Some(step::park_for_rest(state, epoch_ms())),
    };
    delivery.metrics.held(-1);
    parked
}
