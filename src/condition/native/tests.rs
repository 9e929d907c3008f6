//! The native evaluator against the engine: wherever it answers, the engine (in a fresh `Context`, the same `$`)
//! returns the same value. Fixed cases first, then generated expressions over generated `$`s.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::*;
use crate::condition::Limits;
use crate::condition::dollar::{PollView, ResponseView, join};
use crate::condition::engine::Engine;

/// One `$`: the task input, and the response's status, headers and body.
struct Scenario {
    input: Box<RawValue>,
    status: u16,
    headers: Map<String, Value>,
    body: Body,
    poll_count: u32,
}

enum Body {
    Null,
    Text(String),
    Json(Box<RawValue>),
}

impl Scenario {
    fn new(input: Value, status: u16, body: Body) -> Self {
        let headers = json!({"Content-Type": ["application/json"], "X-Count": ["3", "4"]});
        let Value::Object(headers) = headers else { unreachable!() };
        Self { input: raw(&input.to_string()), status, headers, body, poll_count: 2 }
    }

    fn dollar(&self) -> Dollar<'_> {
        let body = match &self.body {
            Body::Null => BodyView::Null,
            Body::Text(text) => BodyView::Text(text),
            Body::Json(raw) => BodyView::Json(raw),
        };
        Dollar {
            input: &self.input,
            output: PollView {
                response: ResponseView { status: self.status, reason: "OK", headers: &self.headers, body },
                poll_count: self.poll_count,
            },
        }
    }

    /// `$` as the engine gets it.
    fn tree(&self) -> Value {
        let dollar = self.dollar();
        let mut output = Vec::new();
        dollar.output.write_json(&mut output);
        let input: Value = serde_json::from_str(dollar.input.get()).unwrap();
        join(input, serde_json::from_slice(&output).unwrap())
    }
}

fn raw(text: &str) -> Box<RawValue> {
    RawValue::from_string(text.to_owned()).unwrap()
}

