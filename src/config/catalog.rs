//! The catalogue of settings: one typed entry per setting, with its key, the environment names it is also read
//! from, its default, its unit, the check on its value and a line of documentation. The resolver
//! ([`super::settings`]) reads every entry through the same layers (flag, environment, file, default) and records
//! where each value came from; `config/worker.toml` and the Kubernetes ConfigMap are tested against this list.
//!
//! Owns: what settings exist and what values they accept on their own. Does not own: layering, checks across
//! settings (such as `polling.min_interval_ms` against `polling.max_delay_secs`) or the typed [`super::Config`].

use url::Url;

use super::layers::{ConfigValue, ListenAddr};

/// What a number counts, for documentation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Not a quantity (text, a flag, a list).
    None,
    /// A count.
    Count,
    /// Milliseconds.
    Millis,
    /// Seconds.
    Secs,
    /// Bytes.
    Bytes,
    /// A fraction from 0 to 1.
    Ratio,
}

/// One setting of type `T`.
#[derive(Debug)]
pub struct Entry<T: 'static> {
    /// The dotted key in the file; a per-task-type entry's key is its property name (`concurrency`), read from
    /// `[task_types.<name>]` and `[defaults]`.
    pub key: &'static str,
    /// Environment names read besides the derived one (the official SDKs' names), highest priority first. For
    /// global settings the derived name is `CONDUCTOR_HTTP_WORKER_<SECTION>_<KEY>`; for per-task-type settings
    /// these are property names, read as `CONDUCTOR_WORKER_<TASKTYPE>_<PROP>` and `CONDUCTOR_WORKER_ALL_<PROP>`.
    pub env: &'static [&'static str],
    /// The command-line flag that sets it, if any.
    pub flag: Option<&'static str>,
    /// The value when no layer sets one.
    pub default: fn() -> T,
    /// What it counts.
    pub unit: Unit,
    /// Whether a value is acceptable, and the requirement shown when it is not.
    pub check: Option<(fn(&T) -> bool, &'static str)>,
    /// Whether the value is a secret (shown as set or unset, never printed).
    pub secret: bool,
    /// What it does.
    pub doc: &'static str,
}

impl<T> Entry<T> {
    const fn new(key: &'static str, default: fn() -> T, unit: Unit, doc: &'static str) -> Self {
        Self { key, env: &[], flag: None, default, unit, check: None, secret: false, doc }
    }
    const fn env(mut self, env: &'static [&'static str]) -> Self {
        self.env = env;
        self
    }
    const fn flag(mut self, flag: &'static str) -> Self {
        self.flag = Some(flag);
        self
    }
    const fn check(mut self, check: fn(&T) -> bool, requirement: &'static str) -> Self {
        self.check = Some((check, requirement));
        self
    }
    const fn secret(mut self) -> Self {
        self.secret = true;
        self
    }
}

/// An entry seen without its type, for listings and documentation tests.
pub trait Listed: Sync {
    /// The key.
    fn key(&self) -> &'static str;
    /// The default as the file spells it.
    fn default_text(&self) -> String;
    /// The extra environment names.
    fn env(&self) -> &'static [&'static str];
    /// Whether it is a secret.
    fn secret(&self) -> bool;
    /// What it does.
    fn doc(&self) -> &'static str;
    /// Whether `text` (a TOML value) is the default.
    fn is_default(&self, value: &toml::Value) -> bool;
}

impl<T: ConfigValue + PartialEq + 'static> Listed for Entry<T> {
    fn key(&self) -> &'static str {
        self.key
    }
    fn default_text(&self) -> String {
        (self.default)().show()
    }
    fn env(&self) -> &'static [&'static str] {
        self.env
    }
    fn secret(&self) -> bool {
        self.secret
    }
    fn doc(&self) -> &'static str {
        self.doc
    }
    fn is_default(&self, value: &toml::Value) -> bool {
        T::from_toml(value).is_ok_and(|v| v == (self.default)())
    }
}

fn string(text: &'static str) -> String {
    text.to_owned()
}

const MIB: u64 = 1024 * 1024;

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

// [http]
/// `http.connect_timeout_ms`.
pub const CONNECT_TIMEOUT_MS: Entry<u64> =
    Entry::new("http.connect_timeout_ms", || 3000, Unit::Millis, "default connectionTimeOut of target requests")
        .check(|v| (1..=3_600_000).contains(v), "must be from 1 to 3600000");
/// `http.read_timeout_ms`.
pub const READ_TIMEOUT_MS: Entry<u64> =
    Entry::new("http.read_timeout_ms", || 3000, Unit::Millis, "default readTimeOut of target requests")
        .check(|v| (1..=3_600_000).contains(v), "must be from 1 to 3600000");
/// `http.max_response_body_bytes`.
pub const MAX_RESPONSE_BODY_BYTES: Entry<usize> =
    Entry::new("http.max_response_body_bytes", || MIB as usize, Unit::Bytes, "largest target response body read")
        .check(|v| (1..=64 * MIB as usize).contains(v), "must be from 1 to 67108864");
/// `http.sensitive_headers`.
pub const SENSITIVE_HEADERS: Entry<Vec<String>> = Entry::new(
    "http.sensitive_headers",
    || {
        ["authorization", "proxy-authorization", "x-authorization", "cookie", "set-cookie", "x-api-key", "api-key"]
            .map(str::to_owned)
            .to_vec()
    },
    Unit::None,
    "headers whose values are never logged or stored",
);
/// `http.extra_ca_file`.
pub const EXTRA_CA_FILE: Entry<String> =
    Entry::new("http.extra_ca_file", String::new, Unit::None, "PEM bundle trusted besides the system roots");
