//! The setting catalogue: every key, its default, its environment names and flag, and the checks on its value.
//! [`load`] walks it once, layering the sources and collecting every problem.

use std::collections::HashMap;
use std::time::Duration;

use url::Url;

use super::SecurityConfig;
use super::layers::{ConfigValue, EnvLayer, ListenAddr, Source, TomlLayer, normalize};
use super::{
    AdminConfig, CliOverrides, ConditionsConfig, Config, ConfigError, ControlToken, DEFAULT_TASK_TYPE, HttpConfig,
    LimitsConfig, LoadInputs, Loaded, LogFormat, PollingConfig, ServerConfig, Setting, TaskTypeConfig, UpdatesConfig,
    conditions_default,
};
use crate::outbound::{Cidr, HostPattern, TargetPolicy};

/// Per-task-type settings: file key and environment property names (first is canonical, others are SDK aliases).
pub const KNOWN_TASK_PROPS: [(&str, &[&str]); 7] = [
    ("domain", &["DOMAIN"]),
    ("concurrency", &["CONCURRENCY", "THREAD_COUNT"]),
    ("poll_batch_max", &["POLL_BATCH_MAX"]),
    ("poll_timeout_ms", &["POLL_TIMEOUT_MS", "POLL_TIMEOUT"]),
    ("park_threshold_secs", &["PARK_THRESHOLD_SECS"]),
    ("worker_id", &["WORKER_ID"]),
    ("paused", &["PAUSED"]),
];
/// The server rejects longer long polls with 400.
const MAX_POLL_TIMEOUT_MS: u64 = 5000;
/// Smallest address space an evaluator process is allowed.
const MIN_EVALUATOR_MEMORY: u64 = 128 << 20;
const SECRET_KEYS: [&str; 3] = ["server.auth_key", "server.auth_secret", "admin.control_token"];
/// Keys holding URLs, shown without their user info.
const URL_KEYS: [&str; 2] = ["server.url", "http.proxy"];

/// Loads and validates the configuration, or lists every problem.
pub fn load(inputs: &LoadInputs) -> Result<Loaded, ConfigError> {
    let mut resolver = Resolver::new(inputs);
    let config = resolver.config(&inputs.cli, &inputs.default_worker_id);
    resolver.finish(config)
}

struct Resolver {
    toml: TomlLayer,
    file_name: String,
    env: EnvLayer,
    settings: Vec<Setting>,
    problems: Vec<String>,
    warnings: Vec<String>,
}

impl Resolver {
    fn new(inputs: &LoadInputs) -> Self {
        let mut problems = Vec::new();
        let (toml, file_name) = match &inputs.file {
            None => (TomlLayer::default(), String::new()),
            Some((name, text)) => match TomlLayer::parse(text) {
                Ok(layer) => (layer, name.clone()),
                Err(error) => {
                    problems.push(format!("{name}: not valid TOML: {error}"));
                    (TomlLayer::default(), name.clone())
                }
            },
        };
        Self { toml, file_name, env: EnvLayer::new(&inputs.env), settings: Vec::new(), problems, warnings: Vec::new() }
    }

