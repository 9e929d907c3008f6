//! How the settings make up a [`Config`]: each section reads its [`catalog`](super::catalog) entries through the
//! [`Resolver`], adds the checks that span settings, and builds its typed part. [`load`] walks it once.
//!
//! Owns: the assembly of [`Config`] and the cross-setting rules. Does not own: what a setting is (the catalogue)
//! or how a value is looked up (the resolver). The task types and their settings are assembled in [`task_types`].

mod targets;
mod task_types;

use std::collections::HashMap;
use std::time::Duration;

use url::Url;

use super::SecurityConfig;
use super::catalog::*;
use super::layers::{ConfigValue, Source};
use super::resolver::Resolver;
use super::{
    AdminConfig, ConditionsConfig, Config, ConfigError, ControlToken, HttpConfig, LimitsConfig, LoadInputs, Loaded,
    LogFormat, PollingConfig, ServerConfig, UpdatesConfig,
};
use crate::outbound::{Cidr, HostPattern, TargetPolicy};

/// Loads and validates the configuration, or lists every problem.
pub fn load(inputs: &LoadInputs) -> Result<Loaded, ConfigError> {
    let mut resolver = Resolver::new(inputs);
    let config = resolver.config(inputs);
    resolver.finish(config)
}

impl Resolver {
    fn config(&mut self, inputs: &LoadInputs) -> Config {
        let (cli, default_worker_id) = (&inputs.cli, inputs.default_worker_id.as_str());
        let url = self.global(&SERVER_URL, cli.server_url.as_deref());
        let auth_key = self.global(&AUTH_KEY, None);
        let auth_secret = self.global(&AUTH_SECRET, None);
        let request_timeout_ms = self.global(&REQUEST_TIMEOUT_MS, None);
        let token_ttl_secs = self.global(&TOKEN_TTL_SECS, None);
        let auth = match (auth_key.is_empty(), auth_secret.is_empty()) {
            (true, true) => None,
            (false, false) => Some((auth_key, auth_secret)),
            _ => {
                self.problems.push("server.auth_key and server.auth_secret must be set together (CONDUCTOR_AUTH_KEY, CONDUCTOR_AUTH_SECRET)".into());
                None
            }
        };
        let admin = self.global(&ADMIN_ADDR, cli.admin_addr.as_deref());
        let control = self.global(&CONTROL_ADDR, None);
        // Port 0 (any free port) never clashes.
        if let (Some(control), true) = (control.0, admin.0.is_some_and(|a| a.port() != 0) && admin.0 == control.0) {
            self.problems.push(format!("admin.control_addr = {control}: must differ from admin.addr"));
        }
        let token = self.global(&CONTROL_TOKEN, None);
        let token_file = self.global(&CONTROL_TOKEN_FILE, None);
        let control_token = match (token.trim().is_empty(), token_file.trim().is_empty()) {
            (true, true) => None,
            (false, true) => Some(ControlToken::Value(token.trim().to_owned())),
            (true, false) => Some(ControlToken::File(token_file.trim().into())),
            (false, false) => {
                self.problems.push("admin.control_token and admin.control_token_file: set one, not both".into());
                None
            }
        };
        let depth_secs = self.global(&QUEUE_DEPTH_INTERVAL_SECS, None);
        let liveness_secs = self.global(&LIVENESS_WINDOW_SECS, None);
        let log_format = match self.global(&LOG_FORMAT, cli.log_format.as_deref()).as_str() {
            "json" => LogFormat::Json,
            _ => LogFormat::Pretty,
        };
        let limits = self.limits();
        let http = self.http();
        let polling = self.polling();
        let conditions = self.conditions();
        let retry_window_secs = self.global(&RETRY_WINDOW_SECS, None);
        let max_output = self.global(&MAX_OUTPUT_BYTES, None);
        let outbox_max = self.global(&OUTBOX_MAX_BYTES, None);
        let security = self.security();
        let targets = self.targets(&inputs.env);
        let grace_secs = self.global(&GRACE_SECS, None);
        let task_types = self.task_types(cli, default_worker_id, &limits);
        if !url.path().trim_end_matches('/').ends_with("/api") {
            self.warnings.push(format!(
                "server.url = {}: does not end in /api, where conductor-oss and Orkes serve the API (e.g. \
                 http://conductor:8080/api); polls will fail if the path is wrong",
                crate::redact::url_of(&url)
            ));
        }
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
                liveness_window: Duration::from_secs(liveness_secs),
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
            targets,
            task_types,
        }
    }

    fn limits(&mut self) -> LimitsConfig {
        let max_concurrent_tasks = self.global(&MAX_CONCURRENT_TASKS, None);
        let max_requests_per_host = self.global(&MAX_REQUESTS_PER_HOST, None);
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
        let connect_ms = self.global(&CONNECT_TIMEOUT_MS, None);
        let read_ms = self.global(&READ_TIMEOUT_MS, None);
        let max_body = self.global(&MAX_RESPONSE_BODY_BYTES, None);
        let sensitive = self.global(&SENSITIVE_HEADERS, None);
        let ca_file = self.global(&EXTRA_CA_FILE, None);
        let idempotency = self.global(&IDEMPOTENCY_KEY_HEADER, None);
        let retries = self.global(&RETRIES, None);
        let proxy_text = self.global(&PROXY, None);
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
        HttpConfig {
            connect_timeout: Duration::from_millis(connect_ms),
            read_timeout: Duration::from_millis(read_ms),
            max_response_body_bytes: max_body,
            sensitive_headers: sensitive.iter().map(|h| h.trim().to_ascii_lowercase()).collect(),
            extra_ca_file: Some(ca_file.trim().to_owned()).filter(|f| !f.is_empty()),
            idempotency_key_header: Some(idempotency.trim().to_owned()).filter(|h| !h.is_empty()),
            retries,
            proxy,
        }
    }

    fn security(&mut self) -> SecurityConfig {
        let mut policy = TargetPolicy::default();
        let lists = [(&ALLOW_HOSTS, true), (&DENY_HOSTS, true), (&ALLOW_CIDRS, false), (&DENY_CIDRS, false)];
        for (list, hosts) in lists {
            let key = list.key.trim_start_matches("security.");
            for entry in self.global(list, None) {
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
        policy.allow_loopback = self.global(&ALLOW_LOOPBACK, None);
        if policy.allow_loopback {
            self.warnings.push(
                "security.allow_loopback = true: tasks can reach this host's own addresses (sidecars in the pod); \
                 the worker's own listeners stay unreachable"
                    .into(),
            );
        }
        let deny_metadata = self.global(&DENY_METADATA, None);
        if deny_metadata {
            policy.deny_cidrs.extend(TargetPolicy::default_deny_metadata().deny_cidrs);
        } else {
            self.warnings
                .push("security.deny_link_local_and_metadata = false: tasks can reach cloud metadata endpoints".into());
        }
        SecurityConfig { policy }
    }

    fn polling(&mut self) -> PollingConfig {
        let max_delay_secs = self.global(&MAX_DELAY_SECS, None);
        let min_interval_ms = self.global(&MIN_INTERVAL_MS, None);
        self.check(
            "polling.min_interval_ms",
            min_interval_ms <= max_delay_secs * 1000,
            "must not exceed polling.max_delay_secs",
        );
        let jitter_ratio = self.global(&JITTER_RATIO, None);
        let recheck_secs = self.global(&ASYNC_COMPLETE_RECHECK_SECS, None);
        let log_first_polls = self.global(&LOG_FIRST_POLLS, None);
        let log_interval_secs = self.global(&LOG_INTERVAL_SECS, None);
        PollingConfig {
            async_complete_recheck: Duration::from_secs(recheck_secs),
            log_first_polls,
            log_interval: Duration::from_secs(log_interval_secs),
            max_delay: Duration::from_secs(max_delay_secs),
            min_interval: Duration::from_millis(min_interval_ms),
            jitter_ratio,
        }
    }

    fn conditions(&mut self) -> ConditionsConfig {
        let evaluators = self.global(&EVALUATORS, None);
        let memory = self.global(&EVALUATOR_MEMORY_BYTES, None);
        let program = self.global(&EVALUATOR_PROGRAM, None);
        let timeout_ms = self.global(&CONDITION_TIMEOUT_MS, None);
        let loops = self.global(&MAX_LOOP_ITERATIONS, None);
        let recursion = self.global(&MAX_RECURSION, None);
        ConditionsConfig {
            evaluators,
            evaluator_memory_bytes: memory,
            evaluator_program: Some(program.trim()).filter(|p| !p.is_empty()).map(std::path::PathBuf::from),
            timeout: Duration::from_millis(timeout_ms),
            max_loop_iterations: loops,
            max_recursion: recursion,
        }
    }
}

/// The API root without a trailing slash, so paths can be appended segment by segment.
fn api_root(mut url: Url) -> Url {
    let trimmed = url.path().trim_end_matches('/').to_owned();
    url.set_path(&trimmed);
    url
}
