//! OAuth2 client credentials (RFC 6749 §4.4) for one profile: the token request and response (pure, tested
//! against the RFC's examples), and the token cache (IO).
//!
//! The cache holds one token per profile until shortly before its `expires_in` ([`refresh_margin`]). One fetch
//! runs at a time per profile: the requests that need a token meanwhile wait for that fetch. A failed fetch is
//! remembered for [`FAILURE_HOLD`], so a broken token endpoint sees one request per second per profile, not one
//! per task. A 401 from a target drops the token that was sent ([`OAuth2::reject`]) and the next request fetches a
//! new one.
//!
//! Owns: the token endpoint exchange and the cache. Does not own: where the token is sent ([`super::profile`]).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::secret::Secret;
use super::spec::{ClientAuth, OAuth2Spec};
use crate::metrics::{CredentialMetrics, TokenOutcome};

/// How long a failed token fetch answers for the next requests before the endpoint is asked again.
pub const FAILURE_HOLD: Duration = Duration::from_secs(1);
/// Deadline of one token request.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// `expires_in` assumed when the endpoint gives none.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(300);
/// Largest token response read.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// A token as the endpoint granted it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Grant {
    /// `access_token`.
    pub access_token: String,
    /// `expires_in`, if given.
    pub expires_in: Option<Duration>,
}

/// The form body of a token request and, for [`ClientAuth::Basic`], its `Authorization` value.
pub fn token_request(spec: &OAuth2Spec, client_id: &str, client_secret: &str) -> (String, Option<String>) {
    let mut form = url::form_urlencoded::Serializer::new(String::new());
    form.append_pair("grant_type", "client_credentials");
    if !spec.scopes.is_empty() {
        form.append_pair("scope", &spec.scopes.join(" "));
    }
    if let Some(audience) = &spec.audience {
        form.append_pair("audience", audience);
    }
    let authorization = match spec.client_auth {
        ClientAuth::Body => {
            form.append_pair("client_id", client_id);
            form.append_pair("client_secret", client_secret);
            None
        }
        ClientAuth::Basic => {
            // §2.3.1: the id and the secret are form-encoded before they are joined and base64-encoded.
            let encode = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let pair = format!("{}:{}", encode(client_id), encode(client_secret));
            Some(format!("Basic {}", base64::engine::general_purpose::STANDARD.encode(pair)))
        }
    };
    (form.finish(), authorization)
}

/// Reads a token response (§5.1) or error response (§5.2). The error text quotes the endpoint's `error` and
/// `error_description` (shortened), never the request.
pub fn read_token_response(status: u16, body: &[u8]) -> Result<Grant, String> {
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let field = |name: &str| json.as_ref().and_then(|j| j.get(name)).and_then(|v| v.as_str());
    if !(200..300).contains(&status) {
        let error = field("error").map(|e| shorten(e, 64));
        let description = field("error_description").map(|d| format!(" ({})", shorten(d, 200)));
        return Err(match error {
            Some(error) => format!("the token endpoint answered {status} {error}{}", description.unwrap_or_default()),
            None => format!("the token endpoint answered {status}"),
        });
    }
    let Some(access_token) = field("access_token").filter(|t| !t.is_empty()) else {
        return Err(format!("the token endpoint answered {status} without an access_token"));
    };
    if let Some(kind) = field("token_type").filter(|t| !t.eq_ignore_ascii_case("bearer")) {
        return Err(format!(
            "the token endpoint granted a {:?} token; only bearer tokens are supported",
            shorten(kind, 32)
        ));
    }
    // expires_in is a number; some endpoints send it as a string.
    let expires_in = json.as_ref().and_then(|j| j.get("expires_in")).and_then(|v| match v {
        serde_json::Value::Number(n) => n.as_f64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    });
    let expires_in = expires_in.filter(|s| s.is_finite() && *s > 0.0).map(|s| Duration::from_secs_f64(s.min(1e9)));
    Ok(Grant { access_token: access_token.to_owned(), expires_in })
}

