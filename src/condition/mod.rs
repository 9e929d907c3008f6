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
//! built-in cannot be interrupted (`new Array(1e7).fill(0)` runs for seconds in one call): a watchdog ([`pool`])
//! answers for the stuck thread shortly after the cap, abandons it and starts a replacement, so that other
//! conditions keep their latency. The cap counts the evaluating thread's CPU time ([`cpu_time`]), checked when the
//! wall clock passes it: time spent queued or waiting for a CPU (a throttled container) never fails a condition.
//!
//! The commonest shape, `$.a.b == 'literal'`, is answered natively by [`fast`] where the answer is certain to equal
//! boa's (the executor asks it first), saving the trip to an evaluator thread and the conversion of `$`.
//!
//! Owns: compiling, caching, evaluating and classifying conditions. Does not own: building `$` (the executor does)
//! or what a verdict means for the task (`http_poll::termination`).

mod cpu_time;
mod engine;
pub mod fast;
mod pool;
pub mod verdict;

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

pub use verdict::Verdict;

/// Jobs waiting for an evaluator thread. Bounded; callers are task executions, themselves bounded by slots.
const QUEUE_CAPACITY: usize = 1024;
/// How long a caller waits for any answer at all (queueing included) before calling the evaluator unavailable.
const ANSWER_BACKSTOP: Duration = Duration::from_secs(60);

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

/// An evaluator's answer: `None` for a compile, the verdict for an evaluation.
type Answer = Result<Option<Verdict>, ConditionError>;

/// What an evaluator thread is asked to do. The reply goes through the thread's watchdog slot while the job runs,
/// so that the watchdog can answer for a thread stuck in a native built-in.
struct Job {
    source: Arc<str>,
    /// `None`: compile only.
    dollar: Option<Value>,
    reply: oneshot::Sender<Answer>,
}

/// A handle to the evaluator threads; cheap to clone. The threads exit when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct ConditionEvaluator {
    jobs: async_channel::Sender<Job>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.dollar.is_some() { "Evaluate" } else { "Compile" })
    }
}

impl ConditionEvaluator {
    /// Spawns `threads` evaluator threads (at least one).
    pub fn start(threads: usize, limits: Limits) -> std::io::Result<Self> {
        let (jobs, receiver) = async_channel::bounded(QUEUE_CAPACITY);
        pool::Pool::start(threads, limits, receiver)?;
        Ok(Self { jobs })
    }

    /// Parses the condition (and caches it), so a syntax error fails the task before any request is made.
    pub async fn compile(&self, source: Arc<str>) -> Result<(), ConditionError> {
        self.submit(source, None).await.map(drop)
    }

    /// Evaluates the condition with `$` bound to `dollar`.
    pub async fn evaluate(&self, source: Arc<str>, dollar: Value) -> Result<Verdict, ConditionError> {
        match self.submit(source, Some(dollar)).await? {
            Some(verdict) => Ok(verdict),
            None => Err(ConditionError::Unavailable),
        }
    }

    /// Queues a job and waits for its answer. Time spent queued does not count against the cap: the evaluator
    /// stops the script at the cap, and the watchdog answers for a thread that cannot be stopped.
    async fn submit(&self, source: Arc<str>, dollar: Option<Value>) -> Answer {
        let (reply, answer) = oneshot::channel();
        self.jobs.send(Job { source, dollar, reply }).await.map_err(|_| ConditionError::Unavailable)?;
        // A backstop only: an answer always comes within the cap plus the watchdog's grace once the job runs.
        match tokio::time::timeout(ANSWER_BACKSTOP, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) | Err(_) => Err(ConditionError::Unavailable),
        }
    }
}

#[cfg(test)]
mod tests;