    fn config(&mut self, cli: &CliOverrides, default_worker_id: &str) -> Config {
        let url = self.global(
            &["server", "url"],
            default_server_url(),
            &["CONDUCTOR_SERVER_URL"],
            cli_arg(&cli.server_url, "--server-url"),
        );
        let auth_key = self.global(&["server", "auth_key"], String::new(), &["CONDUCTOR_AUTH_KEY"], None);
        let auth_secret = self.global(&["server", "auth_secret"], String::new(), &["CONDUCTOR_AUTH_SECRET"], None);
        let request_timeout_ms = self.global(&["server", "request_timeout_ms"], 10_000u64, &[], None);
        let token_ttl_secs =
            self.global(&["server", "token_ttl_secs"], 2700u64, &["CONDUCTOR_SECURITY_TOKEN_REFRESH_INTERVAL"], None);
        self.check("server.token_ttl_secs", (10..=86_400).contains(&token_ttl_secs), "must be from 10 to 86400");
        self.check(
            "server.request_timeout_ms",
            (1..=600_000).contains(&request_timeout_ms),
            "must be from 1 to 600000",
        );
        let auth = match (auth_key.is_empty(), auth_secret.is_empty()) {
            (true, true) => None,
            (false, false) => Some((auth_key, auth_secret)),
            _ => {
                self.problems.push("server.auth_key and server.auth_secret must be set together (CONDUCTOR_AUTH_KEY, CONDUCTOR_AUTH_SECRET)".into());
                None
            }
        };
        let admin = self.global(
            &["admin", "addr"],
            ListenAddr(Some(([127, 0, 0, 1], 9191).into())),
            &[],
            cli_arg(&cli.admin_addr, "--admin-addr"),
        );
        let control =
            self.global(&["admin", "control_addr"], ListenAddr(Some(([127, 0, 0, 1], 9192).into())), &[], None);
        // Port 0 (any free port) never clashes.
        if let (Some(control), true) = (control.0, admin.0.is_some_and(|a| a.port() != 0) && admin.0 == control.0) {
            self.problems.push(format!("admin.control_addr = {control}: must differ from admin.addr"));
        }
        let token = self.global(&["admin", "control_token"], String::new(), &[], None);
        let token_file = self.global(&["admin", "control_token_file"], String::new(), &[], None);
        let control_token = match (token.trim().is_empty(), token_file.trim().is_empty()) {
            (true, true) => None,
            (false, true) => Some(ControlToken::Value(token.trim().to_owned())),
            (true, false) => Some(ControlToken::File(token_file.trim().into())),
            (false, false) => {
                self.problems.push("admin.control_token and admin.control_token_file: set one, not both".into());
                None
            }
        };
        let depth_secs = self.global(&["admin", "queue_depth_interval_secs"], 15u64, &[], None);
        self.check("admin.queue_depth_interval_secs", depth_secs <= 3600, "must be at most 3600 (0 = off)");
        let log_format =
            self.global(&["log", "format"], "pretty".to_owned(), &[], cli_arg(&cli.log_format, "--log-format"));
        let log_format = match log_format.as_str() {
            "json" => LogFormat::Json,
            "pretty" => LogFormat::Pretty,
            _ => {
                self.check("log.format", false, "must be \"json\" or \"pretty\"");
                LogFormat::Pretty
            }
        };
        let limits = self.limits();
        let http = self.http();
        let polling = self.polling();
        let conditions = self.conditions();
        let retry_window_secs = self.global(&["updates", "retry_window_secs"], 3600u64, &[], None);
        self.check("updates.retry_window_secs", retry_window_secs <= 7 * 86_400, "must be at most 604800 (a week)");
        let max_output = self.global(&["updates", "max_output_bytes"], 2 * 1024 * 1024usize, &[], None);
        self.check(
            "updates.max_output_bytes",
            (4096..=10 * 1024 * 1024).contains(&max_output),
            "must be from 4096 to 10485760 (conductor-oss refuses outputs above 10 MiB and moves those above 3 MiB to external storage)",
        );
        let outbox_max = self.global(&["updates", "outbox_max_bytes"], 64 * 1024 * 1024usize, &[], None);
        self.check(
            "updates.outbox_max_bytes",
            (1 << 20..=1 << 40).contains(&outbox_max),
            "must be from 1048576 (1 MiB) to 1099511627776",
        );
        let security = self.security();
        let grace_secs = self.global(&["shutdown", "grace_secs"], 30u64, &[], None);
        self.check("shutdown.grace_secs", grace_secs <= 3600, "must be at most 3600");
        let task_types = self.task_types(cli, default_worker_id, &limits);
        Config {
            server: ServerConfig {
                url: api_root(url),
                auth,
                request_timeout: Duration::from_millis(request_timeout_ms),
                token_ttl: Duration::from_secs(token_ttl_secs),
            },
            admin: AdminConfig {
                addr: admin.0,
                control_addr: control.0.filter(|_| control_token.is_some()),
                control_token,
                queue_depth_interval: Duration::from_secs(depth_secs),
            },
            log_format,
            limits,
            http,
            polling,
            conditions,
            updates: UpdatesConfig {
                retry_window: Duration::from_secs(retry_window_secs),
                max_output_bytes: max_output,
                outbox_max_bytes: outbox_max,
            },
            shutdown_grace: Duration::from_secs(grace_secs),
            security,
            task_types,
        }
    }

