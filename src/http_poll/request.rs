//! IO: sends one [`RequestSpec`] to its target and reads the response into the HTTP task's output shape
//! `{statusCode, reasonPhrase, headers, body}` (headers as lists of strings, a JSON body kept as its text: it is
//! validated once and never parsed into a tree, see [`Body`]).
//!
//! The request's deadline (`connectionTimeOut + readTimeOut`) covers the whole call, body included, and starts
//! once the per-host permit is held. Bodies above the configured cap fail the request rather than being buffered.
//! URLs in messages lose their query string, which may carry credentials. Values of sensitive headers (configured
//! names) are marked sensitive on the way out (never logged by the HTTP stack, never HPACK-indexed) and replaced
//! by `<redacted>` in the stored response.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use reqwest::{Client, Method};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::time::Instant;
use url::Url;

use super::spec::RequestSpec;
use crate::condition::dollar::{BodyView, ResponseView};
use crate::outbound::find_blocked;
use crate::outbound::guard::Outbound;
use crate::outbound::host_limits::HostLimits;

/// A response as the task output and the condition's `$.output.response` see it.
#[derive(Debug, Clone)]
pub struct HttpResponse {
    /// HTTP status code.
    pub status: u16,
    /// Canonical reason phrase (`OK`, `Not Found`), empty if unknown.
    pub reason: String,
    /// Header name (Title-Case) → values.
    pub headers: Map<String, Value>,
    /// The body.
    pub body: Body,
    /// Time from sending to the end of the body.
    pub elapsed: Duration,
}

/// A response body: JSON when it parses as JSON (kept as its text), else the text (invalid UTF-8 replaced); null
/// when empty.
#[derive(Debug, Clone)]
pub enum Body {
    /// Empty, or only white space.
    Null,
    /// Not JSON.
    Text(String),
    /// JSON, as received (without surrounding white space).
    Json(Box<RawValue>),
}

impl Body {
    /// Classifies a body once, when it arrives.
    pub fn from_bytes(bytes: Vec<u8>) -> Self {
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Body::Null;
        }
        let text = match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(error) => return Body::Text(String::from_utf8_lossy(error.as_bytes()).into_owned()),
        };
        // Escaped lone surrogates are valid JSON text but not a valid tree (serde_json's, the engine's `$`): such
        // a body is text, as it always was. Only bodies with surrogate escapes pay for the full check.
        if has_surrogate_escape(&text) && serde_json::from_str::<Value>(&text).is_err() {
            return Body::Text(text);
        }
        match serde_json::from_str::<Box<RawValue>>(&text) {
            Ok(raw) => Body::Json(raw),
            Err(_) => Body::Text(text),
        }
    }

    /// The view `$` and the output read.
    pub fn view(&self) -> BodyView<'_> {
        match self {
            Body::Null => BodyView::Null,
            Body::Text(text) => BodyView::Text(text),
            Body::Json(raw) => BodyView::Json(raw),
        }
    }
}

/// Whether `text` holds a `\uD800`–`\uDFFF` escape (or something that looks like one).
fn has_surrogate_escape(text: &str) -> bool {
    text.as_bytes().windows(4).any(|w| {
        w[0] == b'\\'
            && w[1] == b'u'
            && matches!(w[2], b'd' | b'D')
            && matches!(w[3], b'8'..=b'9' | b'a'..=b'f' | b'A'..=b'F')
    })
}

impl HttpResponse {
    /// The view `$.output.response` and the task output read.
    pub fn view(&self) -> ResponseView<'_> {
        ResponseView { status: self.status, reason: &self.reason, headers: &self.headers, body: self.body.view() }
    }

    /// The `response` object of the task output, as JSON text (the body copied in as received).
    pub fn to_raw(&self) -> Box<RawValue> {
        // Serializing strings, maps of strings and validated JSON text cannot fail.
        serde_json::value::to_raw_value(&self.view()).unwrap_or_else(|_| RawValue::NULL.to_owned())
    }
}

/// Why a request produced no response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The deadline passed before the body was read.
    #[error("no complete response within {0:?}")]
    Timeout(Duration),
    /// The body was larger than the cap.
    #[error("response body larger than {0} bytes (http.max_response_body_bytes)")]
    BodyTooLarge(usize),
    /// The outbound policy refused the target (or a redirect to it).
    #[error("{0}")]
    Blocked(#[from] crate::outbound::Blocked),
    /// More than [`MAX_REDIRECTS`] redirects, or a redirect to something that is not an http(s) URL.
    #[error("{0}")]
    Redirect(String),
    /// Connect, TLS, redirect or I/O failure.
    #[error("{0}")]
    Transport(String),
}

/// What replaces a sensitive header's value in stored output.
pub const REDACTED: &str = "<redacted>";
/// Redirects followed, at most.
pub const MAX_REDIRECTS: usize = 10;

