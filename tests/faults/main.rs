//! The fault suite: invoke-then-poll workflows against a misbehaving target (5xx, timeouts, resets, slow and huge
//! bodies, non-JSON, redirect loops, a condition returning -1) while the worker is SIGKILLed and restarted and the
//! conductor-oss server is SIGKILLed and restarted with its SQLite file kept. Every workflow must end in the status
//! its scenario implies; the suite reports lost results (must be 0), stuck workflows (must be 0), and duplicate
//! invocations, each of which must be explained by an invoke attempt that timed out on the server (the crash
//! window the README documents).
//!
//! `scripts/fault-suite.sh` runs the full form (FAULTS_WORKFLOWS=180); the test command runs the reduced form (36).
//! This binary starts its own server because it kills it; the server and the worker are the shared harness's
//! (`tests/common`: `server::ServerProcess`, `replica::Replica`).

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod chaos;
#[path = "../common/mod.rs"]
mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use chaos::{Chaos, Scenario};
use common::replica::Replica;
use common::server::ServerProcess;
use common::worker_process::WorkerSpec;
use common::{Conductor, unique};

const INVOKE_TASK: &str = "fault_invoke";
const POLL_TASK: &str = "fault_poll";
const CONDITION: &str = "(function(){ var b = $.output.response.body; var s = (typeof b === 'string') ? b : (b && b.status); \
                         if (s == 'ERROR') return -1; return s == 'DONE'; })()";

/// The worker slot: SIGKILLed and started again mid-run, its metrics read at the same admin port each time, its
/// log appended to `dir/worker.log`.
fn worker(server: &str, dir: &Path) -> Replica {
    let spec = WorkerSpec::new(server, &[INVOKE_TASK, POLL_TASK])
        .env("CONDUCTOR_WORKER_ALL_CONCURRENCY", "200")
        .env("CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS", "20")
        .env("CONDUCTOR_HTTP_WORKER_ADMIN_QUEUE_DEPTH_INTERVAL_SECS", "1")
        .env("RUST_LOG", "info");
    Replica::new("fault-worker", dir, spec)
}

/// The results the worker dropped, by its `/metrics` (0 when it does not answer).
async fn dropped(worker: &Replica) -> f64 {
    worker.scrape().await.map_or(0.0, |metrics| metrics.sum("task_result_dropped_total", &[]))
}

async fn register(conductor: &Conductor, target: &str) -> String {
    let def = |name: &str| {
        json!({"name": name, "ownerEmail": "faults@example.com", "retryCount": 2, "retryLogic": "FIXED",
               "retryDelaySeconds": 1, "timeoutSeconds": 600, "timeoutPolicy": "TIME_OUT_WF", "responseTimeoutSeconds": 30})
    };
    conductor.register_task_defs(&[def(INVOKE_TASK), def(POLL_TASK)]).await;
    let workflow = unique("fault_wf");
    conductor
        .put_workflow(&json!({
            "name": workflow, "version": 1, "schemaVersion": 2, "ownerEmail": "faults@example.com",
            "tasks": [
                {"name": INVOKE_TASK, "taskReferenceName": "invoke", "type": "SIMPLE", "inputParameters": {"http_request": {
                    "uri": format!("{target}/invoke/${{workflow.input.scenario}}/${{workflow.input.id}}"), "method": "POST",
                    "body": {"id": "${workflow.input.id}"}, "connectionTimeOut": 1000, "readTimeOut": 1000}}},
                {"name": POLL_TASK, "taskReferenceName": "poll", "type": "SIMPLE", "inputParameters": {"http_request": {
                    "uri": format!("{target}/status/${{workflow.input.scenario}}/${{workflow.input.id}}"), "method": "GET",
                    "terminationCondition": CONDITION, "pollingInterval": 1, "maxPollCount": 40,
                    "connectionTimeOut": 1000, "readTimeOut": 1000}}}
            ]
        }))
        .await;
    workflow
}

/// A workflow's status, or None while the server is unreachable.
async fn status_of(conductor: &Conductor, id: &str) -> Option<Value> {
    tokio::time::timeout(Duration::from_secs(5), conductor.try_workflow(id)).await.ok().flatten()
}

