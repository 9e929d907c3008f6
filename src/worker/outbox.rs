//! The outbox: results whose first update failed wait here, outside any execution slot, and are retried with
//! decorrelated-jitter backoff. A result leaves the outbox when it is delivered, when the server refuses it for good
//! (4xx), when the server shows the task final already (completed elsewhere, or timed out and retried), or when
//! it is given up, counted and logged with its task id as lost. Nothing is dropped silently.
//!
//! Deadlines: until the task's deadline on the server (its response or total timeout) every failure is simply
//! retried. Past it the server may have timed the task out, but only once it is running: a server that was down
//! has not, and the update may still count. So past the deadline each retry first asks the task's status (final:
//! stop; still open: send), and a result is given up only after `updates.retry_window_secs` since it failed first.
//! When the server answers again after failures, every waiting result is retried at once ([`Outbox::server_back`]).
//!
//! One loop ([`Outbox::run`]) owns the schedule; sends run concurrently, a bounded number at a time. At shutdown
//! [`Outbox::flush`] waits for the outbox to empty within the grace period; what is left then is counted lost.
//!
//! Bounded in bytes (`updates.outbox_max_bytes`): a result that does not fit waits in its execution (which keeps
//! its slot) until others leave; meanwhile the pollers take no new work ([`Outbox::wait_for_room`]) and readiness
//! says why. Nothing is dropped for lack of room: one result always fits into an empty outbox, and once shutdown
//! begins ([`Outbox::stop_bounding`]) every result is taken, so that it is flushed or counted.
//!
//! This module holds the schedule and its loop; sending and settling are [`send`]'s, the byte bound [`room`]'s.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{Notify, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use super::backoff::Backoff;
use crate::conductor::{ClientError, ConductorApi, EncodedResult};
use crate::health::Health;
use crate::metrics::TaskMetrics;
use crate::metrics::values::DropReason;

/// Sends in flight at once.
const MAX_CONCURRENT_SENDS: usize = 16;
/// After this many failed attempts the outbox asks the server whether the task is already final.
const STATUS_CHECK_AFTER: u32 = 3;

/// A result waiting for delivery.
struct Pending {
    result: EncodedResult,
    metrics: TaskMetrics,
    deadline: Instant,
    /// Past this the result is given up.
    give_up_at: Instant,
    attempts: u32,
    backoff: Backoff,
    last_error: String,
}

/// Heap entry: earliest `due` first, then arrival order.
struct Due {
    due: Instant,
    seq: u64,
    pending: Pending,
}

impl PartialEq for Due {
    fn eq(&self, other: &Self) -> bool {
        (self.due, self.seq) == (other.due, other.seq)
    }
}
impl Eq for Due {}
impl PartialOrd for Due {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Due {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (self.due, self.seq).cmp(&(other.due, other.seq))
    }
}

struct Inner<C> {
    api: Arc<C>,
    health: Arc<Health>,
    schedule: Mutex<BinaryHeap<Reverse<Due>>>,
    /// Entries in the schedule plus sends in flight.
    pending: AtomicUsize,
    seq: AtomicU64,
    /// Wakes the run loop: the schedule changed (one waiter; a permit is kept if it is busy).
    changed: Notify,
    /// Wakes flushes: the outbox became empty.
    emptied: Notify,
    sends: Arc<Semaphore>,
    retry_window: Duration,
    /// Bytes of the results waiting (their JSON bodies).
    bytes: AtomicUsize,
    max_bytes: usize,
    /// Results waiting for room.
    waiting: AtomicUsize,
    /// Wakes results and pollers waiting for room.
    room: Notify,
    /// Set at shutdown: every result is taken, whatever its size.
    unbounded: std::sync::atomic::AtomicBool,
}

/// Handle to the outbox; cheap to clone.
pub struct Outbox<C> {
    inner: Arc<Inner<C>>,
}

impl<C> Clone for Outbox<C> {
    fn clone(&self) -> Self {
        Self { inner: self.inner.clone() }
    }
}

impl<C> std::fmt::Debug for Outbox<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outbox").field("pending", &self.inner.pending.load(Ordering::Relaxed)).finish()
    }
}

/// How the outbox finished with a result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Delivered,
    Refused(DropReason),
    AlreadyFinal,
    Lost,
}

