//! Memory bounded in bytes: many tasks polling large JSON bodies at once all complete, and a full
//! outbox (updates refused while polls still work) stops the worker taking new work, says so on `/readyz`, and
//! loses nothing once updates are accepted again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::json;
use tokio::time::Instant;

use crate::support::{Conductor, WorkerProcess, start_worker, unique};
use fake_conductor::{FakeConductor, UpdateV2};

/// A JSON body of about `bytes`, shaped like a real listing (many small objects, so that a JSON tree of it would
/// cost several times its size), with `status` first.
fn listing(status: &str, bytes: usize) -> Bytes {
    let item = |i: usize| format!(r#"{{"id":{i},"name":"item-{i:08}","tags":["a","b"],"ok":true}}"#);
    let mut body = format!(r#"{{"status":"{status}","items":["#);
    let mut i = 0;
    // Just under `bytes`, so that a 1 MiB body stays within the default `http.max_response_body_bytes`.
    while body.len() + 100 < bytes {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&item(i));
        i += 1;
    }
    body.push_str("]}");
    Bytes::from(body)
}

/// A target serving `/jobs/{id}`: `RUNNING` bodies of about `bytes` for the first `polls_until_done` requests of
/// each id, then a `COMPLETED` one of the same size. Returns its base URL and the requests seen per id.
async fn large_body_target(bytes: usize, polls_until_done: u32) -> (String, Arc<Mutex<HashMap<String, u32>>>) {
    #[derive(Clone)]
    struct Target {
        running: Bytes,
        completed: Bytes,
        polls_until_done: u32,
        seen: Arc<Mutex<HashMap<String, u32>>>,
    }
    async fn job(State(target): State<Target>, Path(id): Path<String>) -> impl IntoResponse {
        let count = {
            let mut seen = target.seen.lock().unwrap();
            let count = seen.entry(id).or_default();
            *count += 1;
            *count
        };
        let body = if count > target.polls_until_done { target.completed } else { target.running };
        ([(header::CONTENT_TYPE, "application/json")], body)
    }
    let seen = Arc::new(Mutex::new(HashMap::new()));
    let target = Target {
        running: listing("RUNNING", bytes),
        completed: listing("COMPLETED", bytes),
        polls_until_done,
        seen: seen.clone(),
    };
    let router = Router::new().route("/jobs/{id}", get(job)).with_state(target);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), seen)
}

/// Peak resident memory (`VmHWM`) of a process, bytes.
fn peak_rss(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    Some(line.split_whitespace().nth(1)?.parse::<u64>().ok()? * 1024)
}

/// The worker's child processes (its condition evaluators).
fn children(pid: u32) -> Vec<u32> {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return Vec::new() };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| list.split_whitespace().filter_map(|pid| pid.parse().ok()).collect::<Vec<u32>>())
        .collect()
}

