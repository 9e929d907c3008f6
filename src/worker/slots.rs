//! Execution slots: a task of a type may run only while it holds one permit of its type's semaphore and one of the
//! process-wide semaphore. Permits are taken before polling (never poll for work there is no room for) and
//! released when the execution has reported.

use std::sync::Arc;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Room for one execution: a task-type permit and a global permit, released together on drop.
#[derive(Debug)]
pub struct Slot {
    _task_type: OwnedSemaphorePermit,
    _global: OwnedSemaphorePermit,
}

/// The two semaphores a task type draws from.
#[derive(Debug, Clone)]
pub struct Slots {
    task_type: Arc<Semaphore>,
    global: Arc<Semaphore>,
}

impl Slots {
    /// `concurrency` slots for this task type, within the shared `global` limit.
    pub fn new(concurrency: usize, global: Arc<Semaphore>) -> Self {
        Self { task_type: Arc::new(Semaphore::new(concurrency)), global }
    }

    /// Waits for one slot.
    pub async fn acquire(&self) -> Slot {
        // Neither semaphore is ever closed, so acquiring cannot fail.
        let task_type = self.task_type.clone().acquire_owned().await.expect("slot semaphores are never closed");
        let global = self.global.clone().acquire_owned().await.expect("slot semaphores are never closed");
        Slot { _task_type: task_type, _global: global }
    }

    /// One more slot if one is free right now.
    pub fn try_acquire(&self) -> Option<Slot> {
        let task_type = self.task_type.clone().try_acquire_owned().ok()?;
        let global = self.global.clone().try_acquire_owned().ok()?;
        Some(Slot { _task_type: task_type, _global: global })
    }

    /// Free slots of this task type (the global limit may still bind).
    pub fn available(&self) -> usize {
        self.task_type.available_permits()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn both_limits_bind() {
        let global = Arc::new(Semaphore::new(3));
        let a = Slots::new(2, global.clone());
        let b = Slots::new(5, global.clone());
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
}
