//! Liveness and readiness state shared by the workers and the admin endpoint: when the server was last reached,
//! the last error, a heartbeat per poll loop, and probes of parts that can die on their own (the condition
//! evaluator processes). The Conductor client records every call's result here, in one place; the outbox waits on
//! [`Health::server_came_back`] to retry its results at once.
//!
//! Liveness means the process makes progress, not that it has work: a poll loop beats at every turn and also while
//! it waits for a free slot or for room in the outbox (a saturated worker is busy, not stuck; [`Health::beating`]),
//! so only a loop that stops being scheduled (a stuck runtime) or a probe that fails (no evaluator process can be
//! started) turns `/healthz` red.

use std::collections::BTreeMap;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;
use tokio::time::Instant;

use crate::clock::epoch_ms;
use crate::metrics::Metrics;

/// Readiness requires a successful server call within this long.
pub const SERVER_FRESHNESS: Duration = Duration::from_secs(60);
/// The default liveness window (`admin.liveness_window_secs`): every poll loop must have beaten within it (a long
/// poll takes at most 5 s plus the request timeout, and backoff is capped at 30 s).
pub const LOOP_FRESHNESS: Duration = Duration::from_secs(120);

/// A check of a part that can die on its own: `Some(reason)` when it is dead. Called with the liveness window.
pub struct LivenessProbe {
    name: &'static str,
    check: Box<dyn Fn(Duration) -> Option<String> + Send + Sync>,
}

impl std::fmt::Debug for LivenessProbe {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LivenessProbe({})", self.name)
    }
}

/// Shared health state.
#[derive(Debug, Default)]
pub struct Health {
    last_server_ok_ms: AtomicU64,
    last_error: Mutex<Option<String>>,
    /// The last call failed; the next success wakes [`Self::server_came_back`].
    failing: AtomicBool,
    came_back: Notify,
    auth_error: Mutex<Option<String>>,
    outbox_full: Mutex<Option<String>>,
    loops: Mutex<BTreeMap<String, Instant>>,
    probes: Mutex<Vec<LivenessProbe>>,
    /// Liveness window; zero means [`LOOP_FRESHNESS`].
    window: Duration,
    metrics: Option<Arc<Metrics>>,
}

/// What `/readyz` and `/healthz` report.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct HealthReport {
    /// Whether the check passes.
    pub ok: bool,
    /// Why not, when it does not.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub reasons: Vec<String>,
    /// Milliseconds since the server last answered a call successfully (absent if never).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub server_last_ok_ms_ago: Option<u64>,
}

impl Health {
    /// Health state that also drives the `conductor_server_up` gauge; a poll loop that has not beaten within
    /// `window` fails liveness.
    pub fn new(metrics: Arc<Metrics>, window: Duration) -> Self {
        Self { metrics: Some(metrics), window, ..Self::default() }
    }

    fn window(&self) -> Duration {
        if self.window.is_zero() { LOOP_FRESHNESS } else { self.window }
    }

    /// Adds a check of a part that can die on its own to liveness.
    pub fn add_probe(&self, name: &'static str, check: impl Fn(Duration) -> Option<String> + Send + Sync + 'static) {
        let probe = LivenessProbe { name, check: Box::new(check) };
        self.probes.lock().unwrap_or_else(PoisonError::into_inner).push(probe);
    }

    /// A call to the server succeeded.
    pub fn server_reached(&self) {
        self.last_server_ok_ms.store(epoch_ms(), Ordering::Relaxed);
        if self.failing.swap(false, Ordering::Relaxed) {
            self.came_back.notify_waiters();
        }
        if let Some(metrics) = &self.metrics {
            metrics.server_up(true);
        }
    }

    /// A call to the server failed in a way that may pass (no answer, 5xx, 429).
    pub fn server_failed(&self, error: &dyn std::fmt::Display) {
        *self.last_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(error.to_string());
        self.failing.store(true, Ordering::Relaxed);
        if let Some(metrics) = &self.metrics {
            metrics.server_up(false);
        }
    }

    /// Resolves at the next successful call after a failed one.
    pub async fn server_came_back(&self) {
        self.came_back.notified().await;
    }

    /// A token was obtained (or none is needed).
    pub fn auth_ok(&self) {
        let mut error = self.auth_error.lock().unwrap_or_else(PoisonError::into_inner);
        if error.is_some() {
            *error = None;
        }
    }

    /// No token could be obtained.
    pub fn auth_failed(&self, message: &str) {
        *self.auth_error.lock().unwrap_or_else(PoisonError::into_inner) = Some(message.to_owned());
    }

    /// The outbox is full (why), or has room again (`None`): no new work is taken while it is full.
    pub fn outbox(&self, full: Option<String>) {
        *self.outbox_full.lock().unwrap_or_else(PoisonError::into_inner) = full;
    }

    /// A poll loop is alive (called once per turn).
    pub fn loop_beat(&self, name: &str) {
        let mut loops = self.loops.lock().unwrap_or_else(PoisonError::into_inner);
        match loops.get_mut(name) {
            Some(at) => *at = Instant::now(),
            None => {
                loops.insert(name.to_owned(), Instant::now());
            }
        }
    }

