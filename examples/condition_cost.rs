//! What a `terminationCondition` costs, for BENCHMARKS.md ("Conditions"). Two measurements:
//!
//! - `isolation`: the ways of giving each evaluation state of its own that were considered, timed with
//!   boa directly on one thread: a reused `Context` (the old design, not isolated), a fresh `Context` per
//!   evaluation (made on the spot, or made ahead as the shipped engine does while idle), and a fresh realm in one
//!   long-lived `Context`.
//! - `evaluator`: the shipped path, through [`ConditionEvaluator`]: the native evaluator, and the engine in evaluator
//!   processes (one caller back to back, one caller 5 ms apart, and 8 at once), for a small `$` (the tutorial's body) and larger bodies.
//!
//! ```sh
//! cargo build --release --bin conductor-http-worker
//! cargo run --release --example condition_cost -- target/release/conductor-http-worker [isolation|evaluator]
//! ```
//!
//! Each case prints p50, p99 and max of per-evaluation wall time over its rounds, after a warm-up.

#![allow(
    clippy::unwrap_used,
    clippy::disallowed_types,
    reason = "a benchmark: it times synchronous boa calls with std's clock, and a failed setup should just stop it"
)]

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use boa_engine::{Context, JsValue, Script, Source, js_string};
use conductor_http_worker::condition::dollar::{BodyView, Dollar, PollView, ResponseView};
use conductor_http_worker::condition::{Condition, ConditionEvaluator, EvaluatorOptions, Limits, Path};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

/// The tutorial's condition: the native evaluator answers it.
const NATIVE: &str = "$.output.response.body.status == 'COMPLETED'";
/// The same verdict in a shape only the engine answers.
const ENGINE: &str = "(function(){ var s = $.output.response.body.status; return s === 'COMPLETED'; })()";
const INPUT: &str = r#"{"http_request": {"uri": "http://api.internal/jobs/42", "method": "GET",
    "headers": {"Authorization": "Bearer abc"}, "pollingInterval": 5, "pollingStrategy": "FIXED",
    "terminationCondition": "..."}}"#;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(program) = args.first().map(PathBuf::from) else {
        eprintln!("usage: condition_cost <path to the conductor-http-worker binary> [isolation|evaluator]");
        std::process::exit(2);
    };
    let which = args.get(1).map_or("all", String::as_str);
    if matches!(which, "all" | "isolation") {
        isolation();
    }
    if matches!(which, "all" | "evaluator") {
        evaluator(program);
    }
}

/// A job body of about `bytes` bytes with the tutorial's `status` field.
fn body(bytes: usize) -> String {
    let item = r#"{"id":12345,"name":"item-name","ok":true},"#;
    let count = bytes.saturating_sub(64) / item.len();
    let items = item.repeat(count);
    format!(r#"{{"status":"COMPLETED","items":[{}]}}"#, items.trim_end_matches(','))
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let at = |q: f64| samples[((samples.len() as f64 - 1.0) * q).round() as usize];
    let us = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{label:<58} n={:<6} p50 {:>9.1} µs  p99 {:>9.1} µs  max {:>9.1} µs",
        samples.len(),
        us(at(0.5)),
        us(at(0.99)),
        us(*samples.last().unwrap())
    );
}

fn time(rounds: usize, mut f: impl FnMut()) -> Vec<Duration> {
    for _ in 0..rounds / 10 {
        f();
    }
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed()
        })
        .collect()
}

// ------------------------------------------------------------------------------------------------ isolation

fn isolation() {
    println!("isolation candidates (boa on one thread, the engine condition, tutorial-sized $)");
    let dollar: Value = serde_json::from_str(&format!(
        r#"{{"input": {INPUT}, "output": {{"response": {{"statusCode": 200, "body": {}}}, "pollCount": 1}}}}"#,
        body(200)
    ))
    .unwrap();
    let wrapped = format!("{{{ENGINE}\n}}");
    let run = |context: &mut Context| {
        let script = Script::parse(Source::from_bytes(wrapped.as_bytes()), None, context).unwrap();
        let value = JsValue::from_json(&dollar, context).unwrap();
        context.global_object().set(js_string!("$"), value, false, context).unwrap();
        let result = script.evaluate(context).unwrap();
        assert_eq!(result.as_boolean(), Some(true));
    };
    let rounds = 2000;

    let mut reused = Context::default();
    report("reused Context (not isolated)", time(rounds, || run(&mut reused)));

    report("fresh Context, made per evaluation", time(rounds, || run(&mut Context::default())));

    // Made ahead (the engine makes the next one while idle): only the evaluation is on the caller's path.
    let mut spare = Some(Context::default());
    let mut samples = Vec::with_capacity(rounds);
    for n in 0..rounds + rounds / 10 {
        let mut context = spare.take().unwrap();
        let start = Instant::now();
        run(&mut context);
        let took = start.elapsed();
        drop(context);
        spare = Some(Context::default());
        if n >= rounds / 10 {
            samples.push(took);
        }
    }
    report("fresh Context, made ahead (shipped)", samples);
    report("  making one Context", time(rounds, || drop(Context::default())));

    let mut host = Context::default();
    let mut by_thousand = Vec::new();
    let samples = time(rounds, || {
        let realm = host.create_realm().unwrap();
        let previous = host.enter_realm(realm);
        run(&mut host);
        host.enter_realm(previous);
    });
    for chunk in samples.chunks(rounds / 4) {
        let mut chunk = chunk.to_vec();
        chunk.sort();
        by_thousand.push(format!("{:.0}", chunk[chunk.len() / 2].as_secs_f64() * 1e6));
    }
    println!("  fresh realm p50 per quarter of the run (µs): {}", by_thousand.join(", "));
    report("fresh realm in one Context", samples);
}

