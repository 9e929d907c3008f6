//! The evaluator process: the worker's own binary under a hidden subcommand ([`SUBCOMMAND`]). It limits its own
//! address space and core dumps, then answers jobs from stdin on stdout, one at a time, each in a fresh engine
//! `Context`, until stdin closes. Before the script of a job runs it says so (an empty frame): the CPU cap counts
//! from there, building `$` from the body before it. It holds nothing but the job at hand: no configuration, no environment (the
//! worker clears it), no secrets.
//!
//! It exits by itself when its parent is gone (checked twice a second, so that an orphan stuck in a native
//! built-in does not burn CPU), and after a job that left it above [`recycle_threshold`] of memory, so that one
//! large body does not keep its pages for the life of the worker; the supervisor starts a new one.

use std::io::{BufReader, BufWriter};
use std::process::ExitCode;
use std::time::Duration;

use serde_json::Value;

use super::protocol::{
    AnswerFrame, JobKind, MAX_JOB_BYTES, WireAnswer, decode_job, read_frame, write_answer, write_started,
};
use crate::condition::dollar::join;
use crate::condition::engine::Engine;
use crate::condition::{ConditionError, Limits};

/// The hidden subcommand that runs an evaluator process.
pub const SUBCOMMAND: &str = "__condition-evaluator";

/// How often the process checks that its parent is alive.
const ORPHAN_CHECK: Duration = Duration::from_millis(500);

/// What an evaluator process is started with (its command-line arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChildArgs {
    /// Limits of each evaluation.
    pub limits: Limits,
    /// Address-space limit of the process, bytes.
    pub memory_bytes: u64,
}

impl ChildArgs {
    /// The arguments after [`SUBCOMMAND`].
    pub fn to_args(self) -> Vec<String> {
        vec![
            self.limits.loop_iterations.to_string(),
            self.limits.recursion.to_string(),
            self.limits.timeout.as_micros().to_string(),
            self.memory_bytes.to_string(),
        ]
    }

    /// Parses [`ChildArgs::to_args`]' output.
    pub fn parse(args: &[String]) -> Option<Self> {
        let [loops, recursion, timeout_us, memory] = args else { return None };
        Some(Self {
            limits: Limits {
                loop_iterations: loops.parse().ok()?,
                recursion: recursion.parse().ok()?,
                timeout: Duration::from_micros(timeout_us.parse().ok()?),
            },
            memory_bytes: memory.parse().ok()?,
        })
    }
}

/// After a job that left the process with more resident memory than this, it exits (and is replaced).
pub fn recycle_threshold(memory_bytes: u64) -> u64 {
    (memory_bytes / 4).clamp(32 << 20, 128 << 20)
}

/// Runs the evaluator process until stdin closes.
pub fn run(args: ChildArgs) -> ExitCode {
    if let Err(error) = limit_resources(args.memory_bytes) {
        eprintln!("condition evaluator: cannot set its resource limits: {error}");
        return ExitCode::FAILURE;
    }
    watch_parent();
    let mut engine = match Engine::new(args.limits) {
        Ok(engine) => engine,
        Err(error) => {
            eprintln!("condition evaluator: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    engine.prepare();
    let (mut input, mut output) = (BufReader::new(std::io::stdin().lock()), BufWriter::new(std::io::stdout().lock()));
    let recycle_above = recycle_threshold(args.memory_bytes);
    loop {
        let frame = match read_frame(&mut input, MAX_JOB_BYTES) {
            Ok(Some(frame)) => frame,
            Ok(None) => return ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("condition evaluator: unreadable job: {error}");
                return ExitCode::FAILURE;
            }
        };
        let mut announce = || {
            // Best effort: a broken pipe shows when the answer is written.
            let _ = write_started(&mut output);
        };
        let answer = WireAnswer::from_result(answer(&mut engine, &frame, &mut announce));
        drop(frame);
        let retiring = resident_bytes().is_some_and(|rss| rss > recycle_above);
        if let Err(error) = write_answer(&mut output, &AnswerFrame { answer, retiring }) {
            eprintln!("condition evaluator: cannot answer: {error}");
            return ExitCode::FAILURE;
        }
        if retiring {
            return ExitCode::SUCCESS;
        }
        engine.prepare();
    }
}

fn answer(
    engine: &mut Engine,
    frame: &[u8],
    started: &mut dyn FnMut(),
) -> Result<Option<crate::condition::Verdict>, ConditionError> {
    let job = decode_job(frame).map_err(ConditionError::Input)?;
    match job.kind {
        JobKind::Compile => engine.compile(job.source).map(|()| None),
        JobKind::Evaluate => {
            let parse = |bytes: &[u8], what: &str| {
                serde_json::from_slice::<Value>(bytes).map_err(|e| ConditionError::Input(format!("{what}: {e}")))
            };
            let dollar = join(parse(job.input, "the task input")?, parse(job.output, "$.output")?);
            engine.evaluate_announced(job.source, &dollar, started).map(Some)
        }
    }
}

/// The address-space limit (an allocation beyond it fails, and the process aborts: the supervisor fails the task),
/// and no core dumps (a killed evaluator holds task data).
fn limit_resources(memory_bytes: u64) -> std::io::Result<()> {
    rlimit::setrlimit(rlimit::Resource::CORE, 0, 0)?;
    rlimit::setrlimit(rlimit::Resource::AS, memory_bytes, memory_bytes)
}

/// Exits the process once its parent is gone, even while the main thread is stuck in a native built-in.
fn watch_parent() {
    let parent = std::os::unix::process::parent_id();
    let watcher = std::thread::Builder::new().name("parent-watch".into()).stack_size(64 * 1024).spawn(move || {
        loop {
            std::thread::sleep(ORPHAN_CHECK);
            if std::os::unix::process::parent_id() != parent {
                std::process::abort();
            }
        }
    });
    if let Err(error) = watcher {
        eprintln!("condition evaluator: cannot watch its parent: {error}");
    }
}

/// Resident memory of this process (the second field of `/proc/self/statm`, in pages; Linux). Read after every
/// answer, so the short file rather than `status`.
fn resident_bytes() -> Option<u64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: u64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * page_size())
}

/// The page size, from the auxiliary vector (`AT_PAGESZ`), read once; 4 KiB if it cannot be read.
fn page_size() -> u64 {
    static PAGE_SIZE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    *PAGE_SIZE.get_or_init(|| {
        const AT_PAGESZ: u64 = 6;
        let auxv = std::fs::read("/proc/self/auxv").unwrap_or_default();
        auxv.chunks_exact(16)
            .map(|entry| {
                let word = |at: usize| u64::from_ne_bytes(entry[at..at + 8].try_into().unwrap_or_default());
                (word(0), word(8))
            })
            .find(|(key, _)| *key == AT_PAGESZ)
            .map_or(4096, |(_, size)| size)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_memory_is_read_in_bytes() {
        assert!(page_size().is_power_of_two() && page_size() >= 4096);
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let kib: u64 = status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .unwrap()
            .split_whitespace()
            .nth(1)
            .unwrap()
            .parse()
            .unwrap();
        let rss = resident_bytes().unwrap();
        assert!(rss.abs_diff(kib * 1024) < 8 << 20, "statm {rss} vs status {kib} KiB");
    }

    #[test]
    fn arguments_round_trip() {
        let args = ChildArgs {
            limits: Limits { loop_iterations: 7, recursion: 9, timeout: Duration::from_micros(1500) },
            memory_bytes: 1 << 30,
        };
        assert_eq!(ChildArgs::parse(&args.to_args()), Some(args));
        assert_eq!(ChildArgs::parse(&["1".into()]), None);
    }
}
