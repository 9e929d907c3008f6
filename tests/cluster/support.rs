//! Test support for the cluster tests: the cluster started by `scripts/cluster.sh` (read from its env file), its
//! lifecycle commands, a REST client per conductor node, the example API in-process (with a slow invoke response to
//! widen the crash window), the tutorial-pattern workflow, and Prometheus scrapes of the replicas.

#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::Request;
use axum::middleware::Next;
use example_api::ExampleApi;
use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

/// The task types the replicas serve (scripts/cluster.sh): one-call tasks, polls held in the worker between
/// requests, and polls parked on the server between requests (park_threshold_secs = 0).
pub const INVOKE: &str = "cluster_invoke";
/// Held between polls.
pub const POLL_HOLD: &str = "cluster_poll";
/// Parked on the server between polls: any replica continues it.
pub const POLL_PARK: &str = "cluster_poll_park";

/// Epoch milliseconds.
pub fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

/// A name no earlier run against the same cluster used.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}_{}_{:08x}", std::process::id(), fastrand::u32(..))
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// One worker replica as the env file describes it.
#[derive(Debug, Clone)]
pub struct Replica {
    /// 1-based slot number (`scripts/cluster.sh replica ... I`).
    pub index: usize,
    /// The worker id it reports with (`replica-I.gG`, G = its generation).
    pub worker_id: String,
    /// `http://127.0.0.1:PORT` of /metrics, /healthz, /readyz.
    pub admin: String,
    /// `http://127.0.0.1:PORT` of the runtime control API.
    pub control: String,
    /// The conductor node (1 or 2) it talks to.
    pub node: usize,
    /// Its process id.
    pub pid: String,
}

/// The cluster, read from `target/cluster/cluster.env` (or `$CLUSTER_ENV`).
#[derive(Debug, Clone)]
pub struct Cluster {
    vars: HashMap<String, String>,
}

impl Cluster {
    fn env_path() -> PathBuf {
        std::env::var("CLUSTER_ENV").map(PathBuf::from).unwrap_or_else(|_| repo().join("target/cluster/cluster.env"))
    }

    /// Reads the env file; the suite refuses to run without a cluster rather than skipping.
    pub fn load() -> Self {
        let path = Self::env_path();
        let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}: run the cluster tests with scripts/test-cluster.sh (it starts the cluster)",
                path.display()
            )
        });
        let vars = text
            .lines()
            .filter_map(|line| line.split_once('='))
            .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
            .collect();
        Self { vars }
    }

    /// Starts whatever is not running (a failed earlier test may have left a replica or node down), resumes every
    /// task type on every replica, and reads the env file again.
    pub async fn ready() -> Self {
        run_cluster_sh(&["heal"]).await.expect("scripts/cluster.sh heal");
        let cluster = Self::load();
        for replica in cluster.replicas() {
            for task_type in [INVOKE, POLL_HOLD, POLL_PARK] {
                cluster.set_paused(&replica, task_type, false).await;
            }
        }
        cluster
    }

    /// A value of the env file.
    pub fn var(&self, key: &str) -> &str {
        self.vars.get(key).map(String::as_str).unwrap_or_else(|| panic!("{key} missing from the cluster env file"))
    }

    /// The conductor server version the cluster runs.
    pub fn version(&self) -> &str {
        self.var("CLUSTER_VERSION")
    }

    /// The API root of node 1 or 2.
    pub fn node_url(&self, node: usize) -> String {
        self.var(&format!("NODE{node}_URL")).to_owned()
    }

    /// A client for node 1 or 2.
    pub fn node(&self, node: usize) -> Conductor {
        Conductor::new(self.node_url(node))
    }

    /// The TaskDefs' responseTimeoutSeconds (scripts/cluster.sh registers them).
    pub fn response_timeout(&self) -> Duration {
        Duration::from_secs(self.var("TASKDEF_RESPONSE_TIMEOUT_SECS").parse().expect("a number"))
    }

    /// Every replica.
    pub fn replicas(&self) -> Vec<Replica> {
        let count: usize = self.var("REPLICAS").parse().expect("REPLICAS is a number");
        (1..=count).map(|i| self.replica(i)).collect()
    }

    /// Replica `i` (1-based).
    pub fn replica(&self, i: usize) -> Replica {
        Replica {
            index: i,
            worker_id: self.var(&format!("WORKER_ID_{i}")).to_owned(),
            admin: self.var(&format!("WORKER_ADMIN_{i}")).to_owned(),
            control: self.var(&format!("WORKER_CONTROL_{i}")).to_owned(),
            node: self.var(&format!("WORKER_NODE_{i}")).parse().expect("a node number"),
            pid: self.var(&format!("WORKER_PID_{i}")).to_owned(),
        }
    }

    /// Pauses or resumes polling of one task type on one replica (its runtime control API).
    pub async fn set_paused(&self, replica: &Replica, task_type: &str, paused: bool) {
        let action = if paused { "pause" } else { "resume" };
        let url = format!("{}/task-types/{task_type}/{action}", replica.control);
        // The token scripts/cluster.sh gives every replica.
        let request = reqwest::Client::new().post(&url).bearer_auth("cluster-control-token");
        let response = request.send().await.unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(response.status().is_success(), "{url}: {}", response.status());
    }

    /// `/metrics` of a replica.
    pub async fn scrape(&self, replica: &Replica) -> Metrics {
        let url = format!("{}/metrics", replica.admin);
        let text = reqwest::get(&url).await.unwrap_or_else(|e| panic!("{url}: {e}")).text().await.expect("metrics");
        Metrics(text)
    }
}

