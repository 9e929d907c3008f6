//! Compressed response bodies: gzip and brotli are decoded before the condition reads them, `Accept-Encoding` is
//! sent, and the body cap applies to the decoded size, so a small compressed bomb fails cleanly.

use std::io::Write;
use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, header};
use axum::routing::get;
use serde_json::json;

use crate::support::{Conductor, serve, start_worker, unique};

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn brotli(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut writer = brotli::CompressorWriter::new(&mut out, 4096, 9, 22);
    writer.write_all(bytes).unwrap();
    drop(writer);
    out
}

async fn target() -> String {
    let status = br#"{"job": {"state": "DONE", "note": "compressed"}}"#;
    let (gzipped, brotlied) = (gzip(status), brotli(status));
    // 32 MiB of JSON, a few tens of KiB on the wire.
    let bomb = gzip(&[b"[\"".as_slice(), &vec![b'0'; 32 << 20], b"\"]"].concat());
    let router = Router::new()
        .route(
            "/gzip",
            get(move |headers: HeaderMap| {
                let body = gzipped.clone();
                async move {
                    let asked =
                        headers.get(header::ACCEPT_ENCODING).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
                    (
                        [(header::CONTENT_ENCODING, "gzip"), (header::CONTENT_TYPE, "application/json")],
                        [("x-asked", asked)],
                        body,
                    )
                }
            }),
        )
        .route(
            "/br",
            get(move || {
                let body = brotlied.clone();
                async move { ([(header::CONTENT_ENCODING, "br"), (header::CONTENT_TYPE, "application/json")], body) }
            }),
        )
        .route(
            "/bomb",
            get(move || {
                let body = bomb.clone();
                async move { ([(header::CONTENT_ENCODING, "gzip"), (header::CONTENT_TYPE, "application/json")], body) }
            }),
        );
    serve(router).await
}

#[tokio::test]
async fn gzip_and_brotli_bodies_are_read_by_conditions_and_a_bomb_is_refused() {
    let base = target().await;
    let conductor = Conductor::default();
    let task_name = unique("it_compressed");
    conductor.register_task_defs(&[Conductor::task_def(&task_name, 60, 0)]).await;
    let workflow_name = unique("it_compressed_wf");
    let poll = |reference: &str, path: &str| {
        json!({"name": task_name, "taskReferenceName": reference, "type": "SIMPLE", "inputParameters": {"http_request": {
            "uri": format!("{base}{path}"), "method": "GET",
            "terminationCondition": "$.output.response.body.job.state == 'DONE'",
            "pollingInterval": "0.2", "maxPollCount": 3}}})
    };
    conductor
        .put_workflow(&json!({
            "name": workflow_name, "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
            "tasks": [poll("gzip", "/gzip"), poll("br", "/br"), poll("bomb", "/bomb")]
        }))
        .await;
    let _worker = start_worker(&[&task_name], &[]).await;
    let id = conductor.start(&workflow_name, json!({})).await;
    let done = conductor.wait_terminal(&id, Duration::from_secs(60)).await;

    for reference in ["gzip", "br"] {
        let task = Conductor::task(&done, reference);
        assert_eq!(task["status"], "COMPLETED", "{reference}: {task:#}");
        assert_eq!(task["outputData"]["response"]["body"]["job"]["note"], "compressed", "{reference}");
    }
    let asked = &Conductor::task(&done, "gzip")["outputData"]["response"]["headers"]["X-Asked"][0];
    assert!(
        asked.as_str().unwrap().contains("gzip") && asked.as_str().unwrap().contains("br"),
        "Accept-Encoding: {asked}"
    );
    let bomb = Conductor::task(&done, "bomb");
    assert_eq!(bomb["status"], "FAILED_WITH_TERMINAL_ERROR", "{bomb:#}");
    assert!(bomb["reasonForIncompletion"].as_str().unwrap().contains("response body larger than"), "{bomb:#}");
}