/// How an [`HttpInvoker`] treats requests and responses.
#[derive(Debug, Clone)]
pub struct InvokerOptions {
    /// Larger response bodies fail the request.
    pub max_body_bytes: usize,
    /// Lower-case header names whose values are secret.
    pub sensitive_headers: Vec<String>,
    /// Header that carries an idempotency key on non-GET requests (unless the task sets it), `None` = off.
    pub idempotency_key_header: Option<HeaderName>,
    /// Targets requests may reach; the client must resolve names through its
    /// [`OutboundResolver`](crate::outbound::guard::OutboundResolver) and follow no redirects itself.
    pub policy: Arc<Outbound>,
}

/// Sends task requests: one shared pooled client, per-host limits, the host policy and a body cap.
#[derive(Debug, Clone)]
pub struct HttpInvoker {
    client: Client,
    hosts: Arc<HostLimits>,
    max_body_bytes: usize,
    /// Lower-case header names whose values are secret.
    sensitive: Arc<[String]>,
    idempotency_key_header: Option<HeaderName>,
    policy: Arc<Outbound>,
}

impl HttpInvoker {
    /// An invoker over a shared client (resolving through the policy's resolver, following no redirects: the
    /// invoker follows them, checking each hop).
    pub fn new(client: Client, hosts: Arc<HostLimits>, options: InvokerOptions) -> Self {
        Self {
            client,
            hosts,
            max_body_bytes: options.max_body_bytes,
            sensitive: options.sensitive_headers.into(),
            idempotency_key_header: options.idempotency_key_header,
            policy: options.policy,
        }
    }

    /// Sends the request and reads the whole response. `idempotency_key` is sent (in the configured header) with
    /// methods other than GET, HEAD, OPTIONS and TRACE.
    pub async fn send(&self, spec: &RequestSpec, idempotency_key: &str) -> Result<HttpResponse, InvokeError> {
        let _permit = self.hosts.acquire(&spec.url).await;
        let started = Instant::now();
        match tokio::time::timeout(spec.timeout, self.exchange(spec, idempotency_key, started)).await {
            Ok(result) => result,
            Err(_) => Err(InvokeError::Timeout(spec.timeout)),
        }
    }

