//! Security and safety of target requests: the outbound host policy (literal addresses, resolved names,
//! redirects, metadata ranges), redirect loops, TLS verification with an extra CA bundle, response-body and
//! output-size caps, and the Idempotency-Key header. Run against the fake server, which records every result.

use std::time::Duration;

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{any, get};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::support::{serve, start_worker};
use fake_conductor::{FakeConductor, UpdateV2};

async fn target() -> String {
    let router = Router::new()
        .route(
            "/redirect-to-metadata",
            get(|| async { (StatusCode::FOUND, [(header::LOCATION, "http://169.254.169.254/latest/meta-data")]) }),
        )
        .route("/loop", get(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }))
        .route("/huge", get(|| async { "x".repeat(3 * 1024 * 1024) }))
        .route("/big", get(|| async { axum::Json(json!({"items": vec!["abcdefghij"; 60_000]})) }))
        .route(
            "/echo",
            any(|headers: HeaderMap| async move {
                let key = headers.get("idempotency-key").and_then(|v| v.to_str().ok()).map(str::to_owned);
                axum::Json(json!({"idempotencyKey": key})).into_response()
            }),
        );
    serve(router).await
}

/// Runs `inputs` as single-call tasks through a worker configured with `env`; returns each task's result body.
async fn run(inputs: Vec<Value>, env: &[(&str, &str)]) -> Vec<Value> {
    let fake = FakeConductor::orkes(None, Duration::from_secs(600), UpdateV2::Supported).await;
    let ids: Vec<String> =
        inputs.into_iter().map(|input| fake.enqueue("guarded", json!({"http_request": input}))).collect();
    let mut vars = vec![("CONDUCTOR_SERVER_URL", fake.api.as_str())];
    vars.extend_from_slice(env);
    let _worker = start_worker(&["guarded"], &vars).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.results().len() < ids.len() {
        assert!(Instant::now() < deadline, "results: {:#?}", fake.results());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let results = fake.results();
    ids.iter()
        .map(|id| results.iter().find(|(_, r)| r["taskId"] == id.as_str()).map(|(_, r)| r.clone()).unwrap())
        .collect()
}

fn assert_failed(result: &Value, status: &str, fragment: &str) {
    assert_eq!(result["status"], status, "{result:#}");
    let reason = result["reasonForIncompletion"].as_str().unwrap_or_default();
    assert!(reason.contains(fragment), "reason {reason:?} lacks {fragment:?}");
}

#[tokio::test]
async fn the_host_policy_blocks_metadata_and_denied_targets_on_every_hop() {
    let base = target().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let results = run(
        vec![
            json!({"uri": "http://169.254.169.254/latest/meta-data/iam", "method": "GET"}),
            json!({"uri": "http://[fd00:ec2::254]/", "method": "GET"}),
            json!({"uri": format!("{base}/redirect-to-metadata"), "method": "GET"}),
            json!({"uri": format!("http://localhost:{port}/echo"), "method": "GET"}),
            json!({"uri": format!("http://denied.localhost:{port}/echo"), "method": "GET"}),
            json!({"uri": format!("{base}/echo"), "method": "GET"}),
        ],
        &[
            // Names that resolve to loopback are refused by address; the literal 127.0.0.1 stays allowed.
            ("CONDUCTOR_HTTP_WORKER_SECURITY_DENY_CIDRS", "::1/128"),
            ("CONDUCTOR_HTTP_WORKER_SECURITY_DENY_HOSTS", "*.localhost"),
            ("CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_HOSTS", "example.invalid"),
            ("CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_CIDRS", "127.0.0.1/32"),
        ],
    )
    .await;
    assert_failed(
        &results[0],
        "FAILED_WITH_TERMINAL_ERROR",
        "address 169.254.169.254 is in denied range 169.254.0.0/16",
    );
    assert_failed(&results[1], "FAILED_WITH_TERMINAL_ERROR", "denied range fd00:ec2::254/128");
    assert_failed(&results[2], "FAILED_WITH_TERMINAL_ERROR", "169.254.169.254 is in denied range");
    // localhost resolves to 127.0.0.1 (allowed range) and ::1 (denied): only the allowed address is used.
    assert_eq!(results[3]["status"], "COMPLETED", "{:#}", results[3]);
    assert_failed(&results[4], "FAILED_WITH_TERMINAL_ERROR", "matches denied pattern *.localhost");
    assert_eq!(results[5]["status"], "COMPLETED", "{:#}", results[5]);
}

#[tokio::test]
async fn names_are_checked_on_the_address_they_resolve_to() {
    let base = target().await;
    let port = base.rsplit(':').next().unwrap().to_owned();
    let results = run(
        vec![json!({"uri": format!("http://localhost:{port}/echo"), "method": "GET"})],
        &[("CONDUCTOR_HTTP_WORKER_SECURITY_DENY_CIDRS", "127.0.0.0/8,::1/128")],
    )
    .await;
    assert_failed(&results[0], "FAILED_WITH_TERMINAL_ERROR", "is in denied range");
}

#[tokio::test]
async fn redirect_loops_oversized_bodies_and_outputs() {
    let base = target().await;
    let results = run(
        vec![
            json!({"uri": format!("{base}/loop"), "method": "GET"}),
            json!({"uri": format!("{base}/huge"), "method": "GET"}),
            json!({"uri": format!("{base}/big"), "method": "GET"}),
        ],
        &[("CONDUCTOR_HTTP_WORKER_UPDATES_MAX_OUTPUT_BYTES", "100000")],
    )
    .await;
    assert_failed(&results[0], "FAILED", "more than 10 redirects");
    // Terminal: the same request brings the same body, so a retry cannot help.
    assert_failed(&results[1], "FAILED_WITH_TERMINAL_ERROR", "response body larger than 1048576 bytes");
    assert_eq!(results[2]["status"], "COMPLETED");
    let response = &results[2]["outputData"]["response"];
    assert_eq!(response["bodyTruncated"], true, "{response}");
    assert!(response["bodyBytes"].as_u64().unwrap() > 600_000);
    assert!(results[2].to_string().len() <= 110_000, "kept under the output limit");
}

#[tokio::test]
async fn idempotency_keys_go_with_non_get_requests() {
    let base = target().await;
    let results = run(
        vec![
            json!({"uri": format!("{base}/echo"), "method": "POST", "body": {"a": 1}}),
            json!({"uri": format!("{base}/echo"), "method": "GET"}),
            json!({"uri": format!("{base}/echo"), "method": "PUT", "headers": {"Idempotency-Key": "mine"}}),
            json!({"uri": format!("{base}/echo"), "method": "POST", "terminationCondition": "$.output.pollCount >= 2",
                   "pollingInterval": 0.1}),
        ],
        &[],
    )
    .await;
    let key = |r: &Value| r["outputData"]["response"]["body"]["idempotencyKey"].clone();
    assert_eq!(key(&results[0]), results[0]["taskId"], "the task id");
    assert_eq!(key(&results[1]), Value::Null, "GET carries none");
    assert_eq!(key(&results[2]), "mine", "the task's own header wins");
    assert_eq!(key(&results[3]), json!(format!("{}:2", results[3]["taskId"].as_str().unwrap())), "poll n: <task id>:n");
}

#[tokio::test]
async fn tls_is_verified_and_an_extra_ca_bundle_is_trusted() {
    let (url, ca_pem) = tls_target().await;
    let ca_file = std::env::temp_dir().join(format!("chw-ca-{}.pem", std::process::id()));
    std::fs::write(&ca_file, ca_pem).unwrap();
    let call = || json!({"uri": url.clone(), "method": "GET"});
    let untrusted = run(vec![call()], &[]).await;
    assert_failed(&untrusted[0], "FAILED", "certificate");
    let ca_path = ca_file.to_string_lossy().into_owned();
    let trusted = run(vec![call()], &[("CONDUCTOR_HTTP_WORKER_HTTP_EXTRA_CA_FILE", ca_path.as_str())]).await;
    let _ = std::fs::remove_file(&ca_file);
    assert_eq!(trusted[0]["status"], "COMPLETED", "{:#}", trusted[0]);
    assert_eq!(trusted[0]["outputData"]["response"]["body"], json!({"tls": true}));
}

/// An HTTPS target on 127.0.0.1 with a certificate for `localhost` signed by a fresh CA; returns its URL and the
/// CA certificate (PEM).
async fn tls_target() -> (String, String) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_rustls::rustls::{self, pki_types};

    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = KeyPair::generate().unwrap();
    let server =
        CertificateParams::new(vec!["localhost".to_owned()]).unwrap().signed_by(&server_key, &ca, &ca_key).unwrap();
    let key = pki_types::PrivateKeyDer::Pkcs8(pki_types::PrivatePkcs8KeyDer::from(server_key.serialize_der()));
    let config =
        rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(vec![server.der().clone()], key)
            .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(stream).await else { return };
                let mut request = Vec::new();
                let mut buffer = [0u8; 1024];
                while !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buffer).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => request.extend_from_slice(&buffer[..n]),
                    }
                }
                let body = r#"{"tls":true}"#;
                let response = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = tls.write_all(response.as_bytes()).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    (format!("https://localhost:{port}/"), ca.pem())
}
