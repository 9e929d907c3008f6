//! Orkes-only behaviour against `fake-conductor` with Orkes authentication: authentication (token exchange, `X-Authorization`,
//! refresh on expiry with one request for everyone, failing credentials without exiting) and servers without
//! `update-v2`.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{example_api, start_worker};
use fake_conductor::{FakeConductor, UpdateV2};

const KEY: (&str, &str) = ("app-key-id-4711", "app-key-secret-0815");

fn auth_env(fake: &FakeConductor) -> Vec<(&'static str, String)> {
    vec![
        ("CONDUCTOR_SERVER_URL", fake.api.clone()),
        ("CONDUCTOR_AUTH_KEY", KEY.0.to_owned()),
        ("CONDUCTOR_AUTH_SECRET", KEY.1.to_owned()),
    ]
}

fn as_refs<'a>(env: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    env.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

async fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn get(url: &str) -> (u16, String) {
    let response = reqwest::get(url).await.expect("reachable");
    (response.status().as_u16(), response.text().await.unwrap_or_default())
}

fn call_input(base: &str) -> Value {
    json!({"http_request": {"uri": format!("{base}/healthz"), "method": "GET"}})
}

#[tokio::test]
async fn tokens_are_sent_refreshed_once_and_failures_never_stop_the_worker() {
    let api = example_api(Duration::ZERO).await;
    let fake = FakeConductor::orkes(Some(KEY), Duration::from_secs(600), UpdateV2::Supported).await;
    let env = auth_env(&fake);
    let worker = start_worker(&["auth_a", "auth_b"], &as_refs(&env)).await;

    for _ in 0..3 {
        fake.enqueue("auth_a", call_input(&api.base));
        fake.enqueue("auth_b", call_input(&api.base));
    }
    wait_for("6 results", Duration::from_secs(10), || fake.results().len() >= 6).await;
    assert_eq!(fake.unauthorized_calls(), 0, "every call carries X-Authorization: {:?}", fake.calls());
    assert_eq!(fake.token_requests(), 1, "one token for two pollers and the queue-depth readers");

    // The server expires the token: the next calls get 401 EXPIRED_TOKEN, one refresh serves everyone.
    fake.expire_all_tokens();
    for _ in 0..3 {
        fake.enqueue("auth_a", call_input(&api.base));
        fake.enqueue("auth_b", call_input(&api.base));
    }
    wait_for("12 results", Duration::from_secs(10), || fake.results().len() >= 12).await;
    assert!(fake.rejected_calls() >= 1, "the expired token was used and rejected");
    assert_eq!(fake.token_requests(), 2, "one refresh after expiry: {:?}", fake.calls());
    assert!(fake.results().iter().all(|(_, r)| r["status"] == "COMPLETED"), "{:?}", fake.results());

    // Credentials refused: the worker stays up, reports not ready and says why.
    fake.accept_credentials(false);
    fake.expire_all_tokens();
    let mut reason = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, body) = get(&format!("{}/readyz", worker.admin)).await;
        if status == 503 && body.contains("authorization is failing") {
            reason = body;
            break;
        }
        assert!(Instant::now() < deadline, "readiness never reported the auth failure: {status} {body} {reason}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(reason.contains("INVALID_CREDENTIALS"), "{reason}");
    let (_, metrics) = get(&format!("{}/metrics", worker.admin)).await;
    assert!(metrics.lines().any(|l| l == "conductor_auth_ok 0"), "{metrics}");
    assert!(!metrics.contains(KEY.1) && !reason.contains(KEY.1));

    // Accepted again: it recovers by itself (token requests back off, at most 60 s, here a few seconds).
    fake.accept_credentials(true);
    let task = fake.enqueue("auth_a", call_input(&api.base));
    wait_for("recovery", Duration::from_secs(30), || fake.results().iter().any(|(_, r)| r["taskId"] == task.as_str()))
        .await;
    let (status, _) = get(&format!("{}/readyz", worker.admin)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn tokens_are_refreshed_before_they_expire() {
    let api = example_api(Duration::ZERO).await;
    let fake = FakeConductor::orkes(Some(KEY), Duration::from_secs(3), UpdateV2::Supported).await;
    let env = auth_env(&fake);
    let _worker = start_worker(&["jwt_refresh"], &as_refs(&env)).await;
    let started = Instant::now();
    let mut sent = 0;
    while started.elapsed() < Duration::from_secs(7) {
        fake.enqueue("jwt_refresh", call_input(&api.base));
        sent += 1;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    wait_for("every result", Duration::from_secs(10), || fake.results().len() >= sent).await;
    assert!(fake.token_requests() >= 3, "a 3 s token is refreshed at 80 % of its life: {}", fake.token_requests());
    assert_eq!(fake.rejected_calls(), 0, "no call ever carried an expired token");
}

async fn fallback_case(mode: UpdateV2) {
    let api = example_api(Duration::ZERO).await;
    let fake = FakeConductor::orkes(None, Duration::from_secs(600), mode).await;
    // One slot: reports happen one after another, so the switch to POST /tasks is observable after the first.
    let env = [("CONDUCTOR_SERVER_URL", fake.api.clone()), ("CONDUCTOR_WORKER_ALL_CONCURRENCY", "1".to_owned())];
    let _worker = start_worker(&["old_server"], &as_refs(&env)).await;
    for _ in 0..4 {
        fake.enqueue("old_server", call_input(&api.base));
    }
    wait_for("4 results", Duration::from_secs(10), || fake.results().len() >= 4).await;
    let calls = fake.calls();
    let v2_calls = calls.iter().filter(|c| c.ends_with("/update-v2")).count();
    assert_eq!(v2_calls, 1, "update-v2 tried once, then never again: {calls:?}");
    assert!(fake.results().iter().all(|(endpoint, _)| endpoint == "/api/tasks"), "{:?}", fake.results());
}

#[tokio::test]
async fn update_v2_answered_404_falls_back_to_post_tasks() {
    fallback_case(UpdateV2::NotFound).await;
}

#[tokio::test]
async fn update_v2_answered_405_falls_back_to_post_tasks() {
    fallback_case(UpdateV2::MethodNotAllowed).await;
}

#[tokio::test]
async fn update_v2_replies_carry_the_next_task() {
    let api = example_api(Duration::ZERO).await;
    let fake = FakeConductor::orkes(None, Duration::from_secs(600), UpdateV2::Supported).await;
    let env = [("CONDUCTOR_SERVER_URL", fake.api.clone()), ("CONDUCTOR_WORKER_ALL_CONCURRENCY", "1".to_owned())];
    let _worker = start_worker(&["chained"], &as_refs(&env)).await;
    let queued: Vec<String> = (0..5).map(|_| fake.enqueue("chained", call_input(&api.base))).collect();
    wait_for("5 results", Duration::from_secs(10), || fake.results().len() >= 5).await;
    assert!(fake.results().iter().all(|(endpoint, _)| endpoint == "/api/tasks/update-v2"), "{:?}", fake.results());
    assert_eq!(fake.chained(), 4, "with one slot, tasks 2-5 arrive in update-v2 replies: {:?}", fake.calls());
    let results = fake.results();
    let ids: Vec<_> = results.iter().map(|(_, r)| r["taskId"].as_str().unwrap_or_default().to_owned()).collect();
    assert_eq!(ids, queued, "executed in queue order, one at a time");
}

/// A server whose `/api/token` answered 404 (a gateway mid-rollout) and that then requires a token: the first
/// 401 makes the worker ask for one at once, and no task is lost on the way.
#[tokio::test]
async fn a_404_from_the_token_endpoint_is_not_trusted_for_life() {
    let api = example_api(Duration::ZERO).await;
    let fake = FakeConductor::orkes(None, Duration::from_secs(600), UpdateV2::Supported).await;
    let env = auth_env(&fake);
    let _worker = start_worker(&["reprobe"], &as_refs(&env)).await;
    fake.enqueue("reprobe", call_input(&api.base));
    wait_for("the first result", Duration::from_secs(10), || fake.results().len() == 1).await;
    assert_eq!(fake.token_requests(), 1, "asked once, answered 404");

    fake.require_credentials(Some(KEY));
    for _ in 0..3 {
        fake.enqueue("reprobe", call_input(&api.base));
    }
    wait_for("four results", Duration::from_secs(15), || fake.results().len() >= 4).await;
    assert!(fake.unauthorized_calls() >= 1, "a call without a token was refused: {:?}", fake.calls());
    assert_eq!(fake.token_requests(), 2, "asked again after the 401: {:?}", fake.calls());
    assert!(fake.results().iter().all(|(_, r)| r["status"] == "COMPLETED"), "{:?}", fake.results());
}

/// Updates refused with a plain 401: the worker gets a new token and sends the result again (at once, then from
/// the outbox when the replay is refused too); the result is delivered, none is counted lost.
#[tokio::test]
async fn a_401_on_an_update_refreshes_the_token_and_the_result_is_delivered() {
    let api = example_api(Duration::ZERO).await;
    let fake = FakeConductor::orkes(Some(KEY), Duration::from_secs(600), UpdateV2::Supported).await;
    let env = auth_env(&fake);
    let worker = start_worker(&["refused"], &as_refs(&env)).await;
    fake.refuse_next_updates(1);
    let first = fake.enqueue("refused", call_input(&api.base));
    wait_for("the first result", Duration::from_secs(10), || !fake.results().is_empty()).await;
    assert_eq!(fake.results()[0].1["taskId"], first.as_str());
    assert_eq!(fake.token_requests(), 2, "one refresh for the refused update: {:?}", fake.calls());

    fake.refuse_next_updates(3);
    let second = fake.enqueue("refused", call_input(&api.base));
    wait_for("the second result", Duration::from_secs(20), || fake.results().len() >= 2).await;
    assert_eq!(fake.results()[1].1["taskId"], second.as_str());
    let metrics = reqwest::get(format!("{}/metrics", worker.admin)).await.unwrap().text().await.unwrap();
    let dropped: Vec<&str> = metrics
        .lines()
        .filter(|line| line.starts_with("task_result_dropped_total{") && !line.ends_with(" 0"))
        .collect();
    assert!(dropped.is_empty(), "no result dropped: {dropped:?}");
}
