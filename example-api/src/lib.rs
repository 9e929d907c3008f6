//! A local stand-in for the long-running API of the Orkes tutorial
//! (`../shared/reference/long-running-apis-tutorial.txt`): AWS Lambda + DynamoDB + API Gateway, without AWS.
//!
//! Routes (the tutorial's shapes, so its workflow JSON works with only the URIs changed):
//! - `POST /invoke-lambda` with `{"requestId": "..."}` starts a job and answers **202**
//!   `{"requestId": ..., "status": "PROCESSING"}` with `Location: /{requestId}` (the asynchronous request-reply
//!   pattern, which the worker's `pollLocation` follows). The job completes `delay` later. Request bodies are read
//!   whole, chunked or not: conductor-oss's own HTTP task sends `Transfer-Encoding: chunked`.
//!   **Webhook mode:** with `"callbackUrl": "http://..."` in the body, the API itself POSTs
//!   `{"requestId", "status": "COMPLETED"}` to that URL when the job completes, once (an `asyncComplete` task is
//!   completed this way through Conductor's `POST /api/tasks/{workflowId}/{taskRefName}/COMPLETED`). Plain
//!   `http://` only, as this is a loopback demo.
//! - `POST /{requestId}/cancel` cancels a job: its status reads `CANCELLED` from then on (the worker's
//!   `cancelRequest` sends it when the workflow is terminated).
//! - `GET /{requestId}` answers 200 `{"statusCode": 200, "body": {"requestId", "status", "polls"}}` with `status`
//!   `PROCESSING` until the delay has passed, then `COMPLETED`: the nested `body.body.status` the tutorial's
//!   `terminationCondition` reads. `polls` counts the status requests for that id, this one included.
//!   Unknown ids answer 404 `{"statusCode": 404, "body": {"status": "NOT_FOUND"}}`.
//! - `GET /_stats/{requestId}` answers `{"invocations", "polls", "invokeTimesMs", "pollTimesMs"}` (epoch ms) so
//!   tests and the demo can check that a job was invoked exactly once and when it was polled.
//! - `GET /healthz` answers 200.
//!
//! State is in memory and owned by [`ExampleApi`]; tests embed the API in-process and read it directly.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Serialize;
use serde_json::{Value, json};
use tokio::net::TcpListener;

/// What happened to one request id: the job record and the counters tests assert on.
#[derive(Debug, Clone, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JobStats {
    /// `POST /invoke-lambda` calls for this id.
    pub invocations: u32,
    /// `GET /{requestId}` calls for this id.
    pub polls: u32,
    /// When each invocation arrived, epoch milliseconds.
    pub invoke_times_ms: Vec<u64>,
    /// When each status request arrived, epoch milliseconds.
    pub poll_times_ms: Vec<u64>,
    /// `POST /{requestId}/cancel` calls for this id.
    pub cancellations: u32,
    /// Webhook calls made for this id, and their HTTP status (0: not delivered).
    pub callbacks: Vec<u16>,
    /// When the job was first invoked, epoch milliseconds; it completes the API's delay later.
    #[serde(skip)]
    first_invoke_ms: u64,
}

/// The example API's state; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct ExampleApi {
    /// Milliseconds from the first invocation to completion; changeable while running (tests).
    delay_ms: Arc<std::sync::atomic::AtomicU64>,
    jobs: Arc<Mutex<HashMap<String, JobStats>>>,
}

impl ExampleApi {
    /// An API whose jobs complete `delay` after their first invocation.
    pub fn new(delay: Duration) -> Self {
        Self { delay_ms: Arc::new((delay.as_millis() as u64).into()), jobs: Arc::default() }
    }

    /// Changes the delay of every job, started or not (a test can hold jobs PROCESSING, then let them finish).
    pub fn set_delay(&self, delay: Duration) {
        self.delay_ms.store(delay.as_millis() as u64, std::sync::atomic::Ordering::Relaxed);
    }

