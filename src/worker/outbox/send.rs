//! Sending from the outbox: one attempt per due result, how it settles (delivered, refused, superseded by a final
//! task on the server, or lost), and retrying everything at once when the server is back.

use std::cmp::Reverse;
use std::sync::PoisonError;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::time::Instant;

use super::{Due, Outbox, Pending, STATUS_CHECK_AFTER, Settled};
use crate::conductor::ConductorApi;
use crate::metrics::values::DropReason;
use crate::worker::update_failure::UpdateFailure;

impl<C: ConductorApi> Outbox<C> {
    pub(super) fn spawn_send(&self, pending: Pending) {
        let outbox = self.clone();
        tokio::spawn(async move {
            let Ok(_permit) = outbox.inner.sends.clone().acquire_owned().await else { return };
            outbox.attempt(pending).await;
        });
    }

    async fn attempt(&self, mut pending: Pending) {
        pending.attempts += 1;
        let started = Instant::now();
        // Past the task's deadline the server may have timed it out: ask first (an answer also proves it is up).
        if started >= pending.deadline && self.already_final(&pending).await {
            return self.settle(pending, Settled::AlreadyFinal, started.elapsed());
        }
        let settled = match self.inner.api.update_task(&pending.result).await {
            Ok(()) => Some(Settled::Delivered),
            Err(error) if let Some(reason) = UpdateFailure::of(&error).drop_reason() => {
                tracing::error!(task_id = %pending.result.task_id, error = %error, "Server refused the result.");
                Some(Settled::Refused(reason))
            }
            Err(error) => {
                pending.last_error = error.to_string();
                let final_attempt = Instant::now() >= pending.give_up_at;
                pending.metrics.update_failed(error.kind(), !final_attempt);
                if final_attempt {
                    Some(Settled::Lost)
                } else if pending.attempts.is_multiple_of(STATUS_CHECK_AFTER) && self.already_final(&pending).await {
                    Some(Settled::AlreadyFinal)
                } else {
                    None
                }
            }
        };
        match settled {
            None => {
                let wait = pending.backoff.next(fastrand::f64());
                self.schedule(pending, Instant::now() + wait);
            }
            Some(settled) => self.settle(pending, settled, started.elapsed()),
        }
    }

    /// Whether the server shows the task final already (completed, failed, cancelled, timed out), so that no
    /// update can change it: asked when updates keep failing, in case only updates fail.
    async fn already_final(&self, pending: &Pending) -> bool {
        match self.inner.api.task_status(&pending.result.task_id).await {
            Ok(Some(status)) => !matches!(status.as_str(), "IN_PROGRESS" | "SCHEDULED"),
            Ok(None) => false,
            Err(_) => false,
        }
    }

    fn settle(&self, pending: Pending, settled: Settled, elapsed: Duration) {
        let task_id = &pending.result.task_id;
        match settled {
            Settled::Delivered => {
                tracing::info!(task_id = %task_id, attempts = pending.attempts, "Result delivered from the outbox.");
            }
            Settled::Refused(reason) => pending.metrics.result_dropped(reason),
            Settled::AlreadyFinal => {
                tracing::warn!(task_id = %task_id, "The server shows the task final already; result not delivered.");
                pending.metrics.result_superseded();
            }
            Settled::Lost => {
                tracing::error!(task_id = %task_id, workflow_id = %pending.result.workflow_instance_id, attempts = pending.attempts,
                                        error = %pending.last_error, "Result LOST: updates kept failing for the whole retry window.");
                pending.metrics.result_dropped(DropReason::Lost);
            }
        }
        pending.metrics.update_finished(settled == Settled::Delivered, elapsed, pending.result.json.len());
        pending.metrics.outbox(-1);
        let len = pending.result.json.len();
        self.inner.bytes.fetch_sub(len, Ordering::Relaxed);
        pending.metrics.outbox_bytes(-(len as i64));
        self.inner.room.notify_waiters();
        self.update_readiness();
        if self.inner.pending.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.inner.emptied.notify_waiters();
        }
    }

    /// The server answers again after failures: retry every waiting result now rather than at its backoff time.
    pub(super) fn server_back(&self) {
        let mut schedule = self.inner.schedule.lock().unwrap_or_else(PoisonError::into_inner);
        if schedule.is_empty() {
            return;
        }
        let now = Instant::now();
        let entries: Vec<Due> = schedule.drain().map(|Reverse(entry)| entry).collect();
        schedule.extend(entries.into_iter().map(|entry| Reverse(Due { due: now, ..entry })));
        drop(schedule);
        self.inner.changed.notify_one();
    }
}
