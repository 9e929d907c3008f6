use super::*;
use serde_json::json;

fn parse_default(input: Value) -> Result<HttpPollSpec, SpecError> {
    parse(&input, &SpecDefaults::default())
}

fn tutorial_poll_input() -> Value {
    json!({"http_request": {
        "uri": "http://127.0.0.1:8090/12345",
        "method": "GET",
        "accept": "application/json",
        "contentType": "application/json",
        "terminationCondition": "(function(){ return $.output.response.statusCode == 200 && $.output.response.body.body.status == \"COMPLETED\";})();",
        "pollingInterval": "5",
        "pollingStrategy": "FIXED",
        "encode": true
    }})
}

#[test]
fn tutorial_http_poll_input_parses() {
    let spec = parse_default(tutorial_poll_input()).unwrap();
    assert_eq!(spec.request.method, Method::GET);
    assert_eq!(spec.request.url.as_str(), "http://127.0.0.1:8090/12345");
    assert_eq!(spec.request.headers[ACCEPT], "application/json");
    assert_eq!(spec.request.timeout, Duration::from_secs(6));
    assert_eq!(spec.request.body, None);
    let polling = spec.polling.unwrap();
    assert_eq!(polling.interval, Duration::from_secs(5));
    assert_eq!(polling.strategy, PollingStrategy::Fixed);
    assert_eq!(polling.max_poll_count.get(), DEFAULT_MAX_POLL_COUNT);
    assert!(polling.condition.contains("COMPLETED"));
}