fn scenarios() -> Vec<Scenario> {
    let input = json!({"http_request": {"uri": "http://x/1", "method": "GET"}, "jobId": "12345", "limit": 3,
                       "flag": true, "none": null, "list": [1, "2", [3]], "output": "shadowed", "empty": ""});
    vec![
        Scenario::new(
            input.clone(),
            200,
            Body::Json(raw(
                r#"{"statusCode": 200, "body": {"status": "COMPLETED", "requestId": "12345", "polls": 3, "ratio": 0.1,
                "items": [{"done": true}, {"done": false}], "n": "5", "hex": "0x10", "blank": "  ", "zero": 0,
                "neg": -0, "big": 1e308, "tiny": 5e-324, "uni": "é\u00e9😀", "nested": {"a": {"b": null}}},
               "dup": 1, "dup": 2, "constructor": "own", "length": 7}"#,
            )),
        ),
        Scenario::new(input.clone(), 202, Body::Json(raw(r#"{"body": {"status": "PROCESSING"}, "statusCode": 202}"#))),
        Scenario::new(input.clone(), 200, Body::Json(raw(r#"[1, 2, {"status": "DONE"}]"#))),
        Scenario::new(input.clone(), 200, Body::Json(raw("42"))),
        Scenario::new(input.clone(), 200, Body::Json(raw("\"COMPLETED\""))),
        Scenario::new(input.clone(), 204, Body::Null),
        Scenario::new(json!({"a": 1}), 500, Body::Text("<html>oops</html>".into())),
        Scenario::new(json!({}), 200, Body::Json(raw(r#"{"status": null, "body": []}"#))),
    ]
}

/// The engine's value for the same `$`.
fn engine_value(engine: &mut Engine, source: &str, tree: &Value) -> Option<ScriptValue> {
    engine.evaluate_value(source, tree).ok()
}

fn same(a: &ScriptValue, b: &ScriptValue) -> bool {
    match (a, b) {
        (ScriptValue::Number(x), ScriptValue::Number(y)) => x == y || (x.is_nan() && y.is_nan()),
        _ => a == b,
    }
}

/// Checks `source` on every scenario; returns how many the native evaluator answered.
fn check(engine: &mut Engine, scenarios: &[Scenario], trees: &[Value], source: &str) -> usize {
    let Some(native) = NativeCondition::parse(source) else { return 0 };
    let mut answered = 0;
    for (scenario, tree) in scenarios.iter().zip(trees) {
        let Some(value) = native.evaluate(&scenario.dollar()) else { continue };
        answered += 1;
        engine.prepare();
        let want = engine_value(engine, source, tree);
        assert!(
            want.as_ref().is_some_and(|want| same(&value, want)),
            "{source:?} on {tree}: native {value:?}, engine {want:?}"
        );
    }
    answered
}

#[test]
fn the_tutorial_condition_is_native() {
    let tutorial = "(function(){ return $.output.response.statusCode == 200 && $.output.response.body.body.status == \"COMPLETED\";})();";
    let native = NativeCondition::parse(tutorial).expect("the tutorial's condition is in the subset");
    let scenarios = scenarios();
    assert_eq!(native.evaluate(&scenarios[0].dollar()), Some(ScriptValue::Bool(true)));
    assert_eq!(native.evaluate(&scenarios[1].dollar()), Some(ScriptValue::Bool(false)));
}

#[test]
fn fixed_cases_agree_with_the_engine() {
    let mut engine = Engine::new(Limits::default()).unwrap();
    let scenarios = scenarios();
    let trees: Vec<Value> = scenarios.iter().map(Scenario::tree).collect();
    let sources = [
        "$.output.response.body.body.status == 'COMPLETED'",
        "$.output.response.body.body.status === \"COMPLETED\"",
        "$.output.response.body.body.status != 'COMPLETED'",
        "$.output.status >= 200 && $.output.status < 300",
        "$.output.response.statusCode == '200'",
        "$.output.response.statusCode === '200'",
        "$.output.pollCount > 5 ? -1 : $.output.response.body.body.polls >= 3",
        "$.output.response.body.body.n == 5",
        "$.output.response.body.body.n > 4",
        "$.output.response.body.body.n < '10'",
        "$.output.response.body.body.hex == 16",
        "$.output.response.body.body.blank == 0",
        "$.output.response.body.body.zero == false",
        "$.output.response.body.body.neg === 0",
        "-$.output.response.body.body.neg",
        "$.output.response.body.body.big > 1e307",
        "$.output.response.body.body.tiny > 0",
        "$.output.response.body.body.ratio == 0.1",
        "$.output.response.body.body.uni.length",
        "$.output.response.body.body.uni < 'f'",
        "$.output.response.body.body.items[0].done && !$.output.response.body.body.items[1].done",
        "$.output.response.body.body.items.length == 2",
        "$.output.response.body.body.items[5] === undefined",
        "$.output.response.body.body.missing === undefined",
        "$.output.response.body.body.nested.a.b == null",
        "$.output.response.body.body.nested.a.b === undefined",
        "$.output.response.body.dup",
        "$.output.response.body.constructor",
        "$.output.response.body.length",
        "$.output.response.body.toString",
        "$.output.response.body == 42",
        "$.output.response.body === 'COMPLETED'",
        "$.output.response.body[2].status",
        "$.output.response.body.length",
        "$.output.response.headers['Content-Type'][0] == 'application/json'",
        "$.output.response.headers['X-Count'].length === 2",
        "$.output.response.headers['X-Count'][1] > 3",
        "$.output.response.headers.Missing === undefined",
        "$.output.response.reasonPhrase",
        "$.output.response.body",
        "$.jobId == $.output.response.body.body.requestId",
        "$.input.jobId === '12345'",
        "$.output === 'shadowed'",
        "$.limit < $.output.pollCount",
        "$.flag == 1",
        "$.none == undefined",
        "$.none === undefined",
        "$.empty || 'fallback'",
        "$.list[2][0] == 3",
        "$.list[1] == 2",
        "$.list == '1,2,3'",
        "$.list.length",
        "typeof $.http_request",
        "typeof $.missing",
        "typeof $.output.response.body.body",
        "typeof $.none",
        "typeof null",
        "!!$.output.response.body.body",
        "+$.output.response.body.body.n",
        "+''",
        "+' 12 '",
        "+'1e3'",
        "+'.5'",
        "+'5.'",
        "+'-Infinity'",
        "+'infinity'",
        "+'12px'",
        "NaN == NaN",
        "NaN != NaN",
        "Infinity > 1e308",
        "null >= 0",
        "undefined == 0",
        "null == 0",
        "'' == 0",
        "'b' > 'a'",
        "'a' < 'B'",
        "'10' < '9'",
        "'10' < 9",
        "true > false",
        "1 <= undefined",
        "$ == null",
        "$.output.response.body.body.status",
        "(function(){ return $.output.response.body.body.status; })()",
        "(() => $.output.status == 200)()",
        "0 ? 1 : 0",
        "'' && 1",
        "$.output.response.body.body.items[0] == $.output.response.body.body.items[0]",
        "$.output.response.body.body.missing.deeper",
        "$.output.response.body.body.status.length",
        "$.output.response.body.body.status.toUpperCase",
        "$.output.response.body.status === null",
    ];
    let mut answered = 0;
    for source in sources {
        answered += check(&mut engine, &scenarios, &trees, source);
    }
    assert!(answered >= 400, "the cases exercise the native path: {answered} answers");
}

/// Generated expressions of the subset over the scenarios: every answer matches the engine's.
#[test]
fn generated_cases_agree_with_the_engine() {
    let mut engine = Engine::new(Limits::default()).unwrap();
    let scenarios = scenarios();
    let trees: Vec<Value> = scenarios.iter().map(Scenario::tree).collect();
    let mut rng = fastrand::Rng::with_seed(20261201);
    let (mut parsed, mut answered) = (0, 0);
    for _ in 0..1500 {
        let source = expression(&mut rng, 3);
        if NativeCondition::parse(&source).is_some() {
            parsed += 1;
        }
        answered += check(&mut engine, &scenarios, &trees, &source);
    }
    assert!(parsed >= 1400, "generated expressions are in the subset: {parsed}");
    assert!(answered >= 5000, "and the native path answers most of them: {answered}");
}

const PATHS: [&str; 20] = [
    "$.output.status",
    "$.output.pollCount",
    "$.output.response.statusCode",
    "$.output.response.body",
    "$.output.response.body.body",
    "$.output.response.body.body.status",
    "$.output.response.body.body.n",
    "$.output.response.body.body.polls",
    "$.output.response.body.body.ratio",
    "$.output.response.body.body.items[1].done",
    "$.output.response.body.body.items.length",
    "$.output.response.body.body.missing",
    "$.output.response.body.body.blank",
    "$.output.response.body.status",
    "$.output.response.headers['X-Count'][0]",
    "$.jobId",
    "$.limit",
    "$.flag",
    "$.none",
    "$.input.list[1]",
];
const LITERALS: [&str; 16] = [
    "0",
    "1",
    "-1",
    "200",
    "3",
    "0.1",
    "'COMPLETED'",
    "'PROCESSING'",
    "'5'",
    "''",
    "' 3 '",
    "true",
    "false",
    "null",
    "undefined",
    "NaN",
];
const COMPARISONS: [&str; 8] = ["==", "!=", "===", "!==", "<", ">", "<=", ">="];

fn expression(rng: &mut fastrand::Rng, depth: u32) -> String {
    let leaf = |rng: &mut fastrand::Rng| {
        if rng.bool() {
            PATHS[rng.usize(..PATHS.len())].to_owned()
        } else {
            LITERALS[rng.usize(..LITERALS.len())].to_owned()
        }
    };
    if depth == 0 {
        return leaf(rng);
    }
    match rng.u8(..10) {
        0..=3 => format!(
            "{} {} {}",
            expression(rng, depth - 1),
            COMPARISONS[rng.usize(..COMPARISONS.len())],
            expression(rng, 0)
        ),
        4 => format!("({} && {})", expression(rng, depth - 1), expression(rng, depth - 1)),
        5 => format!("({} || {})", expression(rng, depth - 1), expression(rng, depth - 1)),
        6 => format!("!{}", expression(rng, depth - 1)),
        7 => format!("({} ? {} : {})", expression(rng, depth - 1), expression(rng, depth - 1), expression(rng, 0)),
        8 => format!("typeof {}", leaf(rng)),
        _ => leaf(rng),
    }
}

#[test]
fn declines_what_depends_on_more_than_json() {
    let scenarios = scenarios();
    let dollar = scenarios[0].dollar();
    for source in [
        "$.output.response.body.body.missing.deeper",
        "$.output.response.body.body.status.toUpperCase",
        "$.output.response.body.body.items.map",
        "$.output.hasOwnProperty",
        "$.output.response.body.body.items[0] == $.output.response.body.body.items[0]",
        "$.list == '1,2,3'",
        "$.output.response.body.body.hex == 16",
        "$.output.response.statusCode.toFixed",
    ] {
        let native = NativeCondition::parse(source).unwrap_or_else(|| panic!("{source:?} parses"));
        assert_eq!(native.evaluate(&dollar), None, "{source:?}");
    }
}

#[test]
fn a_condition_that_reads_a_large_body_many_times_declines() {
    let big = format!("{{\"pad\": \"{}\", \"state\": \"DONE\"}}", "x".repeat(3 << 20));
    let scenario = Scenario::new(json!({}), 200, Body::Json(raw(&big)));
    let once = NativeCondition::parse("$.output.response.body.state == 'DONE'").unwrap();
    assert_eq!(once.evaluate(&scenario.dollar()), Some(ScriptValue::Bool(true)));
    let many = NativeCondition::parse(&["$.output.response.body.state == 'DONE'"; 4].join(" && ")).unwrap();
    assert_eq!(many.evaluate(&scenario.dollar()), None, "more than 8 MiB scanned: the engine's job");
}
