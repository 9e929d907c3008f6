//! Pure: decoding the tasks in a batch-poll or update-v2 body, each task on its own so that one odd task cannot lose
//! the batch.
//!
//! Tasks are decoded straight from their text into [`Task`]: the fields the worker ignores (most of a Conductor task)
//! are skipped instead of built into a `serde_json::Value` tree and dropped. The result is exactly what decoding
//! through `Value` gives, which remains the reference and the fallback:
//! - a body is decoded directly only if `Value` would accept it (same numbers, nesting limit, escapes: [`Checked`]);
//!   `serde_json`'s skipping of ignored fields checks less, so it cannot be the judge;
//! - a task that does not decode directly, or lacks its ids, takes the `Value` path, whose errors the worker reports
//!   (directly, a duplicated field would be an error where `Value` keeps the last).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::value::RawValue;

use super::{ClientError, PolledTask, Task};

/// Decodes a batch-poll body: a JSON array of tasks.
pub fn decode_poll_batch(body: &[u8]) -> Result<Vec<PolledTask>, ClientError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Vec::new());
    }
    if serde_json::from_slice::<Checked>(body).is_ok()
        && let Ok(items) = serde_json::from_slice::<Vec<&RawValue>>(body)
    {
        return Ok(items.into_iter().map(|item| decode_text(item.get())).collect());
    }
    let items: Vec<Value> = serde_json::from_slice(body).map_err(|e| ClientError::Decode(e.to_string()))?;
    Ok(items.into_iter().map(decode_value).collect())
}

/// Decodes the body of a single-task reply (update-v2): a task object, or nothing.
pub fn decode_single_task(body: &[u8]) -> Result<Option<PolledTask>, ClientError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if serde_json::from_slice::<Checked>(body).is_ok()
        && let Ok(text) = std::str::from_utf8(body)
        && let Some(task) = decode_direct(text)
    {
        return Ok(Some(task));
    }
    let item: Value = serde_json::from_slice(body).map_err(|e| ClientError::Decode(e.to_string()))?;
    Ok((!item.is_null()).then(|| decode_value(item)))
}

/// One task whose text `Value` accepts.
fn decode_text(text: &str) -> PolledTask {
    decode_direct(text).unwrap_or_else(|| match serde_json::from_str::<Value>(text) {
        Ok(item) => decode_value(item),
        // Unreachable: the whole body was checked. Kept total rather than panicking.
        Err(e) => PolledTask::Undecodable {
            task_id: String::new(),
            workflow_instance_id: String::new(),
            error: e.to_string(),
        },
    })
}

/// The task, when it decodes directly and has its ids; `None` sends it down the `Value` path.
fn decode_direct(text: &str) -> Option<PolledTask> {
    match serde_json::from_str::<Task>(text) {
        Ok(task) if !task.task_id.is_empty() && !task.workflow_instance_id.is_empty() => {
            Some(PolledTask::Task(Box::new(task)))
        }
        _ => None,
    }
}

/// The reference decoding of one task, through `Value`.
fn decode_value(item: Value) -> PolledTask {
    let field = |name: &str| item.get(name).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (task_id, workflow_instance_id) = (field("taskId"), field("workflowInstanceId"));
    match serde_json::from_value::<Task>(item) {
        Ok(task) if !task.task_id.is_empty() && !task.workflow_instance_id.is_empty() => {
            PolledTask::Task(Box::new(task))
        }
        Ok(_) => PolledTask::Undecodable {
            task_id,
            workflow_instance_id,
            error: "taskId or workflowInstanceId missing".into(),
        },
        Err(e) => PolledTask::Undecodable { task_id, workflow_instance_id, error: e.to_string() },
    }
}

