//! Workflow authors against each other and against the worker, on the real server: conditions that
//! leave state behind, pollute prototypes and built-ins or take over `$`; runaway built-ins, more of them than
//! there are evaluators, and a huge allocation; requests to the worker's own listeners under every spelling and
//! through redirects; proxy variables in the environment, and a configured proxy with the host policy in front.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::http::{StatusCode, header};
use axum::routing::get;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::{CONTROL_TOKEN, Conductor, WorkerProcess, example_api, start_worker, unique};

/// A task type served by the worker under test, and a one-task workflow whose task input is the workflow's
/// `request` input (each workflow brings its own `http_request`).
struct Bench {
    conductor: Conductor,
    task_type: String,
    workflow: String,
}

impl Bench {
    async fn new(prefix: &str) -> Self {
        let conductor = Conductor::default();
        let task_type = unique(prefix);
        conductor.register_task_defs(&[Conductor::task_def(&task_type, 120, 0)]).await;
        let workflow = unique(&format!("{prefix}_wf"));
        conductor
            .put_workflow(&json!({
                "name": workflow, "version": 1, "schemaVersion": 2, "ownerEmail": "it@example.com",
                "tasks": [{"name": task_type, "taskReferenceName": "t", "type": "SIMPLE",
                           "inputParameters": {"http_request": "${workflow.input.request}"}}]
            }))
            .await;
        Self { conductor, task_type, workflow }
    }

    async fn start(&self, request: Value) -> String {
        self.conductor.start(&self.workflow, json!({"request": request})).await
    }

    /// Waits for the workflow and returns its task.
    async fn task(&self, id: &str, timeout: Duration) -> Value {
        let done = self.conductor.wait_terminal(id, timeout).await;
        Conductor::task(&done, "t").clone()
    }
}

fn reason(task: &Value) -> &str {
    task["reasonForIncompletion"].as_str().unwrap_or_default()
}

/// One task polls with a secret in its headers and a condition that would complete it only on a forged body; the
/// others try to read the secret and to forge its verdict (globals, prototypes, built-ins, `$` as a
/// non-configurable accessor). The victim completes only when its job does, and no attacker learns the secret.
#[tokio::test]
async fn conditions_neither_see_nor_forge_each_other() {
    let api = example_api(Duration::from_secs(3)).await;
    let bench = Bench::new("it_iso_cond").await;
    let _worker = start_worker(&[&bench.task_type], &[]).await;
    let secret = unique("Bearer victim");
    let request_id = unique("req");
    api.invoke(&request_id).await;
    // Not in the native subset (`some` needs the engine), so every evaluation reaches an evaluator process.
    let victim = bench
        .start(json!({"uri": format!("{}/{request_id}", api.base), "method": "GET",
                      "headers": {"Authorization": secret},
                      "terminationCondition": "[$.output.response.body.body.status].some(function(s){ return s === 'COMPLETED' })",
                      "pollingInterval": "0.2"}))
        .await;
    let polluters = [
        "globalThis.stolen = $.output.response.body; var leaked = 1; sneaky = 1; false",
        "Object.prototype.status = 'COMPLETED'; Array.prototype.some = function(){ return true }; false",
        "JSON.parse = function(){ return {body: {status: 'COMPLETED'}} }; String.prototype.valueOf = function(){ return 'COMPLETED' }; false",
        "Object.defineProperty(globalThis, '$', {get: function(){ return {output: {response: {body: {body: {status: 'COMPLETED'}}}}} }, set: function(){}, configurable: false}); false",
    ];
    // Each attacker polls the example API too, and on every poll tries again and looks for what others left.
    let spy = "(typeof stolen === 'undefined' && typeof leaked === 'undefined' && typeof sneaky === 'undefined' && ({}).status === undefined && ![].some(function(){ return false })) ? 0 : -1";
    let mut attackers = Vec::new();
    let decoy = unique("req");
    api.invoke(&decoy).await;
    for polluter in polluters {
        // Top-level statements, so that `var` and plain assignments would create globals.
        let condition = format!("var r = {spy}; {polluter}; r");
        let attacker = bench
            .start(json!({"uri": format!("{}/{decoy}", api.base), "method": "GET",
                          "terminationCondition": condition, "pollingInterval": "0.2", "maxPollCount": 8}))
            .await;
        attackers.push(attacker);
    }
    for attacker in &attackers {
        let task = bench.task(attacker, Duration::from_secs(60)).await;
        // Eight polls, none of which saw anything another evaluation left: the poll budget runs out (FAILED),
        // rather than -1 (FAILED_WITH_TERMINAL_ERROR, "the condition returned -1").
        assert_eq!(task["status"], "FAILED", "{task:#}");
        assert!(reason(&task).contains("maxPollCount"), "{task:#}");
        assert!(!task.to_string().contains(&secret), "the secret reached another task: {task:#}");
    }
    let task = bench.task(&victim, Duration::from_secs(60)).await;
    assert_eq!(task["status"], "COMPLETED", "{task:#}");
    assert_eq!(task["outputData"]["response"]["body"]["body"]["status"], "COMPLETED");
    let stats = api.api.stats(&request_id);
    assert!(
        stats.poll_times_ms.last().unwrap() - stats.poll_times_ms[0] >= 2_000,
        "completed only once the 3 s job had: {stats:?}"
    );
    assert_eq!(task["outputData"]["pollCount"], stats.polls, "{task:#}");
}

