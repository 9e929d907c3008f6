//! The sections of the validated [`Config`](super::Config): one typed struct per file section (`[server]`,
//! `[admin]`, `[http]`, ...) and per task type, holding durations, addresses and checked values.
//!
//! Owns: the shape of each section. Does not own: how values are read and checked ([`super::settings`],
//! [`super::catalog`]) or what other modules build from them (`app` turns `[conditions]` into
//! `condition::Limits`).

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

/// Admin endpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct AdminConfig {
    /// `/metrics`, `/healthz`, `/readyz`; `None` = off.
    pub addr: Option<SocketAddr>,
    /// Runtime control (pause, resume, concurrency); `None` = off (also when no token is configured).
    pub control_addr: Option<SocketAddr>,
    /// The bearer token the control endpoint requires.
    pub control_token: Option<ControlToken>,
    /// How often each task type's queue depth is read for `task_queue_depth`; zero = never.
    pub queue_depth_interval: Duration,
    /// `/healthz` fails when a poll loop has not beaten for this long.
    pub liveness_window: Duration,
}

/// Where the control endpoint's bearer token comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum ControlToken {
    /// Given directly (`CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN`).
    Value(String),
    /// Read from this file at start (a Kubernetes Secret mount).
    File(std::path::PathBuf),
}

impl fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ControlToken::Value(_) => f.write_str("Value(***)"),
            ControlToken::File(path) => f.debug_tuple("File").field(path).finish(),
        }
    }
}

/// The Conductor server.
#[derive(Clone, PartialEq)]
pub struct ServerConfig {
    /// API root, e.g. `http://localhost:8080/api`.
    pub url: Url,
    /// Orkes key id and secret.
    pub auth: Option<(String, String)>,
    /// Lifetime assumed for tokens that carry no `exp` claim.
    pub token_ttl: Duration,
    /// Deadline of one API call (added to the long-poll wait for polls).
    pub request_timeout: Duration,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret must never reach a log through Debug.
        f.debug_struct("ServerConfig")
            .field("url", &crate::redact::url_of(&self.url))
            .field("auth", &self.auth.as_ref().map(|(key, _)| (key, "***")))
            .field("request_timeout", &self.request_timeout)
            .field("token_ttl", &self.token_ttl)
            .finish()
    }
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object per line (for containers).
    Json,
}

/// Concurrency limits shared by all task types.
#[derive(Debug, Clone, PartialEq)]
pub struct LimitsConfig {
    /// Tasks held by this process at once, over all task types.
    pub max_concurrent_tasks: usize,
    /// Concurrent requests to one target `host:port`.
    pub max_requests_per_host: usize,
    /// Per-host overrides, `host:port` → limit.
    pub hosts: HashMap<String, usize>,
}

/// Defaults and caps for target requests.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// `connectionTimeOut` when a task has none.
    pub connect_timeout: Duration,
    /// `readTimeOut` when a task has none.
    pub read_timeout: Duration,
    /// Larger response bodies fail the request.
    pub max_response_body_bytes: usize,
    /// Header names (lower case) whose values are never logged nor stored in task output.
    pub sensitive_headers: Vec<String>,
    /// PEM bundle of extra trusted CA certificates (verification itself is always on).
    pub extra_ca_file: Option<String>,
    /// Header carrying the task id on non-GET requests so targets can drop duplicates; `None` = off.
    pub idempotency_key_header: Option<String>,
    /// Retries of a single call after a transient failure, for tasks that set none.
    pub retries: u32,
    /// The proxy every target request goes through (`None`: direct; proxy variables in the environment are
    /// ignored).
    pub proxy: Option<crate::redact::SecretUrl>,
}

/// Which targets task requests may reach (see `outbound`).
#[derive(Debug, Clone, PartialEq)]
pub struct SecurityConfig {
    /// The outbound host policy, validated.
    pub policy: crate::outbound::TargetPolicy,
}

/// Limits on waits between polls.
#[derive(Debug, Clone, PartialEq)]
pub struct PollingConfig {
    /// Longest wait (and longest accepted `pollingInterval`).
    pub max_delay: Duration,
    /// Shortest wait, whatever a task asks.
    pub min_interval: Duration,
    /// Random spread of each wait, ±ratio; 0 = none.
    pub jitter_ratio: f64,
    /// How long an `asyncComplete` task is parked between re-deliveries while it waits to be completed.
    pub async_complete_recheck: Duration,
    /// First polls of a held task written to its execution log as they happen.
    pub log_first_polls: u32,
    /// After those, at most one live line per this long (zero: none).
    pub log_interval: Duration,
}

/// The JavaScript evaluator.
#[derive(Debug, Clone, PartialEq)]
pub struct ConditionsConfig {
    /// Evaluator processes of the main lane (one more serves the probation lane).
    pub evaluators: usize,
    /// Address-space limit of each evaluator process, bytes.
    pub evaluator_memory_bytes: u64,
    /// The program run as evaluator process (`None`: this binary, the normal case).
    pub evaluator_program: Option<std::path::PathBuf>,
    /// CPU-time cap per evaluation.
    pub timeout: Duration,
    /// Loop iterations per call frame.
    pub max_loop_iterations: u64,
    /// Call depth.
    pub max_recursion: usize,
}

/// Reporting results.
#[derive(Debug, Clone, PartialEq)]
pub struct UpdatesConfig {
    /// How long a failing update is retried when the task has no deadline on the server (a task with a response
    /// or total timeout is retried until that deadline), before the result is given up and logged as lost.
    pub retry_window: Duration,
    /// Largest task output sent; a larger response body is truncated with a marker.
    pub max_output_bytes: usize,
    /// Bytes of undelivered results the outbox holds before the worker stops taking new work.
    pub outbox_max_bytes: usize,
}

/// One task type served.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskTypeConfig {
    /// The queue polled (a task type such as `HTTP_POLL`, or a custom task name).
    pub name: String,
    /// Poll `domain:name` instead.
    pub domain: Option<String>,
    /// Tasks of this type held at once (executing or held between polls).
    pub concurrency: usize,
    /// Most tasks asked for in one poll.
    pub poll_batch_max: usize,
    /// Long-poll wait (≤ 5 s, the server's limit).
    pub poll_timeout: Duration,
    /// Waits between polls at or above this park; 0 parks every wait.
    pub park_threshold: Duration,
    /// Sent as `workerid` and stored on tasks.
    pub worker_id: String,
    /// Start without polling.
    pub paused: bool,
}
