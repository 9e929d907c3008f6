//! The worker loop (poll → slot → execute → report) against the in-memory Conductor and target, under a paused
//! clock: no sockets, no JVM, and minutes of task time in milliseconds.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::{Value, json};

use crate::conductor::ClientError;
use crate::http_poll::state::PollState;
use crate::test_support::harness::{LoopHarness, task_type};
use crate::test_support::target::ScriptedTarget;
use crate::test_support::{FakeConductor, task};

mod long_running;

const MINUTE: Duration = Duration::from_secs(60);

fn single_call(path: &str) -> Value {
    json!({"http_request": {"uri": format!("http://target.test{path}"), "method": "GET"}})
}

fn polling(path: &str, interval_secs: u64) -> Value {
    json!({"http_request": {
        "uri": format!("http://target.test{path}"),
        "method": "GET",
        "terminationCondition": "$.output.response.body.status == 'COMPLETED'",
        "pollingInterval": interval_secs.to_string(),
        "pollingStrategy": "FIXED",
    }})
}

/// The results the fake accepted for `task_id`, as (status, callbackAfterSeconds).
fn statuses(api: &FakeConductor, task_id: &str) -> Vec<(String, u64)> {
    api.results_for(task_id)
        .iter()
        .map(|r| (r["status"].as_str().unwrap_or("?").to_owned(), r["callbackAfterSeconds"].as_u64().unwrap_or(0)))
        .collect()
}

fn completed(api: &FakeConductor) -> usize {
    let delivered = api.delivered.lock().unwrap();
    delivered.iter().filter(|r| r.status == crate::conductor::TaskResultStatus::Completed).count()
}

fn setup(tasks: impl IntoIterator<Item = crate::conductor::Task>) -> (Arc<FakeConductor>, Arc<ScriptedTarget>) {
    let api = Arc::new(FakeConductor::default());
    // Held tasks ask whether the server still has them IN_PROGRESS: it does, unless a test says otherwise.
    *api.status.lock().unwrap() = Some("IN_PROGRESS".into());
    api.enqueue(tasks);
    (api, Arc::new(ScriptedTarget::default()))
}

