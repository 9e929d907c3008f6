use super::*;
use crate::metrics::Metrics;
use crate::test_support::{FakeConductor, completed};
use prometheus_client::registry::Registry;

fn setup() -> (Arc<FakeConductor>, Outbox<FakeConductor>, TaskMetrics, Arc<Registry>, CancellationToken) {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry, vec![])).task_type("t");
    let api = Arc::new(FakeConductor::default());
    let outbox = Outbox::new(api.clone(), Arc::new(Health::default()), Duration::from_secs(20), 1 << 20);
    let stop = CancellationToken::new();
    tokio::spawn(outbox.clone().run(stop.clone()));
    (api, outbox, metrics, Arc::new(registry), stop)
}

fn sample(registry: &Registry, series: &str) -> Option<f64> {
    crate::metrics::encode(registry).lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test(start_paused = true)]
async fn retries_until_delivered() {
    let (api, outbox, metrics, registry, _stop) = setup();
    api.fail_next([ClientError::Status { code: 503, body: String::new() }, ClientError::Transport("reset".into())]);
    let error = ClientError::Transport("first".into());
    outbox.push(completed("a"), metrics, Instant::now() + Duration::from_secs(60), &error).await;
    assert_eq!(outbox.len(), 1);
    assert!(outbox.flush(Instant::now() + Duration::from_secs(30)).await);
    assert_eq!(api.delivered.lock().unwrap().len(), 1);
    assert_eq!(api.attempts.load(Ordering::SeqCst), 3, "two failures, then delivered");
    assert_eq!(sample(&registry, "task_update_retry_total{taskType=\"t\"}"), Some(3.0), "first failure + two retries");
    assert_eq!(sample(&registry, "task_updates_pending{taskType=\"t\"}"), Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn gives_up_at_the_deadline_and_counts_the_loss() {
    let (api, outbox, metrics, registry, _stop) = setup();
    api.always_fail.store(true, Ordering::SeqCst);
    let started = Instant::now();
    outbox
        .push(completed("doomed"), metrics, started + Duration::from_secs(20), &ClientError::Transport("x".into()))
        .await;
    assert!(outbox.flush(started + Duration::from_secs(120)).await);
    assert!(
        started.elapsed() >= Duration::from_secs(20) && started.elapsed() < Duration::from_secs(21),
        "{:?}",
        started.elapsed()
    );
    assert!(api.attempts.load(Ordering::SeqCst) >= 4);
    assert_eq!(sample(&registry, "task_result_dropped_total{taskType=\"t\",reason=\"lost\"}"), Some(1.0));
}

#[tokio::test(start_paused = true)]
async fn a_server_down_past_the_deadline_still_gets_the_result_when_it_returns() {
    let (api, _, metrics, registry, _stop) = setup();
    let outbox = Outbox::new(api.clone(), Arc::new(Health::default()), Duration::from_secs(120), 1 << 20);
    tokio::spawn(outbox.clone().run(CancellationToken::new()));
    api.always_fail.store(true, Ordering::SeqCst);
    let started = Instant::now();
    outbox
        .push(completed("late"), metrics, started + Duration::from_secs(10), &ClientError::Transport("down".into()))
        .await;
    let back = api.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_secs(45)).await;
        back.always_fail.store(false, Ordering::SeqCst);
    });
    assert!(outbox.flush(started + Duration::from_secs(200)).await);
    assert_eq!(api.delivered.lock().unwrap().len(), 1, "delivered after the deadline, once the server answered");
    assert!(started.elapsed() < Duration::from_secs(80), "{:?}", started.elapsed());
    assert_eq!(sample(&registry, "task_result_dropped_total{taskType=\"t\",reason=\"lost\"}"), Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn stops_when_the_server_shows_the_task_final() {
    let (api, outbox, metrics, registry, _stop) = setup();
    api.always_fail.store(true, Ordering::SeqCst);
    *api.status.lock().unwrap() = Some("COMPLETED".into());
    outbox
        .push(
            completed("done-elsewhere"),
            metrics,
            Instant::now() + Duration::from_secs(3600),
            &ClientError::Transport("x".into()),
        )
        .await;
    assert!(outbox.flush(Instant::now() + Duration::from_secs(600)).await);
    assert_eq!(
        api.attempts.load(Ordering::SeqCst),
        STATUS_CHECK_AFTER - 1,
        "checked after {STATUS_CHECK_AFTER} failures"
    );
    assert_eq!(sample(&registry, "task_update_superseded_total{taskType=\"t\"}"), Some(1.0));
    assert_eq!(sample(&registry, "task_result_dropped_total{taskType=\"t\",reason=\"lost\"}"), Some(0.0));
}

#[tokio::test(start_paused = true)]
async fn refusals_end_retries_and_flush_reports_leftovers() {
    let (api, outbox, metrics, registry, _stop) = setup();
    api.fail_next([ClientError::Status { code: 400, body: "bad".into() }]);
    outbox
        .push(
            completed("refused"),
            metrics.clone(),
            Instant::now() + Duration::from_secs(60),
            &ClientError::Transport("x".into()),
        )
        .await;
    assert!(outbox.flush(Instant::now() + Duration::from_secs(10)).await);
    assert_eq!(sample(&registry, "task_result_dropped_total{taskType=\"t\",reason=\"rejected\"}"), Some(1.0));

    api.always_fail.store(true, Ordering::SeqCst);
    outbox
        .push(
            completed("stuck"),
            metrics,
            Instant::now() + Duration::from_secs(3600),
            &ClientError::Transport("x".into()),
        )
        .await;
    assert!(!outbox.flush(Instant::now() + Duration::from_secs(5)).await, "not empty at the flush deadline");
    assert_eq!(outbox.len(), 1);
}
