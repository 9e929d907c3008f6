//! Orkes authentication: exchanges the key id and secret for a token at `POST /api/token`, caches it, refreshes it
//! before it expires (at 80 % of the JWT's lifetime, or after `token_ttl` when the token carries no `exp`), and again
//! when the server answers 401 (or 403 with `EXPIRED_TOKEN` or `INVALID_TOKEN`). One refresh runs at a time;
//! callers that arrive meanwhile wait for it. A 404 from `/api/token` means a server without auth (conductor-oss):
//! no token is sent, but the 404 is not trusted for life (a gateway mid-rollout answers 404 too): the endpoint is
//! asked again after [`NO_AUTH_RECHECK`], and at once when the server answers 401. Failures back off (1 s doubling
//! to 60 s) and never end the process; they show in readiness and in the `conductor_auth_*` metrics.
//!
//! The secret and the token are never logged; `Debug` prints neither.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;
use tokio::sync::Mutex;
use tokio::time::Instant;

/// How long a 404 from `/api/token` (no authentication) is trusted before the endpoint is asked again.
pub const NO_AUTH_RECHECK: Duration = Duration::from_secs(300);

/// Key id and secret.
#[derive(Clone)]
pub struct Credentials {
    /// Application key id.
    pub key_id: String,
    /// Application key secret.
    pub key_secret: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("key_id", &self.key_id).field("key_secret", &"***").finish()
    }
}

/// What the token endpoint said.
pub enum TokenReply {
    /// A token.
    Token(String),
    /// 404: the server has no authentication.
    NotFound,
    /// Anything else: status (0 = no response) and a short description.
    Failed(u16, String),
}

/// The current authorization state.
#[derive(Clone)]
enum State {
    /// No token yet (or the last one was invalidated).
    Empty,
    /// A token, refreshed at `refresh_at`.
    Token { token: Arc<str>, refresh_at: Instant },
    /// The server has no authentication, as far as it said; asked again at `recheck_at`.
    Disabled { recheck_at: Instant },
    /// The last token request failed; not retried before `retry_at`.
    Failing { retry_at: Instant, failures: u32, error: String },
}

/// Token cache with single-flight refresh.
pub struct TokenCache {
    credentials: Option<Credentials>,
    ttl: Duration,
    state: Mutex<State>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache").field("credentials", &self.credentials).field("ttl", &self.ttl).finish()
    }
}

/// Why no token is available.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthError(pub String);

impl TokenCache {
    /// A cache for these credentials (`None`: never authenticate). `ttl` applies to tokens without `exp`.
    pub fn new(credentials: Option<Credentials>, ttl: Duration) -> Self {
        Self { credentials, ttl, state: Mutex::new(State::Empty) }
    }

    /// Whether credentials are configured.
    pub fn enabled(&self) -> bool {
        self.credentials.is_some()
    }

    /// The token to send, `None` when no authentication is needed; fetches one (once, for all waiting callers)
    /// when there is none or it is due for refresh. `fetch` performs the token request.
    pub async fn token<F, Fut>(&self, fetch: F) -> Result<Option<Arc<str>>, AuthError>
    where
        F: FnOnce(Credentials) -> Fut,
        Fut: std::future::Future<Output = TokenReply>,
    {
        let Some(credentials) = &self.credentials else { return Ok(None) };
        // Holding the lock across the request is the single flight: concurrent callers wait, then see its result.
        let mut state = self.state.lock().await;
        let now = Instant::now();
        match &*state {
            State::Disabled { recheck_at } if now < *recheck_at => return Ok(None),
            State::Token { token, refresh_at } if now < *refresh_at => return Ok(Some(token.clone())),
            State::Failing { retry_at, error, .. } if now < *retry_at => return Err(AuthError(error.clone())),
            _ => {}
        }
        let failures = match &*state {
            State::Failing { failures, .. } => *failures,
            _ => 0,
        };
        match fetch(credentials.clone()).await {
            TokenReply::Token(token) => {
                let lifetime = jwt_lifetime(&token).unwrap_or(self.ttl);
                let token: Arc<str> = token.into();
                *state = State::Token { token: token.clone(), refresh_at: Instant::now() + lifetime.mul_f64(0.8) };
                tracing::info!(refresh_in_secs = lifetime.mul_f64(0.8).as_secs(), "Obtained an authorization token.");
                Ok(Some(token))
            }
            TokenReply::NotFound => {
                if !matches!(&*state, State::Disabled { .. }) {
                    tracing::info!(
                        recheck_in_secs = NO_AUTH_RECHECK.as_secs(),
                        "The server has no /api/token: running without authentication (conductor-oss)."
                    );
                }
                *state = State::Disabled { recheck_at: Instant::now() + NO_AUTH_RECHECK };
                Ok(None)
            }
            TokenReply::Failed(status, message) => {
                let backoff = Duration::from_secs(1 << failures.min(6)).min(Duration::from_secs(60));
                let error = format!("token request failed ({status}): {message}");
                tracing::warn!(error = %error, retry_in_secs = backoff.as_secs(), "Authorization failed.");
                *state =
                    State::Failing { retry_at: Instant::now() + backoff, failures: failures + 1, error: error.clone() };
                Err(AuthError(error))
            }
        }
    }

