//! Credentials for target APIs, held by the worker and never by the workflow: named profiles
//! (`[targets.<name>]`) that add headers, HTTP Basic or OAuth2 client-credentials tokens, a client certificate, CA
//! certificates and a proxy to the requests whose host they cover.
//!
//! Which profile applies ([`Profiles::select`]): the one a task names (`http_request.credentials`), which must
//! cover the request's host, or else the one whose host pattern matches the host most specifically. A task can
//! never send a profile's credentials to a host the profile does not cover, and the invoker applies a profile only
//! to redirect hops on the host it was chosen for.
//!
//! Secrets go nowhere: `Debug` and `check-config` show where a value comes from, never the value; errors name the
//! profile and the part; applied secret values are redacted from responses that echo them.
//!
//! Owns: the profiles, their secrets and tokens. Does not own: sending requests (`crate::http_poll::request`),
//! parsing the configuration (`crate::config`) or the clients' common settings (`crate::outbound::clients`).

pub mod oauth2;
pub mod profile;
pub mod secret;
pub mod spec;

use std::sync::Arc;

use url::Url;

use crate::metrics::CredentialMetrics;
use crate::outbound::clients::ClientSettings;
use crate::outbound::most_specific;
pub use profile::{Applied, Profile};
pub use spec::ProfileSpec;

/// Why a task's request may not use the credentials it asked for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Refused(pub String);

/// Every profile of the process.
#[derive(Debug, Default)]
pub struct Profiles {
    profiles: Vec<Arc<Profile>>,
}

impl Profiles {
    /// No profiles.
    pub fn none() -> Self {
        Self::default()
    }

    /// Builds every profile (reading its files, building its clients); requests without a proxy of their profile's
    /// go through `default_proxy`. Every problem of every profile is returned.
    pub fn build(
        specs: &[ProfileSpec],
        clients: &ClientSettings,
        default_proxy: Option<&Url>,
        metrics: &CredentialMetrics,
    ) -> Result<Self, Vec<String>> {
        let mut problems = Vec::new();
        let mut profiles = Vec::new();
        for spec in specs {
            match Profile::build(spec, clients, default_proxy, metrics.clone()) {
                Ok(profile) => profiles.push(Arc::new(profile)),
                Err(found) => problems.extend(found),
            }
        }
        if problems.is_empty() { Ok(Self { profiles }) } else { Err(problems) }
    }

    /// Whether there are any.
    pub fn is_empty(&self) -> bool {
        self.profiles.is_empty()
    }

    /// The profile for a request to `url`: `named` (which must exist and cover the host), else the most specific
    /// match, else none.
    pub fn select(&self, url: &Url, named: Option<&str>) -> Result<Option<Arc<Profile>>, Refused> {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        let port = url.port_or_known_default();
        let Some(name) = named else {
            let candidates = self.profiles.iter().flat_map(|p| p.hosts().iter().map(move |h| (h, p)));
            return Ok(most_specific(candidates, &host, port).cloned());
        };
        match self.profiles.iter().find(|p| p.name() == name) {
            None => Err(Refused(format!("http_request.credentials: there is no credentials profile {name:?}"))),
            Some(profile) if profile.covers(url) => Ok(Some(profile.clone())),
            Some(_) => Err(Refused(format!(
                "http_request.credentials: credentials profile {name:?} does not cover host {host}; its credentials \
                 are only sent to the hosts it lists"
            ))),
        }
    }
}

#[cfg(test)]
mod tests;
