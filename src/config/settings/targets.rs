//! The credential profiles of [`Config`](crate::config::Config): every `[targets.<name>]` table read into a
//! [`ProfileSpec`], each problem naming its key. Profiles come from the file only (nested tables have no natural
//! environment spelling); a value inside one may come from an environment variable (`{ env = "NAME" }`,
//! `password_env`) or a file (`{ file = "/path" }`, `password_file`), and secrets must: a password or client
//! secret written in the file is refused.
//!
//! Owns: the profiles' syntax and checks. Does not own: the profile types (`crate::credentials::spec`) or reading
//! secret files (done when the profiles are built).

use std::collections::{HashMap, HashSet};

use reqwest::header::HeaderName;
use url::Url;

use crate::config::layers::Source;
use crate::config::resolver::Resolver;
use crate::credentials::spec::{BasicSpec, ClientAuth, OAuth2Spec, ProfileSpec, SecretSpec, TaskHeaders, TlsSpec};
use crate::outbound::TargetPattern;
use crate::redact::SecretUrl;

/// Headers a profile may not set: they frame the message or name the host.
const RESERVED_HEADERS: [&str; 5] = ["host", "content-length", "transfer-encoding", "connection", "upgrade"];
/// Most concurrent requests a profile may allow per host.
const MAX_REQUESTS_LIMIT: i64 = 10_000;

/// Reads one `[targets.<name>]` table.
struct Table<'a> {
    resolver: &'a mut Resolver,
    env: &'a HashMap<String, String>,
    name: String,
}

impl Table<'_> {
    fn get(&mut self, key: &[&str]) -> Option<toml::Value> {
        let mut path = vec!["targets", self.name.as_str()];
        path.extend_from_slice(key);
        self.resolver.toml.get(&path).cloned()
    }

    fn problem(&mut self, key: &str, message: impl std::fmt::Display) {
        self.resolver.problems.push(format!("targets.{}.{key}: {message}", self.name));
    }

    fn string(&mut self, key: &[&str]) -> Option<String> {
        match self.get(key)? {
            toml::Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
            other => {
                self.problem(&key.join("."), format!("must be a non-empty string, got {}", shown_type(&other)));
                None
            }
        }
    }

    fn strings(&mut self, key: &str) -> Option<Vec<String>> {
        match self.get(&[key])? {
            toml::Value::Array(items) if items.iter().all(|i| i.is_str()) => {
                Some(items.iter().filter_map(|i| i.as_str()).map(|s| s.trim().to_owned()).collect())
            }
            _ => {
                self.problem(key, "must be a list of strings");
                None
            }
        }
    }

    fn env_value(&mut self, key: &str, variable: &str) -> Option<SecretSpec> {
        match self.env.get(variable) {
            Some(value) if !value.is_empty() => {
                Some(SecretSpec::Env { name: variable.to_owned(), value: value.clone() })
            }
            Some(_) => {
                self.problem(key, format!("environment variable {variable} is empty"));
                None
            }
            None => {
                self.problem(key, format!("environment variable {variable} is not set"));
                None
            }
        }
    }

    /// `<base>`, `<base>_file` or `<base>_env` in the table at `table` (exactly one; `<base>` itself only when
    /// `literal_ok`).
    fn secret(&mut self, table: &str, base: &str, literal_ok: bool) -> Option<SecretSpec> {
        let (file_key, env_key) = (format!("{base}_file"), format!("{base}_env"));
        let literal = self.get(&[table, base]).map(|_| self.string(&[table, base]));
        let file = self.get(&[table, &file_key]).map(|_| self.string(&[table, &file_key]));
        let env = self.get(&[table, &env_key]).map(|_| self.string(&[table, &env_key]));
        let key = format!("{table}.{base}");
        match (literal, file, env) {
            (Some(value), None, None) if literal_ok => value.map(SecretSpec::Literal),
            (Some(_), None, None) => {
                self.problem(
                    &key,
                    format!("a secret is not written in the configuration file: use {file_key} or {env_key}"),
                );
                None
            }
            (None, Some(path), None) => path.map(|p| SecretSpec::File(p.into())),
            (None, None, Some(variable)) => self.env_value(&key, &variable?),
            (None, None, None) if literal_ok => {
                self.problem(&key, format!("is required ({base}, {file_key} or {env_key})"));
                None
            }
            (None, None, None) => {
                self.problem(&key, format!("is required ({file_key} or {env_key})"));
                None
            }
            _ => {
                self.problem(&key, format!("set one of {base}, {file_key} and {env_key}"));
                None
            }
        }
    }
}

fn shown_type(value: &toml::Value) -> &'static str {
    value.type_str()
}

fn valid_profile_name(name: &str) -> bool {
    (1..=64).contains(&name.len()) && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
}

