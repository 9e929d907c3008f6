//! [`HttpConductor`]: the reqwest implementation of [`ConductorApi`] against conductor-oss and Orkes REST.
//!
//! One pooled `reqwest::Client` serves every call. Each call has a deadline: `request_timeout`, and for a batch poll
//! its long-poll wait plus at least [`MIN_POLL_SLACK`], because a poll abandoned while the server is still answering
//! it loses the tasks the server took for it. Each carries `X-Authorization` when Orkes credentials are configured
//! (see [`super::auth`]), is replayed once after a refresh when the token is rejected, and is measured in
//! `http_api_client_request_seconds` by path template. Error bodies are truncated before they are kept; URLs and
//! tokens never reach error text.
//!
//! `update-v2` is used until the server shows it lacks the endpoint (405, or a 404 that `POST /tasks` does not
//! repeat); from then on every update goes to `POST /tasks`.
//!
//! This module holds the calls; how one is sent (token, replay, metrics, health, errors) is [`call`].

mod call;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use bytes::Bytes;
use reqwest::header::CONTENT_TYPE;
use reqwest::{Client, Method, StatusCode};
use serde_json::json;
use url::Url;

use super::auth::TokenCache;
use super::{
    ClientError, ConductorApi, EncodedResult, LeaseExtension, PollRequest, PolledTask, decode_poll_batch,
    decode_single_task,
};
use crate::health::Health;
use crate::metrics::Metrics;
use call::Reply;

/// Least time a batch poll is given beyond its long-poll wait (more when `request_timeout` is longer). The server
/// takes tasks off the queue for a poll before it answers, and a task it took for a poll the client gave up on is
/// lost until its `responseTimeoutSeconds`: a busy server (a SQLite lock may wait 15 s) must never outlast the
/// client. Polling stops waiting for it at shutdown's grace period anyway.
pub const MIN_POLL_SLACK: Duration = Duration::from_secs(60);

/// Talks to one Conductor server over HTTP.
#[derive(Debug)]
pub struct HttpConductor {
    client: Client,
    /// `http(s)://host:port/api`, without a trailing slash.
    base: Url,
    request_timeout: Duration,
    auth: TokenCache,
    update_v2: AtomicBool,
    metrics: Arc<Metrics>,
    health: Arc<Health>,
}

impl HttpConductor {
    /// `GET /tasks/{taskId}` as JSON; `None` when the server does not know the task.
    /// `GET /tasks/{taskId}`: the whole task as the server stores it, `None` when it does not know the task.
    pub async fn task(&self, task_id: &str) -> Result<Option<serde_json::Value>, ClientError> {
        self.get_task(task_id).await
    }