/// How long before its expiry a token is replaced: a tenth of its lifetime, between 1 s and 60 s (never more than
/// half of it).
pub fn refresh_margin(lifetime: Duration) -> Duration {
    (lifetime / 10).clamp(Duration::from_secs(1), Duration::from_secs(60)).min(lifetime / 2)
}

fn shorten(text: &str, max: usize) -> String {
    let mut cut: String = text.chars().take(max).filter(|c| !c.is_control()).collect();
    if text.chars().count() > max {
        cut.push('…');
    }
    cut
}

/// A profile's token source.
#[derive(Debug)]
pub struct OAuth2 {
    profile: String,
    spec: OAuth2Spec,
    client_id: Secret,
    client_secret: Secret,
    http: reqwest::Client,
    state: Mutex<State>,
    metrics: CredentialMetrics,
}

#[derive(Debug, Default)]
enum State {
    #[default]
    Empty,
    Valid {
        token: Arc<str>,
        refresh_at: Instant,
    },
    Failed {
        reason: String,
        at: Instant,
    },
}

impl OAuth2 {
    /// The token source of `profile`; `http` reaches the token endpoint.
    pub fn new(
        profile: &str,
        spec: &OAuth2Spec,
        http: reqwest::Client,
        metrics: CredentialMetrics,
    ) -> Result<Self, String> {
        Ok(Self {
            profile: profile.to_owned(),
            spec: spec.clone(),
            client_id: Secret::load(&spec.client_id)?,
            client_secret: Secret::load(&spec.client_secret)?,
            http,
            state: Mutex::default(),
            metrics,
        })
    }

    /// A valid token: the cached one, or one fetched now (one fetch at a time).
    pub async fn token(&self) -> Result<Arc<str>, String> {
        let mut state = self.state.lock().await;
        match &*state {
            State::Valid { token, refresh_at } if Instant::now() < *refresh_at => return Ok(token.clone()),
            State::Failed { reason, at } if at.elapsed() < FAILURE_HOLD => return Err(reason.clone()),
            _ => {}
        }
        let fetched = self.fetch().await;
        self.metrics
            .token_fetch(&self.profile, if fetched.is_ok() { TokenOutcome::Fetched } else { TokenOutcome::Failed });
        match fetched {
            Ok(grant) => {
                let lifetime = grant.expires_in.unwrap_or(DEFAULT_LIFETIME);
                let token: Arc<str> = grant.access_token.into();
                let refresh_at = Instant::now() + lifetime - refresh_margin(lifetime);
                *state = State::Valid { token: token.clone(), refresh_at };
                Ok(token)
            }
            Err(reason) => {
                tracing::warn!(profile = %self.profile, "OAuth2 token fetch failed: {reason}");
                *state = State::Failed { reason: reason.clone(), at: Instant::now() };
                Err(reason)
            }
        }
    }

    /// A target refused `token` (401): it is not used again (unless another request already replaced it).
    pub async fn reject(&self, token: &str) {
        let mut state = self.state.lock().await;
        if matches!(&*state, State::Valid { token: current, .. } if &**current == token) {
            *state = State::Empty;
        }
    }

    async fn fetch(&self) -> Result<Grant, String> {
        let (client_id, client_secret) = (self.client_id.value(), self.client_secret.value());
        let (form, authorization) = token_request(&self.spec, &client_id, &client_secret);
        let mut request = self
            .http
            .post(self.spec.token_url.0.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(FETCH_TIMEOUT)
            .body(form);
        if let Some(authorization) = authorization {
            let mut value = reqwest::header::HeaderValue::from_str(&authorization)
                .map_err(|_| "the client id or secret is not valid in a header".to_owned())?;
            value.set_sensitive(true);
            request = request.header(reqwest::header::AUTHORIZATION, value);
        }
        let endpoint = &self.spec.token_url;
        let unreachable =
            |e: reqwest::Error| format!("the token endpoint {endpoint} could not be reached: {}", e.without_url());
        let mut response = request.send().await.map_err(unreachable)?;
        let status = response.status().as_u16();
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(unreachable)? {
            if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                return Err(format!("the token endpoint's answer is larger than {MAX_RESPONSE_BYTES} bytes"));
            }
            body.extend_from_slice(&chunk);
        }
        read_token_response(status, &body).map_err(|reason| redact(reason, &[&client_id, &client_secret]))
    }
}

