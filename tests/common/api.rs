//! Targets served inside the test process: any router on a free loopback port ([`serve`]), and the example API
//! ([`Api`]), whose invoke answer can be held back after the invocation is counted (the cluster tests widen the
//! crash window with it). Used by `tests/it`, `tests/cluster` and the fleet example.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use example_api::ExampleApi;
use serde_json::json;

/// Serves `router` on a free loopback port in the background; returns `http://127.0.0.1:PORT`.
pub async fn serve(router: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("a loopback port");
    let addr = listener.local_addr().expect("a bound address");
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    format!("http://{addr}")
}

/// The example API, in-process on a free port.
pub struct Api {
    /// Its state (invocation and poll counters).
    pub api: ExampleApi,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
}

impl Api {
    /// Starts it with jobs completing `job` after their first invocation. Each invoke's answer is sent
    /// `invoke_response_delay` after the invocation was counted, so a worker killed in that window has invoked
    /// without learning it did.
    pub async fn start(job: Duration, invoke_response_delay: Duration) -> Self {
        let api = ExampleApi::new(job);
        let mut router = api.router();
        if !invoke_response_delay.is_zero() {
            let delay_invokes = move |request: Request, next: Next| async move {
                let invoke = request.uri().path() == "/invoke-lambda";
                let response = next.run(request).await;
                if invoke {
                    tokio::time::sleep(invoke_response_delay).await;
                }
                response
            };
            router = router.layer(axum::middleware::from_fn(delay_invokes));
        }
        Self { api, base: serve(router).await }
    }

    /// Starts a job the way the tutorial's HTTP step does.
    pub async fn invoke(&self, request_id: &str) {
        let response = reqwest::Client::new()
            .post(format!("{}/invoke-lambda", self.base))
            .json(&json!({"requestId": request_id}))
            .send()
            .await
            .expect("example API reachable");
        assert_eq!(response.status(), 202);
    }
}
