//! (d) Conditions that fail the task, and inputs the worker refuses, as the workflow shows them.

use std::time::Duration;

use serde_json::{Value, json};

use crate::support::{Conductor, example_api, start_worker, unique};

/// One workflow run: its `http_request`, and how the task must end.
struct Case {
    name: &'static str,
    request: Value,
    task_status: &'static str,
    reason_contains: &'static str,
    polls: u32,
}

#[tokio::test]
async fn failing_conditions_and_bad_inputs_fail_with_a_reason() {
    let api = example_api(Duration::from_secs(3600)).await;
    let conductor = Conductor::default();
    let task_name = unique("it_failures");
    conductor.register_task_defs(&[Conductor::task_def(&task_name, 60, 0)]).await;
    let workflow_name = unique("it_failures_wf");
    conductor
        .put_workflow(&json!({
            "name": workflow_name, "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
            "tasks": [{"name": task_name, "taskReferenceName": "poll", "type": "SIMPLE",
                       "inputParameters": {"http_request": "${workflow.input.request}"}}]
        }))
        .await;
    let _worker = start_worker(&[&task_name], &[]).await;

    let job = |case: &str| format!("{}/{}", api.base, case);
    let cases = [
        Case {
            name: "minus_one",
            request: json!({"uri": job("minus_one"), "method": "GET", "pollingInterval": 0.2,
                "terminationCondition": "(function(){ return $.output.response.body.body.status == 'PROCESSING' ? -1 : 0; })();"}),
            task_status: "FAILED_WITH_TERMINAL_ERROR",
            reason_contains: "terminationCondition returned -1 at poll 1",
            polls: 1,
        },
        Case {
            name: "syntax_error",
            request: json!({"uri": job("syntax_error"), "method": "GET", "pollingInterval": 0.2,
                "terminationCondition": "(function(){ return $.output.response.statusCode == ; })();"}),
            task_status: "FAILED_WITH_TERMINAL_ERROR",
            reason_contains: "terminationCondition has a syntax error",
            polls: 0,
        },
        Case {
            name: "throws",
            request: json!({"uri": job("throws"), "method": "GET", "pollingInterval": 0.2,
                "terminationCondition": "$.output.response.body.nothing.here == 1"}),
            task_status: "FAILED_WITH_TERMINAL_ERROR",
            reason_contains: "terminationCondition threw: TypeError",
            polls: 1,
        },
        Case {
            name: "max_polls",
            request: json!({"uri": job("max_polls"), "method": "GET", "pollingInterval": 0.2, "maxPollCount": 3,
                "terminationCondition": "false"}),
            task_status: "FAILED",
            reason_contains: "maxPollCount (3) reached after 3 polls",
            polls: 3,
        },
        Case {
            name: "bad_input",
            request: json!({"method": "GET", "pollingInterval": "soon", "terminationCondition": "true"}),
            task_status: "FAILED_WITH_TERMINAL_ERROR",
            reason_contains: "http_request.uri: is required; http_request.pollingInterval: must be a number",
            polls: 0,
        },
    ];
    let mut started = Vec::new();
    for case in &cases {
        api.invoke(case.name).await;
        started.push(conductor.start(&workflow_name, json!({"request": case.request})).await);
    }
    for (case, id) in cases.iter().zip(started) {
        let done = conductor.wait_terminal(&id, Duration::from_secs(30)).await;
        let task = Conductor::task(&done, "poll");
        assert_eq!(done["status"], "FAILED", "{}: {done:#}", case.name);
        assert_eq!(task["status"], case.task_status, "{}: {task:#}", case.name);
        let reason = task["reasonForIncompletion"].as_str().unwrap_or_default();
        assert!(reason.contains(case.reason_contains), "{}: reason {reason:?}", case.name);
        let workflow_reason = done["reasonForIncompletion"].as_str().unwrap_or_default();
        assert!(workflow_reason.contains(case.reason_contains), "{}: workflow reason {workflow_reason:?}", case.name);
        assert_eq!(api.api.stats(case.name).polls, case.polls, "{}: polls of the target", case.name);
    }
}