impl Resolver {
    /// Every `[targets.<name>]` table; each is recorded for `check-config` with sources, never values.
    pub(super) fn targets(&mut self, env: &HashMap<String, String>) -> Vec<ProfileSpec> {
        let mut specs = Vec::new();
        for name in self.toml.table_keys(&["targets"]) {
            if !valid_profile_name(&name) {
                self.problems
                    .push(format!("targets.{name:?}: a profile name is 1 to 64 letters, digits, '_', '-' or '.'"));
                continue;
            }
            let mut table = Table { resolver: self, env, name: name.clone() };
            if let Some(spec) = table.profile() {
                specs.push(spec);
            }
        }
        let mut owners: HashMap<String, &str> = HashMap::new();
        let mut duplicates = Vec::new();
        for spec in &specs {
            for pattern in &spec.hosts {
                if let Some(other) = owners.insert(pattern.to_string(), &spec.name) {
                    duplicates.push(format!(
                        "targets.{}.hosts: {pattern} is also listed by targets.{other}: one host pattern, one profile",
                        spec.name
                    ));
                }
            }
        }
        self.problems.extend(duplicates);
        for spec in &specs {
            for (key, shown) in spec.describe() {
                self.record(key, shown, Source::File(format!("{} targets.{}", self.file_name, spec.name)));
            }
        }
        specs
    }
}

