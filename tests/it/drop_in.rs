//! Inputs the peers accept, run unchanged on a real server: header values that are numbers, booleans or lists
//! (the Python SDK's `dict[str, list[str]]`), and timeouts of 0 ("no timeout", conductor-oss's docs).

use std::time::Duration;

use axum::Router;
use axum::http::HeaderMap;
use axum::routing::any;
use serde_json::{Map, Value, json};

use crate::support::{Conductor, execution_log, one_task_workflow, serve, start_worker};

/// A target that answers, after `delay`, with every request header as a list of its values.
async fn echo(delay: Duration) -> String {
    let router = Router::new().route(
        "/headers",
        any(move |headers: HeaderMap| async move {
            tokio::time::sleep(delay).await;
            let mut seen = Map::new();
            for name in headers.keys() {
                let values: Vec<Value> =
                    headers.get_all(name).iter().map(|v| json!(v.to_str().unwrap_or_default())).collect();
                seen.insert(name.as_str().to_owned(), Value::Array(values));
            }
            axum::Json(Value::Object(seen))
        }),
    );
    serve(router).await
}

#[tokio::test]
async fn numbers_booleans_lists_and_zero_timeouts_work_as_on_the_peers() {
    let target = echo(Duration::from_millis(200)).await;
    let conductor = Conductor::default();
    let input = json!({"http_request": {
        "uri": format!("{target}/headers"), "method": "GET",
        "headers": {"X-Count": 3, "X-Ratio": 0.5, "X-Flag": true, "X-Many": ["a", 2, false]},
        "connectionTimeOut": 0, "readTimeOut": 0, "vipAddress": "eureka-name"}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_drop_in", 60, "call", input).await;
    let _worker = start_worker(&[&task_name], &[]).await;
    let id = conductor.start(&workflow_name, json!({})).await;
    let done = conductor.wait_terminal(&id, Duration::from_secs(30)).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    let seen = &Conductor::task(&done, "call")["outputData"]["response"]["body"];
    assert_eq!(seen["x-count"], json!(["3"]), "{seen:#}");
    assert_eq!(seen["x-ratio"], json!(["0.5"]));
    assert_eq!(seen["x-flag"], json!(["true"]));
    assert_eq!(seen["x-many"], json!(["a", "2", "false"]), "a list is the header repeated");
    let task_id = Conductor::task(&done, "call")["taskId"].as_str().unwrap().to_owned();
    if let Some(logs) = execution_log(&conductor, &task_id).await {
        assert!(logs.iter().any(|l| l.contains("http_request.vipAddress is not used")), "unused keys: {logs:?}");
    }
}

/// Orkes' hedged attempts are refused with a reason that names the key, not silently sent once.
#[tokio::test]
async fn hedging_is_refused_naming_the_key() {
    let target = echo(Duration::ZERO).await;
    let conductor = Conductor::default();
    let input = json!({"http_request": {"uri": format!("{target}/headers"), "method": "GET",
                                       "hedgingConfig": {"maxAttempts": 3}}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_hedging", 60, "call", input).await;
    let _worker = start_worker(&[&task_name], &[]).await;
    let id = conductor.start(&workflow_name, json!({})).await;
    let done = conductor.wait_terminal(&id, Duration::from_secs(30)).await;
    let task = Conductor::task(&done, "call");
    assert_eq!(task["status"], "FAILED_WITH_TERMINAL_ERROR", "{task:#}");
    assert!(task["reasonForIncompletion"].as_str().unwrap().contains("http_request.hedgingConfig"), "{task:#}");
}

/// A single call with `retries` is made again inside the task after 503s, every attempt with the same
/// Idempotency-Key, and completes without a Conductor retry.
#[tokio::test]
async fn retries_inside_the_task_keep_one_idempotency_key() {
    use std::sync::{Arc, Mutex};
    let keys: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = keys.clone();
    let router = Router::new().route(
        "/flaky",
        any(move |headers: HeaderMap| {
            let seen = seen.clone();
            async move {
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                let mut keys = seen.lock().unwrap();
                keys.push(key);
                if keys.len() < 3 { axum::http::StatusCode::SERVICE_UNAVAILABLE } else { axum::http::StatusCode::OK }
            }
        }),
    );
    let base = serve(router).await;
    let conductor = Conductor::default();
    let input =
        json!({"http_request": {"uri": format!("{base}/flaky"), "method": "POST", "body": {"n": 1}, "retries": 3}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_retries", 60, "call", input).await;
    let _worker = start_worker(&[&task_name], &[]).await;
    let id = conductor.start(&workflow_name, json!({})).await;
    let done = conductor.wait_terminal(&id, Duration::from_secs(30)).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    let keys = keys.lock().unwrap().clone();
    assert_eq!(keys.len(), 3, "two 503s, then the answer: {keys:?}");
    assert!(!keys[0].is_empty() && keys.iter().all(|k| *k == keys[0]), "one key for every attempt: {keys:?}");
    assert_eq!(Conductor::attempts(&done, "call").len(), 1, "no Conductor retry was spent");
}
