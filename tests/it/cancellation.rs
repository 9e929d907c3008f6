//! A held poll whose workflow is terminated stops calling the target within a polling interval, instead of going
//! on until the task's response timeout, and sends its `cancelRequest` (here the example API's cancel) once.

use std::time::Duration;

use serde_json::json;

use crate::support::{Conductor, example_api, one_task_workflow, start_worker, unique};

#[tokio::test]
async fn a_terminated_workflow_stops_its_held_poll() {
    let api = example_api(Duration::from_secs(3600)).await;
    let conductor = Conductor::default();
    let input = json!({"http_request": {
        "uri": format!("{}/${{workflow.input.requestId}}", api.base), "method": "GET",
        "terminationCondition": "$.output.response.body.body.status == 'COMPLETED'",
        "pollingInterval": "1", "pollingStrategy": "FIXED", "maxPollCount": 1000,
        "cancelRequest": {"uri": format!("{}/${{workflow.input.requestId}}/cancel", api.base), "method": "POST"}}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_cancel", 300, "poll", input).await;
    let _worker = start_worker(&[&task_name], &[]).await;
    let request_id = unique("req");
    api.invoke(&request_id).await;
    let id = conductor.start(&workflow_name, json!({"requestId": request_id})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while api.api.stats(&request_id).polls < 3 {
        assert!(tokio::time::Instant::now() < deadline, "the poll is held and polling");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    conductor.terminate(&id, "it: stop the held poll").await;
    let at_termination = api.api.stats(&request_id).polls;
    tokio::time::sleep(Duration::from_secs(4)).await;
    let after = api.api.stats(&request_id).polls;
    assert!(
        after <= at_termination + 1,
        "polls went on after the workflow was terminated: {at_termination} then {after}"
    );
    let workflow = conductor.workflow(&id).await;
    assert_eq!(workflow["status"], "TERMINATED", "{workflow:#}");
    assert_eq!(api.api.stats(&request_id).cancellations, 1, "the cancelRequest was sent once");
}
