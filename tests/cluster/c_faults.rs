//! (c) Faults mid-run: replica 1 (on node 1) is SIGKILLed and node 2 is stopped while workflows run; node 2 is
//! started again after ~45 s (its start-up time). Every workflow still ends COMPLETED, none stays stuck, and
//! duplicate invocations stay inside the crash window:
//!
//! A task is acked when it is polled, so a task held by a replica that dies stays IN_PROGRESS until its TaskDef's
//! `responseTimeoutSeconds` passes; the server then times it out and schedules a retry. For a poll task that only
//! means polling again. For an invoke task it means a second `POST /invoke-lambda` if, and only if, the killed
//! replica had already sent the first one but its COMPLETED update had not reached the server: the crash window.
//! The example API holds each invoke response back for 300 ms after counting the invocation, so that window is
//! wide enough to be hit. The assertion: every request invoked twice belongs to a workflow whose invoke task was
//! lost in the killed replica (an attempt that ended TIMED_OUT with the killed replica's worker id), so duplicates
//! ≤ invoke tasks in flight on the killed replica.
//!
//! The replica of the stopped node (replica 2) keeps running against it: its polls fail and back off, results it
//! could not deliver wait in its outbox (retried for as long as the server could still accept them) and are
//! delivered when the node is back; then it polls and executes again. The TaskDefs' responseTimeoutSeconds (120 s,
//! tests/common/fleet.rs) exceeds the node's restart plus the outbox's longest retry wait, so none of its results is
//! timed out meanwhile. Clients start workflows on node 1 while node 2 is down (behind a load balancer they would
//! not notice).

use std::time::Duration;

use tokio::time::Instant;

use crate::support::{
    Api, Conductor, POLL_HOLD, TASKDEF_RESPONSE_TIMEOUT, cluster_sh, node_of, ready, register_tutorial_workflow,
    start_many,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn c_killed_replica_and_stopped_node_every_workflow_completes() {
    let (cluster, mut fleet) = ready().await;
    let response_timeout = TASKDEF_RESPONSE_TIMEOUT;
    let api = Api::start(Duration::from_secs(3), Duration::from_millis(300)).await;
    let node1 = cluster.node(1);
    let workflow_name = register_tutorial_workflow(&node1, &api, POLL_HOLD, "1").await;
    assert_eq!((node_of(1), node_of(2), node_of(3)), (1, 2, 1), "replica → node layout of the fleet");
    let victim_id = fleet.replica(1).worker_id();

    let started = Instant::now();
    let load = {
        let cluster = cluster.clone();
        let name = workflow_name.clone();
        tokio::spawn(async move { start_many(&cluster, &[1], &name, 150, 10.0, "c-during").await })
    };
    tokio::time::sleep(Duration::from_secs(5)).await;
    let in_flight = fleet.replica(1).metrics().await.sum("active_workers", &[]);
    assert_eq!(fleet.kill(1).await, 137, "SIGKILL");
    eprintln!("c: {:.1} s: SIGKILLed {victim_id} ({in_flight} executions in flight just before)", secs(started));
    let (stalled, survivor) = (fleet.replica(2), fleet.replica(3));
    assert_eq!(cluster_sh(&["node", "stop", "2"]).await, Ok(0));
    eprintln!("c: {:.1} s: node 2 stopped", secs(started));
    let during = load.await.expect("load task");
    eprintln!("c: {:.1} s: {} workflows started on node 1", secs(started), during.len());
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(cluster_sh(&["node", "start", "2"]).await, Ok(0));
    eprintln!("c: {:.1} s: node 2 healthy again", secs(started));

    // The replica of node 2 works again: it takes part in new workflows started on both nodes.
    let stalled_before = stalled.metrics().await.sum("task_execution_started_total", &[]);
    let after = start_many(&cluster, &[1, 2], &workflow_name, 60, 10.0, "c-after").await;
    node1.wait_all_done(&[&workflow_name], response_timeout + Duration::from_secs(240)).await;
    eprintln!("c: {:.1} s: no workflow running", secs(started));
    let stalled_metrics = stalled.metrics().await;
    let stalled_after = stalled_metrics.sum("task_execution_started_total", &[]);
    assert!(stalled_after > stalled_before, "{} executed nothing after node 2 came back", stalled.worker_id());
    for replica in [stalled, survivor] {
        let dropped = replica.metrics().await.sum("task_result_dropped_total", &[]);
        assert_eq!(dropped, 0.0, "{} delivered every result", replica.worker_id());
    }

    let runs: Vec<(String, String)> = during.into_iter().chain(after).collect();
    let ids: Vec<String> = runs.iter().map(|(id, _)| id.clone()).collect();
    let workflows = node1.workflows(&ids).await;
    let (mut duplicates, mut lost_invokes, mut lost_polls, mut lost_elsewhere) = (0, 0, 0, 0);
    for ((_, request_id), workflow) in runs.iter().zip(&workflows) {
        assert_eq!(workflow["status"], "COMPLETED", "{request_id}: {workflow:#}");
        assert_eq!(Conductor::task(workflow, "poll")["status"], "COMPLETED");
        let lost_here = |reference: &str, worker: &str| {
            Conductor::attempts(workflow, reference)
                .iter()
                .filter(|t| t["status"] != "COMPLETED" && t["workerId"] == worker)
                .count()
        };
        let invoke_lost_in_victim = lost_here("invoke", &victim_id);
        lost_invokes += invoke_lost_in_victim;
        lost_polls += lost_here("poll", &victim_id);
        for reference in ["invoke", "poll"] {
            for attempt in Conductor::attempts(workflow, reference) {
                if attempt["status"] != "COMPLETED" && attempt["workerId"] != victim_id.as_str() {
                    lost_elsewhere += 1;
                    eprintln!(
                        "c: {request_id}: {reference} attempt {} by {} ended {} ({})",
                        attempt["taskId"], attempt["workerId"], attempt["status"], attempt["reasonForIncompletion"]
                    );
                }
            }
        }
        let invocations = api.api.stats(request_id).invocations;
        assert!(invocations >= 1, "{request_id} was never invoked");
        if invocations > 1 {
            duplicates += invocations - 1;
            assert!(
                invocations as usize <= 1 + invoke_lost_in_victim,
                "{request_id}: {invocations} invocations, but only {invoke_lost_in_victim} invoke attempts were lost \
                 in the killed replica: {workflow:#}"
            );
        }
    }
    eprintln!(
        "c: {} workflows COMPLETED; the killed replica had {lost_invokes} invoke and {lost_polls} poll tasks in \
         flight (timed out after {response_timeout:?} and retried); {duplicates} duplicate invocations; \
         {lost_elsewhere} attempts lost elsewhere",
        runs.len()
    );
    assert!(duplicates as usize <= lost_invokes, "duplicates {duplicates} > invokes in flight on the killed replica");
    assert!(lost_invokes + lost_polls > 0, "the kill hit no task in flight: the scenario proved nothing");
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}
