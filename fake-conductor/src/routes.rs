//! The HTTP face of the fake: one handler per endpoint, each checking authentication and the injected failures
//! before it touches the store.

// A refusal is the response itself, returned early; its size does not matter in a test fake.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::store::Update;
use crate::{Shared, State as FakeState, UpdateV2};

type Fake = State<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/api/token", post(token))
        .route("/api/tasks/poll/batch/{task_type}", get(poll_batch))
        .route("/api/tasks", post(update))
        .route("/api/tasks/update-v2", post(update_v2))
        .route("/api/tasks/queue/size", get(queue_size))
        .route("/api/tasks/{task_id}", get(task))
        .route("/bench/stats", get(stats))
        .route("/bench/summary", get(summary))
        .with_state(shared)
}

/// Re-delivers parked tasks: every 2 ms, due ones become ready and long polls wake.
pub(crate) async fn redeliver(shared: Arc<Shared>) {
    let mut interval = tokio::time::interval(Duration::from_millis(2));
    loop {
        interval.tick().await;
        if shared.lock().store.promote_all() {
            shared.ready.notify_waiters();
        }
    }
}

fn json_text(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn refused(code: &'static str) -> Response {
    (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": code}))).into_response()
}

/// Records the call and checks its token.
fn admit(
    shared: &Shared,
    state: &mut FakeState,
    headers: &HeaderMap,
    call: impl FnOnce() -> String,
) -> Result<(), Response> {
    if shared.options.record {
        state.calls.push(call());
    }
    let token = headers.get("X-Authorization").and_then(|v| v.to_str().ok());
    state.auth.authorize(token).map_err(refused)
}

async fn token(State(shared): Fake, body: Bytes) -> Response {
    let mut state = shared.lock();
    if shared.options.record {
        state.calls.push("POST /api/token".into());
    }
    let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    match state.auth.token(&body) {
        Ok(Some(token)) => axum::Json(json!({"token": token})).into_response(),
        Ok(None) => StatusCode::NOT_FOUND.into_response(),
        Err(code) => {
            (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": code, "message": "bad key"}))).into_response()
        }
    }
}

async fn poll_batch(
    State(shared): Fake,
    Path(task_type): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    shared.counters.polls.fetch_add(1, Ordering::Relaxed);
    let count = query.get("count").and_then(|c| c.parse().ok()).unwrap_or(1usize).max(1);
    let wait = query.get("timeout").and_then(|t| t.parse().ok()).unwrap_or(100u64).min(5000);
    let deadline = tokio::time::Instant::now() + Duration::from_millis(wait);
    {
        let mut state = shared.lock();
        if let Err(refusal) = admit(&shared, &mut state, &headers, || format!("GET /api/tasks/poll/batch/{task_type}"))
        {
            return refusal;
        }
        if state.fail_polls {
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    loop {
        let notified = shared.ready.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        let tasks = shared.lock().store.take(&task_type, count);
        if !tasks.is_empty() {
            return json_text(format!("[{}]", tasks.join(",")));
        }
        if tokio::time::Instant::now() >= deadline {
            shared.counters.empty_polls.fetch_add(1, Ordering::Relaxed);
            return json_text("[]".into());
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

/// Checks and applies an update; `Ok((task_id, terminal, task type))` when accepted.
fn accept(shared: &Shared, endpoint: &str, headers: &HeaderMap, body: &Bytes) -> Result<(String, bool, u16), Response> {
    let mut state = shared.lock();
    admit(shared, &mut state, headers, || format!("POST {endpoint}"))?;
    if state.refuse_updates > 0 {
        state.refuse_updates -= 1;
        return Err((StatusCode::UNAUTHORIZED, axum::Json(json!({"error": "UNAUTHORIZED"}))).into_response());
    }
    if state.fail_updates {
        return Err(StatusCode::SERVICE_UNAVAILABLE.into_response());
    }
    let update: Update = serde_json::from_slice(body).map_err(|_| StatusCode::BAD_REQUEST.into_response())?;
    let applied = state
        .store
        .apply(&update, body)
        .map_err(|code| StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR).into_response())?;
    if shared.options.record {
        let value: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        state.results.push((endpoint.to_owned(), value));
    }
    if !applied.terminal {
        shared.counters.in_progress_updates.fetch_add(1, Ordering::Relaxed);
    }
    drop(state);
    if applied.ready_now {
        shared.ready.notify_waiters();
    }
    Ok((update.task_id.to_owned(), applied.terminal, applied.task_type))
}

async fn update(State(shared): Fake, headers: HeaderMap, body: Bytes) -> Response {
    shared.counters.updates.fetch_add(1, Ordering::Relaxed);
    match accept(&shared, "/api/tasks", &headers, &body) {
        Ok((task_id, _, _)) => ([(header::CONTENT_TYPE, "text/plain")], task_id).into_response(),
        Err(response) => response,
    }
}

async fn update_v2(State(shared): Fake, headers: HeaderMap, body: Bytes) -> Response {
    shared.counters.updates_v2.fetch_add(1, Ordering::Relaxed);
    let missing = shared.lock().update_v2;
    match missing {
        UpdateV2::Supported => {}
        UpdateV2::NotFound => {
            shared.lock().calls.push("POST /api/tasks/update-v2".into());
            let body = json!({"timestamp": 0, "status": 404, "error": "Not Found", "path": "/api/tasks/update-v2"});
            return (StatusCode::NOT_FOUND, axum::Json(body)).into_response();
        }
        UpdateV2::MethodNotAllowed => {
            shared.lock().calls.push("POST /api/tasks/update-v2".into());
            return StatusCode::METHOD_NOT_ALLOWED.into_response();
        }
    }
    match accept(&shared, "/api/tasks/update-v2", &headers, &body) {
        Ok((_, true, task_type)) => {
            let mut state = shared.lock();
            match state.store.take_from(task_type, 1).pop() {
                Some(task) => {
                    state.chained += 1;
                    json_text(task)
                }
                None => StatusCode::NO_CONTENT.into_response(),
            }
        }
        Ok(_) => StatusCode::NO_CONTENT.into_response(),
        Err(response) => response,
    }
}

async fn queue_size(State(shared): Fake, Query(query): Query<HashMap<String, String>>, headers: HeaderMap) -> Response {
    let mut state = shared.lock();
    if let Err(refusal) = admit(&shared, &mut state, &headers, || "GET /api/tasks/queue/size".into()) {
        return refusal;
    }
    let task_type = query.get("taskType").map_or("", String::as_str);
    state.store.queue_len(task_type).to_string().into_response()
}

async fn task(State(shared): Fake, Path(task_id): Path<String>, headers: HeaderMap) -> Response {
    let mut state = shared.lock();
    if let Err(refusal) = admit(&shared, &mut state, &headers, || format!("GET /api/tasks/{task_id}")) {
        return refusal;
    }
    match state.store.task(&task_id) {
        Some(task) => axum::Json(task).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

fn counters(shared: &Shared) -> Value {
    let c = &shared.counters;
    json!({
        "polls": c.polls.load(Ordering::Relaxed),
        "empty_polls": c.empty_polls.load(Ordering::Relaxed),
        "updates": c.updates.load(Ordering::Relaxed),
        "updates_v2": c.updates_v2.load(Ordering::Relaxed),
        "in_progress_updates": c.in_progress_updates.load(Ordering::Relaxed),
    })
}

fn merged(mut into: Value, from: Value) -> Value {
    if let (Value::Object(into), Value::Object(from)) = (&mut into, from) {
        into.extend(from);
    }
    into
}

async fn stats(State(shared): Fake) -> axum::Json<Value> {
    let store = shared.lock().store.stats();
    axum::Json(merged(store, counters(&shared)))
}

async fn summary(State(shared): Fake, Query(query): Query<HashMap<String, u64>>) -> axum::Json<Value> {
    let state = shared.lock();
    let stats = merged(state.store.stats(), counters(&shared));
    let mut summary =
        state.store.summary(query.get("warmup_ms").copied().unwrap_or(0), query.get("window_ms").copied());
    if let Value::Object(map) = &mut summary {
        map.insert("stats".into(), stats);
    }
    axum::Json(summary)
}
