//! Headers from files (rotated mid-run), HTTP Basic from the environment, a profile named for the wrong host, and
//! a redirect to another host.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};

use super::{Fixture, rotate, status_and_reason, temp_dir};
use crate::support::serve;

/// Every request's headers, as the target saw them, by path.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<(String, HeaderMap)>>>);

impl Seen {
    fn record(&self, path: &str, headers: &HeaderMap) {
        self.0.lock().unwrap().push((path.to_owned(), headers.clone()));
    }

    fn values(&self, path: &str, name: &str) -> Vec<Option<String>> {
        let seen = self.0.lock().unwrap();
        let on_path = seen.iter().filter(|(p, _)| p == path);
        on_path.map(|(_, h)| h.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)).collect()
    }
}

/// The request's headers as a JSON object: the target reflects them, as httpbin's `/headers` does.
fn reflected(headers: &HeaderMap) -> Value {
    headers.iter().map(|(k, v)| (k.as_str().to_owned(), json!(v.to_str().unwrap_or_default()))).collect()
}

#[tokio::test]
async fn a_header_comes_from_a_file_and_a_rotated_file_is_used() {
    let dir = temp_dir();
    let key_file = dir.path().join("api-key");
    std::fs::write(&key_file, "k3y-one-5f1c07\n").unwrap();
    let expected = Arc::new(Mutex::new("k3y-one-5f1c07".to_owned()));
    let seen = Seen::default();
    let target = {
        let (expected, seen) = (expected.clone(), seen.clone());
        serve(Router::new().route(
            "/secure",
            get(move |headers: HeaderMap| async move {
                seen.record("/secure", &headers);
                let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).unwrap_or_default();
                if key != *expected.lock().unwrap() {
                    return (StatusCode::UNAUTHORIZED, "wrong key").into_response();
                }
                // Reflects the key in a header and the body, as echo endpoints do.
                let echo = [(header::HeaderName::from_static("x-echo-key"), key.to_owned())];
                (echo, axum::Json(json!({"headers": reflected(&headers)}))).into_response()
            }),
        ))
        .await
    };
    let uri = target.replace("127.0.0.1", "localhost") + "/secure";
    let profiles = r#"
[targets.keyed]
hosts = ["localhost"]
headers = { "X-Api-Key" = { file = "{dir}/api-key" }, "X-Tenant" = "acme" }
"#;
    let mut fixture = Fixture::start("it_cred_file", profiles, dir, &[]).await;
    let first = fixture.call(json!({"uri": uri})).await;
    assert_eq!(status_and_reason(&first).0, "COMPLETED", "{first:#}");
    let response = &first["outputData"]["response"];
    assert_eq!(response["body"]["headers"]["x-api-key"], "<redacted>", "a reflected secret is redacted: {response:#}");
    assert_eq!(response["body"]["headers"]["x-tenant"], "acme", "a literal is configuration, shown as sent");
    assert_eq!(response["headers"]["X-Echo-Key"], json!(["<redacted>"]));

    rotate(&key_file, "k3y-two-9a7e11\n");
    *expected.lock().unwrap() = "k3y-two-9a7e11".to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let second = fixture.call(json!({"uri": uri})).await;
    assert_eq!(status_and_reason(&second).0, "COMPLETED", "the rotated key is sent: {second:#}");
    let keys = seen.values("/secure", "x-api-key");
    assert_eq!(keys, [Some("k3y-one-5f1c07".to_owned()), Some("k3y-two-9a7e11".to_owned())]);
    fixture.assert_no_secret(&["k3y-one-5f1c07", "k3y-two-9a7e11"], &[&first, &second]).await;
}

