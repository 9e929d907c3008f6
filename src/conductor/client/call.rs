//! One call to the Conductor server, as [`HttpConductor`] makes every call: the token (requested at `POST /token`
//! when Orkes credentials are configured) as `X-Authorization`, one replay with a fresh token when the server
//! rejects it, the deadline, `http_api_client_request_seconds` by path template, the result recorded in [`Health`](crate::health::Health),
//! and error text without URLs, tokens or long bodies.
//!
//! Owns: how a call is sent and what its failure says. Does not own: which calls exist or what their replies mean
//! (the parent module), or when a token is fresh ([`crate::conductor::auth`]).

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::HeaderValue;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::json;
use tokio::time::Instant;
use url::Url;

use super::HttpConductor;
use crate::conductor::ClientError;
use crate::conductor::auth::{AuthError, Credentials, TokenReply, is_token_rejection};
use crate::metrics::values::AuthFailure;

/// Longest error body kept in a [`ClientError::Status`].
const MAX_ERROR_BODY_CHARS: usize = 512;
const AUTH_HEADER: &str = "X-Authorization";

/// A response whose status was checked: the body of a success.
pub(super) struct Reply {
    pub(super) status: StatusCode,
    pub(super) body: Bytes,
}

impl HttpConductor {
    /// Sends a request built by `build`, with the token, measured under `template`; replays it once with a
    /// fresh token when the server rejects the token. Non-2xx statuses become [`ClientError::Status`]. Every
    /// call's result is recorded in [`Health`] here, and only here.
    pub(super) async fn call(
        &self,
        method: Method,
        template: &'static str,
        url: &Url,
        timeout: Duration,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Reply, ClientError> {
        let result = self.call_with_token(method, template, url, timeout, build).await;
        match &result {
            Ok(_) => self.health.server_reached(),
            Err(error) if error.is_retryable() => self.health.server_failed(error),
            // Refused (4xx): the server answered, but this is no sign that it is healthy.
            Err(_) => {}
        }
        result
    }

    async fn call_with_token(
        &self,
        method: Method,
        template: &'static str,
        url: &Url,
        timeout: Duration,
        build: impl Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Reply, ClientError> {
        let mut replayed = false;
        loop {
            let token = self.token().await?;
            let mut request = build(self.client.request(method.clone(), url.clone())).timeout(timeout);
            if let Some(token) = &token {
                let mut value = HeaderValue::from_str(token)
                    .map_err(|_| ClientError::Auth("the token is not a valid header value".into()))?;
                value.set_sensitive(true);
                request = request.header(AUTH_HEADER, value);
            }
            let started = Instant::now();
            let sent = request.send().await;
            let (status, body) = match sent {
                Ok(response) => {
                    let status = response.status();
                    match response.bytes().await {
                        Ok(body) => (status, body),
                        Err(error) => {
                            self.metrics.api_call(method_name(&method), template, 0, started.elapsed());
                            return Err(transport_error(error));
                        }
                    }
                }
                Err(error) => {
                    self.metrics.api_call(method_name(&method), template, 0, started.elapsed());
                    return Err(transport_error(error));
                }
            };
            self.metrics.api_call(method_name(&method), template, status.as_u16(), started.elapsed());
            if status.is_success() {
                return Ok(Reply { status, body });
            }
            let text: String = String::from_utf8_lossy(&body).chars().take(MAX_ERROR_BODY_CHARS).collect();
            if is_token_rejection(status.as_u16(), &text) && self.auth.invalidate(token.as_ref()).await {
                self.metrics.auth(Some(AuthFailure::TokenRejected));
                if !replayed {
                    replayed = true;
                    continue;
                }
                // Refused again with a fresh token: not this call's fault, so retryable (a result waits).
                return Err(ClientError::Auth(format!("the server refused the authorization ({status})")));
            }
            return Err(ClientError::Status { code: status.as_u16(), body: text });
        }
    }

    async fn token(&self) -> Result<Option<Arc<str>>, ClientError> {
        let result = self.auth.token(|credentials| self.request_token(credentials)).await;
        match result {
            Ok(token) => {
                if self.auth.enabled() {
                    self.metrics.auth(None);
                    self.health.auth_ok();
                }
                Ok(token)
            }
            Err(AuthError(message)) => {
                self.health.auth_failed(&message);
                Err(ClientError::Auth(message))
            }
        }
    }

    async fn request_token(&self, credentials: Credentials) -> TokenReply {
        let started = Instant::now();
        let body = json!({"keyId": credentials.key_id, "keySecret": credentials.key_secret});
        let sent = self.client.post(self.url(&["token"])).json(&body).timeout(self.request_timeout).send().await;
        let reply = match sent {
            Ok(response) => {
                let status = response.status();
                self.metrics.api_call("POST", "/token", status.as_u16(), started.elapsed());
                let body = response.bytes().await.unwrap_or_default();
                match status {
                    StatusCode::NOT_FOUND => return TokenReply::NotFound,
                    s if s.is_success() => match serde_json::from_slice::<serde_json::Value>(&body) {
                        Ok(value) => match value.get("token").and_then(|t| t.as_str()) {
                            Some(token) if !token.is_empty() => return TokenReply::Token(token.to_owned()),
                            _ => TokenReply::Failed(status.as_u16(), "the reply has no token".into()),
                        },
                        Err(_) => TokenReply::Failed(status.as_u16(), "the reply is not JSON".into()),
                    },
                    s => {
                        // The body of a refused token request may echo the request: keep only its error code.
                        let code = serde_json::from_slice::<serde_json::Value>(&body)
                            .ok()
                            .and_then(|v| v.get("error").and_then(|e| e.as_str()).map(str::to_owned))
                            .unwrap_or_else(|| s.canonical_reason().unwrap_or_default().to_owned());
                        TokenReply::Failed(s.as_u16(), code)
                    }
                }
            }
            Err(error) => {
                self.metrics.api_call("POST", "/token", 0, started.elapsed());
                TokenReply::Failed(0, transport_error(error).to_string())
            }
        };
        self.metrics.auth(Some(AuthFailure::TokenRequest));
        reply
    }
}

fn method_name(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        _ => "OTHER",
    }
}

/// reqwest's error text, without the URL (which can carry query parameters).
fn transport_error(error: reqwest::Error) -> ClientError {
    ClientError::Transport(error.without_url().to_string())
}
