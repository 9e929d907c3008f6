//! Wiring only: builds the metrics registry, the HTTP clients, the Conductor client, the evaluator, the executor
//! and a worker per task type from a [`Config`], serves the admin and control endpoints, and runs until the given
//! shutdown future resolves, then drains.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::admin;
use crate::condition::{ConditionEvaluator, EvaluatorOptions, Limits};
use crate::conductor::auth::{Credentials, TokenCache};
use crate::conductor::client::HttpConductor;
use crate::config::ControlToken;
use crate::config::{ConditionsConfig, Config};
use crate::health::Health;
use crate::http_poll::invoker::build_invoker;
use crate::http_poll::spec::SpecDefaults;
use crate::http_poll::{Executor, ExecutorSettings};
use crate::metrics::{CredentialMetrics, Metrics};
use crate::shutdown::Shutdown;
use crate::worker::outbox::Outbox;
use crate::worker::reporter::Reporter;
use crate::worker::{Control, Worker, WorkerDeps};

/// How long reports abandoned at the deadline get to hand their results to the outbox (to be counted).
const ABANDON_WAIT: Duration = Duration::from_millis(300);

/// How the run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every execution reported before the grace period ended.
    Drained,
    /// Some executions were still running at the end of the grace period.
    GraceExpired,
}

/// Addresses the admin listeners were bound to (useful with port 0).
#[derive(Debug, Clone, Copy, Default)]
pub struct Bound {
    /// `/metrics`, `/healthz`, `/readyz`.
    pub admin: Option<SocketAddr>,
    /// Runtime control.
    pub control: Option<SocketAddr>,
}

/// Runs the daemon until `shutdown_signal` resolves, then drains within the configured grace period.
pub async fn run(config: Config, shutdown_signal: impl Future<Output = ()>) -> anyhow::Result<RunEnd> {
    run_reporting(config, shutdown_signal, |_| {}).await
}

