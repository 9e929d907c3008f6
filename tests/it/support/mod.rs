//! Test support: the real conductor-oss server started by `scripts/test.sh` (its API root in
//! `CONDUCTOR_IT_SERVER_URL`), the REST client shared with the other suites (`tests/common`), the example API in-process, and the
//! worker either in-process or as the real binary (for kill tests).

#![allow(dead_code)]

use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use conductor_http_worker::app::{self, Bound, RunEnd};
use conductor_http_worker::config::{self, LoadInputs};
use example_api::ExampleApi;
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
#[allow(unused_imports)] // tests/faults includes this module and uses part of it
pub use common::{Conductor, tutorial_workflow, unique};

impl Default for Conductor {
    /// A client for the server `scripts/test.sh` started.
    fn default() -> Self {
        Conductor::at(&server_url())
    }
}

/// Serves `router` on a free loopback port in the background; returns `http://127.0.0.1:PORT`.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
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

/// The example API, in-process on a free port.
pub struct Api {
    /// Its state (invocation and poll counters).
    pub api: ExampleApi,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Api {
    /// Starts a job the way the tutorial's HTTP step does.
    pub async fn invoke(&self, request_id: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/invoke-lambda", self.base))
            .json(&json!({"requestId": request_id}))
            .send()
            .await
            .expect("example API reachable");
        assert_eq!(response.status(), 202);
    }
}

/// Starts the example API with jobs completing after `delay`.
pub async fn example_api(delay: Duration) -> Api {
    let api = ExampleApi::new(delay);
    let (addr, _) = api.spawn("127.0.0.1:0".parse().unwrap()).await.expect("bind the example API");
    Api { api, base: format!("http://{addr}") }
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

/// The worker binary that child-process workers and every evaluator run: this build's, or the one named by
/// `CONDUCTOR_IT_WORKER_BIN` (a release build, to measure memory: BENCHMARKS.md).
fn worker_program() -> String {
    std::env::var("CONDUCTOR_IT_WORKER_BIN")
        .ok()
        .filter(|path| !path.is_empty())
        .unwrap_or_else(|| env!("CARGO_BIN_EXE_conductor-http-worker").to_owned())
}

/// The configuration environment every test worker gets, plus `env`.
fn worker_env(task_types: &[&str], env: &[(&str, &str)]) -> HashMap<String, String> {
    let own_server = env.iter().any(|(k, _)| *k == "CONDUCTOR_SERVER_URL");
    let mut vars: HashMap<String, String> = [
        ("CONDUCTOR_SERVER_URL", if own_server { String::new() } else { server_url() }),
        ("CONDUCTOR_HTTP_WORKER_TASK_TYPES", task_types.join(",")),
        // Port 0: tests run in parallel, each worker gets its own ports.
        ("CONDUCTOR_HTTP_WORKER_ADMIN_ADDR", "127.0.0.1:0".into()),
        ("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_ADDR", "127.0.0.1:0".into()),
        ("CONDUCTOR_HTTP_WORKER_ADMIN_QUEUE_DEPTH_INTERVAL_SECS", "1".into()),
        ("CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS", "5".into()),
        // Targets (the example API, fake servers) listen on loopback: opt in.
        ("CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_LOOPBACK", "true".into()),
        ("CONDUCTOR_HTTP_WORKER_ADMIN_CONTROL_TOKEN", CONTROL_TOKEN.into()),
        // In-process workers run inside this test binary: their evaluator processes are the real binary.
        ("CONDUCTOR_HTTP_WORKER_CONDITIONS_EVALUATOR_PROGRAM", worker_program()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    vars.extend(env.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    vars
}

/// Starts a worker in-process serving `task_types`, configured through an injected environment; returns once its
/// endpoints are bound.
pub async fn start_worker(task_types: &[&str], env: &[(&str, &str)]) -> InProcessWorker {
    let worker_id = unique("it-worker");
    let inputs =
        LoadInputs { env: worker_env(task_types, env), default_worker_id: worker_id.clone(), ..LoadInputs::default() };
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

/// The worker binary as a child process (for SIGKILL and SIGTERM tests).
pub struct WorkerProcess {
    child: Child,
}

impl WorkerProcess {
    /// Starts `conductor-http-worker` serving `task_types`; its worker id is `<hostname>-<pid>`.
    pub fn start(task_types: &[&str], env: &[(&str, &str)]) -> Self {
        Self::start_with_stderr(task_types, env, &[("RUST_LOG", "info")], Stdio::inherit())
    }

    /// Starts it with extra environment (after the defaults) and its stderr (the logs) sent to `stderr`.
    pub fn start_with_stderr(task_types: &[&str], env: &[(&str, &str)], extra: &[(&str, &str)], stderr: Stdio) -> Self {
        let mut command = Command::new(worker_program());
        let mut vars = worker_env(task_types, env);
        vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
        command.env_clear().envs(vars);
        if let Ok(path) = std::env::var("PATH") {
            command.env("PATH", path);
        }
        let child = command.stdout(Stdio::null()).stderr(stderr).spawn().expect("start the worker binary");
        Self { child }
    }

    /// The process id (part of its default worker id).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL: no shutdown, no final update.
    pub fn kill(mut self) {
        self.child.kill().expect("kill the worker");
        let _ = self.child.wait();
    }

    /// SIGTERM, then waits up to `patience` for the exit; returns the exit code (None: killed by a signal) and
    /// how long the exit took. Panics if it is still running after `patience`.
    pub async fn terminate(mut self, patience: Duration) -> (Option<i32>, Duration) {
        let status = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().expect("run kill");
        assert!(status.success(), "kill -TERM failed");
        let started = Instant::now();
        loop {
            if let Some(exit) = self.child.try_wait().expect("wait for the worker") {
                return (exit.code(), started.elapsed());
            }
            assert!(started.elapsed() < patience, "the worker did not exit within {patience:?} of SIGTERM");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
