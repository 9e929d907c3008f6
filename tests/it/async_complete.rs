//! `asyncComplete: true` (the second method of Orkes' long-running-API tutorial, and conductor-oss's HTTP task
//! key): the worker calls the API once and leaves the task IN_PROGRESS; an outside system completes it through the
//! task API, even after the task was re-delivered to the worker in between.

use std::time::Duration;

use serde_json::json;

use crate::support::{Conductor, example_api, one_task_workflow, start_worker, unique};

#[tokio::test]
async fn an_outside_call_completes_the_task_after_one_invocation_across_a_redelivery() {
    let api = example_api(Duration::from_secs(3600)).await;
    let conductor = Conductor::default();
    let input = json!({"asyncComplete": true, "http_request": {
        "uri": format!("{}/invoke-lambda", api.base), "method": "POST",
        "body": {"requestId": "${workflow.input.requestId}"}}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_async", 60, "invoke", input).await;
    // Re-delivered every 2 s while it waits, so the test sees the worker park it again without calling.
    let _worker =
        start_worker(&[&task_name], &[("CONDUCTOR_HTTP_WORKER_POLLING_ASYNC_COMPLETE_RECHECK_SECS", "2")]).await;
    let request_id = unique("req");
    let id = conductor.start(&workflow_name, json!({"requestId": request_id})).await;

    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let workflow = conductor.workflow(&id).await;
        let task = Conductor::task(&workflow, "invoke");
        // Between re-deliveries the server shows the waiting task SCHEDULED; while delivered, IN_PROGRESS.
        let waiting = task["status"] == "IN_PROGRESS" || task["status"] == "SCHEDULED";
        if task["pollCount"].as_u64().unwrap_or(0) >= 2 && waiting {
            assert_eq!(task["outputData"]["response"]["statusCode"], 202, "{task:#}");
            break;
        }
        assert_ne!(workflow["status"], "COMPLETED", "nobody completed it yet: {workflow:#}");
        assert!(tokio::time::Instant::now() < deadline, "the task waits and is re-delivered: {task:#}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    conductor.complete_task(&id, "invoke", &json!({"result": "done by the webhook"})).await;
    let done = conductor.wait_terminal(&id, Duration::from_secs(30)).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    assert_eq!(Conductor::task(&done, "invoke")["outputData"]["result"], "done by the webhook");
    assert_eq!(api.api.stats(&request_id).invocations, 1, "one invocation across the re-delivery");
}

/// The example API's webhook mode: it completes the `asyncComplete` task itself through the task API when its job
/// is done (the demo's second workflow), with one invocation.
#[tokio::test]
async fn the_example_apis_webhook_completes_the_task() {
    let api = example_api(Duration::from_secs(2)).await;
    let conductor = Conductor::default();
    let server = crate::support::server_url();
    let input = json!({"asyncComplete": true, "http_request": {
        "uri": format!("{}/invoke-lambda", api.base), "method": "POST",
        "body": {"requestId": "${workflow.input.requestId}",
                 "callbackUrl": format!("{server}/tasks/${{workflow.workflowId}}/invoke/COMPLETED")}}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_webhook", 60, "invoke", input).await;
    let _worker = start_worker(&[&task_name], &[]).await;
    let request_id = unique("req");
    let id = conductor.start(&workflow_name, json!({"requestId": request_id})).await;

    let done = conductor.wait_terminal(&id, Duration::from_secs(30)).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    assert_eq!(Conductor::task(&done, "invoke")["outputData"]["status"], "COMPLETED", "the webhook's body: {done:#}");
    // The server commits the completion before it answers the webhook, so the API may record the answer a moment
    // after the test sees COMPLETED.
    let answered = tokio::time::Instant::now() + Duration::from_secs(10);
    while api.api.stats(&request_id).callbacks.is_empty() && tokio::time::Instant::now() < answered {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stats = api.api.stats(&request_id);
    assert_eq!((stats.invocations, stats.callbacks.as_slice()), (1, &[200][..]), "one invocation, one webhook");
}
