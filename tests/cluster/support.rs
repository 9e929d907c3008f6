//! Test support for the cluster tests: the cluster `scripts/cluster.sh` runs (PostgreSQL, two conductor nodes; read
//! from its env file) and, per test, the replicas and the example API, started through the shared harness
//! (`tests/common`: `fleet`, `api`); starting workflows in bulk, the tutorial-pattern workflow, and the check that
//! a job was executed one poll at a time.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio::time::Instant;

#[path = "../common/mod.rs"]
mod common;
pub use common::api::Api;
pub use common::cluster::{Cluster, cluster_sh};
pub use common::fleet::{
    Fleet, FleetOptions, INVOKE, POLL_HOLD, POLL_PARK, TASK_TYPES, TASKDEF_RESPONSE_TIMEOUT, node_of,
};
pub use common::replica::Metrics;
pub use common::{Conductor, tutorial_workflow, unique};

/// The cluster, healed (a failed earlier test may have left a node down), and a fleet of three replicas started
/// for this test (TaskDefs registered), every task type polled. The fleet stops its replicas when dropped.
pub async fn ready() -> (Cluster, Fleet) {
    assert_eq!(cluster_sh(&["heal"]).await, Ok(0), "scripts/cluster.sh heal");
    let cluster = Cluster::load();
    let fleet = Fleet::start(&cluster, &FleetOptions::default()).await;
    (cluster, fleet)
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

/// Registers the tutorial pattern under custom task names: an invoke step (`POST /invoke-lambda`, answered 202)
/// and a poll step (`GET /{requestId}` until `body.body.status == "COMPLETED"`), both run by the replicas. Returns
/// the workflow name.
pub async fn register_tutorial_workflow(conductor: &Conductor, api: &Api, poll_task: &str, interval: &str) -> String {
    let name = unique(&format!("cluster_{poll_task}"));
    conductor.put_workflow(&tutorial_workflow(&name, INVOKE, poll_task, &api.base, interval)).await;
    name
}

/// Checks that the TaskDefs the fleet registered are there on both nodes and returns them by name.
pub async fn task_defs(cluster: &Cluster) -> BTreeMap<String, Value> {
    let mut defs = BTreeMap::new();
    for name in TASK_TYPES {
        for node in [1, 2] {
            let def =
                cluster.node(node).registered_task_def(name).await.unwrap_or_else(|| panic!("TaskDef {name} missing"));
            assert_eq!(def["responseTimeoutSeconds"].as_u64(), Some(TASKDEF_RESPONSE_TIMEOUT.as_secs()));
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
