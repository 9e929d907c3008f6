//! Load generator proving the fake server and the target are not the bottleneck: drives them with a minimal
//! client (C concurrent loops for D seconds) and prints requests/s as JSON.
//!
//! - `fake URL`: each loop polls one task (`count=1&timeout=0`), completes it through `update-v2`, executes the
//!   task the reply carries, and polls again when the reply is empty: the same calls a worker makes.
//! - `target URL`: each loop sends `GET URL` (e.g. the `/fixed` endpoint).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Parser;

#[derive(Parser, Debug)]
struct Args {
    /// `fake` or `target`.
    mode: String,
    /// The fake's API root (`http://127.0.0.1:PORT/api`) or the target URL.
    url: String,
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    #[arg(long, default_value = "bench_http")]
    task_type: String,
}

fn task_id(body: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    let start = text.find("\"taskId\":\"")? + 10;
    let end = text[start..].find('"')? + start;
    Some(text[start..end].to_owned())
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let client = reqwest::Client::builder().pool_max_idle_per_host(args.concurrency * 2).build().unwrap();
    let requests = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let started = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..args.concurrency {
        let (client, requests, errors, url, mode, tt) = (
            client.clone(),
            requests.clone(),
            errors.clone(),
            args.url.clone(),
            args.mode.clone(),
            args.task_type.clone(),
        );
        handles.push(tokio::spawn(async move {
            let poll_url = format!("{url}/tasks/poll/batch/{tt}?count=1&timeout=0&workerid=loadgen");
            let v2_url = format!("{url}/tasks/update-v2");
            let mut current: Option<String> = None;
            while Instant::now() < deadline {
                if mode == "target" {
                    match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            let _ = r.bytes().await;
                            requests.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    continue;
                }
                let id = match current.take() {
                    Some(id) => id,
                    None => {
                        let reply = client.get(&poll_url).send().await;
                        requests.fetch_add(1, Ordering::Relaxed);
                        let Ok(reply) = reply else {
                            errors.fetch_add(1, Ordering::Relaxed);
                            continue;
                        };
                        match task_id(&reply.bytes().await.unwrap_or_default()) {
                            Some(id) => id,
                            None => continue,
                        }
                    }
                };
                let body = format!(
                    r#"{{"taskId":"{id}","workflowInstanceId":"wf","workerId":"loadgen","status":"COMPLETED","outputData":{{"response":{{"statusCode":200,"body":{{"state":"DONE"}}}}}}}}"#
                );
                let reply = client.post(&v2_url).header("content-type", "application/json").body(body).send().await;
                requests.fetch_add(1, Ordering::Relaxed);
                match reply {
                    Ok(r) if r.status() == 200 => current = task_id(&r.bytes().await.unwrap_or_default()),
                    Ok(r) if r.status().is_success() => {}
                    _ => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        }));
    }
    for h in handles {
        let _ = h.await;
    }
    let secs = started.elapsed().as_secs_f64();
    let n = requests.load(Ordering::Relaxed);
    println!(
        "{}",
        serde_json::json!({"mode": args.mode, "concurrency": args.concurrency, "seconds": secs, "requests": n,
            "requests_per_s": n as f64 / secs, "errors": errors.load(Ordering::Relaxed)})
    );
}
