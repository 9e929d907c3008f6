//! Test doubles for unit and loop tests, with no sockets and no JVM, so that they run under a paused clock:
//! an in-memory [`FakeConductor`] (scripted queue, recorded polls and results, injectable update failures), a
//! [`target::ScriptedTarget`] for the target APIs, and [`harness::LoopHarness`], which runs a real [`Worker`]
//! loop over both.
//!
//! [`Worker`]: crate::worker::Worker

pub mod harness;
pub mod target;

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::conductor::{
    ClientError, ConductorApi, EncodedResult, LeaseExtension, PollRequest, PolledTask, Task, TaskResult,
    TaskResultStatus,
};

/// One poll the worker made.
#[derive(Debug, Clone)]
pub struct PollRecord {
    /// The `count` asked for.
    pub count: usize,
    /// Tasks delivered to the worker and not yet answered by an update when the poll arrived (they hold slots).
    pub outstanding: usize,
    /// When it arrived.
    pub at: Instant,
}

/// An in-memory Conductor: a scripted queue, updates that fail as scripted, and the polls and results it saw.
#[derive(Debug, Default)]
pub struct FakeConductor {
    /// Tasks waiting to be polled, in order. A poll with none waits its long-poll timeout and returns nothing.
    pub queue: Mutex<VecDeque<PolledTask>>,
    /// Each poll returns this many tasks more than asked, while the queue has them (conductor-oss#369).
    pub over_deliver: std::sync::atomic::AtomicUsize,
    /// Errors returned by the next polls, in order.
    pub poll_failures: Mutex<VecDeque<ClientError>>,
    /// Polls made, in order.
    pub polls: Mutex<Vec<PollRecord>>,
    /// Tasks handed to the worker so far (polls and chained updates).
    pub deliveries: std::sync::atomic::AtomicUsize,
    /// Errors returned by the next updates, in order; when empty, updates succeed.
    pub update_failures: Mutex<VecDeque<ClientError>>,
    /// Fail every update with a transport error (after the scripted ones).
    pub always_fail: std::sync::atomic::AtomicBool,
    /// What `GET /tasks/{id}` answers: the status,
    pub status: Mutex<Option<String>>,
    /// and whether those reads fail (a transport error),
    pub fail_status: std::sync::atomic::AtomicBool,
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
    /// Lease extensions received: task id and when.
    pub lease_extensions: Mutex<Vec<(String, Instant)>>,
    /// Lease extensions fail (transport error) while set.
    pub fail_leases: std::sync::atomic::AtomicBool,
    /// Execution log lines received, with their task id and when.
    pub task_logs: Mutex<Vec<(String, String, Instant)>>,
}

impl FakeConductor {
    /// Scripts the next update failures.
    pub fn fail_next(&self, errors: impl IntoIterator<Item = ClientError>) {
        self.update_failures.lock().unwrap().extend(errors);
    }

    /// Queues tasks for the worker to poll.
    pub fn enqueue(&self, tasks: impl IntoIterator<Item = Task>) {
        self.queue.lock().unwrap().extend(tasks.into_iter().map(|task| PolledTask::Task(Box::new(task))));
    }

    /// Results accepted for `task_id`, as JSON, in order.
    pub fn results_for(&self, task_id: &str) -> Vec<Value> {
        let delivered = self.delivered.lock().unwrap();
        delivered.iter().filter(|r| r.task_id == task_id).map(|r| serde_json::from_slice(&r.json).unwrap()).collect()
    }

    /// Tasks delivered and not yet answered by an accepted update.
    fn outstanding(&self) -> usize {
        let answered: std::collections::HashSet<_> =
            self.delivered.lock().unwrap().iter().map(|r| r.task_id.clone()).collect();
        self.deliveries.load(Ordering::SeqCst).saturating_sub(answered.len())
    }

    fn take(&self, count: usize) -> Vec<PolledTask> {
        let mut queue = self.queue.lock().unwrap();
        let n = count.min(queue.len());
        let tasks: Vec<_> = queue.drain(..n).collect();
        self.deliveries.fetch_add(tasks.len(), Ordering::SeqCst);
        tasks
    }
}

/// A COMPLETED result for `task_id` with an empty output.
pub fn completed_result(task_id: &str) -> TaskResult {
    TaskResult {
        workflow_instance_id: "wf".into(),
        task_id: task_id.into(),
        worker_id: "me".into(),
        status: TaskResultStatus::Completed,
        reason_for_incompletion: None,
        callback_after_seconds: 0,
        output_data: Default::default(),
        logs: vec![],
    }
}

/// [`completed_result`], encoded.
pub fn completed(task_id: &str) -> EncodedResult {
    EncodedResult::new(&completed_result(task_id))
}

/// A first delivery of an HTTP or HTTP_POLL task with this input (one hour of response timeout).
pub fn task(task_id: &str, input: Value) -> Task {
    Task {
        task_id: task_id.into(),
        workflow_instance_id: format!("wf-{task_id}"),
        input_data: input,
        output_data: json!({}),
        poll_count: 1,
        response_timeout_seconds: 3600,
        ..Task::default()
    }
}

impl ConductorApi for FakeConductor {
    async fn poll_batch(&self, request: PollRequest<'_>) -> Result<Vec<PolledTask>, ClientError> {
        let record = PollRecord { count: request.count, outstanding: self.outstanding(), at: Instant::now() };
        self.polls.lock().unwrap().push(record);
        if let Some(error) = self.poll_failures.lock().unwrap().pop_front() {
            return Err(error);
        }
        let tasks = self.take(request.count + self.over_deliver.load(Ordering::SeqCst));
        if tasks.is_empty() {
            tokio::time::sleep(request.timeout).await;
        }
        Ok(tasks)
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
        self.update_task(result).await?;
        Ok(self.take(1).pop())
    }

    async fn extend_lease(&self, lease: &LeaseExtension<'_>) -> Result<(), ClientError> {
        self.lease_extensions.lock().unwrap().push((lease.task_id.to_owned(), Instant::now()));
        if self.fail_leases.load(Ordering::SeqCst) {
            return Err(ClientError::Transport("connection refused".into()));
        }
        Ok(())
    }

    async fn add_task_log(&self, task_id: &str, line: &str) -> Result<(), ClientError> {
        self.task_logs.lock().unwrap().push((task_id.to_owned(), line.to_owned(), Instant::now()));
        Ok(())
    }

    async fn task_status(&self, _task_id: &str) -> Result<Option<String>, ClientError> {
        if self.fail_status.load(Ordering::SeqCst) {
            return Err(ClientError::Transport("connection refused".into()));
        }
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
