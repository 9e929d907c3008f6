//! A fake of the Conductor task API over HTTP, served in-process on loopback, for tests and benchmarks: the calls a
//! worker makes, with scripted queues, recorded requests and injectable failures, and the Orkes authentication
//! protocol. It is not a Conductor: there are no workflows, only task queues.
//!
//! - `GET /api/tasks/poll/batch/{type}?count&timeout`: up to `count` ready tasks; with none ready it waits up to
//!   `timeout` ms (a long poll) for one.
//! - `POST /api/tasks`: an update. A terminal status finishes the task; `IN_PROGRESS` stores `outputData` and
//!   queues the task again after `callbackAfterSeconds` (0: at once), with `pollCount` + 1 on its next delivery;
//!   with `extendLease: true` it changes nothing (counted in the stats as `leaseExtensions`).
//! - `POST /api/tasks/update-v2`: the same, then after a terminal update the next ready task of that type (or 204);
//!   or missing (404, 405), see [`UpdateV2`].
//! - `GET /api/tasks/{id}` (status and stored `outputData`), `GET /api/tasks/queue/size?taskType`.
//! - `POST /api/token`: Orkes tokens (JWT-shaped, with `exp`) for the configured key; without credentials, 404.
//!   Calls need `X-Authorization`; expired tokens get 401 `EXPIRED_TOKEN`, unknown ones 401 `INVALID_TOKEN`.
//! - `GET /bench/stats`, `GET /bench/summary?warmup_ms&window_ms`: counters, and throughput and latency
//!   percentiles over a window measured from the first delivery (for benchmarks).
//!
//! Every task records its first and last delivery and its finish time, so poll-to-update latency = finish − last
//! delivery and end-to-end = finish − first delivery.

mod auth;
mod routes;
mod store;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Notify;

use auth::Auth;
use store::Store;

/// How the fake treats `update-v2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateV2 {
    /// Supported: 204, or 200 with the next queued task after a terminal update.
    Supported,
    /// Missing, answered as Spring answers an unknown path: 404.
    NotFound,
    /// Missing, answered 405.
    MethodNotAllowed,
}

/// How the fake starts.
#[derive(Debug, Clone)]
pub struct Options {
    /// Key id and secret it accepts; `None`: no authentication (`/api/token` answers 404).
    pub credentials: Option<(String, String)>,
    /// Lifetime of the tokens it issues.
    pub token_ttl: Duration,
    /// Whether `update-v2` exists.
    pub update_v2: UpdateV2,
    /// Keep every call and every result body (tests); off for benchmarks, which only count.
    pub record: bool,
    /// `responseTimeoutSeconds` of every task (top level and in `workflowTask.taskDefinition`).
    pub response_timeout_secs: u64,
    /// A COMPLETED update counts as valid (in the stats) when its body contains this (empty: every one).
    pub expect: String,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            credentials: None,
            token_ttl: Duration::from_secs(600),
            update_v2: UpdateV2::Supported,
            record: true,
            response_timeout_secs: 60,
            expect: String::new(),
        }
    }
}

/// What the fake saw and how it answers; behind one lock.
#[derive(Debug)]
struct State {
    store: Store,
    auth: Auth,
    /// Every call as `METHOD path` (when recording).
    calls: Vec<String>,
    /// Every accepted result: (endpoint, body) (when recording).
    results: Vec<(String, Value)>,
    update_v2: UpdateV2,
    /// Tasks handed out in update-v2 replies.
    chained: u32,
    /// Updates are answered 503 while set (polls still work).
    fail_updates: bool,
    /// Polls are answered 503 while set.
    fail_polls: bool,
    /// The next this many updates are answered 401 with a body that names no token error.
    refuse_updates: u32,
}

/// Counters kept outside the lock.
#[derive(Debug, Default)]
struct Counters {
    polls: AtomicU64,
    empty_polls: AtomicU64,
    updates: AtomicU64,
    updates_v2: AtomicU64,
    in_progress_updates: AtomicU64,
}

#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Woken when tasks become ready (long polls wait on it).
    ready: Notify,
    counters: Counters,
    options: Options,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running fake; cheap to clone. It serves until the runtime it was started on ends.
#[derive(Debug, Clone)]
pub struct FakeConductor {
    shared: Arc<Shared>,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://127.0.0.1:PORT/api`.
    pub api: String,
}

