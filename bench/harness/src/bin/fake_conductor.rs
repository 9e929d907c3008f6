//! A fast fake Conductor server for benchmarks: the task API a worker uses, over N preloaded tasks of one type.
//!
//! - `GET /api/tasks/poll/batch/{type}?count&timeout`: up to `count` ready tasks; with none ready, waits up to
//!   `timeout` ms (long poll) for one. Unknown types are empty queues (long polls wait the whole timeout).
//! - `POST /api/tasks`: an update. Terminal statuses finish the task; `IN_PROGRESS` stores `outputData` and
//!   re-queues the task after `callbackAfterSeconds` (0 = at once), with `pollCount` + 1 on the next delivery.
//! - `POST /api/tasks/update-v2`: the same, then, after a terminal update, the next ready task of the same type
//!   (already delivered), or 204.
//! - `GET /api/tasks/queue/size?taskType`, `GET /api/tasks/{id}`, `POST /api/token` (404: no auth).
//! - `GET /bench/stats`, `GET /bench/summary?warmup_ms&window_ms`: counters, and throughput and latency
//!   percentiles over a window measured from the first delivery.
//!
//! Every task records its first and last delivery and its finish time (nanoseconds since start-up), so
//! poll-to-update latency = finish − last delivery, end-to-end = finish − first delivery.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use clap::Parser;
use serde::Deserialize;
use serde_json::value::RawValue;
use tokio::sync::Notify;

#[derive(Parser, Debug)]
struct Args {
    /// Listen address.
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: String,
    /// Where the bound port is written (for the driver).
    #[arg(long)]
    port_file: Option<String>,
    /// Task type of the preloaded tasks.
    #[arg(long, default_value = "bench_http")]
    task_type: String,
    /// Number of preloaded tasks.
    #[arg(long, default_value_t = 100_000)]
    tasks: u32,
    /// The tasks' inputData (JSON); `{{ID}}` is replaced by the task's index.
    #[arg(long, default_value = r#"{"http_request":{"uri":"http://127.0.0.1:8090/fixed","method":"GET"}}"#)]
    input: String,
    /// A terminal update counts as valid when its body contains this string (e.g. DONE).
    #[arg(long, default_value = "")]
    expect: String,
    /// responseTimeoutSeconds embedded in each task (top level and workflowTask.taskDefinition).
    #[arg(long, default_value_t = 3600)]
    response_timeout_secs: u64,
    /// Hand out never-delivered tasks at most this many per second from the first poll on (0 = no limit), so
    /// that their timers later fire at a rate the worker can sustain (S4 paced).
    #[arg(long, default_value_t = 0)]
    release_per_s: u64,
}

const QUEUED: u8 = 0;
const DELIVERED: u8 = 1;
const DONE: u8 = 2;

#[derive(Clone, Default)]
struct Rec {
    state: u8,
    poll_count: u32,
    first_ns: u64,
    last_ns: u64,
    finish_ns: u64,
    start_epoch_ms: u64,
    output: Option<Box<str>>,
}

struct Queue {
    /// Next never-delivered index (tasks below it were handed out at least once).
    next_fresh: u32,
    ready: VecDeque<u32>,
    delayed: BinaryHeap<Reverse<(u64, u32)>>,
}

struct Inner {
    recs: Vec<Rec>,
    queue: Queue,
    first_delivery_ns: Option<u64>,
    done: u32,
    completed: u32,
    failed: u32,
    valid: u32,
    duplicates: u32,
}

struct Fake {
    args: Args,
    input_parts: Vec<String>,
    started: Instant,
    inner: Mutex<Inner>,
    notify: Notify,
    polls: AtomicU64,
    empty_polls: AtomicU64,
    updates: AtomicU64,
    updates_v2: AtomicU64,
    in_progress_updates: AtomicU64,
}

