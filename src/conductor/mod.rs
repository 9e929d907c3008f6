//! The seam to the Conductor server: the [`ConductorApi`] trait every worker talks through, its error type, and the
//! pure decoding of polled tasks ([`decode`]). [`client::HttpConductor`] is the real implementation; tests substitute fakes.
//!
//! Owns: what a poll and an update mean on the wire. Does not own: retry policy (the worker's reporter and poller
//! decide what to do with a [`ClientError`]).

pub mod auth;
pub mod client;
mod decode;
pub mod model;

use std::future::Future;
use std::time::Duration;

use crate::metrics::values::ClientErrorKind;

pub use decode::{decode_poll_batch, decode_single_task};
pub use model::{Task, TaskExecLog, TaskOutput, TaskResult, TaskResultStatus};

/// One batch poll: `GET /tasks/poll/batch/{task_type}?workerid&count&timeout[&domain]`.
#[derive(Debug, Clone, Copy)]
pub struct PollRequest<'a> {
    /// The queue to poll.
    pub task_type: &'a str,
    /// Poll `domain:task_type` instead of `task_type`.
    pub domain: Option<&'a str>,
    /// Stored by the server as the task's `workerId`.
    pub worker_id: &'a str,
    /// At most this many tasks (= permits the poller holds).
    pub count: usize,
    /// Long-poll wait; the server rejects more than 5 s.
    pub timeout: Duration,
}

/// A polled task that could or could not be decoded. An undecodable task was still handed to us (the server acked
/// it at poll time), so it must be failed explicitly rather than dropped.
#[derive(Debug)]
pub enum PolledTask {
    /// A task the worker can execute.
    Task(Box<Task>),
    /// A task whose JSON did not match [`Task`]; carries what is needed to fail it.
    Undecodable {
        /// `taskId`, when present.
        task_id: String,
        /// `workflowInstanceId`, when present.
        workflow_instance_id: String,
        /// The decoding error.
        error: String,
    },
}

/// A lease extension's body: the task, its workflow and the worker; the status is always IN_PROGRESS.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LeaseExtension<'a> {
    /// The task whose lease is extended.
    pub task_id: &'a str,
    /// Its workflow (required by the server).
    pub workflow_instance_id: &'a str,
    /// Who extends it.
    pub worker_id: &'a str,
}

/// Why a call to the server failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// No HTTP response: connect, TLS, timeout or I/O failure.
    #[error("transport error: {0}")]
    Transport(String),
    /// The server answered with a non-success status.
    #[error("server answered {code}: {body}")]
    Status {
        /// The HTTP status code.
        code: u16,
        /// The response body (truncated).
        body: String,
    },
    /// The response body did not have the expected shape.
    #[error("undecodable response: {0}")]
    Decode(String),
    /// No authorization token could be obtained.
    #[error("not authorized: {0}")]
    Auth(String),
}

impl ClientError {
    /// Whether trying the same call again may succeed: transport and auth failures, 5xx, 401, 408 and 429. A 401
    /// is about the worker's authorization, never about the call: a result refused with it waits to be sent again.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport(_) | ClientError::Auth(_) => true,
            ClientError::Status { code, .. } => *code >= 500 || matches!(*code, 401 | 408 | 429),
            ClientError::Decode(_) => false,
        }
    }

    /// Its kind, for metrics and logs.
    pub fn kind(&self) -> ClientErrorKind {
        match self {
            ClientError::Transport(_) => ClientErrorKind::Transport,
            ClientError::Status { code, .. } if *code >= 500 => ClientErrorKind::Status5xx,
            ClientError::Status { .. } => ClientErrorKind::Status4xx,
            ClientError::Decode(_) => ClientErrorKind::Decode,
            ClientError::Auth(_) => ClientErrorKind::Auth,
        }
    }
}

/// A result serialized once: the bytes are sent as they are and measured for `task_result_size_bytes`.
#[derive(Debug, Clone)]
pub struct EncodedResult {
    /// The task the result is for.
    pub task_id: String,
    /// Its workflow.
    pub workflow_instance_id: String,
    /// The status reported.
    pub status: TaskResultStatus,
    /// The JSON body.
    pub json: bytes::Bytes,
}

