//! IO: one exchange with the target and one condition evaluation, each recorded in the metrics (target requests by
//! host and status class; evaluations by outcome, path and time), and how an exchange reads in the task's log.

use tokio::time::Instant;

use super::Executor;
use crate::condition::dollar::Dollar;
use crate::condition::{Condition, ConditionError, Path, Verdict};
use crate::http_poll::Delivery;
use crate::http_poll::outcome::ExecLog;
use crate::http_poll::request::{InvokeError, describe_target};
use crate::http_poll::response::HttpResponse;
use crate::http_poll::spec::RequestSpec;
use crate::http_poll::termination::{Decision, FailureKind, Observation, observe};
use crate::metrics::values::{ConditionOutcome, PollOutcome, StatusClass};
use crate::outbound::host_limits::HostLimits;

/// One request's result: the observation for the decision and the response for the output.
pub(super) struct Exchange {
    pub(super) observation: Observation,
    pub(super) response: Option<HttpResponse>,
}

impl Executor {
    /// Asks the condition (natively, else in an evaluator process); either way it is one evaluation in the metrics,
    /// with its outcome, path and time.
    pub(super) async fn evaluate(
        &self,
        condition: &Condition,
        dollar: &Dollar<'_>,
        delivery: &Delivery,
    ) -> Result<Verdict, ConditionError> {
        let started = Instant::now();
        let (result, path) = self.conditions.evaluate(condition, dollar).await;
        let outcome = match &result {
            Ok(Verdict::Holds) => ConditionOutcome::True,
            Ok(Verdict::NotYet) => ConditionOutcome::False,
            Ok(Verdict::Fails) => ConditionOutcome::Fail,
            Err(ConditionError::Timeout(_)) => ConditionOutcome::Timeout,
            Err(_) => ConditionOutcome::Error,
        };
        delivery.metrics.condition(outcome, path == Path::Native, started.elapsed());
        result
    }

    /// Sends a held poll's `cancelRequest` once, its workflow having been cancelled; what happened goes to the
    /// task's log and the worker's (the server ignores the last update of a cancelled task).
    pub(super) async fn send_cancel(&self, cancel: &RequestSpec, delivery: &Delivery, logs: &mut ExecLog) {
        let key = format!("{}:cancel", delivery.task_id);
        let line = match Box::pin(self.send(cancel, delivery, &key)).await {
            Some(exchange) => describe_exchange(cancel, &exchange, "cancelRequest"),
            None => "cancelRequest: not sent (shutting down)".to_owned(),
        };
        tracing::info!(task_id = %delivery.task_id, "{line}");
        logs.push(line);
    }

    /// One request; `None` when shutdown abandoned it in flight.
    pub(super) async fn send(
        &self,
        request: &RequestSpec,
        delivery: &Delivery,
        idempotency_key: &str,
    ) -> Option<Exchange> {
        let target = describe_target(&request.method, &request.url);
        let started = Instant::now();
        let result = tokio::select! {
            result = self.target.send(request, idempotency_key) => result,
            () = delivery.stop_executing.cancelled() => return None,
        };
        let status_class = match &result {
            Ok(response) => StatusClass::of(response.status),
            Err(InvokeError::Timeout(_)) => StatusClass::Timeout,
            Err(_) => StatusClass::Error,
        };
        delivery.metrics.target_request(&HostLimits::key(&request.url), status_class, started.elapsed());
        let sent = result.as_ref().map(|response| (response.status, response.reason.as_str()));
        let observation = observe(sent, &request.accepted, &target);
        Some(Exchange { observation, response: result.ok() })
    }
}

pub(super) fn iteration_outcome(decision: &Decision) -> PollOutcome {
    match decision {
        Decision::Complete => PollOutcome::Complete,
        Decision::PollAgain => PollOutcome::Continue,
        Decision::Fail { kind: FailureKind::ConditionError | FailureKind::Internal, .. } => PollOutcome::Error,
        Decision::Fail { .. } => PollOutcome::Fail,
    }
}

pub(super) fn describe_exchange(request: &RequestSpec, exchange: &Exchange, what: &str) -> String {
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
