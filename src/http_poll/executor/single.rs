//! IO: tasks without `terminationCondition`: one call, made again after transient failures (`retries`), and the
//! `asyncComplete` variant, which leaves the task IN_PROGRESS for an outside system after its call.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::exchange::describe_exchange;
use super::{Executor, response_output, to_text};
use crate::clock::epoch_ms;
use crate::conductor::{Task, TaskOutput};
use crate::http_poll::outcome::{ExecLog, Outcome, OutcomeKind};
use crate::http_poll::request::describe_target;
use crate::http_poll::response::HttpResponse;
use crate::http_poll::spec::RequestSpec;
use crate::http_poll::state::{PollState, STATE_VERSION};
use crate::http_poll::termination::{Decision, FailureKind, decide_single};
use crate::http_poll::wait::response_timeout_margin;
use crate::http_poll::{Delivery, retry, retry_after};

impl Executor {
    /// `asyncComplete`: one call; an accepted response leaves the task IN_PROGRESS for an outside system to complete
    /// through the task API, parked with a long callback and the response in its output. A re-delivery before then
    /// parks it again without calling a second time (the saved state says the call was made).
    pub(super) async fn async_call(
        &self,
        task: &Task,
        request: &RequestSpec,
        delivery: &Delivery,
        mut logs: ExecLog,
        saved_output: &Value,
        retry_until: Option<Instant>,
    ) -> Outcome {
        let wait_secs = self.settings.async_complete_recheck.as_secs().max(1);
        let waiting = |mut output: TaskOutput, mut state: PollState, mut logs: ExecLog| {
            state.next_poll_at_ms = epoch_ms() + wait_secs * 1000;
            state.saved_at_delivery = Some(task.poll_count);
            state.store(&mut output.fields);
            logs.push(format!(
                "asyncComplete: waiting to be completed through the task API (checked again in {wait_secs} s)."
            ));
            delivery.metrics.parked();
            Outcome { kind: OutcomeKind::Parked { callback_after_secs: wait_secs }, output, logs }
        };
        if let Some(state) = PollState::restore(&task.task_id, saved_output) {
            let output = response_output(saved_output.get("response").map(to_text), None);
            return waiting(output, state, logs);
        }
        let outcome = Box::pin(self.single_call(request, delivery, std::mem::take(&mut logs), retry_until)).await;
        if outcome.kind != OutcomeKind::Completed {
            return outcome;
        }
        let now = epoch_ms();
        let state = PollState {
            version: STATE_VERSION,
            task_id: task.task_id.clone(),
            polls_made: 1,
            first_poll_at_ms: now,
            next_poll_at_ms: now,
            saved_at_delivery: None,
            status_uri: None,
        };
        waiting(outcome.output, state, outcome.logs)
    }

    /// One call, made again after transient failures up to `request.retries` times, as long as the next attempt
    /// fits before `retry_until` (the task's response timeout, less a margin).
    pub(super) async fn single_call(
        &self,
        request: &RequestSpec,
        delivery: &Delivery,
        mut logs: ExecLog,
        retry_until: Option<Instant>,
    ) -> Outcome {
        let mut retries = 0;
        let exchange = loop {
            let Some(exchange) = Box::pin(self.send(request, delivery, &delivery.task_id)).await else {
                let target = describe_target(&request.method, &request.url);
                let reason = format!(
                    "the worker shut down before {target} answered (the request may have reached it); retried per the TaskDef"
                );
                logs.push(reason.clone());
                return Outcome::failed(FailureKind::Interrupted, reason, logs);
            };
            let what = if retries == 0 { "call".to_owned() } else { format!("call (retry {retries})") };
            logs.push(describe_exchange(request, &exchange, &what));
            if retries >= request.retries || !retry::worth_retrying(&exchange.observation) {
                break exchange;
            }
            let requested =
                exchange.response.as_ref().and_then(|r| retry_after::requested(r.status, &r.headers, epoch_ms()));
            let wait = retry::wait_before(retries + 1, fastrand::f64(), requested, self.settings.max_poll_delay);
            if retry_until.is_some_and(|until| Instant::now() + wait + request.timeout > until) {
                logs.push("No time left for another attempt before the task's response timeout.".to_owned());
                break exchange;
            }
            retries += 1;
            delivery.metrics.request_retried();
            logs.push(format!("Retry {retries} of {} in {} ms.", request.retries, wait.as_millis()));
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = delivery.stop_holding.cancelled() => {
                    logs.push("Shutting down: no more retries.".to_owned());
                    break exchange;
                }
            }
        };
        let output = response_output(exchange.response.as_ref().map(HttpResponse::to_raw), None);
        let kind = match decide_single(&exchange.observation) {
            Decision::Fail { reason, kind } => OutcomeKind::Failed { reason, kind },
            Decision::Complete | Decision::PollAgain => OutcomeKind::Completed,
        };
        Outcome { kind, output, logs }
    }
}

/// Until when a single call may be tried again: the task's response timeout after its delivery, less a margin;
/// unbounded (but for `retries`) while its lease is extended.
pub(super) fn retry_deadline(task: &Task, delivery: &Delivery) -> Option<Instant> {
    match task.response_timeout_secs() {
        _ if delivery.leased => None,
        0 => None,
        secs => {
            let timeout = Duration::from_secs(secs);
            Some(delivery.received_at + timeout.saturating_sub(response_timeout_margin(timeout)))
        }
    }
}