/// Any JSON value, read and checked like `serde_json::Value` reads it, and kept nowhere.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: de::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_unit<E>(self) -> Result<Checked, E> {
        Ok(Checked)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<Checked>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference: the whole body through `Value`, as the worker decoded it before.
    fn through_values(body: &[u8]) -> Result<Vec<PolledTask>, ClientError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Vec::new());
        }
        let items: Vec<Value> = serde_json::from_slice(body).map_err(|e| ClientError::Decode(e.to_string()))?;
        Ok(items.into_iter().map(decode_value).collect())
    }

    fn nested(depth: usize, inner: &str) -> String {
        format!("{}{inner}{}", "[".repeat(depth), "]".repeat(depth))
    }

    #[test]
    fn decodes_exactly_what_decoding_through_values_gives() {
        let ok = r#""taskId":"t","workflowInstanceId":"w""#;
        let full = r#"{"taskId":"t","workflowInstanceId":"w","taskType":"HTTP_POLL","taskDefName":"d",
            "referenceTaskName":"r","inputData":{"http_request":{"uri":"http://x","method":"GET","n":1.5,"m":-0}},
            "outputData":{"response":{"body":"\u00e9\n"}},"pollCount":2,"retryCount":1,"responseTimeoutSeconds":30,
            "domain":null,"startTime":1700000000000,"taskDefinition":{"timeoutSeconds":60},
            "workflowTask":{"taskDefinition":{"responseTimeoutSeconds":300,"other":[1,{"a":null}]},"name":"n"},
            "status":"IN_PROGRESS","callbackAfterSeconds":0,"somethingNew":{"deep":[[[]]]}}"#;
        let bodies: Vec<String> = vec![
            "".into(),
            " \n".into(),
            "[]".into(),
            format!("[{full}]"),
            format!("[{{{ok}}},{full},{{{ok},\"pollCount\":\"x\"}},{{\"x\":1}}]"),
            format!("[{{{ok},\"taskId\":\"u\"}}]"),
            format!("[{{{ok},\"somethingNew\":1,\"somethingNew\":2}}]"),
            format!("[{{{ok},\"inputData\":{{\"a\":1,\"a\":2}}}}]"),
            format!("[{{{ok},\"pollCount\":1.0}}]"),
            format!("[{{{ok},\"pollCount\":-0}}]"),
            format!("[{{{ok},\"pollCount\":1e2}}]"),
            format!("[{{{ok},\"pollCount\":4294967296}}]"),
            format!("[{{{ok},\"responseTimeoutSeconds\":18446744073709551616}}]"),
            format!("[{{{ok},\"taskId\":null}}]"),
            format!("[{{{ok},\"domain\":\"d\"}}]"),
            format!("[{{{ok},\"domain\":5}}]"),
            format!("[{{{ok},\"taskType\":5,\"referenceTaskName\":\"r\\u00e9\"}}]"),
            format!("[{{{ok},\"taskDefName\":{{}}}}]"),
            format!("[{{{ok},\"taskDefinition\":\"x\"}}]"),
            format!("[{{{ok},\"workflowTask\":null}}]"),
            r#"[{"taskId":"","workflowInstanceId":"w"}]"#.into(),
            r#"[{"taskId":"t"}]"#.into(),
            r#"[{"taskId":7,"workflowInstanceId":"w"}]"#.into(),
            "[null, 1, \"x\", []]".into(),
            "{\"a\":1}".into(),
            "null".into(),
            "[".into(),
            "[{}] x".into(),
            // Only Value's checks reject these, in a field the worker ignores: still the same answer.
            format!("[{{{ok},\"ignored\":1e400}}]"),
            format!("[{{{ok},\"ignored\":{}}}]", nested(200, "1")),
            format!("[{{{ok},\"ignored\":{}}}]", nested(125, "1")),
            format!("[{{{ok},\"ignored\":{}}}]", nested(126, "1")),
            format!("[{{{ok},\"inputData\":{}}}]", nested(126, "1")),
            format!("[{{{ok},\"ignored\":\"\\ud800\"}}]"),
            format!("[{{{ok},\"ignored\":\"\\ud800\\u0041\"}}]"),
            format!("[{{{ok},\"ignored\":\"\\x\"}}]"),
            format!("[{{{ok},\"ignored\":\"tab\there\"}}]"),
            format!("[{{{ok},\"ignored\":01}}]"),
            format!("[{{{ok},\"ignored\":[1,]}}]"),
        ];
        let mut bodies: Vec<Vec<u8>> = bodies.into_iter().map(String::into_bytes).collect();
        bodies.push(
            [b"[{\"taskId\":\"t\",\"workflowInstanceId\":\"w\",\"ignored\":\"".as_slice(), &[0xff, 0xfe], b"\"}]"]
                .concat(),
        );
        for body in &bodies {
            let text = String::from_utf8_lossy(body);
            assert_eq!(format!("{:?}", decode_poll_batch(body)), format!("{:?}", through_values(body)), "{text}");
            let single = body.strip_prefix(b"[").and_then(|b| b.strip_suffix(b"]")).unwrap_or(body);
            let reference = match serde_json::from_slice::<Value>(single) {
                Ok(item) => Ok((!item.is_null()).then(|| decode_value(item))),
                Err(e) if !single.iter().all(u8::is_ascii_whitespace) => Err(ClientError::Decode(e.to_string())),
                Err(_) => Ok(None),
            };
            assert_eq!(format!("{:?}", decode_single_task(single)), format!("{reference:?}"), "single {text}");
        }
    }

    #[test]
    fn a_task_decodes_directly_when_it_can() {
        let tasks = decode_poll_batch(br#"[{"taskId":"t","workflowInstanceId":"w","inputData":{"a":[1]}}]"#).unwrap();
        assert!(matches!(&tasks[..], [PolledTask::Task(t)] if t.input_data["a"][0] == 1));
        assert!(decode_direct(r#"{"taskId":"t","workflowInstanceId":"w","pollCount":3}"#).is_some());
        assert!(decode_direct(r#"{"taskId":"t","workflowInstanceId":"w","taskId":"t"}"#).is_none(), "duplicate");
        assert!(decode_direct(r#"{"taskId":"t"}"#).is_none(), "no workflow id");
        let checked = |text: &str| serde_json::from_slice::<Checked>(text.as_bytes()).is_ok();
        assert!(checked(r#"[{"a":[1,-2,3.5,"\u00e9",null,true,{}]}]"#));
        assert!(checked(&nested(127, "")));
        for rejected in ["[1e400]", &nested(129, ""), r#"["\ud800"]"#, "[01]", "[1,]"] {
            assert!(!checked(rejected), "{rejected}");
        }
    }
}
