//! Reports results to Conductor: one attempt inside the execution (its slot is still held), and on a retryable
//! failure the result moves to the [`Outbox`], which retries it until the task's deadline on the server, so the
//! slot is released at once. Refusals (404 unknown task, other 4xx) are counted and logged; nothing is dropped
//! silently.
//!
//! Terminal results go through `update-v2` when chaining is allowed, so the reply can carry the next task of the
//! same type; parks and hand-backs use `POST /tasks` (a v3.21–3.31 server would otherwise hand out a new task in
//! reply to an IN_PROGRESS update too).
//!
//! A chained update whose reply is lost (a timeout, a reset connection) may have had a task assigned to this worker
//! that it never sees: the server recovers that task only at its `responseTimeoutSeconds`. So a result is chained
//! only when that is unlikely: it is small (at most [`CHAIN_MAX_BYTES`] of JSON; a large output is slow for the
//! server to store, and 50 outputs of 1 MiB at once timed updates out on a real server), and the outbox is empty,
//! i.e. updates reach the server (once one fails, updates go through `POST /tasks`, which assigns nothing, until
//! the outbox has drained). Chaining pays off for many small, fast tasks, which is where it is kept. A lost chained
//! reply is logged.

use std::sync::Arc;

use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::outbox::Outbox;
use super::update_failure::UpdateFailure;
use crate::conductor::{ClientError, ConductorApi, EncodedResult, PolledTask};
use crate::health::Health;
use crate::metrics::TaskMetrics;
use crate::metrics::values::DropReason;

/// The largest result (JSON bytes) sent through update-v2.
pub const CHAIN_MAX_BYTES: usize = 64 << 10;

/// How the first attempt ended.
#[derive(Debug)]
pub enum ReportOutcome {
    /// The server accepted the update; with update-v2 it may have assigned the next task.
    Delivered(Option<PolledTask>),
    /// The server does not know the task (404): it was removed, or the id is wrong. Nothing to retry.
    UnknownTask,
    /// The server refused the body (4xx other than 404); retrying the same body cannot help.
    Rejected(String),
    /// The attempt failed and the result now waits in the outbox.
    Queued,
}

impl ReportOutcome {
    /// Whether the server has the result.
    pub fn delivered(&self) -> bool {
        matches!(self, ReportOutcome::Delivered(_))
    }
}

/// Sends results; cheap to clone.
#[derive(Debug)]
pub struct Reporter<C> {
    api: Arc<C>,
    health: Arc<Health>,
    outbox: Outbox<C>,
    /// Cancelled at the shutdown deadline: an attempt in flight gives up and the result goes to the outbox.
    abandon: CancellationToken,
}

impl<C> Clone for Reporter<C> {
    fn clone(&self) -> Self {
        Self {
            api: self.api.clone(),
            health: self.health.clone(),
            outbox: self.outbox.clone(),
            abandon: self.abandon.clone(),
        }
    }
}

impl<C: ConductorApi> Reporter<C> {
    /// A reporter that queues failed updates in `outbox`; `abandon` ends attempts in flight (the shutdown
    /// deadline).
    pub fn new(api: Arc<C>, health: Arc<Health>, outbox: Outbox<C>, abandon: CancellationToken) -> Self {
        Self { api, health, outbox, abandon }
    }

    /// The outbox behind this reporter.
    pub fn outbox(&self) -> &Outbox<C> {
        &self.outbox
    }

