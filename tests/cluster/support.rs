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

#[path = "../common/mod.rs"]
mod common;
pub use common::{Conductor, tutorial_workflow, unique};

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
        Conductor::at(&self.node_url(node))
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
    conductor.put_workflow(&tutorial_workflow(&name, INVOKE, poll_task, &api.base, interval)).await;
    name
}

/// Checks that the TaskDefs the cluster registered are there (scripts/cluster.sh up) and returns them by name.
pub async fn task_defs(cluster: &Cluster) -> BTreeMap<String, Value> {
    let mut defs = BTreeMap::new();
    for name in [INVOKE, POLL_HOLD, POLL_PARK] {
        for node in [1, 2] {
            let def =
                cluster.node(node).registered_task_def(name).await.unwrap_or_else(|| panic!("TaskDef {name} missing"));
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