#[test]
fn tutorial_invoke_input_is_a_single_call_with_a_json_body() {
    let spec = parse_default(json!({"http_request": {
        "uri": "http://127.0.0.1:8090/invoke-lambda",
        "method": "POST",
        "headers": {"Content-Type": "application/json", "X-Amz-Invocation-Type": "Event"},
        "body": {"requestId": "12345"}
    }}))
    .unwrap();
    assert!(spec.polling.is_none());
    assert_eq!(spec.request.method, Method::POST);
    assert_eq!(spec.request.body.as_deref(), Some(&br#"{"requestId":"12345"}"#[..]));
    assert_eq!(spec.request.headers["x-amz-invocation-type"], "Event");
    assert_eq!(spec.request.headers.get_all(CONTENT_TYPE).iter().count(), 1);
}

#[test]
fn flat_input_is_accepted() {
    let spec = parse_default(json!({"uri": "http://h/x", "method": "get", "terminationCondition": "true",
        "pollingInterval": 0.5, "pollingStrategy": "LINEAR_BACKOFF", "maxPollCount": "3"}))
    .unwrap();
    let polling = spec.polling.unwrap();
    assert_eq!(
        (polling.interval, polling.strategy, polling.max_poll_count.get()),
        (Duration::from_millis(500), PollingStrategy::LinearBackoff, 3)
    );
}

#[test]
fn numbers_and_booleans_may_be_strings() {
    let spec = parse_default(json!({"http_request": {"uri": "http://h/a b", "method": "GET", "encode": "false",
        "connectionTimeOut": "250", "readTimeOut": 750.0}}));
    // encode "false" keeps the URI as written; the url crate still encodes the space itself.
    let spec = spec.unwrap();
    assert_eq!(spec.request.url.as_str(), "http://h/a%20b");
    assert_eq!(spec.request.timeout, Duration::from_secs(1));
}

#[test]
fn body_encoding_follows_the_content_type() {
    let cases: [(Value, &str, Result<&[u8], &str>); 6] = [
        (json!("raw text"), "text/plain", Ok(b"raw text")),
        (json!({"a": 1}), "application/json; charset=utf-8", Ok(br#"{"a":1}"#)),
        (json!([1, 2]), "application/vnd.api+json", Ok(b"[1,2]")),
        (json!({"a": "b c"}), "application/x-www-form-urlencoded", Ok(b"a=b%20c")),
        (json!({"a": 1}), "text/plain", Err("body")),
        (json!(42), "application/xml", Err("body")),
    ];
    for (body, content_type, want) in cases {
        let result =
            parse_default(json!({"uri": "http://h", "method": "POST", "body": body, "contentType": content_type}));
        match want {
            Ok(bytes) => assert_eq!(result.unwrap().request.body.as_deref(), Some(bytes), "{content_type}"),
            Err(field) => assert_eq!(result.unwrap_err().0[0].field, field, "{content_type}"),
        }
    }
}

#[test]
fn header_content_type_wins_over_the_content_type_key() {
    let spec = parse_default(json!({"uri": "http://h", "method": "POST", "contentType": "text/plain",
        "headers": {"content-type": "application/json"}, "body": {"a": 1}}))
    .unwrap();
    assert_eq!(spec.request.headers[CONTENT_TYPE], "application/json");
    assert_eq!(spec.request.body.as_deref(), Some(&br#"{"a":1}"#[..]));
}

#[test]
fn accepted_status_codes_are_parsed() {
    let spec =
        parse_default(json!({"uri": "http://h", "method": "GET", "acceptedStatusCodes": ["2xx", "404"]})).unwrap();
    assert!(
        spec.request.accepted.accepts(404) && spec.request.accepted.accepts(201) && !spec.request.accepted.accepts(500)
    );
}

/// Each malformed input fails, and the first problem names the field that is wrong.
#[test]
fn malformed_inputs_name_the_field() {
    let poll = |extra: Value| {
        let mut base = json!({"uri": "http://h/x", "method": "GET", "terminationCondition": "true"});
        base.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        base
    };
    let cases: Vec<(Value, &str)> = vec![
        (json!([1, 2]), "inputData"),
        (json!("text"), "inputData"),
        (json!({"http_request": "GET http://h"}), "http_request"),
        (json!({"http_request": [1]}), "http_request"),
        (json!({"method": "GET"}), "uri"),
        (json!({"uri": 42, "method": "GET"}), "uri"),
        (json!({"uri": "", "method": "GET"}), "uri"),
        (json!({"uri": "ftp://h/x", "method": "GET"}), "uri"),
        (json!({"uri": "relative/path", "method": "GET"}), "uri"),
        (json!({"uri": "http://h"}), "method"),
        (json!({"uri": "http://h", "method": "FETCH"}), "method"),
        (json!({"uri": "http://h", "method": 1}), "method"),
        (json!({"uri": "http://h", "method": "GET", "headers": "x"}), "headers"),
        (json!({"uri": "http://h", "method": "GET", "retries": 11}), "retries"),
        (json!({"uri": "http://h", "method": "GET", "retries": 1.5}), "retries"),
        (json!({"uri": "http://h", "method": "GET", "headers": {"X-N": {"n": 1}}}), "headers.X-N"),
        (json!({"uri": "http://h", "method": "GET", "headers": {"X-A": ["a", ["b"]]}}), "headers.X-A[1]"),
        (json!({"uri": "http://h", "method": "GET", "headers": {"X-A": "a\r\nInjected: 1"}}), "headers.X-A"),
        (json!({"uri": "http://h", "method": "GET", "headers": {"X\nB": "a"}}), "headers.X\nB"),
        (json!({"uri": "http://h", "method": "GET", "headers": {"bad name": "a"}}), "headers.bad name"),
        (json!({"uri": "http://h", "method": "GET", "accept": 5}), "accept"),
        (json!({"uri": "http://h", "method": "GET", "accept": "a\nb"}), "accept"),
        (json!({"uri": "http://h", "method": "GET", "contentType": "x\r\n"}), "contentType"),
        (json!({"uri": "http://h", "method": "GET", "encode": "maybe"}), "encode"),
        (json!({"uri": "http://h", "method": "GET", "connectionTimeOut": -1}), "connectionTimeOut"),
        (json!({"uri": "http://h", "method": "GET", "readTimeOut": "soon"}), "readTimeOut"),
        (json!({"uri": "http://h", "method": "GET", "readTimeOut": 1e12}), "readTimeOut"),
        (json!({"uri": "http://h", "method": "GET", "acceptedStatusCodes": []}), "acceptedStatusCodes"),
        (json!({"uri": "http://h", "method": "GET", "pollingInterval": 5}), "terminationCondition"),
        (json!({"uri": "http://h", "method": "GET", "maxPollCount": 5}), "terminationCondition"),
        (poll(json!({"terminationCondition": ""})), "terminationCondition"),
        (poll(json!({"terminationCondition": true})), "terminationCondition"),
        (poll(json!({"terminationCondition": "x".repeat(MAX_CONDITION_BYTES + 1)})), "terminationCondition"),
        (poll(json!({"pollingInterval": 0})), "pollingInterval"),
        (poll(json!({"pollingInterval": -5})), "pollingInterval"),
        (poll(json!({"pollingInterval": "NaN"})), "pollingInterval"),
        (poll(json!({"pollingInterval": "inf"})), "pollingInterval"),
        (poll(json!({"pollingInterval": 1e300})), "pollingInterval"),
        (poll(json!({"pollingInterval": "five"})), "pollingInterval"),
        (poll(json!({"pollingInterval": [5]})), "pollingInterval"),
        (poll(json!({"pollingStrategy": "RANDOM"})), "pollingStrategy"),
        (poll(json!({"pollingStrategy": 1})), "pollingStrategy"),
        (poll(json!({"maxPollCount": 0})), "maxPollCount"),
        (poll(json!({"maxPollCount": -3})), "maxPollCount"),
        (poll(json!({"maxPollCount": 2.5})), "maxPollCount"),
        (poll(json!({"maxPollCount": "lots"})), "maxPollCount"),
        (poll(json!({"maxPollCount": 1e10})), "maxPollCount"),
        (json!({"uri": format!("http://h/{}", "a".repeat(MAX_URI_BYTES)), "method": "GET"}), "uri"),
        (json!({"uri": "http://h", "method": "POST", "body": "x".repeat(MAX_BODY_BYTES + 1)}), "body"),
        (
            json!({"uri": "http://h", "method": "GET", "headers": (0..=MAX_HEADERS).map(|i| (format!("h{i}"), json!("v"))).collect::<Map<_, _>>()}),
            "headers",
        ),
        (
            json!({"uri": "http://h", "method": "GET", "headers": {"X-Big": "v".repeat(MAX_HEADER_VALUE_BYTES + 1)}}),
            "headers.X-Big",
        ),
    ];
    for (input, field) in cases {
        let err = parse_default(input.clone()).expect_err(&input.to_string());
        assert!(!err.0.is_empty());
        let fields: Vec<&str> = err.0.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(fields[0], field, "{input} -> {err}");
        assert!(err.to_string().contains(field), "{err}");
    }
}

#[test]
fn field_names_carry_the_http_request_prefix_and_all_problems_are_listed() {
    let err =
        parse_default(json!({"http_request": {"method": "NOPE", "pollingInterval": -1, "terminationCondition": "true",
        "maxPollCount": 0}}))
        .unwrap_err();
    let fields: Vec<&str> = err.0.iter().map(|p| p.field.as_str()).collect();
    assert_eq!(
        fields,
        ["http_request.uri", "http_request.method", "http_request.pollingInterval", "http_request.maxPollCount"]
    );
}

#[test]
fn null_values_count_as_absent() {
    let spec = parse_default(json!({"uri": "http://h", "method": "GET", "headers": null, "body": null,
        "terminationCondition": null, "pollingInterval": null}))
    .unwrap();
    assert!(spec.polling.is_none() && spec.request.body.is_none());
}

#[test]
fn header_values_may_be_numbers_booleans_or_lists_as_peers_send_them() {
    let spec = parse_default(json!({"http_request": {"uri": "http://h", "method": "GET", "headers": {
        "X-Count": 3, "X-Ratio": 0.5, "X-Flag": true, "X-Many": ["a", 2, false], "X-None": null, "X-Empty": []}}}))
    .unwrap();
    let values =
        |name: &str| -> Vec<&str> { spec.request.headers.get_all(name).iter().map(|v| v.to_str().unwrap()).collect() };
    assert_eq!(values("X-Count"), ["3"]);
    assert_eq!(values("X-Ratio"), ["0.5"]);
    assert_eq!(values("X-Flag"), ["true"]);
    assert_eq!(values("X-Many"), ["a", "2", "false"], "a list is the header repeated");
    assert!(values("X-None").is_empty() && values("X-Empty").is_empty());
    // A list cannot smuggle in more values than the header limit.
    let flood: Vec<Value> = (0..=MAX_HEADERS).map(|i| json!(i)).collect();
    let error = parse_default(json!({"uri": "http://h", "method": "GET", "headers": {"X-Flood": flood}})).unwrap_err();
    assert!(error.to_string().contains(&format!("more than {MAX_HEADERS} values")), "{error}");
}

#[test]
fn a_zero_timeout_means_none_of_our_own_bounded_by_the_response_timeout() {
    let zero = |key: &str| json!({"uri": "http://h", "method": "GET", key: 0});
    for key in ["connectionTimeOut", "readTimeOut"] {
        let mut spec = parse_default(zero(key)).unwrap();
        assert!(spec.request.open_ended, "{key}");
        assert_eq!(spec.request.timeout, MAX_REQUEST_TIMEOUT);
        spec.request.bound_by_response_timeout(300);
        assert_eq!(spec.request.timeout, Duration::from_secs(270), "{key}: 300 s less 10 %");
        let mut unbounded = parse_default(zero(key)).unwrap();
        unbounded.request.bound_by_response_timeout(0);
        assert_eq!(unbounded.request.timeout, MAX_REQUEST_TIMEOUT, "no response timeout: the worker's longest");
    }
    let mut tiny = parse_default(zero("readTimeOut")).unwrap();
    tiny.request.bound_by_response_timeout(1);
    assert_eq!(tiny.request.timeout, Duration::from_secs(1), "never below 1 s");
    // An explicit timeout is kept as given.
    let mut explicit = parse_default(json!({"uri": "http://h", "method": "GET", "readTimeOut": 500_000})).unwrap();
    explicit.request.bound_by_response_timeout(60);
    assert_eq!(explicit.request.timeout, Duration::from_millis(503_000));
    let negative = parse_default(json!({"uri": "http://h", "method": "GET", "readTimeOut": -1})).unwrap_err();
    assert!(negative.to_string().contains("readTimeOut"), "{negative}");
}

#[test]
fn unused_keys_are_named_and_hedging_is_refused_not_ignored() {
    let spec = parse_default(json!({"http_request": {"uri": "http://h", "method": "GET", "vipAddress": "x",
        "hedgingConfig": {"maxAttempts": 1}}}))
    .unwrap();
    assert_eq!(spec.warnings.len(), 1, "{:?}", spec.warnings);
    assert!(spec.warnings[0].contains("http_request.vipAddress is not used"), "{:?}", spec.warnings);
    let flat = parse_default(json!({"uri": "http://h", "method": "GET", "requestId": "r"})).unwrap();
    assert!(flat.warnings.is_empty(), "flat input carries the workflow's own keys");

    let hedged = json!({"http_request": {"uri": "http://h", "method": "GET", "hedgingConfig": {"maxAttempts": 3}}});
    let error = parse_default(hedged).unwrap_err();
    assert_eq!(error.0[0].field, "http_request.hedgingConfig", "{error}");

    // A hostile author's thousand keys make a bounded log.
    let mut request = Map::new();
    request.insert("uri".into(), json!("http://h"));
    request.insert("method".into(), json!("GET"));
    for i in 0..1000 {
        request.insert(format!("k{i}{}", "x".repeat(200)), json!(i));
    }
    let spec = parse_default(json!({"http_request": request})).unwrap();
    assert_eq!(spec.warnings.len(), MAX_WARNINGS + 1);
    assert!(spec.warnings.last().unwrap().contains("990 more"), "{:?}", spec.warnings.last());
    assert!(spec.warnings.iter().all(|w| w.len() < 200), "keys are shortened");
}

#[test]
fn async_complete_is_read_from_http_request_or_the_task_input() {
    let request = json!({"uri": "http://h", "method": "POST"});
    assert!(!parse_default(json!({"http_request": request})).unwrap().async_complete);
    let mut inside = request.clone();
    inside["asyncComplete"] = json!(true);
    assert!(parse_default(json!({"http_request": inside})).unwrap().async_complete);
    assert!(parse_default(json!({"http_request": request, "asyncComplete": "true"})).unwrap().async_complete);
    let error = parse_default(json!({"http_request": request, "asyncComplete": "soon"})).unwrap_err();
    assert_eq!(error.0[0].field, "asyncComplete", "{error}");
}

#[test]
fn a_cancel_request_is_parsed_like_a_request_and_its_problems_named_under_it() {
    let mut input = tutorial_poll_input();
    input["http_request"]["cancelRequest"] =
        json!({"uri": "http://127.0.0.1:8090/12345/cancel", "method": "delete", "headers": {"X-Reason": "stop"}});
    let spec = parse_default(input.clone()).unwrap();
    let cancel = spec.cancel_request.expect("parsed");
    assert_eq!((cancel.method.clone(), cancel.url.path()), (Method::DELETE, "/12345/cancel"));
    assert_eq!(cancel.headers["X-Reason"], "stop");
    assert_eq!(cancel.retries, 0, "sent once");

    input["http_request"]["cancelRequest"] = json!({"method": 7, "readTimeOut": -1});
    let error = parse_default(input.clone()).unwrap_err().to_string();
    for field in [
        "http_request.cancelRequest.uri",
        "http_request.cancelRequest.method",
        "http_request.cancelRequest.readTimeOut",
    ] {
        assert!(error.contains(field), "{field}: {error}");
    }
    input["http_request"]["cancelRequest"] = json!("DELETE /x");
    let error = parse_default(input).unwrap_err().to_string();
    assert!(error.contains("http_request.cancelRequest: must be an object"), "{error}");

    // Without a condition nothing is held, so nothing would ever be cancelled: said, not ignored.
    let single = json!({"http_request": {"uri": "http://a.test/", "method": "GET",
                              "cancelRequest": {"uri": "http://a.test/c", "method": "DELETE"}}});
    let spec = parse_default(single).unwrap();
    assert!(
        spec.warnings.iter().any(|w| w.contains("cancelRequest is sent only for a held poll")),
        "{:?}",
        spec.warnings
    );
}

#[test]
fn poll_location_is_a_polling_key() {
    let mut input = tutorial_poll_input();
    input["http_request"]["pollLocation"] = json!(true);
    assert!(parse_default(input.clone()).unwrap().polling.unwrap().poll_location);
    input["http_request"]["pollLocation"] = json!("sometimes");
    let error = parse_default(input).unwrap_err().to_string();
    assert!(error.contains("http_request.pollLocation: must be true or false"), "{error}");
    let without = json!({"http_request": {"uri": "http://a.test/", "method": "GET", "pollLocation": true}});
    let error = parse_default(without).unwrap_err().to_string();
    assert!(error.contains("terminationCondition: is required when pollLocation is set"), "{error}");
}