/// 50 workflows poll 1 MiB JSON bodies at once (three polls each, half of them with a condition that needs the
/// engine); every one completes with the last body in its output. The worker's and its evaluators' peak RSS are
/// printed (`-- --nocapture`); they are a debug build's, not the benchmark figure.
#[tokio::test]
async fn fifty_tasks_polling_one_mib_bodies_all_complete() {
    const TASKS: usize = 50;
    const BODY: usize = 1 << 20;
    let (base, seen) = large_body_target(BODY, 2).await;
    let conductor = Conductor::default();
    let task_type = unique("it_large_bodies");
    conductor.register_task_defs(&[Conductor::task_def(&task_type, 300, 0)]).await;
    let workflow = unique("it_large_bodies_wf");
    conductor
        .put_workflow(&json!({
            "name": workflow, "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
            "tasks": [{"name": task_type, "taskReferenceName": "t", "type": "SIMPLE",
                       "inputParameters": {"http_request": "${workflow.input.request}"}}]
        }))
        .await;
    let worker = WorkerProcess::start(&[&task_type], &[("CONDUCTOR_WORKER_ALL_CONCURRENCY", "100")]);
    let mut ids = Vec::new();
    for n in 0..TASKS {
        // The tutorial's shape runs natively; the other needs the engine, which gets the body once per poll.
        let condition = if n % 2 == 0 {
            "$.output.response.body.status == 'COMPLETED'"
        } else {
            "(function(){ var s = $.output.response.body.status; return s === 'COMPLETED' && $.output.response.body.items.length > 1000; })()"
        };
        let request = json!({"uri": format!("{base}/jobs/{n}"), "method": "GET", "pollingInterval": 1,
                             "pollingStrategy": "FIXED", "terminationCondition": condition});
        ids.push(conductor.start(&workflow, json!({"request": request})).await);
    }
    let mut peak_children = 0;
    for id in &ids {
        let done = conductor.wait_terminal(id, Duration::from_secs(180)).await;
        assert_eq!(done["status"], "COMPLETED", "{:#}", done["reasonForIncompletion"]);
        let task = Conductor::task(&done, "t");
        assert_eq!(task["outputData"]["response"]["body"]["status"], "COMPLETED");
        let items = task["outputData"]["response"]["body"]["items"].as_array().map_or(0, Vec::len);
        assert!(items > 10_000, "the whole body is in the output ({items} items)");
        peak_children = children(worker.pid()).into_iter().filter_map(peak_rss).max().unwrap_or(0).max(peak_children);
    }
    assert!(seen.lock().unwrap().values().all(|polls| *polls == 3), "three polls per job: {:?}", seen.lock().unwrap());
    let worker_peak = peak_rss(worker.pid()).expect("the worker's /proc status");
    eprintln!(
        "{TASKS} tasks x {BODY} bytes: worker peak RSS {} MiB, largest evaluator peak {} MiB",
        worker_peak >> 20,
        peak_children >> 20
    );
}

/// Updates answer 503 while polls still work: once the results waiting to be delivered fill the outbox, the worker
/// takes no new tasks and `/readyz` says why; when updates are accepted again every result is delivered and none
/// is counted lost.
#[tokio::test]
async fn a_full_outbox_stops_new_work_and_loses_no_result() {
    const TASKS: usize = 20;
    let (base, seen) = large_body_target(300 * 1024, 0).await;
    let fake = FakeConductor::orkes(None, Duration::from_secs(600), UpdateV2::Supported).await;
    fake.fail_updates(true);
    let ids: Vec<String> = (0..TASKS)
        .map(|n| fake.enqueue("outbox", json!({"http_request": {"uri": format!("{base}/jobs/{n}"), "method": "GET"}})))
        .collect();
    let worker = start_worker(
        &["outbox"],
        &[
            ("CONDUCTOR_SERVER_URL", fake.api.as_str()),
            ("CONDUCTOR_WORKER_ALL_CONCURRENCY", "2"),
            ("CONDUCTOR_HTTP_WORKER_UPDATES_OUTBOX_MAX_BYTES", "1048576"),
        ],
    )
    .await;
    let client = reqwest::Client::new();
    let readyz = || async {
        let response = client.get(format!("{}/readyz", worker.admin)).send().await.unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    let reason = loop {
        let (status, body) = readyz().await;
        if status == 503 && body.contains("outbox") {
            break body;
        }
        assert!(Instant::now() < deadline, "readiness never reported the full outbox: {status} {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(reason.contains("updates.outbox_max_bytes"), "the reason names the setting: {reason}");
    let requested = || seen.lock().unwrap().len();
    let before = requested();
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(requested(), before, "no new work is taken while the outbox is full");
    assert!(before < TASKS, "the worker stopped before taking every task ({before})");
    assert!(fake.results().is_empty(), "no update was accepted yet");

    fake.fail_updates(false);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let results = fake.results();
        let delivered = ids.iter().filter(|id| results.iter().any(|(_, r)| r["taskId"] == id.as_str())).count();
        if delivered == TASKS {
            break;
        }
        assert!(Instant::now() < deadline, "{delivered} of {TASKS} results delivered");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (_, result) in fake.results() {
        assert_eq!(result["status"], "COMPLETED", "{}", result["reasonForIncompletion"]);
    }
    assert_eq!(requested(), TASKS, "each task was run once");
    assert_eq!(readyz().await.0, 200, "ready again once the outbox has room");
    let metrics = client.get(format!("{}/metrics", worker.admin)).send().await.unwrap().text().await.unwrap();
    let dropped: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("task_result_dropped_total{") && !line.ends_with(" 0"))
        .collect();
    assert!(dropped.is_empty(), "no result lost: {dropped:?}");
}