fn epoch_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl Fake {
    fn now_ns(&self) -> u64 {
        self.started.elapsed().as_nanos() as u64
    }

    /// Moves due delayed tasks to the ready queue; returns how many.
    fn promote(q: &mut Queue, now: u64) -> usize {
        let mut n = 0;
        while let Some(Reverse((due, _))) = q.delayed.peek() {
            if *due > now {
                break;
            }
            let Reverse((_, id)) = q.delayed.pop().unwrap();
            q.ready.push_back(id);
            n += 1;
        }
        n
    }

    /// Takes up to `count` tasks (already marked delivered), serialized.
    fn take(&self, count: usize) -> Vec<String> {
        let now = self.now_ns();
        let mut out = Vec::new();
        let mut inner = self.inner.lock().unwrap();
        let inner = &mut *inner;
        Self::promote(&mut inner.queue, now);
        while out.len() < count {
            let id = match inner.queue.ready.pop_front() {
                Some(id) => id,
                None if inner.queue.next_fresh < self.fresh_allowed(inner.first_delivery_ns, now) => {
                    inner.queue.next_fresh += 1;
                    inner.queue.next_fresh - 1
                }
                None => break,
            };
            let rec = &mut inner.recs[id as usize];
            if rec.state == DONE {
                continue;
            }
            rec.state = DELIVERED;
            rec.poll_count += 1;
            if rec.first_ns == 0 {
                rec.first_ns = now.max(1);
                rec.start_epoch_ms = epoch_ms();
            }
            rec.last_ns = now.max(1);
            inner.first_delivery_ns.get_or_insert(now.max(1));
            out.push(self.task_json(id, rec));
        }
        out
    }

    /// How many never-delivered tasks may have been handed out by `now`.
    fn fresh_allowed(&self, first_delivery: Option<u64>, now: u64) -> u32 {
        match (self.args.release_per_s, first_delivery) {
            (0, _) => self.args.tasks,
            (_, None) => 1.min(self.args.tasks),
            (rate, Some(first)) => {
                let allowed = 1 + (now.saturating_sub(first) as u128 * rate as u128 / 1_000_000_000) as u64;
                allowed.min(self.args.tasks as u64) as u32
            }
        }
    }

    fn task_json(&self, id: u32, rec: &Rec) -> String {
        let tt = &self.args.task_type;
        let rt = self.args.response_timeout_secs;
        let input = self.input_parts.join(&id.to_string());
        let output = rec.output.as_deref().unwrap_or("{}");
        format!(
            concat!(
                r#"{{"taskId":"t-{id}","workflowInstanceId":"wf-{id}","taskType":"{tt}","taskDefName":"{tt}","#,
                r#""referenceTaskName":"{tt}_ref","workflowType":"bench","status":"IN_PROGRESS","inputData":{input},"#,
                r#""outputData":{output},"pollCount":{pc},"retryCount":0,"callbackAfterSeconds":0,"#,
                r#""responseTimeoutSeconds":{rt},"startTime":{st},"scheduledTime":{st},"#,
                r#""workflowTask":{{"name":"{tt}","taskReferenceName":"{tt}_ref","type":"SIMPLE","#,
                r#""taskDefinition":{{"name":"{tt}","responseTimeoutSeconds":{rt},"timeoutSeconds":0}}}}}}"#
            ),
            id = id,
            tt = tt,
            input = input,
            output = output,
            pc = rec.poll_count,
            rt = rt,
            st = rec.start_epoch_ms,
        )
    }

    fn queue_len(&self) -> usize {
        let inner = self.inner.lock().unwrap();
        inner.queue.ready.len() + inner.queue.delayed.len() + (self.args.tasks - inner.queue.next_fresh) as usize
    }
}

#[derive(Deserialize)]
struct PollQuery {
    count: Option<usize>,
    timeout: Option<u64>,
}