    /// Sends one result once; a retryable failure hands it to the outbox (retried until `deadline`). With `chain`,
    /// a terminal result goes through update-v2 and the reply's next task (if any) is returned.
    pub async fn report(
        &self,
        result: EncodedResult,
        worker_id: &str,
        chain: bool,
        metrics: &TaskMetrics,
        deadline: Instant,
    ) -> ReportOutcome {
        let started = Instant::now();
        let chained = chain && result.is_terminal() && result.json.len() <= CHAIN_MAX_BYTES && self.outbox.is_empty();
        let attempt = async {
            if chained {
                self.api.update_task_and_poll(&result, worker_id).await
            } else {
                self.api.update_task(&result).await.map(|()| None)
            }
        };
        let sent = tokio::select! {
            sent = attempt => sent,
            () = self.abandon.cancelled() => Err(ClientError::Transport("the shutdown deadline ended the update".into())),
        };
        let outcome = match sent {
            Ok(next) => ReportOutcome::Delivered(next),
            Err(error) => match UpdateFailure::of(&error) {
                UpdateFailure::UnknownTask => {
                    metrics.update_failed(error.kind(), false);
                    metrics.result_dropped(DropReason::UnknownTask);
                    tracing::warn!(task_id = %result.task_id, "Server does not know the task; result not delivered.");
                    ReportOutcome::UnknownTask
                }
                UpdateFailure::Rejected => {
                    metrics.update_failed(error.kind(), false);
                    metrics.result_dropped(DropReason::Rejected);
                    tracing::error!(task_id = %result.task_id, error = %error, "Server refused the result.");
                    ReportOutcome::Rejected(error.to_string())
                }
                UpdateFailure::Retryable => {
                    if chained && matches!(error, ClientError::Transport(_)) {
                        tracing::warn!(
                            task_id = %result.task_id,
                            "The reply to a chained update (update-v2) was lost: if the server assigned this worker \
                             a next task, it is recovered at that task's responseTimeoutSeconds. Updates are not \
                             chained until the outbox drains."
                        );
                    }
                    self.outbox.push(result, metrics.clone(), deadline, &error).await;
                    return ReportOutcome::Queued;
                }
            },
        };
        metrics.update_finished(outcome.delivered(), started.elapsed(), result.json.len());
        outcome
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    use prometheus_client::registry::Registry;

    use super::*;
    use crate::metrics::Metrics;
    use crate::test_support::{FakeConductor, completed, completed_result};

    /// The 50 x 1 MiB run on a real server: a chained update timed out, and the task the server had assigned in
    /// its reply waited for its response timeout. While updates fail, results are not chained.
    #[tokio::test]
    async fn results_are_not_chained_while_updates_fail() {
        let mut registry = Registry::default();
        let metrics = Arc::new(Metrics::register(&mut registry, vec![])).task_type("t");
        let api = Arc::new(FakeConductor::default());
        let health = Arc::new(Health::default());
        let outbox = Outbox::new(api.clone(), health.clone(), Duration::from_secs(20), 1 << 20);
        let reporter = Reporter::new(api.clone(), health, outbox.clone(), CancellationToken::new());
        let deadline = Instant::now() + Duration::from_secs(20);

        api.fail_next([ClientError::Transport("operation timed out".into())]);
        let first = reporter.report(completed("a"), "me", true, &metrics, deadline).await;
        assert!(matches!(first, ReportOutcome::Queued), "{first:?}");
        assert_eq!(api.chained_attempts.load(Ordering::SeqCst), 1, "the first update is chained");

        // The outbox is not running, so "a" waits in it: the next result goes through POST /tasks.
        let second = reporter.report(completed("b"), "me", true, &metrics, deadline).await;
        assert!(second.delivered(), "{second:?}");
        assert_eq!(api.chained_attempts.load(Ordering::SeqCst), 1, "not chained while the outbox holds a result");
        assert_eq!(api.attempts.load(Ordering::SeqCst), 2);

        // Once the outbox has drained, results are chained again.
        let stop = CancellationToken::new();
        tokio::spawn(outbox.clone().run(stop.clone()));
        let until = Instant::now() + Duration::from_secs(10);
        while !outbox.is_empty() {
            assert!(Instant::now() < until, "the outbox delivers the queued result");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let third = reporter.report(completed("c"), "me", true, &metrics, deadline).await;
        assert!(third.delivered(), "{third:?}");
        assert_eq!(api.chained_attempts.load(Ordering::SeqCst), 2);
        stop.cancel();

        // A large result is never chained.
        let mut large = completed_result("d");
        large.output_data.fields.insert("blob".into(), "x".repeat(CHAIN_MAX_BYTES).into());
        let fourth = reporter.report(EncodedResult::new(&large), "me", true, &metrics, deadline).await;
        assert!(fourth.delivered(), "{fourth:?}");
        assert_eq!(api.chained_attempts.load(Ordering::SeqCst), 2, "a result over CHAIN_MAX_BYTES goes to POST /tasks");
    }
}
