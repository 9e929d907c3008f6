//! Hostile terminationConditions against the real evaluator processes (this crate's binary under its hidden
//! subcommand): runaway scripts, native built-ins that never give control back, huge allocations, more of them
//! than there are evaluators, and state left behind for the next evaluation. A binary of its own, so that its
//! timings are not disturbed by the unit tests running in parallel; a sample disturbed by another process anyway is
//! taken again (up to three times).

use std::sync::Arc;
use std::time::Duration;

use conductor_http_worker::condition::dollar::{BodyView, Dollar, PollView, ResponseView};
use conductor_http_worker::condition::{
    Condition, ConditionError, ConditionEvaluator, EvaluatorOptions, Limits, Path, Verdict,
};
use conductor_http_worker::metrics::Metrics;
use prometheus_client::registry::Registry;
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use tokio::time::Instant;

const PROGRAM: &str = env!("CARGO_BIN_EXE_conductor-http-worker");
const MEMORY: u64 = 256 << 20;

fn evaluator(processes: usize) -> (ConditionEvaluator, Registry) {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry, vec![]));
    let options = EvaluatorOptions {
        program: PROGRAM.into(),
        processes,
        limits: Limits::default(),
        memory_bytes: MEMORY,
        metrics: Some(metrics.evaluator()),
    };
    (ConditionEvaluator::start(options).expect("the evaluator starts"), registry)
}

/// `$` with this task input and this JSON body (status 200).
struct Owned {
    input: Box<RawValue>,
    body: Box<RawValue>,
    headers: Map<String, Value>,
}

impl Owned {
    fn new(input: &str, body: &str) -> Self {
        Self {
            input: RawValue::from_string(input.into()).expect("input is JSON"),
            body: RawValue::from_string(body.into()).expect("body is JSON"),
            headers: Map::new(),
        }
    }

    fn dollar(&self) -> Dollar<'_> {
        let response =
            ResponseView { status: 200, reason: "OK", headers: &self.headers, body: BodyView::Json(&self.body) };
        Dollar { input: &self.input, output: PollView { response, poll_count: 1 } }
    }
}

async fn evaluate(evaluator: &ConditionEvaluator, source: &str, dollar: &Owned) -> Result<Verdict, ConditionError> {
    evaluator.evaluate(&Condition::new(source), &dollar.dollar()).await.0
}

/// A condition outside the native subset, so that it reaches the engine; true when `n > 1`.
const BENIGN: &str = "[$.output.response.body.n].some(function(n){ return n > 1 })";

fn counter(registry: &Registry, series: &str) -> f64 {
    conductor_http_worker::metrics::encode(registry)
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(-1.0)
}

/// Each hostile script fails within 150 ms of wall time, and a benign condition evaluated at the same time keeps
/// answering within 100 ms, including while a process is stuck in a native built-in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_scripts_are_stopped_fast_and_do_not_delay_benign_ones() {
    let (evaluator, _registry) = evaluator(2);
    let body = Owned::new("{}", r#"{"n": 2}"#);
    // Known to answer: from now on it runs in the main lane.
    assert_eq!(evaluate(&evaluator, BENIGN, &body).await, Ok(Verdict::Holds));
    let hostile = [
        "while(true){}",
        "function f(){ return f(); } f()",
        "new Array(1e7).fill(0).length > 0",
        "'x'.repeat(1e9).length > 0",
        "/(a+)+$/.test('a'.repeat(40) + 'b')",
        "var a = []; for (var i = 0; i < 3e5; i++) a.push((i * 7919) % 100003); a.sort(function(x, y){ return x - y }); a.sort().length > 0",
        "function g(){ var s = 0; for (var i = 0; i < 900000; i++) s += i; return s } for(;;) g()",
    ];
    for source in hostile {
        let mut samples = Vec::new();
        for _ in 0..ATTEMPTS {
            let sample = measure(&evaluator, &body, source).await;
            // Stopped at a limit, at the cap, or (an allocation over the evaluator's memory limit) by its death.
            assert!(
                matches!(
                    sample.result,
                    Err(ConditionError::LimitExceeded(_) | ConditionError::Timeout(_) | ConditionError::Crashed(_))
                ),
                "{source}: {:?}",
                sample.result
            );
            assert!(sample.benign_runs > 10, "{source}: the benign loop ran {} times", sample.benign_runs);
            eprintln!(
                "{source}: stopped after {:?}; benign worst latency {:?} over {} evaluations",
                sample.took, sample.benign_worst, sample.benign_runs
            );
            let within = sample.took <= STOP_BOUND && sample.benign_worst <= BENIGN_BOUND;
            samples.push(sample);
            if within {
                break;
            }
        }
        let last = samples.last().unwrap();
        assert!(last.took <= STOP_BOUND, "{source} was stopped after {:?} (every attempt: {samples:?})", last.took);
        assert!(last.benign_worst <= BENIGN_BOUND, "{source}: a benign condition waited {:?}", last.benign_worst);
    }
}

