use super::*;
use serde_json::json;
use tokio::time::Instant;

const TUTORIAL: &str = "(function(){ return $.output.response.statusCode == 200 && $.output.response.body.body.status == \"COMPLETED\";})();";

fn evaluator() -> ConditionEvaluator {
    ConditionEvaluator::start(1, Limits::default()).unwrap()
}

fn dollar(status: &str) -> Value {
    json!({"output": {"response": {"statusCode": 200, "body": {"statusCode": 200, "body": {"status": status}}}}})
}

#[tokio::test]
async fn tutorial_condition_reads_the_nested_status() {
    let evaluator = evaluator();
    let source: Arc<str> = TUTORIAL.into();
    evaluator.compile(source.clone()).await.unwrap();
    assert_eq!(evaluator.evaluate(source.clone(), dollar("PROCESSING")).await, Ok(Verdict::NotYet));
    assert_eq!(evaluator.evaluate(source.clone(), dollar("COMPLETED")).await, Ok(Verdict::Holds));
}

#[tokio::test]
async fn result_forms_and_errors() {
    let evaluator = evaluator();
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
        let got = evaluator.evaluate(source.into(), json!({"output": {"n": 3}})).await;
        match (got, want) {
            (Ok(got), Ok(want)) => assert_eq!(got, want, "{source}"),
            (Err(error), Err(fragment)) => assert!(error.to_string().contains(fragment), "{source}: {error}"),
            (got, want) => panic!("{source}: got {got:?}, want {want:?}"),
        }
    }
}

#[tokio::test]
async fn syntax_errors_are_reported_at_compile_time() {
    let evaluator = evaluator();
    let error = evaluator.compile("(function(){ return $.output ==; })()".into()).await.unwrap_err();
    assert!(matches!(error, ConditionError::Syntax(_)), "{error:?}");
    // A brace that closes the wrapping block early is still a syntax error, not an escape.
    let error = evaluator.compile("true }".into()).await.unwrap_err();
    assert!(matches!(error, ConditionError::Syntax(_)), "{error:?}");
}

/// Two workflows' conditions may declare the same top-level name; unwrapped, boa keeps the first script's `let`
/// as a global and the second fails with "duplicate lexical declaration".
#[tokio::test]
async fn top_level_declarations_do_not_leak_between_scripts() {
    let evaluator = evaluator();
    let first: Arc<str> = "let done = $.output.n > 1; const again = done; again".into();
    let second: Arc<str> = "let done = $.output.n > 5; const again = done; again".into();
    for (source, n, want) in [
        (&first, 2, Verdict::Holds),
        (&second, 2, Verdict::NotYet),
        (&first, 0, Verdict::NotYet),
        (&second, 9, Verdict::Holds),
    ] {
        assert_eq!(evaluator.evaluate(source.clone(), json!({"output": {"n": n}})).await, Ok(want), "{source} n={n}");
    }
}

#[tokio::test]
async fn runaway_scripts_are_stopped_and_the_evaluator_keeps_working() {
    let evaluator = evaluator();
    let hostile = [
        "while(true){}",
        "function f(){ return f(); } f()",
        "function g(){ var s = 0; for (var i = 0; i < 900000; i++) s += i; return s } for(;;) g()",
    ];
    for source in hostile {
        let started = Instant::now();
        let error = evaluator.evaluate(source.into(), json!({})).await.unwrap_err();
        assert!(matches!(error, ConditionError::LimitExceeded(_) | ConditionError::Timeout(_)), "{source}: {error:?}");
        assert!(started.elapsed() < Duration::from_secs(2), "{source} took {:?}", started.elapsed());
        assert_eq!(evaluator.evaluate("true".into(), json!({})).await, Ok(Verdict::Holds), "after {source}");
    }
}

#[tokio::test]
async fn many_concurrent_evaluations_all_get_their_own_answer() {
    let evaluator = ConditionEvaluator::start(2, Limits::default()).unwrap();
    let source: Arc<str> = "$.output.n % 2 == 0".into();
    let handles: Vec<_> = (0..200)
        .map(|n| {
            let (evaluator, source) = (evaluator.clone(), source.clone());
            tokio::spawn(async move { (n, evaluator.evaluate(source, json!({"output": {"n": n}})).await) })
        })
        .collect();
    for handle in handles {
        let (n, verdict) = handle.await.unwrap();
        assert_eq!(verdict, Ok(if n % 2 == 0 { Verdict::Holds } else { Verdict::NotYet }), "{n}");
    }
}

/// Wherever the fast path answers, boa gives the same verdict (and both parse the same conditions as valid).
#[tokio::test]
async fn fast_path_agrees_with_boa_wherever_it_answers() {
    let evaluator = evaluator();
    let conditions = [
        "$.output.body.state == 'DONE'",
        "$.output.body.state === 'DONE'",
        "$.output.body.state != 'DONE'",
        "  $.output.body.state\n!== \"DONE\" ;",
        "$.input.kind == 'x'",
        "$.kind == 'x'",
        "$.output.body.n === '5'",
        "$.output.body.n == '5'",
        "$.output.body.constructor == 'x'",
    ];
    let dollars = [
        json!({"kind": "x", "input": {"kind": "y"}, "output": {"body": {"state": "DONE", "n": 5}}}),
        json!({"kind": null, "input": {}, "output": {"body": {"state": "RUNNING", "n": "5", "constructor": "x"}}}),
        json!({"input": {"kind": "x"}, "output": {"body": {"state": null, "n": [5]}}}),
        json!({"input": [], "output": {"body": {"state": 5, "n": true}}}),
        json!({"output": {"body": {"state": ["DONE"]}}}),
        json!({"output": {"body": {"state": {"a": 1}}}}),
        json!({"output": {"body": {}}}),
        json!({"output": {"body": "text"}}),
        json!({"output": {}}),
    ];
    let mut answered = 0;
    for source in conditions {
        let fast = fast::FastCondition::parse(source).unwrap_or_else(|| panic!("{source:?} should parse"));
        evaluator.compile(source.into()).await.unwrap();
        for dollar in &dollars {
            let Some(verdict) = fast.evaluate(dollar.get(fast.root())) else { continue };
            answered += 1;
            assert_eq!(evaluator.evaluate(source.into(), dollar.clone()).await, Ok(verdict), "{source:?} on {dollar}");
        }
    }
    assert!(answered >= 25, "the cases exercise the fast path: {answered}");
}
