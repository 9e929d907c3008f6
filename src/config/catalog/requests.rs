//! Catalogue entries of target requests: defaults and caps of each request (`[http]`) and which targets a task
//! may reach (`[security]`).
//!
//! Owns: those entries' keys, defaults and checks. Does not own: the policy built from them (`outbound`).

use super::entry::{Entry, MIB, Unit, string};

// [http]
/// `http.connect_timeout_ms`.
pub const CONNECT_TIMEOUT_MS: Entry<u64> =
    Entry::new("http.connect_timeout_ms", || 3000, Unit::Millis, "default connectionTimeOut of target requests")
        .check(|v| (1..=3_600_000).contains(v), "must be from 1 to 3600000");
/// `http.read_timeout_ms`.
pub const READ_TIMEOUT_MS: Entry<u64> =
    Entry::new("http.read_timeout_ms", || 3000, Unit::Millis, "default readTimeOut of target requests")
        .check(|v| (1..=3_600_000).contains(v), "must be from 1 to 3600000");
/// `http.max_response_body_bytes`.
pub const MAX_RESPONSE_BODY_BYTES: Entry<usize> =
    Entry::new("http.max_response_body_bytes", || MIB as usize, Unit::Bytes, "largest target response body read")
        .check(|v| (1..=64 * MIB as usize).contains(v), "must be from 1 to 67108864");
/// `http.sensitive_headers`.
pub const SENSITIVE_HEADERS: Entry<Vec<String>> = Entry::new(
    "http.sensitive_headers",
    || {
        ["authorization", "proxy-authorization", "x-authorization", "cookie", "set-cookie", "x-api-key", "api-key"]
            .map(str::to_owned)
            .to_vec()
    },
    Unit::None,
    "headers whose values are never logged or stored",
);
/// `http.extra_ca_file`.
pub const EXTRA_CA_FILE: Entry<String> =
    Entry::new("http.extra_ca_file", String::new, Unit::None, "PEM bundle trusted besides the system roots");
/// `http.idempotency_key_header`.
pub const IDEMPOTENCY_KEY_HEADER: Entry<String> = Entry::new(
    "http.idempotency_key_header",
    || string("Idempotency-Key"),
    Unit::None,
    "header carrying a per-task key on unsafe methods; empty = off",
)
.check(
    |v| v.is_empty() || reqwest::header::HeaderName::from_bytes(v.trim().as_bytes()).is_ok(),
    "must be a header name, or empty to turn it off",
);
/// `http.retries`.
pub const RETRIES: Entry<u32> = Entry::new(
    "http.retries",
    || 0,
    Unit::Count,
    "retries of a single call after a transient failure, when the task sets no http_request.retries",
)
.check(|v| *v <= MAX_RETRIES, "must be from 0 to 10");
/// Most retries of one single call.
pub const MAX_RETRIES: u32 = 10;
/// `http.proxy`.
pub const PROXY: Entry<String> =
    Entry::new("http.proxy", String::new, Unit::None, "proxy for every target request (the policy still applies)");

// [security]
/// `security.allow_hosts`.
pub const ALLOW_HOSTS: Entry<Vec<String>> =
    Entry::new("security.allow_hosts", Vec::new, Unit::None, "host patterns tasks may reach (empty: any)");
/// `security.deny_hosts`.
pub const DENY_HOSTS: Entry<Vec<String>> =
    Entry::new("security.deny_hosts", Vec::new, Unit::None, "host patterns tasks may not reach");
/// `security.allow_cidrs`.
pub const ALLOW_CIDRS: Entry<Vec<String>> =
    Entry::new("security.allow_cidrs", Vec::new, Unit::None, "address ranges tasks may reach (empty: any)");
/// `security.deny_cidrs`.
pub const DENY_CIDRS: Entry<Vec<String>> =
    Entry::new("security.deny_cidrs", Vec::new, Unit::None, "address ranges tasks may not reach");
/// `security.allow_loopback`.
pub const ALLOW_LOOPBACK: Entry<bool> =
    Entry::new("security.allow_loopback", || false, Unit::None, "whether tasks may reach this host's addresses");
/// `security.deny_link_local_and_metadata`.
pub const DENY_METADATA: Entry<bool> = Entry::new(
    "security.deny_link_local_and_metadata",
    || true,
    Unit::None,
    "whether link-local and cloud metadata addresses are refused",
);