    /// The axum router serving the routes listed in the module docs.
    pub fn router(&self) -> Router {
        Router::new()
            .route("/healthz", get(|| async { "ok" }))
            .route("/invoke-lambda", post(invoke))
            .route("/_stats/{request_id}", get(stats))
            .route("/throttled/{request_id}", get(throttled))
            .route("/{request_id}", get(status))
            .route("/{request_id}/cancel", post(cancel))
            .with_state(self.clone())
    }

    /// Counters for one request id (default when it was never seen).
    pub fn stats(&self, request_id: &str) -> JobStats {
        self.lock().get(request_id).cloned().unwrap_or_default()
    }

    /// Total invocations over all request ids.
    pub fn total_invocations(&self) -> u64 {
        self.lock().values().map(|job| u64::from(job.invocations)).sum()
    }

    /// Binds `addr` and serves until the process ends; returns the bound address and the server task.
    pub async fn spawn(&self, addr: SocketAddr) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
        let listener = TcpListener::bind(addr).await?;
        let bound = listener.local_addr()?;
        let router = self.router();
        let handle = tokio::spawn(async move {
            // The server only ends with the runtime; an accept error is logged by axum and retried.
            let _ = axum::serve(listener, router).await;
        });
        Ok((bound, handle))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, JobStats>> {
        // A poisoned lock means a handler panicked mid-update; the counters are still the best we have.
        self.jobs.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

async fn invoke(State(api): State<ExampleApi>, body: String) -> axum::response::Response {
    use axum::response::IntoResponse;
    let parsed: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let Some(request_id) = parsed.get("requestId").and_then(Value::as_str).filter(|id| !id.is_empty()) else {
        let message = json!({"message": "body must be JSON with a non-empty string requestId"});
        return (StatusCode::BAD_REQUEST, Json(message)).into_response();
    };
    let callback = match parsed.get("callbackUrl").and_then(Value::as_str) {
        None => None,
        Some(url) => match webhook::Target::parse(url) {
            Some(target) => Some(target),
            None => {
                let message = json!({"message": "callbackUrl must be an http://host:port/path URL"});
                return (StatusCode::BAD_REQUEST, Json(message)).into_response();
            }
        },
    };
    let now = now_ms();
    let mut jobs = api.lock();
    let job = jobs.entry(request_id.to_owned()).or_default();
    if job.invocations == 0 {
        job.first_invoke_ms = now;
    }
    job.invocations += 1;
    job.invoke_times_ms.push(now);
    let first = job.invocations == 1;
    drop(jobs);
    if let (Some(target), true) = (callback, first) {
        let delay = Duration::from_millis(api.delay_ms.load(std::sync::atomic::Ordering::Relaxed));
        tokio::spawn(webhook::call_when_done(api.clone(), request_id.to_owned(), target, delay));
    }
    let location = [(axum::http::header::LOCATION, format!("/{request_id}"))];
    (StatusCode::ACCEPTED, location, Json(json!({"requestId": request_id, "status": "PROCESSING"}))).into_response()
}

async fn cancel(State(api): State<ExampleApi>, Path(request_id): Path<String>) -> (StatusCode, Json<Value>) {
    let mut jobs = api.lock();
    let Some(job) = jobs.get_mut(&request_id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"status": "NOT_FOUND"})));
    };
    job.cancellations += 1;
    (StatusCode::OK, Json(json!({"requestId": request_id, "status": "CANCELLED"})))
}

async fn status(State(api): State<ExampleApi>, Path(request_id): Path<String>) -> (StatusCode, Json<Value>) {
    let now = now_ms();
    let mut jobs = api.lock();
    let Some(job) = jobs.get_mut(&request_id) else {
        return (StatusCode::NOT_FOUND, Json(json!({"statusCode": 404, "body": {"status": "NOT_FOUND"}})));
    };
    job.polls += 1;
    job.poll_times_ms.push(now);
    let delay = api.delay_ms.load(std::sync::atomic::Ordering::Relaxed);
    let state = match () {
        () if job.cancellations > 0 => "CANCELLED",
        () if now >= job.first_invoke_ms.saturating_add(delay) => "COMPLETED",
        () => "PROCESSING",
    };
    let body = json!({"requestId": request_id, "status": state, "polls": job.polls});
    (StatusCode::OK, Json(json!({"statusCode": 200, "body": body})))
}

