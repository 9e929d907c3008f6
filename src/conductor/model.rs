//! Wire types of the Conductor task API (camelCase JSON): the [`Task`] a poll delivers and the [`TaskResult`] an
//! update sends. Plain data, no logic beyond reading timeouts that conductor-oss hides in embedded definitions.
//!
//! Unknown fields are ignored so that every server version (3.21 to 3.32, Orkes) decodes. Only the fields the worker
//! uses are typed; `inputData` and `outputData` stay JSON. The update's types are in [`result`].

mod result;

use serde::Deserialize;
use serde_json::Value;

pub use result::{TaskExecLog, TaskOutput, TaskResult, TaskResultStatus};

/// A task delivered by a poll. Fields the worker does not read are skipped by serde.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Task {
    /// Id used in every update; the same across IN_PROGRESS/callback cycles, new on retry.
    pub task_id: String,
    /// The workflow this task belongs to; required in updates.
    pub workflow_instance_id: String,
    /// The queue the task was polled from (the workflow task's `type` for custom types such as `HTTP_POLL`).
    pub task_type: UnreadString,
    /// The workflow task's `name` (= TaskDef name).
    pub task_def_name: UnreadString,
    /// The task's reference name in its workflow.
    pub reference_task_name: UnreadString,
    /// Resolved task input; an object for every task the server creates.
    pub input_data: Value,
    /// The output stored by the previous update of this task id: where park mode keeps its state.
    pub output_data: Value,
    /// Deliveries of this task id so far (1 on first delivery).
    pub poll_count: u32,
    /// Attempt number, 0-based.
    pub retry_count: u32,
    /// Seconds without an update after which the server times the task out; 0 = none (or not copied, see
    /// [`Task::response_timeout_secs`]).
    pub response_timeout_seconds: u64,
    /// The domain the task was polled from, if any.
    pub domain: Option<UnreadString>,
    /// When the task was first polled, epoch milliseconds (kept across callbacks).
    pub start_time: u64,
    /// The TaskDef as copied into the task (some servers).
    pub task_definition: Option<TaskDefTimeouts>,
    /// The workflow task, whose embedded `taskDefinition` conductor-oss fills for custom types.
    pub workflow_task: Option<WorkflowTaskRef>,
}

/// A string field the worker does not read. Decoding still requires a string, as it did when the value was kept (a
/// task with, say, a numeric `taskType` stays undecodable), but nothing is kept: every held task carries its `Task`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnreadString;

impl<'de> Deserialize<'de> for UnreadString {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Checker;
        impl serde::de::Visitor<'_> for Checker {
            type Value = UnreadString;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string") // as for String, so that error messages stay the same
            }
            fn visit_str<E>(self, _: &str) -> Result<UnreadString, E> {
                Ok(UnreadString)
            }
        }
        deserializer.deserialize_string(Checker)
    }
}

/// The part of an embedded workflow task the worker reads.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct WorkflowTaskRef {
    /// The TaskDef resolved for this workflow task.
    pub task_definition: Option<TaskDefTimeouts>,
}

/// The timeouts of a TaskDef, in seconds; 0 = none.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct TaskDefTimeouts {
    /// Seconds without an update before the server times an IN_PROGRESS task out.
    pub response_timeout_seconds: u64,
    /// Seconds from first start before the server times the task out, parked or not.
    pub timeout_seconds: u64,
}

impl Task {
    /// The response timeout that applies to this task: conductor-oss delivers `responseTimeoutSeconds: 0` for
    /// custom task types even when the TaskDef sets one, and embeds the TaskDef at `workflowTask.taskDefinition`.
    pub fn response_timeout_secs(&self) -> u64 {
        let embedded = [
            self.task_definition.map(|d| d.response_timeout_seconds),
            self.workflow_task.as_ref().and_then(|w| w.task_definition).map(|d| d.response_timeout_seconds),
        ];
        std::iter::once(self.response_timeout_seconds)
            .chain(embedded.into_iter().flatten())
            .find(|s| *s > 0)
            .unwrap_or(0)
    }

    /// The TaskDef's `timeoutSeconds` (from first start, parked or not), 0 = none.
    pub fn timeout_secs(&self) -> u64 {
        [self.task_definition, self.workflow_task.as_ref().and_then(|w| w.task_definition)]
            .into_iter()
            .flatten()
            .map(|d| d.timeout_seconds)
            .find(|s| *s > 0)
            .unwrap_or(0)
    }

