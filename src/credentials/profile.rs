//! IO: one credential profile at run time. It adds its headers, Basic or OAuth2 `Authorization` to a request it
//! covers ([`Profile::apply`]), and sends through its own client when it has TLS material or a proxy
//! ([`Profile::client`], rebuilt when a TLS file changes).
//!
//! A task's header of the same name as one the profile sets is replaced, unless the profile's
//! `allow_task_headers` names it. Secret values applied (file and environment values, the password, the token)
//! are returned, so that a response echoing them can be redacted.
//!
//! Owns: applying a profile. Does not own: choosing it ([`super::Profiles::select`]) or following redirects
//! (`crate::http_poll::request`, which applies a profile only to hops on the host it was chosen for).

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use tokio::time::Instant;

use base64::Engine as _;
use reqwest::header::{AUTHORIZATION, HeaderMap, HeaderName, HeaderValue};
use url::Url;

use super::oauth2::OAuth2;
use super::secret::{FileStamp, RECHECK, Secret};
use super::spec::{ProfileSpec, TaskHeaders};
use crate::metrics::CredentialMetrics;
use crate::outbound::TargetPattern;
use crate::outbound::clients::{ClientSettings, TlsFiles};

/// What applying a profile to one request added.
#[derive(Debug, Default)]
pub struct Applied {
    /// Values a response must not echo.
    pub secrets: Vec<Arc<str>>,
    /// The OAuth2 token sent, to reject if the target answers 401.
    pub token: Option<Arc<str>>,
}

/// A profile at run time.
#[derive(Debug)]
pub struct Profile {
    name: String,
    hosts: Vec<TargetPattern>,
    headers: Vec<(HeaderName, Secret, bool)>,
    basic: Option<(Secret, Secret)>,
    oauth2: Option<OAuth2>,
    allow_task_headers: TaskHeaders,
    client: Option<ProfileClient>,
    proxied: bool,
}

impl Profile {
    /// Builds `spec`'s profile: reads its files, builds its clients. Every problem is returned, each naming the
    /// profile and the file or part.
    pub fn build(
        spec: &ProfileSpec,
        clients: &ClientSettings,
        default_proxy: Option<&Url>,
        metrics: CredentialMetrics,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let name = &spec.name;
        let mut secret = |part: &str, spec| match Secret::load(spec) {
            Ok(secret) => Some(secret),
            Err(problem) => {
                problems.push(format!("targets.{name}.{part}: {problem}"));
                None
            }
        };
        let headers: Vec<_> = spec
            .headers
            .iter()
            .filter_map(|(header, value)| {
                let loaded = secret(&format!("headers.{header}"), value)?;
                Some((HeaderName::from_bytes(header.as_bytes()).ok()?, loaded, value.is_secret()))
            })
            .collect();
        let basic =
            spec.basic.as_ref().and_then(|b| Some((secret("basic", &b.username)?, secret("basic", &b.password)?)));
        let proxy = spec.proxy.as_ref().map(|p| &p.0).or(default_proxy);
        let tls = &spec.tls;
        let files = TlsFiles {
            cert: tls.client_cert_file.as_deref(),
            key: tls.client_key_file.as_deref(),
            ca: tls.ca_file.as_deref(),
        };
        let oauth2 = spec.oauth2.as_ref().and_then(|o| {
            let http = clients.token_endpoint(files).map_err(|p| problems.push(format!("targets.{name}.oauth2: {p}")));
            OAuth2::new(name, o, http.ok()?, metrics.clone())
                .map_err(|p| problems.push(format!("targets.{name}.oauth2: {p}")))
                .ok()
        });
        let own_client = spec.proxy.is_some() || tls.files().next().is_some();
        let client = own_client
            .then(|| ProfileClient::new(clients, proxy.cloned(), spec))
            .and_then(|built| built.map_err(|p| problems.push(format!("targets.{name}.tls: {p}"))).ok());
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(Self {
            name: name.clone(),
            hosts: spec.hosts.clone(),
            headers,
            basic,
            oauth2,
            allow_task_headers: spec.allow_task_headers.clone(),
            client,
            proxied: proxy.is_some(),
        })
    }

    /// The profile's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its host patterns.
    pub fn hosts(&self) -> &[TargetPattern] {
        &self.hosts
    }

    /// Whether it covers requests to `url`.
    pub fn covers(&self, url: &Url) -> bool {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        self.hosts.iter().any(|p| p.matches(&host, url.port_or_known_default()))
    }

    /// Its own client (TLS material or a proxy), if it has one: the default client serves it otherwise.
    pub fn client(&self) -> Option<reqwest::Client> {
        self.client.as_ref().map(ProfileClient::current)
    }

    /// Whether its requests go through a proxy.
    pub fn proxied(&self) -> bool {
        self.proxied
    }