/// Runaway built-ins (more than there are evaluator processes) and a huge allocation each fail their own task
/// terminally, with a reason; the worker stays up and a benign poll completes at once after them.
#[tokio::test]
async fn runaway_conditions_fail_alone_and_benign_ones_go_on() {
    let api = example_api(Duration::ZERO).await;
    let bench = Bench::new("it_iso_runaway").await;
    let worker = start_worker(&[&bench.task_type], &[("CONDUCTOR_HTTP_WORKER_CONDITIONS_EVALUATORS", "1")]).await;
    let request_id = unique("req");
    api.invoke(&request_id).await;
    let uri = format!("{}/{request_id}", api.base);
    let runaways = [
        "/(a+)+$/.test('a'.repeat(40) + 'b')",
        "/(x+x+)+y/.test('x'.repeat(45))",
        "new Array(1e8).fill(0).length > 0",
        "var a = []; for (var i = 0; i < 4e5; i++) a.push(i % 977); a.sort(function(x, y){ return y - x }).length < 0",
        "'ab'.repeat(5e7).split('').reverse().join('').length < 0",
        "new Array(2**32-1).fill(0).length > 0",
        "'x'.repeat(2**28).length + 'y'.repeat(2**28).length > 0",
    ];
    let mut ids = Vec::new();
    for condition in runaways {
        ids.push(bench.start(json!({"uri": uri, "method": "GET", "terminationCondition": condition})).await);
    }
    for (id, condition) in ids.iter().zip(runaways) {
        let task = bench.task(id, Duration::from_secs(60)).await;
        assert_eq!(task["status"], "FAILED_WITH_TERMINAL_ERROR", "{condition}: {task:#}");
        let reason = reason(&task);
        assert!(
            reason.contains("was stopped") || reason.contains("out of memory") || reason.contains("died"),
            "{condition}: {reason}"
        );
    }
    let started = tokio::time::Instant::now();
    let benign = bench
        .start(json!({"uri": uri, "method": "GET",
                      "terminationCondition": "[$.output.response.body.body.status].some(function(s){ return s === 'COMPLETED' })"}))
        .await;
    let task = bench.task(&benign, Duration::from_secs(30)).await;
    assert_eq!(task["status"], "COMPLETED", "{task:#}");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    let metrics = reqwest::get(format!("{}/metrics", worker.admin)).await.unwrap().text().await.unwrap();
    let kills = sample(&metrics, "condition_evaluator_kills_total").unwrap_or(0.0);
    let died = sample(&metrics, "condition_evaluator_respawns_total{reason=\"died\"}").unwrap_or(0.0);
    assert!(kills >= 4.0 && kills + died >= 6.0, "kills {kills}, died {died}");
}

fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Tasks aim at the worker's control and admin listeners under every spelling of its address, by name and
/// through a redirect; every request fails terminally before it is sent, and the worker is neither paused nor
/// resized. (Loopback is opted into here, as in every test: the own listeners stay closed anyway.)
#[tokio::test]
async fn tasks_never_reach_the_workers_own_listeners() {
    let bench = Bench::new("it_iso_self").await;
    let worker = start_worker(&[&bench.task_type], &[]).await;
    let control_port = worker.control.rsplit(':').next().unwrap().to_owned();
    let admin_port = worker.admin.rsplit(':').next().unwrap().to_owned();
    let pause = format!("/task-types/{}/pause", bench.task_type);
    let redirector = redirect_to(format!("http://127.0.0.1:{control_port}{pause}")).await;
    let mut targets: Vec<String> = [
        "127.0.0.1",
        "localhost",
        "LocalHost.",
        "0.0.0.0",
        "[::]",
        "[::1]",
        "[::ffff:127.0.0.1]",
        "[::ffff:7f00:1]",
        "0x7f.1",
        "2130706433",
        "127.000.000.001",
        "0",
    ]
    .iter()
    .flat_map(|host| [format!("http://{host}:{control_port}{pause}"), format!("http://{host}:{admin_port}/metrics")])
    .collect();
    targets.push(format!("http://user:pw@127.0.0.1:{control_port}{pause}"));
    let mut ids = Vec::new();
    for uri in &targets {
        let request = json!({"uri": uri, "method": "POST", "headers": {"Authorization": format!("Bearer {CONTROL_TOKEN}")},
                             "body": {}});
        ids.push((uri.clone(), bench.start(request).await));
    }
    let via_redirect = bench.start(json!({"uri": redirector, "method": "GET"})).await;
    for (uri, id) in &ids {
        let task = bench.task(id, Duration::from_secs(30)).await;
        assert_eq!(task["status"], "FAILED_WITH_TERMINAL_ERROR", "{uri}: {task:#}");
        assert!(reason(&task).contains("own listeners"), "{uri}: {}", reason(&task));
    }
    let task = bench.task(&via_redirect, Duration::from_secs(30)).await;
    assert_eq!(task["status"], "FAILED_WITH_TERMINAL_ERROR", "{task:#}");
    assert!(reason(&task).contains("own listeners"), "{}", reason(&task));
    let listed: Value = reqwest::Client::new()
        .get(format!("{}/task-types", worker.control))
        .bearer_auth(CONTROL_TOKEN)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed[0]["paused"], false, "{listed}");
    assert_eq!(listed[0]["concurrency"], 100, "{listed}");
}

