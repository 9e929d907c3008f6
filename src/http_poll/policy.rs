//! The outbound host policy: which targets task requests may reach, by host name pattern and by address range.
//!
//! A request is allowed when no deny rule matches its host name or the address it connects to, and, if any allow
//! rule exists, its host name matches an allow pattern or its address is in an allow range. Link-local and cloud
//! metadata addresses (169.254.0.0/16, fe80::/10, fd00:ec2::254) are denied by default.
//!
//! Enforcement (see [`PolicyResolver`]): host names are resolved by the policy itself and only allowed addresses
//! are handed to the connector, so the decision applies to the address actually used (a DNS answer that changes
//! between check and connect cannot slip through); IP-literal URLs, which skip resolution, are checked before the
//! request and on every redirect ([`TargetPolicy::check_url`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use url::{Host, Url};

/// Address ranges denied unless `deny_link_local_and_metadata` is turned off.
pub const METADATA_RANGES: [&str; 3] = ["169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128"];

/// An address range, `a.b.c.d/n` or `x:y::/n` (a bare address is a single-address range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `10.0.0.0/8`, `fd00::/8`, `192.168.1.7`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let (address, prefix) = match text.trim().split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text.trim(), None),
        };
        let network: IpAddr = address.parse().map_err(|_| format!("{text:?} is not an IP address or range"))?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("{text:?} has an invalid prefix length"))?,
        };
        Ok(Self { network, prefix })
    }

    /// Whether `ip` is in the range (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_match(u128::from(net.to_bits()) << 96, u128::from(ip.to_bits()) << 96, self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => prefix_match(net.to_bits(), ip.to_bits(), self.prefix),
            _ => false,
        }
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn prefix_match(network: u128, ip: u128, prefix: u8) -> bool {
    prefix == 0 || (network ^ ip) >> (128 - u32::from(prefix)) == 0
}

/// `::ffff:a.b.c.d` as `a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// A host name pattern: `api.example.com`, `*.example.com` (any subdomain) or `*` (any name).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostPattern(String);

impl HostPattern {
    /// Parses a pattern (lower-cased).
    pub fn parse(text: &str) -> Result<Self, String> {
        let raw = text.trim();
        if raw.ends_with("*.") {
            return Err(format!("{text:?} is not a host name pattern (name, *.domain or *)"));
        }
        let pattern = raw.trim_end_matches('.').to_ascii_lowercase();
        let body = pattern.strip_prefix("*.").unwrap_or(&pattern);
        let valid = pattern == "*"
            || (!body.is_empty() && body.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.'));
        if valid {
            Ok(Self(pattern))
        } else {
            Err(format!("{text:?} is not a host name pattern (name, *.domain or *)"))
        }
    }

    /// Whether `host` (a name, lower case) matches.
    pub fn matches(&self, host: &str) -> bool {
        let host = host.trim_end_matches('.');
        match self.0.strip_prefix("*.") {
            _ if self.0 == "*" => true,
            Some(domain) => {
                host.len() > domain.len() && host.ends_with(domain) && host[..host.len() - domain.len()].ends_with('.')
            }
            None => host == self.0,
        }
    }
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("blocked by the outbound host policy: {0}")]
pub struct Blocked(pub String);

/// The policy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TargetPolicy {
    /// Allowed host names (empty with empty `allow_cidrs`: everything not denied is allowed).
    pub allow_hosts: Vec<HostPattern>,
    /// Denied host names.
    pub deny_hosts: Vec<HostPattern>,
    /// Allowed address ranges.
    pub allow_cidrs: Vec<Cidr>,
    /// Denied address ranges (the metadata ranges included unless turned off).
    pub deny_cidrs: Vec<Cidr>,
}

impl TargetPolicy {
    /// The default: everything but link-local and metadata addresses.
    pub fn default_deny_metadata() -> Self {
        let deny_cidrs = METADATA_RANGES.iter().filter_map(|r| Cidr::parse(r).ok()).collect();
        Self { deny_cidrs, ..Self::default() }
    }

