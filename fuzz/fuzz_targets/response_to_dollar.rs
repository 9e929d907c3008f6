//! HTTP response → the output and the condition's `$`: any status, header bytes and body must give JSON-serializable
//! values with sensitive headers redacted, and the output guard must keep it under its limit or say it cannot.
#![no_main]

use conductor_http_worker::http_poll::executor::dollar;
use conductor_http_worker::http_poll::outcome::fit_output;
use conductor_http_worker::http_poll::request::{REDACTED, response_from_parts};
use libfuzzer_sys::fuzz_target;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

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
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value.get(1..).unwrap_or_default())) {
            headers.append(name, value);
        }
    }
    let sensitive = vec!["authorization".to_owned(), "set-cookie".to_owned()];
    let response = response_from_parts(status, &headers, rest, &sensitive);
    let output = response.to_json();
    serde_json::to_vec(&output).expect("the output serializes");
    if let Some(cookies) = output["headers"].get("Set-Cookie") {
        assert!(cookies.as_array().unwrap().iter().all(|v| v == REDACTED));
    }
    let input = serde_json::json!({"http_request": {"uri": "http://h/x", "method": "GET"}});
    let dollar = dollar(&input, &response, 1);
    assert_eq!(dollar["output"]["status"], status);
    let mut map = serde_json::Map::new();
    map.insert("response".into(), output);
    let limit = 4096 + rest.len() / 2;
    match fit_output(&mut map, limit) {
        Ok(()) => assert!(serde_json::to_vec(&map).unwrap().len() <= limit),
        Err(size) => assert!(size > limit),
    }
});
