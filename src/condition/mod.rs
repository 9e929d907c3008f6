//! JavaScript `terminationCondition`s: answered natively where the answer is certain, otherwise by the engine in
//! an evaluator process, where every evaluation is isolated from every other.
//!
//! Conditions come from workflow authors the worker does not trust with anyone else's data, so:
//! - **Isolation.** Nothing one evaluation writes (globals, prototypes, built-ins, `$`) is visible to any other:
//!   the common shapes never touch the engine ([`native`]), and every engine evaluation runs in a `Context` made
//!   for it alone ([`engine`]).
//! - **Containment.** The engine runs in child processes of the worker's own binary ([`process`]), with an
//!   address-space limit and a CPU-time cap per evaluation; a process that overruns (a native built-in the engine
//!   cannot interrupt) is killed and replaced, a process that runs out of memory dies alone, and either way only the
//!   task whose condition did it fails. The worker itself never runs the engine.
//! - **Fairness.** A condition source is evaluated in the *probation* lane (one process of its own) until it has
//!   answered once without overrunning; from then on in the main lane ([`EvaluatorOptions::processes`]). A source
//!   that overruns goes back to probation. Runaway scripts, however many, queue behind each other, not in front of
//!   conditions that are known to answer.
//!
//! `$` is never built as a tree in the worker: the native path reads it in place and the engine gets JSON text
//! ([`dollar`]).
//!
//! Owns: recognising, routing, evaluating and classifying conditions. Does not own: what a verdict means for the
//! task (`http_poll::termination`).

mod cpu_time;
pub mod dollar;
mod engine;
pub mod native;
pub mod process;
pub mod verdict;

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::oneshot;

use crate::metrics::EvaluatorMetrics;
use crate::metrics::values::EvaluatorLane;
pub use dollar::Dollar;
pub use native::NativeCondition;
pub use verdict::Verdict;

/// How long a caller waits for any answer at all (queueing included) before calling the evaluator unavailable.
const ANSWER_BACKSTOP: Duration = Duration::from_secs(60);
/// Sources remembered as answering promptly (main lane) or as parsing; the sets are cleared when full, which only
/// sends sources back through probation once.
const MAX_REMEMBERED_SOURCES: usize = 4096;

/// Resource limits for one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Loop iterations per call frame (the engine counts per frame, so nested calls multiply it: the CPU cap is the
    /// bound).
    pub loop_iterations: u64,
    /// Call depth.
    pub recursion: usize,
    /// CPU-time cap per evaluation.
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
    /// Still running at the CPU-time cap.
    #[error("terminationCondition ran longer than {0:?} and was stopped")]
    Timeout(Duration),
    /// It returned something that is not a verdict.
    #[error("{0}")]
    BadResult(String),
    /// `$` could not be passed to the engine.
    #[error("could not pass $ to the terminationCondition: {0}")]
    Input(String),
    /// The evaluator process died while running it (out of memory, or a crash of the engine).
    #[error("{0}")]
    Crashed(String),
    /// No evaluator answered (shutting down, or no process could be started): not the script's fault.
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

/// A task's condition, parsed once: natively when it is in the subset.
#[derive(Debug, Clone)]
pub struct Condition {
    source: Arc<str>,
    native: Option<NativeCondition>,
}

impl Condition {
    /// Recognises `source`.
    pub fn new(source: &str) -> Self {
        Self { source: source.into(), native: NativeCondition::parse(source) }
    }

    /// The source text.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether the native evaluator recognised it (it may still decline for a particular `$`).
    pub fn is_native(&self) -> bool {
        self.native.is_some()
    }
}

/// Which evaluator answered (the `path` of an evaluation, for metrics and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Path {
    /// The native evaluator.
    Native,
    /// The engine, in an evaluator process.
    Engine,
}

/// How the evaluator processes are started.
#[derive(Debug, Clone)]
pub struct EvaluatorOptions {
    /// The worker's binary (it runs the hidden evaluator subcommand, [`process::child::SUBCOMMAND`]).
    pub program: PathBuf,
    /// Processes of the main lane (the probation lane has one more).
    pub processes: usize,
    /// Limits of each evaluation.
    pub limits: Limits,
    /// Address-space limit of each process, bytes.
    pub memory_bytes: u64,
    /// Kill and respawn counters.
    pub metrics: Option<EvaluatorMetrics>,
}

impl EvaluatorOptions {
    /// Options for this very binary, without metrics.
    pub fn for_current_binary(processes: usize, limits: Limits, memory_bytes: u64) -> std::io::Result<Self> {
        Ok(Self { program: current_binary()?, processes, limits, memory_bytes, metrics: None })
    }
}

/// The running binary. On Linux `/proc/self/exe`, which keeps working when the file is replaced on disk.
pub fn current_binary() -> std::io::Result<PathBuf> {
    let proc_exe = PathBuf::from("/proc/self/exe");
    if proc_exe.exists() { Ok(proc_exe) } else { std::env::current_exe() }
}