#[tokio::test]
async fn basic_auth_goes_only_to_the_profiles_host_never_across_a_redirect() {
    let seen = Seen::default();
    let elsewhere = {
        let seen = seen.clone();
        serve(Router::new().route(
            "/landing",
            get(move |headers: HeaderMap| async move {
                seen.record("/landing", &headers);
                axum::Json(json!({"landed": true}))
            }),
        ))
        .await
    };
    // Another host the profile covers too (127.0.0.2 is loopback as well): a redirect there still carries nothing.
    let covered_elsewhere = {
        let seen = seen.clone();
        let router = Router::new().route(
            "/landing",
            get(move |headers: HeaderMap| async move {
                seen.record("/covered-landing", &headers);
                axum::Json(json!({"landed": true}))
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.2:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await });
        format!("http://{addr}")
    };
    let expected = "Basic c3ZjOnBhNTUtdzByZC1pdA=="; // svc:pa55-w0rd-it
    let target = {
        let (seen, landing) = (seen.clone(), format!("{covered_elsewhere}/landing"));
        let basic = move |headers: HeaderMap| async move {
            seen.record("/basic", &headers);
            let authorized = headers.get(header::AUTHORIZATION).is_some_and(|v| v == expected);
            if authorized { StatusCode::OK } else { StatusCode::UNAUTHORIZED }
        };
        let redirect = move || async move { (StatusCode::FOUND, [(header::LOCATION, landing)]) };
        serve(Router::new().route("/basic", get(basic)).route("/redirect", get(redirect))).await
    };
    let own = target.replace("127.0.0.1", "localhost");
    let profiles = r#"
[targets.legacy]
hosts = ["localhost", "127.0.0.2"]
basic = { username = "svc", password_env = "IT_LEGACY_PASSWORD" }
"#;
    let env = [("IT_LEGACY_PASSWORD", "pa55-w0rd-it")];
    let mut fixture = Fixture::start("it_cred_basic", profiles, temp_dir(), &env).await;

    let basic = fixture.call(json!({"uri": format!("{own}/basic")})).await;
    assert_eq!(status_and_reason(&basic).0, "COMPLETED", "{basic:#}");

    // A workflow author names the profile for a host it does not cover: refused, nothing sent there.
    let stolen = fixture.call(json!({"uri": format!("{elsewhere}/landing"), "credentials": "legacy"})).await;
    let (status, reason) = status_and_reason(&stolen);
    assert_eq!(status, "FAILED_WITH_TERMINAL_ERROR", "{stolen:#}");
    assert!(reason.contains("credentials profile \"legacy\" does not cover host 127.0.0.1"), "{reason}");
    assert!(seen.values("/landing", "authorization").is_empty(), "the refused request was not sent");

    // A redirect from the profile's host to another host, even one the profile covers: followed, without the
    // credentials.
    let redirected = fixture.call(json!({"uri": format!("{own}/redirect")})).await;
    assert_eq!(status_and_reason(&redirected).0, "COMPLETED", "{redirected:#}");
    assert_eq!(redirected["outputData"]["response"]["body"], json!({"landed": true}));
    assert_eq!(seen.values("/covered-landing", "authorization"), [None], "no Authorization after the redirect");
    // Requested directly, that host gets them.
    let direct = fixture.call(json!({"uri": format!("{covered_elsewhere}/landing")})).await;
    assert_eq!(status_and_reason(&direct).0, "COMPLETED", "{direct:#}");
    assert_eq!(seen.values("/covered-landing", "authorization"), [None, Some(expected.to_owned())]);
    // A host no profile covers gets nothing either.
    let uncovered = fixture.call(json!({"uri": format!("{elsewhere}/landing")})).await;
    assert_eq!(status_and_reason(&uncovered).0, "COMPLETED", "{uncovered:#}");
    assert_eq!(seen.values("/landing", "authorization"), [None]);

    // An unknown profile name fails the task terminally, naming the key.
    let unknown = fixture.call(json!({"uri": format!("{own}/basic"), "credentials": "nope"})).await;
    let (status, reason) = status_and_reason(&unknown);
    assert_eq!(status, "FAILED_WITH_TERMINAL_ERROR", "{unknown:#}");
    assert!(reason.contains("http_request.credentials: there is no credentials profile \"nope\""), "{reason}");
    assert_eq!(seen.values("/basic", "authorization"), [Some(expected.to_owned())], "one request to /basic");

    let tasks = [&basic, &stolen, &redirected, &direct, &uncovered, &unknown];
    fixture.assert_no_secret(&["pa55-w0rd-it", expected], &tasks).await;
}

/// `eval --fetch` sends the request the way the daemon does: with the profile's credentials.
#[tokio::test]
async fn eval_fetch_uses_the_profiles() {
    let expected = "Basic c3ZjOnBhNTUtdzByZC1pdA=="; // svc:pa55-w0rd-it
    let target = serve(Router::new().route(
        "/status",
        get(move |headers: HeaderMap| async move {
            let authorized = headers.get(header::AUTHORIZATION).is_some_and(|v| v == expected);
            let state = if authorized { "DONE" } else { "UNAUTHORIZED" };
            axum::Json(json!({"state": state}))
        }),
    ))
    .await;
    let dir = temp_dir();
    let config = dir.path().join("worker.toml");
    let profile =
        "[targets.legacy]\nhosts = [\"localhost\"]\nbasic = { username = \"svc\", password_env = \"IT_PW\" }\n";
    std::fs::write(&config, format!("[security]\nallow_loopback = true\n\n{profile}")).unwrap();
    let input = dir.path().join("input.json");
    let uri = target.replace("127.0.0.1", "localhost") + "/status";
    let task = json!({"http_request": {"uri": uri, "method": "GET", "terminationCondition": "$.output.response.body.state == 'DONE'"}});
    std::fs::write(&input, task.to_string()).unwrap();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_conductor-http-worker"))
        .args(["--config", config.to_str().unwrap(), "eval", "--fetch", "--input", input.to_str().unwrap()])
        .env("IT_PW", "pa55-w0rd-it")
        .output()
        .await
        .unwrap();
    let printed = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{printed}");
    assert!(printed.contains("\"DONE\""), "the request carried the profile's Basic credentials: {printed}");
    assert!(!printed.contains("pa55-w0rd-it") && !printed.contains(expected), "{printed}");
}
