//! IO setup: builds the [`HttpInvoker`] for target requests from the config, for the daemon and the `eval`
//! command alike.
//!
//! Owns: the target HTTP client's settings (pool, TLS roots, proxy, resolver, no redirects). Does not own: what a
//! request may reach ([`crate::outbound`]) or how one is sent ([`super::request`]).

use std::sync::Arc;

use anyhow::Context as _;

use super::request::{HttpInvoker, InvokerOptions};
use crate::config::Config;
use crate::outbound::guard::{Outbound, OutboundResolver};
use crate::outbound::host_limits::HostLimits;
use crate::outbound::local::LocalAddresses;

/// The invoker for target requests: its client resolves names through the outbound policy (which never lets a
/// task reach `own_ports` on this host), follows no redirects itself (the invoker checks every hop), ignores proxy
/// variables in the environment (only `http.proxy` is used), verifies TLS (with the extra CA bundle, if
/// configured) and shares one pool; per-host limits apply.
pub fn build_invoker(config: &Config, own_ports: Vec<u16>) -> anyhow::Result<HttpInvoker> {
    let policy = Arc::new(Outbound::new(
        config.security.policy.clone(),
        LocalAddresses::from_system(),
        config.http.proxy.as_ref().map(|p| &p.0),
    ));
    policy.set_own_ports(own_ports);
    let mut builder = reqwest::Client::builder()
        .pool_max_idle_per_host(config.limits.max_requests_per_host)
        .tcp_nodelay(true)
        .user_agent(concat!("conductor-http-worker/", env!("CARGO_PKG_VERSION")))
        .dns_resolver(Arc::new(OutboundResolver(policy.clone())))
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy();
    if let Some(proxy) = &config.http.proxy {
        let proxy = reqwest::Proxy::all(proxy.0.as_str()).with_context(|| format!("http.proxy {proxy}"))?;
        builder = builder.proxy(proxy);
    }
    if let Some(path) = &config.http.extra_ca_file {
        let pem = std::fs::read(path).with_context(|| format!("reading http.extra_ca_file {path}"))?;
        let certificates = reqwest::Certificate::from_pem_bundle(&pem)
            .with_context(|| format!("http.extra_ca_file {path} is not a PEM certificate bundle"))?;
        anyhow::ensure!(!certificates.is_empty(), "http.extra_ca_file {path} holds no certificate");
        for certificate in certificates {
            builder = builder.add_root_certificate(certificate);
        }
    }
    let client = builder.build().context("building the target HTTP client")?;
    let hosts = Arc::new(HostLimits::new(config.limits.max_requests_per_host, config.limits.hosts.clone()));
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
    };
    Ok(HttpInvoker::new(client, hosts, options))
}