/// A handle to the evaluator processes; cheap to clone. They stop when the last handle is dropped.
#[derive(Debug, Clone)]
pub struct ConditionEvaluator {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    main: async_channel::Sender<process::Job>,
    probation: async_channel::Sender<process::Job>,
    /// Sources that answered without overrunning: evaluated in the main lane.
    trusted: Mutex<HashSet<Arc<str>>>,
    /// Sources known to parse.
    compiled: Mutex<HashSet<Arc<str>>>,
    /// Whether processes can be started (`None`: no processes, [`ConditionEvaluator::native_only`]).
    pool: Option<Arc<process::PoolHealth>>,
}

impl std::fmt::Debug for process::Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} bytes)", self.frame.len())
    }
}

impl ConditionEvaluator {
    /// Starts the supervisors (on the current tokio runtime); the processes start at once.
    pub fn start(options: EvaluatorOptions) -> std::io::Result<Self> {
        if !options.program.is_file() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("the evaluator program {} does not exist", options.program.display()),
            ));
        }
        let pool = Arc::new(process::PoolHealth::default());
        let process_options = Arc::new(process::ProcessOptions {
            program: options.program,
            args: process::child::ChildArgs { limits: options.limits, memory_bytes: options.memory_bytes },
            metrics: options.metrics,
            pool: pool.clone(),
        });
        let main = process::start_lane(EvaluatorLane::Main, options.processes, process_options.clone());
        let probation = process::start_lane(EvaluatorLane::Probation, 1, process_options);
        let inner = Inner { main, probation, trusted: Mutex::default(), compiled: Mutex::default(), pool: Some(pool) };
        Ok(Self { inner: Arc::new(inner) })
    }

    /// An evaluator without processes: native conditions are answered, every other condition is
    /// [`ConditionError::Unavailable`] (for loop tests, which run under a paused clock).
    pub fn native_only() -> Self {
        let closed = || async_channel::bounded::<process::Job>(1).0;
        let inner = Inner {
            main: closed(),
            probation: closed(),
            trusted: Mutex::default(),
            compiled: Mutex::default(),
            pool: None,
        };
        Self { inner: Arc::new(inner) }
    }

    /// Why the evaluator is dead, if no process has been running and every start has failed for longer than
    /// `window` (for liveness: a restart may help, as when the process table or file descriptors ran out).
    pub fn dead_for(&self, window: Duration) -> Option<String> {
        self.inner.pool.as_ref().and_then(|pool| pool.dead_for(window))
    }

    /// Checks that the condition parses (the native subset parses by construction), so that a syntax error fails
    /// the task before any request is made.
    pub async fn check(&self, condition: &Condition) -> Result<(), ConditionError> {
        if condition.native.is_some() || remembered(&self.inner.compiled, &condition.source) {
            return Ok(());
        }
        let frame = process::encode_job(process::JobKind::Compile, &condition.source, b"", |_| {});
        self.submit(&self.inner.probation, frame).await?;
        remember(&self.inner.compiled, &condition.source);
        Ok(())
    }

    /// Evaluates the condition against `$`: natively when it can, else in an evaluator process.
    pub async fn evaluate(
        &self,
        condition: &Condition,
        dollar: &Dollar<'_>,
    ) -> (Result<Verdict, ConditionError>, Path) {
        if let Some(value) = condition.native.as_ref().and_then(|native| native.evaluate(dollar)) {
            return (verdict::verdict(&value).map_err(ConditionError::BadResult), Path::Native);
        }
        let frame =
            process::encode_job(process::JobKind::Evaluate, &condition.source, dollar.input.get().as_bytes(), |out| {
                dollar.output.write_json(out)
            });
        let trusted = remembered(&self.inner.trusted, &condition.source);
        let lane = if trusted { &self.inner.main } else { &self.inner.probation };
        let answer = self.submit(lane, frame).await;
        match &answer {
            Err(ConditionError::Timeout(_) | ConditionError::Crashed(_)) if trusted => {
                self.inner.trusted.lock().unwrap_or_else(PoisonError::into_inner).remove(&condition.source);
            }
            Err(ConditionError::Timeout(_) | ConditionError::Crashed(_)) => {}
            _ if !trusted => remember(&self.inner.trusted, &condition.source),
            _ => {}
        }
        let result = match answer {
            Ok(Some(verdict)) => Ok(verdict),
            Ok(None) => Err(ConditionError::Unavailable),
            Err(error) => Err(error),
        };
        (result, Path::Engine)
    }

    /// Queues a job and waits for its answer.
    async fn submit(&self, lane: &async_channel::Sender<process::Job>, frame: Vec<u8>) -> Answer {
        let (reply, answer) = oneshot::channel();
        lane.send(process::Job { frame, reply }).await.map_err(|_| ConditionError::Unavailable)?;
        // A backstop only: a job always gets an answer within the cap plus the grace once a process takes it.
        match tokio::time::timeout(ANSWER_BACKSTOP, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) | Err(_) => Err(ConditionError::Unavailable),
        }
    }
}

fn remembered(set: &Mutex<HashSet<Arc<str>>>, source: &Arc<str>) -> bool {
    set.lock().unwrap_or_else(PoisonError::into_inner).contains(source)
}

fn remember(set: &Mutex<HashSet<Arc<str>>>, source: &Arc<str>) {
    let mut set = set.lock().unwrap_or_else(PoisonError::into_inner);
    if set.len() >= MAX_REMEMBERED_SOURCES {
        set.clear();
    }
    set.insert(source.clone());
}

#[cfg(test)]
mod tests;
