//! Wire types of an update (`POST /api/tasks`, `update-v2`): the [`TaskResult`] a worker sends, its status, its
//! execution log lines, and [`TaskOutput`], whose `response` is sent as the JSON text it was received as.
//!
//! Owns: the update's JSON shape. Does not own: what goes into a result (`worker::reporter`, `http_poll::outcome`)
//! or the delivered task (the parent module).

use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// Status values a worker may send.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskResultStatus {
    /// Not done: with `callbackAfterSeconds` the server re-delivers the task after that delay.
    InProgress,
    /// Done successfully.
    Completed,
    /// Failed; retried per the TaskDef's retry settings.
    Failed,
    /// Failed; never retried.
    FailedWithTerminalError,
}

/// One line of the task's execution log.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskExecLog {
    /// The line.
    pub log: String,
    /// The task it belongs to (the server overwrites it anyway).
    pub task_id: String,
    /// Epoch milliseconds.
    pub created_time: u64,
}

/// The body of `POST /api/tasks`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskResult {
    /// Required by the server.
    pub workflow_instance_id: String,
    /// Required by the server.
    pub task_id: String,
    /// Who reports (stored on the task).
    pub worker_id: String,
    /// The new status.
    pub status: TaskResultStatus,
    /// Why the task did not complete; replaces the stored reason.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason_for_incompletion: Option<String>,
    /// With IN_PROGRESS: seconds until the server re-delivers the task.
    #[serde(skip_serializing_if = "is_zero")]
    pub callback_after_seconds: u64,
    /// Replaces the task's output (the server does not merge).
    pub output_data: TaskOutput,
    /// Appended to the task's execution log.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<TaskExecLog>,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// A task's new `outputData`: plain fields, and the HTTP response as JSON text, so that a response body is sent
/// on exactly as it was received and never held as a tree.
#[derive(Debug, Clone, Default)]
pub struct TaskOutput {
    /// Every key but `response`.
    pub fields: Map<String, Value>,
    /// `response`, as JSON text.
    pub response: Option<Box<RawValue>>,
}

impl TaskOutput {
    /// An output of plain fields (a `response` among them stays a field).
    pub fn from_fields(fields: Map<String, Value>) -> Self {
        Self { fields, response: None }
    }

    /// The output as a tree (for tests and inspection; the worker never needs it).
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl PartialEq for TaskOutput {
    fn eq(&self, other: &Self) -> bool {
        self.fields == other.fields
            && self.response.as_ref().map(|r| r.get()) == other.response.as_ref().map(|r| r.get())
    }
}

impl Serialize for TaskOutput {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &self.fields {
            if !(key == "response" && self.response.is_some()) {
                map.serialize_entry(key, value)?;
            }
        }
        if let Some(response) = &self.response {
            map.serialize_entry("response", response)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn result_serializes_as_the_server_expects() {
        let result = TaskResult {
            workflow_instance_id: "w".into(),
            task_id: "t".into(),
            worker_id: "me".into(),
            status: TaskResultStatus::FailedWithTerminalError,
            reason_for_incompletion: Some("bad".into()),
            callback_after_seconds: 0,
            output_data: TaskOutput::default(),
            logs: vec![],
        };
        assert_eq!(
            serde_json::to_value(&result).unwrap(),
            json!({"workflowInstanceId": "w", "taskId": "t", "workerId": "me", "status": "FAILED_WITH_TERMINAL_ERROR",
                   "reasonForIncompletion": "bad", "outputData": {}})
        );
    }

    #[test]
    fn the_response_is_sent_as_received() {
        let mut fields = Map::new();
        fields.insert("pollCount".into(), json!(2));
        fields.insert("response".into(), json!("replaced by the raw response"));
        let raw = RawValue::from_string(
            r#"{"statusCode":200,"body":{"x":1.10,"big":123456789012345678901234567890}}"#.into(),
        )
        .unwrap();
        let output = TaskOutput { fields, response: Some(raw) };
        assert_eq!(
            serde_json::to_string(&output).unwrap(),
            r#"{"pollCount":2,"response":{"statusCode":200,"body":{"x":1.10,"big":123456789012345678901234567890}}}"#
        );
    }
}