    async fn get_task(&self, task_id: &str) -> Result<Option<serde_json::Value>, ClientError> {
        let url = self.url(&["tasks", task_id]);
        match self.call(Method::GET, "/tasks/{taskId}", &url, self.request_timeout, |builder| builder).await {
            Ok(reply) => serde_json::from_slice(&reply.body).map(Some).map_err(|e| ClientError::Decode(e.to_string())),
            Err(ClientError::Status { code: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// A client for the server whose API root is `base` (e.g. `http://localhost:8080/api`).
    pub fn new(
        client: Client,
        base: Url,
        request_timeout: Duration,
        auth: TokenCache,
        metrics: Arc<Metrics>,
        health: Arc<Health>,
    ) -> Self {
        Self { client, base, request_timeout, auth, update_v2: AtomicBool::new(true), metrics, health }
    }

    /// `base` joined with path segments; each segment is percent-encoded.
    fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        if let Ok(mut path) = url.path_segments_mut() {
            path.pop_if_empty().extend(segments);
        }
        url
    }

    async fn post_result(&self, template: &'static str, result: &EncodedResult) -> Result<Reply, ClientError> {
        let json = result.json.clone();
        let segments: Vec<&str> = template.trim_start_matches('/').split('/').collect();
        self.call(Method::POST, template, &self.url(&segments), self.request_timeout, move |request| {
            request.header(CONTENT_TYPE, "application/json").body(json.clone())
        })
        .await
    }
}

impl ConductorApi for HttpConductor {
    async fn poll_batch(&self, request: PollRequest<'_>) -> Result<Vec<PolledTask>, ClientError> {
        let mut url = self.url(&["tasks", "poll", "batch", request.task_type]);
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("workerid", request.worker_id)
                .append_pair("count", &request.count.to_string())
                .append_pair("timeout", &request.timeout.as_millis().to_string());
            if let Some(domain) = request.domain {
                query.append_pair("domain", domain);
            }
        }
        let timeout = request.timeout + self.request_timeout.max(MIN_POLL_SLACK);
        let reply = self.call(Method::GET, "/tasks/poll/batch/{taskType}", &url, timeout, |builder| builder).await?;
        if reply.status == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        decode_poll_batch(&reply.body)
    }

    async fn update_task(&self, result: &EncodedResult) -> Result<(), ClientError> {
        self.post_result("/tasks", result).await.map(drop)
    }

    async fn update_task_and_poll(
        &self,
        result: &EncodedResult,
        _worker_id: &str,
    ) -> Result<Option<PolledTask>, ClientError> {
        if !self.update_v2.load(Ordering::Relaxed) {
            return self.update_task(result).await.map(|()| None);
        }
        match self.post_result("/tasks/update-v2", result).await {
            Ok(reply) if reply.status == StatusCode::NO_CONTENT => Ok(None),
            Ok(reply) => decode_single_task(&reply.body),
            Err(ClientError::Status { code: code @ (404 | 405), .. }) => {
                // 405: no such endpoint. 404: no endpoint, or no such task; POST /tasks tells which. Switch at
                // once so that concurrent reports stop trying update-v2, and switch back if the task was unknown.
                let was_enabled = self.update_v2.swap(false, Ordering::Relaxed);
                match self.update_task(result).await {
                    Err(ClientError::Status { code: 404, body }) if code == 404 => {
                        if was_enabled {
                            self.update_v2.store(true, Ordering::Relaxed);
                        }
                        Err(ClientError::Status { code: 404, body })
                    }
                    Err(error) => Err(error),
                    Ok(()) => {
                        if was_enabled {
                            tracing::info!(
                                "The server has no /api/tasks/update-v2; reporting through /api/tasks from now on."
                            );
                        }
                        Ok(None)
                    }
                }
            }
            Err(error) => Err(error),
        }
    }

    async fn extend_lease(&self, lease: &LeaseExtension<'_>) -> Result<(), ClientError> {
        let mut body = serde_json::to_value(lease).unwrap_or_default();
        body["status"] = json!("IN_PROGRESS");
        body["extendLease"] = json!(true);
        let json = Bytes::from(body.to_string());
        self.call(Method::POST, "/tasks", &self.url(&["tasks"]), self.request_timeout, move |request| {
            request.header(CONTENT_TYPE, "application/json").body(json.clone())
        })
        .await
        .map(drop)
    }

    async fn add_task_log(&self, task_id: &str, line: &str) -> Result<(), ClientError> {
        let url = self.url(&["tasks", task_id, "log"]);
        // The server reads the body as a plain string: JSON would keep its quotes.
        let body = Bytes::from(line.to_owned());
        self.call(Method::POST, "/tasks/{taskId}/log", &url, self.request_timeout, move |request| {
            request.header(CONTENT_TYPE, "text/plain; charset=utf-8").body(body.clone())
        })
        .await
        .map(drop)
    }

    async fn task_status(&self, task_id: &str) -> Result<Option<String>, ClientError> {
        let task = self.get_task(task_id).await?;
        Ok(task.as_ref().and_then(|t| t.get("status")).and_then(|s| s.as_str()).map(str::to_owned))
    }

    async fn task_output(&self, task_id: &str) -> Result<Option<serde_json::Value>, ClientError> {
        Ok(self.get_task(task_id).await?.map(|mut task| task["outputData"].take()))
    }

    async fn queue_size(&self, task_type: &str, domain: Option<&str>) -> Result<u64, ClientError> {
        let mut url = self.url(&["tasks", "queue", "size"]);
        url.query_pairs_mut().append_pair("taskType", task_type);
        if let Some(domain) = domain {
            url.query_pairs_mut().append_pair("domain", domain);
        }
        let reply = self.call(Method::GET, "/tasks/queue/size", &url, self.request_timeout, |builder| builder).await?;
        let text = String::from_utf8_lossy(&reply.body);
        text.trim().parse().map_err(|_| ClientError::Decode(format!("queue size is not a number: {text:?}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    /// A batch poll outlives `request_timeout` (the server may still be handing it tasks); other calls do not.
    #[tokio::test]
    async fn a_slow_batch_poll_is_not_abandoned_at_the_request_timeout() {
        let router = axum::Router::new()
            .route(
                "/api/tasks/poll/batch/{task_type}",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    r#"[{"taskId":"t","workflowInstanceId":"w"}]"#
                }),
            )
            .route(
                "/api/tasks/{task_id}",
                axum::routing::get(|| async {
                    tokio::time::sleep(Duration::from_millis(600)).await;
                    r#"{"status":"IN_PROGRESS"}"#
                }),
            );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = Url::parse(&format!("http://{}/api", listener.local_addr().unwrap())).unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        let metrics = Arc::new(Metrics::register(&mut Registry::default(), Vec::new()));
        let health = Arc::new(Health::new(metrics.clone(), crate::health::LOOP_FRESHNESS));
        let token = TokenCache::new(None, Duration::from_secs(60));
        let conductor = HttpConductor::new(Client::new(), base, Duration::from_millis(200), token, metrics, health);
        let request = PollRequest { task_type: "t", domain: None, worker_id: "me", count: 1, timeout: Duration::ZERO };
        let tasks = conductor.poll_batch(request).await.expect("the poll waits for the server");
        assert!(matches!(&tasks[..], [PolledTask::Task(task)] if task.task_id == "t"));
        let status = conductor.task_status("t").await;
        assert!(matches!(status, Err(ClientError::Transport(_))), "other calls keep request_timeout: {status:?}");
    }
}
