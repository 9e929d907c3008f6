//! This host's own addresses: what a task must not reach unless `security.allow_loopback` is on, because the
//! worker's listeners and the pod's sidecars answer there. Read from `/proc/net/fib_trie` (IPv4 `LOCAL` routes)
//! and `/proc/net/if_inet6` (Linux, the network namespace of the process: the pod's in Kubernetes), cached for
//! [`REFRESH`]. Elsewhere the list is empty and only loopback and unspecified addresses count as local.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

/// How long a read of the interface addresses is used.
const REFRESH: Duration = Duration::from_secs(10);

/// The addresses of this host's interfaces, re-read every [`REFRESH`].
#[derive(Debug, Default)]
pub struct LocalAddresses {
    cache: Mutex<Option<(Instant, Vec<IpAddr>)>>,
    /// Fixed addresses instead of `/proc` (tests).
    fixed: Option<Vec<IpAddr>>,
}

impl LocalAddresses {
    /// Addresses read from `/proc`.
    pub fn from_system() -> Self {
        Self::default()
    }

    /// These addresses, never re-read.
    pub fn fixed(addresses: Vec<IpAddr>) -> Self {
        Self { cache: Mutex::default(), fixed: Some(addresses) }
    }

    /// The current addresses.
    pub fn get(&self) -> Vec<IpAddr> {
        if let Some(fixed) = &self.fixed {
            return fixed.clone();
        }
        let mut cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        match &*cache {
            Some((read_at, addresses)) if read_at.elapsed() < REFRESH => addresses.clone(),
            _ => {
                let addresses = read_system();
                *cache = Some((Instant::now(), addresses.clone()));
                addresses
            }
        }
    }
}

fn read_system() -> Vec<IpAddr> {
    let v4 = std::fs::read_to_string("/proc/net/fib_trie").map(|text| parse_fib_trie(&text)).unwrap_or_default();
    let v6 = std::fs::read_to_string("/proc/net/if_inet6").map(|text| parse_if_inet6(&text)).unwrap_or_default();
    v4.into_iter().map(IpAddr::V4).chain(v6.into_iter().map(IpAddr::V6)).collect()
}

/// IPv4 addresses with a `/32 host LOCAL` route: each follows the `|-- a.b.c.d` line of its node.
fn parse_fib_trie(text: &str) -> Vec<Ipv4Addr> {
    let mut out = Vec::new();
    let mut last: Option<Ipv4Addr> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(address) = line.strip_prefix("|-- ").or_else(|| line.strip_prefix("+-- ")) {
            last = address.split('/').next().and_then(|a| a.trim().parse().ok());
        } else if line.contains("/32 host LOCAL")
            && let Some(address) = last
            && !out.contains(&address)
        {
            out.push(address);
        }
    }
    out
}

/// IPv6 addresses: the first field of each line, 32 hex digits.
fn parse_if_inet6(text: &str) -> Vec<Ipv6Addr> {
    text.lines()
        .filter_map(|line| {
            let hex = line.split_whitespace().next()?;
            (hex.len() == 32).then(|| u128::from_str_radix(hex, 16).ok().map(Ipv6Addr::from)).flatten()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_local_routes_and_interface_addresses() {
        let fib = "Main:\n  +-- 0.0.0.0/0 3 0 5\n     |-- 0.0.0.0\n        /0 universe UNICAST\n     +-- 10.0.2.0/24 2 0 2\n        |-- 10.0.2.0\n           /24 link UNICAST\n        |-- 10.0.2.15\n           /32 host LOCAL\n        |-- 10.0.2.255\n           /32 link BROADCAST\n     +-- 127.0.0.0/8 2 0 2\n        |-- 127.0.0.1\n           /32 host LOCAL\nLocal:\n        |-- 10.0.2.15\n           /32 host LOCAL\n";
        assert_eq!(parse_fib_trie(fib), vec![Ipv4Addr::new(10, 0, 2, 15), Ipv4Addr::new(127, 0, 0, 1)]);
        let inet6 = "00000000000000000000000000000001 01 80 10 80       lo\nfe800000000000000000000000000001 02 40 20 80     eth0\nbad\n";
        assert_eq!(parse_if_inet6(inet6), vec![Ipv6Addr::LOCALHOST, "fe80::1".parse::<Ipv6Addr>().unwrap()]);
    }

    #[test]
    fn this_host_has_addresses() {
        if std::path::Path::new("/proc/net/fib_trie").exists() {
            let addresses = LocalAddresses::from_system().get();
            assert!(addresses.contains(&IpAddr::V4(Ipv4Addr::LOCALHOST)), "{addresses:?}");
        }
    }
}