/// [`run`], calling `on_bound` with the admin addresses once they are bound (before polling starts).
pub async fn run_reporting(
    config: Config,
    shutdown_signal: impl Future<Output = ()>,
    on_bound: impl FnOnce(Bound),
) -> anyhow::Result<RunEnd> {
    let mut registry = Registry::default();
    let metrics = Arc::new(Metrics::register(&mut registry, config.limits.hosts.keys().cloned().collect()));
    let registry = Arc::new(registry);
    let health = Arc::new(Health::new(metrics.clone(), config.admin.liveness_window));
    let control_token = read_control_token(&config)?;
    let admin_listener = bind(config.admin.addr, "admin").await?;
    let control_listener = bind(config.admin.control_addr, "control").await?;
    let bound = Bound {
        admin: admin_listener.as_ref().and_then(|l| l.local_addr().ok()),
        control: control_listener.as_ref().and_then(|l| l.local_addr().ok()),
    };
    // Tasks must never reach these listeners, however their address is spelled.
    let own_ports: Vec<u16> = [bound.admin, bound.control].into_iter().flatten().map(|a| a.port()).collect();
    on_bound(bound);

    let credentials = config.server.auth.clone().map(|(key_id, key_secret)| Credentials { key_id, key_secret });
    let api = Arc::new(HttpConductor::new(
        conductor_client(&config)?,
        config.server.url.clone(),
        config.server.request_timeout,
        TokenCache::new(credentials, config.server.token_ttl),
        metrics.clone(),
        health.clone(),
    ));
    let shutdown = Shutdown::default();
    let outbox = Outbox::new(api.clone(), health.clone(), config.updates.retry_window, config.updates.outbox_max_bytes);
    let outbox_stop = CancellationToken::new();
    let outbox_loop = tokio::spawn(outbox.clone().run(outbox_stop.clone()));
    let deps = Arc::new(WorkerDeps {
        api: api.clone(),
        executor: build_executor(&config, Some(&metrics), own_ports)?,
        reporter: Reporter::new(api, health.clone(), outbox.clone(), shutdown.abandon.clone()),
        global_slots: Arc::new(Semaphore::new(config.limits.max_concurrent_tasks)),
        health: health.clone(),
        shutdown: shutdown.clone(),
        metrics,
        queue_depth_interval: config.admin.queue_depth_interval,
        retry_window: config.updates.retry_window,
        progress: crate::http_poll::progress::LogPolicy {
            first_polls: config.polling.log_first_polls,
            every: config.polling.log_interval,
        },
    });
    let evaluator = deps.executor.conditions().clone();
    health.add_probe("condition evaluator", move |window| evaluator.dead_for(window));
    let workers: Vec<_> = config.task_types.iter().map(|t| Worker::new(t.clone(), deps.clone())).collect();

    // The endpoints stay up until the drain ends, so probes and scrapes see the shutdown.
    let endpoints_stop = CancellationToken::new();
    let mut endpoints = JoinSet::new();
    if let Some(listener) = admin_listener {
        endpoints.spawn(serve(listener, admin::router(health, registry), endpoints_stop.clone(), "admin"));
    }
    if let (Some(listener), Some(token)) = (control_listener, control_token) {
        let controls: Vec<Arc<dyn Control>> = workers.iter().map(|w| w.clone() as Arc<dyn Control>).collect();
        endpoints.spawn(serve(listener, admin::control_router(controls, token), endpoints_stop.clone(), "control"));
    }
    let mut pollers = JoinSet::new();
    for worker in workers {
        pollers.spawn(worker.run());
    }
    let names: Vec<_> = config.task_types.iter().map(|t| t.name.as_str()).collect();
    tracing::info!(server = %crate::redact::url_of(&config.server.url), task_types = ?names, "Worker started.");

    shutdown_signal.await;
    tracing::info!(
        grace_secs = config.shutdown_grace.as_secs(),
        "Shutting down: polling stops, held polls park, in-flight requests finish."
    );
    let grace_ends = tokio::time::Instant::now() + config.shutdown_grace;
    shutdown.begin();
    // Results are flushed or counted from now on, never left waiting for room.
    outbox.stop_bounding();
    // One deadline for every phase: requests still in flight shortly before it are abandoned, so that their
    // results can be reported before it.
    let interrupt_at = grace_ends - crate::shutdown::reporting_reserve(config.shutdown_grace);
    let interrupter = {
        let stop_executing = shutdown.stop_executing.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(interrupt_at).await;
            tracing::warn!("Shutdown deadline near: abandoning requests still in flight.");
            stop_executing.cancel();
        })
    };
    // A poll in flight may still bring tasks (handed back at once); it is waited for until the grace period ends.
    let _ = tokio::time::timeout_at(grace_ends, async { while pollers.join_next().await.is_some() {} }).await;
    let mut drained = shutdown.drain_until(grace_ends).await;
    interrupter.abort();
    let interrupted = shutdown.stop_executing.is_cancelled();
    if !drained {
        // Reports still in flight give up; their results join the outbox and are counted below.
        shutdown.abandon.cancel();
        let still = shutdown.drain_until(tokio::time::Instant::now() + ABANDON_WAIT).await;
        if !still {
            tracing::error!(
                still_running = shutdown.executions.len(),
                "Executions still running at the deadline: their tasks are left to the server's timeouts."
            );
        }
        drained = false;
    }
    // Results that failed their first update are in the outbox: they get what is left of the grace period.
    let flushed = outbox.flush(grace_ends).await;
    outbox_stop.cancel();
    let _ = outbox_loop.await;
    // Requests interrupted near the deadline were reported too (a retryable failure, or parked): the exit is clean
    // when nothing is left to the server's timeouts and nothing was lost.
    let end = if drained && flushed {
        if interrupted {
            tracing::warn!("Drained, with requests abandoned near the deadline: their tasks are retried or parked.");
        } else {
            tracing::info!("Drained: every execution reported.");
        }
        RunEnd::Drained
    } else {
        tracing::warn!(interrupted, drained, flushed, "Shutdown deadline reached before everything was done.");
        RunEnd::GraceExpired
    };
    endpoints_stop.cancel();
    while endpoints.join_next().await.is_some() {}
    Ok(end)
}

