//! Graceful shutdown: SIGTERM a worker holding 200 polls; it parks them all and exits 0 within the grace, and a
//! second instance finishes every one.

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
