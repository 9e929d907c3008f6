//! The catalogue of settings: one typed entry per setting, with its key, the environment names it is also read
//! from, its default, its unit, the check on its value and a line of documentation. The resolver
//! ([`super::settings`]) reads every entry through the same layers (flag, environment, file, default) and records
//! where each value came from; `config/worker.toml` and the Kubernetes ConfigMap are tested against this list.
//!
//! Owns: what settings exist and what values they accept on their own. Does not own: layering, checks across
//! settings (such as `polling.min_interval_ms` against `polling.max_delay_secs`) or the typed [`super::Config`].
//!
//! The entries live in submodules by what they configure and are re-exported here, so every entry is
//! `catalog::NAME`: [`daemon`] (server, admin, log, limits, updates, shutdown), [`requests`] (http, security),
//! [`polling`] (polling, conditions) and [`task_type`]; [`entry`] is the shape of an entry.

mod daemon;
mod entry;
mod polling;
mod requests;
mod task_type;

pub use daemon::*;
pub use entry::{Entry, Listed, Unit};
pub use polling::*;
pub use requests::*;
pub use task_type::*;

/// Every global setting (keys with a section).
pub static GLOBAL: &[&dyn Listed] = &[
    &SERVER_URL,
    &AUTH_KEY,
    &AUTH_SECRET,
    &REQUEST_TIMEOUT_MS,
    &TOKEN_TTL_SECS,
    &ADMIN_ADDR,
    &CONTROL_ADDR,
    &CONTROL_TOKEN,
    &CONTROL_TOKEN_FILE,
    &QUEUE_DEPTH_INTERVAL_SECS,
    &LIVENESS_WINDOW_SECS,
    &LOG_FORMAT,
    &MAX_CONCURRENT_TASKS,
    &MAX_REQUESTS_PER_HOST,
    &CONNECT_TIMEOUT_MS,
    &READ_TIMEOUT_MS,
    &MAX_RESPONSE_BODY_BYTES,
    &SENSITIVE_HEADERS,
    &EXTRA_CA_FILE,
    &IDEMPOTENCY_KEY_HEADER,
    &RETRIES,
    &PROXY,
    &MAX_DELAY_SECS,
    &MIN_INTERVAL_MS,
    &JITTER_RATIO,
    &ASYNC_COMPLETE_RECHECK_SECS,
    &LOG_FIRST_POLLS,
    &LOG_INTERVAL_SECS,
    &EVALUATORS,
    &EVALUATOR_MEMORY_BYTES,
    &EVALUATOR_PROGRAM,
    &CONDITION_TIMEOUT_MS,
    &MAX_LOOP_ITERATIONS,
    &MAX_RECURSION,
    &RETRY_WINDOW_SECS,
    &MAX_OUTPUT_BYTES,
    &OUTBOX_MAX_BYTES,
    &GRACE_SECS,
    &ALLOW_HOSTS,
    &DENY_HOSTS,
    &ALLOW_CIDRS,
    &DENY_CIDRS,
    &ALLOW_LOOPBACK,
    &DENY_METADATA,
];

/// Every per-task-type setting.
pub static PER_TASK_TYPE: &[&dyn Listed] = &[
    &TASK_DOMAIN,
    &TASK_CONCURRENCY,
    &TASK_POLL_BATCH_MAX,
    &TASK_POLL_TIMEOUT_MS,
    &TASK_PARK_THRESHOLD_SECS,
    &TASK_WORKER_ID,
    &TASK_PAUSED,
];
