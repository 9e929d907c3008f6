//! IO: enforces the outbound policy on every target request, at two points.
//! - [`Outbound::admit`], before every request and every redirect hop, with the URL's port: IP literals are
//!   decided at once; a host name whose port is one of the worker's own listeners, or any host name when the
//!   request goes through a proxy (`http.proxy`, or a credential profile's), is resolved here and decided on each
//!   address (through a proxy every address must pass: the proxy picks one).
//! - [`OutboundResolver`], the HTTP client's resolver for direct connections: it returns only the addresses the
//!   policy allows, so the decision applies to the address actually connected to. For names `admit` resolved (an
//!   own port) it returns the addresses `admit` decided on, so a DNS answer that changes in between cannot point
//!   the connection at a listener of this worker.
//!
//! A client's proxy name is resolved without the policy (it is the operator's, not a task's): each client has its
//! own resolver, which knows that client's proxy and no other.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use tokio::time::Instant;
use url::{Host, Url};

use super::local::LocalAddresses;
use super::{Blocked, HostFacts, Target, TargetPolicy};

/// How long addresses decided by [`Outbound::admit`] are what the resolver returns for their name.
const PIN_FOR: Duration = Duration::from_secs(60);
/// Names pinned at once, at most (old ones are dropped first).
const MAX_PINS: usize = 1024;

/// The policy with what it needs at run time: this host's addresses and the worker's own ports.
#[derive(Debug)]
pub struct Outbound {
    rules: TargetPolicy,
    local: LocalAddresses,
    own_ports: RwLock<Vec<u16>>,
    pins: Mutex<HashMap<String, (Instant, Vec<IpAddr>)>>,
}

impl Outbound {
    /// Enforces `rules`.
    pub fn new(rules: TargetPolicy, local: LocalAddresses) -> Self {
        Self { rules, local, own_ports: RwLock::default(), pins: Mutex::default() }
    }

    /// The ports the worker listens on (known once its listeners are bound).
    pub fn set_own_ports(&self, ports: Vec<u16>) {
        *self.own_ports.write().unwrap_or_else(PoisonError::into_inner) = ports;
    }

    fn decide(&self, target: Target<'_>) -> Result<(), Blocked> {
        let local = self.local.get();
        let own_ports = self.own_ports.read().unwrap_or_else(PoisonError::into_inner);
        self.rules.decide(target, &HostFacts { local: &local, own_ports: &own_ports })
    }

    fn is_own_port(&self, port: u16) -> bool {
        self.own_ports.read().unwrap_or_else(PoisonError::into_inner).contains(&port)
    }

    /// Whether a request to `url` may be sent, directly or (`proxied`) through a proxy (see the module docs for
    /// what is resolved here).
    pub async fn admit(&self, url: &Url, proxied: bool) -> Result<(), Blocked> {
        let port = url.port_or_known_default();
        let name = match url.host() {
            None => return Err(Blocked("the URL has no host".into())),
            Some(Host::Ipv4(ip)) => return self.decide(Target { name: None, ip: IpAddr::V4(ip), port }),
            Some(Host::Ipv6(ip)) => return self.decide(Target { name: None, ip: IpAddr::V6(ip), port }),
            Some(Host::Domain(name)) => name.trim_end_matches('.').to_ascii_lowercase(),
        };
        self.rules.check_name(&name)?;
        let own_port = port.is_some_and(|port| self.is_own_port(port));
        if !own_port && !proxied {
            return Ok(()); // the resolver decides on the addresses it connects to
        }
        let resolved: Vec<IpAddr> = match tokio::net::lookup_host((name.as_str(), port.unwrap_or(0))).await {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            // A name only the proxy can resolve: decided on the name alone (the proxy connects, not the worker).
            Err(_) if proxied && !own_port => return self.decide_name_only(&name),
            Err(error) => return Err(Blocked(format!("{name} could not be resolved to check it: {error}"))),
        };
        let decisions: Vec<_> =
            resolved.iter().map(|ip| (*ip, self.decide(Target { name: Some(&name), ip: *ip, port }))).collect();
        if proxied {
            return decisions.into_iter().map(|(_, decision)| decision).find(Result::is_err).unwrap_or(Ok(()));
        }
        let allowed: Vec<IpAddr> = decisions.iter().filter(|(_, d)| d.is_ok()).map(|(ip, _)| *ip).collect();
        if allowed.is_empty() {
            let refusal = decisions.into_iter().find_map(|(_, decision)| decision.err());
            return Err(refusal.unwrap_or_else(|| Blocked(format!("{name} has no address"))));
        }
        self.pin(name, allowed);
        Ok(())
    }

