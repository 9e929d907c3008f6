//! The admin HTTP endpoint: `/healthz` (liveness: the poll loops turn) and `/readyz` (readiness: configuration
//! loaded and the Conductor server reached recently), each a JSON body saying why when failing (503).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use tokio::net::TcpListener;

use crate::health::{Health, HealthReport};

/// The admin routes.
pub fn router(health: Arc<Health>) -> Router {
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(health)
}

/// Binds the admin address (before the workers start, so a bad address fails fast).
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

async fn healthz(State(health): State<Arc<Health>>) -> (StatusCode, Json<HealthReport>) {
    respond(health.liveness())
}

async fn readyz(State(health): State<Arc<Health>>) -> (StatusCode, Json<HealthReport>) {
    respond(health.readiness())
}

fn respond(report: HealthReport) -> (StatusCode, Json<HealthReport>) {
    let status = if report.ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(report))
}
