//! Reports results to Conductor, retrying failures with backoff for up to the configured window. What cannot be
//! delivered is logged with its task id as lost, never dropped silently.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::backoff::Backoff;
use crate::conductor::{ClientError, ConductorApi, TaskResult};
use crate::health::Health;

/// How a report ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportOutcome {
    /// The server accepted the update.
    Delivered,
    /// The server does not know the task (404): it was removed, or the id is wrong. Nothing to retry.
    UnknownTask,
    /// The server refused the body (4xx other than 404); retrying the same body cannot help.
    Rejected(String),
    /// Retries ran out of time; the result is lost.
    Lost(String),
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

    /// Sends one result until it is delivered, refused, or the retry window has passed.
    pub async fn report(&self, result: &TaskResult) -> ReportOutcome {
        let started = Instant::now();
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(15));
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let error = match self.api.update_task(result).await {
                Ok(()) => {
                    self.health.server_reached();
                    return ReportOutcome::Delivered;
                }
                Err(ClientError::Status { code: 404, .. }) => {
                    tracing::warn!(task_id = %result.task_id, "Server does not know the task; result not delivered.");
                    return ReportOutcome::UnknownTask;
                }
                Err(error) if !error.is_retryable() => {
                    tracing::error!(task_id = %result.task_id, error = %error, "Server refused the result.");
                    return ReportOutcome::Rejected(error.to_string());
                }
                Err(error) => error,
            };
            self.health.server_failed(&error);
            let wait = backoff.next(fastrand::f64());
            if started.elapsed() + wait > self.retry_window {
                tracing::error!(
                    task_id = %result.task_id, workflow_id = %result.workflow_instance_id, attempts, error = %error,
                    "Result LOST: the update kept failing for the whole retry window."
                );
                return ReportOutcome::Lost(error.to_string());
            }
            tracing::warn!(task_id = %result.task_id, attempts, error = %error, retry_in_ms = wait.as_millis() as u64, "Update failed; retrying.");
            tokio::time::sleep(wait).await;
        }
    }
}
