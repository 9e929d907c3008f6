//! The three sources a setting can come from (TOML file, environment, command line), how a raw value from each is
//! parsed into a typed one, and where each effective value came from. Parsing one raw value into its type is
//! [`value`]'s ([`ConfigValue`]).

mod value;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;

pub use value::{ConfigValue, ListenAddr};

/// Where an effective value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// Built-in default.
    Default,
    /// The TOML file, at this key.
    File(String),
    /// This environment variable.
    Env(String),
    /// This command-line flag.
    Cli(&'static str),
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Source::Default => f.write_str("default"),
            Source::File(key) => write!(f, "file: {key}"),
            Source::Env(name) => write!(f, "env: {name}"),
            Source::Cli(flag) => write!(f, "flag: {flag}"),
        }
    }
}

/// The TOML file, with every key read marked so that unknown keys can be reported.
#[derive(Debug, Default)]
pub struct TomlLayer {
    root: toml::Table,
    used: BTreeSet<Vec<String>>,
}

impl TomlLayer {
    /// Parses the file's text.
    pub fn parse(text: &str) -> Result<Self, String> {
        let root = text.parse::<toml::Table>().map_err(|e| e.to_string().trim().replace('\n', " "))?;
        Ok(Self { root, used: BTreeSet::new() })
    }

    /// The value at `path`, marking it (and its parents) used.
    pub fn get(&mut self, path: &[&str]) -> Option<&toml::Value> {
        let (last, parents) = path.split_last()?;
        let mut table = &self.root;
        for segment in parents {
            table = table.get(*segment)?.as_table()?;
        }
        let value = table.get(*last)?;
        for end in 1..=path.len() {
            self.used.insert(path[..end].iter().map(|s| (*s).to_owned()).collect());
        }
        Some(value)
    }

    /// The keys of the table at `path` (empty if absent or not a table).
    pub fn table_keys(&mut self, path: &[&str]) -> Vec<String> {
        match self.get(path) {
            Some(toml::Value::Table(table)) => table.keys().cloned().collect(),
            _ => Vec::new(),
        }
    }

    /// Dotted names of leaf keys that were never read.
    pub fn unused_keys(&self) -> Vec<String> {
        let mut unused = Vec::new();
        collect_unused(&self.root, &mut Vec::new(), &self.used, &mut unused);
        unused
    }
}

fn collect_unused(table: &toml::Table, prefix: &mut Vec<String>, used: &BTreeSet<Vec<String>>, out: &mut Vec<String>) {
    for (key, value) in table {
        prefix.push(key.clone());
        match value {
            toml::Value::Table(inner) if !inner.is_empty() => collect_unused(inner, prefix, used, out),
            _ if !used.contains(prefix) => out.push(prefix.join(".")),
            _ => {}
        }
        prefix.pop();
    }
}

/// The environment, with names normalized (upper case, `.` and `-` as `_`) so that every naming family the SDKs
/// accept finds the same setting, and with reads recorded so that unknown `CONDUCTOR_WORKER_*` names can be warned
/// about.
#[derive(Debug, Default)]
pub struct EnvLayer {
    /// Normalized name → (name as given, value).
    vars: BTreeMap<String, (String, String)>,
    used: BTreeSet<String>,
    /// Spellings of one name set with different values, and which one won (for a warning).
    pub collisions: Vec<String>,
}

impl EnvLayer {
    /// Keeps the variables that start with `CONDUCTOR` (any case); the rest are not ours. When two spellings of
    /// one name are set (`CONDUCTOR_WORKER_X_DOMAIN` and `conductor.worker.x.domain`), the one already in the
    /// normalized form wins, else the first in byte order: never the environment's order.
    pub fn new(env: &HashMap<String, String>) -> Self {
        let mut ours: Vec<(&String, &String)> =
            env.iter().filter(|(name, _)| name.to_ascii_uppercase().starts_with("CONDUCTOR")).collect();
        ours.sort_by_key(|(name, _)| (normalize(name) != **name, (*name).clone()));
        let mut vars: BTreeMap<String, (String, String)> = BTreeMap::new();
        let mut collisions = Vec::new();
        for (name, value) in ours {
            match vars.get(&normalize(name)) {
                Some((winner, kept)) if kept != value => collisions.push(format!(
                    "environment variables {winner} and {name} name the same setting with different values; \
                     {winner} wins (the spelling in capitals with underscores first)"
                )),
                Some(_) => {}
                None => {
                    vars.insert(normalize(name), (name.clone(), value.clone()));
                }
            }
        }
        Self { vars, used: BTreeSet::new(), collisions }
    }

