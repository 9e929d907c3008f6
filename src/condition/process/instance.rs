//! One running evaluator process, seen from its supervisor: starting it (empty environment, pipes), feeding it one
//! job at a time, watching the CPU time each job spends ([`overrun`]) and killing it past the cap, telling why it
//! died, and forwarding its stderr to the log.
//!
//! Owns: a process's life and the reading of its answers. Does not own: the lanes, their queues or respawning (the
//! parent module), or the frames' format ([`super::protocol`]).

use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};

use super::child::SUBCOMMAND;
use super::protocol::{AnswerFrame, MAX_ANSWER_BYTES};
use super::{Job, ProcessOptions, STUCK_GRACE};
use crate::condition::ConditionError;
use crate::condition::cpu_time::thread_cpu_time;
use crate::metrics::values::Respawn;

/// CPU time allowed to decode a job and build `$` before its script starts: a base, plus so much per MiB of job.
const DECODE_ALLOWANCE_BASE: Duration = Duration::from_millis(100);
const DECODE_ALLOWANCE_PER_MIB: Duration = Duration::from_millis(1000);
/// Longest stderr line of an evaluator that is logged.
const MAX_LOGGED_LINE: usize = 300;
/// Stderr lines logged per process (a process that keeps writing is not allowed to flood the log).
const MAX_LOGGED_LINES: usize = 20;

/// One running evaluator process.
pub(super) struct Process {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    /// `/proc/<pid>/stat`, for its CPU time.
    stat_path: Option<String>,
    /// Set when it reports a failed allocation on stderr; the task forwarding its stderr to the log.
    out_of_memory: Arc<AtomicBool>,
    stderr: Option<tokio::task::JoinHandle<()>>,
}

impl Process {
    pub(super) fn spawn(options: &ProcessOptions) -> std::io::Result<Self> {
        let mut child = Command::new(&options.program)
            .arg(SUBCOMMAND)
            .args(options.args.to_args())
            // Nothing of the worker's environment (credentials among it) reaches the process; one malloc arena
            // keeps its address space small under the limit.
            .env_clear()
            .env("MALLOC_ARENA_MAX", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()?;
        let missing = || std::io::Error::other("the evaluator process has no pipes");
        let stdin = child.stdin.take().ok_or_else(missing)?;
        let stdout = BufReader::new(child.stdout.take().ok_or_else(missing)?);
        let stat_path = child.id().map(|pid| format!("/proc/{pid}/stat"));
        let out_of_memory = Arc::new(AtomicBool::new(false));
        let stderr = child.stderr.take().map(|stderr| tokio::spawn(forward_stderr(stderr, out_of_memory.clone())));
        Ok(Self { child, stdin, stdout, stat_path, out_of_memory, stderr })
    }

    /// Serves jobs until the queue closes (`None`) or the process must be replaced.
    pub(super) async fn serve(
        &mut self,
        jobs: &async_channel::Receiver<Job>,
        carried: &mut Option<Job>,
        options: &ProcessOptions,
    ) -> Option<Respawn> {
        let cap = options.args.limits.timeout;
        let replaced = |reason: Respawn| {
            if let Some(metrics) = &options.metrics {
                metrics.respawned(reason);
            }
            Some(reason)
        };
        loop {
            let job = match carried.take() {
                Some(job) => job,
                None => jobs.recv().await.ok()?,
            };
            if job.reply.is_closed() {
                continue; // the caller gave up (its task was cancelled)
            }
            let cpu_at_start = self.cpu_time();
            if self.stdin.write_all(&job.frame).await.is_err() {
                *carried = Some(job);
                return replaced(Respawn::Died);
            }
            // Building `$` from a large body may take a while before the script starts; that phase gets its own
            // allowance, by size. The cap counts from the process's "started".
            let (mut cpu_from, mut limit) = (cpu_at_start, decode_allowance(job.frame.len()));
            let answered = loop {
                let message = tokio::select! {
                    message = read_message(&mut self.stdout) => Some(message),
                    () = overrun(self.stat_path.as_deref(), cpu_from, limit) => None,
                };
                match message {
                    Some(Ok(Message::Started)) => (cpu_from, limit) = (self.cpu_time(), cap + STUCK_GRACE),
                    Some(Ok(Message::Answer(frame))) => break Some(Ok(frame)),
                    Some(Err(error)) => break Some(Err(error)),
                    None => break None,
                }
            };
            match answered {
                Some(Ok(frame)) => {
                    let _ = job.reply.send(frame.answer.into_result(cap));
                    if frame.retiring {
                        return replaced(Respawn::Recycled);
                    }
                }
                Some(Err(_)) => {
                    let reason = self.death_reason(options).await;
                    let result = replaced(Respawn::Died);
                    let _ = job.reply.send(Err(ConditionError::Crashed(reason)));
                    return result;
                }
                None => {
                    // Killed before the task hears of it: no CPU is spent on a task that has failed.
                    let _ = self.child.start_kill();
                    let result = replaced(Respawn::Killed);
                    let _ = job.reply.send(Err(ConditionError::Timeout(cap)));
                    return result;
                }
            }
        }
    }

    fn cpu_time(&self) -> Option<Duration> {
        self.stat_path.as_deref().and_then(thread_cpu_time)
    }

    /// Why the process died during a job, for the task's failure reason.
    async fn death_reason(&mut self, options: &ProcessOptions) -> String {
        let status = tokio::time::timeout(Duration::from_secs(1), self.child.wait()).await;
        if let Some(stderr) = self.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_millis(200), stderr).await;
        }
        if self.out_of_memory.load(Ordering::Relaxed) {
            format!(
                "the terminationCondition ran out of memory: its evaluator is limited to {} bytes \
                 (conditions.evaluator_memory_bytes)",
                options.args.memory_bytes
            )
        } else {
            let status = status.ok().and_then(Result::ok).map_or_else(|| "unknown".to_owned(), |s| s.to_string());
            format!("the evaluator process died while running the terminationCondition ({status})")
        }
    }

    /// Kills the process (if it still runs) and reaps it.
    pub(super) async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
        if let Some(stderr) = self.stderr.take() {
            stderr.abort();
        }
    }
}

