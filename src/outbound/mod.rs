//! What task requests may reach and how many at once: the outbound policy and the per-host limits
//! ([`host_limits`]). The rules are pure ([`TargetPolicy::decide`]); [`guard`] enforces them on every request,
//! redirect and resolved address; [`local`] knows this host's addresses.
//!
//! Owns: the rules, their enforcement and the per-host permits. Does not own: building and sending requests
//! ([`crate::http_poll::request`]), or reading the rules from the config ([`crate::config`], which imports this
//! module, not the other way round).
//!
//! A request to `name` (absent for an IP literal) at address `ip`, port `port`, is refused when:
//! 1. the name matches a deny pattern;
//! 2. the address belongs to this host (loopback 127.0.0.0/8 and ::1, unspecified 0.0.0.0/8 and ::, or an
//!    address of one of its interfaces, which is where the worker's own listeners and the pod's sidecars are)
//!    and the port is one of the worker's own listeners: always, whatever else is configured;
//! 3. the address belongs to this host and `security.allow_loopback` is off (the default);
//! 4. the address is in a deny range (link-local and cloud metadata, 169.254.0.0/16, fe80::/10, fd00:ec2::254,
//!    are denied by default);
//! 5. allow rules exist and neither the name matches an allow pattern nor the address is in an allow range.
//!
//! IPv4-mapped (`::ffff:a.b.c.d`) and IPv4-compatible (`::a.b.c.d`) IPv6 addresses count as their IPv4 address.

pub mod clients;
pub mod guard;
pub mod host_limits;
pub mod local;
mod pattern;

pub use pattern::{HostPattern, TargetPattern, most_specific};

use std::fmt;
use std::net::IpAddr;

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

/// `::ffff:a.b.c.d` and `::a.b.c.d` as `a.b.c.d` (`::` and `::1` stay IPv6).
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) if v6.is_unspecified() || v6.is_loopback() => ip,
        IpAddr::V6(v6) => v6.to_ipv4_mapped().or_else(|| v6.to_ipv4()).map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Why a target was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("blocked by the outbound policy: {0}")]
pub struct Blocked(pub String);

/// The configured rules.
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
    /// Allow this host's own addresses (loopback, unspecified, its interfaces), except the worker's listeners.
    pub allow_loopback: bool,
}

/// One connection a request would make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Target<'a> {
    /// The host name, lower case; `None` for an IP-literal URL.
    pub name: Option<&'a str>,
    /// The address connected to.
    pub ip: IpAddr,
    /// The port, when known (a resolver only knows the name).
    pub port: Option<u16>,
}

/// What the policy knows about this host when it decides.
#[derive(Debug, Clone, Copy, Default)]
pub struct HostFacts<'a> {
    /// Addresses of this host's interfaces (loopback and unspecified are recognised without them).
    pub local: &'a [IpAddr],
    /// Ports of the worker's own listeners.
    pub own_ports: &'a [u16],
}

impl HostFacts<'_> {
    /// Whether a connection to `ip` stays on this host.
    pub fn is_local(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        let unspecified = match ip {
            IpAddr::V4(v4) => v4.octets()[0] == 0,
            IpAddr::V6(v6) => v6.is_unspecified(),
        };
        ip.is_loopback() || unspecified || self.local.iter().any(|local| canonical(*local) == ip)
    }

    /// Whether `port` is one of the worker's own listeners.
    pub fn is_own_port(&self, port: u16) -> bool {
        self.own_ports.contains(&port)
    }
}

impl TargetPolicy {
    /// The default: everything but this host's own addresses and link-local and metadata addresses.
    pub fn default_deny_metadata() -> Self {
        let deny_cidrs = METADATA_RANGES.iter().filter_map(|r| Cidr::parse(r).ok()).collect();
        Self { deny_cidrs, ..Self::default() }
    }

    fn restricts(&self) -> bool {
        !self.allow_hosts.is_empty() || !self.allow_cidrs.is_empty()
    }

    /// The name's own rule (a deny pattern), which needs no address.
    pub fn check_name(&self, name: &str) -> Result<(), Blocked> {
        match self.deny_hosts.iter().find(|p| p.matches(name)) {
            Some(pattern) => Err(Blocked(format!("host {name} matches denied pattern {}", pattern.as_str()))),
            None => Ok(()),
        }
    }

    /// The decision for one connection.
    pub fn decide(&self, target: Target<'_>, facts: &HostFacts<'_>) -> Result<(), Blocked> {
        let ip = canonical(target.ip);
        if let Some(name) = target.name {
            self.check_name(name)?;
        }
        if facts.is_local(ip) {
            if let Some(port) = target.port.filter(|port| facts.is_own_port(*port)) {
                return Err(Blocked(format!("{ip} port {port} is one of this worker's own listeners")));
            }
            if !self.allow_loopback {
                return Err(Blocked(format!(
                    "address {ip} belongs to this host (loopback, unspecified or a local interface); \
                     security.allow_loopback = true allows it"
                )));
            }
        }
        if let Some(range) = self.deny_cidrs.iter().find(|c| c.contains(ip)) {
            return Err(Blocked(format!("address {ip} is in denied range {range}")));
        }
        let allowed_by_name = target.name.is_some_and(|name| self.allow_hosts.iter().any(|p| p.matches(name)));
        if self.restricts() && !allowed_by_name && !self.allow_cidrs.iter().any(|c| c.contains(ip)) {
            let what = target.name.map_or_else(|| format!("address {ip}"), |name| format!("host {name} ({ip})"));
            return Err(Blocked(format!("{what} is not in the allow lists")));
        }
        Ok(())
    }
}

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