    fn limits(&mut self) -> LimitsConfig {
        let max_concurrent_tasks = self.global(&["limits", "max_concurrent_tasks"], 1000usize, &[], None);
        self.check(
            "limits.max_concurrent_tasks",
            (1..=1_000_000).contains(&max_concurrent_tasks),
            "must be from 1 to 1000000",
        );
        let max_requests_per_host = self.global(&["limits", "max_requests_per_host"], 64usize, &[], None);
        self.check(
            "limits.max_requests_per_host",
            (1..=100_000).contains(&max_requests_per_host),
            "must be from 1 to 100000",
        );
        let mut hosts = HashMap::new();
        for host in self.toml.table_keys(&["limits", "hosts"]) {
            let key = format!("limits.hosts.\"{host}\"");
            match self.toml.get(&["limits", "hosts", &host]).map(usize::from_toml) {
                Some(Ok(limit)) if limit >= 1 => {
                    self.record(key, limit.to_string(), Source::File(format!("{} limits.hosts", self.file_name)));
                    hosts.insert(host.to_ascii_lowercase(), limit);
                }
                Some(Ok(_)) => self.problems.push(format!("{key}: must be at least 1")),
                Some(Err(error)) => self.problems.push(format!("{}: {key}: {error}", self.file_name)),
                None => {}
            }
        }
        LimitsConfig { max_concurrent_tasks, max_requests_per_host, hosts }
    }

    fn http(&mut self) -> HttpConfig {
        let connect_ms = self.global(&["http", "connect_timeout_ms"], 3000u64, &[], None);
        self.check("http.connect_timeout_ms", (1..=3_600_000).contains(&connect_ms), "must be from 1 to 3600000");
        let read_ms = self.global(&["http", "read_timeout_ms"], 3000u64, &[], None);
        self.check("http.read_timeout_ms", (1..=3_600_000).contains(&read_ms), "must be from 1 to 3600000");
        let max_body = self.global(&["http", "max_response_body_bytes"], 1024 * 1024usize, &[], None);
        self.check(
            "http.max_response_body_bytes",
            (1..=64 * 1024 * 1024).contains(&max_body),
            "must be from 1 to 67108864",
        );
        let sensitive = self.global(&["http", "sensitive_headers"], default_sensitive_headers(), &[], None);
        let ca_file = self.global(&["http", "extra_ca_file"], String::new(), &[], None);
        let idempotency = self.global(&["http", "idempotency_key_header"], "Idempotency-Key".to_owned(), &[], None);
        let proxy_text = self.global(&["http", "proxy"], String::new(), &[], None);
        let proxy = match proxy_text.trim() {
            "" => None,
            text => match Url::parse(text) {
                Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => {
                    Some(crate::redact::SecretUrl(url))
                }
                _ => {
                    self.problems.push(format!(
                        "http.proxy = {}: must be an http:// or https:// URL with a host",
                        crate::redact::url(text)
                    ));
                    None
                }
            },
        };
        let valid_header =
            idempotency.is_empty() || reqwest::header::HeaderName::from_bytes(idempotency.as_bytes()).is_ok();
        self.check("http.idempotency_key_header", valid_header, "must be a header name, or empty to turn it off");
        HttpConfig {
            connect_timeout: Duration::from_millis(connect_ms),
            read_timeout: Duration::from_millis(read_ms),
            max_response_body_bytes: max_body,
            sensitive_headers: sensitive.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
            extra_ca_file: Some(ca_file.trim().to_owned()).filter(|f| !f.is_empty()),
            idempotency_key_header: Some(idempotency.trim().to_owned()).filter(|h| !h.is_empty()),
            proxy,
        }
    }

    fn security(&mut self) -> SecurityConfig {
        let mut policy = TargetPolicy::default();
        let lists = [("allow_hosts", true), ("deny_hosts", true), ("allow_cidrs", false), ("deny_cidrs", false)];
        for (key, hosts) in lists {
            let entries = self.global(&["security", key], Vec::<String>::new(), &[], None);
            for entry in entries {
                let parsed = if hosts {
                    HostPattern::parse(&entry).map(|p| {
                        if key == "allow_hosts" { policy.allow_hosts.push(p) } else { policy.deny_hosts.push(p) }
                    })
                } else {
                    Cidr::parse(&entry).map(|c| {
                        if key == "allow_cidrs" { policy.allow_cidrs.push(c) } else { policy.deny_cidrs.push(c) }
                    })
                };
                if let Err(problem) = parsed {
                    self.problems.push(format!("security.{key}: {problem}"));
                }
            }
        }
        policy.allow_loopback = self.global(&["security", "allow_loopback"], false, &[], None);
        if policy.allow_loopback {
            self.warnings.push(
                "security.allow_loopback = true: tasks can reach this host's own addresses (sidecars in the pod); \
                 the worker's own listeners stay unreachable"
                    .into(),
            );
        }
        let deny_metadata = self.global(&["security", "deny_link_local_and_metadata"], true, &[], None);
        if deny_metadata {
            policy.deny_cidrs.extend(TargetPolicy::default_deny_metadata().deny_cidrs);
        } else {
            self.warnings
                .push("security.deny_link_local_and_metadata = false: tasks can reach cloud metadata endpoints".into());
        }
        SecurityConfig { policy }
    }

