//! (e) Park mode survives the worker: SIGKILL it while a poll task is parked, start another process, and the
//! task continues from its saved state: no second invocation, polls counted across both processes.

use std::time::Duration;

use serde_json::json;
use tokio::time::Instant;

use crate::support::{Conductor, WorkerProcess, example_api, unique};

#[tokio::test]
async fn parked_task_survives_a_killed_worker_and_is_invoked_once() {
    let api = example_api(Duration::from_secs(9)).await;
    let conductor = Conductor::default();
    let (invoke_name, poll_name) = (unique("it_park_invoke"), unique("it_park_poll"));
    // A retry would start the poll task over; with retryCount 0 any lost task would fail the workflow instead.
    conductor
        .register_task_defs(&[Conductor::task_def(&invoke_name, 30, 0), Conductor::task_def(&poll_name, 30, 0)])
        .await;
    let workflow_name = unique("it_park_wf");
    conductor
        .put_workflow(&json!({
            "name": workflow_name, "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
            "tasks": [
                {"name": invoke_name, "taskReferenceName": "invoke", "type": "SIMPLE", "inputParameters": {"http_request": {
                    "uri": format!("{}/invoke-lambda", api.base), "method": "POST",
                    "body": {"requestId": "${workflow.input.requestId}"}}}},
                {"name": poll_name, "taskReferenceName": "poll", "type": "SIMPLE", "inputParameters": {"http_request": {
                    "uri": format!("{}/${{workflow.input.requestId}}", api.base), "method": "GET",
                    "terminationCondition": "$.output.response.body.body.status == 'COMPLETED'",
                    "pollingInterval": 5, "pollingStrategy": "FIXED"}}}
            ]
        }))
        .await;
    let park_everything = [("CONDUCTOR_WORKER_ALL_PARK_THRESHOLD_SECS", "0")];
    let first = WorkerProcess::start(&[&invoke_name, &poll_name], &park_everything);
    let first_pid = first.pid();
    let request_id = unique("req");
    let id = conductor.start(&workflow_name, json!({"requestId": request_id})).await;

    // Wait until the poll task is parked on the server after at least one poll, then kill the worker. The 5 s
    // interval keeps the kill clear of the re-delivery, which 3.21.x's SQLite queue makes up to ~1 s early: a kill
    // while the task is out to this worker would leave it to the response timeout (and retryCount 0 fails it).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let workflow = conductor.workflow(&id).await;
        let parked = workflow["tasks"].as_array().unwrap().iter().any(|t| {
            t["referenceTaskName"] == "poll"
                && t["status"] == "SCHEDULED"
                && t["outputData"]["httpPollState"]["pollsMade"].as_u64() >= Some(1)
        });
        if parked {
            break;
        }
        assert!(Instant::now() < deadline, "poll task never parked: {workflow:#}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    first.kill();
    let polls_before_restart = api.api.stats(&request_id).polls;
    assert!(polls_before_restart >= 1);

    tokio::time::sleep(Duration::from_secs(1)).await;
    let second = WorkerProcess::start(&[&invoke_name, &poll_name], &park_everything);
    let done = conductor.wait_terminal(&id, Duration::from_secs(60)).await;

    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    let poll = Conductor::task(&done, "poll");
    assert_eq!(poll["outputData"]["response"]["body"]["body"]["status"], "COMPLETED");
    let stats = api.api.stats(&request_id);
    assert_eq!(stats.invocations, 1, "invoked exactly once: {stats:?}");
    assert!(stats.polls > polls_before_restart, "the second worker kept polling: {stats:?}");
    assert_eq!(poll["outputData"]["pollCount"], stats.polls, "poll count carried across processes: {poll:#}");
    let worker_id = poll["workerId"].as_str().unwrap_or_default();
    assert!(worker_id.ends_with(&format!("-{}", second.pid())), "completed by the second process: {worker_id}");
    assert!(!worker_id.ends_with(&format!("-{first_pid}")));
    assert!(poll["outputData"].get("httpPollState").is_none(), "no state left in the final output: {poll:#}");
}