fn json_response(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

async fn poll_batch(State(fake): State<Arc<Fake>>, Path(task_type): Path<String>, Query(q): Query<PollQuery>) -> Response {
    fake.polls.fetch_add(1, Ordering::Relaxed);
    let count = q.count.unwrap_or(1).max(1);
    let timeout = Duration::from_millis(q.timeout.unwrap_or(100).min(5000));
    let deadline = tokio::time::Instant::now() + timeout;
    let ours = task_type == fake.args.task_type;
    loop {
        let notified = fake.notify.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        if ours {
            let tasks = fake.take(count);
            if !tasks.is_empty() {
                return json_response(format!("[{}]", tasks.join(",")));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            fake.empty_polls.fetch_add(1, Ordering::Relaxed);
            return json_response("[]".into());
        }
        tokio::select! {
            () = &mut notified => {}
            () = tokio::time::sleep_until(deadline) => {}
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Update<'a> {
    task_id: &'a str,
    status: &'a str,
    #[serde(default)]
    callback_after_seconds: u64,
    #[serde(borrow, default)]
    output_data: Option<&'a RawValue>,
}

/// Applies an update; `Some(true)` if terminal, `None` if the task is unknown.
fn apply(fake: &Fake, body: &[u8]) -> Result<bool, StatusCode> {
    let update: Update = serde_json::from_slice(body).map_err(|_| StatusCode::BAD_REQUEST)?;
    let id: u32 = update
        .task_id
        .strip_prefix("t-")
        .and_then(|s| s.parse().ok())
        .filter(|id| *id < fake.args.tasks)
        .ok_or(StatusCode::NOT_FOUND)?;
    let now = fake.now_ns();
    let terminal = update.status != "IN_PROGRESS";
    let valid = terminal && update.status == "COMPLETED" && {
        let e = fake.args.expect.as_bytes();
        e.is_empty() || body.windows(e.len()).any(|w| w == e)
    };
    let mut guard = fake.inner.lock().unwrap();
    let inner = &mut *guard;
    let rec = &mut inner.recs[id as usize];
    if rec.state == DONE {
        inner.duplicates += 1;
        return Ok(terminal);
    }
    if terminal {
        rec.state = DONE;
        rec.finish_ns = now;
        rec.output = None;
        inner.done += 1;
        match update.status {
            "COMPLETED" => inner.completed += 1,
            _ => inner.failed += 1,
        }
        if valid {
            inner.valid += 1;
        }
    } else {
        fake.in_progress_updates.fetch_add(1, Ordering::Relaxed);
        rec.state = QUEUED;
        rec.output = update.output_data.map(|raw| raw.get().into());
        if update.callback_after_seconds == 0 {
            inner.queue.ready.push_back(id);
            drop(guard);
            fake.notify.notify_waiters();
        } else {
            let due = now + update.callback_after_seconds * 1_000_000_000;
            inner.queue.delayed.push(Reverse((due, id)));
        }
    }
    Ok(terminal)
}

async fn update(State(fake): State<Arc<Fake>>, body: Bytes) -> Response {
    fake.updates.fetch_add(1, Ordering::Relaxed);
    match apply(&fake, &body) {
        Ok(_) => {
            let id = serde_json::from_slice::<Update>(&body).map(|u| u.task_id.to_owned()).unwrap_or_default();
            ([(header::CONTENT_TYPE, "text/plain")], id).into_response()
        }
        Err(code) => code.into_response(),
    }
}

async fn update_v2(State(fake): State<Arc<Fake>>, body: Bytes) -> Response {
    fake.updates_v2.fetch_add(1, Ordering::Relaxed);
    match apply(&fake, &body) {
        Ok(true) => match fake.take(1).pop() {
            Some(task) => json_response(task),
            None => StatusCode::NO_CONTENT.into_response(),
        },
        Ok(false) => StatusCode::NO_CONTENT.into_response(),
        Err(code) => code.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SizeQuery {
    task_type: Option<String>,
}

async fn queue_size(State(fake): State<Arc<Fake>>, Query(q): Query<SizeQuery>) -> String {
    if q.task_type.as_deref() == Some(fake.args.task_type.as_str()) { fake.queue_len().to_string() } else { "0".into() }
}

async fn task_status(State(fake): State<Arc<Fake>>, Path(task_id): Path<String>) -> Response {
    let Some(id) = task_id.strip_prefix("t-").and_then(|s| s.parse::<u32>().ok()).filter(|id| *id < fake.args.tasks)
    else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let state = fake.inner.lock().unwrap().recs[id as usize].state;
    let status = if state == DONE { "COMPLETED" } else { "IN_PROGRESS" };
    json_response(format!(r#"{{"taskId":"{task_id}","status":"{status}"}}"#))
}

fn stats_json(fake: &Fake) -> serde_json::Value {
    let inner = fake.inner.lock().unwrap();
    serde_json::json!({
        "tasks": fake.args.tasks,
        "done": inner.done,
        "completed": inner.completed,
        "failed": inner.failed,
        "valid": inner.valid,
        "duplicates": inner.duplicates,
        "fresh_delivered": inner.queue.next_fresh,
        "polls": fake.polls.load(Ordering::Relaxed),
        "empty_polls": fake.empty_polls.load(Ordering::Relaxed),
        "updates": fake.updates.load(Ordering::Relaxed),
        "updates_v2": fake.updates_v2.load(Ordering::Relaxed),
        "in_progress_updates": fake.in_progress_updates.load(Ordering::Relaxed),
        "uptime_ms": fake.started.elapsed().as_millis() as u64,
        "first_delivery_ms": inner.first_delivery_ns.map(|n| n / 1_000_000),
    })
}

async fn stats(State(fake): State<Arc<Fake>>) -> axum::Json<serde_json::Value> {
    axum::Json(stats_json(&fake))
}

#[derive(Deserialize)]
struct WindowQuery {
    warmup_ms: Option<u64>,
    window_ms: Option<u64>,
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1] as f64 / 1e6
}

/// Throughput and latency over [first delivery + warmup, + window] (clipped to the last finish).
async fn summary(State(fake): State<Arc<Fake>>, Query(q): Query<WindowQuery>) -> axum::Json<serde_json::Value> {
    let stats = stats_json(&fake);
    let inner = fake.inner.lock().unwrap();
    let t0 = inner.first_delivery_ns.unwrap_or(0);
    let start = t0 + q.warmup_ms.unwrap_or(0) * 1_000_000;
    let last_finish = inner.recs.iter().filter(|r| r.state == DONE).map(|r| r.finish_ns).max().unwrap_or(start);
    let end = q.window_ms.map(|w| start + w * 1_000_000).unwrap_or(u64::MAX).min(last_finish.max(start));
    let mut p2u = Vec::new();
    let mut e2e = Vec::new();
    for r in inner.recs.iter().filter(|r| r.state == DONE && r.finish_ns > start && r.finish_ns <= end) {
        p2u.push(r.finish_ns - r.last_ns);
        e2e.push(r.finish_ns - r.first_ns);
    }
    p2u.sort_unstable();
    e2e.sort_unstable();
    let secs = (end.saturating_sub(start)) as f64 / 1e9;
    let all_done = inner.done == fake.args.tasks;
    let total_secs = last_finish.saturating_sub(t0) as f64 / 1e9;
    axum::Json(serde_json::json!({
        "window_s": secs,
        "finished_in_window": p2u.len(),
        "tasks_per_s": if secs > 0.0 { p2u.len() as f64 / secs } else { 0.0 },
        "p50_ms": percentile(&p2u, 50.0),
        "p99_ms": percentile(&p2u, 99.0),
        "max_ms": percentile(&p2u, 100.0),
        "e2e_p50_ms": percentile(&e2e, 50.0),
        "e2e_p99_ms": percentile(&e2e, 99.0),
        "all_done": all_done,
        "total_s": total_secs,
        "stats": stats,
    }))
}

async fn token() -> StatusCode {
    StatusCode::NOT_FOUND
}

fn main() {
    let args = Args::parse();
    let workers = std::env::var("BENCH_THREADS").ok().and_then(|v| v.parse().ok()).unwrap_or(2);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(workers).enable_all().build().unwrap();
    runtime.block_on(serve(args));
}

async fn serve(args: Args) {
    let input_parts = args.input.split("{{ID}}").map(str::to_owned).collect();
    let recs = vec![Rec::default(); args.tasks as usize];
    let queue = Queue { next_fresh: 0, ready: VecDeque::new(), delayed: BinaryHeap::new() };
    let inner = Inner {
        recs,
        queue,
        first_delivery_ns: None,
        done: 0,
        completed: 0,
        failed: 0,
        valid: 0,
        duplicates: 0,
    };
    let listen = args.listen.clone();
    let port_file = args.port_file.clone();
    let fake = Arc::new(Fake {
        args,
        input_parts,
        started: Instant::now(),
        inner: Mutex::new(inner),
        notify: Notify::new(),
        polls: AtomicU64::new(0),
        empty_polls: AtomicU64::new(0),
        updates: AtomicU64::new(0),
        updates_v2: AtomicU64::new(0),
        in_progress_updates: AtomicU64::new(0),
    });
    // Re-delivery of parked tasks: promote due tasks every 2 ms and wake long polls.
    let ticker = fake.clone();
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_millis(2));
        loop {
            interval.tick().await;
            let now = ticker.now_ns();
            let moved = {
                let mut inner = ticker.inner.lock().unwrap();
                let due = inner.queue.delayed.peek().is_some_and(|Reverse((d, _))| *d <= now);
                let paced = ticker.args.release_per_s > 0 && inner.queue.next_fresh < ticker.args.tasks;
                (if due { Fake::promote(&mut inner.queue, now) } else { 0 }) + usize::from(paced)
            };
            if moved > 0 {
                ticker.notify.notify_waiters();
            }
        }
    });
    let app = Router::new()
        .route("/api/tasks/poll/batch/{task_type}", get(poll_batch))
        .route("/api/tasks", post(update))
        .route("/api/tasks/update-v2", post(update_v2))
        .route("/api/tasks/queue/size", get(queue_size))
        .route("/api/tasks/{task_id}", get(task_status))
        .route("/api/token", post(token))
        .route("/bench/stats", get(stats))
        .route("/bench/summary", get(summary))
        .with_state(fake);
    let listener = tokio::net::TcpListener::bind(&listen).await.expect("bind");
    let port = listener.local_addr().unwrap().port();
    if let Some(file) = port_file {
        std::fs::write(file, port.to_string()).unwrap();
    }
    eprintln!("fake-conductor listening on 127.0.0.1:{port}");
    axum::serve(listener, app).await.unwrap();
}