    /// Adds the profile's headers and `Authorization` to `headers` (a token is fetched if none is cached). The
    /// error names the profile and the part, never a value.
    pub async fn apply(&self, headers: &mut HeaderMap) -> Result<Applied, String> {
        let mut applied = Applied::default();
        for (name, secret, is_secret) in &self.headers {
            self.set(headers, name, &secret.value(), *is_secret, &mut applied)?;
        }
        let task_keeps_authorization =
            headers.contains_key(AUTHORIZATION) && self.allow_task_headers.allows(AUTHORIZATION.as_str());
        if task_keeps_authorization {
            return Ok(applied);
        }
        if let Some((username, password)) = &self.basic {
            let password = password.value();
            let pair = format!("{}:{password}", username.value());
            let value = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair));
            self.set(headers, &AUTHORIZATION, &value, true, &mut applied)?;
            applied.secrets.push(password);
        }
        if let Some(oauth2) = &self.oauth2 {
            let token =
                oauth2.token().await.map_err(|reason| format!("credentials profile {:?}: {reason}", self.name))?;
            self.set(headers, &AUTHORIZATION, &format!("Bearer {token}"), true, &mut applied)?;
            applied.secrets.push(token.clone());
            applied.token = Some(token);
        }
        Ok(applied)
    }

    /// A target answered 401 to `token`: the next request fetches a new one.
    pub async fn reject(&self, token: &str) {
        if let Some(oauth2) = &self.oauth2 {
            oauth2.reject(token).await;
        }
    }

    fn set(
        &self,
        headers: &mut HeaderMap,
        name: &HeaderName,
        value: &str,
        is_secret: bool,
        applied: &mut Applied,
    ) -> Result<(), String> {
        if headers.contains_key(name) && self.allow_task_headers.allows(name.as_str()) {
            return Ok(());
        }
        let mut header = HeaderValue::from_str(value).map_err(|_| {
            format!("credentials profile {:?}: the value of header {name} is not valid in a header", self.name)
        })?;
        if is_secret {
            header.set_sensitive(true);
            applied.secrets.push(value.into());
        }
        headers.insert(name.clone(), header);
        Ok(())
    }
}

/// A profile's own client, rebuilt when one of its TLS files changes (checked at most once per [`RECHECK`]); a
/// rebuild that fails keeps the client it had, with a warning.
struct ProfileClient {
    clients: ClientSettings,
    proxy: Option<Url>,
    files: [Option<PathBuf>; 3],
    state: Mutex<ClientState>,
}

struct ClientState {
    client: reqwest::Client,
    stamps: Vec<Option<FileStamp>>,
    checked: Instant,
}

impl std::fmt::Debug for ProfileClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileClient").field("files", &self.files).finish_non_exhaustive()
    }
}

impl ProfileClient {
    fn new(clients: &ClientSettings, proxy: Option<Url>, spec: &ProfileSpec) -> Result<Self, String> {
        let tls = &spec.tls;
        let files = [tls.client_cert_file.clone(), tls.client_key_file.clone(), tls.ca_file.clone()];
        let mut built = Self {
            clients: clients.clone(),
            proxy,
            files,
            state: Mutex::new(ClientState {
                client: reqwest::Client::new(),
                stamps: Vec::new(),
                checked: Instant::now(),
            }),
        };
        let (client, stamps) = built.build()?;
        *built.state.get_mut().unwrap_or_else(PoisonError::into_inner) =
            ClientState { client, stamps, checked: Instant::now() };
        Ok(built)
    }

    fn stamps(&self) -> Vec<Option<FileStamp>> {
        self.files.iter().map(|f| f.as_deref().and_then(|f| FileStamp::of(f).ok())).collect()
    }

    fn build(&self) -> Result<(reqwest::Client, Vec<Option<FileStamp>>), String> {
        let stamps = self.stamps();
        let [cert, key, ca] = &self.files;
        let tls = TlsFiles { cert: cert.as_deref(), key: key.as_deref(), ca: ca.as_deref() };
        Ok((self.clients.target(self.proxy.as_ref(), tls)?, stamps))
    }

    fn current(&self) -> reqwest::Client {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.checked.elapsed() >= RECHECK {
            state.checked = Instant::now();
            if self.stamps() != state.stamps {
                match self.build() {
                    Ok((client, stamps)) => {
                        tracing::info!(files = ?self.files, "TLS files changed: new connections use them.");
                        state.client = client;
                        state.stamps = stamps;
                    }
                    Err(problem) => {
                        // Warned once per change of the files, not on every request.
                        state.stamps = self.stamps();
                        tracing::warn!("{problem}; keeping the TLS material read before");
                    }
                }
            }
        }
        state.client.clone()
    }
}