#[tokio::test(start_paused = true)]
async fn polls_ask_for_no_more_tasks_than_there_are_free_slots() {
    let (api, target) = setup((0..2).map(|i| task(&format!("long{i}"), single_call("/long"))));
    target.route("/long", Duration::from_secs(5), &[(200, r#"{"ok":true}"#)]);
    target.route("/slow", Duration::from_secs(2), &[(200, r#"{"ok":true}"#)]);
    let harness = LoopHarness::start(task_type(4), api.clone(), target.clone());
    // Two slots are busy when more work arrives: polls must ask for the other two at most.
    tokio::time::sleep(Duration::from_secs(1)).await;
    api.enqueue((0..20).map(|i| task(&format!("t{i}"), single_call("/slow"))));

    assert!(harness.run_until(MINUTE, |h| completed(&h.api) == 22).await, "all 22 complete");
    assert!(harness.stop(Duration::from_secs(5)).await);
    let polls = api.polls.lock().unwrap().clone();
    assert!(polls.iter().any(|poll| poll.outstanding > 0), "some polls were made while slots were busy: {polls:?}");
    for poll in &polls {
        assert!(poll.count + poll.outstanding <= 4, "a poll asked beyond the free slots: {poll:?}");
    }
    assert_eq!(target.max_in_flight.load(Ordering::SeqCst), 4, "the four slots were used at once, never more");
    assert_eq!(target.requests_to("/slow").len(), 20, "each task was sent once");
}

#[tokio::test(start_paused = true)]
async fn no_poll_is_made_while_every_slot_is_taken() {
    let mut input = single_call("/ten-seconds");
    input["http_request"]["readTimeOut"] = json!(20_000);
    let (api, target) = setup((0..3).map(|i| task(&format!("t{i}"), input.clone())));
    target.route("/ten-seconds", Duration::from_secs(10), &[(200, "{}")]);
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| completed(&h.api) == 3).await);
    assert!(harness.stop(Duration::from_secs(5)).await);
    let busy: Vec<_> =
        target.requests_to("/ten-seconds").into_iter().map(|at| (at, at + Duration::from_secs(10))).collect();
    assert_eq!(busy.len(), 3);
    for poll in api.polls.lock().unwrap().iter() {
        assert!(
            !busy.iter().any(|(from, to)| poll.at > *from && poll.at < *to),
            "polled while the only slot was executing: {poll:?}, busy {busy:?}"
        );
    }
    // The next tasks came with the terminal updates (update-v2), not from polls made while busy.
    assert_eq!(api.chained_attempts.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn tasks_beyond_the_count_asked_are_handed_back_unexecuted() {
    let (api, target) = setup((0..3).map(|i| task(&format!("t{i}"), single_call("/slow"))));
    api.over_deliver.store(2, Ordering::SeqCst);
    target.route("/slow", Duration::from_secs(5), &[(200, "{}")]);
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| completed(&h.api) == 1).await);
    let metrics = harness.metrics_text();
    assert!(metrics.contains("task_handed_back_total{taskType=\"HTTP_POLL\"} 2"), "{metrics}");
    assert!(harness.stop(Duration::from_secs(5)).await);
    assert_eq!(statuses(&api, "t0"), [("COMPLETED".to_owned(), 0)]);
    for extra in ["t1", "t2"] {
        assert_eq!(statuses(&api, extra), [("IN_PROGRESS".to_owned(), 0)], "{extra} is handed back, due at once");
    }
    assert_eq!(target.requests_to("/slow").len(), 1, "handed-back tasks were not sent");
}

#[tokio::test(start_paused = true)]
async fn a_held_poll_waits_its_interval_and_completes_when_the_condition_holds() {
    let (api, target) = setup([task("p", polling("/status", 5))]);
    let running = r#"{"status":"RUNNING"}"#;
    target.route(
        "/status",
        Duration::from_millis(50),
        &[(200, running), (200, running), (200, r#"{"status":"COMPLETED"}"#)],
    );
    let harness = LoopHarness::start(task_type(2), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| completed(&h.api) == 1).await);
    assert!(harness.stop(Duration::from_secs(5)).await);
    assert_eq!(statuses(&api, "p"), [("COMPLETED".to_owned(), 0)], "held in the worker: one update, at the end");
    let result = &api.results_for("p")[0];
    assert_eq!(result["outputData"]["pollCount"], 3, "{result}");
    let sent = target.requests_to("/status");
    assert_eq!(sent.len(), 3);
    for pair in sent.windows(2) {
        assert!(pair[1] - pair[0] >= Duration::from_secs(5), "polls 5 s apart: {sent:?}");
    }
}

/// A single call with `retries` is made again after transient failures, inside the task, with one key.
#[tokio::test(start_paused = true)]
async fn a_single_call_is_retried_after_transient_failures_with_one_idempotency_key() {
    let mut input = single_call("/flaky");
    input["http_request"]["retries"] = json!(3);
    input["http_request"]["method"] = json!("POST");
    let (api, target) = setup([task("c", input.clone()), task("d", single_call("/flaky-default"))]);
    target.route("/flaky", Duration::from_millis(10), &[(503, "busy"), (502, "bad gateway"), (200, "{}")]);
    target.route("/flaky-default", Duration::from_millis(10), &[(503, "busy"), (200, "{}")]);
    let harness = LoopHarness::start(task_type(2), api.clone(), target.clone());

    assert!(
        harness.run_until(MINUTE, |h| h.api.results_for("c").len() == 1 && h.api.results_for("d").len() == 1).await
    );
    let metrics = harness.metrics_text();
    assert!(harness.stop(Duration::from_secs(5)).await);
    assert_eq!(statuses(&api, "c"), [("COMPLETED".to_owned(), 0)], "two retries, then the answer");
    assert_eq!(target.requests_to("/flaky").len(), 3);
    let keys: Vec<String> = target.keys.lock().unwrap().iter().filter(|k| k.as_str() == "c").cloned().collect();
    assert_eq!(keys.len(), 3, "every attempt carries the task's key");
    let logs = api.results_for("c")[0]["logs"].to_string();
    assert!(logs.contains("Retry 1 of 3") && logs.contains("Retry 2 of 3"), "{logs}");
    assert!(metrics.contains(r#"http_request_retries_total{taskType="HTTP_POLL"} 2"#), "{metrics}");
    // Without retries (the default, as on conductor-oss) one failure fails the task.
    assert_eq!(statuses(&api, "d"), [("FAILED".to_owned(), 0)]);
    assert_eq!(target.requests_to("/flaky-default").len(), 1);
}

/// `asyncComplete`: the call is made once, the task stays IN_PROGRESS (parked) for an outside system, and a
/// re-delivery parks it again without calling a second time.
#[tokio::test(start_paused = true)]
async fn an_async_complete_task_is_called_once_and_left_in_progress() {
    let mut input = single_call("/invoke");
    input["http_request"]["method"] = json!("POST");
    input["http_request"]["asyncComplete"] = json!(true);
    let (api, target) = setup([task("a", input.clone())]);
    target.route("/invoke", Duration::from_millis(10), &[(202, r#"{"accepted":true}"#)]);
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| h.api.results_for("a").len() == 1).await);
    let first = api.results_for("a")[0].clone();
    assert_eq!(first["status"], "IN_PROGRESS", "{first}");
    assert_eq!(first["callbackAfterSeconds"], 3600);
    assert_eq!(first["outputData"]["response"]["body"], json!({"accepted": true}));
    // The server re-delivers it (the callback passed, nobody completed it yet).
    let mut again = task("a", input);
    again.poll_count = 2;
    again.output_data = first["outputData"].clone();
    api.enqueue([again]);
    assert!(harness.run_until(MINUTE, |h| h.api.results_for("a").len() == 2).await);
    assert!(harness.stop(Duration::from_secs(5)).await);
    let second = &api.results_for("a")[1];
    assert_eq!(second["status"], "IN_PROGRESS", "{second}");
    assert_eq!(second["outputData"]["response"]["body"], json!({"accepted": true}), "the response is kept");
    assert_eq!(target.requests_to("/invoke").len(), 1, "the call is not made again");
}

/// A rate-limited target says when to come back: the next poll waits that long, not the polling interval.
#[tokio::test(start_paused = true)]
async fn retry_after_on_a_429_or_503_sets_the_next_poll() {
    let (api, target) = setup([task("p", polling("/busy", 1))]);
    target.route(
        "/busy",
        Duration::from_millis(10),
        &[(503, "unavailable"), (429, "slow down"), (200, r#"{"status":"COMPLETED"}"#)],
    );
    target.headers("/busy", &[("Retry-After", "20")]);
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(10 * MINUTE, |h| completed(&h.api) == 1).await);
    assert!(harness.stop(Duration::from_secs(5)).await);
    let sent = target.requests_to("/busy");
    assert_eq!(sent.len(), 3, "{sent:?}");
    for pair in sent.windows(2) {
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_secs(20) && gap < Duration::from_secs(21), "Retry-After 20 s, got {gap:?}");
    }
    let logs = api.results_for("p")[0]["logs"].to_string();
    assert!(logs.contains("Retry-After"), "{logs}");
}

/// A workflow terminated while its poll is held: the worker stops calling the target before the next poll, not at
/// the task's response timeout.
#[tokio::test(start_paused = true)]
async fn a_held_poll_stops_when_the_server_no_longer_has_the_task_in_progress() {
    let (api, target) = setup([task("p", polling("/status", 5))]);
    target.route("/status", Duration::from_millis(50), &[(200, r#"{"status":"RUNNING"}"#)]);
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| h.target.requests_to("/status").len() == 3).await);
    *api.status.lock().unwrap() = Some("CANCELED".into());
    assert!(harness.run_until(MINUTE, |h| !h.api.results_for("p").is_empty()).await, "the task ends");
    let metrics = harness.metrics_text();
    assert!(harness.stop(Duration::from_secs(5)).await);
    assert_eq!(target.requests_to("/status").len(), 3, "no poll after the workflow was terminated");
    let result = &api.results_for("p")[0];
    assert_eq!(result["status"], "FAILED", "{result}");
    assert!(result["reasonForIncompletion"].as_str().unwrap().contains("no longer has this task IN_PROGRESS"));
    assert!(metrics.contains(r#"task_execute_error_total{taskType="HTTP_POLL",exception="Cancelled"} 1"#), "{metrics}");

    // A server that cannot be asked does not stop polling.
    let (api, target) = setup([task("q", polling("/status", 5))]);
    *api.status.lock().unwrap() = None;
    api.fail_status.store(true, Ordering::SeqCst);
    target.route(
        "/status",
        Duration::from_millis(50),
        &[(200, r#"{"status":"RUNNING"}"#), (200, r#"{"status":"RUNNING"}"#), (200, r#"{"status":"COMPLETED"}"#)],
    );
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());
    assert!(harness.run_until(MINUTE, |h| completed(&h.api) == 1).await, "status reads failing: polling goes on");
    assert!(harness.stop(Duration::from_secs(5)).await);
}

#[tokio::test(start_paused = true)]
async fn held_polls_park_at_shutdown_with_their_state() {
    let (api, target) = setup([task("a", polling("/status", 5)), task("b", polling("/status", 5))]);
    target.route("/status", Duration::from_millis(50), &[(200, r#"{"status":"RUNNING"}"#)]);
    let harness = LoopHarness::start(task_type(2), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| h.target.requests_to("/status").len() == 4).await, "two polls each");
    assert!(harness.stop(Duration::from_secs(10)).await, "drained within the grace period");
    for id in ["a", "b"] {
        let results = api.results_for(id);
        assert_eq!(results.len(), 1, "{id}: {results:?}");
        assert_eq!(results[0]["status"], "IN_PROGRESS", "{id} parks");
        let callback = results[0]["callbackAfterSeconds"].as_u64().unwrap();
        assert!((1..=5).contains(&callback), "{id} is due when its next poll was: {callback}");
        let state = PollState::restore(id, &results[0]["outputData"]).expect("the poll state is saved");
        assert_eq!(state.polls_made, 2, "{id}");
    }
    assert_eq!(target.requests_to("/status").len(), 4, "no poll after shutdown began");
}

#[tokio::test(start_paused = true)]
async fn while_updates_fail_the_outbox_bounds_new_work_then_delivers_everything() {
    let (api, target) = setup((0..20).map(|i| task(&format!("t{i}"), single_call("/fast"))));
    target.route("/fast", Duration::from_millis(10), &[(200, "{}")]);
    api.always_fail.store(true, Ordering::SeqCst);
    // Room for about one result: the first failed update fills it.
    let harness = LoopHarness::start_with_outbox(task_type(4), api.clone(), target.clone(), 200);

    tokio::time::sleep(MINUTE).await;
    let taken = api.deliveries.load(Ordering::SeqCst);
    assert!(taken <= 8, "new work stops while undelivered results fill the outbox: {taken} tasks taken");
    assert!(api.attempts.load(Ordering::SeqCst) > taken as u32, "failed updates are retried");
    assert!(harness.outbox.is_full());

    api.always_fail.store(false, Ordering::SeqCst);
    assert!(harness.run_until(10 * MINUTE, |h| completed(&h.api) == 20).await, "every result is delivered");
    assert!(harness.outbox.is_empty());
    assert!(harness.stop(Duration::from_secs(5)).await);
    for i in 0..20 {
        assert_eq!(statuses(&api, &format!("t{i}")), [("COMPLETED".to_owned(), 0)], "t{i}: one accepted result");
    }
}

#[tokio::test(start_paused = true)]
async fn a_paused_worker_takes_no_work_until_resumed() {
    let (api, target) = setup([task("t0", single_call("/fast"))]);
    target.route("/fast", Duration::ZERO, &[(200, "{}")]);
    let mut config = task_type(2);
    config.paused = true;
    let harness = LoopHarness::start(config, api.clone(), target.clone());

    tokio::time::sleep(MINUTE).await;
    assert!(api.polls.lock().unwrap().is_empty(), "a paused worker does not poll");
    harness.control.set_paused(false);
    assert!(harness.run_until(MINUTE, |h| completed(&h.api) == 1).await);
    assert!(harness.stop(Duration::from_secs(5)).await);
}

#[tokio::test(start_paused = true)]
async fn poll_errors_back_off_and_the_loop_recovers() {
    let (api, target) = setup([task("t0", single_call("/fast"))]);
    target.route("/fast", Duration::ZERO, &[(200, "{}")]);
    api.poll_failures.lock().unwrap().extend((0..5).map(|_| ClientError::Transport("connection refused".into())));
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(10 * MINUTE, |h| completed(&h.api) == 1).await, "polling resumes after errors");
    assert!(harness.stop(Duration::from_secs(5)).await);
    let polls = api.polls.lock().unwrap().clone();
    assert!(polls.len() >= 6, "{polls:?}");
    let gaps: Vec<_> = polls.windows(2).take(5).map(|pair| pair[1].at - pair[0].at).collect();
    assert!(gaps.iter().all(|gap| *gap >= Duration::from_millis(100)), "failed polls back off: {gaps:?}");
}

#[tokio::test(start_paused = true)]
async fn a_worker_whose_slots_are_all_held_stays_live() {
    let mut input = single_call("/ten-minutes");
    input["http_request"]["readTimeOut"] = json!(900_000);
    let (api, target) = setup((0..2).map(|i| task(&format!("t{i}"), input.clone())));
    target.route("/ten-minutes", 10 * MINUTE, &[(200, r#"{"ok":true}"#)]);
    let harness = LoopHarness::start(task_type(2), api.clone(), target.clone());
    let window = crate::health::LOOP_FRESHNESS;
    // Both slots stay busy for more than twice the liveness window: the poll loop waits for a slot all along.
    tokio::time::sleep(2 * window + MINUTE).await;
    assert_eq!(target.requests_to("/ten-minutes").len(), 2);
    assert!(completed(&api) == 0, "still running");
    let report = harness.health.liveness();
    assert!(report.ok, "a saturated worker is live: {report:?}");
    assert!(harness.metrics_text().contains("task_execution_queue_full_total{taskType=\"HTTP_POLL\"} 1"));
    assert!(harness.run_until(10 * MINUTE, |h| completed(&h.api) == 2).await);
    assert!(harness.stop(Duration::from_secs(5)).await);
}