    /// A name that could not be resolved here: allowed unless allow rules exist and it matches none of them.
    fn decide_name_only(&self, name: &str) -> Result<(), Blocked> {
        let rules = &self.rules;
        let restricted = !rules.allow_hosts.is_empty() || !rules.allow_cidrs.is_empty();
        if restricted && !rules.allow_hosts.iter().any(|p| p.matches(name)) {
            return Err(Blocked(format!("host {name} (not resolvable here) is not in the allow lists")));
        }
        Ok(())
    }

    fn pin(&self, name: String, addresses: Vec<IpAddr>) {
        let mut pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        if pins.len() >= MAX_PINS {
            pins.retain(|_, (at, _)| at.elapsed() < PIN_FOR);
            if pins.len() >= MAX_PINS {
                pins.clear();
            }
        }
        pins.insert(name, (Instant::now(), addresses));
    }

    fn pinned(&self, name: &str) -> Option<Vec<IpAddr>> {
        let pins = self.pins.lock().unwrap_or_else(PoisonError::into_inner);
        pins.get(name).filter(|(at, _)| at.elapsed() < PIN_FOR).map(|(_, addresses)| addresses.clone())
    }

    /// The addresses a connection to `name` may use; `proxy_host` is the name of the client's proxy, if any.
    async fn resolve(
        &self,
        name: &str,
        proxy_host: Option<&str>,
    ) -> Result<Vec<SocketAddr>, Box<dyn std::error::Error + Send + Sync>> {
        if let Some(pinned) = self.pinned(name) {
            return Ok(pinned.into_iter().map(|ip| SocketAddr::new(ip, 0)).collect());
        }
        let resolved: Vec<SocketAddr> = tokio::net::lookup_host((name, 0)).await?.collect();
        if proxy_host == Some(name) {
            return Ok(resolved);
        }
        let mut refusal = None;
        let allowed: Vec<SocketAddr> = resolved
            .into_iter()
            .filter(|addr| match self.decide(Target { name: Some(name), ip: addr.ip(), port: None }) {
                Ok(()) => true,
                Err(blocked) => {
                    refusal = Some(blocked);
                    false
                }
            })
            .collect();
        if allowed.is_empty() {
            return Err(Box::new(refusal.unwrap_or_else(|| Blocked(format!("{name} has no address")))));
        }
        Ok(allowed)
    }
}

/// An HTTP client's resolver: only addresses the policy allows, except for the client's own proxy (see the module
/// docs).
#[derive(Debug, Clone)]
pub struct OutboundResolver {
    outbound: Arc<Outbound>,
    proxy_host: Option<Arc<str>>,
}

impl OutboundResolver {
    /// The resolver of a client that connects directly (`proxy` absent) or through `proxy`.
    pub fn new(outbound: Arc<Outbound>, proxy: Option<&Url>) -> Self {
        let proxy_host = proxy.and_then(Url::host_str).map(|h| h.trim_end_matches('.').to_ascii_lowercase().into());
        Self { outbound, proxy_host }
    }
}