impl Table<'_> {
    fn profile(&mut self) -> Option<ProfileSpec> {
        let problems_before = self.resolver.problems.len();
        // An empty table is reported as a profile without hosts, not as an unknown key.
        self.get(&[]);
        let hosts = self.hosts();
        let max_requests = match self.get(&["max_requests"]) {
            None => None,
            Some(toml::Value::Integer(n)) if (1..=MAX_REQUESTS_LIMIT).contains(&n) => Some(n as usize),
            Some(_) => {
                self.problem("max_requests", format!("must be a whole number from 1 to {MAX_REQUESTS_LIMIT}"));
                None
            }
        };
        let headers = self.headers();
        let basic = self.get(&["basic"]).and_then(|_| {
            Some(BasicSpec {
                username: self.secret("basic", "username", true)?,
                password: self.secret("basic", "password", false)?,
            })
        });
        let oauth2 = self.get(&["oauth2"]).and_then(|_| self.oauth2());
        let (has_basic, has_oauth2) = (self.get(&["basic"]).is_some(), self.get(&["oauth2"]).is_some());
        if has_basic && has_oauth2 {
            self.problem("basic", "and oauth2 both set Authorization: use one");
        }
        let authorization_header = self.resolver.toml.table_keys(&["targets", &self.name, "headers"]);
        if (has_basic || has_oauth2) && authorization_header.iter().any(|h| h.eq_ignore_ascii_case("authorization")) {
            self.problem("headers.Authorization", "is set by basic or oauth2 already");
        }
        let tls = self.tls();
        let proxy = self.string(&["proxy"]).and_then(|text| match Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(SecretUrl(url)),
            _ => {
                self.problem(
                    "proxy",
                    format!("{}: must be an http:// or https:// URL with a host", crate::redact::url(&text)),
                );
                None
            }
        });
        let allow_task_headers = self.allow_task_headers();
        if self.resolver.problems.len() > problems_before {
            return None;
        }
        Some(ProfileSpec {
            name: self.name.clone(),
            hosts,
            max_requests,
            headers,
            basic,
            oauth2,
            tls,
            proxy,
            allow_task_headers,
        })
    }

    fn hosts(&mut self) -> Vec<TargetPattern> {
        let Some(listed) = self.strings("hosts") else {
            if self.get(&["hosts"]).is_none() {
                self.problem("hosts", "is required: the hosts whose requests get this profile's credentials");
            }
            return Vec::new();
        };
        if listed.is_empty() {
            self.problem("hosts", "is empty: list the hosts whose requests get this profile's credentials");
        }
        let mut hosts = Vec::new();
        for text in listed {
            match TargetPattern::parse(&text) {
                Ok(pattern) if pattern.host().as_str() == "*" => {
                    self.problem("hosts", "\"*\" would send this profile's credentials to any host a task names");
                }
                Ok(pattern) => hosts.push(pattern),
                Err(problem) => self.problem("hosts", problem),
            }
        }
        hosts
    }

    fn headers(&mut self) -> Vec<(String, SecretSpec)> {
        let mut headers = Vec::new();
        let names = self.resolver.toml.table_keys(&["targets", &self.name, "headers"]);
        if names.is_empty() && self.get(&["headers"]).is_some_and(|v| !v.is_table()) {
            self.problem("headers", "must be a table of header name = value");
        }
        for header in names {
            let key = format!("headers.{header}");
            if HeaderName::from_bytes(header.as_bytes()).is_err() {
                self.problem(&key, "is not a valid header name");
                continue;
            }
            if RESERVED_HEADERS.contains(&header.to_ascii_lowercase().as_str()) {
                self.problem(&key, "is set by the worker, not by a profile");
                continue;
            }
            let value = match self.get(&["headers", &header]) {
                Some(toml::Value::String(text)) => Some(SecretSpec::Literal(text)),
                Some(toml::Value::Table(source)) => match (source.get("file"), source.get("env"), source.len()) {
                    (Some(_), None, 1) => {
                        self.string(&["headers", &header, "file"]).map(|p| SecretSpec::File(p.into()))
                    }
                    (None, Some(_), 1) => {
                        let variable = self.string(&["headers", &header, "env"]);
                        variable.and_then(|v| self.env_value(&key, &v))
                    }
                    _ => {
                        self.problem(&key, "must be a string, { file = \"/path\" } or { env = \"NAME\" }");
                        None
                    }
                },
                _ => {
                    self.problem(&key, "must be a string, { file = \"/path\" } or { env = \"NAME\" }");
                    None
                }
            };
            let literal_ok = match &value {
                Some(SecretSpec::Literal(text)) => reqwest::header::HeaderValue::from_str(text).is_ok(),
                Some(SecretSpec::Env { value, .. }) => reqwest::header::HeaderValue::from_str(value).is_ok(),
                _ => true,
            };
            if !literal_ok {
                self.problem(&key, "contains characters not allowed in a header value");
            } else if let Some(value) = value {
                headers.push((header, value));
            }
        }
        headers
    }

    fn oauth2(&mut self) -> Option<OAuth2Spec> {
        let token_url = self.string(&["oauth2", "token_url"]);
        if token_url.is_none() && self.get(&["oauth2", "token_url"]).is_none() {
            self.problem("oauth2.token_url", "is required");
        }
        let token_url = token_url.and_then(|text| match Url::parse(&text) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.host().is_some() => Some(SecretUrl(url)),
            _ => {
                self.problem("oauth2.token_url", "must be an http:// or https:// URL with a host");
                None
            }
        });
        let client_id = self.secret("oauth2", "client_id", true);
        let client_secret = self.secret("oauth2", "client_secret", false);
        let scopes = match self.get(&["oauth2", "scopes"]) {
            None => Vec::new(),
            Some(toml::Value::Array(items)) if items.iter().all(|i| i.as_str().is_some_and(|s| !s.contains(' '))) => {
                items.iter().filter_map(|i| i.as_str()).map(str::to_owned).collect()
            }
            Some(_) => {
                self.problem("oauth2.scopes", "must be a list of scope names (no spaces)");
                Vec::new()
            }
        };
        let audience = self.get(&["oauth2", "audience"]).and_then(|_| self.string(&["oauth2", "audience"]));
        let client_auth = match self.get(&["oauth2", "client_auth"]).map(|_| self.string(&["oauth2", "client_auth"])) {
            None => ClientAuth::Basic,
            Some(Some(text)) if text == "basic" => ClientAuth::Basic,
            Some(Some(text)) if text == "body" => ClientAuth::Body,
            Some(_) => {
                self.problem("oauth2.client_auth", "must be \"basic\" or \"body\"");
                ClientAuth::Basic
            }
        };
        Some(OAuth2Spec {
            token_url: token_url?,
            client_id: client_id?,
            client_secret: client_secret?,
            scopes,
            audience,
            client_auth,
        })
    }

    fn tls(&mut self) -> TlsSpec {
        let mut file = |key: &str| self.get(&["tls", key]).and_then(|_| self.string(&["tls", key])).map(Into::into);
        let tls = TlsSpec {
            client_cert_file: file("client_cert_file"),
            client_key_file: file("client_key_file"),
            ca_file: file("ca_file"),
        };
        if tls.client_cert_file.is_some() != tls.client_key_file.is_some() {
            self.problem("tls", "client_cert_file and client_key_file go together");
        }
        tls
    }

    fn allow_task_headers(&mut self) -> TaskHeaders {
        let Some(names) = self.strings("allow_task_headers") else { return TaskHeaders::None };
        if names.iter().any(|n| n == "*") {
            return TaskHeaders::All;
        }
        let mut seen = HashSet::new();
        for name in &names {
            if HeaderName::from_bytes(name.as_bytes()).is_err() {
                self.problem("allow_task_headers", format!("{name:?} is not a header name"));
            }
            seen.insert(name.to_ascii_lowercase());
        }
        if seen.is_empty() { TaskHeaders::None } else { TaskHeaders::Named(seen.into_iter().collect()) }
    }
}
