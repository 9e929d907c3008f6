//! What a running worker shows, against the real server: a held poll's progress in its execution log while it
//! runs, the held-task listing (control endpoint and the `tasks` command), `eval --task-id` on a live task, and
//! liveness that stays green while every slot is busy.

use std::time::Duration;

use axum::Router;
use axum::routing::get;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{
    CONTROL_TOKEN, Conductor, example_api, execution_log, one_task_workflow, serve, server_url, start_worker, unique,
};

const CONDITION: &str = "$.output.response.body.body.status == 'COMPLETED'";

/// The task of a running one-task workflow, once the server has it.
async fn running_task(conductor: &Conductor, workflow_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let workflow = conductor.workflow(workflow_id).await;
        if let Some(task) = workflow["tasks"].as_array().and_then(|t| t.first())
            && task["status"] == "IN_PROGRESS"
        {
            return task.clone();
        }
        assert!(Instant::now() < deadline, "no task in progress: {workflow:#}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn cli(args: &[&str]) -> (bool, String) {
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_conductor-http-worker"))
        .args(args)
        .env("CONDUCTOR_SERVER_URL", server_url())
        .env("CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_LOOPBACK", "true")
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), printed)
}

#[tokio::test]
async fn a_held_poll_shows_in_its_execution_log_the_listing_and_eval_while_it_runs() {
    let api = example_api(Duration::from_secs(14)).await;
    let conductor = Conductor::default();
    let input = json!({"http_request": {
        "uri": format!("{}/${{workflow.input.requestId}}", api.base), "method": "GET",
        "terminationCondition": CONDITION, "pollingInterval": "2", "pollingStrategy": "FIXED"}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_visible", 60, "poll", input).await;
    let worker = start_worker(&[&task_name], &[]).await;
    let request_id = unique("req");
    api.invoke(&request_id).await;
    let id = conductor.start(&workflow_name, json!({"requestId": request_id})).await;
    let task = running_task(&conductor, &id).await;
    let task_id = task["taskId"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(5)).await;

    // The execution log shows the polls made so far, while the task is still held here.
    let live_log = execution_log(&conductor, &task_id).await;
    if let Some(lines) = &live_log {
        assert!(lines.iter().any(|l| l.contains("poll 1") && l.contains("next poll in")), "{lines:#?}");
        assert!(lines.iter().any(|l| l.contains("poll 2")), "{lines:#?}");
    }
    assert_eq!(conductor.workflow(&id).await["status"], "RUNNING");

    // The listing shows it holding, with its polls and last status.
    let listing: Value = reqwest::Client::new()
        .get(format!("{}/tasks", worker.control))
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let shown = listing.as_array().unwrap().iter().find(|t| t["taskId"] == task_id.as_str()).cloned();
    let shown = shown.unwrap_or_else(|| panic!("{task_id} missing from {listing:#}"));
    assert_eq!(
        (shown["workflowId"].as_str(), shown["taskType"].as_str()),
        (Some(id.as_str()), Some(task_name.as_str()))
    );
    assert!(shown["polls"].as_u64().unwrap() >= 2 && shown["lastStatus"] == 200, "{shown:#}");
    let unauthorized = reqwest::get(format!("{}/tasks", worker.control)).await.unwrap().status();
    assert_eq!(unauthorized, 401, "the listing needs the token");
    let (ok, table) = cli(&["tasks", "--control-url", &worker.control, "--token", CONTROL_TOKEN]).await;
    assert!(ok && table.contains(&task_id) && table.contains("NEXT POLL IN"), "{table}");

    // eval --task-id reads the live task: no stored response yet (it holds), so --fetch sends its request once.
    let (ok, report) = cli(&["eval", "--task-id", &task_id]).await;
    assert!(!ok && report.contains("holds no response yet"), "{report}");
    let (ok, report) = cli(&["eval", "--task-id", &task_id, "--fetch"]).await;
    assert!(ok && report.contains("status \"IN_PROGRESS\"") && report.contains("result: false"), "{report}");
    assert!(report.contains("the worker polls again"), "{report}");

    let done = conductor.wait_terminal(&id, Duration::from_secs(40)).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    if let (Some(_), Some(lines)) = (live_log, execution_log(&conductor, &task_id).await) {
        let first = lines.iter().filter(|l| l.contains("poll 1:")).count();
        assert_eq!(first, 1, "a line sent live is not sent again with the update: {lines:#?}");
        assert!(lines.iter().any(|l| l.contains("terminationCondition holds")), "{lines:#?}");
    }
    let (ok, table) = cli(&["tasks", "--control-url", &worker.control, "--token", CONTROL_TOKEN]).await;
    assert!(ok && !table.contains(&task_id), "a finished task leaves the listing: {table}");
}

#[tokio::test]
async fn a_worker_whose_slots_are_all_busy_stays_live() {
    // A target that answers after 14 s: both slots stay busy for almost three 5 s liveness windows.
    let target = serve(Router::new().route(
        "/slow",
        get(|| async {
            tokio::time::sleep(Duration::from_secs(14)).await;
            axum::Json(json!({"ok": true}))
        }),
    ))
    .await;
    let conductor = Conductor::default();
    let input = json!({"http_request": {"uri": format!("{target}/slow"), "method": "GET", "readTimeOut": 30_000}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_busy", 60, "call", input).await;
    let env = [("CONDUCTOR_HTTP_WORKER_ADMIN_LIVENESS_WINDOW_SECS", "5"), ("CONDUCTOR_WORKER_ALL_CONCURRENCY", "2")];
    let worker = start_worker(&[&task_name], &env).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(conductor.start(&workflow_name, json!({})).await);
    }
    let until = Instant::now() + Duration::from_secs(13);
    let mut checks = 0;
    while Instant::now() < until {
        let response = reqwest::get(format!("{}/healthz", worker.admin)).await.unwrap();
        let status = response.status().as_u16();
        assert_eq!(status, 200, "liveness while saturated: {}", response.text().await.unwrap_or_default());
        checks += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    assert!(checks >= 10);
    let metrics = reqwest::get(format!("{}/metrics", worker.admin)).await.unwrap().text().await.unwrap();
    assert!(
        metrics.contains(&format!("task_execution_queue_full_total{{taskType=\"{task_name}\"}} 1")),
        "the poll loop waited for a slot"
    );
    for id in ids {
        assert_eq!(conductor.wait_terminal(&id, Duration::from_secs(60)).await["status"], "COMPLETED");
    }
}
