//! Pure: patterns that name targets. [`HostPattern`] is a host name pattern (the policy's allow and deny lists);
//! [`TargetPattern`] adds an optional port (credential profiles and their request limits), and
//! [`most_specific`] picks, among patterns that match one request, the one that names it most closely.
//!
//! Owns: the syntax, matching and ranking of patterns. Does not own: what a match grants (the policy in the parent
//! module, the profiles in `crate::credentials`).

use std::fmt;

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

    /// The pattern as written (lower case).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the pattern names one host, rather than a domain's subdomains or any host.
    pub fn is_exact(&self) -> bool {
        self.0 != "*" && !self.0.starts_with("*.")
    }
}

/// A host pattern with an optional port: `billing.internal`, `billing.internal:8443`, `*.billing.example.com`.
/// Without a port it matches every port of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetPattern {
    host: HostPattern,
    port: Option<u16>,
}

/// How closely a pattern names a request, compared field by field: an exact name before a wildcard, a port before
/// none, a longer name before a shorter one (`*.a.example.com` before `*.example.com`).
pub type Specificity = (bool, bool, usize);

impl TargetPattern {
    /// Parses `host` or `host:port` (IPv4 literals are names here; IPv6 literals are not supported).
    pub fn parse(text: &str) -> Result<Self, String> {
        let (host, port) = match text.trim().rsplit_once(':') {
            Some((host, port)) => {
                let port = port.parse::<u16>().ok().filter(|p| *p != 0);
                let port = port.ok_or_else(|| format!("{text:?} has an invalid port (host or host:port)"))?;
                (host, Some(port))
            }
            None => (text.trim(), None),
        };
        Ok(Self { host: HostPattern::parse(host)?, port })
    }

    /// Whether a request to `host` (lower case) on `port` matches.
    pub fn matches(&self, host: &str, port: Option<u16>) -> bool {
        self.host.matches(host) && self.port.is_none_or(|want| port == Some(want))
    }

    /// The host part.
    pub fn host(&self) -> &HostPattern {
        &self.host
    }

    /// How closely the pattern names what it matches (see [`Specificity`]).
    pub fn specificity(&self) -> Specificity {
        (self.host.is_exact(), self.port.is_some(), self.host.as_str().len())
    }
}

impl fmt::Display for TargetPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.port {
            Some(port) => write!(f, "{}:{port}", self.host.as_str()),
            None => f.write_str(self.host.as_str()),
        }
    }
}

/// Of `candidates` (a pattern and what it stands for), what the most specific pattern matching `host`:`port`
/// stands for; the first of equally specific ones.
pub fn most_specific<'a, T>(
    candidates: impl IntoIterator<Item = (&'a TargetPattern, T)>,
    host: &str,
    port: Option<u16>,
) -> Option<T> {
    let mut best: Option<(Specificity, T)> = None;
    for (pattern, item) in candidates {
        if !pattern.matches(host, port) {
            continue;
        }
        let rank = pattern.specificity();
        if best.as_ref().is_none_or(|(best_rank, _)| rank > *best_rank) {
            best = Some((rank, item));
        }
    }
    best.map(|(_, item)| item)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> TargetPattern {
        TargetPattern::parse(text).unwrap()
    }

    #[test]
    fn target_patterns_match_host_and_port() {
        let cases = [
            ("billing.internal", "billing.internal", Some(443), true),
            ("billing.internal", "billing.internal", Some(8443), true),
            ("billing.internal:8443", "billing.internal", Some(8443), true),
            ("billing.internal:8443", "billing.internal", Some(443), false),
            ("*.billing.example.com", "a.billing.example.com", Some(443), true),
            ("*.billing.example.com", "billing.example.com", Some(443), false),
            ("*.billing.example.com", "a.billing.example.com.evil.test", Some(443), false),
            ("billing.internal", "billing.internal.evil.test", Some(443), false),
            ("10.0.0.5", "10.0.0.5", Some(80), true),
        ];
        for (text, host, port, want) in cases {
            assert_eq!(pattern(text).matches(host, port), want, "{host}:{port:?} ~ {text}");
        }
        for bad in ["billing.internal:", "billing.internal:0", "billing.internal:99999", "a b", "*.", "[::1]:80"] {
            assert!(TargetPattern::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_most_specific_pattern_wins() {
        let patterns =
            ["*", "*.example.com", "*.billing.example.com", "api.billing.example.com", "api.billing.example.com:8443"]
                .map(pattern);
        let pick = |host: &str, port: u16| {
            most_specific(patterns.iter().map(|p| (p, p.to_string())), host, Some(port)).unwrap_or_default()
        };
        assert_eq!(pick("api.billing.example.com", 8443), "api.billing.example.com:8443");
        assert_eq!(pick("api.billing.example.com", 443), "api.billing.example.com");
        assert_eq!(pick("x.billing.example.com", 443), "*.billing.example.com");
        assert_eq!(pick("x.example.com", 443), "*.example.com");
        assert_eq!(pick("elsewhere.test", 443), "*");
        // Order does not matter: the same answers with the list reversed.
        let reversed =
            most_specific(patterns.iter().rev().map(|p| (p, p.to_string())), "x.billing.example.com", Some(1));
        assert_eq!(reversed.as_deref(), Some("*.billing.example.com"));
        assert_eq!(most_specific(patterns[1..2].iter().map(|p| (p, ())), "example.com", Some(1)), None);
    }
}
