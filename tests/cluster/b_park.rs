//! (b) Park mode moves work between replicas. One tutorial-pattern workflow whose poll task parks on the server
//! between polls (every 3 s). Only one replica polls the parked-poll queue at a time: whenever the task shows up
//! parked (`SCHEDULED`, `workerId` = the polling replica, its saved state in `outputData.httpPollState`), the test
//! pauses that replica's queue and resumes the next replica's (runtime control API). So the next poll of the task
//! can only be made by the next replica, from the state the previous one saved on the server.
//!
//! How it is shown: the task's `workerId` as the server records it (set by every poll and every update) is sampled
//! every 100 ms; after each park by replica A at `pollsMade = k`, the first sample with `pollsMade > k` must name
//! replica B. Independently, each receiving replica's `http_poll_resumes_total` grows by the number of times it
//! resumed the task, and the example API counts one invocation and exactly as many polls as the task reports, each
//! at least the interval apart (no poll was repeated or made twice by two replicas).

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{
    Api, Conductor, POLL_PARK, check_one_execution_at_a_time, ready, register_tutorial_workflow, unique,
};

const INTERVAL_SECS: u64 = 3;

/// One sample of the poll task as the server shows it.
#[derive(Debug, Clone, PartialEq)]
struct Sample {
    status: String,
    worker_id: String,
    polls_made: u64,
}

fn sample(workflow: &Value) -> Option<Sample> {
    let task = workflow["tasks"].as_array()?.iter().rev().find(|t| t["referenceTaskName"] == "poll")?;
    let polls_made = task["outputData"]["httpPollState"]["pollsMade"]
        .as_u64()
        .or_else(|| task["outputData"]["pollCount"].as_u64())
        .unwrap_or(0);
    Some(Sample {
        status: task["status"].as_str().unwrap_or_default().to_owned(),
        worker_id: task["workerId"].as_str().unwrap_or_default().to_owned(),
        polls_made,
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn b_a_parked_task_is_resumed_by_another_replica() {
    let (cluster, fleet) = ready().await;
    let api = Api::start(Duration::from_secs(14), Duration::ZERO).await;
    let node2 = cluster.node(2);
    let workflow_name = register_tutorial_workflow(&node2, &api, POLL_PARK, &INTERVAL_SECS.to_string()).await;
    let replicas = fleet.replicas();
    assert!(replicas.len() >= 2, "needs two replicas at least");
    let mut resumes_before = Vec::new();
    for replica in replicas {
        resumes_before.push(replica.metrics().await.sum("http_poll_resumes_total", &[("taskType", POLL_PARK)]));
    }
    // Only the first replica polls parked polls to begin with. A paused replica still finishes the long poll it
    // has in flight (up to poll_timeout_ms, 1 s by default): wait that out.
    for replica in &replicas[1..] {
        replica.set_paused(POLL_PARK, true).await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let request_id = unique("b");
    let id = node2.start(&workflow_name, json!({"requestId": request_id})).await;
    let mut active = 0;
    let mut history: Vec<Sample> = Vec::new();
    // (pollsMade at the park, from replica, to replica)
    let mut handovers: Vec<(u64, usize, usize)> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(90);
    let done = loop {
        let workflow = node2.workflow(&id).await;
        if let Some(now) = sample(&workflow) {
            if history.last() != Some(&now) {
                eprintln!("b: poll task {} by {} after {} polls", now.status, now.worker_id, now.polls_made);
                history.push(now.clone());
            }
            let parked_by_active = now.status == "SCHEDULED"
                && now.polls_made >= 1
                && now.worker_id == replicas[active].worker_id()
                && handovers.last().is_none_or(|(k, _, _)| *k < now.polls_made);
            if parked_by_active {
                let next = (active + 1) % replicas.len();
                replicas[active].set_paused(POLL_PARK, true).await;
                replicas[next].set_paused(POLL_PARK, false).await;
                eprintln!(
                    "b: parked by {} after {} polls: its queue paused, {} resumed",
                    replicas[active].worker_id(),
                    now.polls_made,
                    replicas[next].worker_id()
                );
                handovers.push((now.polls_made, active, next));
                active = next;
            }
        }
        if workflow["status"] != "RUNNING" {
            break workflow;
        }
        assert!(Instant::now() < deadline, "still running after 90 s: {workflow:#}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    for replica in replicas {
        replica.set_paused(POLL_PARK, false).await;
    }

    assert_eq!(done["status"], "COMPLETED", "{done:#}");
    let poll = Conductor::task(&done, "poll");
    assert_eq!(Conductor::attempts(&done, "poll").len(), 1, "one poll task, never retried: {done:#}");
    assert_eq!(poll["outputData"]["response"]["body"]["body"]["status"], "COMPLETED");
    assert!(poll["outputData"].get("httpPollState").is_none(), "no state left in the final output: {poll:#}");
    check_one_execution_at_a_time(
        &api,
        &request_id,
        &done,
        Duration::from_secs(INTERVAL_SECS),
        Duration::from_millis(100),
    );

    // The 14 s job polled every 3 s parks four times at least; each park moved the task to the next replica.
    assert!(handovers.len() >= 4, "handovers {handovers:?}, history {history:?}");
    for (polls_made, from, to) in &handovers {
        let next = history.iter().find(|s| s.polls_made > *polls_made).unwrap_or_else(|| panic!("{history:?}"));
        assert_eq!(
            next.worker_id,
            replicas[*to].worker_id(),
            "parked by {} after {polls_made} polls, continued by {}: {history:?}",
            replicas[*from].worker_id(),
            next.worker_id
        );
    }
    let distinct: std::collections::BTreeSet<&str> =
        history.iter().map(|s| s.worker_id.as_str()).filter(|w| !w.is_empty()).collect();
    assert_eq!(distinct.len(), replicas.len(), "every replica ran the task: {history:?}");
    assert_eq!(poll["workerId"], replicas[active].worker_id(), "completed by the last replica handed the task");
    for (i, replica) in replicas.iter().enumerate() {
        let received = handovers.iter().filter(|(_, _, to)| *to == i).count() as f64;
        let resumes = replica.metrics().await.sum("http_poll_resumes_total", &[("taskType", POLL_PARK)]);
        assert!(
            resumes - resumes_before[i] >= received,
            "{} resumed {} parked polls, received the task {received} times",
            replica.worker_id(),
            resumes - resumes_before[i]
        );
    }
    eprintln!(
        "b: {} polls by {:?}",
        poll["outputData"]["pollCount"],
        history.iter().map(|s| s.worker_id.as_str()).filter(|w| !w.is_empty()).collect::<Vec<_>>()
    );
}