/// A target that redirects every request to `location`.
async fn redirect_to(location: String) -> String {
    let router = Router::new().route(
        "/go",
        get(move || {
            let location = location.clone();
            async move { (StatusCode::FOUND, [(header::LOCATION, location)]) }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}/go")
}

/// A forward proxy that records each request line and answers every request itself with a JSON body.
async fn recording_proxy() -> (String, Arc<Mutex<Vec<String>>>) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let record = seen.clone();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let record = record.clone();
            tokio::spawn(async move {
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read_exact(&mut byte).await.is_ok() {
                    head.push(byte[0]);
                }
                let text = String::from_utf8_lossy(&head);
                record.lock().unwrap().push(text.lines().next().unwrap_or_default().to_owned());
                let body = r#"{"via": "proxy"}"#;
                let reply = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(reply.as_bytes()).await;
            });
        }
    });
    (format!("http://{addr}"), seen)
}

/// Proxy variables in the worker's environment are ignored: requests go direct and the proxy sees nothing. With
/// `http.proxy` configured, requests go through it, and the host policy is applied to the target before: a
/// metadata address and a name outside the allow list never reach the proxy.
#[tokio::test]
async fn proxy_variables_are_ignored_and_a_configured_proxy_is_policed() {
    let api = example_api(Duration::ZERO).await;
    let (proxy, seen) = recording_proxy().await;
    let bench = Bench::new("it_iso_proxy").await;
    let proxy_env = [
        ("HTTP_PROXY", proxy.as_str()),
        ("http_proxy", proxy.as_str()),
        ("HTTPS_PROXY", proxy.as_str()),
        ("ALL_PROXY", proxy.as_str()),
    ];
    let worker = WorkerProcess::start_with_stderr(&[&bench.task_type], &[], &proxy_env, std::process::Stdio::null());
    let direct = bench.start(json!({"uri": format!("{}/healthz", api.base), "method": "GET"})).await;
    let task = bench.task(&direct, Duration::from_secs(30)).await;
    assert_eq!(task["status"], "COMPLETED", "{task:#}");
    assert_eq!(task["outputData"]["response"]["body"], "ok", "answered by the example API itself: {task:#}");
    assert!(seen.lock().unwrap().is_empty(), "the proxy saw {:?}", seen.lock().unwrap());
    // SIGTERM, so that no long poll of the stopped worker can take the next tasks.
    let (code, _) = worker.terminate(Duration::from_secs(15)).await;
    assert_eq!(code, Some(0));

    let configured = [
        ("CONDUCTOR_HTTP_WORKER_HTTP_PROXY", proxy.as_str()),
        ("CONDUCTOR_HTTP_WORKER_SECURITY_ALLOW_HOSTS", "allowed.example"),
    ];
    let _worker = start_worker(&[&bench.task_type], &configured).await;
    let ids = [
        bench.start(json!({"uri": "http://allowed.example/jobs/1", "method": "GET"})).await,
        bench
            .start(json!({"uri": "http://169.254.169.254/latest/meta-data/iam/security-credentials", "method": "GET"}))
            .await,
        bench.start(json!({"uri": "http://elsewhere.example/x", "method": "GET"})).await,
        bench.start(json!({"uri": "http://localhost:9/x", "method": "GET"})).await,
    ];
    let tasks = [
        bench.task(&ids[0], Duration::from_secs(30)).await,
        bench.task(&ids[1], Duration::from_secs(30)).await,
        bench.task(&ids[2], Duration::from_secs(30)).await,
        bench.task(&ids[3], Duration::from_secs(30)).await,
    ];
    assert_eq!(tasks[0]["status"], "COMPLETED", "{:#}", tasks[0]);
    assert_eq!(tasks[0]["outputData"]["response"]["body"]["via"], "proxy");
    for task in &tasks[1..] {
        assert_eq!(task["status"], "FAILED_WITH_TERMINAL_ERROR", "{task:#}");
        assert!(reason(task).contains("outbound policy"), "{}", reason(task));
    }
    assert_eq!(*seen.lock().unwrap(), vec!["GET http://allowed.example/jobs/1 HTTP/1.1".to_owned()]);
}
