//! (a) 500 tutorial-pattern workflows on the cluster: half hold their poll task in one replica between polls, half
//! park it on the server (so consecutive polls may run on different replicas). Every workflow completes, the example
//! API sees exactly one invocation per workflow, and no poll task is ever executed by two replicas at once: the
//! API never sees two polls of one job closer than the polling interval, and the poll count the task reports equals
//! the polls the API counted (an overlapping or lost execution would break one or the other).

use std::time::Duration;

use tokio::time::Instant;

use crate::support::{
    Api, Conductor, INVOKE, POLL_HOLD, POLL_PARK, check_one_execution_at_a_time, ready, register_tutorial_workflow,
    start_many, task_defs,
};

const PER_MODE: usize = 250;
const INTERVAL: Duration = Duration::from_secs(1);

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_500_workflows_complete_one_execution_at_a_time_one_invocation_each() {
    let (cluster, fleet) = ready().await;
    task_defs(&cluster).await;
    let api = Api::start(Duration::from_secs(2), Duration::ZERO).await;
    let node1 = cluster.node(1);
    let held = register_tutorial_workflow(&node1, &api, POLL_HOLD, "1").await;
    let parked = register_tutorial_workflow(&node1, &api, POLL_PARK, "1").await;
    let replicas = fleet.replicas();
    let mut before = Vec::new();
    for replica in replicas {
        before.push(replica.metrics().await);
    }

    let started = Instant::now();
    let (held_runs, parked_runs) = tokio::join!(
        start_many(&cluster, &[1, 2], &held, PER_MODE, 0.0, "a-hold"),
        start_many(&cluster, &[2, 1], &parked, PER_MODE, 0.0, "a-park"),
    );
    let all_started = started.elapsed();
    node1.wait_all_done(&[&held, &parked], Duration::from_secs(600)).await;
    let all_done = started.elapsed();
    eprintln!(
        "a: {} workflows started in {:.1} s, all done after {:.1} s ({:.1} workflows/s)",
        2 * PER_MODE,
        all_started.as_secs_f64(),
        all_done.as_secs_f64(),
        (2 * PER_MODE) as f64 / all_done.as_secs_f64()
    );

    let runs: Vec<(String, String)> = held_runs.into_iter().chain(parked_runs).collect();
    let ids: Vec<String> = runs.iter().map(|(id, _)| id.clone()).collect();
    let workflows = node1.workflows(&ids).await;
    let worker_ids: Vec<String> = replicas.iter().map(|r| r.worker_id()).collect();
    for ((_, request_id), workflow) in runs.iter().zip(&workflows) {
        assert_eq!(workflow["status"], "COMPLETED", "{request_id}: {workflow:#}");
        assert_eq!(workflow["output"]["final"]["status"], "COMPLETED", "{request_id}");
        for reference in ["invoke", "poll"] {
            let attempts = Conductor::attempts(workflow, reference);
            assert_eq!(attempts.len(), 1, "{request_id}: {reference} ran once, no retry: {workflow:#}");
            let worker = attempts[0]["workerId"].as_str().unwrap_or_default();
            assert!(worker_ids.iter().any(|id| id == worker), "{request_id}: {reference} by {worker}, not a replica");
        }
        check_one_execution_at_a_time(&api, request_id, workflow, INTERVAL, Duration::from_millis(100));
    }
    assert_eq!(api.api.total_invocations(), (2 * PER_MODE) as u64);

    // Every replica took part, in both modes; parked polls were resumed on every replica.
    eprintln!("a: replica   invokes  hold-executions  park-executions  parks  resumes");
    for (replica, before) in replicas.iter().zip(&before) {
        let after = replica.metrics().await;
        let delta = |name: &str, task_type: &str| {
            after.sum(name, &[("taskType", task_type)]) - before.sum(name, &[("taskType", task_type)])
        };
        let (invokes, holds, parks_executed) = (
            delta("task_execution_started_total", INVOKE),
            delta("task_execution_started_total", POLL_HOLD),
            delta("task_execution_started_total", POLL_PARK),
        );
        let (parks, resumes) = (delta("http_poll_parks_total", POLL_PARK), delta("http_poll_resumes_total", POLL_PARK));
        let worker_id = replica.worker_id();
        eprintln!("a: {worker_id:<10} {invokes:>7} {holds:>16} {parks_executed:>16} {parks:>6} {resumes:>8}");
        assert!(invokes > 0.0 && holds > 0.0 && parks_executed > 0.0, "{worker_id} did not take part");
        assert!(resumes > 0.0, "{worker_id} resumed no parked poll");
        assert_eq!(after.sum("task_result_dropped_total", &[]), before.sum("task_result_dropped_total", &[]));
    }
}
