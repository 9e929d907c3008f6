//! The evaluator threads and their watchdog.
//!
//! boa stops interpretable runaways itself (loop and recursion limits, and the budgeted evaluation under a
//! timeout), but not a long native built-in: `new Array(1e7).fill(0)` runs for seconds inside one call. The
//! watchdog sees a thread busy with one job for longer than the cap plus [`STUCK_GRACE`], marks it abandoned and
//! starts a replacement on the same job queue, so other conditions keep their latency; the abandoned thread exits
//! (dropping its `Context`) as soon as the built-in returns. At most [`MAX_ABANDONED`] threads may be abandoned at
//! once, bounding the CPU and memory that runaway scripts can hold.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use super::cpu_time;
use super::engine;
use super::{Answer, ConditionError, Job, Limits};

/// How long past the cap a busy thread is given before it counts as stuck.
pub const STUCK_GRACE: Duration = Duration::from_millis(20);
/// How often the watchdog looks while an evaluation runs.
const WATCH_EVERY: Duration = Duration::from_millis(5);
/// How often it looks while none runs (capped at the stuck threshold, see [`Pool::watch`]).
const IDLE_WATCH_EVERY: Duration = Duration::from_millis(50);
/// Abandoned threads allowed at once.
pub const MAX_ABANDONED: usize = 8;

/// What the watchdog knows about one thread.
#[derive(Debug, Default)]
pub(super) struct Slot {
    /// When the current job started, in ms since the pool's epoch; 0 = idle.
    busy_since_ms: AtomicU64,
    /// Set by the watchdog: finish the current job, then exit.
    abandoned: AtomicBool,
    /// The current job's reply: sent by the thread when it finishes, or by the watchdog when it gives up on it.
    reply: Mutex<Option<oneshot::Sender<Answer>>>,
    /// The thread's `/proc` stat file (Linux), for its CPU time.
    cpu: Mutex<Option<Arc<str>>>,
    /// The thread's CPU time when the current job started, ms.
    cpu_at_start_ms: AtomicU64,
}

impl Slot {
    /// Called by the thread itself: records where its CPU time can be read; returns that path.
    pub(super) fn register_thread(&self) -> Option<Arc<str>> {
        let path: Option<Arc<str>> = cpu_time::current_thread_stat_path().map(Arc::from);
        *self.cpu.lock().unwrap_or_else(PoisonError::into_inner) = path.clone();
        path
    }

    fn cpu_ms(&self) -> Option<u64> {
        let path = self.cpu.lock().unwrap_or_else(PoisonError::into_inner).clone()?;
        cpu_time::thread_cpu_time(&path).map(|d| d.as_millis() as u64)
    }

    pub(super) fn start_job(&self, now_ms: u64, reply: oneshot::Sender<Answer>) {
        *self.reply.lock().unwrap_or_else(PoisonError::into_inner) = Some(reply);
        self.cpu_at_start_ms.store(self.cpu_ms().unwrap_or(0), Ordering::Relaxed);
        self.busy_since_ms.store(now_ms.max(1), Ordering::Relaxed);
    }

    /// Busy on one job past `limit_ms` of wall time and (where measurable) of CPU time: a thread that merely did
    /// not get a CPU is not stuck.
    fn stuck(&self, now_ms: u64, limit_ms: u64) -> bool {
        let since = self.busy_since_ms.load(Ordering::Relaxed);
        if since == 0 || now_ms.saturating_sub(since) <= limit_ms {
            return false;
        }
        match self.cpu_ms() {
            Some(cpu) => cpu.saturating_sub(self.cpu_at_start_ms.load(Ordering::Relaxed)) > limit_ms,
            None => true,
        }
    }

    fn busy(&self) -> bool {
        self.busy_since_ms.load(Ordering::Relaxed) != 0
    }

    pub(super) fn end_job(&self, answer: Answer) {
        self.busy_since_ms.store(0, Ordering::Relaxed);
        if let Some(reply) = self.reply.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = reply.send(answer);
        }
    }

    /// The watchdog's answer for a job it gave up on.
    fn answer_for_stuck_job(&self, cap: Duration) {
        if let Some(reply) = self.reply.lock().unwrap_or_else(PoisonError::into_inner).take() {
            let _ = reply.send(Err(ConditionError::Timeout(cap)));
        }
    }

    pub(super) fn abandoned(&self) -> bool {
        self.abandoned.load(Ordering::Relaxed)
    }
}

/// The pool's shared state.
#[derive(Debug)]
pub(super) struct Pool {
    epoch: tokio::time::Instant,
    limits: Limits,
    jobs: async_channel::Receiver<Job>,
    slots: Mutex<Vec<Arc<Slot>>>,
    abandoned_now: AtomicUsize,
    spawned: AtomicUsize,
}

impl Pool {
    /// Starts `threads` evaluator threads and the watchdog.
    pub(super) fn start(threads: usize, limits: Limits, jobs: async_channel::Receiver<Job>) -> std::io::Result<()> {
        let pool = Arc::new(Pool {
            epoch: tokio::time::Instant::now(),
            limits,
            jobs,
            slots: Mutex::new(Vec::new()),
            abandoned_now: AtomicUsize::new(0),
            spawned: AtomicUsize::new(0),
        });
        for _ in 0..threads.max(1) {
            pool.spawn_thread()?;
        }
        let watched = pool.clone();
        std::thread::Builder::new().name("js-watchdog".into()).spawn(move || watched.watch())?;
        Ok(())
    }

