//! Evaluator processes and their supervisors (the worker's side).
//!
//! Conditions that need the engine run in child processes ([`child`]), never in the worker: a script can then
//! spend at most its CPU cap, allocate at most the process's address-space limit, and crash nothing but its
//! evaluator. One supervisor task per process feeds it jobs from its lane's queue, one at a time, and watches each
//! job: when the process has spent the cap plus [`STUCK_GRACE`] of CPU time on one script without answering (a native
//! built-in such as a catastrophic regex, a huge `sort` or `fill`, which the engine cannot interrupt), it is
//! SIGKILLed, the job fails with a timeout, and a new process is started. A process that dies during a job (an
//! allocation over the limit aborts it) fails that job the same way. No CPU keeps burning after the task failed.
//! The cap counts from the moment the process says the script starts; decoding the job and building `$` before
//! that get an allowance by size (`instance::decode_allowance`), since a large body is not the script's doing.
//!
//! ```text
//! job ─▶ lane queue ─▶ supervisor ─▶ stdin ─▶ process ─▶ stdout ─▶ answer
//!                          └─ CPU past cap + grace, or EOF: kill, answer for it, respawn
//! ```

pub mod child;
mod instance;
mod protocol;

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

pub(super) use protocol::{JobKind, encode_job};

use super::{Answer, ConditionError};
use crate::metrics::EvaluatorMetrics;
use crate::metrics::values::{EvaluatorLane, Respawn};
use child::ChildArgs;
use instance::Process;

/// How far past the cap (in CPU time) a process may run one job before it is killed: the engine stops ordinary
/// runaways at the cap itself, so this only catches native built-ins.
pub const STUCK_GRACE: Duration = Duration::from_millis(20);
/// Jobs waiting for a process, per lane. Bounded; callers are task executions, themselves bounded by slots.
const QUEUE_CAPACITY: usize = 1024;
/// Pause before starting a process again after a failed start, doubling to [`MAX_SPAWN_BACKOFF`].
const SPAWN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_SPAWN_BACKOFF: Duration = Duration::from_secs(5);

/// A job for an evaluator process: an encoded frame and where its answer goes.
pub(super) struct Job {
    pub frame: Vec<u8>,
    pub reply: oneshot::Sender<Answer>,
}

/// What every process of the pool is started with.
#[derive(Debug, Clone)]
pub(super) struct ProcessOptions {
    /// The worker's binary.
    pub program: PathBuf,
    /// Limits passed to each process.
    pub args: ChildArgs,
    /// Kill and respawn counters.
    pub metrics: Option<EvaluatorMetrics>,
    /// Whether processes can be started, for liveness.
    pub pool: Arc<PoolHealth>,
}

/// Whether the pool's processes can be started: how many run, and since when every start has failed.
#[derive(Debug, Default)]
pub struct PoolHealth {
    running: AtomicUsize,
    failing_since: Mutex<Option<Instant>>,
}

impl PoolHealth {
    /// Why the pool is dead, if no process runs and every start has failed for longer than `window`.
    pub fn dead_for(&self, window: Duration) -> Option<String> {
        let since = *self.failing_since.lock().unwrap_or_else(PoisonError::into_inner);
        let failing = since.map(|since| since.elapsed()).filter(|failing| *failing > window)?;
        (self.running.load(Ordering::Relaxed) == 0).then(|| {
            format!("no condition evaluator process could be started for {} s (see the log)", failing.as_secs())
        })
    }

    fn started(&self) {
        self.running.fetch_add(1, Ordering::Relaxed);
        *self.failing_since.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn stopped(&self) {
        self.running.fetch_sub(1, Ordering::Relaxed);
    }

    fn start_failed(&self) {
        self.failing_since.lock().unwrap_or_else(PoisonError::into_inner).get_or_insert_with(Instant::now);
    }
}

/// Starts `processes` supervised processes serving one lane; returns the lane's queue. They stop (killing their
/// process) once every sender of the queue is dropped.
pub(super) fn start_lane(
    lane: EvaluatorLane,
    processes: usize,
    options: Arc<ProcessOptions>,
) -> async_channel::Sender<Job> {
    let (jobs, receiver) = async_channel::bounded(QUEUE_CAPACITY);
    for _ in 0..processes.max(1) {
        tokio::spawn(supervise(lane, receiver.clone(), options.clone()));
    }
    jobs
}

async fn supervise(lane: EvaluatorLane, jobs: async_channel::Receiver<Job>, options: Arc<ProcessOptions>) {
    // A job whose process was found dead before it started is given to the next process.
    let mut carried: Option<Job> = None;
    let mut backoff = SPAWN_BACKOFF;
    loop {
        if jobs.is_closed() && jobs.is_empty() && carried.is_none() {
            return;
        }
        let mut process = match Process::spawn(&options) {
            Ok(process) => process,
            Err(error) => {
                options.pool.start_failed();
                tracing::error!(lane = lane.label(), error = %error, program = %options.program.display(),
                    "Could not start a condition evaluator process; conditions waiting for it fail.");
                // Nobody should wait for a process that cannot start: fail what is queued now.
                let unavailable = || Err(ConditionError::Unavailable);
                if let Some(job) = carried.take() {
                    let _ = job.reply.send(unavailable());
                }
                while let Ok(job) = jobs.try_recv() {
                    let _ = job.reply.send(unavailable());
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_SPAWN_BACKOFF);
                continue;
            }
        };
        backoff = SPAWN_BACKOFF;
        options.pool.started();
        if let Some(metrics) = &options.metrics {
            metrics.process_started(lane);
        }
        let replaced = process.serve(&jobs, &mut carried, &options).await;
        process.stop().await;
        options.pool.stopped();
        if let Some(metrics) = &options.metrics {
            metrics.process_stopped(lane);
        }
        match replaced {
            None => return,
            Some(reason) => {
                if reason != Respawn::Recycled {
                    tracing::warn!(
                        lane = lane.label(),
                        reason = reason.label(),
                        "Condition evaluator process replaced."
                    );
                }
            }
        }
    }
}
