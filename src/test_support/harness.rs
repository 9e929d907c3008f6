//! A real worker loop (poller, slots, executor, reporter, outbox) over a [`FakeConductor`] and a
//! [`ScriptedTarget`], as `app::run_reporting` wires it, for tests under a paused clock.

use std::sync::Arc;
use std::time::Duration;

use prometheus_client::registry::Registry;
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::FakeConductor;
use super::target::ScriptedTarget;
use crate::condition::ConditionEvaluator;
use crate::config::TaskTypeConfig;
use crate::health::Health;
use crate::http_poll::Executor;
use crate::http_poll::executor::ExecutorSettings;
use crate::metrics::Metrics;
use crate::shutdown::Shutdown;
use crate::worker::outbox::Outbox;
use crate::worker::reporter::Reporter;
use crate::worker::{Control, Worker, WorkerDeps};

/// The task type the harness polls.
pub const TASK_TYPE: &str = "HTTP_POLL";

/// One task type with `concurrency` slots, 1 s long polls and the default 30 s park threshold.
pub fn task_type(concurrency: usize) -> TaskTypeConfig {
    TaskTypeConfig {
        name: TASK_TYPE.into(),
        domain: None,
        concurrency,
        poll_batch_max: concurrency,
        poll_timeout: Duration::from_secs(1),
        park_threshold: Duration::from_secs(30),
        worker_id: "loop-test".into(),
        paused: false,
    }
}

/// A running worker loop and the doubles it talks to.
pub struct LoopHarness {
    /// The Conductor it polls and reports to.
    pub api: Arc<FakeConductor>,
    /// The target its tasks call.
    pub target: Arc<ScriptedTarget>,
    /// Its shutdown tokens.
    pub shutdown: Shutdown,
    /// Its metrics.
    pub registry: Registry,
    /// Its undelivered results.
    pub outbox: Outbox<FakeConductor>,
    /// Its runtime controls.
    pub control: Arc<dyn Control>,
    /// Its liveness and readiness.
    pub health: Arc<Health>,
    outbox_stop: CancellationToken,
    poller: JoinHandle<()>,
    outbox_loop: JoinHandle<()>,
}

impl LoopHarness {
    /// Starts the loop with an outbox of 64 MiB.
    pub fn start(config: TaskTypeConfig, api: Arc<FakeConductor>, target: Arc<ScriptedTarget>) -> Self {
        Self::start_with_outbox(config, api, target, 64 << 20)
    }

    /// Starts the loop with an outbox bounded to `outbox_max_bytes`.
    pub fn start_with_outbox(
        config: TaskTypeConfig,
        api: Arc<FakeConductor>,
        target: Arc<ScriptedTarget>,
        outbox_max_bytes: usize,
    ) -> Self {
        let mut registry = Registry::default();
        let metrics = Arc::new(Metrics::register(&mut registry, Vec::new()));
        let health = Arc::new(Health::new(metrics.clone(), crate::health::LOOP_FRESHNESS));
        let shutdown = Shutdown::default();
        let retry_window = Duration::from_secs(600);
        let outbox = Outbox::new(api.clone(), health.clone(), retry_window, outbox_max_bytes);
        let outbox_stop = CancellationToken::new();
        let outbox_loop = tokio::spawn(outbox.clone().run(outbox_stop.clone()));
        let executor = Executor::new(target.clone(), ConditionEvaluator::native_only(), ExecutorSettings::default());
        let deps = Arc::new(WorkerDeps {
            api: api.clone(),
            executor,
            reporter: Reporter::new(api.clone(), health.clone(), outbox.clone(), shutdown.abandon.clone()),
            global_slots: Arc::new(Semaphore::new(1024)),
            health: health.clone(),
            shutdown: shutdown.clone(),
            metrics,
            queue_depth_interval: Duration::ZERO,
            retry_window,
            progress: crate::http_poll::progress::LogPolicy { first_polls: 5, every: Duration::from_secs(60) },
        });
        let worker = Worker::new(config, deps);
        let control: Arc<dyn Control> = worker.clone();
        let poller = tokio::spawn(worker.run());
        Self { api, target, shutdown, registry, outbox, control, health, outbox_stop, poller, outbox_loop }
    }

    /// Lets the loop run until `done` holds (checked every 10 ms of the test clock); false after `limit`.
    pub async fn run_until(&self, limit: Duration, done: impl Fn(&Self) -> bool) -> bool {
        let give_up = tokio::time::Instant::now() + limit;
        while !done(self) {
            if tokio::time::Instant::now() >= give_up {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        true
    }

    /// Shuts down as the daemon does: polling stops and held tasks park, then executions get `grace` to report
    /// and the outbox what is left of it. True when everything was reported.
    pub async fn stop(self, grace: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + grace;
        self.shutdown.begin();
        self.outbox.stop_bounding();
        let _ = tokio::time::timeout_at(deadline, self.poller).await;
        let drained = self.shutdown.drain_until(deadline).await;
        let flushed = self.outbox.flush(deadline).await;
        self.outbox_stop.cancel();
        let _ = self.outbox_loop.await;
        drained && flushed
    }

    /// The metrics as Prometheus text.
    pub fn metrics_text(&self) -> String {
        crate::metrics::encode(&self.registry)
    }
}
