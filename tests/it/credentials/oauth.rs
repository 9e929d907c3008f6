//! OAuth2 client credentials against an identity provider that follows RFC 6749 (form-encoded requests, client
//! authentication with HTTP Basic, `expires_in`, error bodies): tokens that expire mid-run are replaced, a revoked
//! token's 401 forces a refresh and a replay, a refused client fails the task naming the profile, and the metrics
//! count the fetches.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::Form;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use base64::Engine as _;
use serde_json::json;
use tokio::time::Instant;

use super::{Fixture, status_and_reason, temp_dir};
use crate::support::serve;

/// Lifetime of the tokens the provider grants after the first (which lives a minute but is revoked after one use,
/// so that the worker still holds it when the target refuses it).
const LIFETIME: Duration = Duration::from_secs(2);
const FIRST_LIFETIME: Duration = Duration::from_secs(60);
const CLIENT_SECRET: &str = "cl13nt-s3cret-it";

#[derive(Default)]
struct Provider {
    /// token → when it expires.
    granted: HashMap<String, Instant>,
    /// Tokens the target no longer accepts.
    revoked: Vec<String>,
    /// Requests the provider refused, and why.
    refused: Vec<String>,
    /// Requests the target answered 401.
    unauthorized: usize,
    /// Requests the target served.
    served: usize,
}

type Shared = Arc<Mutex<Provider>>;

/// The token endpoint: `grant_type=client_credentials`, the client authenticated with HTTP Basic (§2.3.1).
async fn token(provider: Shared, headers: HeaderMap, Form(form): Form<HashMap<String, String>>) -> impl IntoResponse {
    let form_type = headers.get(header::CONTENT_TYPE).is_some_and(|v| v == "application/x-www-form-urlencoded");
    let credentials = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok()?.strip_prefix("Basic ").map(str::to_owned))
        .and_then(|b| String::from_utf8(base64::engine::general_purpose::STANDARD.decode(b).ok()?).ok());
    let mut provider = provider.lock().unwrap();
    let error = |provider: &mut Provider, status: StatusCode, error: &str| {
        provider.refused.push(error.to_owned());
        let body = json!({"error": error, "error_description": "refused by the test provider"});
        (status, [(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
    };
    if !form_type || form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return error(&mut provider, StatusCode::BAD_REQUEST, "unsupported_grant_type");
    }
    if credentials.as_deref() != Some(&format!("worker:{CLIENT_SECRET}")) {
        return error(&mut provider, StatusCode::UNAUTHORIZED, "invalid_client");
    }
    if form.get("scope").map(String::as_str) != Some("jobs.read jobs.write") {
        return error(&mut provider, StatusCode::BAD_REQUEST, "invalid_scope");
    }
    let lifetime = if provider.granted.is_empty() { FIRST_LIFETIME } else { LIFETIME };
    let token = format!("tok-{}-{}", provider.granted.len() + 1, fastrand::u64(..));
    provider.granted.insert(token.clone(), Instant::now() + lifetime);
    let body = json!({"access_token": token, "token_type": "Bearer", "expires_in": lifetime.as_secs()});
    ([(header::CACHE_CONTROL, "no-store")], axum::Json(body)).into_response()
}

/// The target: a token must be granted, unexpired and not revoked. The first token is revoked after its first use,
/// so that its second use is answered 401.
async fn jobs(provider: Shared, headers: HeaderMap) -> impl IntoResponse {
    let bearer =
        headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()?.strip_prefix("Bearer ").map(str::to_owned));
    let mut provider = provider.lock().unwrap();
    let valid = bearer.as_ref().is_some_and(|t| {
        provider.granted.get(t).is_some_and(|expires| Instant::now() < *expires) && !provider.revoked.contains(t)
    });
    if !valid {
        provider.unauthorized += 1;
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer error=\"invalid_token\"")])
            .into_response();
    }
    provider.served += 1;
    if bearer.as_deref().is_some_and(|t| t.starts_with("tok-1-")) {
        provider.revoked.extend(bearer.clone());
    }
    axum::Json(json!({"count": provider.served, "token": bearer})).into_response()
}