/// Runs `scripts/cluster.sh ARGS` off the async runtime; returns its exit code (stderr goes to the test output).
pub async fn run_cluster_sh(args: &[&str]) -> Result<i32, String> {
    let args: Vec<String> = args.iter().map(|s| (*s).to_owned()).collect();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new(repo().join("scripts/cluster.sh"))
            .args(&args)
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("scripts/cluster.sh {args:?}: {e}"))?;
        let stdout = String::from_utf8_lossy(&output.stdout);
        eprint!("{stdout}");
        match output.status.code() {
            Some(code) => Ok(code),
            None => Err(format!("scripts/cluster.sh {args:?} was killed")),
        }
    })
    .await
    .expect("the blocking task")
}

/// A Prometheus text scrape.
#[derive(Debug, Clone)]
pub struct Metrics(pub String);

impl Metrics {
    /// The sum of every sample of `name` whose labels include all of `labels` (`key="value"` pairs).
    pub fn sum(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.0
            .lines()
            .filter(|line| !line.starts_with('#'))
            .filter_map(|line| {
                let (series, value) = line.rsplit_once(' ')?;
                let (metric, rest) = series.split_once('{').unwrap_or((series, "}"));
                if metric != name {
                    return None;
                }
                let all = labels.iter().all(|(k, v)| rest.contains(&format!("{k}=\"{v}\"")));
                all.then(|| value.parse::<f64>().ok()).flatten()
            })
            .sum()
    }
}

/// REST calls to one conductor node.
#[derive(Debug, Clone)]
pub struct Conductor {
    http: reqwest::Client,
    /// `http://127.0.0.1:PORT/api`.
    pub base: String,
}

