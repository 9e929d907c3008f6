//! Pure: how an execution ends ([`Outcome`]) and its mapping to the [`TaskResult`] sent to Conductor, with the
//! task's execution log kept short.

use std::collections::BTreeMap;

use serde_json::value::RawValue;

use super::termination::FailureKind;
use crate::conductor::{Task, TaskExecLog, TaskOutput, TaskResult, TaskResultStatus};

/// Log lines sent with one update at most; older lines are summarised by a count.
pub const MAX_LOG_LINES: usize = 20;
/// Longest log line, in characters.
const MAX_LOG_LINE_CHARS: usize = 512;

/// How an execution ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OutcomeKind {
    /// COMPLETED.
    Completed,
    /// FAILED (retryable) or FAILED_WITH_TERMINAL_ERROR, as [`FailureKind::is_terminal`] says.
    Failed {
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
    pub output: TaskOutput,
    /// Execution log lines for this update.
    pub logs: ExecLog,
}

impl Outcome {
    /// A failure without output, e.g. invalid input.
    pub fn failed(kind: FailureKind, reason: impl Into<String>, logs: ExecLog) -> Self {
        Self { kind: OutcomeKind::Failed { reason: reason.into(), kind }, output: TaskOutput::default(), logs }
    }

    /// The update body for this outcome.
    pub fn into_task_result(self, task: &Task, worker_id: &str, now_ms: u64) -> TaskResult {
        let (status, reason, callback_after_seconds) = match self.kind {
            OutcomeKind::Completed => (TaskResultStatus::Completed, None, 0),
            OutcomeKind::Failed { reason, kind } if kind.is_terminal() => {
                (TaskResultStatus::FailedWithTerminalError, Some(reason), 0)
            }
            OutcomeKind::Failed { reason, .. } => (TaskResultStatus::Failed, Some(reason), 0),
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

/// Keeps an output under `max_bytes` of JSON: a response body that does not fit is cut and marked
/// (`response.bodyTruncated: true`, `response.bodyBytes`: its full size as JSON text), then, if still needed, the
/// response headers are dropped (`response.headersDropped: true`). `Err` with the size when even that is too big.
/// The condition always saw the whole body; only what is stored on the server is cut. Only the response's top level
/// is parsed to do it: the body stays text.
pub fn fit_output(output: &mut TaskOutput, max_bytes: usize) -> Result<(), usize> {
    let size = json_len(output);
    if size <= max_bytes {
        return Ok(());
    }
    let Some(raw) = output.response.take() else { return Err(size) };
    let Ok(parts) = serde_json::from_str::<BTreeMap<String, &RawValue>>(raw.get()) else {
        output.response = Some(raw);
        return Err(size);
    };
    let mut response: BTreeMap<String, Box<RawValue>> =
        parts.iter().filter(|(key, _)| *key != "body").map(|(key, value)| (key.clone(), (*value).to_owned())).collect();
    if let Some(body) = parts.get("body") {
        // A string body is cut as its text, anything else as its JSON text.
        let text = serde_json::from_str::<String>(body.get()).unwrap_or_else(|_| body.get().to_owned());
        let full = text.len();
        let mut keep = full.saturating_sub(size - max_bytes + 128);
        response.insert("bodyTruncated".into(), raw_json(&true));
        response.insert("bodyBytes".into(), raw_json(&full));
        // Escaping can make the kept text longer as JSON than as text: shrink until it fits.
        for _ in 0..8 {
            response.insert("body".into(), raw_json(&text[..floor_char_boundary(&text, keep)]));
            output.response = Some(raw_json(&response));
            let now = json_len(output);
            if now <= max_bytes || keep == 0 {
                break;
            }
            keep = keep.saturating_sub((now - max_bytes).max(keep / 4));
        }
    }
    if json_len(output) > max_bytes && response.remove("headers").is_some() {
        response.insert("headersDropped".into(), raw_json(&true));
    }
    output.response = Some(raw_json(&response));
    let fitted = json_len(output);
    if fitted <= max_bytes { Ok(()) } else { Err(fitted) }
}

/// A small value as JSON text (serializing plain data cannot fail).
fn raw_json<T: serde::Serialize + ?Sized>(value: &T) -> Box<RawValue> {
    serde_json::value::to_raw_value(value).unwrap_or_else(|_| RawValue::NULL.to_owned())
}

/// The length of `output` as JSON, counted without writing it anywhere.
fn json_len(output: &TaskOutput) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0 += bytes.len();
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, output).map_or(usize::MAX, |()| count.0)
}

/// The largest index ≤ `at` that is a char boundary of `text`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
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
    use serde_json::{Map, Value, json};

