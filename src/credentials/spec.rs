//! Pure: a credential profile as the configuration describes it (`[targets.<name>]`): which hosts it covers and
//! where each secret comes from. No secret is read here except those the loader was given (environment values);
//! files are read when the profiles are built ([`super::Profiles::build`]) and re-read when they change.
//!
//! Owns: the profile's shape and how it is shown (`Debug` and `check-config` name sources, never values). Does not
//! own: parsing the TOML (`crate::config`) or using a profile ([`super::profile`]).

use std::fmt;
use std::path::PathBuf;

use crate::outbound::TargetPattern;
use crate::redact::SecretUrl;

/// Where one secret (or configured value) comes from.
#[derive(Clone, PartialEq, Eq)]
pub enum SecretSpec {
    /// Written in the configuration file (for values that are not secret, such as a tenant name).
    Literal(String),
    /// An environment variable, read when the configuration was loaded.
    Env {
        /// The variable's name.
        name: String,
        /// Its value.
        value: String,
    },
    /// A file (a Kubernetes Secret mount), read at start and again whenever it changes.
    File(PathBuf),
}

impl SecretSpec {
    /// Where the value comes from, without the value: `literal`, `env BILLING_ENV`, `file /run/secrets/key`.
    pub fn source(&self) -> String {
        match self {
            SecretSpec::Literal(_) => "literal".to_owned(),
            SecretSpec::Env { name, .. } => format!("env {name}"),
            SecretSpec::File(path) => format!("file {}", path.display()),
        }
    }

    /// Whether the value is a secret that must be kept out of responses: file and environment values are;
    /// literals are configuration (documented: put secrets in files or variables).
    pub fn is_secret(&self) -> bool {
        !matches!(self, SecretSpec::Literal(_))
    }
}

impl fmt::Debug for SecretSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{}>", self.source())
    }
}

/// `basic = { username = ..., password_file = ... }`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BasicSpec {
    /// The user name.
    pub username: SecretSpec,
    /// The password.
    pub password: SecretSpec,
}

/// How the client authenticates to the token endpoint (RFC 6749 §2.3.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuth {
    /// HTTP Basic with the form-encoded client id and secret (`client_secret_basic`, the default).
    Basic,
    /// `client_id` and `client_secret` in the form body (`client_secret_post`).
    Body,
}

/// `oauth2 = { ... }`: the client-credentials grant (RFC 6749 §4.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OAuth2Spec {
    /// The token endpoint (the operator's: reached directly, outside the task policy).
    pub token_url: SecretUrl,
    /// The client id.
    pub client_id: SecretSpec,
    /// The client secret.
    pub client_secret: SecretSpec,
    /// `scope`, space-joined in the request.
    pub scopes: Vec<String>,
    /// `audience`, for identity providers that ask for one.
    pub audience: Option<String>,
    /// How the client authenticates.
    pub client_auth: ClientAuth,
}

/// `tls = { ... }`: PEM files.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TlsSpec {
    /// The client certificate chain, with `client_key_file`, for mutual TLS.
    pub client_cert_file: Option<PathBuf>,
    /// The client certificate's private key.
    pub client_key_file: Option<PathBuf>,
    /// CA certificates trusted for this profile's hosts only (besides the system roots and `http.extra_ca_file`).
    pub ca_file: Option<PathBuf>,
}

impl TlsSpec {
    /// The files, to watch for changes.
    pub fn files(&self) -> impl Iterator<Item = &PathBuf> {
        [&self.client_cert_file, &self.client_key_file, &self.ca_file].into_iter().flatten()
    }
}

/// Which of a profile's headers a task's own header of the same name replaces.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum TaskHeaders {
    /// None: the profile's headers always win (the default).
    #[default]
    None,
    /// These (lower-case names).
    Named(Vec<String>),
    /// Every one (`["*"]`).
    All,
}

impl TaskHeaders {
    /// Whether a task's header `name` (lower case) replaces the profile's.
    pub fn allows(&self, name: &str) -> bool {
        match self {
            TaskHeaders::None => false,
            TaskHeaders::Named(names) => names.iter().any(|n| n == name),
            TaskHeaders::All => true,
        }
    }
}

/// One `[targets.<name>]` table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileSpec {
    /// The table's name, which tasks use in `http_request.credentials`.
    pub name: String,
    /// The hosts it covers (never `*`).
    pub hosts: Vec<TargetPattern>,
    /// Concurrent requests to each `host:port` it covers (instead of `limits.max_requests_per_host`).
    pub max_requests: Option<usize>,
    /// Headers added to every request it covers.
    pub headers: Vec<(String, SecretSpec)>,
    /// HTTP Basic authentication.
    pub basic: Option<BasicSpec>,
    /// OAuth2 client credentials.
    pub oauth2: Option<OAuth2Spec>,
    /// Client certificate and CA bundle.
    pub tls: TlsSpec,
    /// The proxy its requests go through (instead of `http.proxy`).
    pub proxy: Option<SecretUrl>,
    /// Which of its headers a task may replace.
    pub allow_task_headers: TaskHeaders,
}

impl ProfileSpec {
    /// What `check-config` prints for the profile: every part with where it comes from, never a value.
    pub fn describe(&self) -> Vec<(String, String)> {
        let key = |part: &str| format!("targets.{}.{part}", self.name);
        let mut lines = vec![(key("hosts"), self.hosts.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))];
        if let Some(max) = self.max_requests {
            lines.push((key("max_requests"), max.to_string()));
        }
        for (name, value) in &self.headers {
            lines.push((key(&format!("headers.{name}")), format!("<{}>", value.source())));
        }
        if let Some(basic) = &self.basic {
            let shown = format!("username <{}>, password <{}>", basic.username.source(), basic.password.source());
            lines.push((key("basic"), shown));
        }
        if let Some(oauth2) = &self.oauth2 {
            let shown = format!(
                "token_url {}, client_id <{}>, client_secret <{}>, scopes [{}], client_auth {:?}",
                oauth2.token_url,
                oauth2.client_id.source(),
                oauth2.client_secret.source(),
                oauth2.scopes.join(" "),
                oauth2.client_auth
            );
            lines.push((key("oauth2"), shown));
        }
        for (part, file) in [
            ("tls.client_cert_file", &self.tls.client_cert_file),
            ("tls.client_key_file", &self.tls.client_key_file),
            ("tls.ca_file", &self.tls.ca_file),
        ] {
            if let Some(file) = file {
                lines.push((key(part), format!("<file {}>", file.display())));
            }
        }
        if let Some(proxy) = &self.proxy {
            lines.push((key("proxy"), proxy.to_string()));
        }
        lines
    }
}
