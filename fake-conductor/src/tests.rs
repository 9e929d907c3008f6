//! The fake answers as the task API does.

use std::time::Duration;

use crate::{FakeConductor, Options, UpdateV2};
use serde_json::{Value, json};

async fn poll(client: &reqwest::Client, fake: &FakeConductor, task_type: &str, count: usize) -> Vec<Value> {
    let url = format!("{}/tasks/poll/batch/{task_type}?count={count}&timeout=50", fake.api);
    client.get(url).send().await.unwrap().json().await.unwrap()
}

#[tokio::test]
async fn queued_tasks_are_polled_parked_and_redelivered_with_their_output() {
    let fake = FakeConductor::start(Options::default()).await;
    let client = reqwest::Client::new();
    let id = fake.enqueue("t", json!({"k": 1}));
    assert!(poll(&client, &fake, "other", 5).await.is_empty(), "queues are per task type");
    let tasks = poll(&client, &fake, "t", 5).await;
    assert_eq!(tasks.len(), 1);
    assert_eq!(tasks[0]["taskId"], id.as_str());
    assert_eq!(tasks[0]["inputData"], json!({"k": 1}));
    assert_eq!(tasks[0]["pollCount"], 1);
    assert!(poll(&client, &fake, "t", 5).await.is_empty(), "a delivered task is not handed out twice");

    let park = json!({"taskId": id, "workflowInstanceId": "w", "status": "IN_PROGRESS", "callbackAfterSeconds": 0,
                      "outputData": {"saved": true}});
    let answer = client.post(format!("{}/tasks", fake.api)).json(&park).send().await.unwrap();
    assert!(answer.status().is_success());
    let again = poll(&client, &fake, "t", 5).await;
    assert_eq!(again[0]["pollCount"], 2);
    assert_eq!(again[0]["outputData"], json!({"saved": true}));
    let stored: Value = client.get(format!("{}/tasks/{id}", fake.api)).send().await.unwrap().json().await.unwrap();
    assert_eq!(stored["outputData"], json!({"saved": true}));

    let done = json!({"taskId": id, "workflowInstanceId": "w", "status": "COMPLETED", "outputData": {}});
    let next = fake.enqueue("t", json!({"k": 2}));
    let reply = client.post(format!("{}/tasks/update-v2", fake.api)).json(&done).send().await.unwrap();
    let chained: Value = reply.json().await.unwrap();
    assert_eq!(chained["taskId"], next.as_str(), "update-v2 hands out the next task of the type");
    assert_eq!(fake.chained(), 1);
    assert_eq!(fake.results().len(), 2);
    let unknown = json!({"taskId": "t-999", "status": "COMPLETED"});
    let answer = client.post(format!("{}/tasks", fake.api)).json(&unknown).send().await.unwrap();
    assert_eq!(answer.status(), 404);
}

#[tokio::test]
async fn a_long_poll_returns_when_a_task_arrives() {
    let fake = FakeConductor::start(Options::default()).await;
    let client = reqwest::Client::new();
    let url = format!("{}/tasks/poll/batch/t?count=1&timeout=5000", fake.api);
    let waiting =
        tokio::spawn(async move { client.get(url).send().await.unwrap().json::<Vec<Value>>().await.unwrap() });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = tokio::time::Instant::now();
    fake.enqueue("t", json!({}));
    let tasks = waiting.await.unwrap();
    assert_eq!(tasks.len(), 1);
    assert!(started.elapsed() < Duration::from_secs(2), "woken, not timed out: {:?}", started.elapsed());
}

#[tokio::test]
async fn orkes_auth_and_injected_failures() {
    let fake = FakeConductor::orkes(Some(("id", "secret")), Duration::from_secs(600), UpdateV2::NotFound).await;
    let client = reqwest::Client::new();
    let poll_url = format!("{}/tasks/poll/batch/t", fake.api);
    assert_eq!(client.get(&poll_url).send().await.unwrap().status(), 401, "no token");
    let bad = client.post(format!("{}/token", fake.api)).json(&json!({"keyId": "id", "keySecret": "x"})).send().await;
    assert_eq!(bad.unwrap().status(), 401);
    let token: Value = client
        .post(format!("{}/token", fake.api))
        .json(&json!({"keyId": "id", "keySecret": "secret"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["token"].as_str().unwrap().to_owned();
    let authorized = |url: &str| client.get(url).header("X-Authorization", &token).send();
    assert_eq!(authorized(&poll_url).await.unwrap().status(), 200);
    fake.fail_polls(true);
    assert_eq!(authorized(&poll_url).await.unwrap().status(), 503);
    fake.fail_polls(false);
    fake.expire_all_tokens();
    let expired = authorized(&poll_url).await.unwrap();
    assert_eq!(expired.status(), 401);
    assert_eq!(expired.json::<Value>().await.unwrap()["error"], "EXPIRED_TOKEN");
    let v2 = client.post(format!("{}/tasks/update-v2", fake.api)).json(&json!({})).send().await.unwrap();
    assert_eq!(v2.status(), 404, "update-v2 missing");
    assert_eq!(fake.token_requests(), 2);
    assert!(fake.calls().iter().any(|c| c == "GET /api/tasks/poll/batch/t"), "{:?}", fake.calls());
}

#[tokio::test]
async fn preloaded_tasks_are_made_from_the_template() {
    let fake = FakeConductor::start(Options::default()).await;
    fake.preload("b", 3, r#"{"n":{{ID}}}"#, 0);
    let client = reqwest::Client::new();
    let tasks = poll(&client, &fake, "b", 10).await;
    let inputs: Vec<_> = tasks.iter().map(|t| t["inputData"]["n"].clone()).collect();
    assert_eq!(inputs, [json!(0), json!(1), json!(2)]);
    let size: String =
        client.get(format!("{}/tasks/queue/size?taskType=b", fake.api)).send().await.unwrap().text().await.unwrap();
    assert_eq!(size, "0");
}

#[tokio::test]
async fn a_lease_extension_changes_nothing_but_is_counted() {
    let fake = FakeConductor::start(Options::default()).await;
    let client = reqwest::Client::new();
    let id = fake.enqueue("t", json!({}));
    assert_eq!(poll(&client, &fake, "t", 1).await.len(), 1);
    let lease = json!({"taskId": id, "workflowInstanceId": "w", "status": "IN_PROGRESS", "extendLease": true});
    let answer = client.post(format!("{}/tasks", fake.api)).json(&lease).send().await.unwrap();
    assert!(answer.status().is_success());
    assert!(poll(&client, &fake, "t", 1).await.is_empty(), "the task is not queued again: it is still running");
    let stats: Value =
        client.get(format!("http://{}/bench/stats", fake.addr)).send().await.unwrap().json().await.unwrap();
    assert_eq!(stats["leaseExtensions"], 1, "{stats}");
    assert_eq!(stats["done"], 0, "{stats}");
}
