//! Concurrent-request limits per target host (`host:port`), shared by every worker of the process, so a fragile
//! API sees at most N requests at once however many tasks point at it. A permit is held for one request only,
//! never across a wait between polls. A host's limit is its `[limits.hosts]` entry, else the `max_requests` of
//! the credential profile whose host pattern names it most specifically, else `limits.max_requests_per_host`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use url::Url;

use super::{TargetPattern, most_specific};

/// Entries kept before idle hosts (no permit in use) are forgotten.
const PRUNE_ABOVE: usize = 4096;

/// Per-host semaphores, created on first use.
#[derive(Debug)]
pub struct HostLimits {
    default_limit: usize,
    overrides: HashMap<String, usize>,
    patterns: Vec<(TargetPattern, usize)>,
    hosts: Mutex<HashMap<String, Arc<Semaphore>>>,
}

impl HostLimits {
    /// `default_limit` concurrent requests per host, except the `host:port` keys in `overrides` and the hosts
    /// `patterns` match (the most specific pattern's limit).
    pub fn new(default_limit: usize, overrides: HashMap<String, usize>, patterns: Vec<(TargetPattern, usize)>) -> Self {
        Self { default_limit: default_limit.max(1), overrides, patterns, hosts: Mutex::default() }
    }

    /// `host:port` of a URL (default port filled in), lower-case.
    pub fn key(url: &Url) -> String {
        let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
        match url.port_or_known_default() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }
    }

    /// Waits for a request slot to the URL's host.
    pub async fn acquire(&self, url: &Url) -> OwnedSemaphorePermit {
        let semaphore = self.semaphore(url);
        // The semaphore is never closed, so acquiring cannot fail.
        match semaphore.acquire_owned().await {
            Ok(permit) => permit,
            Err(_) => unreachable!("host semaphores are never closed"),
        }
    }

    fn semaphore(&self, url: &Url) -> Arc<Semaphore> {
        let key = Self::key(url);
        let mut hosts = self.hosts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(existing) = hosts.get(&key) {
            return existing.clone();
        }
        if hosts.len() >= PRUNE_ABOVE {
            // Only the map holds an idle host's semaphore; dropping it loses nothing.
            hosts.retain(|_, semaphore| Arc::strong_count(semaphore) > 1);
        }
        let limit = self.overrides.get(&key).copied().or_else(|| {
            let host = url.host_str().unwrap_or_default().to_ascii_lowercase();
            most_specific(self.patterns.iter().map(|(p, limit)| (p, *limit)), &host, url.port_or_known_default())
        });
        let semaphore = Arc::new(Semaphore::new(limit.unwrap_or(self.default_limit).max(1)));
        hosts.insert(key, semaphore.clone());
        semaphore
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(s: &str) -> Url {
        Url::parse(s).unwrap()
    }

    #[test]
    fn keys_include_the_default_port() {
        assert_eq!(HostLimits::key(&url("http://API.example.com/x")), "api.example.com:80");
        assert_eq!(HostLimits::key(&url("https://h/x")), "h:443");
        assert_eq!(HostLimits::key(&url("http://127.0.0.1:8090/x")), "127.0.0.1:8090");
    }

    #[tokio::test]
    async fn limits_apply_per_host_with_overrides() {
        let patterns = vec![(TargetPattern::parse("*.fragile.test").unwrap(), 1)];
        let limits = HostLimits::new(2, HashMap::from([("slow:80".to_owned(), 1)]), patterns);
        let a1 = limits.acquire(&url("http://fast/a")).await;
        let _a2 = limits.acquire(&url("http://fast/b")).await;
        let _s1 = limits.acquire(&url("http://slow/a")).await;
        let blocked = |u: &'static str| {
            let limits = &limits;
            async move { tokio::time::timeout(std::time::Duration::from_millis(20), limits.acquire(&url(u))).await.is_err() }
        };
        assert!(blocked("http://fast/c").await, "third request to a host limited to 2");
        assert!(blocked("http://slow/b").await, "second request to a host limited to 1");
        assert!(!blocked("http://other/a").await, "another host is independent");
        let _f1 = limits.acquire(&url("http://a.fragile.test/a")).await;
        assert!(blocked("http://a.fragile.test/b").await, "a profile's max_requests applies to the hosts it names");
        assert!(!blocked("http://b.fragile.test/a").await, "per host:port, not per profile");
        drop(a1);
        assert!(!blocked("http://fast/c").await, "a released permit is reusable");
    }
}
