//! Configuration: a TOML file, the environment and command-line flags, layered into a validated [`Config`] that
//! remembers where every value came from.
//!
//! Precedence, highest first: command-line flag → environment → TOML file → built-in default. For per-task-type
//! settings the environment and file layers are each split in two, the specific before the general:
//! `CONDUCTOR_WORKER_<TASKTYPE>_<PROP>` → `CONDUCTOR_WORKER_ALL_<PROP>` → `[task_types.<name>]` → `[defaults]`.
//!
//! Environment names (matching ignores case, and `.`/`-` count as `_`, so `conductor.worker.http_poll.domain` works):
//! - `CONDUCTOR_SERVER_URL`, `CONDUCTOR_AUTH_KEY`, `CONDUCTOR_AUTH_SECRET`: as in the official SDKs.
//! - `CONDUCTOR_WORKER_<TASKTYPE>_<PROP>` and `CONDUCTOR_WORKER_ALL_<PROP>`, `<TASKTYPE>` upper-cased with `-` and
//!   `.` as `_`; `<PROP>` one of `DOMAIN`, `CONCURRENCY` (alias `THREAD_COUNT`), `POLL_BATCH_MAX`,
//!   `POLL_TIMEOUT_MS` (alias `POLL_TIMEOUT`), `PARK_THRESHOLD_SECS`, `WORKER_ID`, `PAUSED`.
//! - `CONDUCTOR_HTTP_WORKER_TASK_TYPES` (comma list) and `CONDUCTOR_HTTP_WORKER_<SECTION>_<KEY>` for every other
//!   file key, e.g. `CONDUCTOR_HTTP_WORKER_LIMITS_MAX_CONCURRENT_TASKS`.
//!
//! The loader never reads the process environment or the file system itself: `main` passes both in, and tests
//! pass maps. Every problem is collected before failing, so one run shows them all.

pub mod catalog;
mod layers;
mod resolver;
mod settings;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use url::Url;

pub use layers::{ListenAddr, Source};
pub use settings::load;

/// The task type served when none is configured: the queue conductor-oss puts HTTP_POLL tasks on.
pub const DEFAULT_TASK_TYPE: &str = "HTTP_POLL";

/// What the loader is given.
#[derive(Debug, Default, Clone)]
pub struct LoadInputs {
    /// The TOML file's path and text, if one was given.
    pub file: Option<(String, String)>,
    /// The environment.
    pub env: HashMap<String, String>,
    /// Command-line overrides.
    pub cli: CliOverrides,
    /// Default worker id when none is configured (`<hostname>-<pid>`).
    pub default_worker_id: String,
}

/// Settings given as command-line flags.
#[derive(Debug, Default, Clone)]
pub struct CliOverrides {
    /// `--server-url`.
    pub server_url: Option<String>,
    /// `--task-type` (repeatable); replaces the configured list.
    pub task_types: Vec<String>,
    /// `--concurrency`, for every task type.
    pub concurrency: Option<String>,
    /// `--admin-addr`.
    pub admin_addr: Option<String>,
    /// `--log-format`.
    pub log_format: Option<String>,
}

/// The validated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The Conductor server.
    pub server: ServerConfig,
    /// Admin endpoints.
    pub admin: AdminConfig,
    /// Log output format.
    pub log_format: LogFormat,
    /// Concurrency limits shared by all task types.
    pub limits: LimitsConfig,
    /// Defaults and caps for target requests.
    pub http: HttpConfig,
    /// Limits on waits between polls.
    pub polling: PollingConfig,
    /// The JavaScript evaluator.
    pub conditions: ConditionsConfig,
    /// Reporting results.
    pub updates: UpdatesConfig,
    /// How long in-flight requests may run on after SIGTERM.
    pub shutdown_grace: Duration,
    /// Which targets task requests may reach.
    pub security: SecurityConfig,
    /// One entry per task type served.
    pub task_types: Vec<TaskTypeConfig>,
}

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

/// One effective setting, for `check-config`.
#[derive(Debug, Clone, PartialEq)]
pub struct Setting {
    /// Dotted key as in the file.
    pub key: String,
    /// The value as printed (secrets masked).
    pub value: String,
    /// Where it came from.
    pub source: Source,
}

/// A loaded configuration with its provenance.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration.
    pub config: Config,
    /// Every setting with its source, in file order.
    pub settings: Vec<Setting>,
    /// Legal but suspicious things worth a log line.
    pub warnings: Vec<String>,
}

/// Every problem that prevents loading.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// One line per problem, each naming the key or variable.
    pub problems: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        writeln!(f, "invalid configuration ({count} problem{}):", if count == 1 { "" } else { "s" })?;
        for problem in &self.problems {
            writeln!(f, "  - {problem}")?;
        }
        Ok(())
    }
}

impl ConditionsConfig {
    /// The limits of one evaluation.
    pub fn limits(&self) -> crate::condition::Limits {
        crate::condition::Limits {
            loop_iterations: self.max_loop_iterations,
            recursion: self.max_recursion,
            timeout: self.timeout,
        }
    }
}

#[cfg(test)]
mod tests;
