//! Peer worker on the official Rust SDK (`conductor-sdk` 0.2.0, `use conductor::…`): one `FnWorker` per task type
//! whose function does the task's HTTP call with reqwest, the way a user of the SDK would write it.
//!
//! Environment: `CONDUCTOR_SERVER_URL` (API root), `BENCH_TASK_TYPES` (comma-separated), `BENCH_CONCURRENCY`
//! (the worker's thread_count), `BENCH_MODE` (`hold`: an HTTP_POLL task sleeps between polls inside the
//! function; `park`: one poll per delivery, then IN_PROGRESS with callbackAfterSeconds = the interval rounded up).
//!
//! The task input is the HTTP_POLL `http_request` object; the termination condition is evaluated natively
//! (`response.body.state == "DONE"`), which is cheaper than the JavaScript our worker runs.

use std::time::Duration;

use conductor::configuration::Configuration;
use conductor::error::{ConductorError, Result};
use conductor::models::{Task, TaskInProgress};
use conductor::worker::{FnWorker, TaskHandler, WorkerOutput};
use serde_json::{Value, json};

fn interval_secs(request: &Value) -> f64 {
    match request.get("pollingInterval") {
        Some(Value::String(s)) => s.parse().unwrap_or(60.0),
        Some(Value::Number(n)) => n.as_f64().unwrap_or(60.0),
        _ => 60.0,
    }
}

async fn call(client: &reqwest::Client, uri: &str) -> Result<(u16, Value)> {
    let response = client.get(uri).send().await.map_err(|e| ConductorError::internal(e.to_string()))?;
    let status = response.status().as_u16();
    let bytes = response.bytes().await.map_err(|e| ConductorError::internal(e.to_string()))?;
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
    Ok((status, body))
}

fn completed(status: u16, body: Value, polls: Option<i64>) -> WorkerOutput {
    let mut output = std::collections::HashMap::new();
    output.insert("response".to_owned(), json!({"statusCode": status, "body": body}));
    if let Some(polls) = polls {
        output.insert("pollCount".to_owned(), json!(polls));
    }
    WorkerOutput::completed(output)
}

async fn work(client: reqwest::Client, park: bool, task: Task) -> Result<WorkerOutput> {
    let request = task.input_data.get("http_request").cloned().unwrap_or(Value::Null);
    let uri = request.get("uri").and_then(Value::as_str).unwrap_or_default().to_owned();
    if request.get("terminationCondition").is_none() {
        let (status, body) = call(&client, &uri).await?;
        return Ok(completed(status, body, None));
    }
    let interval = interval_secs(&request);
    if park {
        let (status, body) = call(&client, &uri).await?;
        let polls = i64::from(task.poll_count);
        if body.get("state").and_then(Value::as_str) == Some("DONE") {
            return Ok(completed(status, body, Some(polls)));
        }
        let callback = interval.ceil() as i64;
        return Ok(WorkerOutput::InProgress(TaskInProgress::new(callback).with_output_value("pollCount", polls)));
    }
    let mut polls = 0;
    loop {
        polls += 1;
        let (status, body) = call(&client, &uri).await?;
        if body.get("state").and_then(Value::as_str) == Some("DONE") {
            return Ok(completed(status, body, Some(polls)));
        }
        tokio::time::sleep(Duration::from_secs_f64(interval)).await;
    }
}

#[tokio::main]
async fn main() -> Result<()> {
    let url = std::env::var("CONDUCTOR_SERVER_URL").unwrap_or_else(|_| "http://127.0.0.1:8080/api".into());
    let types = std::env::var("BENCH_TASK_TYPES").unwrap_or_else(|_| "bench_http".into());
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let park = std::env::var("BENCH_MODE").is_ok_and(|m| m == "park");
    let client = reqwest::Client::builder().pool_max_idle_per_host(concurrency).build().expect("client");
    let mut handler = TaskHandler::new(Configuration::new(url))?;
    for task_type in types.split(',') {
        let client = client.clone();
        handler.add_worker(
            FnWorker::new(task_type, move |task| work(client.clone(), park, task))
                .with_thread_count(concurrency)
                .with_poll_interval_millis(1),
        );
    }
    handler.start().await?;
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = term.recv() => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    handler.stop().await?;
    Ok(())
}
