//! Catalogue entries set per task type: read from `[task_types.<name>]` and `[defaults]`, and from
//! `CONDUCTOR_WORKER_<TASKTYPE>_<PROP>` and `CONDUCTOR_WORKER_ALL_<PROP>`.
//!
//! Owns: those entries' property names, defaults and checks. Does not own: the global settings (the sibling
//! modules) or splitting the layers per task type (`config::resolver`).

use super::entry::{Entry, Unit};

// Per task type: [task_types.<name>], [defaults], CONDUCTOR_WORKER_<TASKTYPE>_<PROP>, CONDUCTOR_WORKER_ALL_<PROP>.
/// `domain`.
pub const TASK_DOMAIN: Entry<String> =
    Entry::new("domain", String::new, Unit::None, "poll domain:<type> instead of <type>").env(&["DOMAIN"]);
/// `concurrency`.
pub const TASK_CONCURRENCY: Entry<usize> =
    Entry::new("concurrency", || 100, Unit::Count, "tasks of this type held at once")
        .env(&["CONCURRENCY", "THREAD_COUNT"])
        .flag("--concurrency")
        .check(|v| (1..=1_000_000).contains(v), "must be from 1 to 1000000");
/// `poll_batch_max`.
pub const TASK_POLL_BATCH_MAX: Entry<usize> =
    Entry::new("poll_batch_max", || 32, Unit::Count, "most tasks asked for in one poll")
        .env(&["POLL_BATCH_MAX"])
        .check(|v| (1..=1000).contains(v), "must be from 1 to 1000");
/// `poll_timeout_ms`.
pub const TASK_POLL_TIMEOUT_MS: Entry<u64> = Entry::new("poll_timeout_ms", || 1000, Unit::Millis, "long-poll wait")
    .env(&["POLL_TIMEOUT_MS", "POLL_TIMEOUT"])
    .check(|v| *v <= 5000, "must be at most 5000 (the server rejects longer long polls)");
/// `park_threshold_secs`.
pub const TASK_PARK_THRESHOLD_SECS: Entry<u64> =
    Entry::new("park_threshold_secs", || 30, Unit::Secs, "waits between polls this long or longer park on the server")
        .env(&["PARK_THRESHOLD_SECS"])
        .check(|v| *v <= 30 * 86_400, "must be at most 2592000 (30 days)");
/// `worker_id`; its default is the host name, given to the resolver.
pub const TASK_WORKER_ID: Entry<String> =
    Entry::new("worker_id", String::new, Unit::None, "sent as workerid and stored on tasks (default: host name)")
        .env(&["WORKER_ID"])
        .check(|v| !v.trim().is_empty(), "must not be empty");
/// `paused`.
pub const TASK_PAUSED: Entry<bool> =
    Entry::new("paused", || false, Unit::None, "start without polling").env(&["PAUSED"]);
