//! The engine, in this process (the evaluator processes run the same code; `tests/conditions.rs` drives them).

use super::engine::Engine;
use super::*;
use serde_json::{Value, json};

const TUTORIAL: &str = "(function(){ return $.output.response.statusCode == 200 && $.output.response.body.body.status == \"COMPLETED\";})();";

fn engine() -> Engine {
    Engine::new(Limits::default()).unwrap()
}

fn dollar(status: &str) -> Value {
    json!({"output": {"response": {"statusCode": 200, "body": {"statusCode": 200, "body": {"status": status}}}}})
}

#[test]
fn tutorial_condition_reads_the_nested_status() {
    let mut engine = engine();
    engine.compile(TUTORIAL).unwrap();
    assert_eq!(engine.evaluate(TUTORIAL, &dollar("PROCESSING")), Ok(Verdict::NotYet));
    assert_eq!(engine.evaluate(TUTORIAL, &dollar("COMPLETED")), Ok(Verdict::Holds));
}

#[test]
fn result_forms_and_errors() {
    let mut engine = engine();
    let cases: [(&str, Result<Verdict, &str>); 10] = [
        ("$.output.n > 2", Ok(Verdict::Holds)),
        ("1", Ok(Verdict::Holds)),
        ("0", Ok(Verdict::NotYet)),
        ("-1", Ok(Verdict::Fails)),
        ("$.output.n == 3 ? 1 : -1", Ok(Verdict::Holds)),
        ("'done'", Err("the string")),
        ("({a: 1})", Err("an object")),
        ("(function(){})()", Err("undefined")),
        ("$.output.missing.deeper", Err("threw")),
        ("throw new Error('custom reason')", Err("custom reason")),
    ];
    for (source, want) in cases {
        let got = engine.evaluate(source, &json!({"output": {"n": 3}}));
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{source}"),
            (Err(error), Err(fragment)) => assert!(error.to_string().contains(fragment), "{source}: {error}"),
            (got, want) => panic!("{source}: got {got:?}, want {want:?}"),
        }
    }
}

#[test]
fn syntax_errors_are_reported_at_compile_time() {
    let mut engine = engine();
    let error = engine.compile("(function(){ return $.output ==; })()").unwrap_err();
    assert!(matches!(error, ConditionError::Syntax(_)), "{error:?}");
    // A brace that closes the wrapping block early is still a syntax error, not an escape.
    let error = engine.compile("true }").unwrap_err();
    assert!(matches!(error, ConditionError::Syntax(_)), "{error:?}");
}

/// Whatever one evaluation leaves behind, the next sees a pristine realm: globals, prototypes, built-ins, `$`.
#[test]
fn nothing_one_evaluation_writes_reaches_the_next() {
    let mut engine = engine();
    let polluters = [
        "globalThis.leak = $.secret; var alsoLeak = $.secret; implicit = $.secret; true",
        "Object.prototype.polluted = $.secret; Array.prototype.polluted = $.secret; true",
        "JSON.parse = function(){ return {status: 'COMPLETED'} }; Math.max = function(){ return 1e9 }; true",
        "Object.defineProperty(globalThis, '$', {get(){ return {output: {forged: true}} }, set(){}, configurable: false}); true",
        "String.prototype.includes = function(){ return true }; Array.prototype.some = function(){ return true }; true",
        "Object.freeze(Object.prototype); true",
    ];
    for polluter in polluters {
        assert_eq!(engine.evaluate(polluter, &json!({"secret": "s3cr3t"})), Ok(Verdict::Holds), "{polluter}");
        engine.prepare();
        let probes = [
            "typeof leak === 'undefined' && typeof alsoLeak === 'undefined' && typeof implicit === 'undefined'",
            "({}).polluted === undefined && [].polluted === undefined",
            "JSON.parse('{\"status\":\"PENDING\"}').status === 'PENDING' && Math.max(1, 2) === 2",
            "$.output.forged === undefined && $.output.n === 1",
            "!'abc'.includes('x') && ![1].some(function(x){ return x > 5 })",
            "(function(){ var o = {}; o.x = 1; return o.x === 1 })()",
        ];
        for probe in probes {
            assert_eq!(
                engine.evaluate(probe, &json!({"output": {"n": 1}})),
                Ok(Verdict::Holds),
                "{probe} after {polluter}"
            );
        }
    }
}

#[test]
fn runaway_scripts_are_stopped_and_the_engine_keeps_working() {
    let mut engine = engine();
    let hostile = [
        "while(true){}",
        "function f(){ return f(); } f()",
        "function g(){ var s = 0; for (var i = 0; i < 900000; i++) s += i; return s } for(;;) g()",
    ];
    for source in hostile {
        let started = tokio::time::Instant::now();
        let error = engine.evaluate(source, &json!({})).unwrap_err();
        assert!(matches!(error, ConditionError::LimitExceeded(_) | ConditionError::Timeout(_)), "{source}: {error:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{source} took {:?}", started.elapsed());
        assert_eq!(engine.evaluate("true", &json!({})), Ok(Verdict::Holds), "after {source}");
    }
}

#[test]
fn conditions_are_recognised_once() {
    let native = Condition::new("$.output.response.body.state == 'DONE'");
    assert!(native.is_native());
    let engine = Condition::new("$.output.response.body.items.some(function(i){ return i.done })");
    assert!(!engine.is_native());
    assert_eq!(engine.source(), "$.output.response.body.items.some(function(i){ return i.done })");
}