    fn polling(&mut self) -> PollingConfig {
        let max_delay_secs = self.global(&["polling", "max_delay_secs"], 86_400u64, &[], None);
        self.check(
            "polling.max_delay_secs",
            (1..=30 * 86_400).contains(&max_delay_secs),
            "must be from 1 to 2592000 (30 days)",
        );
        let min_interval_ms = self.global(&["polling", "min_interval_ms"], 0u64, &[], None);
        self.check(
            "polling.min_interval_ms",
            min_interval_ms <= max_delay_secs * 1000,
            "must not exceed polling.max_delay_secs",
        );
        let jitter_ratio = self.global(&["polling", "jitter_ratio"], 0.0f64, &[], None);
        self.check("polling.jitter_ratio", (0.0..=1.0).contains(&jitter_ratio), "must be from 0 to 1");
        PollingConfig {
            max_delay: Duration::from_secs(max_delay_secs),
            min_interval: Duration::from_millis(min_interval_ms),
            jitter_ratio,
        }
    }

    fn conditions(&mut self) -> ConditionsConfig {
        let defaults = conditions_default();
        let evaluators = self.global(&["conditions", "evaluators"], defaults.evaluators, &[], None);
        self.check("conditions.evaluators", (1..=64).contains(&evaluators), "must be from 1 to 64");
        let memory = self.global(&["conditions", "evaluator_memory_bytes"], defaults.evaluator_memory_bytes, &[], None);
        self.check(
            "conditions.evaluator_memory_bytes",
            (MIN_EVALUATOR_MEMORY..=64 << 30).contains(&memory),
            "must be from 134217728 (128 MiB: an evaluator process needs ~40 MiB of address space to start) to 68719476736",
        );
        let program = self.global(&["conditions", "evaluator_program"], String::new(), &[], None);
        let timeout_ms = self.global(&["conditions", "timeout_ms"], defaults.timeout.as_millis() as u64, &[], None);
        self.check("conditions.timeout_ms", (1..=60_000).contains(&timeout_ms), "must be from 1 to 60000");
        let loops = self.global(&["conditions", "max_loop_iterations"], defaults.max_loop_iterations, &[], None);
        self.check("conditions.max_loop_iterations", loops >= 1, "must be at least 1");
        let recursion = self.global(&["conditions", "max_recursion"], defaults.max_recursion, &[], None);
        self.check("conditions.max_recursion", (1..=10_000).contains(&recursion), "must be from 1 to 10000");
        ConditionsConfig {
            evaluators,
            evaluator_memory_bytes: memory,
            evaluator_program: Some(program.trim()).filter(|p| !p.is_empty()).map(std::path::PathBuf::from),
            timeout: Duration::from_millis(timeout_ms),
            max_loop_iterations: loops,
            max_recursion: recursion,
        }
    }

