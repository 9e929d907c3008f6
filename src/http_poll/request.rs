//! IO: sends one [`RequestSpec`] to its target and reads the response into an [`HttpResponse`] (the output's
//! shape, [`super::response`]).
//!
//! The request's deadline (`connectionTimeOut + readTimeOut`) covers the whole call, body included, and starts
//! once the per-host permit is held. Bodies above the configured cap fail the request rather than being buffered.
//! URLs in messages lose their query string, which may carry credentials. Values of sensitive headers (configured
//! names) are marked sensitive on the way out (never logged by the HTTP stack, never HPACK-indexed) and replaced
//! by `<redacted>` in the stored response.
//!
//! Credential profiles ([`crate::credentials`]): the profile for the request's URL is chosen once (the task's
//! `credentials`, else the most specific match) and applied to every hop on that same host; a redirect to another
//! host gets neither its headers nor its client certificate. A 401 to an OAuth2 token drops that token and the hop
//! is sent once more with a new one. Secret values the request carried are redacted from the response's headers
//! and body.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{
    AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, COOKIE, HeaderMap, HeaderName, HeaderValue, LOCATION,
    PROXY_AUTHORIZATION, TRANSFER_ENCODING, WWW_AUTHENTICATE,
};
use reqwest::{Client, Method};
use tokio::time::Instant;
use url::Url;

use super::response::{Body, HttpResponse, header_lists, without_echoes};
use super::spec::RequestSpec;
use crate::credentials::Profiles;
use crate::outbound::find_blocked;
use crate::outbound::guard::Outbound;
use crate::outbound::host_limits::HostLimits;

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
    /// The task asked for credentials it may not use: no such profile, or one that does not cover the host.
    #[error("{0}")]
    CredentialsRefused(String),
    /// The profile's credentials could not be had (its token endpoint failed); names the profile, never a secret.
    #[error("{0}")]
    CredentialsUnavailable(String),
}

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
    /// Whether the default client sends through a proxy (`http.proxy`).
    pub proxied: bool,
    /// The credential profiles.
    pub profiles: Arc<Profiles>,
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
    proxied: bool,
    profiles: Arc<Profiles>,
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
            proxied: options.proxied,
            profiles: options.profiles,
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
        let mut echoes = Vec::new();
        let mut response = self.follow(spec, headers, &mut echoes).await?;
        let status = response.status();
        let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|len| len > self.max_body_bytes as u64) {
            return Err(InvokeError::BodyTooLarge(self.max_body_bytes));
        }
        let headers = header_lists(response.headers(), &self.sensitive, &echoes);
        let capacity = declared.map_or(0, |len| len as usize).min(self.max_body_bytes);
        let mut body = Vec::with_capacity(capacity);
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > self.max_body_bytes {
                return Err(InvokeError::BodyTooLarge(self.max_body_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        if !echoes.is_empty() {
            body = without_echoes(body, &echoes);
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
    /// every hop before it is sent. The credential profile applies to hops on the request's own host only; the
    /// secret values it added are pushed to `echoes`.
    async fn follow(
        &self,
        spec: &RequestSpec,
        mut headers: HeaderMap,
        echoes: &mut Vec<Arc<str>>,
    ) -> Result<reqwest::Response, InvokeError> {
        let profile = self
            .profiles
            .select(&spec.url, spec.credentials.as_deref())
            .map_err(|refused| InvokeError::CredentialsRefused(refused.0))?;
        let own_host = spec.url.host_str().map(str::to_ascii_lowercase);
        let (mut method, mut url) = (spec.method.clone(), spec.url.clone());
        let mut body = spec.body.clone().map(bytes::Bytes::from);
        let (mut redirects, mut replayed) = (0, false);
        loop {
            let on_own_host = url.host_str().map(str::to_ascii_lowercase) == own_host;
            let hop_profile = profile.as_ref().filter(|p| on_own_host && p.covers(&url));
            self.policy.admit(&url, hop_profile.map_or(self.proxied, |p| p.proxied())).await?;
            let mut hop_headers = headers.clone();
            let mut token = None;
            if let Some(profile) = hop_profile {
                let applied = profile.apply(&mut hop_headers).await.map_err(InvokeError::CredentialsUnavailable)?;
                echoes.extend(applied.secrets);
                token = applied.token;
            }
            let own_client = hop_profile.and_then(|p| p.client());
            let client = own_client.as_ref().unwrap_or(&self.client);
            let mut request = client.request(method.clone(), url.clone()).headers(hop_headers);
            if let Some(body) = &body {
                request = request.body(body.clone());
            }
            let response = request.send().await.map_err(transport)?;
            let status = response.status().as_u16();
            if let (401, false, Some(profile), Some(token)) = (status, replayed, hop_profile, token) {
                // The token was refused (revoked, or expired early): drop it and send this hop once more.
                replayed = true;
                profile.reject(&token).await;
                continue;
            }
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

/// `METHOD scheme://host:port/path`, without query or fragment, for messages and logs.
pub fn describe_target(method: &reqwest::Method, url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    let _ = shown.set_password(None);
    let _ = shown.set_username("");
    format!("{method} {shown}")
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

    #[test]
    fn targets_are_described_without_secrets() {
        let url = Url::parse("https://user:pw@h:8443/p/q?token=abc#f").unwrap();
        assert_eq!(describe_target(&reqwest::Method::GET, &url), "GET https://h:8443/p/q");
    }
}
