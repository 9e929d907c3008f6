//! Reports results to Conductor, retrying failures with backoff for up to the configured window. What cannot be
//! delivered is counted and logged with its task id, never dropped silently.
//!
//! Terminal results go through `update-v2` when chaining is allowed, so the reply can carry the next task of the
//! same type; parks and hand-backs use `POST /tasks` (a v3.21–3.31 server would otherwise hand out a new task in
//! reply to an IN_PROGRESS update too).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Backoff;
use crate::conductor::{ClientError, ConductorApi, EncodedResult, PolledTask};
use crate::health::Health;
use crate::metrics::TaskMetrics;

/// How a report ended.
#[derive(Debug)]
pub enum ReportOutcome {
    /// The server accepted the update; with update-v2 it may have assigned the next task.
    Delivered(Option<PolledTask>),
    /// The server does not know the task (404): it was removed, or the id is wrong. Nothing to retry.
    UnknownTask,
    /// The server refused the body (4xx other than 404); retrying the same body cannot help.
    Rejected(String),
    /// Retries ran out of time; the result is lost.
    Lost(String),
}

impl ReportOutcome {
    /// Whether the server has the result.
    pub fn delivered(&self) -> bool {
        matches!(self, ReportOutcome::Delivered(_))
    }
}

/// Sends results with retries; cheap to clone.
#[derive(Debug)]
pub struct Reporter<C> {
    api: Arc<C>,
    retry_window: Duration,
    health: Arc<Health>,
}

impl<C> Clone for Reporter<C> {
    fn clone(&self) -> Self {
        Self { api: self.api.clone(), retry_window: self.retry_window, health: self.health.clone() }
    }
}

impl<C: ConductorApi> Reporter<C> {
    /// A reporter that retries a failing update for up to `retry_window`.
    pub fn new(api: Arc<C>, retry_window: Duration, health: Arc<Health>) -> Self {
        Self { api, retry_window, health }
    }

    /// Sends one result until it is delivered, refused, or the retry window has passed. With `chain`, a terminal
    /// result goes through update-v2 and the reply's next task (if any) is returned.
    pub async fn report(
        &self,
        result: &EncodedResult,
        worker_id: &str,
        chain: bool,
        metrics: &TaskMetrics,
    ) -> ReportOutcome {
        let started = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(15));
        let mut attempts = 0u32;
        let use_v2 = chain && result.is_terminal();
        let outcome = loop {
            attempts += 1;
            let sent = if use_v2 {
                self.api.update_task_and_poll(result, worker_id).await
            } else {
                self.api.update_task(result).await.map(|()| None)
            };
            let error = match sent {
                Ok(next) => {
                    self.health.server_reached();
                    break ReportOutcome::Delivered(next);
                }
                Err(ClientError::Status { code: 404, .. }) => {
                    metrics.update_failed("Status4xx", false);
                    tracing::warn!(task_id = %result.task_id, "Server does not know the task; result not delivered.");
                    break ReportOutcome::UnknownTask;
                }
                Err(error) if !error.is_retryable() => {
                    metrics.update_failed(error.kind(), false);
                    tracing::error!(task_id = %result.task_id, error = %error, "Server refused the result.");
                    break ReportOutcome::Rejected(error.to_string());
                }
                Err(error) => error,
            };
            self.health.server_failed(&error);
            let wait = backoff.next(fastrand::f64());
            let give_up = started.elapsed() + wait > self.retry_window;
            metrics.update_failed(error.kind(), !give_up);
            if give_up {
                tracing::error!(
                    task_id = %result.task_id, workflow_id = %result.workflow_instance_id, attempts, error = %error,
                    "Result LOST: the update kept failing for the whole retry window."
                );
                break ReportOutcome::Lost(error.to_string());
            }
            tracing::warn!(task_id = %result.task_id, attempts, error = %error, retry_in_ms = wait.as_millis() as u64, "Update failed; retrying.");
            tokio::time::sleep(wait).await;
        };
        metrics.update_finished(outcome.delivered(), started.elapsed(), result.json.len());
        match &outcome {
            ReportOutcome::UnknownTask => metrics.result_dropped("unknown_task"),
            ReportOutcome::Rejected(_) => metrics.result_dropped("rejected"),
            ReportOutcome::Lost(_) => metrics.result_dropped("lost"),
            ReportOutcome::Delivered(_) => {}
        }
        outcome
    }
}