    /// The server refused a call made with `token` (`None`: made without one, authentication being off): the next
    /// [`TokenCache::token`] call fetches a new token, or asks `/api/token` again, unless another caller already
    /// did. Returns whether a replay can go out differently (credentials are configured).
    pub async fn invalidate(&self, token: Option<&Arc<str>>) -> bool {
        if self.credentials.is_none() {
            return false;
        }
        let mut state = self.state.lock().await;
        let stale = match (&*state, token) {
            (State::Token { token: current, .. }, Some(token)) => Arc::ptr_eq(current, token),
            (State::Disabled { .. }, None) => true,
            _ => false,
        };
        if stale {
            *state = State::Empty;
        }
        true
    }
}

/// Whether the server refused the call's authorization: any 401, and a 403 whose body says the token expired or is
/// invalid (the SDKs' rule; other 403s are permissions, which a new token does not change).
pub fn is_token_rejection(status: u16, body: &str) -> bool {
    status == 401 || (status == 403 && (body.contains("EXPIRED_TOKEN") || body.contains("INVALID_TOKEN")))
}

/// The remaining lifetime of a JWT from its `exp` claim, if it has one in the future.
fn jwt_lifetime(token: &str) -> Option<Duration> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let exp = serde_json::from_slice::<Value>(&bytes).ok()?.get("exp")?.as_u64()?;
    let now = crate::clock::epoch_ms() / 1000;
    (exp > now).then(|| Duration::from_secs(exp - now))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    fn credentials() -> Option<Credentials> {
        Some(Credentials { key_id: "id".into(), key_secret: "secret".into() })
    }

    fn jwt(exp_in_secs: u64) -> String {
        let claims = serde_json::json!({"exp": crate::clock::epoch_ms() / 1000 + exp_in_secs});
        let encode = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
        format!("{}.{}.sig", encode(b"{\"alg\":\"HS256\"}"), encode(claims.to_string().as_bytes()))
    }

    #[test]
    fn jwt_expiry_is_read_from_the_payload() {
        let lifetime = jwt_lifetime(&jwt(600)).unwrap();
        assert!(lifetime <= Duration::from_secs(600) && lifetime >= Duration::from_secs(598));
        assert_eq!(jwt_lifetime("opaque-token"), None);
        assert_eq!(jwt_lifetime("a.%%%.c"), None);
    }

    #[test]
    fn token_rejections_follow_the_sdks() {
        assert!(is_token_rejection(401, r#"{"error":"EXPIRED_TOKEN"}"#));
        assert!(is_token_rejection(403, r#"{"error":"INVALID_TOKEN"}"#));
        assert!(!is_token_rejection(403, r#"{"error":"ACCESS_DENIED"}"#));
        assert!(is_token_rejection(401, "Unauthorized"), "any 401 is about authorization");
        assert!(!is_token_rejection(500, "EXPIRED_TOKEN"));
    }

    #[tokio::test]
    async fn concurrent_callers_share_one_request() {
        let cache = Arc::new(TokenCache::new(credentials(), Duration::from_secs(2700)));
        let requests = Arc::new(AtomicU32::new(0));
        let callers: Vec<_> = (0..20)
            .map(|_| {
                let (cache, requests) = (cache.clone(), requests.clone());
                tokio::spawn(async move {
                    cache
                        .token(|_| async move {
                            requests.fetch_add(1, Ordering::SeqCst);
                            tokio::time::sleep(Duration::from_millis(20)).await;
                            TokenReply::Token("t1".into())
                        })
                        .await
                })
            })
            .collect();
        for caller in callers {
            assert_eq!(caller.await.unwrap().unwrap().as_deref(), Some("t1"));
        }
        assert_eq!(requests.load(Ordering::SeqCst), 1);
    }

    #[tokio::test]
    async fn invalidation_refreshes_once_and_404_disables() {
        let cache = TokenCache::new(credentials(), Duration::from_secs(2700));
        let first = cache.token(|_| async { TokenReply::Token("t1".into()) }).await.unwrap().unwrap();
        assert!(cache.invalidate(Some(&first)).await);
        cache.invalidate(Some(&first)).await; // a second rejection of the same token changes nothing more
        let second = cache.token(|_| async { TokenReply::Token("t2".into()) }).await.unwrap().unwrap();
        assert_eq!(&*second, "t2");
        cache.invalidate(Some(&first)).await; // stale: t2 stays
        assert_eq!(cache.token(|_| async { TokenReply::Token("t3".into()) }).await.unwrap().as_deref(), Some("t2"));

        let oss = TokenCache::new(credentials(), Duration::from_secs(1));
        assert_eq!(oss.token(|_| async { TokenReply::NotFound }).await, Ok(None));
        assert_eq!(oss.token(|_| async { TokenReply::Token("never".into()) }).await, Ok(None));
        let none = TokenCache::new(None, Duration::from_secs(1));
        assert_eq!(none.token(|_| async { TokenReply::Token("never".into()) }).await, Ok(None));
        assert!(!none.invalidate(None).await, "without credentials a replay would go out the same");
    }

    #[tokio::test(start_paused = true)]
    async fn a_404_is_asked_again_later_and_at_once_after_a_401() {
        let cache = TokenCache::new(credentials(), Duration::from_secs(2700));
        assert_eq!(cache.token(|_| async { TokenReply::NotFound }).await, Ok(None));
        tokio::time::advance(NO_AUTH_RECHECK - Duration::from_secs(1)).await;
        assert_eq!(cache.token(|_| async { TokenReply::Token("early".into()) }).await, Ok(None));
        tokio::time::advance(Duration::from_secs(2)).await;
        let later = cache.token(|_| async { TokenReply::Token("later".into()) }).await.unwrap();
        assert_eq!(later.as_deref(), Some("later"), "re-probed after the recheck interval");

        let gateway = TokenCache::new(credentials(), Duration::from_secs(2700));
        assert_eq!(gateway.token(|_| async { TokenReply::NotFound }).await, Ok(None));
        assert!(gateway.invalidate(None).await, "a 401 on a call made without a token");
        let now = gateway.token(|_| async { TokenReply::Token("now".into()) }).await.unwrap();
        assert_eq!(now.as_deref(), Some("now"), "re-probed at once");
    }

    #[tokio::test(start_paused = true)]
    async fn failures_back_off_without_hammering() {
        let cache = TokenCache::new(credentials(), Duration::from_secs(2700));
        let calls = AtomicU32::new(0);
        let fail = |_| async {
            calls.fetch_add(1, Ordering::SeqCst);
            TokenReply::Failed(500, "down".into())
        };
        assert!(cache.token(fail).await.is_err());
        assert!(cache.token(fail).await.is_err(), "within the backoff: no new request");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        tokio::time::advance(Duration::from_millis(1100)).await;
        assert!(cache.token(fail).await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        tokio::time::advance(Duration::from_millis(2100)).await;
        assert_eq!(cache.token(|_| async { TokenReply::Token("ok".into()) }).await.unwrap().as_deref(), Some("ok"));
    }

    #[tokio::test(start_paused = true)]
    async fn tokens_are_refreshed_before_they_expire() {
        let cache = TokenCache::new(credentials(), Duration::from_secs(100));
        cache.token(|_| async { TokenReply::Token("opaque-1".into()) }).await.unwrap();
        tokio::time::advance(Duration::from_secs(79)).await;
        let same = cache.token(|_| async { TokenReply::Token("opaque-2".into()) }).await.unwrap();
        assert_eq!(same.as_deref(), Some("opaque-1"));
        tokio::time::advance(Duration::from_secs(2)).await;
        let fresh = cache.token(|_| async { TokenReply::Token("opaque-2".into()) }).await.unwrap();
        assert_eq!(fresh.as_deref(), Some("opaque-2"));
    }
}
