//! The outbox's bound in bytes (`updates.outbox_max_bytes`): whether a result fits, a result waiting for room in its
//! execution, the pollers waiting while the outbox is full, readiness saying why, and no bound once shutdown begins.
//!
//! Owns: room. Does not own: the schedule or sending (the parent module, [`super::send`]).

use std::sync::atomic::Ordering;

use tokio::time::Instant;

use super::Outbox;
use crate::conductor::{ClientError, ConductorApi, EncodedResult};
use crate::metrics::TaskMetrics;

impl<C: ConductorApi> Outbox<C> {
    /// Whether new work should wait: the outbox is at its bound, or results wait for room.
    pub fn is_full(&self) -> bool {
        !self.inner.unbounded.load(Ordering::Relaxed)
            && (self.bytes() >= self.inner.max_bytes || self.inner.waiting.load(Ordering::Relaxed) > 0)
    }

    fn fits(&self, len: usize) -> bool {
        let bytes = self.bytes();
        bytes == 0 || bytes + len <= self.inner.max_bytes || self.inner.unbounded.load(Ordering::Relaxed)
    }

    /// From now on every result is taken (shutdown: results are flushed or counted, never left waiting).
    pub fn stop_bounding(&self) {
        self.inner.unbounded.store(true, Ordering::Relaxed);
        self.inner.room.notify_waiters();
    }

    /// Waits until the outbox is not full (or bounding stopped).
    pub async fn wait_for_room(&self) {
        loop {
            let room = self.inner.room.notified();
            tokio::pin!(room);
            room.as_mut().enable();
            if !self.is_full() {
                return;
            }
            room.await;
        }
    }

    pub(super) fn update_readiness(&self) {
        let reason = self.is_full().then(|| {
            format!(
                "the outbox holds {} bytes of undelivered results (updates.outbox_max_bytes = {}, {} more waiting): \
                 no new work is taken until the server accepts updates again",
                self.bytes(),
                self.inner.max_bytes,
                self.inner.waiting.load(Ordering::Relaxed)
            )
        });
        self.inner.health.outbox(reason);
    }

    /// Takes a result whose first attempt failed with `error`; it is retried until `deadline`. Waits while the
    /// outbox has no room for it.
    pub async fn push(&self, result: EncodedResult, metrics: TaskMetrics, deadline: Instant, error: &ClientError) {
        let len = result.json.len();
        if !self.fits(len) {
            self.inner.waiting.fetch_add(1, Ordering::Relaxed);
            self.update_readiness();
            tracing::warn!(task_id = %result.task_id, bytes = len, "Outbox full; the result waits for room.");
            loop {
                let room = self.inner.room.notified();
                tokio::pin!(room);
                room.as_mut().enable();
                if self.fits(len) {
                    break;
                }
                room.await;
            }
            self.inner.waiting.fetch_sub(1, Ordering::Relaxed);
        }
        self.inner.bytes.fetch_add(len, Ordering::Relaxed);
        metrics.outbox_bytes(len as i64);
        self.update_readiness();
        self.enqueue(result, metrics, deadline, error);
    }
}
