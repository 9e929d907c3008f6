//! Graceful shutdown: SIGTERM a worker holding 200 polls; it parks them all and exits 0 within the grace, and a
//! second instance finishes every one. SIGTERM with requests in flight to a target that never answers: one
//! deadline, grace + 1 s at most, for everything.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::support::{Conductor, WorkerProcess, example_api, start_worker, unique};

const WORKFLOWS: usize = 200;
const GRACE_SECS: u64 = 20;

#[tokio::test]
async fn sigterm_parks_200_held_polls_and_another_instance_finishes_them() {
    // Jobs stay PROCESSING until the test lets them finish, however long starting 200 workflows takes.
    let api = example_api(Duration::from_secs(3600)).await;
    let conductor = Conductor::default();
    let task_name = unique("it_shutdown_poll");
    conductor.register_task_defs(&[Conductor::task_def(&task_name, 120, 0)]).await;
    let workflow_name = unique("it_shutdown_wf");
    conductor
        .put_workflow(&json!({
            "name": workflow_name, "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
            "tasks": [{"name": task_name, "taskReferenceName": "poll", "type": "SIMPLE", "inputParameters": {"http_request": {
                "uri": format!("{}/${{workflow.input.requestId}}", api.base), "method": "GET",
                "terminationCondition": "$.output.response.body.body.status == 'COMPLETED'",
                "pollingInterval": 2, "pollingStrategy": "FIXED"}}}]
        }))
        .await;
    // Hold mode (2 s waits, threshold 30 s), room for every task, a 20 s grace.
    let grace = GRACE_SECS.to_string();
    let settings =
        [("CONDUCTOR_WORKER_ALL_CONCURRENCY", "300"), ("CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS", grace.as_str())];
    let first = WorkerProcess::start(&[&task_name], &settings);

    let mut jobs = Vec::new();
    for _ in 0..WORKFLOWS {
        let request_id = unique("job");
        api.invoke(&request_id).await;
        let id = conductor.start(&workflow_name, json!({"requestId": request_id})).await;
        jobs.push((request_id, id));
    }
    // Every job polled at least once: all 200 are now held by the first worker between polls.
    let deadline = Instant::now() + Duration::from_secs(30);
    while jobs.iter().any(|(request_id, _)| api.api.stats(request_id).polls == 0) {
        assert!(Instant::now() < deadline, "not every job was polled");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let (code, took) = first.terminate(Duration::from_secs(GRACE_SECS + 5)).await;
    assert_eq!(code, Some(0), "the first worker exits 0");
    assert!(took < Duration::from_secs(GRACE_SECS), "it exits within the grace ({took:?})");
    eprintln!("SIGTERM with {WORKFLOWS} held polls: exited 0 after {took:?}");

    // Nothing is left IN_PROGRESS with the dead worker: every task is parked (SCHEDULED) with its state.
    for (_, id) in &jobs {
        let workflow = conductor.workflow(id).await;
        let task = Conductor::task(&workflow, "poll");
        assert_eq!(task["status"], "SCHEDULED", "parked, not left to the response timeout: {task:#}");
        assert!(task["outputData"]["httpPollState"]["pollsMade"].as_u64() >= Some(1), "{task:#}");
    }

    let _second = start_worker(&[&task_name], &[("CONDUCTOR_WORKER_ALL_CONCURRENCY", "300")]).await;
    api.api.set_delay(Duration::from_secs(3));
    for (request_id, id) in &jobs {
        let done = conductor.wait_terminal(id, Duration::from_secs(60)).await;
        assert_eq!(done["status"], "COMPLETED", "{done:#}");
        let stats = api.api.stats(request_id);
        assert_eq!(stats.invocations, 1);
        let poll = Conductor::task(&done, "poll");
        assert_eq!(poll["outputData"]["pollCount"], stats.polls, "polls counted across both workers: {poll:#}");
    }
}

/// A target that accepts requests and never answers; counts arrivals per path.
async fn silent_target() -> (String, std::sync::Arc<std::sync::Mutex<Vec<String>>>) {
    let arrivals = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = arrivals.clone();
    let router = axum::Router::new().route(
        "/{*path}",
        axum::routing::any(move |uri: axum::http::Uri| {
            let seen = seen.clone();
            async move {
                seen.lock().unwrap().push(uri.path().to_owned());
                tokio::time::sleep(Duration::from_secs(3600)).await;
                "never"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), arrivals)
}

/// SIGTERM while a single call and a poll's status request are in flight to a target that never answers (their
/// timeouts are ten minutes): the worker exits 0 within grace + 1 s; the single call fails, retryable, saying the
/// worker shut down before the target answered; the poll is parked, due at once, for another worker.
#[tokio::test]
async fn sigterm_with_slow_requests_in_flight_exits_within_one_deadline() {
    const GRACE: u64 = 3;
    let (base, arrivals) = silent_target().await;
    let conductor = Conductor::default();
    let (call_type, poll_type) = (unique("it_slow_call"), unique("it_slow_poll"));
    conductor
        .register_task_defs(&[Conductor::task_def(&call_type, 300, 0), Conductor::task_def(&poll_type, 300, 0)])
        .await;
    // One workflow per task: the failed call must not cancel the parked poll.
    let one_task = |task_type: &str, request: serde_json::Value| {
        json!({"name": unique("it_slow_wf"), "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
               "tasks": [{"name": task_type, "taskReferenceName": "t", "type": "SIMPLE",
                          "inputParameters": {"http_request": request}}]})
    };
    let call_workflow = one_task(
        &call_type,
        json!({"uri": format!("{base}/call"), "method": "POST", "body": {"x": 1}, "readTimeOut": 600000}),
    );
    let poll_workflow = one_task(
        &poll_type,
        json!({"uri": format!("{base}/status"), "method": "GET", "readTimeOut": 600000, "pollingInterval": 1,
               "terminationCondition": "$.output.response.body.done == true"}),
    );
    conductor.put_workflow(&call_workflow).await;
    conductor.put_workflow(&poll_workflow).await;
    let grace = GRACE.to_string();
    let worker =
        WorkerProcess::start(&[&call_type, &poll_type], &[("CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS", &grace)]);
    let call_id = conductor.start(call_workflow["name"].as_str().unwrap(), json!({})).await;
    let poll_id = conductor.start(poll_workflow["name"].as_str().unwrap(), json!({})).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    while arrivals.lock().unwrap().len() < 2 {
        assert!(Instant::now() < deadline, "both requests reach the target: {:?}", arrivals.lock().unwrap());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (code, took) = worker.terminate(Duration::from_secs(GRACE + 10)).await;
    eprintln!("SIGTERM with two requests in flight, grace {GRACE} s: exited {code:?} after {took:?}");
    assert_eq!(code, Some(0));
    assert!(took <= Duration::from_secs(GRACE + 1), "exits within grace + 1 s ({took:?})");

    let call_run = conductor.workflow(&call_id).await;
    let call = Conductor::task(&call_run, "t");
    assert_eq!(call["status"], "FAILED", "retryable, not terminal: {call:#}");
    let reason = call["reasonForIncompletion"].as_str().unwrap_or_default();
    assert!(reason.contains("shut down before"), "{reason}");
    let poll_run = conductor.workflow(&poll_id).await;
    let poll = Conductor::task(&poll_run, "t");
    assert_eq!(poll["status"], "SCHEDULED", "parked for another worker: {poll:#}");
    // Interrupted during its first poll: nothing to carry over but the count, and due again at once.
    assert_eq!(poll["outputData"]["pollCount"], 0, "{poll:#}");
    assert_eq!(poll["callbackAfterSeconds"], 0, "{poll:#}");
    assert_eq!(arrivals.lock().unwrap().len(), 2, "nothing was sent twice");
}
