//! Secrets never reach the logs or the task's output and execution log: the Orkes key and secret, the tokens,
//! Authorization-like request headers, configured sensitive headers, and secret response headers. The worker runs
//! as the real binary with `RUST_LOG=trace` and JSON logs, against `fake-conductor` with Orkes authentication (so tokens are in play).

use std::process::Stdio;
use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::get;
use serde_json::json;
use tokio::time::Instant;

use crate::support::{WorkerProcess, serve};
use fake_conductor::{FakeConductor, UpdateV2};

const KEY_ID: &str = "key-id-9b1e2c7d";
const KEY_SECRET: &str = "key-secret-5f0a3e88";
const REQUEST_SECRETS: [(&str, &str); 4] = [
    ("Authorization", "Bearer sekrit-authorization-1111"),
    ("X-Api-Key", "sekrit-api-key-2222"),
    ("Cookie", "session=sekrit-cookie-3333"),
    ("X-Custom-Secret", "sekrit-custom-4444"),
];
const RESPONSE_SECRETS: [(&str, &str); 2] =
    [("Set-Cookie", "session=sekrit-set-cookie-5555"), ("X-Custom-Secret", "sekrit-custom-6666")];

async fn echo_target() -> String {
    let router = Router::new().route(
        "/echo",
        get(|headers: HeaderMap| async move {
            let mut response_headers = HeaderMap::new();
            for (name, value) in RESPONSE_SECRETS {
                response_headers.insert(name, value.parse().unwrap());
            }
            // The body says which request headers arrived (names only), so the test sees they were sent.
            let names: Vec<String> = headers.keys().map(|k| k.as_str().to_owned()).collect();
            (response_headers, axum::Json(json!({"received": names})))
        }),
    );
    serve(router).await
}

#[tokio::test]
async fn secrets_are_never_logged_nor_stored() {
    let target = echo_target().await;
    let fake = FakeConductor::orkes(Some((KEY_ID, KEY_SECRET)), Duration::from_secs(2), UpdateV2::Supported).await;
    let headers: serde_json::Map<String, serde_json::Value> =
        REQUEST_SECRETS.iter().map(|(k, v)| ((*k).to_owned(), json!(v))).collect();
    let call = json!({"http_request": {"uri": format!("{target}/echo?token=sekrit-query-7777"), "method": "GET", "headers": headers}});
    let poll = json!({"http_request": {"uri": format!("{target}/echo"), "method": "GET", "headers": headers,
        "terminationCondition": "$.output.pollCount >= 3", "pollingInterval": 0.2}});
    let failing = json!({"http_request": {"uri": "http://127.0.0.1:9/echo?token=sekrit-query-8888", "method": "POST",
        "headers": headers, "body": {"password": "sekrit-body-9999"}}});
    for input in [&call, &poll, &failing] {
        fake.enqueue("secret_task", input.clone());
    }

    let log_path = std::env::temp_dir().join(format!("chw-secrets-{}.log", std::process::id()));
    let log_file = std::fs::File::create(&log_path).unwrap();
    let env = [
        ("CONDUCTOR_SERVER_URL", fake.api.as_str()),
        ("CONDUCTOR_AUTH_KEY", KEY_ID),
        ("CONDUCTOR_AUTH_SECRET", KEY_SECRET),
    ];
    let extra = [
        ("RUST_LOG", "trace"),
        ("CONDUCTOR_HTTP_WORKER_LOG_FORMAT", "json"),
        ("CONDUCTOR_HTTP_WORKER_HTTP_SENSITIVE_HEADERS", "authorization,x-api-key,cookie,set-cookie,x-custom-secret"),
    ];
    let worker = WorkerProcess::start_with_stderr(&["secret_task"], &env, &extra, Stdio::from(log_file));
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.results().len() < 3 {
        assert!(Instant::now() < deadline, "results: {:?}", fake.results());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // let a token expire and be refreshed
    let (code, _) = worker.terminate(Duration::from_secs(30)).await;
    assert_eq!(code, Some(0));

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let _ = std::fs::remove_file(&log_path);
    assert!(logs.lines().count() > 20, "trace logging was on: {} lines", logs.lines().count());
    assert!(logs.contains("\"task_id\""), "logs carry the task span");
    let results = serde_json::to_string(&fake.results()).unwrap();
    assert!(results.contains("\"received\""), "the requests reached the target: {results}");
    assert!(results.contains("<redacted>"), "secret response headers are redacted in the output: {results}");
    assert!(fake.token_requests() >= 2, "tokens were refreshed during the run");

    let mut secrets: Vec<String> = vec![KEY_ID.into(), KEY_SECRET.into(), "sekrit".into()];
    secrets.extend(fake.issued_tokens());
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "{secret:?} appears in the logs");
        assert!(!results.contains(secret.as_str()), "{secret:?} appears in a task result: {results}");
    }
}
