//! Wiring only: builds the HTTP clients, the Conductor client, the evaluator, the executor and a worker per task
//! type from a [`Config`], serves the admin endpoint, and runs until the given shutdown future resolves, then
//! drains.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::admin;
use crate::condition::{ConditionEvaluator, Limits};
use crate::conductor::client::HttpConductor;
use crate::config::Config;
use crate::health::Health;
use crate::http_poll::host_limits::HostLimits;
use crate::http_poll::request::HttpInvoker;
use crate::http_poll::spec::SpecDefaults;
use crate::http_poll::{Executor, ExecutorSettings};
use crate::shutdown::Shutdown;
use crate::worker::reporter::Reporter;
use crate::worker::{Worker, WorkerDeps};

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every execution reported before the grace period ended.
    Drained,
    /// Some executions were still running at the end of the grace period.
    GraceExpired,
}

/// Runs the daemon until `shutdown_signal` resolves, then drains within the configured grace period.
pub async fn run(config: Config, shutdown_signal: impl Future<Output = ()>) -> anyhow::Result<RunEnd> {
    let health = Arc::new(Health::default());
    if config.server.auth.is_some() {
        tracing::warn!("Orkes authentication is not implemented yet: requests are sent without X-Authorization.");
    }
    let admin_listener = match config.admin_addr {
        Some(addr) => Some(admin::bind(addr).await.with_context(|| format!("binding the admin address {addr}"))?),
        None => None,
    };
    let conductor =
        HttpConductor::new(conductor_client(&config)?, config.server.url.clone(), config.server.request_timeout);
    let executor = build_executor(&config)?;
    let shutdown = Shutdown::default();
    let api = Arc::new(conductor);
    let deps = Arc::new(WorkerDeps {
        api: api.clone(),
        executor,
        reporter: Reporter::new(api, config.updates.retry_window, health.clone()),
        global_slots: Arc::new(Semaphore::new(config.limits.max_concurrent_tasks)),
        health: health.clone(),
        shutdown: shutdown.clone(),
    });
    let admin_server = admin_listener.map(|listener| {
        if let Ok(addr) = listener.local_addr() {
            tracing::info!(addr = %addr, "Admin endpoint listening (/healthz, /readyz).");
        }
        let stop = shutdown.stop_polling.clone();
        tokio::spawn(async move {
            let served =
                axum::serve(listener, admin::router(health)).with_graceful_shutdown(stop.cancelled_owned()).await;
            if let Err(error) = served {
                tracing::error!(error = %error, "Admin endpoint failed.");
            }
        })
    });
    let mut pollers = JoinSet::new();
    for task_type in &config.task_types {
        pollers.spawn(Worker::new(task_type.clone(), deps.clone()).run());
    }
    tracing::info!(server = %config.server.url, task_types = ?config.task_types.iter().map(|t| &t.name).collect::<Vec<_>>(), "Worker started.");

    shutdown_signal.await;
    tracing::info!(
        grace_secs = config.shutdown_grace.as_secs(),
        "Shutting down: polling stops, held polls park, in-flight requests finish."
    );
    shutdown.begin();
    while pollers.join_next().await.is_some() {}
    let end = if shutdown.drain(config.shutdown_grace).await {
        tracing::info!("Drained: every execution reported.");
        RunEnd::Drained
    } else {
        tracing::warn!(still_running = shutdown.executions.len(), "Grace period over with executions still running.");
        RunEnd::GraceExpired
    };
    if let Some(server) = admin_server {
        let _ = server.await;
    }
    Ok(end)
}

/// The pooled client for the Conductor API.
fn conductor_client(config: &Config) -> anyhow::Result<reqwest::Client> {
    let max_idle = config.task_types.iter().map(|t| t.concurrency).sum::<usize>().clamp(4, 256);
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(max_idle)
        .tcp_nodelay(true)
        .user_agent(concat!("conductor-http-worker/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the Conductor HTTP client")
}

/// The executor with its target-request client, per-host limits and condition evaluator.
pub fn build_executor(config: &Config) -> anyhow::Result<Executor> {
    let target_client = reqwest::Client::builder()
        .pool_max_idle_per_host(config.limits.max_requests_per_host)
        .tcp_nodelay(true)
        .user_agent(concat!("conductor-http-worker/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the target HTTP client")?;
    let hosts = Arc::new(HostLimits::new(config.limits.max_requests_per_host, config.limits.hosts.clone()));
    let invoker = HttpInvoker::new(target_client, hosts, config.http.max_response_body_bytes);
    let limits = Limits {
        loop_iterations: config.conditions.max_loop_iterations,
        recursion: config.conditions.max_recursion,
        timeout: config.conditions.timeout,
    };
    let evaluator =
        ConditionEvaluator::start(config.conditions.threads, limits).context("starting the condition evaluator")?;
    let settings = ExecutorSettings {
        spec_defaults: SpecDefaults {
            connect_timeout: config.http.connect_timeout,
            read_timeout: config.http.read_timeout,
            max_polling_interval: config.polling.max_delay,
        },
        max_poll_delay: config.polling.max_delay,
        min_poll_interval: config.polling.min_interval,
        jitter_ratio: config.polling.jitter_ratio,
    };
    Ok(Executor::new(invoker, evaluator, settings))
}