impl FakeConductor {
    /// Starts a fake on a free loopback port.
    pub async fn start(options: Options) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("binding a loopback port");
        Self::serve(listener, options)
    }

    /// A fake with Orkes authentication for these credentials (`None`: none), as the Orkes tests use it.
    pub async fn orkes(credentials: Option<(&str, &str)>, token_ttl: Duration, update_v2: UpdateV2) -> Self {
        let credentials = credentials.map(|(k, s)| (k.to_owned(), s.to_owned()));
        Self::start(Options { credentials, token_ttl, update_v2, ..Options::default() }).await
    }

    /// Serves on `listener`.
    pub fn serve(listener: tokio::net::TcpListener, options: Options) -> Self {
        let addr = listener.local_addr().expect("a bound listener has an address");
        let state = State {
            store: Store::new(options.response_timeout_secs, options.expect.clone()),
            auth: Auth::new(options.credentials.clone(), options.token_ttl),
            calls: Vec::new(),
            results: Vec::new(),
            update_v2: options.update_v2,
            chained: 0,
            fail_updates: false,
            fail_polls: false,
            refuse_updates: 0,
        };
        let shared =
            Arc::new(Shared { state: Mutex::new(state), ready: Notify::new(), counters: Counters::default(), options });
        tokio::spawn(routes::redeliver(shared.clone()));
        let router = routes::router(shared.clone());
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self { shared, addr, api: format!("http://{addr}/api") }
    }

    /// Queues a task of `task_type` with this input; returns its id.
    pub fn enqueue(&self, task_type: &str, input: Value) -> String {
        let id = self.shared.lock().store.enqueue(task_type, &input);
        self.shared.ready.notify_waiters();
        id
    }

    /// Preloads `count` tasks of `task_type` whose input is `input_template` with `{{ID}}` replaced by each task's
    /// index; with `release_per_s` > 0, never-delivered tasks are handed out at most that many per second from the
    /// first poll on (so that their later callbacks come at a rate a worker can sustain).
    pub fn preload(&self, task_type: &str, count: u32, input_template: &str, release_per_s: u64) {
        self.shared.lock().store.preload(task_type, count, input_template, release_per_s);
        self.shared.ready.notify_waiters();
    }

    /// Results accepted: (endpoint, body), in order (when recording).
    pub fn results(&self) -> Vec<(String, Value)> {
        self.shared.lock().results.clone()
    }

    /// Every call as `METHOD path`, in order (when recording).
    pub fn calls(&self) -> Vec<String> {
        self.shared.lock().calls.clone()
    }

    /// Tasks handed out in update-v2 replies.
    pub fn chained(&self) -> u32 {
        self.shared.lock().chained
    }

    /// Polls answered so far.
    pub fn polls(&self) -> u64 {
        self.shared.counters.polls.load(Ordering::Relaxed)
    }

    /// Token requests so far.
    pub fn token_requests(&self) -> u32 {
        self.shared.lock().auth.token_requests
    }

    /// Calls refused for an expired or unknown token.
    pub fn rejected_calls(&self) -> u32 {
        self.shared.lock().auth.rejected_calls
    }

    /// Calls that arrived without any `X-Authorization`.
    pub fn unauthorized_calls(&self) -> u32 {
        self.shared.lock().auth.unauthorized_calls
    }

    /// Tokens issued so far (for log greps).
    pub fn issued_tokens(&self) -> Vec<String> {
        self.shared.lock().auth.issued()
    }

    /// Makes every issued token expired (as after its lifetime).
    pub fn expire_all_tokens(&self) {
        self.shared.lock().auth.expire_all();
    }

    /// Refuses (or accepts again) the configured credentials.
    pub fn accept_credentials(&self, accept: bool) {
        self.shared.lock().auth.accept = accept;
    }

    /// Starts requiring these credentials (`None`: no auth, `/api/token` answers 404), as a server whose gateway
    /// answered 404 during a rollout.
    pub fn require_credentials(&self, credentials: Option<(&str, &str)>) {
        self.shared.lock().auth.credentials = credentials.map(|(k, s)| (k.to_owned(), s.to_owned()));
    }

    /// Answers every update (either endpoint) 503 from now on, or accepts them again.
    pub fn fail_updates(&self, fail: bool) {
        self.shared.lock().fail_updates = fail;
    }

    /// Answers every poll 503 from now on, or serves them again.
    pub fn fail_polls(&self, fail: bool) {
        self.shared.lock().fail_polls = fail;
    }

    /// Answers the next `count` updates 401 `{"error":"UNAUTHORIZED"}`, whatever token they carry.
    pub fn refuse_next_updates(&self, count: u32) {
        self.shared.lock().refuse_updates = count;
    }
}
