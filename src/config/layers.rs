//! The three sources a setting can come from (TOML file, environment, command line), how a raw value from each is
//! parsed into a typed one, and where each effective value came from.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::net::SocketAddr;

use url::Url;

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

/// A typed setting value that can be read from TOML or from an environment string.
pub trait ConfigValue: Sized {
    /// From a TOML value; the error says what was expected.
    fn from_toml(value: &toml::Value) -> Result<Self, String>;
    /// From an environment (or command-line) string.
    fn from_text(text: &str) -> Result<Self, String>;
    /// How `check-config` prints it.
    fn show(&self) -> String;
}

macro_rules! integer_value {
    ($($t:ty),*) => {$(
        impl ConfigValue for $t {
            fn from_toml(value: &toml::Value) -> Result<Self, String> {
                match value {
                    toml::Value::Integer(n) => <$t>::try_from(*n).map_err(|_| format!("{n} is out of range")),
                    other => Err(format!("expected a whole number, got {}", other.type_str())),
                }
            }
            fn from_text(text: &str) -> Result<Self, String> {
                text.trim().parse().map_err(|_| format!("expected a whole number, got {text:?}"))
            }
            fn show(&self) -> String {
                self.to_string()
            }
        }
    )*};
}
integer_value!(u32, u64, usize);

impl ConfigValue for f64 {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Float(n) => Ok(*n),
            toml::Value::Integer(n) => Ok(*n as f64),
            other => Err(format!("expected a number, got {}", other.type_str())),
        }
    }
    fn from_text(text: &str) -> Result<Self, String> {
        text.trim()
            .parse()
            .ok()
            .filter(|n: &f64| n.is_finite())
            .ok_or_else(|| format!("expected a number, got {text:?}"))
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl ConfigValue for bool {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        value.as_bool().ok_or_else(|| format!("expected true or false, got {}", value.type_str()))
    }
    fn from_text(text: &str) -> Result<Self, String> {
        // The SDKs accept these spellings for booleans in the environment.
        match text.trim().to_ascii_lowercase().as_str() {
            "true" | "1" | "yes" | "on" => Ok(true),
            "false" | "0" | "no" | "off" => Ok(false),
            _ => Err(format!("expected true or false, got {text:?}")),
        }
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

impl ConfigValue for String {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        value.as_str().map(str::to_owned).ok_or_else(|| format!("expected a string, got {}", value.type_str()))
    }
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.to_owned())
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

/// A list of strings: a TOML array, or a comma-separated environment value.
impl ConfigValue for Vec<String> {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        match value {
            toml::Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str().map(str::to_owned).ok_or_else(|| format!("expected strings, got {}", item.type_str()))
                })
                .collect(),
            other => Err(format!("expected a list of strings, got {}", other.type_str())),
        }
    }
    fn from_text(text: &str) -> Result<Self, String> {
        Ok(text.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
    }
    fn show(&self) -> String {
        format!("{self:?}")
    }
}

impl ConfigValue for Url {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        Self::from_text(value.as_str().ok_or_else(|| format!("expected a URL string, got {}", value.type_str()))?)
    }
    fn from_text(text: &str) -> Result<Self, String> {
        let url = Url::parse(text.trim()).map_err(|e| format!("{text:?} is not a URL ({e})"))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(format!("{text:?} must be an http(s) URL with a host"));
        }
        Ok(url)
    }
    fn show(&self) -> String {
        self.to_string()
    }
}

/// An address to listen on, or `off`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListenAddr(pub Option<SocketAddr>);

impl ConfigValue for ListenAddr {
    fn from_toml(value: &toml::Value) -> Result<Self, String> {
        Self::from_text(
            value.as_str().ok_or_else(|| format!("expected \"host:port\" or \"off\", got {}", value.type_str()))?,
        )
    }
    fn from_text(text: &str) -> Result<Self, String> {
        if text.trim().eq_ignore_ascii_case("off") {
            return Ok(ListenAddr(None));
        }
        text.trim()
            .parse()
            .map(|a| ListenAddr(Some(a)))
            .map_err(|_| format!("expected \"host:port\" or \"off\", got {text:?}"))
    }
    fn show(&self) -> String {
        self.0.map_or_else(|| "off".to_owned(), |a| a.to_string())
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
}

impl EnvLayer {
    /// Keeps the variables that start with `CONDUCTOR` (any case); the rest are not ours.
    pub fn new(env: &HashMap<String, String>) -> Self {
        let vars = env
            .iter()
            .filter(|(name, _)| name.to_ascii_uppercase().starts_with("CONDUCTOR"))
            .map(|(name, value)| (normalize(name), (name.clone(), value.clone())))
            .collect();
        Self { vars, used: BTreeSet::new() }
    }

    /// The first of `names` (already normalized) that is set: (name as given, value).
    pub fn get(&mut self, names: &[String]) -> Option<(String, String)> {
        names.iter().find_map(|name| {
            let found = self.vars.get(name).cloned();
            if found.is_some() {
                self.used.insert(name.clone());
            }
            found
        })
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
    fn values_parse_from_both_layers() {
        assert_eq!(u64::from_toml(&toml::Value::Integer(5)), Ok(5));
        assert!(u64::from_toml(&toml::Value::Integer(-5)).is_err());
        assert!(u64::from_toml(&toml::Value::String("5".into())).is_err());
        assert_eq!(u64::from_text(" 7 "), Ok(7));
        assert!(u64::from_text("abc").is_err());
        assert_eq!(bool::from_text("yes"), Ok(true));
        assert!(bool::from_text("maybe").is_err());
        assert_eq!(f64::from_toml(&toml::Value::Integer(2)), Ok(2.0));
        assert!(f64::from_text("NaN").is_err());
        assert_eq!(ListenAddr::from_text("off"), Ok(ListenAddr(None)));
        assert!(ListenAddr::from_text("localhost").is_err());
        assert!(Url::from_text("ftp://x").is_err());
    }
}
