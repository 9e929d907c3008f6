//! Test doubles for unit tests: an in-memory [`FakeConductor`] implementing [`ConductorApi`] with scripted update
//! failures and recorded results.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::conductor::{ClientError, ConductorApi, EncodedResult, PollRequest, PolledTask};

/// An in-memory Conductor: an empty queue, updates that fail as scripted, and the results it accepted.
#[derive(Debug, Default)]
pub struct FakeConductor {
    /// Errors returned by the next updates, in order; when empty, updates succeed.
    pub update_failures: Mutex<VecDeque<ClientError>>,
    /// Fail every update with a transport error (after the scripted ones).
    pub always_fail: std::sync::atomic::AtomicBool,
    /// What `GET /tasks/{id}` answers: the status,
    pub status: Mutex<Option<String>>,
    /// and the stored output, one answer per call (the last one repeats; none: the task is unknown).
    pub stored_outputs: Mutex<VecDeque<serde_json::Value>>,
    /// `GET /tasks/{id}` calls made for the output.
    pub output_reads: std::sync::atomic::AtomicU32,
    /// Results accepted, in order.
    pub delivered: Mutex<Vec<EncodedResult>>,
    /// Update attempts made,
    pub attempts: std::sync::atomic::AtomicU32,
    /// and how many of them were chained (update-v2).
    pub chained_attempts: std::sync::atomic::AtomicU32,
}

impl FakeConductor {
    /// Scripts the next update failures.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = ClientError>) {
        self.update_failures.lock().unwrap().extend(errors);
    }
}

impl ConductorApi for FakeConductor {
    async fn poll_batch(&self, _request: PollRequest<'_>) -> Result<Vec<PolledTask>, ClientError> {
        Ok(Vec::new())
    }

    async fn update_task(&self, result: &EncodedResult) -> Result<(), ClientError> {
        self.attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        if let Some(error) = self.update_failures.lock().unwrap().pop_front() {
            return Err(error);
        }
        if self.always_fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Err(ClientError::Transport("connection refused".into()));
        }
        self.delivered.lock().unwrap().push(result.clone());
        Ok(())
    }

    async fn update_task_and_poll(
        &self,
        result: &EncodedResult,
        _worker_id: &str,
    ) -> Result<Option<PolledTask>, ClientError> {
        self.chained_attempts.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.update_task(result).await.map(|()| None)
    }

    async fn task_status(&self, _task_id: &str) -> Result<Option<String>, ClientError> {
        Ok(self.status.lock().unwrap().clone())
    }

    async fn task_output(&self, _task_id: &str) -> Result<Option<serde_json::Value>, ClientError> {
        self.output_reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let mut outputs = self.stored_outputs.lock().unwrap();
        Ok(if outputs.len() > 1 { outputs.pop_front() } else { outputs.front().cloned() })
    }

    async fn queue_size(&self, _task_type: &str, _domain: Option<&str>) -> Result<u64, ClientError> {
        Ok(0)
    }
}