#[tokio::test]
async fn fault_suite() {
    let workflows: usize = std::env::var("FAULTS_WORKFLOWS").ok().and_then(|n| n.parse().ok()).unwrap_or(36);
    let work = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(work.path().join("server")).await;
    let conductor = Conductor::at(&server.url);
    let chaos = Chaos::default();
    let target = chaos.start().await;
    let workflow = register(&conductor, &target).await;
    let mut worker = worker(&server.url, &work.path().join("worker"));
    worker.start().await;
    let started = Instant::now();

    // Start the workflows over ~10 s, the scenarios interleaved.
    let mut runs: Vec<(String, Scenario, String)> = Vec::new();
    let mut lost = 0.0;
    let mut worker_killed = false;
    for i in 0..workflows {
        let scenario = Scenario::ALL[i % Scenario::ALL.len()];
        let job = unique(&format!("job{i}"));
        let id = conductor.start(&workflow, json!({"scenario": scenario.name(), "id": job})).await;
        runs.push((job, scenario, id));
        tokio::time::sleep(Duration::from_millis(10_000 / workflows as u64)).await;
        if !worker_killed && i >= workflows / 3 {
            // SIGKILL the worker mid-run (its metrics read just before), restart it a second later.
            lost += dropped(&worker).await;
            worker.kill().await;
            eprintln!("[faults] {:>5.1}s worker SIGKILLed", started.elapsed().as_secs_f64());
            tokio::time::sleep(Duration::from_secs(1)).await;
            worker.start().await;
            worker_killed = true;
        }
    }
    // SIGKILL the server while work is in flight; restart it on the same port and SQLite file.
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.kill();
    let server_killed = true;
    eprintln!("[faults] {:>5.1}s server SIGKILLed", started.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(server.restart().await, server.url, "same address after the restart");
    eprintln!("[faults] {:>5.1}s server back", started.elapsed().as_secs_f64());

    // Every workflow must end, in the status its scenario implies.
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut finished: BTreeMap<String, Value> = BTreeMap::new();
    while finished.len() < runs.len() && Instant::now() < deadline {
        for (_, _, id) in &runs {
            if finished.contains_key(id) {
                continue;
            }
            if let Some(workflow) = status_of(&conductor, id).await
                && workflow["status"] != "RUNNING"
            {
                finished.insert(id.clone(), workflow);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    lost += dropped(&worker).await;
    let code = worker.stop().await;

    let stats = chaos.stats();
    let mut report = BTreeMap::<String, Value>::new();
    let mut wrong = Vec::new();
    let mut duplicates = 0;
    let mut repeated_same_key = 0;
    let mut timed_out_invokes = 0;
    let mut timed_out_tasks = 0;
    for (job, scenario, id) in &runs {
        let Some(workflow) = finished.get(id) else { continue };
        let tasks = workflow["tasks"].as_array().cloned().unwrap_or_default();
        // A failing scenario whose last attempt was timed out by the server during an outage ends TIMED_OUT instead
        // of FAILED: still the right kind of end, when a task really timed out.
        let timed_out = tasks.iter().any(|t| t["status"] == "TIMED_OUT");
        let acceptable = workflow["status"] == scenario.expected_status()
            || (scenario.expected_status() == "FAILED" && workflow["status"] == "TIMED_OUT" && timed_out);
        if !acceptable {
            wrong.push(format!(
                "{} {id}: {} (expected {})",
                scenario.name(),
                workflow["status"],
                scenario.expected_status()
            ));
        }
        timed_out_tasks += tasks.iter().filter(|t| t["status"] == "TIMED_OUT").count();
        timed_out_invokes +=
            tasks.iter().filter(|t| t["referenceTaskName"] == "invoke" && t["status"] == "TIMED_OUT").count();
        let job_stats = stats.get(job).cloned().unwrap_or_default();
        duplicates += job_stats.accepted_keys.len().saturating_sub(1);
        repeated_same_key += job_stats.repeated_with_same_key;
        let entry = report.entry(scenario.name().to_owned()).or_insert_with(|| json!({}));
        let status = workflow["status"].as_str().unwrap_or("?").to_owned();
        entry[&status] = json!(entry[&status].as_u64().unwrap_or(0) + 1);
    }
    let stuck = runs.len() - finished.len();
    let summary = json!({
        "workflows": runs.len(), "stuck": stuck, "wrongStatus": wrong.len(), "lostResults": lost,
        "duplicateInvocations": duplicates, "repeatedInvokesDeduplicatedByKey": repeated_same_key,
                "invokeAttemptsTimedOut": timed_out_invokes, "tasksTimedOut": timed_out_tasks, "byScenario": report,
        "workerKilled": worker_killed,
        "serverKilled": server_killed, "seconds": started.elapsed().as_secs(), "lastWorkerExit": code,
    });
    eprintln!("[faults] report: {}", serde_json::to_string_pretty(&summary).unwrap());
    let target_dir =
        std::env::var("CARGO_TARGET_DIR").unwrap_or_else(|_| format!("{}/target", env!("CARGO_MANIFEST_DIR")));
    std::fs::write(format!("{target_dir}/fault-report.json"), serde_json::to_string_pretty(&summary).unwrap()).unwrap();
    let _ = std::fs::copy(worker.log(), format!("{target_dir}/fault-worker.log"));

    assert_eq!(stuck, 0, "stuck workflows");
    assert!(wrong.is_empty(), "wrong terminal status: {wrong:#?}");
    assert_eq!(lost, 0.0, "lost results");
    assert!(
        duplicates <= timed_out_invokes,
        "{duplicates} duplicate invocations, only {timed_out_invokes} in the crash window"
    );
    assert_eq!(code, 0, "the last worker exits 0 on SIGTERM");
}