#[tokio::test]
async fn tokens_are_fetched_cached_refreshed_and_replayed_after_a_401() {
    let provider: Shared = Arc::default();
    let idp = {
        let p = provider.clone();
        serve(Router::new().route("/oauth2/token", post(move |h, f| token(p.clone(), h, f)))).await
    };
    let target = {
        let p = provider.clone();
        serve(Router::new().route("/jobs/status", get(move |h| jobs(p.clone(), h)))).await
    };
    let dir = temp_dir();
    std::fs::write(dir.path().join("client-secret"), CLIENT_SECRET).unwrap();
    std::fs::write(dir.path().join("wrong-secret"), "not-the-s3cret").unwrap();
    let profiles = format!(
        r#"
[targets.jobs]
hosts = ["localhost"]
oauth2 = {{ token_url = "{idp}/oauth2/token", client_id = "worker", client_secret_file = "{{dir}}/client-secret",
           scopes = ["jobs.read", "jobs.write"], audience = "jobs" }}

[targets.broken]
hosts = ["127.0.0.1"]
oauth2 = {{ token_url = "{idp}/oauth2/token", client_id = "worker", client_secret_file = "{{dir}}/wrong-secret",
           scopes = ["jobs.read", "jobs.write"] }}
"#
    );
    let mut fixture = Fixture::start("it_cred_oauth", &profiles, dir, &[]).await;

    // Polls every second until the target has served 5 requests: the first token is revoked after one use (its
    // next use is answered 401), the later ones live 2 s.
    let uri = target.replace("127.0.0.1", "localhost") + "/jobs/status";
    let polled =
        fixture.call(json!({"uri": uri, "condition": "$.output.response.body.count >= 5", "interval": "1"})).await;
    assert_eq!(status_and_reason(&polled).0, "COMPLETED", "{polled:#}\n{}", fixture.log_text());
    let granted: Vec<String> = {
        let p = provider.lock().unwrap();
        assert_eq!(p.unauthorized, 1, "exactly the revoked token's use was refused");
        assert!(p.refused.is_empty(), "the provider accepted every request: {:?}", p.refused);
        p.granted.keys().cloned().collect()
    };
    // 5 polls over ~4 s with 2 s tokens refreshed 1 s early, plus the replacement of the revoked one.
    assert!((3..=8).contains(&granted.len()), "{} tokens granted", granted.len());
    assert_eq!(polled["outputData"]["response"]["body"]["token"], "<redacted>", "{polled:#}");

    // A profile whose client secret the provider refuses: the task fails, naming the profile, not the secret.
    let refused = fixture.call(json!({"uri": target.clone() + "/jobs/status"})).await;
    let (status, reason) = status_and_reason(&refused);
    assert_eq!(status, "FAILED", "{refused:#}");
    assert!(
        reason.contains("credentials profile \"broken\": the token endpoint answered 401 invalid_client"),
        "{reason}"
    );

    let metrics = fixture.metrics().await;
    let fetched =
        format!("conductor_http_worker_token_fetches_total{{profile=\"jobs\",outcome=\"fetched\"}} {}", granted.len());
    assert!(metrics.lines().any(|l| l == fetched), "{fetched} in\n{metrics}");
    let failed = "conductor_http_worker_token_fetches_total{profile=\"broken\",outcome=\"failed\"} 1";
    assert!(metrics.lines().any(|l| l == failed), "{failed} in\n{metrics}");

    let mut secrets: Vec<&str> = granted.iter().map(String::as_str).collect();
    secrets.extend([CLIENT_SECRET, "not-the-s3cret"]);
    fixture.assert_no_secret(&secrets, &[&polled, &refused]).await;
}
