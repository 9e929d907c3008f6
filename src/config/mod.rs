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
mod sections;
mod settings;

use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

pub use layers::{ListenAddr, Source};
pub use sections::{
    AdminConfig, ConditionsConfig, ControlToken, HttpConfig, LimitsConfig, LogFormat, PollingConfig, SecurityConfig,
    ServerConfig, TaskTypeConfig, UpdatesConfig,
};
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
    /// Credential profiles (`[targets.<name>]`).
    pub targets: Vec<crate::credentials::ProfileSpec>,
    /// One entry per task type served.
    pub task_types: Vec<TaskTypeConfig>,
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

#[cfg(test)]
mod tests;