    /// Milliseconds since the pool started.
    pub(super) fn now_ms(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64
    }

    fn spawn_thread(self: &Arc<Self>) -> std::io::Result<()> {
        let slot = Arc::new(Slot::default());
        self.slots.lock().unwrap_or_else(PoisonError::into_inner).push(slot.clone());
        let index = self.spawned.fetch_add(1, Ordering::Relaxed);
        let pool = self.clone();
        std::thread::Builder::new().name(format!("js-eval-{index}")).spawn(move || {
            engine::run_thread(&pool, &slot);
            if slot.abandoned() {
                pool.abandoned_now.fetch_sub(1, Ordering::Relaxed);
                tracing::info!("An abandoned condition evaluator thread finished and exited.");
            }
        })?;
        Ok(())
    }

    pub(super) fn jobs(&self) -> &async_channel::Receiver<Job> {
        &self.jobs
    }

    pub(super) fn limits(&self) -> Limits {
        self.limits
    }

    /// Replaces threads stuck past the cap until the job queue closes.
    ///
    /// While no evaluation runs it wakes rarely (idle CPU): a job that starts during an idle sleep has run for less
    /// than that sleep at the next wake, and the idle sleep is at most the stuck threshold, so the job cannot be
    /// stuck yet; from then on it is watched every [`WATCH_EVERY`], and a stuck thread is found as early as before.
    fn watch(self: Arc<Self>) {
        let stuck_threshold = self.limits.timeout + STUCK_GRACE;
        let (stuck_after, idle_every) = (stuck_threshold.as_millis() as u64, stuck_threshold.min(IDLE_WATCH_EVERY));
        let mut busy = false;
        while !self.jobs.is_closed() {
            std::thread::sleep(if busy { WATCH_EVERY } else { idle_every });
            let now = self.now_ms();
            let stuck: Vec<Arc<Slot>> = {
                let mut slots = self.slots.lock().unwrap_or_else(PoisonError::into_inner);
                let stuck: Vec<_> = slots.extract_if(.., |slot| slot.stuck(now, stuck_after)).collect();
                busy = !stuck.is_empty() || slots.iter().any(|slot| slot.busy());
                stuck
            };
            for slot in stuck {
                if self.abandoned_now.load(Ordering::Relaxed) >= MAX_ABANDONED {
                    // Keep watching it: it is replaced once an abandoned thread has exited.
                    self.slots.lock().unwrap_or_else(PoisonError::into_inner).push(slot);
                    tracing::error!(
                        max = MAX_ABANDONED,
                        "Condition evaluator threads are stuck in native code; not replacing more."
                    );
                    continue;
                }
                slot.abandoned.store(true, Ordering::Relaxed);
                slot.answer_for_stuck_job(self.limits.timeout);
                self.abandoned_now.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(
                    "A condition evaluation is stuck in a native built-in; its thread is abandoned and replaced."
                );
                if let Err(error) = self.spawn_thread() {
                    tracing::error!(error = %error, "Could not start a replacement evaluator thread.");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The watchdog sleeps longer while idle; a job that starts then is still answered for at the cap plus grace.
    #[test]
    fn a_job_stuck_after_an_idle_spell_is_answered_for_as_soon_as_any_other() {
        let limits = Limits { timeout: Duration::from_millis(50), ..Limits::default() };
        let (jobs, receiver) = async_channel::bounded::<Job>(1);
        let pool = Arc::new(Pool {
            epoch: tokio::time::Instant::now(),
            limits,
            jobs: receiver,
            slots: Mutex::new(Vec::new()),
            abandoned_now: AtomicUsize::new(0),
            spawned: AtomicUsize::new(0),
        });
        let watched = pool.clone();
        let watchdog = std::thread::spawn(move || watched.watch());
        for idle in [Duration::from_millis(200), Duration::from_millis(37), Duration::from_millis(3)] {
            std::thread::sleep(idle);
            // A slot without a thread: its CPU time is unknown, so the wall clock alone decides that it is stuck.
            let slot = Arc::new(Slot::default());
            pool.slots.lock().unwrap().push(slot.clone());
            let (reply, mut answer) = oneshot::channel();
            let started = tokio::time::Instant::now();
            slot.start_job(pool.now_ms(), reply);
            let answer = loop {
                match answer.try_recv() {
                    Ok(answer) => break answer,
                    Err(_) => std::thread::sleep(Duration::from_millis(1)),
                }
            };
            let took = started.elapsed();
            assert_eq!(answer, Err(ConditionError::Timeout(limits.timeout)));
            let due = limits.timeout + STUCK_GRACE;
            assert!(
                took >= due && took <= due + WATCH_EVERY + Duration::from_millis(25),
                "after {idle:?} idle: {took:?}"
            );
        }
        drop(jobs);
        watchdog.join().unwrap();
    }
}