impl Conductor {
    /// A client for the API root `base`.
    pub fn new(base: String) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        Self { http, base }
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> String {
        // A node under load may answer slowly or reset a connection: retry transport errors a few times.
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

    /// Creates or replaces a workflow definition.
    pub async fn put_workflow(&self, def: &Value) {
        self.send(self.http.put(format!("{}/metadata/workflow", self.base)).json(&[def])).await;
    }

    /// A TaskDef, or None.
    pub async fn task_def(&self, name: &str) -> Option<Value> {
        let response = self.http.get(format!("{}/metadata/taskdefs/{name}", self.base)).send().await.ok()?;
        if !response.status().is_success() {
            return None;
        }
        serde_json::from_str(&response.text().await.ok()?).ok()
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

    /// The last task with this reference name.
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

/// Starts `count` workflows, spread over `nodes` in turn, at most `rate_per_sec` a second (0 = as fast as 8
/// concurrent requests go); returns (workflow id, request id) in start order.
pub async fn start_many(
    cluster: &Cluster,
    nodes: &[usize],
    workflow: &str,
    count: usize,
    rate_per_sec: f64,
    prefix: &str,
) -> Vec<(String, String)> {
    let limit = Arc::new(Semaphore::new(8));
    let mut set = JoinSet::new();
    let started = Instant::now();
    for n in 0..count {
        if rate_per_sec > 0.0 {
            tokio::time::sleep_until(started + Duration::from_secs_f64(n as f64 / rate_per_sec)).await;
        }
        let client = cluster.node(nodes[n % nodes.len()]);
        let (workflow, request_id, limit) = (workflow.to_owned(), format!("{prefix}-{n:04}"), limit.clone());
        let permit = limit.acquire_owned().await.expect("semaphore");
        set.spawn(async move {
            let _permit = permit;
            let id = client.start(&workflow, json!({"requestId": request_id})).await;
            (n, id, request_id)
        });
    }
    let mut out: Vec<(usize, String, String)> = set.join_all().await;
    out.sort_by_key(|(n, _, _)| *n);
    out.into_iter().map(|(_, id, request_id)| (id, request_id)).collect()
}

/// The example API in-process. Invocations are counted when they arrive; the invoke response is then held back
/// for `invoke_response_delay`, so a replica killed in that window has invoked without learning it did (the crash
/// window). Served on its own runtime thread pool so that nothing the test does can stall it.
pub struct Api {
    /// Its state (invocation and poll counters).
    pub api: ExampleApi,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Api {
    /// Starts it with jobs completing `job` after their first invocation.
    pub async fn start(job: Duration, invoke_response_delay: Duration) -> Self {
        let api = ExampleApi::new(job);
        let delay_invokes = move |request: Request, next: Next| async move {
            let invoke = request.uri().path() == "/invoke-lambda";
            let response = next.run(request).await;
            if invoke && !invoke_response_delay.is_zero() {
                tokio::time::sleep(invoke_response_delay).await;
            }
            response
        };
        let router = api.router().layer(axum::middleware::from_fn(delay_invokes));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the example API");
        let addr: SocketAddr = listener.local_addr().expect("address");
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { api, base: format!("http://{addr}") }
    }
}

/// Registers the tutorial pattern under custom task names: an invoke step (`POST /invoke-lambda`, answered 202)
/// and a poll step (`GET /{requestId}` until `body.body.status == "COMPLETED"`), both run by the replicas. Returns
/// the workflow name.
pub async fn register_tutorial_workflow(conductor: &Conductor, api: &Api, poll_task: &str, interval: &str) -> String {
    let name = unique(&format!("cluster_{poll_task}"));
    conductor
        .put_workflow(&json!({
            "name": name, "version": 1, "schemaVersion": 2, "ownerEmail": "cluster@example.com",
            "inputParameters": ["requestId"],
            "tasks": [
                {"name": INVOKE, "taskReferenceName": "invoke", "type": "SIMPLE", "inputParameters": {"http_request": {
                    "uri": format!("{}/invoke-lambda", api.base), "method": "POST",
                    "headers": {"Content-Type": "application/json", "X-Amz-Invocation-Type": "Event"},
                    "body": {"requestId": "${workflow.input.requestId}"}}}},
                {"name": poll_task, "taskReferenceName": "poll", "type": "SIMPLE", "inputParameters": {"http_request": {
                    "uri": format!("{}/${{workflow.input.requestId}}", api.base), "method": "GET",
                    "terminationCondition": "(function(){ return $.output.response.statusCode == 200 && $.output.response.body.body.status == \"COMPLETED\";})();",
                    "pollingInterval": interval, "pollingStrategy": "FIXED"}}}
            ],
            "outputParameters": {"invoked": "${invoke.output.response.body}", "final": "${poll.output.response.body.body}"}
        }))
        .await;
    name
}

/// Checks that the TaskDefs the cluster registered are there (scripts/cluster.sh up) and returns them by name.
pub async fn task_defs(cluster: &Cluster) -> BTreeMap<String, Value> {
    let mut defs = BTreeMap::new();
    for name in [INVOKE, POLL_HOLD, POLL_PARK] {
        for node in [1, 2] {
            let def = cluster.node(node).task_def(name).await.unwrap_or_else(|| panic!("TaskDef {name} missing"));
            assert_eq!(def["responseTimeoutSeconds"].as_u64(), Some(cluster.response_timeout().as_secs()));
            defs.insert(name.to_owned(), def);
        }
    }
    defs
}

/// What the example API saw for one request, checked against the workflow: one invocation, the poll task's
/// reported pollCount equal to the polls the API counted (no poll made by an execution whose result was lost or
/// overwritten), and no two polls closer than the interval minus `slack` (no two executions at once).
pub fn check_one_execution_at_a_time(
    api: &Api,
    request_id: &str,
    workflow: &Value,
    interval: Duration,
    slack: Duration,
) {
    let stats = api.api.stats(request_id);
    assert_eq!(stats.invocations, 1, "{request_id}: invoked once: {stats:?}");
    let poll = Conductor::task(workflow, "poll");
    assert_eq!(poll["outputData"]["pollCount"], stats.polls, "{request_id}: pollCount vs the API's count: {stats:?}");
    let min_gap = interval.saturating_sub(slack).as_millis() as u64;
    for gap in stats.poll_times_ms.windows(2).map(|w| w[1] - w[0]) {
        assert!(gap >= min_gap, "{request_id}: two polls {gap} ms apart (interval {interval:?}): {stats:?}");
    }
}