impl<C: ConductorApi> Outbox<C> {
    /// An empty outbox sending through `api`; results are given up `retry_window` after their first failure, and
    /// not before their task's deadline.
    pub fn new(api: Arc<C>, health: Arc<Health>, retry_window: Duration, max_bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                api,
                health,
                schedule: Mutex::new(BinaryHeap::new()),
                pending: AtomicUsize::new(0),
                seq: AtomicU64::new(0),
                changed: Notify::new(),
                emptied: Notify::new(),
                sends: Arc::new(Semaphore::new(MAX_CONCURRENT_SENDS)),
                retry_window,
                bytes: AtomicUsize::new(0),
                max_bytes,
                waiting: AtomicUsize::new(0),
                room: Notify::new(),
                unbounded: std::sync::atomic::AtomicBool::new(false),
            }),
        }
    }

    /// Results not yet delivered.
    pub fn len(&self) -> usize {
        self.inner.pending.load(Ordering::Relaxed)
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of the results waiting.
    pub fn bytes(&self) -> usize {
        self.inner.bytes.load(Ordering::Relaxed)
    }

    pub(super) fn enqueue(&self, result: EncodedResult, metrics: TaskMetrics, deadline: Instant, error: &ClientError) {
        let mut backoff = Backoff::new(Duration::from_millis(250), Duration::from_secs(30));
        let first_wait = backoff.next(fastrand::f64());
        tracing::warn!(task_id = %result.task_id, error = %error, retry_in_ms = first_wait.as_millis() as u64,
            deadline_in_secs = deadline.saturating_duration_since(Instant::now()).as_secs(), "Update failed; queued in the outbox.");
        metrics.update_failed(error.kind(), true);
        metrics.outbox(1);
        let give_up_at = deadline.max(Instant::now() + self.inner.retry_window);
        let pending =
            Pending { result, metrics, deadline, give_up_at, attempts: 1, backoff, last_error: error.to_string() };
        self.inner.pending.fetch_add(1, Ordering::Relaxed);
        self.schedule(pending, Instant::now() + first_wait);
    }

    fn schedule(&self, pending: Pending, due: Instant) {
        let due = due.min(pending.give_up_at);
        let seq = self.inner.seq.fetch_add(1, Ordering::Relaxed);
        self.inner.schedule.lock().unwrap_or_else(PoisonError::into_inner).push(Reverse(Due { due, seq, pending }));
        self.inner.changed.notify_one();
    }

    /// Sends due results until `stop` is cancelled.
    pub async fn run(self, stop: CancellationToken) {
        loop {
            let next_due = {
                let mut schedule = self.inner.schedule.lock().unwrap_or_else(PoisonError::into_inner);
                let now = Instant::now();
                let mut ready = Vec::new();
                while schedule.peek().is_some_and(|Reverse(entry)| entry.due <= now) {
                    if let Some(Reverse(entry)) = schedule.pop() {
                        ready.push(entry.pending);
                    }
                }
                drop(schedule);
                for pending in ready {
                    self.spawn_send(pending);
                }
                self.inner.schedule.lock().unwrap_or_else(PoisonError::into_inner).peek().map(|Reverse(e)| e.due)
            };
            let sleep = async {
                match next_due {
                    Some(due) => tokio::time::sleep_until(due).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = sleep => {}
                () = self.inner.changed.notified() => {}
                // Results that could not be reported meanwhile are retried now, not at their backoff time.
                () = self.inner.health.server_came_back() => self.server_back(),
                () = stop.cancelled() => return,
            }
        }
    }

    /// Waits until the outbox is empty or `deadline` passes; true if it emptied. Whatever is left is logged.
    pub async fn flush(&self, deadline: Instant) -> bool {
        while !self.is_empty() {
            if Instant::now() >= deadline {
                let left: Vec<String> = {
                    let schedule = self.inner.schedule.lock().unwrap_or_else(PoisonError::into_inner);
                    for Reverse(entry) in schedule.iter() {
                        entry.pending.metrics.result_dropped(DropReason::Lost);
                    }
                    schedule.iter().map(|Reverse(e)| e.pending.result.task_id.clone()).collect()
                };
                tracing::error!(pending = self.len(), task_ids = ?left, "Shutdown with undelivered results: they are LOST.");
                return false;
            }
            // Re-check at least every 100 ms: a notification can race with the check above.
            let _ = tokio::time::timeout(Duration::from_millis(100), self.inner.emptied.notified()).await;
        }
        true
    }
}

mod room;
mod send;
#[cfg(test)]
mod tests;