    fn task() -> Task {
        Task { task_id: "t".into(), workflow_instance_id: "w".into(), ..Task::default() }
    }

    /// An output with `response` as raw JSON text, as the executor builds it.
    fn with_response(response: Value, fields: Value) -> TaskOutput {
        let Value::Object(fields) = fields else { panic!("fields are an object") };
        TaskOutput { fields, response: Some(raw_json(&response)) }
    }

    #[test]
    fn statuses_map_to_the_wire() {
        let cases = [
            (OutcomeKind::Completed, TaskResultStatus::Completed, None, 0),
            (
                OutcomeKind::Failed { reason: "r".into(), kind: FailureKind::InvalidInput },
                TaskResultStatus::FailedWithTerminalError,
                Some("r"),
                0,
            ),
            (
                OutcomeKind::Failed { reason: "r".into(), kind: FailureKind::HttpStatus },
                TaskResultStatus::Failed,
                Some("r"),
                0,
            ),
            (OutcomeKind::Parked { callback_after_secs: 7 }, TaskResultStatus::InProgress, None, 7),
        ];
        for (kind, status, reason, callback) in cases {
            let output = with_response(json!({"statusCode": 200}), json!({}));
            let mut logs = ExecLog::default();
            logs.push("line");
            let result = Outcome { kind, output: output.clone(), logs }.into_task_result(&task(), "me", 42);
            assert_eq!(result.status, status);
            assert_eq!(result.reason_for_incompletion.as_deref(), reason);
            assert_eq!(result.callback_after_seconds, callback);
            assert_eq!(result.output_data, output);
            assert_eq!(result.output_data.to_value(), json!({"response": {"statusCode": 200}}));
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
    fn oversized_outputs_are_truncated_with_a_marker() {
        let body = "é".repeat(300_000) + "\"quoted\"";
        let mut output = with_response(
            json!({"statusCode": 200, "headers": {"A": ["b"]}, "body": {"text": body}}),
            json!({"pollCount": 3}),
        );
        assert!(json_len(&output) > 600_000);
        fit_output(&mut output, 100_000).unwrap();
        assert!(json_len(&output) <= 100_000, "{}", json_len(&output));
        let fitted = output.to_value();
        assert_eq!(fitted["response"]["bodyTruncated"], true);
        assert!(fitted["response"]["bodyBytes"].as_u64().unwrap() > 600_000);
        assert_eq!(fitted["response"]["statusCode"], 200);
        assert_eq!(fitted["response"]["headers"]["A"], json!(["b"]));
        assert_eq!(fitted["pollCount"], 3);
        assert!(fitted["response"]["body"].as_str().unwrap().starts_with("{\"text\":\"éé"));

        let mut text_body = with_response(json!({"statusCode": 200, "body": "x".repeat(50_000)}), json!({}));
        fit_output(&mut text_body, 10_000).unwrap();
        let fitted = text_body.to_value();
        assert!(fitted["response"]["body"].as_str().unwrap().starts_with("xxx"), "a text body is cut as text");
        assert_eq!(fitted["response"]["bodyBytes"], 50_000);

        let mut small = with_response(json!({"statusCode": 200, "body": {"ok": true}}), json!({}));
        let before = small.clone();
        fit_output(&mut small, 100_000).unwrap();
        assert_eq!(small, before, "small outputs are untouched");

        let many: Map<String, Value> = (0..5000).map(|i| (format!("H-{i}"), json!(["value"]))).collect();
        let mut headers_only = with_response(json!({"statusCode": 200, "headers": many, "body": null}), json!({}));
        fit_output(&mut headers_only, 10_000).unwrap();
        assert_eq!(headers_only.to_value()["response"]["headersDropped"], true);

        let mut hopeless =
            TaskOutput::from_fields([("state".to_owned(), json!("x".repeat(50_000)))].into_iter().collect());
        assert!(fit_output(&mut hopeless, 10_000).is_err());
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