    fn task_types(
        &mut self,
        cli: &CliOverrides,
        default_worker_id: &str,
        limits: &LimitsConfig,
    ) -> Vec<TaskTypeConfig> {
        let names = self.task_type_names(cli);
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        self.toml.get(&["defaults"]);
        for name in names {
            // Mark the table itself read, so an empty [task_types.<name>] is not reported as unknown.
            self.toml.get(&["task_types", &name]);
            if !seen.insert(name.clone()) {
                self.problems.push(format!("task type {name:?} is listed twice"));
                continue;
            }
            let cli_concurrency = cli_arg(&cli.concurrency, "--concurrency");
            let domain = self.task_prop(&name, 0, String::new(), None);
            let concurrency = self.task_prop(&name, 1, 100usize, cli_concurrency);
            let batch = self.task_prop(&name, 2, 32usize, None);
            let poll_timeout_ms = self.task_prop(&name, 3, 1000u64, None);
            let park_secs = self.task_prop(&name, 4, 30u64, None);
            let worker_id = self.task_prop(&name, 5, default_worker_id.to_owned(), None);
            let paused = self.task_prop(&name, 6, false, None);
            let key = |prop: &str| format!("task_types.{name}.{prop}");
            self.check(&key("concurrency"), (1..=1_000_000).contains(&concurrency), "must be from 1 to 1000000");
            self.check(&key("poll_batch_max"), (1..=1000).contains(&batch), "must be from 1 to 1000");
            self.check(
                &key("poll_timeout_ms"),
                poll_timeout_ms <= MAX_POLL_TIMEOUT_MS,
                "must be at most 5000 (the server rejects longer long polls)",
            );
            self.check(&key("park_threshold_secs"), park_secs <= 30 * 86_400, "must be at most 2592000 (30 days)");
            self.check(&key("worker_id"), !worker_id.trim().is_empty(), "must not be empty");
            if concurrency > limits.max_concurrent_tasks {
                self.warnings.push(format!(
                    "{} = {concurrency} exceeds limits.max_concurrent_tasks = {}; the global limit applies",
                    key("concurrency"),
                    limits.max_concurrent_tasks
                ));
            }
            out.push(TaskTypeConfig {
                domain: Some(domain.trim().to_owned()).filter(|d| !d.is_empty()),
                concurrency,
                poll_batch_max: batch.min(concurrency.max(1)),
                poll_timeout: Duration::from_millis(poll_timeout_ms),
                park_threshold: Duration::from_secs(park_secs),
                worker_id,
                paused,
                name,
            });
        }
        out
    }

