//! Liveness and readiness state shared by the workers and the admin endpoint: when the server was last reached,
//! the last error, and a heartbeat per poll loop. The Conductor client records every call's result here, in one
//! place; the outbox waits on [`Health::server_came_back`] to retry its results at once.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::PoisonError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use serde::Serialize;
use tokio::sync::Notify;

use std::sync::Arc;

use crate::clock::epoch_ms;
use crate::metrics::Metrics;

/// Readiness requires a successful server call within this long.
pub const SERVER_FRESHNESS: Duration = Duration::from_secs(60);
/// Liveness requires every poll loop to have turned within this long (a long poll takes at most 5 s plus the
/// request timeout, and backoff is capped at 30 s).
pub const LOOP_FRESHNESS: Duration = Duration::from_secs(120);

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
    loops: Mutex<BTreeMap<String, u64>>,
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
    /// Health state that also drives the `conductor_server_up` gauge.
    pub fn new(metrics: Arc<Metrics>) -> Self {
        Self { metrics: Some(metrics), ..Self::default() }
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
            Some(at) => *at = epoch_ms(),
            None => {
                loops.insert(name.to_owned(), epoch_ms());
            }
        }
    }

    /// A poll loop ended (shutdown); it no longer counts for liveness.
    pub fn loop_ended(&self, name: &str) {
        self.loops.lock().unwrap_or_else(PoisonError::into_inner).remove(name);
    }

    /// Liveness: every running poll loop turned recently.
    pub fn liveness(&self) -> HealthReport {
        let now = epoch_ms();
        let loops = self.loops.lock().unwrap_or_else(PoisonError::into_inner);
        let reasons: Vec<String> = loops
            .iter()
            .filter(|(_, at)| now.saturating_sub(**at) > LOOP_FRESHNESS.as_millis() as u64)
            .map(|(name, at)| format!("poll loop {name} has not turned for {} s", now.saturating_sub(*at) / 1000))
            .collect();
        HealthReport { ok: reasons.is_empty(), reasons, server_last_ok_ms_ago: self.server_ok_ago(now) }
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

    #[test]
    fn live_while_loops_turn() {
        let health = Health::default();
        health.loop_beat("HTTP_POLL");
        assert!(health.liveness().ok);
        health.loops.lock().unwrap().insert("stuck".into(), epoch_ms() - 10 * LOOP_FRESHNESS.as_millis() as u64);
        let report = health.liveness();
        assert!(!report.ok && report.reasons[0].contains("stuck"), "{report:?}");
        health.loop_ended("stuck");
        assert!(health.liveness().ok);
    }
}