/// `text` with each secret (of 4 characters or more) replaced.
fn redact(text: String, secrets: &[&str]) -> String {
    secrets.iter().filter(|s| s.len() >= 4).fold(text, |text, secret| text.replace(*secret, "<redacted>"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::redact::SecretUrl;

    fn spec(client_auth: ClientAuth) -> OAuth2Spec {
        OAuth2Spec {
            token_url: SecretUrl(url::Url::parse("https://idp.example/token").unwrap()),
            client_id: super::super::spec::SecretSpec::Literal("worker".into()),
            client_secret: super::super::spec::SecretSpec::Literal("unused".into()),
            scopes: vec!["jobs.read".into(), "jobs.write".into()],
            audience: Some("billing".into()),
            client_auth,
        }
    }

    #[test]
    fn the_request_follows_the_rfc() {
        // §4.4.2 with client_secret_basic; §2.3.1: the id and secret are form-encoded first.
        let (form, authorization) = token_request(&spec(ClientAuth::Basic), "s6BhdRkqt3", "gX1fBat3bV");
        assert_eq!(form, "grant_type=client_credentials&scope=jobs.read+jobs.write&audience=billing");
        assert_eq!(authorization.as_deref(), Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"));
        let (_, authorization) = token_request(&spec(ClientAuth::Basic), "a b", "p:w+");
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(authorization.unwrap().trim_start_matches("Basic "))
            .unwrap();
        assert_eq!(String::from_utf8(decoded).unwrap(), "a+b:p%3Aw%2B");
        let (form, authorization) = token_request(&spec(ClientAuth::Body), "worker", "s&cret");
        assert_eq!(authorization, None);
        assert!(form.ends_with("&client_id=worker&client_secret=s%26cret"), "{form}");
    }

    #[test]
    fn responses_and_errors_are_read_as_the_rfc_writes_them() {
        let ok = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"example","expires_in":3600}"#;
        assert!(read_token_response(200, ok).unwrap_err().contains("only bearer"));
        let ok = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#;
        let grant = read_token_response(200, ok).unwrap();
        assert_eq!(
            grant,
            Grant { access_token: "2YotnFZFEjr1zCsicMWpAA".into(), expires_in: Some(Duration::from_secs(3600)) }
        );
        let text = br#"{"access_token":"t","token_type":"bearer","expires_in":"60"}"#;
        assert_eq!(read_token_response(200, text).unwrap().expires_in, Some(Duration::from_secs(60)));
        let none = br#"{"access_token":"t"}"#;
        assert_eq!(read_token_response(200, none).unwrap().expires_in, None);
        let error = br#"{"error":"invalid_client","error_description":"Client authentication failed"}"#;
        assert_eq!(
            read_token_response(401, error).unwrap_err(),
            "the token endpoint answered 401 invalid_client (Client authentication failed)"
        );
        assert_eq!(
            read_token_response(502, b"<html>bad gateway</html>").unwrap_err(),
            "the token endpoint answered 502"
        );
        assert!(read_token_response(200, b"{}").unwrap_err().contains("without an access_token"));
    }

    #[test]
    fn tokens_are_replaced_shortly_before_they_expire() {
        assert_eq!(refresh_margin(Duration::from_secs(3600)), Duration::from_secs(60));
        assert_eq!(refresh_margin(Duration::from_secs(300)), Duration::from_secs(30));
        assert_eq!(refresh_margin(Duration::from_secs(4)), Duration::from_secs(1));
        assert_eq!(refresh_margin(Duration::from_secs(1)), Duration::from_millis(500));
    }

    #[test]
    fn echoed_secrets_are_redacted_from_reasons() {
        assert_eq!(redact("bad secret s3cret!".into(), &["s3cret", "id"]), "bad secret <redacted>!");
    }
}
