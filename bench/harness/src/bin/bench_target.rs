//! A fast target API for benchmarks.
//!
//! - `GET /fixed`: a fixed small JSON body (`{"state":"DONE",...}`).
//! - `GET /status/{id}?k=K&interval_ms=I`: `RUNNING` for the first K requests of an id, then `DONE`. From the
//!   second request of an id on, records its lateness = arrival − (previous response + I): how late the caller's
//!   timer fired, as the target sees it.
//! - `GET /bench/lateness`: lateness percentiles (ms) and request counts. `POST /bench/reset` clears them.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use serde::Deserialize;

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    #[arg(long)]
    port_file: Option<String>,
}

const SHARDS: usize = 64;

struct Target {
    started: Instant,
    /// id → (requests so far, time of the last response in ns since start).
    shards: Vec<Mutex<HashMap<Box<str>, (u32, u64)>>>,
    lateness_ns: Mutex<Vec<i64>>,
    fixed: AtomicU64,
    status: AtomicU64,
}

const FIXED_BODY: &str = r#"{"id":"fixed","state":"DONE","value":42,"items":[1,2,3]}"#;

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn fixed(State(t): State<Arc<Target>>) -> Response {
    t.fixed.fetch_add(1, Ordering::Relaxed);
    ([(header::CONTENT_TYPE, "application/json")], FIXED_BODY).into_response()
}

#[derive(Deserialize)]
struct StatusQuery {
    k: Option<u32>,
    interval_ms: Option<u64>,
}

fn shard_of(id: &str) -> usize {
    id.bytes().fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize)) % SHARDS
}

async fn status(State(t): State<Arc<Target>>, Path(id): Path<String>, Query(q): Query<StatusQuery>) -> Response {
    t.status.fetch_add(1, Ordering::Relaxed);
    let k = q.k.unwrap_or(2);
    let now = t.started.elapsed().as_nanos() as u64;
    let (n, lateness) = {
        let mut shard = t.shards[shard_of(&id)].lock().unwrap();
        let entry = shard.entry(id.as_str().into()).or_insert((0, 0));
        let lateness =
            (entry.0 > 0).then(|| q.interval_ms.map(|i| now as i64 - (entry.1 + i * 1_000_000) as i64)).flatten();
        entry.0 += 1;
        entry.1 = now;
        (entry.0, lateness)
    };
    if let Some(l) = lateness {
        t.lateness_ns.lock().unwrap().push(l);
    }
    let state = if n <= k { "RUNNING" } else { "DONE" };
    json(format!(r#"{{"id":"{id}","state":"{state}","n":{n}}}"#))
}

fn pct(sorted: &[i64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e6
}

async fn lateness(State(t): State<Arc<Target>>) -> axum::Json<serde_json::Value> {
    let mut v = t.lateness_ns.lock().unwrap().clone();
    v.sort_unstable();
    axum::Json(serde_json::json!({
        "samples": v.len(),
        "p50_ms": pct(&v, 50.0), "p90_ms": pct(&v, 90.0), "p99_ms": pct(&v, 99.0), "max_ms": pct(&v, 100.0),
        "min_ms": if v.is_empty() { f64::NAN } else { v[0] as f64 / 1e6 },
        "fixed_requests": t.fixed.load(Ordering::Relaxed),
        "status_requests": t.status.load(Ordering::Relaxed),
    }))
}

async fn reset(State(t): State<Arc<Target>>) -> &'static str {
    for shard in &t.shards {
        shard.lock().unwrap().clear();
    }
    t.lateness_ns.lock().unwrap().clear();
    t.fixed.store(0, Ordering::Relaxed);
    t.status.store(0, Ordering::Relaxed);
    "ok"
}

fn main() {
    let args = Args::parse();
    let workers = std::env::var("BENCH_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap();
    runtime.block_on(async move {
        let target = Arc::new(Target {
            started: Instant::now(),
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            lateness_ns: Mutex::default(),
            fixed: AtomicU64::new(0),
            status: AtomicU64::new(0),
        });
        let app = Router::new()
            .route("/fixed", get(fixed))
            .route("/status/{id}", get(status))
            .route("/bench/lateness", get(lateness))
            .route("/bench/reset", post(reset))
            .with_state(target);
        let listener = tokio::net::TcpListener::bind(&args.listen).await.expect("bind");
        let port = listener.local_addr().unwrap().port();
        if let Some(file) = args.port_file {
            std::fs::write(file, port.to_string()).unwrap();
        }
        eprintln!("bench-target listening on 127.0.0.1:{port}");
        axum::serve(listener, app).await.unwrap();
    });
}
