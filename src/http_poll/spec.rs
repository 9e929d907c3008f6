//! Pure: task input JSON → validated [`HttpPollSpec`], or every problem found, each naming its field.
//!
//! The input schema is HTTP_POLL's `http_request` object (the same keys flat in the task input are accepted too):
//! `uri`, `method`, `headers`, `body`, `accept`, `contentType`, `connectionTimeOut`, `readTimeOut` (ms), `encode`,
//! `acceptedStatusCodes`, and for polling `terminationCondition`, `pollingInterval` (s), `pollingStrategy`,
//! `maxPollCount`. Numbers may arrive as strings (`"pollingInterval": "5"` in the tutorial). Unknown keys are
//! ignored (HTTP task keys such as `vipAddress` or `asyncComplete` have no meaning here).
//!
//! No IO and no JavaScript: the condition is only checked for presence and size here; it is compiled by the
//! evaluator before the first request.
//!
//! The request half is read in [`request`], the polling half in [`polling`], each value through [`fields`].

use std::fmt;
use std::num::NonZeroU32;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, HeaderName, HeaderValue};
use serde_json::{Map, Value};
use url::Url;

use super::status::StatusFilter;
use super::strategy::PollingStrategy;
use super::url_encoding;
use fields::{Fields, json_type};
use polling::parse_polling;
use request::parse_request;

/// Longest `terminationCondition` accepted, in bytes.
pub const MAX_CONDITION_BYTES: usize = 64 * 1024;
/// `maxPollCount` when the input has none (the conductor-oss cookbook's default).
pub const DEFAULT_MAX_POLL_COUNT: u32 = 1000;
/// `pollingInterval` when the input has none, in seconds (Orkes' default).
pub const DEFAULT_POLLING_INTERVAL_SECS: f64 = 60.0;
const MAX_POLL_COUNT_LIMIT: u32 = 1_000_000;
const MAX_REQUEST_TIMEOUT: Duration = Duration::from_secs(3600);
/// Longest `uri`, in bytes.
pub const MAX_URI_BYTES: usize = 64 * 1024;
/// Largest request body, in bytes (conductor-oss refuses task inputs above 10 MiB anyway).
pub const MAX_BODY_BYTES: usize = 8 * 1024 * 1024;
/// Most request headers.
pub const MAX_HEADERS: usize = 100;
/// Longest header value, in bytes.
pub const MAX_HEADER_VALUE_BYTES: usize = 16 * 1024;

/// Limits and defaults that come from configuration, not from the task.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SpecDefaults {
    /// `connectionTimeOut` when the input has none.
    pub connect_timeout: Duration,
    /// `readTimeOut` when the input has none.
    pub read_timeout: Duration,
    /// Longest accepted `pollingInterval`.
    pub max_polling_interval: Duration,
    /// Retries of a single call when the task sets none.
    pub retries: u32,
}

impl Default for SpecDefaults {
    /// The settings' defaults.
    fn default() -> Self {
        use crate::config::catalog::{CONNECT_TIMEOUT_MS, MAX_DELAY_SECS, READ_TIMEOUT_MS};
        Self {
            connect_timeout: Duration::from_millis((CONNECT_TIMEOUT_MS.default)()),
            read_timeout: Duration::from_millis((READ_TIMEOUT_MS.default)()),
            max_polling_interval: Duration::from_secs((MAX_DELAY_SECS.default)()),
            retries: (crate::config::catalog::RETRIES.default)(),
        }
    }
}

/// A validated task input.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpPollSpec {
    /// The request made once, or on every poll.
    pub request: RequestSpec,
    /// Present when the input has a `terminationCondition`: HTTP_POLL semantics. Absent: one call, HTTP semantics.
    pub polling: Option<PollingSpec>,
    /// `asyncComplete` (in `http_request` or the task input): an outside system completes the task through the
    /// task API after the call.
    pub async_complete: bool,
    /// `cancelRequest` (an extension): sent once when a held poll's workflow is terminated or cancelled.
    pub cancel_request: Option<Box<RequestSpec>>,
    /// Keys of `http_request` this worker does not use, for the task's execution log (never silently ignored).
    pub warnings: Vec<String>,
}