const STOP_BOUND: Duration = Duration::from_millis(150);
const BENIGN_BOUND: Duration = Duration::from_millis(100);
const ATTEMPTS: usize = 3;

#[derive(Debug)]
struct Sample {
    result: Result<Verdict, ConditionError>,
    took: Duration,
    benign_worst: Duration,
    benign_runs: u32,
}

/// Evaluates `source` while the benign condition is evaluated every 2 ms, and for 100 ms after.
async fn measure(evaluator: &ConditionEvaluator, body: &Owned, source: &str) -> Sample {
    let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
    let watcher = {
        let evaluator = evaluator.clone();
        tokio::spawn(async move {
            let body = Owned::new("{}", r#"{"n": 2}"#);
            let mut worst = Duration::ZERO;
            let mut runs = 0;
            while stopped.try_recv().is_err() {
                let started = Instant::now();
                let verdict = evaluate(&evaluator, BENIGN, &body).await;
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
    let result = evaluate(evaluator, source, body).await;
    let took = started.elapsed();
    tokio::time::sleep(Duration::from_millis(100)).await; // keep measuring the benign latency after it
    let _ = stop.send(());
    let (benign_worst, benign_runs) = watcher.await.expect("the benign loop asserts every verdict");
    Sample { result, took, benign_worst, benign_runs }
}

/// More runaway built-ins than there are evaluator processes, all at once: each fails with a timeout, every stuck
/// process is killed (counted), no CPU is burnt afterwards, and benign conditions answer at their normal latency.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn more_runaways_than_evaluators_leave_nothing_running() {
    let (evaluator, registry) = evaluator(2);
    let body = Owned::new("{}", r#"{"n": 2}"#);
    let normal = latency(&evaluator, &body).await;
    let runaways: Vec<_> = (0..8)
        .map(|i| {
            let evaluator = evaluator.clone();
            // Distinct sources, as distinct workflows would write them.
            let source = format!("/(a+)+$/.test('a'.repeat(40 + {i}) + 'b')");
            tokio::spawn(async move {
                let body = Owned::new("{}", "{}");
                evaluate(&evaluator, &source, &body).await
            })
        })
        .collect();
    for runaway in runaways {
        let result = runaway.await.unwrap();
        assert!(matches!(result, Err(ConditionError::Timeout(_))), "{result:?}");
    }
    assert_eq!(counter(&registry, "condition_evaluator_kills_total"), 8.0);
    // Give the kills and respawns a moment, then nothing of ours may be using CPU.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before = children_cpu();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = children_cpu();
    assert!(after.saturating_sub(before) <= Duration::from_millis(30), "evaluators burnt {:?}", after - before);
    let after_runaways = latency(&evaluator, &body).await;
    eprintln!("benign p50 before {normal:?}, after {after_runaways:?}");
    assert!(after_runaways <= normal * 3 + Duration::from_millis(2), "{after_runaways:?} vs {normal:?}");
}

/// Median latency of 50 benign engine evaluations.
async fn latency(evaluator: &ConditionEvaluator, body: &Owned) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..50 {
        let started = Instant::now();
        assert_eq!(evaluate(evaluator, BENIGN, body).await, Ok(Verdict::Holds));
        samples.push(started.elapsed());
    }
    samples.sort();
    samples[samples.len() / 2]
}

/// User + system CPU time of every live child process of this test process.
fn children_cpu() -> Duration {
    let me = std::process::id().to_string();
    let mut total = Duration::ZERO;
    for entry in std::fs::read_dir("/proc").expect("/proc lists processes").flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let Some(after_name) = stat.rfind(')').map(|i| &stat[i + 1..]) else { continue };
        let fields: Vec<&str> = after_name.split_whitespace().collect();
        // After the name: state, ppid, …, utime (14th field overall = index 11 here), stime.
        if fields.get(1) == Some(&me.as_str()) {
            let ticks: u64 = fields[11].parse::<u64>().unwrap_or(0) + fields[12].parse::<u64>().unwrap_or(0);
            total += Duration::from_millis(ticks * 10);
        }
    }
    total
}

/// An allocation beyond the evaluator's memory limit fails that task terminally; the worker (this process) and
/// other conditions go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_allocation_fails_the_task_not_the_worker() {
    let (evaluator, registry) = evaluator(1);
    let body = Owned::new("{}", r#"{"n": 2}"#);
    for source in ["new Array(2**32-1).fill(0).length > 0", "'x'.repeat(2**28).length + 'y'.repeat(2**28).length > 0"] {
        let result = evaluate(&evaluator, source, &body).await;
        match &result {
            Err(error @ (ConditionError::Crashed(_) | ConditionError::Timeout(_) | ConditionError::Runtime(_))) => {
                assert!(error.is_script_fault(), "terminal: {error}");
                eprintln!("{source}: {error}");
            }
            other => panic!("{source}: {other:?}"),
        }
        assert_eq!(evaluate(&evaluator, BENIGN, &body).await, Ok(Verdict::Holds), "after {source}");
    }
    let died = counter(&registry, "condition_evaluator_respawns_total{reason=\"died\"}");
    let killed = counter(&registry, "condition_evaluator_kills_total");
    assert!(died + killed >= 1.0, "the allocating process was replaced (died {died}, killed {killed})");
}

/// What one evaluation leaves behind is invisible to the next, in the same process or another: globals,
/// prototypes, built-ins, `$` redefined as a non-configurable accessor. One task's input holds a secret; the next
/// task's condition looks for it everywhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_evaluation_sees_what_another_left() {
    let (evaluator, _registry) = evaluator(1);
    let victim =
        Owned::new(r#"{"http_request": {"headers": {"Authorization": "Bearer victim-secret"}}}"#, r#"{"n": 1}"#);
    let polluters = [
        "globalThis.stolen = $.http_request.headers.Authorization; var leaked = stolen; sneaky = stolen; true",
        "Object.prototype.stolen = $.http_request.headers.Authorization; true",
        "JSON.stringify = function(){ return 'forged' }; Array.prototype.some = function(){ return true }; true",
        "var secret = $.http_request.headers.Authorization; Object.defineProperty(globalThis, '$', {get: function(){ return {output: {response: {body: {n: 9, secret: secret}}}} }, set: function(){}, configurable: false}); true",
    ];
    for polluter in polluters {
        assert_eq!(evaluate(&evaluator, polluter, &victim).await, Ok(Verdict::Holds), "{polluter}");
        // Several times, so that whichever process or lane runs it, it runs after the polluter.
        for _ in 0..3 {
            let attacker = Owned::new("{}", r#"{"n": 1}"#);
            let probe = "JSON.stringify([typeof stolen, typeof leaked, typeof sneaky, ({}).stolen, $.output.response.body.secret, [$.output.response.body.n].some(function(n){ return n > 5 })])";
            let result = evaluate(
                &evaluator,
                &format!("{probe} === '[\"undefined\",\"undefined\",\"undefined\",null,null,false]' ? 1 : 0"),
                &attacker,
            )
            .await;
            assert_eq!(result, Ok(Verdict::Holds), "after {polluter}");
        }
    }
}

/// The native path answers the tutorial's condition without an evaluator process.
#[tokio::test]
async fn the_tutorial_condition_never_reaches_an_evaluator() {
    let options = EvaluatorOptions {
        program: PROGRAM.into(),
        processes: 1,
        limits: Limits::default(),
        memory_bytes: MEMORY,
        metrics: None,
    };
    let evaluator = ConditionEvaluator::start(options).unwrap();
    let tutorial = Condition::new(
        "(function(){ return $.output.response.statusCode == 200 && $.output.response.body.body.status == \"COMPLETED\";})();",
    );
    let done = Owned::new("{}", r#"{"statusCode": 200, "body": {"status": "COMPLETED"}}"#);
    let (verdict, path) = evaluator.evaluate(&tutorial, &done.dollar()).await;
    assert_eq!((verdict, path), (Ok(Verdict::Holds), Path::Native));
}