/// `http.idempotency_key_header`.
pub const IDEMPOTENCY_KEY_HEADER: Entry<String> = Entry::new(
    "http.idempotency_key_header",
    || string("Idempotency-Key"),
    Unit::None,
    "header carrying a per-task key on unsafe methods; empty = off",
)
.check(
    |v| v.is_empty() || reqwest::header::HeaderName::from_bytes(v.trim().as_bytes()).is_ok(),
    "must be a header name, or empty to turn it off",
);
/// `http.retries`.
pub const RETRIES: Entry<u32> = Entry::new(
    "http.retries",
    || 0,
    Unit::Count,
    "retries of a single call after a transient failure, when the task sets no http_request.retries",
)
.check(|v| *v <= MAX_RETRIES, "must be from 0 to 10");
/// Most retries of one single call.
pub const MAX_RETRIES: u32 = 10;
/// `http.proxy`.
pub const PROXY: Entry<String> =
    Entry::new("http.proxy", String::new, Unit::None, "proxy for every target request (the policy still applies)");

// [polling]
/// `polling.max_delay_secs`.
pub const MAX_DELAY_SECS: Entry<u64> =
    Entry::new("polling.max_delay_secs", || 86_400, Unit::Secs, "longest wait between polls")
        .check(|v| (1..=30 * 86_400).contains(v), "must be from 1 to 2592000 (30 days)");
/// `polling.min_interval_ms`.
pub const MIN_INTERVAL_MS: Entry<u64> =
    Entry::new("polling.min_interval_ms", || 0, Unit::Millis, "shortest wait between polls, whatever tasks ask");
/// `polling.async_complete_recheck_secs`.
pub const ASYNC_COMPLETE_RECHECK_SECS: Entry<u64> = Entry::new(
    "polling.async_complete_recheck_secs",
    || 3600,
    Unit::Secs,
    "callback of an asyncComplete task waiting to be completed through the task API",
)
.check(|v| (1..=86_400).contains(v), "must be from 1 to 86400");
/// `polling.jitter_ratio`.
pub const JITTER_RATIO: Entry<f64> =
    Entry::new("polling.jitter_ratio", || 0.0, Unit::Ratio, "random spread of each wait, plus or minus")
        .check(|v| (0.0..=1.0).contains(v), "must be from 0 to 1");

// [conditions]
/// `conditions.evaluators`.
pub const EVALUATORS: Entry<usize> =
    Entry::new("conditions.evaluators", || 2, Unit::Count, "evaluator processes for JavaScript conditions")
        .check(|v| (1..=64).contains(v), "must be from 1 to 64");
/// `conditions.evaluator_memory_bytes`.
pub const EVALUATOR_MEMORY_BYTES: Entry<u64> = Entry::new(
    "conditions.evaluator_memory_bytes",
    || 256 * MIB,
    Unit::Bytes,
    "address space of one evaluator process",
)
.check(
    |v| (128 * MIB..=64 << 30).contains(v),
    "must be from 134217728 (128 MiB: an evaluator process needs ~40 MiB of address space to start) to 68719476736",
);
/// `conditions.evaluator_program`.
pub const EVALUATOR_PROGRAM: Entry<String> =
    Entry::new("conditions.evaluator_program", String::new, Unit::None, "program run as evaluator (default: this one)");
/// `conditions.timeout_ms`.
pub const CONDITION_TIMEOUT_MS: Entry<u64> = Entry::new(
    "conditions.timeout_ms",
    || crate::condition::Limits::default().timeout.as_millis() as u64,
    Unit::Millis,
    "CPU time one evaluation may use",
)
.check(|v| (1..=60_000).contains(v), "must be from 1 to 60000");
/// `conditions.max_loop_iterations`.
pub const MAX_LOOP_ITERATIONS: Entry<u64> = Entry::new(
    "conditions.max_loop_iterations",
    || crate::condition::Limits::default().loop_iterations,
    Unit::Count,
    "loop iterations one evaluation may run",
)
.check(|v| *v >= 1, "must be at least 1");
/// `conditions.max_recursion`.
pub const MAX_RECURSION: Entry<usize> = Entry::new(
    "conditions.max_recursion",
    || crate::condition::Limits::default().recursion,
    Unit::Count,
    "call depth one evaluation may reach",
)
.check(|v| (1..=10_000).contains(v), "must be from 1 to 10000");

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

// [security]
/// `security.allow_hosts`.
pub const ALLOW_HOSTS: Entry<Vec<String>> =
    Entry::new("security.allow_hosts", Vec::new, Unit::None, "host patterns tasks may reach (empty: any)");
/// `security.deny_hosts`.
pub const DENY_HOSTS: Entry<Vec<String>> =
    Entry::new("security.deny_hosts", Vec::new, Unit::None, "host patterns tasks may not reach");
/// `security.allow_cidrs`.
pub const ALLOW_CIDRS: Entry<Vec<String>> =
    Entry::new("security.allow_cidrs", Vec::new, Unit::None, "address ranges tasks may reach (empty: any)");
/// `security.deny_cidrs`.
pub const DENY_CIDRS: Entry<Vec<String>> =
    Entry::new("security.deny_cidrs", Vec::new, Unit::None, "address ranges tasks may not reach");
/// `security.allow_loopback`.
pub const ALLOW_LOOPBACK: Entry<bool> =
    Entry::new("security.allow_loopback", || false, Unit::None, "whether tasks may reach this host's addresses");
/// `security.deny_link_local_and_metadata`.
pub const DENY_METADATA: Entry<bool> = Entry::new(
    "security.deny_link_local_and_metadata",
    || true,
    Unit::None,
    "whether link-local and cloud metadata addresses are refused",
);

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
