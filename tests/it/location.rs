//! `pollLocation` (an extension) against the real server: one task invokes the example API, which answers `202`
//! with `Location: /{requestId}`, and then polls that Location until the tutorial's condition holds.

use std::time::Duration;

use serde_json::json;

use crate::support::{Conductor, example_api, one_task_workflow, start_worker, unique};

#[tokio::test]
async fn a_202s_location_takes_the_polls_after_one_invocation() {
    let api = example_api(Duration::from_secs(3)).await;
    let conductor = Conductor::default();
    let input = json!({"http_request": {
        "uri": format!("{}/invoke-lambda", api.base), "method": "POST",
        "body": {"requestId": "${workflow.input.requestId}"},
        "pollLocation": true,
        "terminationCondition":
            "(function(){ return $.output.response.statusCode == 200 && $.output.response.body.body.status == 'COMPLETED'; })();",
        "pollingInterval": "1", "pollingStrategy": "FIXED"}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_location", 60, "poll", input).await;
    let _worker = start_worker(&[&task_name], &[]).await;
    let request_id = unique("req");
    let id = conductor.start(&workflow_name, json!({"requestId": request_id})).await;

    let done = conductor.wait_terminal(&id, Duration::from_secs(45)).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    let output = &Conductor::task(&done, "poll")["outputData"];
    assert_eq!(output["response"]["body"]["body"]["status"], "COMPLETED", "{output:#}");
    assert_eq!(output["response"]["body"]["body"]["requestId"], request_id.as_str());
    let stats = api.api.stats(&request_id);
    assert_eq!(stats.invocations, 1, "the invoke is sent once: {stats:?}");
    assert!(stats.polls >= 2, "the later polls went to the Location: {stats:?}");
}