    /// The task types to serve: `--task-type`, else `CONDUCTOR_HTTP_WORKER_TASK_TYPES`, else the file's
    /// `[task_types]` tables (or a `task_types = [...]` list), else `HTTP_POLL`.
    fn task_type_names(&mut self, cli: &CliOverrides) -> Vec<String> {
        let from_file = match self.toml.get(&["task_types"]).cloned() {
            None => None,
            Some(toml::Value::Table(table)) => Some(table.keys().cloned().collect::<Vec<_>>()),
            Some(toml::Value::Array(items)) if items.iter().all(toml::Value::is_str) => {
                Some(items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            }
            Some(_) => {
                self.problems.push(format!(
                    "{}: task_types must be tables [task_types.<name>] or a list of names",
                    self.file_name
                ));
                None
            }
        };
        let env_name = "CONDUCTOR_HTTP_WORKER_TASK_TYPES".to_owned();
        let (names, source) = if !cli.task_types.is_empty() {
            (cli.task_types.clone(), Source::Cli("--task-type"))
        } else if let Some((name, value)) = self.env.get(std::slice::from_ref(&env_name)) {
            (value.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect(), Source::Env(name))
        } else if let Some(names) = from_file.clone() {
            (names, Source::File(format!("{} task_types", self.file_name)))
        } else {
            (vec![DEFAULT_TASK_TYPE.to_owned()], Source::Default)
        };
        for unserved in from_file.iter().flatten().filter(|n| !names.contains(n)) {
            for prop in self.toml.table_keys(&["task_types", unserved]) {
                self.toml.get(&["task_types", unserved, &prop]);
            }
            self.warnings
                .push(format!("[task_types.{unserved}] is in the file but not served ({source} lists the task types)"));
        }
        if names.is_empty() || names.iter().any(|n| n.trim().is_empty()) {
            self.problems.push(format!("task_types ({source}): task type names must not be empty"));
        }
        self.record("task_types".into(), format!("{names:?}"), source);
        names
    }

    fn task_prop<T: ConfigValue>(
        &mut self,
        name: &str,
        prop: usize,
        default: T,
        cli: Option<(&str, &'static str)>,
    ) -> T {
        let (key, env_props) = KNOWN_TASK_PROPS[prop];
        let specific = normalize(name);
        let env_names: Vec<String> = env_props
            .iter()
            .map(|p| format!("CONDUCTOR_WORKER_{specific}_{p}"))
            .chain(env_props.iter().map(|p| format!("CONDUCTOR_WORKER_ALL_{p}")))
            .collect();
        let (specific_path, general_path) = (["task_types", name, key], ["defaults", key]);
        let file_paths: [&[&str]; 2] = [&specific_path, &general_path];
        self.layered(format!("task_types.{name}.{key}"), default, cli, &env_names, &file_paths)
    }

    fn global<T: ConfigValue>(
        &mut self,
        path: &[&str],
        default: T,
        sdk_env: &[&str],
        cli: Option<(&str, &'static str)>,
    ) -> T {
        let ours = format!("CONDUCTOR_HTTP_WORKER_{}", normalize(&path.join("_")));
        let env_names: Vec<String> = sdk_env.iter().map(|s| (*s).to_owned()).chain(std::iter::once(ours)).collect();
        self.layered(path.join("."), default, cli, &env_names, &[path])
    }

    /// The value from the highest layer that has one; a value that does not parse is a problem, and the
    /// default stands in so that loading continues and finds the other problems.
    fn layered<T: ConfigValue>(
        &mut self,
        key: String,
        default: T,
        cli: Option<(&str, &'static str)>,
        env_names: &[String],
        file_paths: &[&[&str]],
    ) -> T {
        // Read every file path first, so keys overridden by a higher layer are not reported as unknown.
        let file_values: Vec<(String, toml::Value)> =
            file_paths.iter().filter_map(|path| Some((path.join("."), self.toml.get(path)?.clone()))).collect();
        if let Some((text, flag)) = cli {
            return match T::from_text(text) {
                Ok(value) => self.found(key, value, Source::Cli(flag)),
                Err(error) => self.invalid(default, format!("{flag}: {error}")),
            };
        }
        if let Some((name, text)) = self.env.get(env_names) {
            return match T::from_text(&text) {
                Ok(value) => self.found(key, value, Source::Env(name)),
                Err(error) => self.invalid(default, format!("env {name}: {error}")),
            };
        }
        match file_values.into_iter().next() {
            Some((dotted, raw)) => match T::from_toml(&raw) {
                Ok(value) => self.found(key, value, Source::File(format!("{} {dotted}", self.file_name))),
                Err(error) => self.invalid(default, format!("{}: {dotted}: {error}", self.file_name)),
            },
            None => self.found(key, default, Source::Default),
        }
    }

    fn found<T: ConfigValue>(&mut self, key: String, value: T, source: Source) -> T {
        let shown = if SECRET_KEYS.contains(&key.as_str()) {
            if value.show() == "\"\"" { "(unset)".to_owned() } else { "*** (set)".to_owned() }
        } else if URL_KEYS.contains(&key.as_str()) {
            crate::redact::url(&value.show())
        } else {
            value.show()
        };
        self.record(key, shown, source);
        value
    }

    fn invalid<T>(&mut self, default: T, problem: String) -> T {
        self.problems.push(problem);
        default
    }

    fn record(&mut self, key: String, value: String, source: Source) {
        self.settings.push(Setting { key, value, source });
    }

    /// Records a problem naming the key, its value and where that value came from, unless `ok`.
    fn check(&mut self, key: &str, ok: bool, requirement: &str) {
        if ok {
            return;
        }
        let (value, source) = self
            .settings
            .iter()
            .rev()
            .find(|s| s.key == key)
            .map_or_else(|| (String::new(), Source::Default), |s| (s.value.clone(), s.source.clone()));
        self.problems.push(format!("{key} = {value} ({source}): {requirement}"));
    }

    fn finish(mut self, config: Config) -> Result<Loaded, ConfigError> {
        for key in self.toml.unused_keys() {
            self.problems.push(format!("{}: unknown key `{key}`", self.file_name));
        }
        for name in self.env.unused_worker_vars() {
            self.warnings
                .push(format!("environment variable {name} matches no setting (or no served task type); ignored"));
        }
        if self.problems.is_empty() {
            Ok(Loaded { config, settings: self.settings, warnings: self.warnings })
        } else {
            Err(ConfigError { problems: self.problems })
        }
    }
}

/// Headers that carry credentials in common APIs.
fn default_sensitive_headers() -> Vec<String> {
    ["authorization", "proxy-authorization", "x-authorization", "cookie", "set-cookie", "x-api-key", "api-key"]
        .map(str::to_owned)
        .to_vec()
}

fn default_server_url() -> Url {
    // A constant that parses; a failure here is a programming error caught by every test.
    Url::parse("http://localhost:8080/api").expect("the default server URL parses")
}

/// The API root without a trailing slash, so paths can be appended segment by segment.
fn api_root(mut url: Url) -> Url {
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    url
}

fn cli_arg<'a>(value: &'a Option<String>, flag: &'static str) -> Option<(&'a str, &'static str)> {
    value.as_deref().map(|v| (v, flag))
}
