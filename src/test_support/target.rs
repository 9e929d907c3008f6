//! A scripted target API for loop tests: each path answers with a fixed delay (on tokio's clock, so a paused test
//! skips it) and a sequence of responses (the last one repeats); requests are recorded.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Map;
use tokio::time::Instant;

use crate::http_poll::request::InvokeError;
use crate::http_poll::response::{Body, HttpResponse};
use crate::http_poll::spec::RequestSpec;
use crate::http_poll::target::{Sending, Target};

#[derive(Debug)]
struct Route {
    delay: Duration,
    /// Headers of every response (Title-Case name → values).
    headers: Map<String, serde_json::Value>,
    /// Status and body text; the last one repeats.
    responses: VecDeque<(u16, String)>,
}

/// A target whose paths answer as scripted; unscripted paths answer 404.
#[derive(Debug, Default)]
pub struct ScriptedTarget {
    routes: Mutex<HashMap<String, Route>>,
    /// Paths requested and when, in order.
    pub requests: Mutex<Vec<(String, Instant)>>,
    /// The idempotency key of each request, in order.
    pub keys: Mutex<Vec<String>>,
    in_flight: AtomicUsize,
    /// The most requests in flight at once.
    pub max_in_flight: AtomicUsize,
}

impl ScriptedTarget {
    /// `path` answers after `delay` with these responses in turn (the last one repeats).
    pub fn route(&self, path: &str, delay: Duration, responses: &[(u16, &str)]) {
        let responses = responses.iter().map(|(status, body)| (*status, (*body).to_owned())).collect();
        self.routes.lock().unwrap().insert(path.to_owned(), Route { delay, headers: Map::new(), responses });
    }

    /// Every response of `path` carries these headers (`route` first).
    pub fn headers(&self, path: &str, headers: &[(&str, &str)]) {
        let mut routes = self.routes.lock().unwrap();
        let route = routes.get_mut(path).expect("route the path first");
        for (name, value) in headers {
            route.headers.insert((*name).to_owned(), serde_json::json!([value]));
        }
    }

    /// Requests made to `path`.
    pub fn requests_to(&self, path: &str) -> Vec<Instant> {
        self.requests.lock().unwrap().iter().filter(|(p, _)| p == path).map(|(_, at)| *at).collect()
    }

    fn next_answer(&self, path: &str) -> (Duration, u16, String, Map<String, serde_json::Value>) {
        let mut routes = self.routes.lock().unwrap();
        let Some(route) = routes.get_mut(path) else { return (Duration::ZERO, 404, String::new(), Map::new()) };
        let (status, body) =
            if route.responses.len() > 1 { route.responses.pop_front() } else { route.responses.front().cloned() }
                .unwrap_or((200, String::new()));
        (route.delay, status, body, route.headers.clone())
    }
}

impl Target for ScriptedTarget {
    fn send<'a>(&'a self, spec: &'a RequestSpec, idempotency_key: &'a str) -> Sending<'a> {
        Box::pin(async move {
            let path = spec.url.path().to_owned();
            self.requests.lock().unwrap().push((path.clone(), Instant::now()));
            self.keys.lock().unwrap().push(idempotency_key.to_owned());
            let (delay, status, body, headers) = self.next_answer(&path);
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            let answered = tokio::time::timeout(spec.timeout, tokio::time::sleep(delay)).await;
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            answered.map_err(|_| InvokeError::Timeout(spec.timeout))?;
            Ok(HttpResponse {
                status,
                reason: reqwest::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or_default()
                    .to_owned(),
                headers,
                body: Body::from_bytes(body.into_bytes()),
                elapsed: delay,
            })
        })
    }
}
