//! The poll loop of one task type: permit first, then poll for exactly as many tasks as permits are held.
//!
//! Two modes, because the SQL queue backends answer a batch poll only when `count` tasks were found or the
//! timeout passed (a count of 20 with one task queued waits the whole timeout):
//! - idle: ask for 1 task with the long-poll timeout, so a new task is returned the moment it is queued;
//! - draining (after a poll filled its count): ask for as many as there are free slots with no wait, until a
//!   poll comes back short.
//!
//! Errors back off with decorrelated jitter (100 ms to 30 s); the loop only ends at shutdown, and never drops
//! an in-flight poll (the server acks tasks when it hands them out). It beats the liveness heartbeat at every turn
//! and while it waits for a slot or for room in the outbox.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::Worker;
use super::backoff::Backoff;
use crate::conductor::{ConductorApi, PollRequest};

/// How often a paused worker checks whether it was resumed.
const PAUSED_RECHECK: Duration = Duration::from_millis(500);
/// Pause after an empty idle poll that came back early (a server that does not long-poll), so such a server is
/// asked at most ten times a second per task type.
const EARLY_EMPTY_POLL_PAUSE: Duration = Duration::from_millis(100);

pub(super) async fn run<C: ConductorApi>(worker: &Arc<Worker<C>>) {
    let config = &worker.config;
    let deps = &worker.deps;
    let stop = &deps.shutdown.stop_polling;
    let mut backoff = Backoff::new(Duration::from_millis(100), Duration::from_secs(30));
    let mut draining = false;
    tracing::info!(task_type = %config.name, domain = ?config.domain, concurrency = config.concurrency, "Polling.");
    while !stop.is_cancelled() {
        deps.health.loop_beat(&config.name);
        if worker.paused.load(std::sync::atomic::Ordering::Relaxed) {
            worker.metrics.paused();
            tokio::select! {
                () = tokio::time::sleep(PAUSED_RECHECK) => continue,
                () = stop.cancelled() => break,
            }
        }
        let outbox = deps.reporter.outbox();
        if outbox.is_full() {
            // Undelivered results are bounded in bytes: no new work until the server takes some of them.
            tokio::select! {
                () = deps.health.beating(&config.name, outbox.wait_for_room()) => {}
                () = tokio::time::sleep(PAUSED_RECHECK) => continue,
                () = stop.cancelled() => break,
            }
        }
        let first = match worker.slots.try_acquire() {
            Some(slot) => slot,
            None => {
                worker.metrics.queue_full();
                tokio::select! {
                    slot = deps.health.beating(&config.name, worker.slots.acquire()) => slot,
                    () = stop.cancelled() => break,
                }
            }
        };
        let mut slots = vec![first];
        if draining {
            while slots.len() < config.poll_batch_max {
                match worker.slots.try_acquire() {
                    Some(slot) => slots.push(slot),
                    None => break,
                }
            }
        }
        let count = slots.len();
        let request = PollRequest {
            task_type: &config.name,
            domain: config.domain.as_deref(),
            worker_id: &config.worker_id,
            count,
            timeout: if draining { Duration::ZERO } else { config.poll_timeout },
        };
        let started = Instant::now();
        let polled = deps.api.poll_batch(request).await;
        worker.metrics.poll(started.elapsed(), polled.as_ref().err().map(|e| e.kind()));
        match polled {
            Ok(tasks) => {
                backoff.reset();
                let early_empty = tasks.is_empty() && !draining && started.elapsed() < config.poll_timeout / 2;
                draining = !tasks.is_empty() && tasks.len() >= count;
                let received_at = Instant::now();
                for task in tasks {
                    // A server may return more than asked (conductor-oss#369): take a free slot or hand it back.
                    let slot = slots.pop().or_else(|| worker.slots.try_acquire());
                    worker.dispatch.start(task, slot, received_at);
                }
                if early_empty {
                    drop(slots);
                    tokio::select! {
                        () = tokio::time::sleep(EARLY_EMPTY_POLL_PAUSE) => {}
                        () = stop.cancelled() => break,
                    }
                }
            }
            Err(error) => {
                draining = false;
                drop(slots);
                let wait = backoff.next(fastrand::f64());
                tracing::warn!(task_type = %config.name, error = %error, retry_in_ms = wait.as_millis() as u64, "Poll failed.");
                tokio::select! {
                    () = tokio::time::sleep(wait) => {}
                    () = stop.cancelled() => break,
                }
            }
        }
    }
    deps.health.loop_ended(&config.name);
    tracing::info!(task_type = %config.name, "Polling stopped.");
}
