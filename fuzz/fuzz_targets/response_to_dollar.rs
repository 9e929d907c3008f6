//! HTTP response → the output and the condition's `$`: any status, header bytes and body must give JSON-serializable
//! values with sensitive headers redacted, and the output guard must keep it under its limit or say it cannot.
#![no_main]

use conductor_http_worker::condition::dollar::{Dollar, PollView};
use conductor_http_worker::conductor::TaskOutput;
use conductor_http_worker::http_poll::outcome::fit_output;
use conductor_http_worker::http_poll::response::{REDACTED, response_from_parts};
use libfuzzer_sys::fuzz_target;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use serde_json::value::RawValue;

fuzz_target!(|data: &[u8]| {
    if data.len() < 3 {
        return;
    }
    let status = u16::from_be_bytes([data[0], data[1]]);
    let header_count = usize::from(data[2] % 8);
    let mut rest = &data[3..];
    let mut headers = HeaderMap::new();
    for _ in 0..header_count {
        let Some((&len, tail)) = rest.split_first() else { break };
        let len = usize::from(len).min(tail.len());
        let (raw, tail) = tail.split_at(len);
        rest = tail;
        let split = raw.iter().position(|b| *b == b':').unwrap_or(raw.len());
        let (name, value) = raw.split_at(split);
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value.get(1..).unwrap_or_default()))
        {
            headers.append(name, value);
        }
    }
    let sensitive = vec!["authorization".to_owned(), "set-cookie".to_owned()];
    let response = response_from_parts(status, &headers, rest, &sensitive);
    let output = response.to_raw();
    // The body is copied in as received: a number serde_json can't hold as a tree (1e400) keeps the output from
    // parsing as a Value, but the headers are checked whenever it does.
    if let Ok(tree) = serde_json::from_str::<Value>(output.get()) {
        if let Some(cookies) = tree["headers"].get("Set-Cookie") {
            assert!(cookies.as_array().unwrap().iter().all(|v| v == REDACTED));
        }
    }
    let input = RawValue::from_string(r#"{"http_request": {"uri": "http://h/x", "method": "GET"}}"#.into()).unwrap();
    let dollar = Dollar { input: &input, output: PollView { response: response.view(), poll_count: 1 } };
    let mut text = Vec::new();
    dollar.output.write_json(&mut text);
    let text = String::from_utf8(text).expect("$.output is UTF-8");
    assert!(
        text.starts_with(&format!("{{\"response\":{},", output.get())),
        "the condition and the output see one response"
    );
    assert!(text.ends_with(&format!(",\"pollCount\":1,\"status\":{status}}}")));
    let mut task_output = TaskOutput { response: Some(response.to_raw()), ..TaskOutput::default() };
    let limit = 4096 + rest.len() / 2;
    match fit_output(&mut task_output, limit) {
        Ok(()) => assert!(serde_json::to_vec(&task_output).unwrap().len() <= limit),
        Err(size) => assert!(size > limit),
    }
});
