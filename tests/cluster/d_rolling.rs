//! (d) Rolling restart under load: every replica in turn gets SIGTERM, must exit 0, and is started again before
//! the next one goes. Workflows keep starting on both nodes throughout, half of them holding their poll task in a
//! replica between polls (so a SIGTERMed replica holds polls that it must park for others to continue), half
//! parking it. Zero failed workflows: every task ran in one attempt (nothing was lost and retried), every job was
//! invoked once, and polls stayed one at a time. The held polls a stopping replica parked were resumed elsewhere
//! (`http_poll_resumes_total` of the hold-mode task type grows).

use std::time::Duration;

use crate::support::{
    Api, Conductor, Metrics, POLL_HOLD, POLL_PARK, check_one_execution_at_a_time, ready, register_tutorial_workflow,
    start_many,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn d_rolling_restart_of_every_replica_fails_no_workflow() {
    let (cluster, mut fleet) = ready().await;
    let api = Api::start(Duration::from_secs(4), Duration::from_millis(100)).await;
    let node1 = cluster.node(1);
    let held = register_tutorial_workflow(&node1, &api, POLL_HOLD, "1").await;
    let parked = register_tutorial_workflow(&node1, &api, POLL_PARK, "1").await;
    let resumes_of_held = |metrics: &Metrics| metrics.sum("http_poll_resumes_total", &[("taskType", POLL_HOLD)]);
    // Resumes counted by every process that lived during the test (a restarted one starts from zero).
    let mut resumes = 0.0;
    let mut baseline = Vec::new();
    for replica in fleet.replicas() {
        baseline.push(resumes_of_held(&replica.metrics().await));
    }

    let load = {
        let (cluster, held, parked) = (cluster.clone(), held.clone(), parked.clone());
        tokio::spawn(async move {
            tokio::join!(
                start_many(&cluster, &[1, 2], &held, 120, 4.0, "d-hold"),
                start_many(&cluster, &[2, 1], &parked, 120, 4.0, "d-park"),
            )
        })
    };
    tokio::time::sleep(Duration::from_secs(6)).await;
    for i in 1..=fleet.replicas().len() {
        let worker_id = fleet.replica(i).worker_id();
        let metrics = fleet.replica(i).metrics().await;
        resumes += resumes_of_held(&metrics) - baseline[i - 1];
        let held_now = metrics.sum("http_poll_held_tasks", &[]);
        let code = fleet.stop(i).await;
        eprintln!("d: {worker_id} (holding {held_now} polls) got SIGTERM: exit code {code}");
        assert_eq!(code, 0, "{worker_id} exits 0 after SIGTERM");
        fleet.start_replica(i).await;
        baseline[i - 1] = 0.0;
        tokio::time::sleep(Duration::from_secs(4)).await;
    }
    let (held_runs, parked_runs) = load.await.expect("load task");
    node1.wait_all_done(&[&held, &parked], Duration::from_secs(300)).await;
    for (i, replica) in fleet.replicas().iter().enumerate() {
        resumes += resumes_of_held(&replica.metrics().await) - baseline[i];
    }

    let runs: Vec<(String, String)> = held_runs.into_iter().chain(parked_runs).collect();
    let ids: Vec<String> = runs.iter().map(|(id, _)| id.clone()).collect();
    let workflows = node1.workflows(&ids).await;
    let failed: Vec<&String> =
        runs.iter().zip(&workflows).filter(|(_, w)| w["status"] != "COMPLETED").map(|((id, _), _)| id).collect();
    assert!(failed.is_empty(), "{} workflows did not complete: {failed:?}", failed.len());
    for ((_, request_id), workflow) in runs.iter().zip(&workflows) {
        for reference in ["invoke", "poll"] {
            assert_eq!(
                Conductor::attempts(workflow, reference).len(),
                1,
                "{request_id}: {reference} retried: {workflow:#}"
            );
        }
        check_one_execution_at_a_time(&api, request_id, workflow, Duration::from_secs(1), Duration::from_millis(100));
    }
    eprintln!(
        "d: {} workflows COMPLETED across 3 restarts; {resumes} held polls parked at SIGTERM and resumed",
        runs.len()
    );
    assert!(resumes > 0.0, "no held poll was handed over at SIGTERM: the restarts hit no held task");
}
