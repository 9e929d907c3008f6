//! Bad input never crashes the worker: 60 malformed task inputs, delivered by the fake server between good ones,
//! each end FAILED_WITH_TERMINAL_ERROR with a reason naming the field, and the good tasks keep completing.

use std::time::Duration;

use serde_json::{Map, Value, json};
use tokio::time::Instant;

use crate::support::{example_api, start_worker};
use fake_conductor::{FakeConductor, UpdateV2};

/// (task input, a fragment the reason must contain: the field, and for conditions what went wrong)
fn malformed(api: &str) -> Vec<(Value, &'static str)> {
    let get = |extra: Value| {
        let mut request = json!({"uri": format!("{api}/healthz"), "method": "GET"});
        request.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({ "http_request": request })
    };
    let poll = |extra: Value| {
        let mut request = json!({"uri": format!("{api}/healthz"), "method": "GET", "terminationCondition": "true",
                                 "pollingInterval": 0.1});
        request.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({ "http_request": request })
    };
    let condition = |source: &str| poll(json!({"terminationCondition": source}));
    let many_headers: Map<String, Value> = (0..101).map(|i| (format!("X-H{i}"), json!("v"))).collect();
    vec![
        (json!({"http_request": "GET /x"}), "http_request: must be an object"),
        (json!({"http_request": [1, 2]}), "http_request: must be an object"),
        (json!({"http_request": 42}), "http_request: must be an object"),
        (json!({"other": 1}), "uri: is required"),
        (json!({"http_request": {"method": "GET"}}), "http_request.uri: is required"),
        (get(json!({"uri": 17})), "http_request.uri: must be a string"),
        (get(json!({"uri": ""})), "http_request.uri: must not be empty"),
        (get(json!({"uri": "not a url"})), "http_request.uri: is not a valid absolute URL"),
        (get(json!({"uri": "/relative"})), "http_request.uri: is not a valid absolute URL"),
        (get(json!({"uri": "ftp://h/x"})), "http_request.uri: must use http or https"),
        (get(json!({"uri": "file:///etc/passwd"})), "http_request.uri: must use http or https"),
        (get(json!({"uri": format!("http://h/{}", "a".repeat(70_000))})), "http_request.uri: is longer than"),
        (json!({"http_request": {"uri": format!("{api}/healthz")}}), "http_request.method: is required"),
        (get(json!({"method": "FETCH"})), "http_request.method: must be one of"),
        (get(json!({"method": 3})), "http_request.method: must be a string"),
        (get(json!({"headers": "X-A: b"})), "http_request.headers: must be an object"),
        // Numbers, booleans and lists of them are accepted (tests/it/drop_in.rs); objects and nested lists are not.
        (
            get(json!({"headers": {"X-Obj": {"a": 1}}})),
            "http_request.headers.X-Obj: must be a string, number or boolean",
        ),
        (get(json!({"headers": {"X-List": ["a", ["b"]]}})), "http_request.headers.X-List[1]: must be a string"),
        (get(json!({"headers": {"X-List": [{"a": 1}]}})), "http_request.headers.X-List[0]: must be a string"),
        (get(json!({"retries": 11})), "http_request.retries: must be a whole number from 0 to 10"),
        (get(json!({"hedgingConfig": {"maxAttempts": 2}})), "http_request.hedgingConfig: parallel"),
        (get(json!({"headers": {"X-Inject": "a\r\nEvil: 1"}})), "http_request.headers.X-Inject: contains characters"),
        (get(json!({"headers": {"X-Lf": "a\nb"}})), "http_request.headers.X-Lf: contains characters"),
        (get(json!({"headers": {"Bad\r\nName": "v"}})), "is not a valid header name"),
        (get(json!({"headers": {"bad name": "v"}})), "http_request.headers.bad name: is not a valid header name"),
        (get(json!({"headers": many_headers})), "http_request.headers: has 101 entries"),
        (get(json!({"headers": {"X-Big": "v".repeat(20_000)}})), "http_request.headers.X-Big: is longer than"),
        (get(json!({"accept": 5})), "http_request.accept: must be a string or a list"),
        (get(json!({"accept": "a\r\nb"})), "http_request.accept: contains characters"),
        (get(json!({"contentType": ["a"]})), "http_request.contentType: must be a string"),
        (get(json!({"contentType": "x\ny"})), "http_request.contentType: contains characters"),
        (
            get(json!({"method": "POST", "body": {"a": 1}, "contentType": "text/plain"})),
            "http_request.body: is an object, which needs a JSON or form content type",
        ),
        (get(json!({"method": "POST", "body": [1], "contentType": "application/xml"})), "http_request.body:"),
        (
            get(json!({"method": "POST", "body": {"a": {"b": 1}}, "contentType": "application/x-www-form-urlencoded"})),
            "http_request.body: form field",
        ),
        (get(json!({"method": "POST", "body": "x".repeat(8 * 1024 * 1024 + 1)})), "http_request.body: is larger than"),
        (get(json!({"encode": "sometimes"})), "http_request.encode: must be true or false"),
        (get(json!({"connectionTimeOut": -5})), "http_request.connectionTimeOut: must be between"),
        (get(json!({"readTimeOut": "soon"})), "http_request.readTimeOut: must be a number"),
        (get(json!({"readTimeOut": 1e15})), "http_request.readTimeOut: must be between"),
        (get(json!({"acceptedStatusCodes": []})), "http_request.acceptedStatusCodes: must not be empty"),
        (get(json!({"acceptedStatusCodes": ["7xx"]})), "http_request.acceptedStatusCodes:"),
        (get(json!({"pollingInterval": 5})), "http_request.terminationCondition: is required when pollingInterval"),
        (get(json!({"maxPollCount": 3})), "http_request.terminationCondition: is required when maxPollCount"),
        (poll(json!({"terminationCondition": ""})), "http_request.terminationCondition: must not be empty"),
        (poll(json!({"terminationCondition": 1})), "http_request.terminationCondition: must be a string"),
        (poll(json!({"pollingInterval": 0})), "http_request.pollingInterval: must be more than 0"),
        (poll(json!({"pollingInterval": -1})), "http_request.pollingInterval: must be more than 0"),
        (poll(json!({"pollingInterval": "NaN"})), "http_request.pollingInterval: must be a number"),
        (poll(json!({"pollingInterval": "1e400"})), "http_request.pollingInterval: must be a number"),
        (poll(json!({"pollingInterval": 1e9})), "http_request.pollingInterval: must be more than 0 and at most"),
        (poll(json!({"pollingInterval": "five"})), "http_request.pollingInterval: must be a number"),
        (poll(json!({"pollingInterval": {"s": 5}})), "http_request.pollingInterval: must be a number"),
        (poll(json!({"pollingStrategy": "RANDOM"})), "http_request.pollingStrategy: must be FIXED"),
        (poll(json!({"pollingStrategy": true})), "http_request.pollingStrategy: must be a string"),
        (poll(json!({"maxPollCount": 0})), "http_request.maxPollCount: must be a whole number"),
        (poll(json!({"maxPollCount": -4})), "http_request.maxPollCount: must be a whole number"),
        (poll(json!({"maxPollCount": 1.5})), "http_request.maxPollCount: must be a whole number"),
        (poll(json!({"maxPollCount": "many"})), "http_request.maxPollCount: must be a number"),
        (
            condition("(function(){ return $.output.response.statusCode == ; })()"),
            "terminationCondition has a syntax error",
        ),
        (condition("function ("), "terminationCondition has a syntax error"),
        (condition("({done: true})"), "a terminationCondition must return true/false or 1/0/-1, it returned an object"),
        (condition("'COMPLETED'"), "it returned the string \"COMPLETED\""),
        (condition("[1]"), "it returned an object"),
        (condition("2"), "it returned the number 2"),
        (condition("(function(){})()"), "it returned undefined"),
        (condition("null"), "it returned null"),
        (condition("$.output.response.body.nothing.deeper"), "terminationCondition threw: TypeError"),
        (condition("while(true){}"), "terminationCondition"),
        (condition("new Array(1e7).fill(0)"), "terminationCondition"),
    ]
}