    /// How long after its delivery (at `delivered_ms`, epoch) the server gives up on this task if it hears nothing:
    /// the response timeout, or what is left of the total timeout, whichever ends first; `None` when neither is set.
    pub fn server_deadline_after_delivery(&self, delivered_ms: u64) -> Option<std::time::Duration> {
        let response = Some(self.response_timeout_secs()).filter(|s| *s > 0).map(|s| s * 1000);
        let total = Some(self.timeout_secs())
            .filter(|s| *s > 0 && self.start_time > 0)
            .map(|s| (self.start_time + s * 1000).saturating_sub(delivered_ms));
        [response, total].into_iter().flatten().min().map(std::time::Duration::from_millis)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn response_timeout_prefers_top_level_then_embedded_definitions() {
        let cases = [
            (json!({"responseTimeoutSeconds": 30}), 30),
            (
                json!({"responseTimeoutSeconds": 0, "workflowTask": {"taskDefinition": {"responseTimeoutSeconds": 300}}}),
                300,
            ),
            (json!({"taskDefinition": {"responseTimeoutSeconds": 45}, "workflowTask": {}}), 45),
            (json!({"workflowTask": {"taskDefinition": null}}), 0),
            (json!({}), 0),
        ];
        for (task, want) in cases {
            let task: Task = serde_json::from_value(task.clone()).unwrap();
            assert_eq!(task.response_timeout_secs(), want, "{task:?}");
        }
    }

    #[test]
    fn server_deadline_is_the_earlier_of_response_and_total_timeouts() {
        let task = |value: serde_json::Value| serde_json::from_value::<Task>(value).unwrap();
        let secs = |d: Option<std::time::Duration>| d.map(|d| d.as_secs());
        let both = task(json!({"responseTimeoutSeconds": 60, "startTime": 1_000_000,
            "taskDefinition": {"timeoutSeconds": 100, "responseTimeoutSeconds": 60}}));
        assert_eq!(secs(both.server_deadline_after_delivery(1_000_000)), Some(60));
        assert_eq!(secs(both.server_deadline_after_delivery(1_070_000)), Some(30), "30 s of the total left");
        assert_eq!(secs(both.server_deadline_after_delivery(1_200_000)), Some(0), "already past");
        let total_only = task(json!({"startTime": 5_000, "workflowTask": {"taskDefinition": {"timeoutSeconds": 10}}}));
        assert_eq!(secs(total_only.server_deadline_after_delivery(5_000)), Some(10));
        assert_eq!(task(json!({})).server_deadline_after_delivery(5_000), None);
    }

    #[test]
    fn task_decodes_ignoring_unknown_fields_and_nulls_in_optional_ones() {
        let task: Task = serde_json::from_value(json!({
            "taskId": "t", "workflowInstanceId": "w", "taskType": "HTTP_POLL", "pollCount": 2,
            "inputData": {"http_request": {"uri": "http://x"}}, "domain": null, "somethingNew": [1, 2],
            "outputData": {"k": 1}
        }))
        .unwrap();
        assert_eq!((task.task_id.as_str(), task.poll_count, task.domain), ("t", 2, None));
        for (field, value) in [("taskType", json!(5)), ("taskDefName", json!([])), ("domain", json!(1))] {
            let error = serde_json::from_value::<Task>(json!({ field: value })).unwrap_err().to_string();
            assert!(error.starts_with("invalid type") && error.ends_with("expected a string"), "{field}: {error}");
        }
        for value in [json!(5), json!(null), json!([]), json!({}), json!(true), json!("x\u{e9}")] {
            let as_string = serde_json::from_value::<String>(value.clone()).map(drop).map_err(|e| e.to_string());
            let unread = serde_json::from_value::<UnreadString>(value.clone()).map(drop).map_err(|e| e.to_string());
            assert_eq!(unread, as_string, "{value}");
            let text = value.to_string();
            let as_string = serde_json::from_str::<String>(&text).map(drop).map_err(|e| e.to_string());
            assert_eq!(serde_json::from_str::<UnreadString>(&text).map(drop).map_err(|e| e.to_string()), as_string);
        }
        assert_eq!(task.output_data, json!({"k": 1}));
    }
}