    /// Waits for `waited` (a free slot, room in the outbox) while beating for the poll loop `name` a few times per
    /// window: waiting for room is progress. A loop that is not scheduled at all (a stuck runtime) stops beating.
    pub async fn beating<F: Future>(&self, name: &str, waited: F) -> F::Output {
        let mut waited = std::pin::pin!(waited);
        let mut beat = tokio::time::interval(self.window() / 4);
        loop {
            tokio::select! {
                out = &mut waited => return out,
                _ = beat.tick() => self.loop_beat(name),
            }
        }
    }

    /// A poll loop ended (shutdown); it no longer counts for liveness.
    pub fn loop_ended(&self, name: &str) {
        self.loops.lock().unwrap_or_else(PoisonError::into_inner).remove(name);
    }

    /// Liveness: every running poll loop beat within the window, and every probe passes.
    pub fn liveness(&self) -> HealthReport {
        let window = self.window();
        let loops = self.loops.lock().unwrap_or_else(PoisonError::into_inner);
        let mut reasons: Vec<String> = loops
            .iter()
            .filter(|(_, at)| at.elapsed() > window)
            .map(|(name, at)| format!("poll loop {name} has not turned for {} s", at.elapsed().as_secs()))
            .collect();
        drop(loops);
        let probes = self.probes.lock().unwrap_or_else(PoisonError::into_inner);
        reasons.extend(probes.iter().filter_map(|probe| (probe.check)(window)));
        HealthReport { ok: reasons.is_empty(), reasons, server_last_ok_ms_ago: self.server_ok_ago(epoch_ms()) }
    }

    /// Readiness: the server answered recently.
    pub fn readiness(&self) -> HealthReport {
        let now = epoch_ms();
        let ago = self.server_ok_ago(now);
        let mut reasons = Vec::new();
        let last_error = self.last_error.lock().unwrap_or_else(PoisonError::into_inner).clone();
        let error_note = last_error.map(|e| format!("; last error: {e}")).unwrap_or_default();
        match ago {
            None => reasons.push(format!("the Conductor server has not been reached yet{error_note}")),
            Some(ms) if ms > SERVER_FRESHNESS.as_millis() as u64 => {
                reasons.push(format!("the Conductor server was last reached {} s ago{error_note}", ms / 1000));
            }
            Some(_) => {}
        }
        if let Some(error) = self.auth_error.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            reasons.push(format!("authorization is failing: {error}"));
        }
        if let Some(full) = self.outbox_full.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            reasons.push(full.clone());
        }
        HealthReport { ok: reasons.is_empty(), reasons, server_last_ok_ms_ago: ago }
    }

    fn server_ok_ago(&self, now: u64) -> Option<u64> {
        let at = self.last_server_ok_ms.load(Ordering::Relaxed);
        (at > 0).then(|| now.saturating_sub(at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_success_after_a_failure_wakes_the_waiters_once() {
        let health = Arc::new(Health::default());
        let waiter = tokio::spawn({
            let health = health.clone();
            async move { health.server_came_back().await }
        });
        tokio::task::yield_now().await;
        health.server_reached(); // not failing: nobody is woken
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        health.server_failed(&"timed out");
        health.server_reached();
        tokio::time::timeout(Duration::from_secs(5), waiter).await.expect("woken").unwrap();
    }

    #[test]
    fn not_ready_until_the_server_answers() {
        let health = Health::default();
        health.server_failed(&"transport error: connection refused");
        let report = health.readiness();
        assert!(!report.ok);
        assert!(report.reasons[0].contains("not been reached yet; last error: transport error: connection refused"));
        health.server_reached();
        assert!(health.readiness().ok);
        health.auth_failed("token request failed (401): INVALID_CREDENTIALS");
        let report = health.readiness();
        assert!(!report.ok && report.reasons[0].contains("authorization is failing"), "{report:?}");
        health.auth_ok();
        assert!(health.readiness().ok);
    }

    #[tokio::test(start_paused = true)]
    async fn live_while_loops_turn_or_wait_for_room_and_probes_pass() {
        let health = Arc::new(Health::default());
        health.loop_beat("HTTP_POLL");
        health.loop_beat("stuck");
        assert!(health.liveness().ok);
        // One loop waits for a slot for three windows, the other is never scheduled again.
        let waiting = tokio::spawn({
            let health = health.clone();
            async move { health.beating("HTTP_POLL", tokio::time::sleep(3 * LOOP_FRESHNESS)).await }
        });
        tokio::time::sleep(2 * LOOP_FRESHNESS).await;
        let report = health.liveness();
        assert_eq!(report.reasons.len(), 1, "{report:?}");
        assert!(report.reasons[0].contains("poll loop stuck has not turned"), "{report:?}");
        health.loop_ended("stuck");
        assert!(health.liveness().ok, "a loop waiting for room is live");
        waiting.await.unwrap();
        let dead = Arc::new(AtomicBool::new(false));
        health.add_probe("evaluator", {
            let dead = dead.clone();
            move |_| dead.load(Ordering::Relaxed).then(|| "no evaluator process".to_owned())
        });
        assert!(health.liveness().ok);
        dead.store(true, Ordering::Relaxed);
        assert_eq!(health.liveness().reasons, ["no evaluator process"]);
    }
}
