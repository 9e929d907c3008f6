//! The floor: the least work any worker can do per single-call task, to put every worker's CPU per task in
//! proportion. Per task it makes the two HTTP/1.1 exchanges no worker can avoid (the update is batched with the next
//! poll through update-v2, as ours and the SDKs' do): `GET` the task's `uri` on the target, then `POST
//! /api/tasks/update-v2` with the response body as the output, which answers the next task. Nothing else: hyper's
//! own pooled client, a struct decode of the task (no JSON tree), no logging, no metrics, no timeouts, no checks.
//! When update-v2 answers no task, it batch-polls for one (100 ms long poll).
//!
//! Configured like the peers: `CONDUCTOR_SERVER_URL`, `BENCH_TASK_TYPES` (the first is used), `BENCH_CONCURRENCY`
//! (tasks in flight). `driver.py --workers floor` runs it.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde::Deserialize;

type Http = Client<HttpConnector, Full<Bytes>>;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Task {
    task_id: String,
    workflow_instance_id: String,
    input_data: Input,
}

#[derive(Deserialize)]
struct Input {
    http_request: Call,
}

#[derive(Deserialize)]
struct Call {
    uri: String,
}

struct Floor {
    http: Http,
    api: String,
    task_type: String,
}

impl Floor {
    async fn send(&self, method: Method, uri: &str, body: Bytes) -> (StatusCode, Bytes) {
        let mut request = Request::builder().method(method).uri(uri);
        if !body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        let request = request.body(Full::new(body)).expect("a valid request");
        match self.http.request(request).await {
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await.map(|b| b.to_bytes()).unwrap_or_default();
                (status, body)
            }
            Err(_) => (StatusCode::BAD_GATEWAY, Bytes::new()),
        }
    }

    async fn poll(&self) -> Option<Task> {
        let uri = format!("{}/tasks/poll/batch/{}?workerid=floor&count=1&timeout=100", self.api, self.task_type);
        let (status, body) = self.send(Method::GET, &uri, Bytes::new()).await;
        if status != StatusCode::OK {
            return None;
        }
        serde_json::from_slice::<Vec<Task>>(&body).ok()?.pop()
    }

    async fn run_slot(self: Arc<Self>) {
        let mut next = None;
        loop {
            let task = match next.take() {
                Some(task) => task,
                None => match self.poll().await {
                    Some(task) => task,
                    None => continue,
                },
            };
            let (status, body) = self.send(Method::GET, &task.input_data.http_request.uri, Bytes::new()).await;
            let mut update = Vec::with_capacity(body.len() + 256);
            update.extend_from_slice(br#"{"taskId":""#);
            update.extend_from_slice(task.task_id.as_bytes());
            update.extend_from_slice(br#"","workflowInstanceId":""#);
            update.extend_from_slice(task.workflow_instance_id.as_bytes());
            update.extend_from_slice(
                br#"","workerId":"floor","status":"COMPLETED","outputData":{"response":{"statusCode":"#,
            );
            update.extend_from_slice(status.as_str().as_bytes());
            update.extend_from_slice(br#","body":"#);
            update.extend_from_slice(if body.is_empty() { b"null" } else { &body });
            update.extend_from_slice(b"}}}");
            let uri = format!("{}/tasks/update-v2", self.api);
            let (status, reply) = self.send(Method::POST, &uri, Bytes::from(update)).await;
            if status == StatusCode::OK && !reply.is_empty() {
                next = serde_json::from_slice::<Task>(&reply).ok();
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let api = std::env::var("CONDUCTOR_SERVER_URL").expect("CONDUCTOR_SERVER_URL");
    let task_type = std::env::var("BENCH_TASK_TYPES").expect("BENCH_TASK_TYPES");
    let task_type = task_type.split(',').next().unwrap_or_default().to_owned();
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY").ok().and_then(|c| c.parse().ok()).unwrap_or(100);
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let http = Client::builder(TokioExecutor::new()).pool_max_idle_per_host(concurrency).build(connector);
    let floor = Arc::new(Floor { http, api: api.trim_end_matches('/').to_owned(), task_type });
    let slots: Vec<_> = (0..concurrency).map(|_| tokio::spawn(floor.clone().run_slot())).collect();
    tokio::signal::ctrl_c().await.ok();
    for slot in slots {
        slot.abort();
    }
}