/// The `http_request` keys this worker reads.
const READ_KEYS: [&str; 19] = [
    "credentials",
    "retries",
    "cancelRequest",
    "pollLocation",
    "asyncComplete",
    "uri",
    "method",
    "headers",
    "body",
    "accept",
    "contentType",
    "connectionTimeOut",
    "readTimeOut",
    "encode",
    "acceptedStatusCodes",
    "terminationCondition",
    "pollingInterval",
    "pollingStrategy",
    "maxPollCount",
];
/// Most unused keys named in the log; the rest are counted.
const MAX_WARNINGS: usize = 10;

/// One HTTP request, ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct RequestSpec {
    /// Upper-case HTTP method.
    pub method: Method,
    /// Absolute http(s) URL, encoded per `encode`.
    pub url: Url,
    /// Headers to send, `Accept` and `Content-Type` included.
    pub headers: HeaderMap,
    /// Serialized body, if any.
    pub body: Option<Vec<u8>>,
    /// `connectionTimeOut` + `readTimeOut`: the deadline for the whole call, body included.
    pub timeout: Duration,
    /// One of them was 0 ("no timeout"): `timeout` is the worker's longest, to be bounded by the task's
    /// response timeout.
    pub open_ended: bool,
    /// Retries of a single call after a transient failure (`retries`, else `http.retries`).
    pub retries: u32,
    /// Which statuses count as success.
    pub accepted: StatusFilter,
    /// `credentials` (an extension): the credential profile to use, which must cover the URL's host; `None`: the
    /// profile whose hosts match the URL most specifically, if any.
    pub credentials: Option<Box<str>>,
}

/// The polling half of an HTTP_POLL input.
#[derive(Debug, Clone, PartialEq)]
pub struct PollingSpec {
    /// JavaScript source of the `terminationCondition`.
    pub condition: String,
    /// Base interval between polls.
    pub interval: Duration,
    /// How the interval grows.
    pub strategy: PollingStrategy,
    /// The task fails after this many polls without the condition holding.
    pub max_poll_count: NonZeroU32,
    /// `pollLocation` (an extension): a `202 Accepted` with a same-origin `Location` moves the polls there (GET,
    /// no body): the asynchronous request-reply pattern in one task.
    pub poll_location: bool,
}

/// One problem with one field of the input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldProblem {
    /// The field, as the user wrote it (e.g. `http_request.pollingInterval`).
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

/// Every problem found in a task input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError(pub Vec<FieldProblem>);

impl fmt::Display for SpecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid task input: ")?;
        for (i, problem) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{}: {}", problem.field, problem.message)?;
        }
        Ok(())
    }
}

impl std::error::Error for SpecError {}

impl RequestSpec {
    /// The same request's GET of a status URI (a 202's `Location`): the headers without `Content-Type`, no body.
    pub fn at_location(&self, url: Url) -> RequestSpec {
        let mut headers = self.headers.clone();
        headers.remove(CONTENT_TYPE);
        RequestSpec { method: Method::GET, url, headers, body: None, ..self.clone() }
    }

    /// Bounds an open-ended request (a timeout of 0) by the task's response timeout, less the margin a hold
    /// keeps, so that the server does not time the task out while the request runs (at least 1 s).
    pub fn bound_by_response_timeout(&mut self, response_timeout_secs: u64) {
        if !self.open_ended || response_timeout_secs == 0 {
            return;
        }
        let response_timeout = Duration::from_secs(response_timeout_secs);
        let margin = super::wait::response_timeout_margin(response_timeout);
        self.timeout = self.timeout.min(response_timeout.saturating_sub(margin)).max(Duration::from_secs(1));
    }
}