/// Query of `GET /throttled/{requestId}`.
#[derive(Debug, serde::Deserialize)]
struct Throttle {
    /// Polls answered 429 before the job's status is shown.
    times: u32,
    /// The `Retry-After` of those answers, in seconds.
    after: u32,
}

/// A rate-limited status endpoint: the first `times` polls of a job are answered 429 with `Retry-After: after`,
/// later ones as `GET /{requestId}`. Every poll is counted.
async fn throttled(
    State(api): State<ExampleApi>,
    Path(request_id): Path<String>,
    axum::extract::Query(throttle): axum::extract::Query<Throttle>,
) -> axum::response::Response {
    use axum::response::IntoResponse;
    let refused = {
        let mut jobs = api.lock();
        match jobs.get_mut(&request_id) {
            Some(job) if job.polls < throttle.times => {
                job.polls += 1;
                job.poll_times_ms.push(now_ms());
                true
            }
            _ => false,
        }
    };
    if refused {
        let retry_after = [(axum::http::header::RETRY_AFTER, throttle.after.to_string())];
        return (StatusCode::TOO_MANY_REQUESTS, retry_after, Json(json!({"message": "slow down"}))).into_response();
    }
    status(State(api), Path(request_id)).await.into_response()
}

async fn stats(State(api): State<ExampleApi>, Path(request_id): Path<String>) -> Json<JobStats> {
    Json(api.stats(&request_id))
}

mod webhook;

#[cfg(test)]
mod tests {
    use super::*;

    async fn started(delay: Duration) -> (ExampleApi, String) {
        let api = ExampleApi::new(delay);
        let (addr, _) = api.spawn("127.0.0.1:0".parse().unwrap()).await.unwrap();
        (api, format!("http://{addr}"))
    }

