//! Catalogue entries of the daemon itself: the Conductor server it reports to (`[server]`), its admin endpoints
//! (`[admin]`), its log format (`[log]`), the tasks it holds at once (`[limits]`), reporting results (`[updates]`)
//! and stopping (`[shutdown]`).
//!
//! Owns: those entries' keys, defaults and checks. Does not own: the target requests of tasks ([`super::requests`])
//! or the per-task-type settings ([`super::task_type`]).

use url::Url;

use super::entry::{Entry, MIB, Unit, string};
use crate::config::layers::ListenAddr;

// [server]
/// `server.url`.
pub const SERVER_URL: Entry<Url> = Entry::new(
    "server.url",
    || Url::parse("http://localhost:8080/api").expect("the default server URL parses"),
    Unit::None,
    "API root of the Conductor server, including /api",
)
.env(&["CONDUCTOR_SERVER_URL"])
.flag("--server-url");
/// `server.auth_key`.
pub const AUTH_KEY: Entry<String> =
    Entry::new("server.auth_key", String::new, Unit::None, "Orkes application key id (unset for conductor-oss)")
        .env(&["CONDUCTOR_AUTH_KEY"])
        .secret();
/// `server.auth_secret`.
pub const AUTH_SECRET: Entry<String> =
    Entry::new("server.auth_secret", String::new, Unit::None, "Orkes application key secret")
        .env(&["CONDUCTOR_AUTH_SECRET"])
        .secret();
/// `server.request_timeout_ms`.
pub const REQUEST_TIMEOUT_MS: Entry<u64> =
    Entry::new("server.request_timeout_ms", || 10_000, Unit::Millis, "deadline of one call to the server")
        .check(|v| (1..=600_000).contains(v), "must be from 1 to 600000");
/// `server.token_ttl_secs`.
pub const TOKEN_TTL_SECS: Entry<u64> =
    Entry::new("server.token_ttl_secs", || 2700, Unit::Secs, "lifetime assumed for Orkes tokens without `exp`")
        .env(&["CONDUCTOR_SECURITY_TOKEN_REFRESH_INTERVAL"])
        .check(|v| (10..=86_400).contains(v), "must be from 10 to 86400");

// [admin]
/// `admin.addr`.
pub const ADMIN_ADDR: Entry<ListenAddr> = Entry::new(
    "admin.addr",
    || ListenAddr(Some(([127, 0, 0, 1], 9191).into())),
    Unit::None,
    "where /metrics, /healthz and /readyz are served, or off",
)
.flag("--admin-addr");
/// `admin.control_addr`.
pub const CONTROL_ADDR: Entry<ListenAddr> = Entry::new(
    "admin.control_addr",
    || ListenAddr(Some(([127, 0, 0, 1], 9192).into())),
    Unit::None,
    "where the runtime control endpoint is served (with a token), or off",
);
/// `admin.control_token`.
pub const CONTROL_TOKEN: Entry<String> =
    Entry::new("admin.control_token", String::new, Unit::None, "bearer token of the control endpoint").secret();
/// `admin.control_token_file`.
pub const CONTROL_TOKEN_FILE: Entry<String> =
    Entry::new("admin.control_token_file", String::new, Unit::None, "file holding the control endpoint's token");
/// `admin.queue_depth_interval_secs`.
pub const QUEUE_DEPTH_INTERVAL_SECS: Entry<u64> =
    Entry::new("admin.queue_depth_interval_secs", || 15, Unit::Secs, "how often queue depths are read; 0 = never")
        .check(|v| *v <= 3600, "must be at most 3600 (0 = off)");
/// `admin.liveness_window_secs`.
pub const LIVENESS_WINDOW_SECS: Entry<u64> = Entry::new(
    "admin.liveness_window_secs",
    || 120,
    Unit::Secs,
    "/healthz fails when a poll loop has not turned (or waited for room) for this long",
)
.check(|v| (5..=3600).contains(v), "must be from 5 to 3600");

// [log]
/// `log.format`.
pub const LOG_FORMAT: Entry<String> =
    Entry::new("log.format", || string("pretty"), Unit::None, "\"pretty\" for terminals, \"json\" for containers")
        .flag("--log-format")
        .check(|v| matches!(v.as_str(), "json" | "pretty"), "must be \"json\" or \"pretty\"");

// [limits]
/// `limits.max_concurrent_tasks`.
pub const MAX_CONCURRENT_TASKS: Entry<usize> =
    Entry::new("limits.max_concurrent_tasks", || 1000, Unit::Count, "tasks held at once over all task types")
        .check(|v| (1..=1_000_000).contains(v), "must be from 1 to 1000000");
/// `limits.max_requests_per_host`.
pub const MAX_REQUESTS_PER_HOST: Entry<usize> =
    Entry::new("limits.max_requests_per_host", || 64, Unit::Count, "concurrent requests to one target host:port")
        .check(|v| (1..=100_000).contains(v), "must be from 1 to 100000");

// [updates]
/// `updates.retry_window_secs`.
pub const RETRY_WINDOW_SECS: Entry<u64> = Entry::new(
    "updates.retry_window_secs",
    || 3600,
    Unit::Secs,
    "how long a failed update of a task without deadline is retried",
)
.check(|v| *v <= 7 * 86_400, "must be at most 604800 (a week)");
/// `updates.max_output_bytes`.
pub const MAX_OUTPUT_BYTES: Entry<usize> =
    Entry::new("updates.max_output_bytes", || 2 * MIB as usize, Unit::Bytes, "largest task output reported")
        .check(
            |v| (4096..=10 * MIB as usize).contains(v),
            "must be from 4096 to 10485760 (conductor-oss refuses outputs above 10 MiB and moves those above 3 MiB to external storage)",
        );
/// `updates.outbox_max_bytes`.
pub const OUTBOX_MAX_BYTES: Entry<usize> = Entry::new(
    "updates.outbox_max_bytes",
    || 64 * MIB as usize,
    Unit::Bytes,
    "undelivered results kept before new work waits",
)
.check(|v| (1 << 20..=1 << 40).contains(v), "must be from 1048576 (1 MiB) to 1099511627776");

// [shutdown]
/// `shutdown.grace_secs`.
pub const GRACE_SECS: Entry<u64> = Entry::new("shutdown.grace_secs", || 30, Unit::Secs, "time from SIGTERM to exit")
    .check(|v| *v <= 3600, "must be at most 3600");