    async fn exchange(
        &self,
        spec: &RequestSpec,
        idempotency_key: &str,
        started: Instant,
    ) -> Result<HttpResponse, InvokeError> {
        let mut headers = spec.headers.clone();
        let safe_method = matches!(spec.method, Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE);
        if let (Some(name), false) = (&self.idempotency_key_header, safe_method)
            && !headers.contains_key(name)
            && let Ok(value) = HeaderValue::from_str(idempotency_key)
        {
            headers.insert(name.clone(), value);
        }
        for (name, value) in &mut headers {
            if self.sensitive.iter().any(|s| s == name.as_str()) {
                value.set_sensitive(true);
            }
        }
        let mut response = self.follow(spec, headers).await?;
        let status = response.status();
        let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_body_bytes as u64) {
            return Err(InvokeError::BodyTooLarge(self.max_body_bytes));
        }
        let headers = header_lists(response.headers(), &self.sensitive);
        let capacity = declared.map_or(0, |len| len as usize).min(self.max_body_bytes);
        let mut body = Vec::with_capacity(capacity);
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(InvokeError::BodyTooLarge(self.max_body_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(HttpResponse {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or_default().to_owned(),
            headers,
            body: Body::from_bytes(body),
            elapsed: started.elapsed(),
        })
    }
}

impl HttpInvoker {
    /// Sends the request, following redirects (at most [`MAX_REDIRECTS`]) the way browsers and reqwest do: 301,
    /// 302 and 303 turn into a GET without body (HEAD stays HEAD), 307 and 308 repeat the request; credentials
    /// (`Authorization`, `Cookie`, `Proxy-Authorization`) are not sent on to another origin. The policy admits
    /// every hop before it is sent.
    async fn follow(&self, spec: &RequestSpec, mut headers: HeaderMap) -> Result<reqwest::Response, InvokeError> {
        let (mut method, mut url) = (spec.method.clone(), spec.url.clone());
        let mut body = spec.body.clone().map(bytes::Bytes::from);
        let mut redirects = 0;
        loop {
            self.policy.admit(&url).await?;
            let mut request = self.client.request(method.clone(), url.clone()).headers(headers.clone());
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = request.send().await.map_err(transport)?;
            let status = response.status().as_u16();
            let location = response.headers().get(LOCATION).and_then(|l| l.to_str().ok());
            let (true, Some(location)) = (matches!(status, 301 | 302 | 303 | 307 | 308), location) else {
                return Ok(response);
            };
            if redirects == MAX_REDIRECTS {
                return Err(InvokeError::Redirect(format!("more than {MAX_REDIRECTS} redirects")));
            }
            redirects += 1;
            let next = url.join(location).map_err(|e| InvokeError::Redirect(format!("bad redirect location: {e}")))?;
            if !matches!(next.scheme(), "http" | "https") {
                return Err(InvokeError::Redirect(format!("redirect to a {} URL", next.scheme())));
            }
            if matches!(status, 301..=303) && method != Method::HEAD {
                method = Method::GET;
                body = None;
                for name in [CONTENT_TYPE, CONTENT_LENGTH, TRANSFER_ENCODING] {
                    headers.remove(name);
                }
            }
            if next.origin() != url.origin() {
                for name in [AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, WWW_AUTHENTICATE] {
                    headers.remove(name);
                }
            }
            url = next;
        }
    }
}

/// A response as the worker records it, from its raw parts (what [`HttpInvoker`] does with a real response; also
/// the fuzzing entry point for response handling).
pub fn response_from_parts(status: u16, headers: &HeaderMap, body: &[u8], sensitive: &[String]) -> HttpResponse {
    let reason = reqwest::StatusCode::from_u16(status).ok().and_then(|s| s.canonical_reason()).unwrap_or_default();
    HttpResponse {
        status,
        reason: reason.to_owned(),
        headers: header_lists(headers, sensitive),
        body: Body::from_bytes(body.to_vec()),
        elapsed: Duration::ZERO,
    }
}

/// `METHOD scheme://host:port/path`, without query or fragment, for messages and logs.
pub fn describe_target(method: &reqwest::Method, url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    format!("{method} {shown}")
}

fn header_lists(headers: &HeaderMap, sensitive: &[String]) -> Map<String, Value> {
    let mut out = Map::new();
    for (name, value) in headers {
        let secret = sensitive.iter().any(|s| s == name.as_str());
        let entry = out.entry(title_case(name.as_str())).or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = entry {
            let text =
                if secret { REDACTED.to_owned() } else { String::from_utf8_lossy(value.as_bytes()).into_owned() };
            values.push(Value::String(text));
        }
    }
    out
}

/// `content-type` → `Content-Type`: HTTP/1 servers usually send this casing and conditions written against
/// Orkes or conductor-oss (Java) read headers that way.
fn title_case(name: &str) -> String {
    name.split('-')
        .map(|part| {
            let mut chars = part.chars();
            chars.next().map(|c| c.to_ascii_uppercase().to_string() + chars.as_str()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("-")
}

/// reqwest's message with its causes (it says only "error sending request" otherwise), without the URL; a refusal
/// by the host policy (at resolution or on a redirect) becomes [`InvokeError::Blocked`].
fn transport(error: reqwest::Error) -> InvokeError {
    let error = error.without_url();
    if let Some(blocked) = find_blocked(&error) {
        return InvokeError::Blocked(blocked);
    }
    let mut message = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    InvokeError::Transport(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::json;

    /// The body as the output and `$` see it.
    fn seen(bytes: &[u8]) -> Value {
        serde_json::to_value(Body::from_bytes(bytes.to_vec()).view()).unwrap()
    }

    #[test]
    fn bodies_are_json_when_they_parse() {
        assert_eq!(seen(b""), Value::Null);
        assert_eq!(seen(b" \n"), Value::Null);
        assert_eq!(seen(br#" {"a":[1]} "#), json!({"a": [1]}));
        assert!(
            matches!(Body::from_bytes(br#" {"a": [1]}"#.to_vec()), Body::Json(raw) if raw.get() == r#"{"a": [1]}"#)
        );
        assert_eq!(seen(b"42"), json!(42));
        assert_eq!(seen(b"<html>oops</html>"), json!("<html>oops</html>"));
        assert_eq!(seen(b"\xff\xfeok"), json!("\u{fffd}\u{fffd}ok"));
        assert_eq!(seen(br#"{"s": "\ud83d\ude00"}"#), json!({"s": "😀"}), "a surrogate pair is fine");
        assert_eq!(seen(br#"{"s": "\ud800"}"#), json!(r#"{"s": "\ud800"}"#), "a lone surrogate makes it text");
        assert_eq!(seen(b"[1,]"), json!("[1,]"));
    }

    #[test]
    fn header_names_are_title_cased_and_grouped() {
        let mut headers = HeaderMap::new();
        headers.append("content-type", "application/json".parse().unwrap());
        headers.append("set-cookie", "a=1".parse().unwrap());
        headers.append("set-cookie", "b=2".parse().unwrap());
        headers.append("x-amz-request-id", "r".parse().unwrap());
        let lists = header_lists(&headers, &["set-cookie".to_owned()]);
        assert_eq!(lists["Content-Type"], json!(["application/json"]));
        assert_eq!(lists["Set-Cookie"], json!([REDACTED, REDACTED]));
        assert_eq!(lists["X-Amz-Request-Id"], json!(["r"]));
    }

    #[test]
    fn targets_are_described_without_secrets() {
        let url = Url::parse("https://user:pw@h:8443/p/q?token=abc#f").unwrap();
        assert_eq!(describe_target(&reqwest::Method::GET, &url), "GET https://h:8443/p/q");
    }
}
