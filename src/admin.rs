//! The admin HTTP endpoints, on two listeners:
//! - `admin.addr` (default `127.0.0.1:9191`): `GET /metrics` (Prometheus text), `GET /healthz` (liveness: the
//!   poll loops turn), `GET /readyz` (readiness: configuration loaded, the server reached recently, authorization
//!   working); health answers are JSON and say why when failing (503).
//! - `admin.control_addr` (default `127.0.0.1:9192`): runtime control, only with a bearer token configured
//!   (`admin.control_token` or `admin.control_token_file`; without one the listener is off). Every request needs
//!   `Authorization: Bearer <token>` (else 401). `GET /task-types` lists each task type's state;
//!   `POST /task-types/{name}/pause` and `/resume`; `PUT /task-types/{name}/concurrency` with `{"concurrency": N}`;
//!   `GET /tasks` lists every task running or holding here (id, workflow, type, state, polls, last status, next
//!   poll, since when), oldest first: what the `tasks` command prints. Task ids and workflow ids are what an
//!   operator needs here; the listing never shows inputs, outputs or headers.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use prometheus_client::registry::Registry;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::health::{Health, HealthReport};
use crate::metrics;
use crate::worker::Control;

/// Largest concurrency accepted at runtime.
const MAX_CONCURRENCY: usize = 1_000_000;

#[derive(Clone)]
struct Observed {
    health: Arc<Health>,
    registry: Arc<Registry>,
}

/// `/metrics`, `/healthz`, `/readyz`.
pub fn router(health: Arc<Health>, registry: Arc<Registry>) -> Router {
    Router::new()
        .route("/metrics", get(metrics_text))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(Observed { health, registry })
}

async fn metrics_text(State(observed): State<Observed>) -> impl IntoResponse {
    ([(CONTENT_TYPE, metrics::CONTENT_TYPE)], metrics::encode(&observed.registry))
}

async fn healthz(State(observed): State<Observed>) -> (StatusCode, Json<HealthReport>) {
    respond(observed.health.liveness())
}

async fn readyz(State(observed): State<Observed>) -> (StatusCode, Json<HealthReport>) {
    respond(observed.health.readiness())
}

fn respond(report: HealthReport) -> (StatusCode, Json<HealthReport>) {
    let status = if report.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report))
}

type Controls = Arc<Vec<Arc<dyn Control>>>;

/// The runtime-control routes, each requiring `Authorization: Bearer <token>`.
pub fn control_router(workers: Vec<Arc<dyn Control>>, token: String) -> Router {
    Router::new()
        .route("/task-types", get(list))
        .route("/task-types/{name}/pause", post(pause))
        .route("/task-types/{name}/resume", post(resume))
        .route("/task-types/{name}/concurrency", put(concurrency))
        .route("/tasks", get(held))
        .with_state(Arc::new(workers))
        .layer(axum::middleware::from_fn_with_state(Arc::<str>::from(token), require_token))
}

async fn require_token(State(token): State<Arc<str>>, request: Request, next: Next) -> Response {
    let presented = request
        .headers()
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    if same_secret(presented.trim().as_bytes(), token.as_bytes()) {
        next.run(request).await
    } else {
        let body = Json(json!({"error": "the control endpoint needs Authorization: Bearer <admin.control_token>"}));
        (StatusCode::UNAUTHORIZED, [(WWW_AUTHENTICATE, "Bearer")], body).into_response()
    }
}

/// Compares in time that depends on the lengths only.
fn same_secret(presented: &[u8], expected: &[u8]) -> bool {
    let differences = presented.iter().zip(expected).fold(0u8, |acc, (a, b)| acc | (a ^ b));
    presented.len() == expected.len() && differences == 0
}

fn describe(worker: &dyn Control) -> Value {
    json!({"taskType": worker.task_type(), "paused": worker.paused(), "concurrency": worker.concurrency(),
           "slotsUsed": worker.slots_used()})
}

async fn list(State(workers): State<Controls>) -> Json<Value> {
    Json(Value::Array(workers.iter().map(|w| describe(w.as_ref())).collect()))
}

async fn held(State(workers): State<Controls>) -> Json<Value> {
    let mut tasks: Vec<_> = workers.iter().flat_map(|w| w.held()).collect();
    tasks.sort_by(|a, b| (a.held_since_ms, &a.task_id).cmp(&(b.held_since_ms, &b.task_id)));
    Json(serde_json::to_value(tasks).unwrap_or_default())
}

fn find<'a>(workers: &'a Controls, name: &str) -> Result<&'a Arc<dyn Control>, (StatusCode, Json<Value>)> {
    workers
        .iter()
        .find(|w| w.task_type() == name)
        .ok_or_else(|| (StatusCode::NOT_FOUND, Json(json!({"error": format!("no task type {name:?} is served")}))))
}

async fn pause(
    State(workers): State<Controls>,
    Path(name): Path<String>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let worker = find(&workers, &name)?;
    worker.set_paused(true);
    Ok(Json(describe(worker.as_ref())))
}

async fn resume(
    State(workers): State<Controls>,
    Path(name): Path<String>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let worker = find(&workers, &name)?;
    worker.set_paused(false);
    Ok(Json(describe(worker.as_ref())))
}

#[derive(Deserialize)]
struct ConcurrencyBody {
    concurrency: usize,
}

async fn concurrency(
    State(workers): State<Controls>,
    Path(name): Path<String>,
    body: Result<Json<ConcurrencyBody>, axum::extract::rejection::JsonRejection>,
) -> Result<Json<Value>, (StatusCode, Json<Value>)> {
    let worker = find(&workers, &name)?;
    let bad = |message: String| (StatusCode::BAD_REQUEST, Json(json!({"error": message})));
    let Json(body) = body.map_err(|e| bad(format!("body must be {{\"concurrency\": N}}: {e}")))?;
    if !(1..=MAX_CONCURRENCY).contains(&body.concurrency) {
        return Err(bad(format!("concurrency must be from 1 to {MAX_CONCURRENCY}")));
    }
    worker.set_concurrency(body.concurrency);
    Ok(Json(describe(worker.as_ref())))
}