impl reqwest::dns::Resolve for OutboundResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let (outbound, proxy_host) = (self.outbound.clone(), self.proxy_host.clone());
        Box::pin(async move {
            let name = name.as_str().trim_end_matches('.').to_ascii_lowercase();
            let addrs = outbound.resolve(&name, proxy_host.as_deref()).await?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outbound::Cidr;
    use reqwest::dns::Resolve;

    fn outbound(allow_loopback: bool) -> Outbound {
        let mut rules = TargetPolicy::default_deny_metadata();
        rules.allow_loopback = allow_loopback;
        let outbound = Outbound::new(rules, LocalAddresses::fixed(vec![]));
        outbound.set_own_ports(vec![9192]);
        outbound
    }

    async fn admit(outbound: &Outbound, url: &str) -> Result<(), Blocked> {
        outbound.admit(&Url::parse(url).unwrap(), false).await
    }

    async fn admit_proxied(outbound: &Outbound, url: &str) -> Result<(), Blocked> {
        outbound.admit(&Url::parse(url).unwrap(), true).await
    }

    #[tokio::test]
    async fn own_listeners_are_refused_by_address_and_by_name() {
        let outbound = outbound(true);
        for url in [
            "http://127.0.0.1:9192/task-types/HTTP_POLL/pause",
            "http://localhost:9192/",
            "http://LOCALHOST.:9192/",
            "http://0.0.0.0:9192/",
            "http://[::]:9192/",
            "http://[::1]:9192/",
            "http://[::ffff:127.0.0.1]:9192/",
            "http://0x7f.1:9192/",
            "http://2130706433:9192/",
            "http://127.000.000.001:9192/",
        ] {
            let refusal = admit(&outbound, url).await.expect_err(url);
            assert!(refusal.0.contains("own listeners"), "{url}: {refusal}");
        }
        assert!(admit(&outbound, "http://127.0.0.1:8080/").await.is_ok(), "allow_loopback opens other ports");
        assert!(admit(&outbound, "http://localhost:8080/").await.is_ok());
    }

    #[tokio::test]
    async fn the_resolver_keeps_to_what_admit_decided_and_to_the_rules() {
        let mut rules = TargetPolicy::default_deny_metadata();
        rules.deny_cidrs.push(Cidr::parse("::1/128").unwrap());
        rules.allow_loopback = true;
        let outbound = Arc::new(Outbound::new(rules, LocalAddresses::fixed(vec![])));
        outbound.set_own_ports(vec![9192]);
        // Pinned by admit: what the resolver hands out for the name, whatever DNS says later.
        outbound.pin("rebinding.example".into(), vec!["192.0.2.7".parse().unwrap()]);
        let resolver = OutboundResolver::new(outbound.clone(), None);
        let addrs: Vec<_> = resolver.resolve("rebinding.example".parse().unwrap()).await.unwrap().collect();
        assert_eq!(addrs, vec!["192.0.2.7:0".parse::<SocketAddr>().unwrap()]);
        let addrs: Vec<_> = resolver.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_ipv4()), "::1 is denied: {addrs:?}");

        let default = OutboundResolver::new(Arc::new(self::outbound(false)), None);
        let error = match default.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(error) => error,
        };
        assert!(super::super::find_blocked(error.as_ref()).is_some_and(|b| b.0.contains("allow_loopback")), "{error}");
    }

    #[tokio::test]
    async fn through_a_proxy_every_address_of_the_target_is_checked_first() {
        let outbound = outbound(false);
        let refusal = admit_proxied(&outbound, "http://169.254.169.254/latest/meta-data").await.unwrap_err();
        assert!(refusal.0.contains("denied range"), "{refusal}");
        let refusal = admit_proxied(&outbound, "http://localhost/").await.unwrap_err();
        assert!(refusal.0.contains("belongs to this host"), "resolved here, refused before the proxy: {refusal}");
        assert!(admit_proxied(&outbound, "http://only-the-proxy-resolves.invalid/").await.is_ok(), "decided by name");
        let mut rules = TargetPolicy::default_deny_metadata();
        rules.allow_hosts.push(crate::outbound::HostPattern::parse("allowed.example").unwrap());
        let strict = Outbound::new(rules, LocalAddresses::fixed(vec![]));
        let refusal = admit_proxied(&strict, "http://elsewhere.invalid/").await.unwrap_err();
        assert!(refusal.0.contains("not in the allow lists"), "{refusal}");
    }
}