    async fn get_json(url: &str) -> (u16, Value) {
        // A tiny HTTP/1.1 client over TcpStream keeps this crate free of an HTTP client dependency.
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let rest = url.trim_start_matches("http://");
        let (host, path) = rest.split_once('/').unwrap();
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let request = format!("GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let code = raw[9..12].parse().unwrap();
        let body = raw.split_once("\r\n\r\n").unwrap().1;
        (code, serde_json::from_str(body).unwrap())
    }

    async fn post_chunked(base: &str, path: &str, chunks: &[&str]) -> (u16, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let host = base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let mut request = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        );
        for chunk in chunks {
            request.push_str(&format!("{:x}\r\n{chunk}\r\n", chunk.len()));
        }
        request.push_str("0\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        let code = raw[9..12].parse().unwrap();
        let body = raw.split_once("\r\n\r\n").unwrap().1;
        (code, serde_json::from_str(body).unwrap())
    }

    #[tokio::test]
    async fn chunked_invoke_then_status_until_completed() {
        let (api, base) = started(Duration::from_millis(300)).await;
        let (code, body) = post_chunked(&base, "/invoke-lambda", &["{\"requestId\":", "\"r1\"}"]).await;
        assert_eq!(code, 202);
        assert_eq!(body, json!({"requestId": "r1", "status": "PROCESSING"}));

        let (code, body) = get_json(&format!("{base}/r1")).await;
        assert_eq!(code, 200);
        assert_eq!(body["body"]["status"], "PROCESSING");
        assert_eq!(body["body"]["polls"], 1);

        tokio::time::sleep(Duration::from_millis(350)).await;
        let (_, body) = get_json(&format!("{base}/r1")).await;
        assert_eq!(body, json!({"statusCode": 200, "body": {"requestId": "r1", "status": "COMPLETED", "polls": 2}}));

        let stats = api.stats("r1");
        assert_eq!((stats.invocations, stats.polls), (1, 2));
        let (_, remote) = get_json(&format!("{base}/_stats/r1")).await;
        assert_eq!(remote["invocations"], 1);
        assert_eq!(remote["pollTimesMs"].as_array().unwrap().len(), 2);
    }

    #[tokio::test]
    async fn unknown_id_is_404_and_bad_invoke_is_400() {
        let (api, base) = started(Duration::ZERO).await;
        let (code, body) = get_json(&format!("{base}/nope")).await;
        assert_eq!(code, 404);
        assert_eq!(body, json!({"statusCode": 404, "body": {"status": "NOT_FOUND"}}));
        let (code, _) = post_chunked(&base, "/invoke-lambda", &["{\"other\":1}"]).await;
        assert_eq!(code, 400);
        assert_eq!(api.total_invocations(), 0);
    }

    #[tokio::test]
    async fn throttled_polls_are_refused_with_retry_after_then_answered() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (api, base) = started(Duration::ZERO).await;
        post_chunked(&base, "/invoke-lambda", &["{\"requestId\":\"t\"}"]).await;
        let host = base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let request = format!("GET /throttled/t?times=1&after=7 HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        assert!(raw.starts_with("HTTP/1.1 429"), "{raw}");
        assert!(raw.to_ascii_lowercase().contains("retry-after: 7\r\n"), "{raw}");
        let (code, body) = get_json(&format!("{base}/throttled/t?times=1&after=7")).await;
        assert_eq!(code, 200);
        assert_eq!(body["body"]["status"], "COMPLETED");
        assert_eq!(api.stats("t").polls, 2, "refused polls count too");
    }

    #[tokio::test]
    async fn second_invocation_is_counted_and_keeps_the_first_deadline() {
        let (api, base) = started(Duration::from_secs(3600)).await;
        post_chunked(&base, "/invoke-lambda", &["{\"requestId\":\"dup\"}"]).await;
        post_chunked(&base, "/invoke-lambda", &["{\"requestId\":\"dup\"}"]).await;
        assert_eq!(api.stats("dup").invocations, 2);
        assert_eq!(api.total_invocations(), 2);
    }

    #[tokio::test]
    async fn the_webhook_is_called_once_when_the_job_completes_and_cancel_shows() {
        use axum::routing::post;
        let hooks = Arc::new(Mutex::new(Vec::<Value>::new()));
        let seen = hooks.clone();
        let receiver = Router::new().route(
            "/api/tasks/wf/ref/COMPLETED",
            post(move |Json(body): Json<Value>| {
                let seen = seen.clone();
                async move {
                    seen.lock().unwrap().push(body);
                }
            }),
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let hook = format!("http://{}/api/tasks/wf/ref/COMPLETED", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, receiver).await });
        let (api, base) = started(Duration::from_millis(200)).await;
        let body = format!("{{\"requestId\":\"w\",\"callbackUrl\":\"{hook}\"}}");
        let (code, _) = post_chunked(&base, "/invoke-lambda", &[&body]).await;
        assert_eq!(code, 202);
        post_chunked(&base, "/invoke-lambda", &[&body]).await;
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(*hooks.lock().unwrap(), [json!({"requestId": "w", "status": "COMPLETED"})], "called once");
        assert_eq!(api.stats("w").callbacks, [200]);

        let (code, _) =
            post_chunked(&base, "/invoke-lambda", &["{\"requestId\":\"c\",\"callbackUrl\":\"ftp://x\"}"]).await;
        assert_eq!(code, 400, "a bad callbackUrl is refused");
        post_chunked(&base, "/invoke-lambda", &["{\"requestId\":\"c\"}"]).await;
        let (code, _) = post_chunked(&base, "/c/cancel", &["{}"]).await;
        assert_eq!(code, 200);
        let (_, body) = get_json(&format!("{base}/c")).await;
        assert_eq!(body["body"]["status"], "CANCELLED");
        assert_eq!(api.stats("c").cancellations, 1);
    }

    #[tokio::test]
    async fn the_invoke_names_its_status_location() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (_api, base) = started(Duration::ZERO).await;
        let host = base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(host).await.unwrap();
        let body = "{\"requestId\":\"loc\"}";
        let request = format!(
            "POST /invoke-lambda HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).await.unwrap();
        assert!(raw.starts_with("HTTP/1.1 202"), "{raw}");
        assert!(raw.to_ascii_lowercase().contains("location: /loc\r\n"), "{raw}");
    }
}
