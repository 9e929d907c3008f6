//! Hostile terminationConditions (issue 4): each is stopped within 100 ms of wall time and fails terminally, and a
//! benign condition evaluated at the same time keeps answering within 100 ms. A binary of its own, so that its
//! timings are not disturbed by the unit tests running in parallel; a sample disturbed by another process anyway
//! is taken again (up to three times).

use std::sync::Arc;
use std::time::Duration;

use conductor_http_worker::condition::{ConditionError, ConditionEvaluator, Limits, Verdict};
use serde_json::json;
use tokio::time::Instant;

/// Each hostile script fails within 100 ms of wall time, and a benign condition evaluated at the same time keeps
/// answering within 100 ms, including while a thread is stuck in a native built-in (`fill`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_scripts_are_stopped_fast_and_do_not_delay_benign_ones() {
    let evaluator = ConditionEvaluator::start(2, Limits::default()).unwrap();
    let benign: Arc<str> = "$.output.n > 1".into();
    assert_eq!(evaluator.evaluate(benign.clone(), json!({"output": {"n": 2}})).await, Ok(Verdict::Holds));
    let hostile = [
        "while(true){}",
        "function f(){ return f(); } f()",
        "new Array(1e7).fill(0)",
        "'x'.repeat(1e9)",
        "function g(){ var s = 0; for (var i = 0; i < 900000; i++) s += i; return s } for(;;) g()",
    ];
    for source in hostile {
        // The bound is wall time on a machine this test shares (2 cores here): a sample taken while another process
        // held a core is taken again, up to three times; the script must fail every time, and one sample must meet
        // both bounds.
        let mut samples = Vec::new();
        for _ in 0..ATTEMPTS {
            let sample = measure(&evaluator, &benign, source).await;
            assert!(
                matches!(sample.result, Err(ConditionError::LimitExceeded(_) | ConditionError::Timeout(_))),
                "{source}: {:?}",
                sample.result
            );
            assert!(sample.benign_runs > 10, "{source}: the benign loop ran {} times", sample.benign_runs);
            eprintln!(
                "{source}: stopped after {:?}; benign worst latency {:?} over {} evaluations",
                sample.took, sample.benign_worst, sample.benign_runs
            );
            let within = sample.took <= BOUND && sample.benign_worst <= BOUND;
            samples.push(sample);
            if within {
                break;
            }
        }
        let last = samples.last().unwrap();
        assert!(last.took <= BOUND, "{source} was stopped after {:?} (every attempt: {samples:?})", last.took);
        assert!(last.benign_worst <= BOUND, "{source}: a benign condition waited {:?}", last.benign_worst);
    }
}

const BOUND: Duration = Duration::from_millis(100);
const ATTEMPTS: usize = 3;

#[derive(Debug)]
struct Sample {
    result: Result<Verdict, ConditionError>,
    took: Duration,
    benign_worst: Duration,
    benign_runs: u32,
}

/// Evaluates `source` while a benign condition is evaluated every 2 ms, and for 100 ms after.
async fn measure(evaluator: &ConditionEvaluator, benign: &Arc<str>, source: &str) -> Sample {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = {
        let (evaluator, benign) = (evaluator.clone(), benign.clone());
        tokio::spawn(async move {
            let mut worst = Duration::ZERO;
            let mut runs = 0;
            while stopped.try_recv().is_err() {
                let started = Instant::now();
                let verdict = evaluator.evaluate(benign.clone(), json!({"output": {"n": 2}})).await;
                worst = worst.max(started.elapsed());
                assert_eq!(verdict, Ok(Verdict::Holds));
                runs += 1;
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            (worst, runs)
        })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    let started = Instant::now();
    let result = evaluator.evaluate(source.into(), json!({})).await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(100)).await; // keep measuring the benign latency after it
    let _ = stop.send(());
    let (benign_worst, benign_runs) = watcher.await.expect("the benign loop asserts every verdict");
    Sample { result, took, benign_worst, benign_runs }
}