/// What an evaluator process says about its job.
enum Message {
    /// The script starts now (`$` is built).
    Started,
    /// The job's answer.
    Answer(AnswerFrame),
}

/// CPU time a job may take before its script starts (decoding it and building `$`): generous, since it grows only
/// with the bytes the worker itself bounded (`http.max_response_body_bytes`), never with what a script does.
fn decode_allowance(frame_bytes: usize) -> Duration {
    DECODE_ALLOWANCE_BASE + DECODE_ALLOWANCE_PER_MIB.mul_f64(frame_bytes as f64 / f64::from(1u32 << 20))
}

async fn read_message(stdout: &mut BufReader<ChildStdout>) -> std::io::Result<Message> {
    let len = stdout.read_u32().await? as usize;
    if len == 0 {
        return Ok(Message::Started);
    }
    if len > MAX_ANSWER_BYTES {
        return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, "oversized answer"));
    }
    let mut body = vec![0; len];
    stdout.read_exact(&mut body).await?;
    serde_json::from_slice(&body).map(Message::Answer).map_err(std::io::Error::other)
}

/// Resolves once the process (its `/proc/<pid>/stat` is `stat_path`) has spent `limit` of CPU time since
/// `cpu_at_start` (wall time where CPU time cannot be read). A process that merely waits for a CPU is not stuck.
async fn overrun(stat_path: Option<&str>, cpu_at_start: Option<Duration>, limit: Duration) {
    tokio::time::sleep(limit).await;
    loop {
        let used = stat_path.and_then(thread_cpu_time).zip(cpu_at_start).map(|(now, then)| now.saturating_sub(then));
        match used {
            Some(used) if used < limit => tokio::time::sleep((limit - used).max(Duration::from_millis(10))).await,
            _ => return,
        }
    }
}

/// Logs what an evaluator writes to stderr (shortened, at most [`MAX_LOGGED_LINES`] lines) and notes a failed
/// allocation (Rust's "memory allocation of N bytes failed" before the abort).
async fn forward_stderr(stderr: tokio::process::ChildStderr, out_of_memory: Arc<AtomicBool>) {
    let mut lines = BufReader::new(stderr).lines();
    let mut logged = 0;
    while let Ok(Some(line)) = lines.next_line().await {
        if line.starts_with("memory allocation of") {
            out_of_memory.store(true, Ordering::Relaxed);
        }
        if logged < MAX_LOGGED_LINES {
            let line: String = line.chars().take(MAX_LOGGED_LINE).collect();
            tracing::warn!(line = %line, "Condition evaluator process wrote to stderr.");
            logged += 1;
        }
    }
}