#[tokio::test]
async fn malformed_inputs_fail_terminally_naming_the_field_and_the_worker_keeps_serving() {
    let api = example_api(Duration::ZERO).await;
    let fake = FakeConductor::orkes(None, Duration::from_secs(600), UpdateV2::Supported).await;
    let cases = malformed(&api.base);
    assert!(cases.len() >= 60, "{} cases", cases.len());
    let good = json!({"http_request": {"uri": format!("{}/healthz", api.base), "method": "GET"}});
    let mut bad_ids = Vec::new();
    let mut good_ids = Vec::new();
    for (input, _) in &cases {
        bad_ids.push(fake.enqueue("bad_input", input.clone()));
        good_ids.push(fake.enqueue("bad_input", good.clone()));
    }
    let worker = start_worker(&["bad_input"], &[("CONDUCTOR_SERVER_URL", fake.api.as_str())]).await;
    let expected = bad_ids.len() + good_ids.len();
    let deadline = Instant::now() + Duration::from_secs(60);
    while fake.results().len() < expected {
        assert!(Instant::now() < deadline, "{} of {expected} results", fake.results().len());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let results = fake.results();
    let result = |id: &str| results.iter().find(|(_, r)| r["taskId"] == id).map(|(_, r)| r.clone()).unwrap();
    for ((input, fragment), id) in cases.iter().zip(&bad_ids) {
        let r = result(id);
        let shown = input.to_string().chars().take(120).collect::<String>();
        assert_eq!(r["status"], "FAILED_WITH_TERMINAL_ERROR", "{shown}: {r:#}");
        let reason = r["reasonForIncompletion"].as_str().unwrap_or_default();
        assert!(reason.contains(fragment), "{shown}: reason {reason:?} lacks {fragment:?}");
    }
    for id in &good_ids {
        assert_eq!(result(id)["status"], "COMPLETED");
    }
    let metrics = reqwest::get(format!("{}/metrics", worker.admin)).await.unwrap().text().await.unwrap();
    assert!(metrics.lines().any(|l| l == "thread_uncaught_exceptions_total{exception=\"Panic\"} 0"), "no panic");
    let (status, _) = (reqwest::get(format!("{}/healthz", worker.admin)).await.unwrap().status(), ());
    assert_eq!(status, 200);
}