    fn restricts(&self) -> bool {
        !self.allow_hosts.is_empty() || !self.allow_cidrs.is_empty()
    }

    /// The decision for a request to host `name` (None for an IP literal) connecting to `ip`.
    pub fn decide(&self, name: Option<&str>, ip: IpAddr) -> Result<(), Blocked> {
        let ip = canonical(ip);
        if let Some(name) = name
            && let Some(pattern) = self.deny_hosts.iter().find(|p| p.matches(name))
        {
            return Err(Blocked(format!("host {name} matches denied pattern {}", pattern.0)));
        }
        if let Some(range) = self.deny_cidrs.iter().find(|c| c.contains(ip)) {
            return Err(Blocked(format!("address {ip} is in denied range {range}")));
        }
        let allowed_by_name = name.is_some_and(|name| self.allow_hosts.iter().any(|p| p.matches(name)));
        if self.restricts() && !allowed_by_name && !self.allow_cidrs.iter().any(|c| c.contains(ip)) {
            let what = name.map_or_else(|| format!("address {ip}"), |name| format!("host {name} ({ip})"));
            return Err(Blocked(format!("{what} is not in the allow lists")));
        }
        Ok(())
    }

    /// The checks that can be made on a URL alone: an IP-literal host fully, a host name against the deny
    /// patterns (its addresses are checked when it is resolved).
    pub fn check_url(&self, url: &Url) -> Result<(), Blocked> {
        match url.host() {
            Some(Host::Ipv4(ip)) => self.decide(None, IpAddr::V4(ip)),
            Some(Host::Ipv6(ip)) => self.decide(None, IpAddr::V6(ip)),
            Some(Host::Domain(name)) => {
                let name = name.to_ascii_lowercase();
                match self.deny_hosts.iter().find(|p| p.matches(&name)) {
                    Some(pattern) => Err(Blocked(format!("host {name} matches denied pattern {}", pattern.0))),
                    None => Ok(()),
                }
            }
            None => Err(Blocked("the URL has no host".into())),
        }
    }
}

/// A reqwest DNS resolver that returns only the addresses the policy allows for the name.
#[derive(Debug, Clone)]
pub struct PolicyResolver {
    policy: Arc<TargetPolicy>,
}

impl PolicyResolver {
    /// A resolver enforcing `policy`.
    pub fn new(policy: Arc<TargetPolicy>) -> Self {
        Self { policy }
    }
}

impl reqwest::dns::Resolve for PolicyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        Box::pin(async move {
            let host = name.as_str().to_ascii_lowercase();
            let resolved: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = resolved
                .into_iter()
                .filter(|addr| match policy.decide(Some(&host), addr.ip()) {
                    Ok(()) => true,
                    Err(blocked) => {
                        refusal = Some(blocked);
                        false
                    }
                })
                .collect();
            if allowed.is_empty() {
                let blocked = refusal.unwrap_or_else(|| Blocked(format!("{host} has no address")));
                return Err(Box::new(blocked) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The redirect policy: at most 10 hops, each checked by [`TargetPolicy::check_url`] (resolved names are checked
/// by the resolver when the redirect connects).
pub fn redirect_policy(policy: Arc<TargetPolicy>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if attempt.previous().len() >= 10 {
            return attempt.error(RedirectLoop);
        }
        match policy.check_url(attempt.url()) {
            Ok(()) => attempt.follow(),
            Err(blocked) => attempt.error(blocked),
        }
    })
}

/// Ten redirects were followed without reaching a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("more than 10 redirects")]
pub struct RedirectLoop;

/// The [`Blocked`] in an error's source chain, if the policy caused it.
pub fn find_blocked(error: &(dyn std::error::Error + 'static)) -> Option<Blocked> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(blocked) = e.downcast_ref::<Blocked>() {
            return Some(blocked.clone());
        }
        current = e.source();
    }
    None
}

#[cfg(test)]
mod tests;
