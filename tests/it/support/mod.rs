//! Test support: the real conductor-oss server started by `scripts/test.sh` (its API root in
//! `CONDUCTOR_IT_SERVER_URL`), and what the suite adds to the harness shared with the other suites (`tests/common`):
//! the configuration every test worker gets, and the worker either in-process or as the real binary (for kill
//! tests; the process itself is `tests/common/worker_process.rs`'s).

#![allow(dead_code)]

use std::process::Stdio;
use std::time::Duration;

use conductor_http_worker::app::{self, Bound, RunEnd};
use conductor_http_worker::config::{self, LoadInputs};
use serde_json::{Value, json};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The server's API root; the suite refuses to run without one rather than skipping.
pub fn server_url() -> String {
    std::env::var("CONDUCTOR_IT_SERVER_URL").unwrap_or_else(|_| {
        panic!("CONDUCTOR_IT_SERVER_URL is not set: run the integration tests with scripts/test.sh, which starts a real conductor-oss server")
    })
}

#[path = "../../common/mod.rs"]
mod common;
pub use common::api::{Api, serve};
pub use common::worker_process::WorkerProcess;
use common::worker_process::WorkerSpec;
pub use common::{Conductor, tutorial_workflow, unique};

impl Default for Conductor {
    /// A client for the server `scripts/test.sh` started.
    fn default() -> Self {
        Conductor::at(&server_url())
    }
}

/// Registers a new task type (its TaskDef with `response_timeout_secs`, no retries) and a workflow of that one
/// task, whose reference is `reference` and whose `inputParameters` are `input`; returns (task name, workflow name).
pub async fn one_task_workflow(
    conductor: &Conductor,
    prefix: &str,
    response_timeout_secs: u64,
    reference: &str,
    input: Value,
) -> (String, String) {
    let task_name = unique(prefix);
    conductor.register_task_defs(&[Conductor::task_def(&task_name, response_timeout_secs, 0)]).await;
    let workflow_name = unique(&format!("{prefix}_wf"));
    conductor
        .put_workflow(&json!({
            "name": workflow_name, "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
            "inputParameters": ["requestId"],
            "tasks": [{"name": task_name, "taskReferenceName": reference, "type": "SIMPLE", "inputParameters": input}]
        }))
        .await;
    (task_name, workflow_name)
}

/// A task's execution log lines, waited for up to 5 s (servers index them asynchronously). conductor-oss 3.21.x
/// with SQLite serves none (no indexing backend): then `None`, and callers skip what they would check.
pub async fn execution_log(conductor: &Conductor, task_id: &str) -> Option<Vec<String>> {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let logs = conductor.task_logs(task_id).await;
        if !logs.is_empty() {
            return Some(logs);
        }
        if Instant::now() >= deadline {
            let version = std::env::var("CONDUCTOR_IT_SERVER_VERSION").unwrap_or_default();
            assert!(version.starts_with("3.21."), "conductor-server {version} serves no execution log for {task_id}");
            eprintln!("conductor-server {version} serves no execution logs; not checked");
            return None;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Starts the example API with jobs completing after `delay`.
pub async fn example_api(delay: Duration) -> Api {
    Api::start(delay, Duration::ZERO).await
}

/// A worker running inside the test's runtime.
pub struct InProcessWorker {
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<anyhow::Result<RunEnd>>,
    /// The worker id it reports with.
    pub worker_id: String,
    /// `http://127.0.0.1:PORT` of its `/metrics`, `/healthz` and `/readyz`.
    pub admin: String,
    /// `http://127.0.0.1:PORT` of its runtime control.
    pub control: String,
}

impl InProcessWorker {
    /// Stops it (SIGTERM equivalent) and returns how the drain ended.
    pub async fn stop(mut self) -> RunEnd {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        (&mut self.handle).await.expect("worker task").expect("worker run")
    }
}

impl Drop for InProcessWorker {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The bearer token of every test worker's control endpoint.
pub const CONTROL_TOKEN: &str = "it-control-token";

/// The configuration every test worker gets, plus `env`: the suite's server (unless `env` names another), ports
/// of its own (port 0: tests run in parallel), a short drain, queue depths every second, runtime control with
/// [`CONTROL_TOKEN`].
fn worker_spec(task_types: &[&str], env: &[(&str, &str)]) -> WorkerSpec {
    let own_server = env.iter().any(|(k, _)| *k == "CONDUCTOR_SERVER_URL");
    WorkerSpec::new(&if own_server { String::new() } else { server_url() }, task_types)
        .env("CONDUCTOR_HTTP_WORKER_ADMIN_ADDR", "127.0.0.1:0")
        .env("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_ADDR", "127.0.0.1:0")
        .env("CONDUCTOR_HTTP_WORKER_ADMIN_QUEUE_DEPTH_INTERVAL_SECS", "1")
        .env("CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS", "5")
        .env("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN", CONTROL_TOKEN)
        .envs(env)
}

/// Starts a worker in-process serving `task_types`, configured through an injected environment; returns once its
/// endpoints are bound.
pub async fn start_worker(task_types: &[&str], env: &[(&str, &str)]) -> InProcessWorker {
    let worker_id = unique("it-worker");
    let env = worker_spec(task_types, env).vars();
    let inputs = LoadInputs { env, default_worker_id: worker_id.clone(), ..LoadInputs::default() };
    let loaded = config::load(&inputs).unwrap_or_else(|e| panic!("{e}"));
    let (stop, stopped) = oneshot::channel();
    let (bound_tx, bound_rx) = oneshot::channel::<Bound>();
    let stop_signal = async move {
        let _ = stopped.await;
    };
    let report_bound = move |bound| {
        let _ = bound_tx.send(bound);
    };
    let mut handle = tokio::spawn(app::run_reporting(loaded.config, stop_signal, report_bound));
    let bound = match bound_rx.await {
        Ok(bound) => bound,
        Err(_) => panic!("the worker did not start: {:?}", (&mut handle).await),
    };
    let url = |addr: Option<std::net::SocketAddr>| addr.map(|a| format!("http://{a}")).unwrap_or_default();
    InProcessWorker { stop: Some(stop), handle, worker_id, admin: url(bound.admin), control: url(bound.control) }
}

/// The suite's ways to start the worker binary as a child process (for SIGKILL and SIGTERM tests).
impl WorkerProcess {
    /// Starts `conductor-http-worker` serving `task_types`; its worker id is `<hostname>-<pid>`.
    pub fn start(task_types: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_with_stderr(task_types, env, &[("RUST_LOG", "info")], Stdio::inherit())
    }

    /// Starts it with extra environment (after the defaults) and its stderr (the logs) sent to `stderr`.
    pub fn start_with_stderr(task_types: &[&str], env: &[(&str, &str)], extra: &[(&str, &str)], stderr: Stdio) -> Self {
        Self::spawn(&worker_spec(task_types, env).envs(extra), stderr)
    }
}
