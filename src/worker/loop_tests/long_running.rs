//! Loop tests of what long-running APIs need beyond polling: lease extension, a 202's Location, a cancel request.

use super::*;

/// A call longer than the task's response timeout: the worker extends the lease every 80 % of it (8 s of 10 s)
/// while the call runs, so the server never times out the task, and the call is not cut at the response timeout.
#[tokio::test(start_paused = true)]
async fn a_call_longer_than_the_response_timeout_is_kept_leased() {
    let mut input = single_call("/slow-job");
    input["http_request"]["readTimeOut"] = json!(60_000);
    let mut long = task("long", input);
    long.response_timeout_seconds = 10;
    let (api, target) = setup([long]);
    target.route("/slow-job", Duration::from_secs(25), &[(200, r#"{"done":true}"#)]);
    let started = tokio::time::Instant::now();
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| completed(&h.api) == 1).await, "the 25 s call completes");
    let metrics = harness.metrics_text();
    assert!(harness.stop(Duration::from_secs(5)).await);
    let extensions: Vec<u64> =
        api.lease_extensions.lock().unwrap().iter().map(|(_, at)| (*at - started).as_secs()).collect();
    assert_eq!(extensions, [8, 16, 24], "one extension every 8 s while the call ran, none after it");
    assert_eq!(statuses(&api, "long"), [("COMPLETED".to_owned(), 0)]);
    assert!(metrics.contains(r#"task_lease_extend_total{taskType="HTTP_POLL",status="SUCCESS"} 3"#), "{metrics}");
}

/// A failed extension is tried again at once (1 s, then 2 s, …), not only at the next interval: the server's
/// deadline is still 2 s away when the first one fails.
#[tokio::test(start_paused = true)]
async fn a_failed_lease_extension_is_tried_again_with_backoff() {
    let mut input = single_call("/slow-job");
    input["http_request"]["readTimeOut"] = json!(60_000);
    let mut long = task("long", input);
    long.response_timeout_seconds = 10;
    let (api, target) = setup([long]);
    api.fail_leases.store(true, Ordering::SeqCst);
    target.route("/slow-job", Duration::from_secs(13), &[(200, "{}")]);
    let started = tokio::time::Instant::now();
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());
    tokio::time::sleep(Duration::from_millis(11_500)).await;
    api.fail_leases.store(false, Ordering::SeqCst);

    assert!(harness.run_until(MINUTE, |h| completed(&h.api) == 1).await);
    let metrics = harness.metrics_text();
    assert!(harness.stop(Duration::from_secs(5)).await);
    let extensions: Vec<u64> =
        api.lease_extensions.lock().unwrap().iter().map(|(_, at)| (*at - started).as_secs()).collect();
    // Fails at 8, 9 and 11; the next would be at 15, but the call ended at 13.
    assert_eq!(extensions, [8, 9, 11], "retried after 1 s, then 2 s");
    assert!(metrics.contains(r#"task_lease_extend_total{taskType="HTTP_POLL",status="FAILURE"} 3"#), "{metrics}");
}

/// The asynchronous request-reply pattern in one task: the invoke answers 202 with a Location, and the polls go
/// there (GET) until the condition holds; the invoke is never repeated, and the Location is kept in the state.
#[tokio::test(start_paused = true)]
async fn a_202_location_moves_the_polls_there() {
    let mut input = polling("/jobs", 2);
    input["http_request"]["method"] = json!("POST");
    input["http_request"]["body"] = json!({"work": 1});
    input["http_request"]["pollLocation"] = json!(true);
    let (api, target) = setup([task("p", input)]);
    target.route("/jobs", Duration::from_millis(20), &[(202, r#"{"status":"ACCEPTED"}"#)]);
    target.headers("/jobs", &[("Location", "/jobs/7")]);
    let running = (200, r#"{"status":"RUNNING"}"#);
    target.route("/jobs/7", Duration::from_millis(20), &[running, running, (200, r#"{"status":"COMPLETED"}"#)]);
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| completed(&h.api) == 1).await);
    assert!(harness.stop(Duration::from_secs(5)).await);
    assert_eq!(target.requests_to("/jobs").len(), 1, "invoked once");
    assert_eq!(target.requests_to("/jobs/7").len(), 3, "then polled at the Location");
    let result = &api.results_for("p")[0];
    assert_eq!(result["outputData"]["response"]["body"]["status"], "COMPLETED", "{result}");
    // The invoke's line went to the execution log while the task held (the first polls are logged live).
    let live = api.task_logs.lock().unwrap().clone();
    assert!(live.iter().any(|(id, line, _)| id == "p" && line.contains("from now on (pollLocation)")), "{live:?}");
}

/// A parked task resumes polling the Location it was handed, not the invoke's uri.
#[tokio::test(start_paused = true)]
async fn a_parked_task_keeps_polling_its_location() {
    let mut input = polling("/jobs", 40);
    input["http_request"]["method"] = json!("POST");
    input["http_request"]["pollLocation"] = json!(true);
    let (api, target) = setup([task("p", input)]);
    target.route("/jobs", Duration::ZERO, &[(202, "{}")]);
    target.headers("/jobs", &[("Location", "http://target.test/jobs/9")]);
    target.route("/jobs/9", Duration::ZERO, &[(200, r#"{"status":"COMPLETED"}"#)]);
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| !h.api.results_for("p").is_empty()).await, "parked for 40 s");
    let parked = api.results_for("p")[0].clone();
    assert_eq!(parked["outputData"]["httpPollState"]["statusUri"], "http://target.test/jobs/9", "{parked}");
    // Delivered again when due (the state's clock is the wall clock, which a paused test does not move).
    let mut again = task("p", polling_input_with_location());
    again.output_data = parked["outputData"].clone();
    again.output_data["httpPollState"]["nextPollAtMs"] = json!(0);
    again.poll_count = 2;
    api.enqueue([again]);
    assert!(harness.run_until(5 * MINUTE, |h| completed(&h.api) == 1).await);
    assert!(harness.stop(Duration::from_secs(5)).await);
    assert_eq!(target.requests_to("/jobs").len(), 1, "the invoke is not repeated after the park");
    assert_eq!(target.requests_to("/jobs/9").len(), 1);
}

fn polling_input_with_location() -> Value {
    let mut input = polling("/jobs", 40);
    input["http_request"]["method"] = json!("POST");
    input["http_request"]["pollLocation"] = json!(true);
    input
}

/// A hostile or broken target cannot send the task's headers elsewhere: a Location on another origin fails the
/// task terminally, and nothing is sent there.
#[tokio::test(start_paused = true)]
async fn a_location_on_another_origin_is_not_followed() {
    let mut input = polling("/jobs", 2);
    input["http_request"]["pollLocation"] = json!(true);
    input["http_request"]["headers"] = json!({"Authorization": "Bearer author-secret"});
    let (api, target) = setup([task("p", input)]);
    target.route("/jobs", Duration::ZERO, &[(202, "{}")]);
    target.headers("/jobs", &[("Location", "http://collector.evil.test/jobs/1")]);
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    assert!(harness.run_until(MINUTE, |h| !h.api.results_for("p").is_empty()).await);
    assert!(harness.stop(Duration::from_secs(5)).await);
    let result = &api.results_for("p")[0];
    assert_eq!(result["status"], "FAILED_WITH_TERMINAL_ERROR", "{result}");
    assert!(result["reasonForIncompletion"].as_str().unwrap().contains("own origin only"), "{result}");
    let paths: Vec<String> = target.requests.lock().unwrap().iter().map(|(p, _)| p.clone()).collect();
    assert_eq!(paths, ["/jobs"], "nothing was sent to the Location");
}

/// A held poll whose workflow is terminated sends its `cancelRequest` once; one whose task ended otherwise (timed
/// out) stops without it.
#[tokio::test(start_paused = true)]
async fn a_cancelled_poll_sends_its_cancel_request_once() {
    for (status, cancels) in [("CANCELED", 1), ("TIMED_OUT", 0)] {
        let mut input = polling("/status", 5);
        input["http_request"]["cancelRequest"] = json!({"uri": "http://target.test/jobs/1/cancel", "method": "POST"});
        let (api, target) = setup([task("p", input)]);
        target.route("/status", Duration::from_millis(50), &[(200, r#"{"status":"RUNNING"}"#)]);
        target.route("/jobs/1/cancel", Duration::from_millis(50), &[(200, "{}")]);
        let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

        assert!(harness.run_until(MINUTE, |h| h.target.requests_to("/status").len() == 2).await);
        *api.status.lock().unwrap() = Some(status.into());
        assert!(harness.run_until(MINUTE, |h| !h.api.results_for("p").is_empty()).await);
        tokio::time::sleep(MINUTE).await;
        assert!(harness.stop(Duration::from_secs(5)).await);
        assert_eq!(target.requests_to("/jobs/1/cancel").len(), cancels, "{status}");
        assert_eq!(target.requests_to("/status").len(), 2, "{status}: polling stopped");
        let logs = api.results_for("p")[0]["logs"].to_string();
        assert_eq!(logs.contains("cancelRequest: POST"), cancels == 1, "{status}: {logs}");
    }
}

/// A held poll's first polls go to its execution log as they happen, then one line a minute; the rest go with the
/// final update, and no line goes twice. The listing shows the task holding meanwhile.
#[tokio::test(start_paused = true)]
async fn held_polls_show_their_progress_live_and_in_the_listing() {
    let (api, target) = setup([task("p", polling("/job", 5))]);
    let running = (200, r#"{"status":"RUNNING"}"#);
    let mut answers = vec![running; 19];
    answers.push((200, r#"{"status":"COMPLETED"}"#));
    target.route("/job", Duration::from_millis(10), &answers);
    let harness = LoopHarness::start(task_type(1), api.clone(), target.clone());

    tokio::time::sleep(Duration::from_secs(12)).await;
    let listed = harness.control.held();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!((listed[0].task_id.as_str(), listed[0].state, listed[0].polls), ("p", "holding", 3));
    assert_eq!(listed[0].last_status, Some(200));

    assert!(harness.run_until(5 * MINUTE, |h| completed(&h.api) == 1).await);
    assert!(harness.control.held().is_empty(), "a reported task leaves the listing");
    assert!(harness.stop(Duration::from_secs(5)).await);
    let live: Vec<String> = api.task_logs.lock().unwrap().iter().map(|(_, line, _)| line.clone()).collect();
    let polls_of = |lines: &[String]| -> Vec<u32> {
        lines.iter().filter_map(|l| l.strip_prefix("poll ")?.split(':').next()?.parse().ok()).collect()
    };
    // Polls 1-5 at 0-20 s, then the first poll a minute after poll 5's line (poll 17, at 80 s).
    assert_eq!(polls_of(&live), [1, 2, 3, 4, 5, 17], "{live:#?}");
    let result = &api.results_for("p")[0];
    let logged: Vec<String> = result["logs"]
        .as_array()
        .map(|lines| lines.iter().filter_map(|l| l["log"].as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let final_polls = polls_of(&logged);
    assert!(final_polls.contains(&20) && final_polls.contains(&16), "{logged:#?}");
    assert!(polls_of(&live).iter().all(|p| !final_polls.contains(p)), "no line twice: {logged:#?}");
}