impl EncodedResult {
    /// Serializes a result.
    pub fn new(result: &TaskResult) -> Self {
        // A TaskResult is plain data (strings, maps of JSON values): serializing it cannot fail.
        let json = serde_json::to_vec(result).unwrap_or_default();
        Self {
            task_id: result.task_id.clone(),
            workflow_instance_id: result.workflow_instance_id.clone(),
            status: result.status,
            json: json.into(),
        }
    }

    /// Whether the status ends the task (no further delivery of this task id is expected).
    pub fn is_terminal(&self) -> bool {
        self.status != TaskResultStatus::InProgress
    }
}

/// The calls a worker makes to Conductor. Implementations must be cheap to share (`Arc`) and safe to call
/// concurrently.
pub trait ConductorApi: Send + Sync + 'static {
    /// Batch long-poll; an empty vector when nothing was available (204 or `[]`).
    fn poll_batch(&self, request: PollRequest<'_>)
    -> impl Future<Output = Result<Vec<PolledTask>, ClientError>> + Send;

    /// `POST /tasks`: report a result. Success means the server accepted the body (it silently ignores updates to
    /// tasks that are already terminal).
    fn update_task(&self, result: &EncodedResult) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// `POST /tasks/update-v2`: report a result and receive the next task of the same type and domain, if any (a
    /// new assignment, already acked). Servers without the endpoint get `POST /tasks` and `None`.
    fn update_task_and_poll(
        &self,
        result: &EncodedResult,
        worker_id: &str,
    ) -> impl Future<Output = Result<Option<PolledTask>, ClientError>> + Send;

    /// `POST /tasks` with `extendLease: true`: the server restarts the task's `responseTimeoutSeconds` clock and
    /// changes nothing else (an update to a task that is final already is ignored, 200).
    fn extend_lease(&self, lease: &LeaseExtension<'_>) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// `GET /tasks/{taskId}`: the task's status on the server, `None` when the server does not know it.
    fn task_status(&self, task_id: &str) -> impl Future<Output = Result<Option<String>, ClientError>> + Send;

    /// `GET /tasks/{taskId}`: the task's stored `outputData`, `None` when the server does not know the task.
    fn task_output(&self, task_id: &str)
    -> impl Future<Output = Result<Option<serde_json::Value>, ClientError>> + Send;

    /// `POST /tasks/{taskId}/log`: appends one line to the task's execution log.
    fn add_task_log(&self, task_id: &str, line: &str) -> impl Future<Output = Result<(), ClientError>> + Send;

    /// `GET /tasks/queue/size`: tasks waiting in a queue.
    fn queue_size(
        &self,
        task_type: &str,
        domain: Option<&str>,
    ) -> impl Future<Output = Result<u64, ClientError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_bodies_mean_no_tasks() {
        for body in [&b""[..], b"  ", b"[]"] {
            assert!(decode_poll_batch(body).unwrap().is_empty(), "{body:?}");
        }
    }

    #[test]
    fn one_bad_task_does_not_lose_the_batch() {
        let body = br#"[{"taskId":"a","workflowInstanceId":"w"},{"taskId":"b","workflowInstanceId":"w","pollCount":"x"},{"x":1}]"#;
        let tasks = decode_poll_batch(body).unwrap();
        assert!(matches!(&tasks[0], PolledTask::Task(t) if t.task_id == "a"));
        assert!(
            matches!(&tasks[1], PolledTask::Undecodable { task_id, error, .. } if task_id == "b" && error.contains("invalid type"))
        );
        assert!(matches!(&tasks[2], PolledTask::Undecodable { task_id, .. } if task_id.is_empty()));
    }

    #[test]
    fn non_array_body_is_a_decode_error() {
        assert!(matches!(decode_poll_batch(b"{\"a\":1}"), Err(ClientError::Decode(_))));
    }

    #[test]
    fn retryable_classification() {
        let status = |code| ClientError::Status { code, body: String::new() };
        let cases = [
            (ClientError::Transport("reset".into()), true),
            (status(500), true),
            (status(503), true),
            (status(429), true),
            (status(408), true),
            (status(401), true),
            (status(403), false),
            (status(404), false),
            (status(400), false),
            (ClientError::Decode("x".into()), false),
        ];
        for (error, want) in cases {
            assert_eq!(error.is_retryable(), want, "{error}");
        }
    }
}
