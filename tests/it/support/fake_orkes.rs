//! A fake Orkes server for what conductor-oss cannot show: authentication (`POST /api/token`, `X-Authorization`,
//! expiry answered with 401 `EXPIRED_TOKEN`, unknown tokens with 401 `INVALID_TOKEN`, refused credentials) and
//! servers without `update-v2`. It serves a preloaded queue of tasks and records every result and every request.
//! It follows the Orkes auth protocol as the README ("Using it with Orkes") describes it; it is not a Conductor.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use tokio::time::Instant;

/// How the fake treats `update-v2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateV2 {
    /// Supported: 204, or 200 with the next queued task after a terminal update.
    Supported,
    /// Missing, answered like Spring does for an unknown path: 404.
    NotFound,
    /// Missing, answered 405.
    MethodNotAllowed,
}

#[derive(Debug)]
struct Inner {
    /// Key id and secret; `None`: a server without auth (`/api/token` is 404, no header needed).
    credentials: Option<(String, String)>,
    next_task: u32,
    accept_credentials: bool,
    token_ttl: Duration,
    tokens: HashMap<String, Instant>,
    token_requests: u32,
    rejected_calls: u32,
    queue: VecDeque<Value>,
    results: Vec<(String, Value)>,
    calls: Vec<String>,
    unauthorized_calls: u32,
    update_v2: UpdateV2,
    chained: u32,
    /// Updates are answered 503 (the server is overloaded) while polls still work.
    fail_updates: bool,
    /// The next this many updates are answered 401 with a body that names no token error.
    refuse_updates: u32,
}

/// The fake; cheap to clone.
#[derive(Debug, Clone)]
pub struct FakeOrkes {
    inner: Arc<Mutex<Inner>>,
    /// `http://127.0.0.1:PORT/api`.
    pub api: String,
}

impl FakeOrkes {
    /// Starts a fake accepting these credentials (`None`: no auth), issuing JWT-shaped tokens whose `exp` is
    /// `token_ttl` away.
    pub async fn start(credentials: Option<(&str, &str)>, token_ttl: Duration, update_v2: UpdateV2) -> Self {
        let inner = Arc::new(Mutex::new(Inner {
            credentials: credentials.map(|(k, s)| (k.to_owned(), s.to_owned())),
            next_task: 0,
            accept_credentials: true,
            token_ttl,
            tokens: HashMap::new(),
            token_requests: 0,
            rejected_calls: 0,
            queue: VecDeque::new(),
            results: Vec::new(),
            calls: Vec::new(),
            unauthorized_calls: 0,
            update_v2,
            chained: 0,
            fail_updates: false,
            refuse_updates: 0,
        }));
        let router = Router::new()
            .route("/api/token", post(token))
            .route("/api/tasks/poll/batch/{task_type}", get(poll))
            .route("/api/tasks", post(update))
            .route("/api/tasks/update-v2", post(update_and_next))
            .route("/api/tasks/queue/size", get(queue_size))
            .with_state(inner.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { inner, api: format!("http://{addr}/api") }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap()
    }

    /// Queues a task of `task_type` with this input; returns its id (`<task_type>:<n>`).
    pub fn enqueue(&self, task_type: &str, input: Value) -> String {
        let mut inner = self.lock();
        inner.next_task += 1;
        let task_id = format!("{task_type}:{}", inner.next_task);
        let task = json!({"taskId": task_id, "workflowInstanceId": format!("wf-{task_id}"), "taskType": task_type,
                          "status": "IN_PROGRESS", "inputData": input, "pollCount": 1, "responseTimeoutSeconds": 60});
        inner.queue.push_back(task);
        task_id
    }

    /// Results received: (endpoint, body).
    pub fn results(&self) -> Vec<(String, Value)> {
        self.lock().results.clone()
    }

    /// Token requests so far.
    pub fn token_requests(&self) -> u32 {
        self.lock().token_requests
    }

    /// Calls refused for an expired or unknown token.
    pub fn rejected_calls(&self) -> u32 {
        self.lock().rejected_calls
    }

    /// Calls that arrived without any `X-Authorization`.
    pub fn unauthorized_calls(&self) -> u32 {
        self.lock().unauthorized_calls
    }

    /// Tasks handed out in update-v2 replies.
    pub fn chained(&self) -> u32 {
        self.lock().chained
    }

    /// Every call as `METHOD path`, in order.
    pub fn calls(&self) -> Vec<String> {
        self.lock().calls.clone()
    }

    /// Makes every issued token expired (as after its lifetime).
    pub fn expire_all_tokens(&self) {
        let past = Instant::now() - Duration::from_secs(1);
        self.lock().tokens.values_mut().for_each(|expiry| *expiry = past);
    }

    /// Refuses (or accepts again) the configured credentials.
    pub fn accept_credentials(&self, accept: bool) {
        self.lock().accept_credentials = accept;
    }

    /// Answers every update (either endpoint) 503 from now on, or accepts them again.
    pub fn fail_updates(&self, fail: bool) {
        self.lock().fail_updates = fail;
    }

    /// Starts requiring these credentials (`None`: no auth, `/api/token` answers 404), as a server whose gateway
    /// answered 404 during a rollout.
    pub fn require_credentials(&self, credentials: Option<(&str, &str)>) {
        self.lock().credentials = credentials.map(|(k, s)| (k.to_owned(), s.to_owned()));
    }

    /// Answers the next `count` updates 401 `{"error":"UNAUTHORIZED"}`, whatever token they carry.
    pub fn refuse_next_updates(&self, count: u32) {
        self.lock().refuse_updates = count;
    }

    /// Tokens issued so far (for log greps).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.lock().tokens.keys().cloned().collect()
    }
}

