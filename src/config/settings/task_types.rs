//! The per-task-type part of [`Config`](crate::config::Config): which task types are served (flag, environment,
//! file, or `HTTP_POLL`) and each one's settings, read through the split layers
//! (`CONDUCTOR_WORKER_<TASKTYPE>_<PROP>` → `CONDUCTOR_WORKER_ALL_<PROP>` → `[task_types.<name>]` → `[defaults]`).
//!
//! Owns: the task-type list and its checks (duplicates, empty names, unserved tables). Does not own: the global
//! sections (the parent module) or the layer lookup itself (the resolver's `per_task`).

use std::time::Duration;

use crate::config::catalog::{
    TASK_CONCURRENCY, TASK_DOMAIN, TASK_PARK_THRESHOLD_SECS, TASK_PAUSED, TASK_POLL_BATCH_MAX, TASK_POLL_TIMEOUT_MS,
    TASK_WORKER_ID,
};
use crate::config::layers::Source;
use crate::config::resolver::Resolver;
use crate::config::{CliOverrides, DEFAULT_TASK_TYPE, LimitsConfig, TaskTypeConfig};

impl Resolver {
    pub(super) fn task_types(
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
            let domain = self.per_task(&TASK_DOMAIN, &name, (TASK_DOMAIN.default)(), None);
            let concurrency =
                self.per_task(&TASK_CONCURRENCY, &name, (TASK_CONCURRENCY.default)(), cli.concurrency.as_deref());
            let batch = self.per_task(&TASK_POLL_BATCH_MAX, &name, (TASK_POLL_BATCH_MAX.default)(), None);
            let poll_timeout_ms = self.per_task(&TASK_POLL_TIMEOUT_MS, &name, (TASK_POLL_TIMEOUT_MS.default)(), None);
            let park_secs = self.per_task(&TASK_PARK_THRESHOLD_SECS, &name, (TASK_PARK_THRESHOLD_SECS.default)(), None);
            let worker_id = self.per_task(&TASK_WORKER_ID, &name, default_worker_id.to_owned(), None);
            let paused = self.per_task(&TASK_PAUSED, &name, (TASK_PAUSED.default)(), None);
            if concurrency > limits.max_concurrent_tasks {
                self.warnings.push(format!(
                    "task_types.{name}.concurrency = {concurrency} exceeds limits.max_concurrent_tasks = {}; the \
                     global limit applies",
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
}
