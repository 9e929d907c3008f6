//! The fault suite: invoke-then-poll workflows against a misbehaving target (5xx, timeouts, resets, slow and huge
//! bodies, non-JSON, redirect loops, a condition returning -1) while the worker is SIGKILLed and restarted and the
//! conductor-oss server is SIGKILLed and restarted with its SQLite file kept. Every workflow must end in the status
//! its scenario implies; the suite reports lost results (must be 0), stuck workflows (must be 0), and duplicate
//! invocations, each of which must be explained by an invoke attempt that timed out on the server (the crash
//! window the README documents).
//!
//! `scripts/fault-suite.sh` runs the full form (FAULTS_WORKFLOWS=180); the test command runs the reduced form (36).
//! This binary starts its own server (through scripts/conductor-server.sh) because it kills it.

#![allow(clippy::unwrap_used)] // test code: a panic is a test failure

mod chaos;
#[path = "../it/support/mod.rs"]
mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use chaos::{Chaos, Scenario};
use support::{Conductor, WorkerProcess, unique};

const INVOKE_TASK: &str = "fault_invoke";
const POLL_TASK: &str = "fault_poll";
const CONDITION: &str = "(function(){ var b = $.output.response.body; var s = (typeof b === 'string') ? b : (b && b.status); \
                         if (s == 'ERROR') return -1; return s == 'DONE'; })()";

/// A conductor-oss server this test can kill and restart (same data directory, same port).
struct Server {
    dir: PathBuf,
    url: String,
}

impl Server {
    fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/conductor-server.sh")
    }

    async fn start(dir: PathBuf) -> Self {
        let script = Self::script();
        let dir_arg = dir.clone();
        let output = tokio::task::spawn_blocking(move || {
            std::process::Command::new(script).arg("start").arg(dir_arg).stderr(Stdio::inherit()).output().unwrap()
        })
        .await
        .unwrap();
        assert!(output.status.success(), "the server did not start");
        let url = String::from_utf8(output.stdout).unwrap().trim().to_owned();
        Self { dir, url }
    }

    fn kill(&self) {
        let pid = std::fs::read_to_string(self.dir.join("server.pid")).unwrap();
        let status = std::process::Command::new("kill").args(["-9", pid.trim()]).status().unwrap();
        assert!(status.success());
        std::thread::sleep(Duration::from_millis(500));
    }

    fn stop(&self) {
        let _ = std::process::Command::new(Self::script()).arg("stop").arg(&self.dir).status();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts a worker process whose metrics can be read at `admin`.
fn start_worker(server: &str, admin: &str, log: &Path) -> WorkerProcess {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).unwrap();
    let env = [
        ("CONDUCTOR_SERVER_URL", server),
        ("CONDUCTOR_HTTP_WORKER_ADMIN_ADDR", admin),
        ("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_ADDR", "off"),
        ("CONDUCTOR_WORKER_ALL_CONCURRENCY", "200"),
        ("CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS", "20"),
        // The misbehaving target listens on loopback.
        ("CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_LOOPBACK", "true"),
    ];
    WorkerProcess::start_with_stderr(&[INVOKE_TASK, POLL_TASK], &env, &[("RUST_LOG", "info")], Stdio::from(log))
}

/// The sum of a counter's samples whose series starts with `prefix`.
async fn scrape_sum(admin: &str, prefix: &str) -> Option<f64> {
    let text = reqwest::get(format!("http://{admin}/metrics")).await.ok()?.text().await.ok()?;
    Some(text.lines().filter(|l| l.starts_with(prefix)).filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok()).sum())
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
    let server = Server::start(work.path().join("server")).await;
    let conductor = Conductor::at(&server.url);
    let chaos = Chaos::default();
    let target = chaos.start().await;
    let workflow = register(&conductor, &target).await;
    let log = work.path().join("worker.log");
    let admin = format!("127.0.0.1:{}", free_port());
    let mut worker = Some(start_worker(&server.url, &admin, &log));
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
            lost += scrape_sum(&admin, "task_result_dropped_total{").await.unwrap_or(0.0);
            worker.take().unwrap().kill();
            eprintln!("[faults] {:>5.1}s worker SIGKILLed", started.elapsed().as_secs_f64());
            tokio::time::sleep(Duration::from_secs(1)).await;
            worker = Some(start_worker(&server.url, &admin, &log));
            worker_killed = true;
        }
    }
    // SIGKILL the server while work is in flight; restart it on the same port and SQLite file.
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.kill();
    let server_killed = true;
    eprintln!("[faults] {:>5.1}s server SIGKILLed", started.elapsed().as_secs_f64());
    tokio::time::sleep(Duration::from_secs(3)).await;
    let restarted = Server::start(server.dir.clone()).await;
    assert_eq!(restarted.url, server.url, "same address after the restart");
    std::mem::forget(restarted); // `server` owns the stop
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
    lost += scrape_sum(&admin, "task_result_dropped_total{").await.unwrap_or(0.0);
    let (code, _) = worker.take().unwrap().terminate(Duration::from_secs(30)).await;

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
    let _ = std::fs::copy(&log, format!("{target_dir}/fault-worker.log"));

    assert_eq!(stuck, 0, "stuck workflows");
    assert!(wrong.is_empty(), "wrong terminal status: {wrong:#?}");
    assert_eq!(lost, 0.0, "lost results");
    assert!(
        duplicates <= timed_out_invokes,
        "{duplicates} duplicate invocations, only {timed_out_invokes} in the crash window"
    );
    assert_eq!(code, Some(0), "the last worker exits 0 on SIGTERM");
}
