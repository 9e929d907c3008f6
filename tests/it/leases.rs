//! Lease extension on a real server: a call that takes ten times the task's `responseTimeoutSeconds` completes,
//! in one attempt, because the worker extends the task's lease while the call runs. Without the extensions the
//! server times the task out (seen on 3.21.14: TIMED_OUT after ~30 s, when its sweeper next looks at the workflow),
//! so the call is longer than that.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::get;
use serde_json::json;

use crate::support::{Conductor, one_task_workflow, serve, start_worker, unique};

#[tokio::test]
async fn a_request_longer_than_the_response_timeout_completes() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let router = axum::Router::new().route(
        "/slow-job",
        get(move || {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_secs(40)).await;
                axum::Json(json!({"status": "DONE"}))
            }
        }),
    );
    let base = serve(router).await;
    let conductor = Conductor::default();
    // A 4 s response timeout, a 40 s call allowed 60 s: without lease extensions the server times the task out
    // (and, with no retries, the workflow) before the answer.
    let input = json!({"http_request": {"uri": format!("{base}/slow-job"), "method": "GET", "readTimeOut": 60_000}});
    let (task_name, workflow_name) = one_task_workflow(&conductor, "it_lease", 4, "slow", input).await;
    let _worker = start_worker(&[&task_name], &[]).await;
    let id = conductor.start(&workflow_name, json!({"requestId": unique("req")})).await;

    let done = conductor.wait_terminal(&id, Duration::from_secs(90)).await;
    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    let attempts = Conductor::attempts(&done, "slow");
    assert_eq!(attempts.len(), 1, "one attempt, never timed out: {done:#}");
    assert_eq!(attempts[0]["outputData"]["response"]["body"]["status"], "DONE");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the target was called once");
    let took = attempts[0]["endTime"].as_u64().unwrap() - attempts[0]["startTime"].as_u64().unwrap();
    assert!(took >= 40_000, "the task ran for the whole call ({took} ms), ten times its response timeout");
}
