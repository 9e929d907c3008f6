//! Operating the worker against the real server: metrics, health and update-v2; runtime control and the
//! queue-depth gauge.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{CONTROL_TOKEN, Conductor, example_api, start_worker, unique};

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("reachable");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

/// The value of the sample whose line starts with `series ` (labels included, exactly as encoded).
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Runs a two-step workflow on custom task names, then checks what operators see: `/healthz`, `/readyz`, the
/// canonical and own metrics, and that terminal updates went through update-v2 on conductor-oss. The scrape is
/// kept in `target/live-metrics.txt` for `promtool check metrics` (scripts/test.sh).
#[tokio::test]
async fn metrics_health_and_update_v2_on_a_live_worker() {
    let api = example_api(Duration::from_millis(500)).await;
    let conductor = Conductor::default();
    let (invoke_name, poll_name) = (unique("it_ops_invoke"), unique("it_ops_poll"));
    conductor
        .register_task_defs(&[Conductor::task_def(&invoke_name, 60, 0), Conductor::task_def(&poll_name, 60, 0)])
        .await;
    let workflow_name = unique("it_ops_wf");
    conductor
        .put_workflow(&json!({
            "name": workflow_name, "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
            "tasks": [
                {"name": invoke_name, "taskReferenceName": "invoke", "type": "SIMPLE", "inputParameters": {"http_request": {
                    "uri": format!("{}/invoke-lambda", api.base), "method": "POST", "body": {"requestId": "${workflow.input.requestId}"}}}},
                {"name": poll_name, "taskReferenceName": "poll", "type": "SIMPLE", "inputParameters": {"http_request": {
                    "uri": format!("{}/${{workflow.input.requestId}}", api.base), "method": "GET",
                    "terminationCondition": "$.output.response.body.body.status == 'COMPLETED'", "pollingInterval": 0.2}}}
            ]
        }))
        .await;
    let worker = start_worker(&[&invoke_name, &poll_name], &[]).await;
    for _ in 0..3 {
        let id = conductor.start(&workflow_name, json!({"requestId": unique("req")})).await;
        let done = conductor.wait_terminal(&id, Duration::from_secs(30)).await;
        assert_eq!(done["status"], "COMPLETED", "{done:#}");
    }

    let (status, live) = get(&format!("{}/healthz", worker.admin)).await;
    assert_eq!((status, serde_json::from_str::<Value>(&live).unwrap()["ok"].clone()), (200, json!(true)), "{live}");
    let (status, ready) = get(&format!("{}/readyz", worker.admin)).await;
    assert_eq!(status, 200, "{ready}");

    // A workflow can show COMPLETED before the worker has read the server's reply to its last update (and counted
    // the request): scrape until the six terminal updates are counted, for a few seconds at most.
    let deadline = Instant::now() + Duration::from_secs(5);
    let metrics = loop {
        let (status, metrics) = get(&format!("{}/metrics", worker.admin)).await;
        assert_eq!(status, 200);
        if update_v2_calls(&metrics) >= 6.0 || Instant::now() > deadline {
            break metrics;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let target = std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{}/target", env!("CARGO_MANIFEST_DIR")));
    std::fs::write(format!("{target}/live-metrics.txt"), &metrics).expect("keep the scrape");
    let counter =
        |name: &str, task_type: &str| sample(&metrics, &format!("{name}{{taskType=\"{task_type}\"}}")).unwrap_or(-1.0);
    assert_eq!(counter("task_execution_started_total", &invoke_name), 3.0, "{metrics}");
    assert!(counter("task_execution_started_total", &poll_name) >= 3.0);
    assert!(counter("task_poll_total", &poll_name) >= 1.0);
    let completes =
        sample(&metrics, &format!("http_poll_iterations_total{{taskType=\"{poll_name}\",outcome=\"complete\"}}"));
    assert_eq!(completes, Some(3.0));
    let conditions_false =
        sample(&metrics, &format!("condition_evaluations_total{{taskType=\"{poll_name}\",outcome=\"false\"}}"));
    assert!(conditions_false >= Some(1.0), "the job stays PROCESSING for 0.5 s: {metrics}");
    assert_eq!(sample(&metrics, "conductor_server_up"), Some(1.0));
    // Terminal updates use update-v2 on conductor-oss (3.21 and 3.32): no plain POST /tasks was needed.
    assert!(update_v2_calls(&metrics) >= 6.0, "{metrics}");
    assert!(!metrics.contains("uri=\"/tasks\","), "every report went through update-v2: {metrics}");
    for forbidden in ["workflowInstanceId", "req_", &api.base] {
        assert!(!metrics.contains(forbidden), "{forbidden} must not appear as a label value");
    }
}

/// `POST /tasks/update-v2` calls the scrape counted (answered 200 or 204).
fn update_v2_calls(metrics: &str) -> f64 {
    ["200", "204"]
        .iter()
        .filter_map(|s| {
            sample(
                metrics,
                &format!(
                    "http_api_client_request_seconds_count{{method=\"POST\",uri=\"/tasks/update-v2\",status=\"{s}\"}}"
                ),
            )
        })
        .sum()
}

/// Pause, resume and resize a task type at runtime, and watch the queue depth grow while it is paused.
#[tokio::test]
async fn runtime_control_and_queue_depth() {
    let api = example_api(Duration::ZERO).await;
    let conductor = Conductor::default();
    let task_name = unique("it_control");
    conductor.register_task_defs(&[Conductor::task_def(&task_name, 60, 0)]).await;
    let workflow_name = unique("it_control_wf");
    conductor
        .put_workflow(&json!({
            "name": workflow_name, "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
            "tasks": [{"name": task_name, "taskReferenceName": "call", "type": "SIMPLE", "inputParameters": {"http_request": {
                "uri": format!("{}/healthz", api.base), "method": "GET"}}}]
        }))
        .await;
    let worker = start_worker(&[&task_name], &[]).await;
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("authorization", format!("Bearer {CONTROL_TOKEN}").parse().unwrap());
    let http = reqwest::Client::builder().default_headers(headers).build().unwrap();
    let control = |path: &str| format!("{}/task-types/{task_name}/{path}", worker.control);
    // Without the token, nothing: not even the listing.
    let anonymous = reqwest::Client::new();
    assert_eq!(anonymous.post(control("pause")).send().await.unwrap().status(), 401);
    let wrong = anonymous.get(format!("{}/task-types", worker.control)).bearer_auth("guess").send().await.unwrap();
    assert_eq!(wrong.status(), 401);

    let paused: Value = http.post(control("pause")).send().await.unwrap().json().await.unwrap();
    assert_eq!(paused["paused"], true);
    tokio::time::sleep(Duration::from_millis(1500)).await; // an in-flight long poll ends
    let ids = [conductor.start(&workflow_name, json!({})).await, conductor.start(&workflow_name, json!({})).await];
    let depth_series = format!("task_queue_depth{{taskType=\"{task_name}\"}}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, metrics) = get(&format!("{}/metrics", worker.admin)).await;
        if sample(&metrics, &depth_series) == Some(2.0) {
            break;
        }
        assert!(Instant::now() < deadline, "queue depth never reached 2: {:?}", sample(&metrics, &depth_series));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for id in &ids {
        let workflow = conductor.workflow(id).await;
        assert_eq!(Conductor::task(&workflow, "call")["status"], "SCHEDULED", "paused: not polled");
    }

    let resized: Value =
        http.put(control("concurrency")).json(&json!({"concurrency": 3})).send().await.unwrap().json().await.unwrap();
    assert_eq!(resized["concurrency"], 3);
    let resumed: Value = http.post(control("resume")).send().await.unwrap().json().await.unwrap();
    assert_eq!(resumed["paused"], false);
    for id in &ids {
        assert_eq!(conductor.wait_terminal(id, Duration::from_secs(15)).await["status"], "COMPLETED");
    }
    let listed: Value = http.get(format!("{}/task-types", worker.control)).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        listed,
        json!([{"taskType": task_name, "paused": false, "concurrency": 3, "slotsUsed": listed[0]["slotsUsed"]}])
    );

    let bad = http.put(control("concurrency")).json(&json!({"concurrency": 0})).send().await.unwrap();
    assert_eq!(bad.status(), 400);
    let unknown = http.post(format!("{}/task-types/nope/pause", worker.control)).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}
