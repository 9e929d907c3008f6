//! JavaScript `terminationCondition`s, evaluated with boa_engine on dedicated threads.
//!
//! Why this shape (measured in `../shared/docs/rust-stack.md`): a fresh boa `Context` costs ~220 µs and ~300 KiB,
//! a script parsed once and re-run with `$` rebound costs ~3.4 µs, and a `Context` is `!Send` and must never be
//! dropped by a thread-local destructor (that aborted the process). So [`ConditionEvaluator::start`] spawns a few
//! `js-eval` OS threads; each owns one `Context` and a cache of parsed scripts keyed by source, drops them
//! explicitly, and takes jobs from one bounded channel with oneshot replies.
//!
//! Limits: loop iterations, recursion depth and a wall-clock cap per evaluation (boa's budgeted async evaluation
//! under a timeout, on a current-thread runtime owned by the evaluator thread). After a timeout or a runtime-limit
//! error the thread replaces its `Context`, because cancelled evaluations leak VM frames in boa 0.22. A native
//! built-in cannot be interrupted (`new Array(1e7).fill(0)` runs for seconds in one call): the caller stops waiting
//! shortly after the cap, and a watchdog ([`pool`]) abandons and replaces the stuck thread so that other
//! conditions keep their latency.
//!
//! Owns: compiling, caching, evaluating and classifying conditions. Does not own: building `$` (the executor does)
//! or what a verdict means for the task (`http_poll::termination`).

mod engine;
mod pool;
pub mod verdict;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

pub use verdict::Verdict;

/// Jobs waiting for an evaluator thread. Bounded; callers are task executions, themselves bounded by slots.
const QUEUE_CAPACITY: usize = 1024;
/// Extra time the caller waits beyond the evaluation cap before giving up on a thread stuck in a native built-in
/// (the watchdog replaces such a thread after [`pool::STUCK_GRACE`]).
const REPLY_GRACE: Duration = Duration::from_millis(25);

/// Resource limits for one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Loop iterations per call frame (boa counts per frame, so nested calls multiply it: the wall clock is the bound).
    pub loop_iterations: u64,
    /// Call depth.
    pub recursion: usize,
    /// Wall-clock cap per evaluation.
    pub timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self { loop_iterations: 1_000_000, recursion: 256, timeout: Duration::from_millis(50) }
    }
}

/// Why a condition produced no verdict. Every variant but [`ConditionError::Unavailable`] is the script's fault and
/// fails the task terminally.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConditionError {
    /// The source does not parse.
    #[error("terminationCondition has a syntax error: {0}")]
    Syntax(String),
    /// The script threw.
    #[error("terminationCondition threw: {0}")]
    Runtime(String),
    /// Loop, recursion or stack limit reached.
    #[error("terminationCondition exceeded a runtime limit: {0}")]
    LimitExceeded(String),
    /// Still running at the wall-clock cap.
    #[error("terminationCondition ran longer than {0:?} and was stopped")]
    Timeout(Duration),
    /// It returned something that is not a verdict.
    #[error("{0}")]
    BadResult(String),
    /// `$` could not be converted to JavaScript.
    #[error("could not pass $ to the terminationCondition: {0}")]
    Input(String),
    /// No evaluator thread answered (shutting down or crashed): not the script's fault.
    #[error("the condition evaluator is not available")]
    Unavailable,
}

impl ConditionError {
    /// Whether this is the script's fault (terminal for the task) rather than ours.
    pub fn is_script_fault(&self) -> bool {
        !matches!(self, ConditionError::Unavailable)
    }
}

/// What an evaluator thread is asked to do.
enum Job {
    Compile { source: Arc<str>, reply: oneshot::Sender<Result<(), ConditionError>> },
    Evaluate { source: Arc<str>, dollar: Value, reply: oneshot::Sender<Result<Verdict, ConditionError>> },
}

/// A handle to the evaluator threads; cheap to clone. The threads exit when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct ConditionEvaluator {
    jobs: async_channel::Sender<Job>,
    limits: Limits,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Job::Compile { .. } => "Compile",
            Job::Evaluate { .. } => "Evaluate",
        })
    }
}

impl ConditionEvaluator {
    /// Spawns `threads` evaluator threads (at least one).
    pub fn start(threads: usize, limits: Limits) -> std::io::Result<Self> {
        let (jobs, receiver) = async_channel::bounded(QUEUE_CAPACITY);
        pool::Pool::start(threads, limits, receiver)?;
        Ok(Self { jobs, limits })
    }

    /// Parses the condition (and caches it), so a syntax error fails the task before any request is made.
    pub async fn compile(&self, source: Arc<str>) -> Result<(), ConditionError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Compile { source, reply }, answer).await
    }

    /// Evaluates the condition with `$` bound to `dollar`.
    pub async fn evaluate(&self, source: Arc<str>, dollar: Value) -> Result<Verdict, ConditionError> {
        let (reply, answer) = oneshot::channel();
        self.submit(Job::Evaluate { source, dollar, reply }, answer).await
    }

    async fn submit<T>(
        &self,
        job: Job,
        answer: oneshot::Receiver<Result<T, ConditionError>>,
    ) -> Result<T, ConditionError> {
        self.jobs.send(job).await.map_err(|_| ConditionError::Unavailable)?;
        match tokio::time::timeout(self.limits.timeout + REPLY_GRACE, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(ConditionError::Unavailable),
            Err(_) => Err(ConditionError::Timeout(self.limits.timeout)),
        }
    }
}

#[cfg(test)]
mod tests;
