//! What every test binary that drives a real Conductor shares (`tests/it`, `tests/faults`, `tests/cluster`, and the
//! fleet example): here the REST client for metadata and workflows, unique names, and the tutorial's two-step
//! workflow under custom task names; in the submodules the one harness for the processes the tests run:
//!
//! - [`worker_process`]: the worker binary as a child process (its environment, SIGTERM, SIGKILL, the exit);
//! - [`replica`]: a slot a worker runs in across restarts (ports, worker ids `NAME.gG`, log, readiness, metrics,
//!   runtime control);
//! - [`server`]: a conductor-oss server a suite kills and restarts (through `scripts/conductor-server.sh`);
//! - [`api`]: the example API and other targets served in the test process;
//! - [`cluster`]: the infrastructure `scripts/cluster.sh` runs (PostgreSQL, Redis, two nodes), read from its env file;
//! - [`fleet`]: the cluster's worker replicas spread over its nodes, and their TaskDefs.
//!
//! Included with `#[path]`; each binary uses part of it.

#![allow(dead_code)]

pub mod api;
pub mod cluster;
pub mod fleet;
pub mod replica;
pub mod server;
pub mod worker_process;

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// A name no other test (or earlier run against the same server) uses.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{:08x}", std::process::id(), fastrand::u32(..))
}

/// The tutorial's `terminationCondition`: the status call answered 200 and the job is done.
pub const TUTORIAL_CONDITION: &str = "(function(){ return $.output.response.statusCode == 200 && $.output.response.body.body.status == \"COMPLETED\";})();";

/// The tutorial's pattern with both steps run by this worker under custom task names (how it is used on Orkes):
/// an invoke step (`POST {api}/invoke-lambda`, answered 202) and a poll step (`GET {api}/{requestId}` every
/// `interval` seconds until [`TUTORIAL_CONDITION`]).
pub fn tutorial_workflow(name: &str, invoke_task: &str, poll_task: &str, api: &str, interval: &str) -> Value {
    json!({
        "name": name, "version": 1, "schemaVersion": 2, "ownerEmail": "tests@example.com",
        "inputParameters": ["requestId"],
        "tasks": [
            {"name": invoke_task, "taskReferenceName": "invoke", "type": "SIMPLE", "inputParameters": {"http_request": {
                "uri": format!("{api}/invoke-lambda"), "method": "POST",
                "headers": {"Content-Type": "application/json", "X-Amz-Invocation-Type": "Event"},
                "body": {"requestId": "${workflow.input.requestId}"}}}},
            {"name": poll_task, "taskReferenceName": "poll", "type": "SIMPLE", "inputParameters": {"http_request": {
                "uri": format!("{api}/${{workflow.input.requestId}}"), "method": "GET",
                "terminationCondition": TUTORIAL_CONDITION,
                "pollingInterval": interval, "pollingStrategy": "FIXED"}}}
        ],
        "outputParameters": {"invoked": "${invoke.output.response.body}", "final": "${poll.output.response.body.body}"}
    })
}

/// REST calls the tests make to one Conductor server (or cluster node).
#[derive(Debug, Clone)]
pub struct Conductor {
    http: reqwest::Client,
    /// Its API root, `http://127.0.0.1:PORT/api`.
    pub base: String,
}

