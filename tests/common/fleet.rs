//! The cluster's worker replicas: N [`Replica`]s spread over the two nodes of [`Cluster`] (replica I talks to node
//! ((I+1) mod 2) + 1: odd replicas to node 1, even ones to node 2), serving three task types, and the TaskDefs those
//! task types need. Replica I keeps its directory `CLUSTER_DATA/replica-I` (log, start count) and its worker ids
//! `replica-I.gG` for the cluster's life. Used by `tests/cluster` (a fleet per test) and the fleet example (the
//! scale-out benchmark's replicas).

use std::time::Duration;

use futures_util::future::join_all;
use serde_json::json;

use super::Conductor;
use super::cluster::Cluster;
use super::replica::Replica;
use super::worker_process::WorkerSpec;

/// One-call tasks.
pub const INVOKE: &str = "cluster_invoke";
/// Polls held in the replica between requests.
pub const POLL_HOLD: &str = "cluster_poll";
/// Polls parked on the server between requests (`park_threshold_secs = 0`): any replica continues them.
pub const POLL_PARK: &str = "cluster_poll_park";
/// Every task type the replicas serve.
pub const TASK_TYPES: [&str; 3] = [INVOKE, POLL_HOLD, POLL_PARK];
/// The bearer token of every replica's runtime control.
pub const CONTROL_TOKEN: &str = "cluster-control-token";

/// The TaskDefs' `responseTimeoutSeconds`: how long a task held by a SIGKILLed replica stays IN_PROGRESS before the
/// server times it out and retries it. It must exceed a node's restart (30–70 s here) plus the worker's longest
/// update retry wait (30 s), or results held for a stopped node would be retried as well.
pub const TASKDEF_RESPONSE_TIMEOUT: Duration = Duration::from_secs(120);
/// The TaskDefs' `retryCount`.
pub const TASKDEF_RETRY_COUNT: u32 = 2;

/// The node (1 or 2) replica `i` (1-based) talks to.
pub fn node_of(i: usize) -> usize {
    (i + 1) % 2 + 1
}

/// Registers one TaskDef per task type on node 1, the same values every time (a PostgreSQL node caches TaskDefs for
/// up to 60 s, so values that changed between runs would reach the two nodes at different times).
pub async fn register_task_defs(node1: &Conductor) {
    let defs: Vec<_> = TASK_TYPES
        .iter()
        .map(|name| {
            json!({"name": name, "ownerEmail": "cluster@example.com", "retryCount": TASKDEF_RETRY_COUNT,
                   "retryLogic": "FIXED", "retryDelaySeconds": 0, "timeoutSeconds": 900, "timeoutPolicy": "TIME_OUT_WF",
                   "responseTimeoutSeconds": TASKDEF_RESPONSE_TIMEOUT.as_secs()})
        })
        .collect();
    node1.register_task_defs(&defs).await;
}

/// How a fleet is made.
#[derive(Debug, Clone)]
pub struct FleetOptions {
    /// How many replicas.
    pub replicas: usize,
    /// Tasks each replica holds per task type (`CONDUCTOR_WORKER_ALL_CONCURRENCY`; the worker's default when None).
    pub concurrency: Option<u32>,
    /// The worker binary, when not [`super::worker_process::worker_program`].
    pub program: Option<String>,
}

impl Default for FleetOptions {
    fn default() -> Self {
        Self { replicas: 3, concurrency: None, program: None }
    }
}

/// The replicas; dropped, they all get SIGTERM at once (see [`Replica`]).
pub struct Fleet {
    replicas: Vec<Replica>,
}

impl Fleet {
    /// Registers the TaskDefs, then starts every replica and waits until all are ready.
    pub async fn start(cluster: &Cluster, options: &FleetOptions) -> Self {
        register_task_defs(&cluster.node(1)).await;
        let log_filter = std::env::var("CLUSTER_RUST_LOG").unwrap_or_else(|_| "info".to_owned());
        let replicas = (1..=options.replicas)
            .map(|i| {
                let mut spec = WorkerSpec::new(&cluster.node_url(node_of(i)), &TASK_TYPES)
                    .env("CONDUCTOR_HTTP_WORKER_ADMIN_QUEUE_DEPTH_INTERVAL_SECS", "5")
                    .env("CONDUCTOR_HTTP_WORKER_SHUTDOWN_GRACE_SECS", "20")
                    .env("CONDUCTOR_WORKER_CLUSTER_POLL_PARK_PARK_THRESHOLD_SECS", "0")
                    .env("RUST_LOG", log_filter.as_str());
                if let Some(concurrency) = options.concurrency {
                    spec = spec.env("CONDUCTOR_WORKER_ALL_CONCURRENCY", concurrency.to_string());
                }
                if let Some(program) = &options.program {
                    spec = spec.program(program);
                }
                let name = format!("replica-{i}");
                Replica::new(&name, &cluster.data_dir().join(&name), spec).with_control(CONTROL_TOKEN)
            })
            .collect();
        let mut fleet = Self { replicas };
        join_all(fleet.replicas.iter_mut().map(Replica::start)).await;
        fleet
    }

    /// Every replica, replica 1 first.
    pub fn replicas(&self) -> &[Replica] {
        &self.replicas
    }

    /// Replica `i` (1-based).
    pub fn replica(&self, i: usize) -> &Replica {
        &self.replicas[i - 1]
    }

    /// Starts replica `i` again (nothing when it runs).
    pub async fn start_replica(&mut self, i: usize) {
        self.replicas[i - 1].start().await;
    }

    /// SIGTERM to replica `i`; returns its exit code.
    pub async fn stop(&mut self, i: usize) -> i32 {
        self.replicas[i - 1].stop().await
    }

    /// SIGKILL to replica `i`; returns 137.
    pub async fn kill(&mut self, i: usize) -> i32 {
        self.replicas[i - 1].kill().await
    }

    /// SIGTERM to every running replica at once (their drains overlap); returns their exit codes.
    pub async fn stop_all(&mut self) -> Vec<i32> {
        for replica in &mut self.replicas {
            replica.send_term();
        }
        let mut codes = Vec::new();
        for replica in self.replicas.iter_mut().filter(|replica| replica.pid().is_some()) {
            codes.push(replica.stop().await);
        }
        codes
    }
}

impl Drop for Fleet {
    fn drop(&mut self) {
        // All at once: their drains overlap instead of adding up.
        for replica in &mut self.replicas {
            replica.send_term();
        }
    }
}
