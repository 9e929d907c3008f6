//! The tutorial's long-running API pattern: invoke asynchronously, then poll until the condition holds.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Conductor, example_api, start_worker, tutorial_workflow, unique};

const TUTORIAL_WORKFLOW: &str = include_str!("../../examples/long-running-api-workflow.json");
const PLACEHOLDER_BASE: &str = "https://<your-api-gateway-id>.execute-api.<your-region>.amazonaws.com/<stage>";

/// (a) The tutorial's `LongRunningAPIWorkflow` JSON with only the URIs changed: the HTTP step runs inside the
/// server, the HTTP_POLL step (queue `HTTP_POLL`) in this worker.
#[tokio::test]
async fn tutorial_workflow_completes_with_http_poll_run_by_the_worker() {
    let api = example_api(Duration::from_secs(3)).await;
    let conductor = Conductor::default();
    let workflow: Value = serde_json::from_str(&TUTORIAL_WORKFLOW.replace(PLACEHOLDER_BASE, &api.base)).unwrap();
    assert_eq!(workflow["name"], "LongRunningAPIWorkflow");
    conductor.register_task_defs(&[Conductor::task_def("http_poll", 300, 0)]).await;
    conductor.put_workflow(&workflow).await;
    let worker = start_worker(&["HTTP_POLL"], &[]).await;

    let request_id = unique("req");
    let id = conductor.start("LongRunningAPIWorkflow", json!({"requestId": request_id})).await;
    let done = conductor.wait_terminal(&id, Duration::from_secs(60)).await;

    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    assert_eq!(done["output"]["response"]["statusCode"], 200);
    assert_eq!(done["output"]["response"]["body"]["body"]["status"], "COMPLETED");
    assert_eq!(done["output"]["response"]["body"]["body"]["requestId"], request_id.as_str());
    let invoke = Conductor::task(&done, "invokeLambda");
    let poll = Conductor::task(&done, "http_poll_ref");
    assert_eq!(invoke["taskType"], "HTTP");
    assert_ne!(invoke["workerId"], worker.worker_id.as_str(), "the server runs the HTTP step");
    assert_eq!(poll["taskType"], "HTTP_POLL");
    assert_eq!(poll["workerId"], worker.worker_id.as_str(), "this worker runs the HTTP_POLL step");
    let stats = api.api.stats(&request_id);
    assert_eq!(stats.invocations, 1);
    assert!(stats.polls >= 1 && poll["outputData"]["pollCount"] == stats.polls, "{stats:?} vs {poll:#}");
    // The tutorial polls every 5 s ("pollingInterval": "5" arrives as a string).
    for gap in stats.poll_times_ms.windows(2).map(|w| w[1] - w[0]) {
        assert!((4_900..=5_600).contains(&gap), "poll gap {gap} ms: {stats:?}");
    }
}

/// (b) The same pattern with both steps run by this worker under custom task names (how it is used on Orkes).
#[tokio::test]
async fn both_steps_run_by_the_worker_under_custom_task_names() {
    let api = example_api(Duration::from_secs(2)).await;
    let conductor = Conductor::default();
    let (invoke_name, poll_name) = (unique("it_invoke"), unique("it_poll"));
    conductor
        .register_task_defs(&[Conductor::task_def(&invoke_name, 60, 0), Conductor::task_def(&poll_name, 60, 0)])
        .await;
    let workflow_name = unique("it_custom_names");
    conductor.put_workflow(&tutorial_workflow(&workflow_name, &invoke_name, &poll_name, &api.base, "0.5")).await;
    let worker = start_worker(&[&invoke_name, &poll_name], &[]).await;

    let request_id = unique("req");
    let id = conductor.start(&workflow_name, json!({"requestId": request_id})).await;
    let done = conductor.wait_terminal(&id, Duration::from_secs(30)).await;

    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    assert_eq!(done["output"]["invoked"], json!({"requestId": request_id, "status": "PROCESSING"}));
    assert_eq!(done["output"]["final"]["status"], "COMPLETED");
    for reference in ["invoke", "poll"] {
        assert_eq!(Conductor::task(&done, reference)["workerId"], worker.worker_id.as_str(), "{reference}");
    }
    assert_eq!(Conductor::task(&done, "invoke")["outputData"]["response"]["statusCode"], 202);
    let stats = api.api.stats(&request_id);
    assert_eq!(stats.invocations, 1);
    assert!(stats.polls >= 4, "2 s job polled every 0.5 s: {stats:?}");
}