impl Conductor {
    /// A client for the server at `base` (its API root).
    pub fn at(base: &str) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        Self { http, base: base.to_owned() }
    }

    /// Sends and asserts a 2xx; a server under load may answer slowly or reset a connection, so transport errors
    /// are retried a few times.
    async fn send(&self, request: reqwest::RequestBuilder) -> String {
        let mut last = String::new();
        for attempt in 0..5 {
            let Some(request) = request.try_clone() else { break };
            match request.send().await {
                Ok(response) => {
                    let status = response.status();
                    let body = response.text().await.unwrap_or_default();
                    assert!(status.is_success(), "{} answered {status}: {body}", self.base);
                    return body;
                }
                Err(e) => {
                    last = e.to_string();
                    tokio::time::sleep(Duration::from_millis(200 * (attempt + 1))).await;
                }
            }
        }
        panic!("{} unreachable: {last}", self.base)
    }

    /// Registers (upserts) task definitions.
    pub async fn register_task_defs(&self, defs: &[Value]) {
        self.send(self.http.post(format!("{}/metadata/taskdefs", self.base)).json(defs)).await;
    }

    /// A task definition suitable for this worker's tasks.
    pub fn task_def(name: &str, response_timeout_secs: u64, retry_count: u32) -> Value {
        json!({"name": name, "ownerEmail": "it@example.com", "retryCount": retry_count, "retryLogic": "FIXED",
               "retryDelaySeconds": 0, "timeoutSeconds": 600, "timeoutPolicy": "TIME_OUT_WF",
               "responseTimeoutSeconds": response_timeout_secs})
    }

    /// The registered TaskDef, or `None`.
    pub async fn registered_task_def(&self, name: &str) -> Option<Value> {
        let response = self.http.get(format!("{}/metadata/taskdefs/{name}", self.base)).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        serde_json::from_str(&response.text().await.ok()?).ok()
    }

    /// Creates or replaces a workflow definition (PUT takes a list on every server version).
    pub async fn put_workflow(&self, def: &Value) {
        self.send(self.http.put(format!("{}/metadata/workflow", self.base)).json(&[def])).await;
    }

    /// Starts a workflow; returns its id.
    pub async fn start(&self, name: &str, input: Value) -> String {
        self.send(self.http.post(format!("{}/workflow/{name}", self.base)).json(&input)).await
    }

    /// The workflow with its tasks.
    pub async fn workflow(&self, id: &str) -> Value {
        let body = self.send(self.http.get(format!("{}/workflow/{id}?includeTasks=true", self.base))).await;
        serde_json::from_str(&body).expect("workflow JSON")
    }

    /// The workflow with its tasks, or `None` when the server does not answer (it may be down).
    pub async fn try_workflow(&self, id: &str) -> Option<Value> {
        let response = self.http.get(format!("{}/workflow/{id}?includeTasks=true", self.base)).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        response.json().await.ok()
    }

    /// Waits until the workflow is no longer RUNNING; panics with its state after `timeout`.
    pub async fn wait_terminal(&self, id: &str, timeout: Duration) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let workflow = self.workflow(id).await;
            if workflow["status"] != "RUNNING" && workflow["status"] != "PAUSED" {
                return workflow;
            }
            assert!(Instant::now() < deadline, "workflow {id} still running after {timeout:?}: {workflow:#}");
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Completes a task from outside, as a webhook or another system does (`POST /tasks/{workflowId}/{ref}/{status}`).
    pub async fn complete_task(&self, workflow_id: &str, reference: &str, output: &Value) {
        let url = format!("{}/tasks/{workflow_id}/{reference}/COMPLETED", self.base);
        self.send(self.http.post(url).json(output)).await;
    }

    /// Terminates a running workflow.
    pub async fn terminate(&self, id: &str, reason: &str) {
        let reason: String = url::form_urlencoded::byte_serialize(reason.as_bytes()).collect();
        self.send(self.http.delete(format!("{}/workflow/{id}?reason={reason}", self.base))).await;
    }

    /// The execution log lines of a task.
    pub async fn task_logs(&self, task_id: &str) -> Vec<String> {
        let body = self.send(self.http.get(format!("{}/tasks/{task_id}/log", self.base))).await;
        let entries: Vec<Value> = serde_json::from_str(&body).unwrap_or_default();
        entries.iter().filter_map(|e| e["log"].as_str().map(str::to_owned)).collect()
    }

    /// Ids of the workflows of this definition still running.
    pub async fn running(&self, name: &str) -> Vec<String> {
        let body = self.send(self.http.get(format!("{}/workflow/running/{name}?version=1", self.base))).await;
        serde_json::from_str(&body).expect("a JSON list of ids")
    }

    /// Waits until no workflow of `names` is running; panics with the stragglers after `timeout`. Prints progress.
    pub async fn wait_all_done(&self, names: &[&str], timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut last_print = Instant::now();
        loop {
            let mut running = Vec::new();
            for name in names {
                running.extend(self.running(name).await);
            }
            if running.is_empty() {
                return;
            }
            if last_print.elapsed() > Duration::from_secs(10) {
                eprintln!("  {} workflows still running", running.len());
                last_print = Instant::now();
            }
            if Instant::now() >= deadline {
                let sample = self.workflow(&running[0]).await;
                panic!("{} workflows still running after {timeout:?}, e.g. {sample:#}", running.len());
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Fetches many workflows, a few at a time.
    pub async fn workflows(&self, ids: &[String]) -> Vec<Value> {
        let limit = Arc::new(Semaphore::new(8));
        let mut set = JoinSet::new();
        for (n, id) in ids.iter().enumerate() {
            let (client, id, limit) = (self.clone(), id.clone(), limit.clone());
            set.spawn(async move {
                let _permit = limit.acquire_owned().await.expect("semaphore");
                (n, client.workflow(&id).await)
            });
        }
        let mut out: Vec<(usize, Value)> = set.join_all().await;
        out.sort_by_key(|(n, _)| *n);
        out.into_iter().map(|(_, w)| w).collect()
    }

    /// The last task of a workflow with this reference name.
    pub fn task<'a>(workflow: &'a Value, reference: &str) -> &'a Value {
        workflow["tasks"]
            .as_array()
            .and_then(|tasks| tasks.iter().rev().find(|t| t["referenceTaskName"] == reference))
            .unwrap_or_else(|| panic!("no task {reference} in {workflow:#}"))
    }

    /// Every attempt of the task with this reference name (retries included), oldest first.
    pub fn attempts<'a>(workflow: &'a Value, reference: &str) -> Vec<&'a Value> {
        workflow["tasks"]
            .as_array()
            .map(|tasks| tasks.iter().filter(|t| t["referenceTaskName"] == reference).collect())
            .unwrap_or_default()
    }
}
