//! The resolver: reads each [`catalog`](super::catalog) entry through the layers (command-line flag, environment,
//! file, default), checks it, records its effective value and where it came from, and collects every problem, so
//! that a bad configuration is reported whole.
//!
//! Owns: layering, provenance and the problem list. Does not own: which settings exist ([`super::catalog`]) or how
//! they make up a [`super::Config`] ([`super::settings`]).

use super::catalog::Entry;
use super::layers::{ConfigValue, EnvLayer, Source, TomlLayer, normalize};
use super::{Config, ConfigError, LoadInputs, Loaded, Setting};

/// Keys holding URLs, shown without their user info.
const URL_KEYS: [&str; 2] = [super::catalog::SERVER_URL.key, super::catalog::PROXY.key];

pub(super) struct Resolver {
    pub(super) toml: TomlLayer,
    pub(super) file_name: String,
    pub(super) env: EnvLayer,
    pub(super) settings: Vec<Setting>,
    pub(super) problems: Vec<String>,
    pub(super) warnings: Vec<String>,
}

impl Resolver {
    pub(super) fn new(inputs: &LoadInputs) -> Self {
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

    /// A global setting: the flag (when the entry has one and `flag_value` is given), then the entry's SDK
    /// environment names, then `CONDUCTOR_HTTP_WORKER_<KEY>`, then the file, then the default; checked.
    pub(super) fn global<T: ConfigValue>(&mut self, entry: &Entry<T>, flag_value: Option<&str>) -> T {
        let path: Vec<&str> = entry.key.split('.').collect();
        let ours = format!("CONDUCTOR_HTTP_WORKER_{}", normalize(&path.join("_")));
        let env_names: Vec<String> = entry.env.iter().map(|s| (*s).to_owned()).chain(std::iter::once(ours)).collect();
        let cli = flag_value.zip(entry.flag);
        let value = self.layered(entry, entry.key.to_owned(), (entry.default)(), cli, &env_names, &[&path]);
        self.check_entry(entry, entry.key, &value);
        value
    }

    /// A per-task-type setting of task type `name`: the flag, `CONDUCTOR_WORKER_<NAME>_<PROP>`,
    /// `CONDUCTOR_WORKER_ALL_<PROP>`, `[task_types.<name>]`, `[defaults]`, then `default` (the entry's unless the
    /// caller knows better, as for the host name); checked.
    pub(super) fn per_task<T: ConfigValue>(
        &mut self,
        entry: &Entry<T>,
        name: &str,
        default: T,
        flag_value: Option<&str>,
    ) -> T {
        let specific = normalize(name);
        let env_names: Vec<String> = entry
            .env
            .iter()
            .map(|p| format!("CONDUCTOR_WORKER_{specific}_{p}"))
            .chain(entry.env.iter().map(|p| format!("CONDUCTOR_WORKER_ALL_{p}")))
            .collect();
        let (specific_path, general_path) = (["task_types", name, entry.key], ["defaults", entry.key]);
        let file_paths: [&[&str]; 2] = [&specific_path, &general_path];
        let key = format!("task_types.{name}.{}", entry.key);
        let cli = flag_value.zip(entry.flag);
        let value = self.layered(entry, key.clone(), default, cli, &env_names, &file_paths);
        self.check_entry(entry, &key, &value);
        value
    }

    fn check_entry<T>(&mut self, entry: &Entry<T>, key: &str, value: &T) {
        if let Some((acceptable, requirement)) = entry.check {
            self.check(key, acceptable(value), requirement);
        }
    }

    /// The value from the highest layer that has one; a value that does not parse is a problem, and the
    /// default stands in so that loading continues and finds the other problems.
    fn layered<T: ConfigValue>(
        &mut self,
        entry: &Entry<T>,
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
                Ok(value) => self.found(entry, key, value, Source::Cli(flag)),
                Err(error) => self.invalid(default, format!("{flag}: {error}")),
            };
        }
        if let Some((name, text)) = self.env.get(env_names) {
            return match T::from_text(&text) {
                Ok(value) => self.found(entry, key, value, Source::Env(name)),
                Err(error) => self.invalid(default, format!("env {name}: {error}")),
            };
        }
        match file_values.into_iter().next() {
            Some((dotted, raw)) => match T::from_toml(&raw) {
                Ok(value) => self.found(entry, key, value, Source::File(format!("{} {dotted}", self.file_name))),
                Err(error) => self.invalid(default, format!("{}: {dotted}: {error}", self.file_name)),
            },
            None => self.found(entry, key, default, Source::Default),
        }
    }

    fn found<T: ConfigValue>(&mut self, entry: &Entry<T>, key: String, value: T, source: Source) -> T {
        let shown = if entry.secret {
            if value.show() == "\"\"" { "(unset)".to_owned() } else { "*** (set)".to_owned() }
        } else if URL_KEYS.contains(&entry.key) {
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

    pub(super) fn record(&mut self, key: String, value: String, source: Source) {
        self.settings.push(Setting { key, value, source });
    }

    /// Records a problem naming the key, its value and where that value came from, unless `ok`.
    pub(super) fn check(&mut self, key: &str, ok: bool, requirement: &str) {
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

    pub(super) fn finish(mut self, config: Config) -> Result<Loaded, ConfigError> {
        for key in self.toml.unused_keys() {
            self.problems.push(format!("{}: unknown key `{key}`", self.file_name));
        }
        self.warnings.append(&mut self.env.collisions);
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