/// The control endpoint's bearer token, read once at start; `None` when the endpoint is off.
fn read_control_token(config: &Config) -> anyhow::Result<Option<String>> {
    Ok(match (&config.admin.control_addr, &config.admin.control_token) {
        (Some(_), Some(ControlToken::Value(token))) => Some(token.clone()),
        (Some(_), Some(ControlToken::File(path))) => {
            let token = std::fs::read_to_string(path)
                .with_context(|| format!("reading admin.control_token_file {}", path.display()))?;
            let token = token.trim().to_owned();
            anyhow::ensure!(!token.is_empty(), "admin.control_token_file {} is empty", path.display());
            Some(token)
        }
        _ => None,
    })
}

async fn bind(addr: Option<SocketAddr>, what: &str) -> anyhow::Result<Option<TcpListener>> {
    let Some(addr) = addr else { return Ok(None) };
    let listener = TcpListener::bind(addr).await.with_context(|| format!("binding the {what} address {addr}"))?;
    Ok(Some(listener))
}

async fn serve(listener: TcpListener, router: axum::Router, stop: CancellationToken, what: &'static str) {
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(addr = %addr, endpoint = what, "Listening.");
    }
    if let Err(error) = axum::serve(listener, router).with_graceful_shutdown(stop.cancelled_owned()).await {
        tracing::error!(error = %error, endpoint = what, "Endpoint failed.");
    }
}

/// The pooled client for the Conductor API. Proxy variables in the environment are ignored here too: one rule for
/// every connection the worker makes.
fn conductor_client(config: &Config) -> anyhow::Result<reqwest::Client> {
    let max_idle = config.task_types.iter().map(|t| t.concurrency).sum::<usize>().clamp(4, 256);
    reqwest::Client::builder()
        .no_proxy()
        .connect_timeout(Duration::from_secs(5))
        .pool_max_idle_per_host(max_idle)
        .tcp_nodelay(true)
        .user_agent(concat!("conductor-http-worker/", env!("CARGO_PKG_VERSION")))
        .build()
        .context("building the Conductor HTTP client")
}

/// The executor with its target-request client, per-host limits and condition evaluator processes (this binary,
/// under its hidden evaluator subcommand). Call within the tokio runtime.
pub fn build_executor(config: &Config, metrics: Option<&Metrics>, own_ports: Vec<u16>) -> anyhow::Result<Executor> {
    let profile_names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    let credential_metrics = metrics.map_or_else(CredentialMetrics::detached, |m| m.credentials(&profile_names));
    let invoker = build_invoker(config, own_ports, credential_metrics)?;
    let conditions = &config.conditions;
    let mut options = EvaluatorOptions::for_current_binary(
        conditions.evaluators,
        condition_limits(conditions),
        conditions.evaluator_memory_bytes,
    )
    .context("finding this program to run condition evaluators")?;
    options.metrics = metrics.map(Metrics::evaluator);
    if let Some(program) = &conditions.evaluator_program {
        options.program = program.clone();
    }
    let evaluator = ConditionEvaluator::start(options).context("starting the condition evaluators")?;
    let settings = ExecutorSettings {
        spec_defaults: SpecDefaults {
            connect_timeout: config.http.connect_timeout,
            read_timeout: config.http.read_timeout,
            max_polling_interval: config.polling.max_delay,
            retries: config.http.retries,
        },
        max_poll_delay: config.polling.max_delay,
        async_complete_recheck: config.polling.async_complete_recheck,
        min_poll_interval: config.polling.min_interval,
        jitter_ratio: config.polling.jitter_ratio,
        max_output_bytes: config.updates.max_output_bytes,
    };
    Ok(Executor::new(Arc::new(invoker), evaluator, settings))
}

/// The limits of one evaluation, from the configured numbers (config keeps plain numbers and does not import
/// `condition`; this is where the two meet).
fn condition_limits(conditions: &ConditionsConfig) -> Limits {
    Limits {
        loop_iterations: conditions.max_loop_iterations,
        recursion: conditions.max_recursion,
        timeout: conditions.timeout,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The catalogue's condition defaults are plain numbers of its own; they must stay the evaluator's defaults.
    #[test]
    fn the_configured_condition_defaults_are_the_evaluator_defaults() {
        let inputs = crate::config::LoadInputs { default_worker_id: "worker-1".into(), ..Default::default() };
        let loaded = crate::config::load(&inputs).expect("the defaults load");
        assert_eq!(condition_limits(&loaded.config.conditions), Limits::default());
    }
}