// ------------------------------------------------------------------------------------------------ evaluator

fn evaluator(program: PathBuf) {
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    runtime.block_on(async move {
        let options = EvaluatorOptions {
            program,
            processes: 2,
            limits: Limits::default(),
            memory_bytes: 512 << 20,
            metrics: None,
        };
        let evaluator = ConditionEvaluator::start(options).expect("start the evaluator processes");
        let input: Arc<RawValue> = Arc::from(RawValue::from_string(INPUT.to_owned()).unwrap());
        let headers: Arc<Map<String, Value>> =
            Arc::new([("Content-Type".to_owned(), json!(["application/json"]))].into_iter().collect());
        println!("shipped evaluator (2 evaluator processes, release build)");
        for (size_label, bytes, rounds) in [("200 B", 200, 5000), ("64 KiB", 64 << 10, 1000), ("1 MiB", 1 << 20, 100)] {
            let body: Arc<RawValue> = Arc::from(RawValue::from_string(body(bytes)).unwrap());
            for (path_label, source, expected) in [("native", NATIVE, Path::Native), ("engine", ENGINE, Path::Engine)] {
                let condition = Arc::new(Condition::new(source));
                evaluator.check(&condition).await.unwrap();
                let evaluate_once = {
                    let (evaluator, condition, input, headers, body) =
                        (evaluator.clone(), condition.clone(), input.clone(), headers.clone(), body.clone());
                    move || {
                        let (evaluator, condition, input, headers, body) =
                            (evaluator.clone(), condition.clone(), input.clone(), headers.clone(), body.clone());
                        async move {
                            let dollar = Dollar {
                                input: &input,
                                output: PollView {
                                    response: ResponseView {
                                        status: 200,
                                        reason: "OK",
                                        headers: &headers,
                                        body: BodyView::Json(&body),
                                    },
                                    poll_count: 1,
                                },
                            };
                            let start = Instant::now();
                            let (verdict, path) = evaluator.evaluate(&condition, &dollar).await;
                            let took = start.elapsed();
                            assert!(verdict.is_ok(), "{verdict:?}");
                            (took, path)
                        }
                    }
                };
                let mut samples = Vec::with_capacity(rounds);
                for n in 0..rounds + rounds / 10 {
                    let (took, path) = evaluate_once().await;
                    assert_eq!(path, expected, "{source}");
                    if n >= rounds / 10 {
                        samples.push(took);
                    }
                }
                report(&format!("{path_label}, $ body {size_label}, one caller"), samples);
                if expected == Path::Engine {
                    // As in real polling: evaluations apart, so the next Context is made between them.
                    let mut samples = Vec::with_capacity(rounds / 4);
                    for _ in 0..rounds / 4 {
                        tokio::time::sleep(Duration::from_millis(5)).await;
                        samples.push(evaluate_once().await.0);
                    }
                    report(&format!("{path_label}, $ body {size_label}, one caller, 5 ms apart"), samples);
                    let started = Instant::now();
                    let mut handles = Vec::new();
                    for _ in 0..8 {
                        let once = evaluate_once.clone();
                        handles.push(tokio::spawn(async move {
                            let mut samples = Vec::new();
                            for _ in 0..rounds / 8 {
                                samples.push(once().await.0);
                            }
                            samples
                        }));
                    }
                    let mut samples = Vec::new();
                    for handle in handles {
                        samples.extend(handle.await.unwrap());
                    }
                    let per_second = samples.len() as f64 / started.elapsed().as_secs_f64();
                    report(&format!("{path_label}, $ body {size_label}, 8 callers ({per_second:.0}/s)"), samples);
                }
            }
        }
    });
}
