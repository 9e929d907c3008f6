//! Pure: how an execution ends ([`Outcome`]) and its mapping to the [`TaskResult`] sent to Conductor, with the
//! task's execution log kept short.

use serde_json::{Map, Value};

use super::termination::FailureKind;
use crate::conductor::{Task, TaskExecLog, TaskResult, TaskResultStatus};

/// Log lines sent with one update at most; older lines are summarised by a count.
pub const MAX_LOG_LINES: usize = 20;
/// Longest log line, in characters.
const MAX_LOG_LINE_CHARS: usize = 512;

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeKind {
    /// COMPLETED.
    Completed,
    /// FAILED (retryable) or FAILED_WITH_TERMINAL_ERROR.
    Failed {
        /// Never retried.
        terminal: bool,
        /// `reasonForIncompletion`.
        reason: String,
        /// Why, as a closed set (for metrics).
        kind: FailureKind,
    },
    /// IN_PROGRESS with `callbackAfterSeconds`: continued by whichever worker polls it next.
    Parked {
        /// Seconds until the server re-delivers the task.
        callback_after_secs: u64,
    },
}

/// An execution's result: what to report and the output to store.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// Status and reason.
    pub kind: OutcomeKind,
    /// The task's new `outputData` (replaces the stored one).
    pub output: Map<String, Value>,
    /// Execution log lines for this update.
    pub logs: ExecLog,
}

impl Outcome {
    /// A failure without output, e.g. invalid input.
    pub fn failed(kind: FailureKind, terminal: bool, reason: impl Into<String>, logs: ExecLog) -> Self {
        Self { kind: OutcomeKind::Failed { terminal, reason: reason.into(), kind }, output: Map::new(), logs }
    }

    /// The update body for this outcome.
    pub fn into_task_result(self, task: &Task, worker_id: &str, now_ms: u64) -> TaskResult {
        let (status, reason, callback_after_seconds) = match self.kind {
            OutcomeKind::Completed => (TaskResultStatus::Completed, None, 0),
            OutcomeKind::Failed { terminal: true, reason, .. } => {
                (TaskResultStatus::FailedWithTerminalError, Some(reason), 0)
            }
            OutcomeKind::Failed { terminal: false, reason, .. } => (TaskResultStatus::Failed, Some(reason), 0),
            OutcomeKind::Parked { callback_after_secs } => (TaskResultStatus::InProgress, None, callback_after_secs),
        };
        let logs = self
            .logs
            .into_lines()
            .into_iter()
            .map(|(at, log)| TaskExecLog {
                log,
                task_id: task.task_id.clone(),
                created_time: if at == 0 { now_ms } else { at },
            })
            .collect();
        TaskResult {
            workflow_instance_id: task.workflow_instance_id.clone(),
            task_id: task.task_id.clone(),
            worker_id: worker_id.to_owned(),
            status,
            reason_for_incompletion: reason,
            callback_after_seconds,
            output_data: self.output,
            logs,
        }
    }
}

/// A bounded execution log: the last [`MAX_LOG_LINES`] lines, plus how many were dropped before them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecLog {
    /// (epoch ms, line)
    lines: std::collections::VecDeque<(u64, String)>,
    dropped: usize,
}

impl ExecLog {
    /// Appends a line (shortened if very long), stamped with the current time.
    pub fn push(&mut self, line: impl Into<String>) {
        let mut line = line.into();
        if line.chars().count() > MAX_LOG_LINE_CHARS {
            line = line.chars().take(MAX_LOG_LINE_CHARS).collect::<String>() + "…";
        }
        if self.lines.len() == MAX_LOG_LINES {
            self.lines.pop_front();
            self.dropped += 1;
        }
        self.lines.push_back((crate::clock::epoch_ms(), line));
    }

    /// The lines to send with their times, starting with a note of the dropped ones.
    pub fn into_lines(self) -> Vec<(u64, String)> {
        let first = self.lines.front().map_or(0, |(at, _)| *at);
        let note = (self.dropped > 0).then(|| (first, format!("({} earlier log lines omitted)", self.dropped)));
        note.into_iter().chain(self.lines).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn task() -> Task {
        Task { task_id: "t".into(), workflow_instance_id: "w".into(), ..Task::default() }
    }

    #[test]
    fn statuses_map_to_the_wire() {
        let cases = [
            (OutcomeKind::Completed, TaskResultStatus::Completed, None, 0),
            (
                OutcomeKind::Failed { terminal: true, reason: "r".into(), kind: FailureKind::InvalidInput },
                TaskResultStatus::FailedWithTerminalError,
                Some("r"),
                0,
            ),
            (
                OutcomeKind::Failed { terminal: false, reason: "r".into(), kind: FailureKind::HttpStatus },
                TaskResultStatus::Failed,
                Some("r"),
                0,
            ),
            (OutcomeKind::Parked { callback_after_secs: 7 }, TaskResultStatus::InProgress, None, 7),
        ];
        for (kind, status, reason, callback) in cases {
            let mut output = Map::new();
            output.insert("response".into(), json!({"statusCode": 200}));
            let mut logs = ExecLog::default();
            logs.push("line");
            let result = Outcome { kind, output: output.clone(), logs }.into_task_result(&task(), "me", 42);
            assert_eq!(result.status, status);
            assert_eq!(result.reason_for_incompletion.as_deref(), reason);
            assert_eq!(result.callback_after_seconds, callback);
            assert_eq!(result.output_data, output);
            assert_eq!(
                (result.task_id.as_str(), result.workflow_instance_id.as_str(), result.worker_id.as_str()),
                ("t", "w", "me")
            );
            assert_eq!(result.logs.len(), 1);
            assert_eq!((result.logs[0].log.as_str(), result.logs[0].task_id.as_str()), ("line", "t"));
            assert!(result.logs[0].created_time > 1_700_000_000_000, "stamped when pushed");
        }
    }

    #[test]
    fn logs_are_bounded() {
        let mut logs = ExecLog::default();
        for i in 0..(MAX_LOG_LINES + 5) {
            logs.push(format!("line {i}"));
        }
        logs.push("x".repeat(2000));
        let lines: Vec<String> = logs.into_lines().into_iter().map(|(_, line)| line).collect();
        assert_eq!(lines.len(), MAX_LOG_LINES + 1);
        assert_eq!(lines[0], "(6 earlier log lines omitted)");
        assert_eq!(lines[1], "line 6");
        assert_eq!(lines.last().unwrap().chars().count(), MAX_LOG_LINE_CHARS + 1);
    }
}