type Shared = State<Arc<Mutex<Inner>>>;

async fn token(State(inner): Shared, Json(body): Json<Value>) -> Response {
    let mut inner = inner.lock().unwrap();
    inner.token_requests += 1;
    inner.calls.push("POST /api/token".into());
    let Some((key_id, key_secret)) = inner.credentials.clone() else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let valid = body["keyId"] == key_id.as_str() && body["keySecret"] == key_secret.as_str();
    if !(valid && inner.accept_credentials) {
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "INVALID_CREDENTIALS", "message": "bad key"})))
            .into_response();
    }
    let token = jwt(inner.token_ttl, inner.token_requests);
    let expiry = Instant::now() + inner.token_ttl;
    inner.tokens.insert(token.clone(), expiry);
    Json(json!({"token": token})).into_response()
}

/// A JWT-shaped token whose payload carries `exp` (the signature is not checked by anyone).
fn jwt(ttl: Duration, serial: u32) -> String {
    use base64::Engine as _;
    let encode = |v: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v);
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    let claims = json!({"sub": "app", "exp": now + ttl.as_secs(), "n": serial, "r": fastrand::u32(..)});
    format!("{}.{}.sig", encode(br#"{"alg":"HS256","typ":"JWT"}"#), encode(claims.to_string().as_bytes()))
}

/// `Err` with the error code of the 401 to send when the call is not authorized.
fn authorize(inner: &mut Inner, headers: &HeaderMap, call: String) -> Result<(), &'static str> {
    inner.calls.push(call);
    if inner.credentials.is_none() {
        return Ok(());
    }
    let Some(token) = headers.get("X-Authorization").and_then(|v| v.to_str().ok()) else {
        inner.unauthorized_calls += 1;
        return Err("INVALID_TOKEN");
    };
    match inner.tokens.get(token) {
        Some(expiry) if Instant::now() < *expiry => Ok(()),
        Some(_) => {
            inner.rejected_calls += 1;
            Err("EXPIRED_TOKEN")
        }
        None => {
            inner.rejected_calls += 1;
            Err("INVALID_TOKEN")
        }
    }
}

fn unauthorized(code: &'static str) -> Response {
    (StatusCode::UNAUTHORIZED, Json(json!({"error": code}))).into_response()
}

async fn poll(
    State(inner): Shared,
    Path(task_type): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(code) = authorize(&mut inner, &headers, format!("GET /api/tasks/poll/batch/{task_type}")) {
        return unauthorized(code);
    }
    let count: usize = query.get("count").and_then(|c| c.parse().ok()).unwrap_or(1);
    let mut batch = Vec::new();
    while batch.len() < count {
        let Some(position) = inner.queue.iter().position(|t| t["taskType"] == task_type.as_str()) else { break };
        batch.extend(inner.queue.remove(position));
    }
    Json(Value::Array(batch)).into_response()
}

fn record(inner: &mut Inner, endpoint: &str, body: &Bytes) -> Value {
    let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    inner.results.push((endpoint.to_owned(), value.clone()));
    value
}

async fn update(State(inner): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(code) = authorize(&mut inner, &headers, "POST /api/tasks".into()) {
        return unauthorized(code);
    }
    if inner.refuse_updates > 0 {
        inner.refuse_updates -= 1;
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "UNAUTHORIZED"}))).into_response();
    }
    if inner.fail_updates {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let value = record(&mut inner, "/api/tasks", &body);
    value["taskId"].as_str().unwrap_or_default().to_owned().into_response()
}

async fn update_and_next(State(inner): Shared, headers: HeaderMap, body: Bytes) -> Response {
    let mut inner = inner.lock().unwrap();
    match inner.update_v2 {
        UpdateV2::NotFound => {
            inner.calls.push("POST /api/tasks/update-v2".into());
            let body = json!({"timestamp": 0, "status": 404, "error": "Not Found", "path": "/api/tasks/update-v2"});
            return (StatusCode::NOT_FOUND, Json(body)).into_response();
        }
        UpdateV2::MethodNotAllowed => {
            inner.calls.push("POST /api/tasks/update-v2".into());
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
        UpdateV2::Supported => {}
    }
    if let Err(code) = authorize(&mut inner, &headers, "POST /api/tasks/update-v2".into()) {
        return unauthorized(code);
    }
    if inner.refuse_updates > 0 {
        inner.refuse_updates -= 1;
        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "UNAUTHORIZED"}))).into_response();
    }
    if inner.fail_updates {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let value = record(&mut inner, "/api/tasks/update-v2", &body);
    // Task ids are `<task_type>:<n>` (see `enqueue`).
    let task_type = value["taskId"].as_str().and_then(|id| id.split(':').next()).unwrap_or_default().to_owned();
    let terminal = value["status"] != "IN_PROGRESS";
    let next = terminal.then(|| inner.queue.iter().position(|t| t["taskType"] == task_type.as_str())).flatten();
    match next.and_then(|position| inner.queue.remove(position)) {
        Some(task) => {
            inner.chained += 1;
            Json(task).into_response()
        }
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn queue_size(
    State(inner): Shared,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let mut inner = inner.lock().unwrap();
    if let Err(code) = authorize(&mut inner, &headers, "GET /api/tasks/queue/size".into()) {
        return unauthorized(code);
    }
    let task_type = query.get("taskType").cloned().unwrap_or_default();
    inner.queue.iter().filter(|t| t["taskType"] == task_type.as_str()).count().to_string().into_response()
}
