//! Execution slots: a task of a type may run only while it holds one permit of its type's semaphore and one of the
//! process-wide semaphore. Permits are taken before polling (never poll for work there is no room for) and
//! released when the execution has reported. The per-type limit can be changed at runtime; the slot gauges follow
//! every acquire and release.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::metrics::TaskMetrics;

/// Room for one execution: a task-type permit and a global permit, released together on drop.
#[derive(Debug)]
pub struct Slot {
    permits: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
    owner: Arc<Inner>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        drop(self.permits.take());
        self.owner.publish();
    }
}

#[derive(Debug)]
struct Inner {
    task_type: Arc<Semaphore>,
    global: Arc<Semaphore>,
    limit: AtomicUsize,
    metrics: TaskMetrics,
}

impl Inner {
    fn publish(&self) {
        let free = self.task_type.available_permits();
        self.metrics.slots(self.limit.load(Ordering::Relaxed).saturating_sub(free), free);
    }
}

/// The two semaphores a task type draws from.
#[derive(Debug, Clone)]
pub struct Slots {
    inner: Arc<Inner>,
}

impl Slots {
    /// `concurrency` slots for this task type, within the shared `global` limit.
    pub fn new(concurrency: usize, global: Arc<Semaphore>, metrics: TaskMetrics) -> Self {
        let inner = Arc::new(Inner {
            task_type: Arc::new(Semaphore::new(concurrency)),
            global,
            limit: AtomicUsize::new(concurrency),
            metrics,
        });
        inner.publish();
        Self { inner }
    }

    /// Waits for one slot.
    pub async fn acquire(&self) -> Slot {
        // Neither semaphore is ever closed, so acquiring cannot fail.
        let task_type = self.inner.task_type.clone().acquire_owned().await.expect("slot semaphores are never closed");
        let global = self.inner.global.clone().acquire_owned().await.expect("slot semaphores are never closed");
        self.slot(task_type, global)
    }

    /// One more slot if one is free right now.
    pub fn try_acquire(&self) -> Option<Slot> {
        let task_type = self.inner.task_type.clone().try_acquire_owned().ok()?;
        let global = self.inner.global.clone().try_acquire_owned().ok()?;
        Some(self.slot(task_type, global))
    }

    fn slot(&self, task_type: OwnedSemaphorePermit, global: OwnedSemaphorePermit) -> Slot {
        let slot = Slot { permits: Some((task_type, global)), owner: self.inner.clone() };
        self.inner.publish();
        slot
    }

    /// Free slots of this task type (the global limit may still bind).
    pub fn available(&self) -> usize {
        self.inner.task_type.available_permits()
    }

    /// The configured number of slots.
    pub fn limit(&self) -> usize {
        self.inner.limit.load(Ordering::Relaxed)
    }

    /// Changes the number of slots. Growing takes effect at once; shrinking takes slots out of use as executions
    /// release them (running ones are never interrupted).
    pub fn resize(&self, limit: usize) {
        let old = self.inner.limit.swap(limit, Ordering::Relaxed);
        if limit > old {
            self.inner.task_type.add_permits(limit - old);
        } else if limit < old {
            let semaphore = self.inner.task_type.clone();
            let surplus = u32::try_from(old - limit).unwrap_or(u32::MAX);
            let inner = self.inner.clone();
            tokio::spawn(async move {
                if let Ok(permits) = semaphore.acquire_many_owned(surplus).await {
                    permits.forget();
                }
                inner.publish();
            });
        }
        self.inner.publish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::registry::Registry;

    fn metrics() -> TaskMetrics {
        Arc::new(crate::metrics::Metrics::register(&mut Registry::default(), vec![])).task_type("t")
    }

    #[tokio::test]
    async fn both_limits_bind() {
        let global = Arc::new(Semaphore::new(3));
        let a = Slots::new(2, global.clone(), metrics());
        let b = Slots::new(5, global.clone(), metrics());
        let a1 = a.acquire().await;
        let _a2 = a.try_acquire().expect("second slot of a");
        assert!(a.try_acquire().is_none(), "a is limited to 2");
        let b1 = b.try_acquire().expect("global has one left");
        assert!(b.try_acquire().is_none(), "global limit of 3 reached");
        drop(b1);
        assert!(b.try_acquire().is_some());
        drop(a1);
        assert_eq!(a.available(), 1);
    }

    #[tokio::test]
    async fn resizing_grows_at_once_and_shrinks_as_slots_return() {
        let slots = Slots::new(2, Arc::new(Semaphore::new(100)), metrics());
        let held: Vec<_> = [slots.try_acquire().unwrap(), slots.try_acquire().unwrap()].into();
        assert!(slots.try_acquire().is_none());
        slots.resize(4);
        let extra = [slots.try_acquire().unwrap(), slots.try_acquire().unwrap()];
        assert!(slots.try_acquire().is_none());
        slots.resize(1);
        drop(extra);
        drop(held);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        assert_eq!((slots.limit(), slots.available()), (1, 1));
        let _one = slots.try_acquire().unwrap();
        assert!(slots.try_acquire().is_none());
    }
}
