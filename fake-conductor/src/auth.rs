//! Orkes authentication: `POST /api/token` for a key id and secret issues a JWT-shaped token with `exp`; every
//! other call needs it in `X-Authorization`.

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct Auth {
    /// Key id and secret; `None`: no authentication.
    pub(crate) credentials: Option<(String, String)>,
    /// Whether the credentials are accepted (false: every token request is refused).
    pub(crate) accept: bool,
    ttl: Duration,
    tokens: HashMap<String, Instant>,
    pub(crate) token_requests: u32,
    pub(crate) rejected_calls: u32,
    pub(crate) unauthorized_calls: u32,
}

/// Why a call or a token request is refused: the `error` of the 401 body.
pub(crate) type Refusal = &'static str;

impl Auth {
    pub(crate) fn new(credentials: Option<(String, String)>, ttl: Duration) -> Self {
        Self {
            credentials,
            accept: true,
            ttl,
            tokens: HashMap::new(),
            token_requests: 0,
            rejected_calls: 0,
            unauthorized_calls: 0,
        }
    }

    /// A token for this request body, `Ok(None)` when the server has no authentication (404), or the refusal.
    pub(crate) fn token(&mut self, body: &Value) -> Result<Option<String>, Refusal> {
        self.token_requests += 1;
        let Some((key_id, key_secret)) = &self.credentials else { return Ok(None) };
        let valid = body["keyId"] == key_id.as_str() && body["keySecret"] == key_secret.as_str();
        if !(valid && self.accept) {
            return Err("INVALID_CREDENTIALS");
        }
        let token = jwt(self.ttl, self.token_requests);
        self.tokens.insert(token.clone(), Instant::now() + self.ttl);
        Ok(Some(token))
    }

    /// Whether a call carrying `token` may proceed.
    pub(crate) fn authorize(&mut self, token: Option<&str>) -> Result<(), Refusal> {
        if self.credentials.is_none() {
            return Ok(());
        }
        let Some(token) = token else {
            self.unauthorized_calls += 1;
            return Err("INVALID_TOKEN");
        };
        match self.tokens.get(token) {
            Some(expiry) if Instant::now() < *expiry => Ok(()),
            Some(_) => {
                self.rejected_calls += 1;
                Err("EXPIRED_TOKEN")
            }
            None => {
                self.rejected_calls += 1;
                Err("INVALID_TOKEN")
            }
        }
    }

    pub(crate) fn expire_all(&mut self) {
        let past = Instant::now() - Duration::from_secs(1);
        self.tokens.values_mut().for_each(|expiry| *expiry = past);
    }

    pub(crate) fn issued(&self) -> Vec<String> {
        self.tokens.keys().cloned().collect()
    }
}

/// A JWT-shaped token whose payload carries `exp` (nobody checks the signature).
fn jwt(ttl: Duration, serial: u32) -> String {
    use base64::Engine as _;
    let encode = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let claims = json!({"sub": "app", "exp": now + ttl.as_secs(), "n": serial, "r": fastrand::u32(..)});
    format!("{}.{}.sig", encode(br#"{"alg":"HS256","typ":"JWT"}"#), encode(claims.to_string().as_bytes()))
}
