//! IO setup: builds the [`HttpInvoker`] for target requests from the config, for the daemon and the `eval`
//! command alike.
//!
//! Owns: assembling the invoker: the policy, the default client, the credential profiles (with their own
//! clients) and the per-host limits. Does not own: how a client is configured ([`crate::outbound::clients`]), what
//! a request may reach ([`crate::outbound`]) or how one is sent ([`super::request`]).

use std::sync::Arc;

use anyhow::Context as _;

use super::request::{HttpInvoker, InvokerOptions};
use crate::config::Config;
use crate::credentials::Profiles;
use crate::metrics::CredentialMetrics;
use crate::outbound::clients::{ClientSettings, TlsFiles, read_certificates};
use crate::outbound::guard::Outbound;
use crate::outbound::host_limits::HostLimits;
use crate::outbound::local::LocalAddresses;

/// The invoker for target requests: its clients resolve names through the outbound policy (which never lets a
/// task reach `own_ports` on this host), follow no redirects themselves (the invoker checks every hop), ignore
/// proxy variables in the environment (only `http.proxy` and the profiles' `proxy` are used) and verify TLS (with
/// the extra CA bundle, if configured); per-host limits apply; credential profiles are read now (every problem is
/// listed in the error).
pub fn build_invoker(config: &Config, own_ports: Vec<u16>, metrics: CredentialMetrics) -> anyhow::Result<HttpInvoker> {
    let policy = Arc::new(Outbound::new(config.security.policy.clone(), LocalAddresses::from_system()));
    policy.set_own_ports(own_ports);
    let extra_roots = match &config.http.extra_ca_file {
        Some(path) => read_certificates(path.as_ref()).map_err(|e| anyhow::anyhow!("http.extra_ca_file: {e}"))?,
        None => Vec::new(),
    };
    let clients = ClientSettings {
        outbound: policy.clone(),
        pool_max_idle_per_host: config.limits.max_requests_per_host,
        extra_roots,
    };
    let default_proxy = config.http.proxy.as_ref().map(|p| &p.0);
    let client = clients
        .target(default_proxy, TlsFiles::default())
        .map_err(|e| anyhow::anyhow!("http: {e}"))
        .context("building the target HTTP client")?;
    let profiles = Profiles::build(&config.targets, &clients, default_proxy, &metrics).map_err(|problems| {
        let count = problems.len();
        anyhow::anyhow!(
            "credential profiles ({count} problem{}):\n  - {}",
            if count == 1 { "" } else { "s" },
            problems.join("\n  - ")
        )
    })?;
    let profile_limits: Vec<_> = config
        .targets
        .iter()
        .filter_map(|t| t.max_requests.map(|limit| (t, limit)))
        .flat_map(|(t, limit)| t.hosts.iter().map(move |h| (h.clone(), limit)))
        .collect();
    let hosts =
        Arc::new(HostLimits::new(config.limits.max_requests_per_host, config.limits.hosts.clone(), profile_limits));
    let idempotency_key_header = config
        .http
        .idempotency_key_header
        .as_deref()
        .map(|name| reqwest::header::HeaderName::from_bytes(name.as_bytes()))
        .transpose()
        .context("http.idempotency_key_header")?;
    let options = InvokerOptions {
        max_body_bytes: config.http.max_response_body_bytes,
        sensitive_headers: config.http.sensitive_headers.clone(),
        idempotency_key_header,
        policy,
        proxied: default_proxy.is_some(),
        profiles: Arc::new(profiles),
    };
    Ok(HttpInvoker::new(client, hosts, options))
}
