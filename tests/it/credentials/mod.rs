//! Credential profiles through the real conductor-oss server: a worker binary with `[targets.*]` profiles in its
//! configuration file runs single-call and polling tasks against targets that demand a header from a file (rotated
//! mid-run), HTTP Basic, OAuth2 tokens (RFC 6749 client credentials) and client certificates; a profile named for
//! the wrong host is refused and a redirect to another host carries nothing. Every test ends by searching
//! everything the worker wrote (its debug log, the task outputs read back from the server, `/metrics`) for each
//! secret, and finds none.

mod basic;
mod oauth;
mod tls;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{Conductor, WorkerProcess, one_task_workflow, unique};

/// A worker process serving one single-call task type whose request comes from the workflow input (`uri`,
/// `credentials`, and for polls `condition` and `interval`), with `profiles` in its configuration file.
pub struct Fixture {
    pub conductor: Conductor,
    workflow: String,
    worker: Option<WorkerProcess>,
    log: PathBuf,
    admin: String,
    /// The configuration, the secret files and the log; removed with the fixture.
    _dir: tempfile::TempDir,
}

impl Fixture {
    /// Writes `profiles` (TOML, where `{dir}` stands for the fixture's temp dir) as the configuration and starts the
    /// worker with `env` added.
    pub async fn start(prefix: &str, profiles: &str, dir: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        let conductor = Conductor::default();
        let input = json!({"http_request": {
            "uri": "${workflow.input.uri}", "method": "GET", "credentials": "${workflow.input.credentials}",
            "terminationCondition": "${workflow.input.condition}", "pollingInterval": "${workflow.input.interval}"}});
        let (task, workflow) = one_task_workflow(&conductor, prefix, 60, "call", input).await;
        let config = dir.path().join("worker.toml");
        std::fs::write(&config, profiles.replace("{dir}", &dir.path().to_string_lossy())).unwrap();
        let log = dir.path().join("worker.log");
        let port = free_port();
        let admin = format!("127.0.0.1:{port}");
        let mut vars = vec![
            ("CONDUCTOR_HTTP_WORKER_CONFIG", config.to_str().unwrap()),
            ("CONDUCTOR_HTTP_WORKER_ADMIN_ADDR", admin.as_str()),
        ];
        vars.extend_from_slice(env);
        let stderr = Stdio::from(std::fs::File::create(&log).unwrap());
        let worker = WorkerProcess::start_with_stderr(&[&task], &vars, &[("RUST_LOG", "debug")], stderr);
        let fixture =
            Self { conductor, workflow, worker: Some(worker), log, admin: format!("http://{admin}"), _dir: dir };
        fixture.wait_ready().await;
        fixture
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let ready = reqwest::get(format!("{}/readyz", self.admin)).await.is_ok_and(|r| r.status().is_success());
            if ready {
                return;
            }
            assert!(Instant::now() < deadline, "the worker did not get ready; its log:\n{}", self.log_text());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Runs one workflow with `input` (`uri`, and optionally `credentials`, `condition` and `interval`); returns its
    /// task.
    pub async fn call(&self, input: Value) -> Value {
        let id = self.conductor.start(&self.workflow, input).await;
        let done = self.conductor.wait_terminal(&id, Duration::from_secs(45)).await;
        Conductor::task(&done, "call").clone()
    }

    /// The worker's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `/metrics` now.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("{}/metrics", self.admin)).await.unwrap().text().await.unwrap()
    }

    /// Searches the worker's log, `/metrics` and `tasks` (as read back from the server) for each secret; stops the
    /// worker first (SIGTERM), so that its last log lines are in.
    pub async fn assert_no_secret(&mut self, secrets: &[&str], tasks: &[&Value]) {
        let metrics = self.metrics().await;
        if let Some(worker) = self.worker.take() {
            let (code, _) = worker.terminate(Duration::from_secs(15)).await;
            assert_eq!(code, Some(0), "the worker's log:\n{}", self.log_text());
        }
        let log = self.log_text();
        assert!(log.lines().count() > 5, "the worker logged at debug level: {log}");
        let outputs = serde_json::to_string(tasks).unwrap();
        for secret in secrets {
            for (what, text) in [("log", &log), ("/metrics", &metrics), ("task output", &outputs)] {
                assert!(!text.contains(secret), "secret {secret:?} found in the worker's {what}:\n{text}");
            }
        }
    }
}

/// A free loopback port (bound and released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Writes `text` to `path` the way a Kubernetes Secret mount changes: a new file moved over the old name.
pub fn rotate(path: &Path, text: &str) {
    let next = path.with_extension("next");
    std::fs::write(&next, text).unwrap();
    std::fs::rename(&next, path).unwrap();
}

/// The status and reason of a task.
pub fn status_and_reason(task: &Value) -> (String, String) {
    let status = task["status"].as_str().unwrap_or_default().to_owned();
    (status, task["reasonForIncompletion"].as_str().unwrap_or_default().to_owned())
}

/// A unique temp dir for one test.
pub fn temp_dir() -> tempfile::TempDir {
    tempfile::Builder::new().prefix(&unique("chw-cred")).tempdir().unwrap()
}