    /// The first of `names` (already normalized) that is set: (name as given, value). When a later spelling of
    /// the same level is set too (an alias such as `_THREAD_COUNT` for `_CONCURRENCY`, or the SDK's name and
    /// ours), with another value, the first still wins and `collisions` says so; a task type's own variable
    /// winning over `CONDUCTOR_WORKER_ALL_*` is the documented precedence, not a collision.
    pub fn get(&mut self, names: &[String]) -> Option<(String, String)> {
        let set: Vec<&String> = names.iter().filter(|name| self.vars.contains_key(*name)).collect();
        let first = set.first()?;
        let found = self.vars.get(*first).cloned();
        let general = |name: &str| name.starts_with("CONDUCTOR_WORKER_ALL_");
        for other in set[1..].iter().filter(|other| general(other) == general(first)) {
            let (other_name, other_value) = &self.vars[*other];
            if found.as_ref().is_some_and(|(_, value)| value != other_value) {
                let winner = found.as_ref().map(|(name, _)| name.as_str()).unwrap_or_default();
                self.collisions.push(format!(
                    "environment variables {winner} and {other_name} set the same setting to different values; \
                     {winner} wins (order: {})",
                    names.join(" > ")
                ));
            }
        }
        for name in set {
            self.used.insert(name.clone());
        }
        found
    }

    /// `CONDUCTOR_WORKER_*` and `CONDUCTOR_HTTP_WORKER_*` variables that matched no setting (the file's path,
    /// `CONDUCTOR_HTTP_WORKER_CONFIG`, is the command line's).
    pub fn unused_worker_vars(&self) -> Vec<String> {
        let ours = |name: &str| {
            name.starts_with("CONDUCTOR_WORKER_")
                || (name.starts_with("CONDUCTOR_HTTP_WORKER_") && name != "CONDUCTOR_HTTP_WORKER_CONFIG")
        };
        let mut unused: Vec<String> = self
            .vars
            .iter()
            .filter(|(normalized, _)| ours(normalized) && !self.used.contains(*normalized))
            .map(|(_, (name, _))| name.clone())
            .collect();
        unused.sort();
        unused
    }
}

/// Upper case, with `.` and `-` turned into `_` (so `conductor.worker.http-poll.domain` is
/// `CONDUCTOR_WORKER_HTTP_POLL_DOMAIN`).
pub fn normalize(name: &str) -> String {
    name.chars().map(|c| if c == '.' || c == '-' { '_' } else { c.to_ascii_uppercase() }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_reports_unused_leaf_keys() {
        let mut layer = TomlLayer::parse(
            "[server]\nurl = 'http://x'\nulr = 1\n[task_types.A]\nconcurrency = 2\ntypo = 3\n[other]\nk = 1",
        )
        .unwrap();
        assert!(layer.get(&["server", "url"]).is_some());
        assert!(layer.get(&["task_types", "A", "concurrency"]).is_some());
        assert_eq!(layer.unused_keys(), ["other.k", "server.ulr", "task_types.A.typo"]);
    }

    #[test]
    fn env_names_are_normalized() {
        let env = HashMap::from([
            ("conductor.worker.http-poll.domain".to_owned(), "d".to_owned()),
            ("CONDUCTOR_WORKER_X_TYPO".to_owned(), "1".to_owned()),
            ("HOME".to_owned(), "/root".to_owned()),
        ]);
        let mut layer = EnvLayer::new(&env);
        let got = layer.get(&["CONDUCTOR_WORKER_HTTP_POLL_DOMAIN".to_owned()]);
        assert_eq!(got, Some(("conductor.worker.http-poll.domain".to_owned(), "d".to_owned())));
        assert_eq!(layer.unused_worker_vars(), ["CONDUCTOR_WORKER_X_TYPO"]);
    }

    #[test]
    fn two_spellings_of_one_setting_resolve_the_same_way_every_time_with_a_warning() {
        for _ in 0..20 {
            // A new HashMap each round: its iteration order varies; the winner must not.
            let env = HashMap::from([
                ("conductor.worker.a.domain".to_owned(), "lower".to_owned()),
                ("CONDUCTOR_WORKER_A_DOMAIN".to_owned(), "upper".to_owned()),
                ("Conductor_Worker_A_Domain".to_owned(), "mixed".to_owned()),
                ("CONDUCTOR_WORKER_ALL_CONCURRENCY".to_owned(), "4".to_owned()),
                ("CONDUCTOR_WORKER_ALL_THREAD_COUNT".to_owned(), "8".to_owned()),
            ]);
            let mut layer = EnvLayer::new(&env);
            let domain = layer.get(&["CONDUCTOR_WORKER_A_DOMAIN".to_owned()]);
            assert_eq!(domain, Some(("CONDUCTOR_WORKER_A_DOMAIN".to_owned(), "upper".to_owned())));
            let names = ["CONDUCTOR_WORKER_ALL_CONCURRENCY".to_owned(), "CONDUCTOR_WORKER_ALL_THREAD_COUNT".to_owned()];
            assert_eq!(layer.get(&names).map(|(_, v)| v).as_deref(), Some("4"), "the documented order decides");
            assert_eq!(layer.collisions.len(), 3, "{:?}", layer.collisions);
            assert!(layer.collisions.iter().any(|c| c.contains("CONDUCTOR_WORKER_A_DOMAIN wins")));
            assert!(layer.collisions.iter().any(|c| c.contains("CONDUCTOR_WORKER_ALL_CONCURRENCY wins")));
            assert!(layer.unused_worker_vars().is_empty(), "both spellings count as used");
        }
    }
}