/// Parses and validates a task's input.
pub fn parse(input: &Value, defaults: &SpecDefaults) -> Result<HttpPollSpec, SpecError> {
    let one =
        |field: &str, message: &str| SpecError(vec![FieldProblem { field: field.into(), message: message.into() }]);
    let Value::Object(input) = input else {
        return Err(one("inputData", &format!("must be an object, got {}", json_type(input))));
    };
    let (object, prefix) = match input.get("http_request") {
        Some(Value::Object(request)) => (request, "http_request."),
        Some(Value::Null) | None => (input, ""),
        Some(other) => return Err(one("http_request", &format!("must be an object, got {}", json_type(other)))),
    };
    let mut fields = Fields { object, prefix, problems: Vec::new() };
    let request = parse_request(&mut fields, defaults);
    let polling = parse_polling(&mut fields, defaults);
    refuse_hedging(&mut fields);
    let async_complete = fields.boolean("asyncComplete").or_else(|| {
        // conductor-oss's HTTP task reads it from the task input, beside http_request.
        let mut top = Fields { object: input, prefix: "", problems: Vec::new() };
        let value = if prefix.is_empty() { None } else { top.boolean("asyncComplete") };
        fields.problems.append(&mut top.problems);
        value
    });
    let cancel_request = parse_cancel_request(&mut fields, defaults);
    // Flat input mixes the request's keys with the workflow's own inputs: only `http_request` is checked.
    let mut warnings = if prefix.is_empty() { Vec::new() } else { unused_keys(object) };
    if cancel_request.is_some() && !matches!(polling, Ok(Some(_))) {
        warnings
            .push(format!("{prefix}cancelRequest is sent only for a held poll (with terminationCondition): ignored"));
    }
    match (request, polling) {
        (Some(request), Ok(polling)) if fields.problems.is_empty() => Ok(HttpPollSpec {
            request,
            polling,
            async_complete: async_complete.unwrap_or(false),
            cancel_request,
            warnings,
        }),
        _ => Err(SpecError(fields.problems)),
    }
}

/// `cancelRequest`: a request of the same shape as `http_request` (`uri`, `method`, `headers`, `body`, ...), its
/// problems named under `cancelRequest.`.
fn parse_cancel_request(fields: &mut Fields<'_>, defaults: &SpecDefaults) -> Option<Box<RequestSpec>> {
    let value = fields.get("cancelRequest")?;
    let Value::Object(object) = value else {
        fields.problem("cancelRequest", format!("must be an object, got {}", json_type(value)));
        return None;
    };
    let prefix = if fields.prefix.is_empty() { "cancelRequest." } else { "http_request.cancelRequest." };
    let mut cancel = Fields { object, prefix, problems: Vec::new() };
    let request = parse_request(&mut cancel, &SpecDefaults { retries: 0, ..*defaults });
    fields.problems.append(&mut cancel.problems);
    request.map(Box::new)
}

/// Orkes' `hedgingConfig.maxAttempts` sends parallel attempts; this worker does not, and says so rather than
/// sending one attempt where the author asked for several.
fn refuse_hedging(fields: &mut Fields<'_>) {
    let Some(config) = fields.get("hedgingConfig") else { return };
    let attempts = config.get("maxAttempts").and_then(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()));
    if attempts.is_some_and(|n| n > 1.0) {
        fields.problem(
            "hedgingConfig",
            "parallel (hedged) attempts are not supported by this worker: remove hedgingConfig or set maxAttempts to 1",
        );
    }
}

/// A warning per `http_request` key this worker does not read (the first [`MAX_WARNINGS`], then a count).
fn unused_keys(object: &Map<String, Value>) -> Vec<String> {
    let unused: Vec<&String> =
        object.keys().filter(|key| !READ_KEYS.contains(&key.as_str()) && key.as_str() != "hedgingConfig").collect();
    let mut warnings: Vec<String> = unused
        .iter()
        .take(MAX_WARNINGS)
        .map(|key| format!("http_request.{} is not used by this worker: ignored", shorten(key)))
        .collect();
    if unused.len() > MAX_WARNINGS {
        warnings.push(format!("... and {} more unused http_request keys", unused.len() - MAX_WARNINGS));
    }
    warnings
}

/// A key as shown in a message: at most 64 characters.
fn shorten(key: &str) -> String {
    if key.chars().count() <= 64 { key.to_owned() } else { key.chars().take(64).collect::<String>() + "…" }
}

mod fields;
mod polling;
mod request;
#[cfg(test)]
mod tests;
