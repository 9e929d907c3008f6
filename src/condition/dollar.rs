//! What `$` holds for one evaluation, as a borrowed view of the task input and this poll's response: `$` is the
//! task input's keys, plus `$.input` (the task input) and `$.output` = `{response: {statusCode, reasonPhrase,
//! headers, body}, pollCount, status}`. It is never built as a tree in this process: the native evaluator reads it
//! in place, and the engine gets it as JSON text ([`PollView::write_json`] and the input's text).
//!
//! The response object serializes exactly as the task output's `response` (the http_poll module uses
//! [`ResponseView`] for that too), so a condition and the workflow see the same shape.

use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// `$` for one evaluation.
#[derive(Debug, Clone, Copy)]
pub struct Dollar<'a> {
    /// The task input (an object for every task the server creates).
    pub input: &'a RawValue,
    /// `$.output`.
    pub output: PollView<'a>,
}

/// `$.output`: this poll's response and count.
#[derive(Debug, Clone, Copy)]
pub struct PollView<'a> {
    /// `$.output.response`.
    pub response: ResponseView<'a>,
    /// `$.output.pollCount`: polls made, this one included.
    pub poll_count: u32,
}

/// A response as the condition and the task output see it.
#[derive(Debug, Clone, Copy)]
pub struct ResponseView<'a> {
    /// `statusCode` (also `$.output.status`).
    pub status: u16,
    /// `reasonPhrase`.
    pub reason: &'a str,
    /// `headers`: Title-Case name → list of values.
    pub headers: &'a Map<String, Value>,
    /// `body`.
    pub body: BodyView<'a>,
}

/// A response body: JSON when it parses as JSON, else its text; null when empty.
#[derive(Debug, Clone, Copy)]
pub enum BodyView<'a> {
    /// Empty (or only white space).
    Null,
    /// Not JSON: the text (invalid UTF-8 replaced).
    Text(&'a str),
    /// JSON, as received.
    Json(&'a RawValue),
}

impl Serialize for BodyView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            BodyView::Null => serializer.serialize_unit(),
            BodyView::Text(text) => serializer.serialize_str(text),
            BodyView::Json(raw) => raw.serialize(serializer),
        }
    }
}

impl Serialize for ResponseView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("statusCode", &self.status)?;
        map.serialize_entry("reasonPhrase", self.reason)?;
        map.serialize_entry("headers", self.headers)?;
        map.serialize_entry("body", &self.body)?;
        map.end()
    }
}

impl Serialize for PollView<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(3))?;
        map.serialize_entry("response", &self.response)?;
        map.serialize_entry("pollCount", &self.poll_count)?;
        map.serialize_entry("status", &self.response.status)?;
        map.end()
    }
}

impl PollView<'_> {
    /// `$.output` as JSON text, appended to `out` (the engine joins it with the input into `$`, [`join`]).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        // Serializing borrowed JSON values into memory cannot fail.
        let _ = serde_json::to_writer(out, self);
    }
}

/// `$` as a tree, from the input and output values: the input's keys, then `input` and `output` (which win over
/// input keys of the same names).
pub fn join(input: Value, output: Value) -> Value {
    let mut root = input.as_object().cloned().unwrap_or_default();
    root.insert("input".into(), input);
    root.insert("output".into(), output);
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parts_join_into_the_documented_shape() {
        let input =
            RawValue::from_string(r#"{"http_request": {"uri": "u"}, "output": "shadowed", "k": 1}"#.into()).unwrap();
        let body = RawValue::from_string(r#"{"state": "DONE", "x": 0.1}"#.into()).unwrap();
        let headers: Map<String, Value> = [("A".to_owned(), json!(["b"]))].into_iter().collect();
        let dollar = Dollar {
            input: &input,
            output: PollView {
                response: ResponseView { status: 200, reason: "OK", headers: &headers, body: BodyView::Json(&body) },
                poll_count: 2,
            },
        };
        let mut output = Vec::new();
        dollar.output.write_json(&mut output);
        let parse = |bytes: &[u8]| serde_json::from_slice::<Value>(bytes).unwrap();
        let joined = join(parse(dollar.input.get().as_bytes()), parse(&output));
        assert_eq!(
            joined,
            json!({"http_request": {"uri": "u"}, "k": 1,
                   "input": {"http_request": {"uri": "u"}, "output": "shadowed", "k": 1},
                   "output": {"response": {"statusCode": 200, "reasonPhrase": "OK", "headers": {"A": ["b"]},
                                           "body": {"state": "DONE", "x": 0.1}},
                              "pollCount": 2, "status": 200}})
        );
        for (body, want) in [(BodyView::Null, json!(null)), (BodyView::Text("<html>"), json!("<html>"))] {
            let text = serde_json::to_string(&ResponseView { body, ..dollar.output.response }).unwrap();
            assert_eq!(parse(text.as_bytes())["body"], want);
        }
    }
}
