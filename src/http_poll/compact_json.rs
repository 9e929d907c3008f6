//! Pure: JSON an HTTP_POLL task keeps while it holds between polls (its input, its last response), kept compact.
//!
//! Why: a `serde_json::Value` tree costs ~0.6 KiB per JSON object (each is a B-tree node), so a response with its
//! headers costs ~2 KiB and a task input ~1 KiB; their JSON text costs a fraction of that, and with 100,000 tasks
//! held it is the difference that matters. The text is parsed again when the value is needed (`$` for a condition
//! that reads it, the task's output). serde_json parses floats best-effort (without its `float_roundtrip` feature),
//! so a value holding a float is kept as a tree: what comes back is always exactly what was kept.

use serde_json::Value;

/// A JSON value, as compact as it can be kept exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct CompactJson(Kept);

#[derive(Debug, Clone, PartialEq)]
enum Kept {
    Text(Box<str>),
    Tree(Box<Value>),
}

impl CompactJson {
    /// Keeps `value`.
    pub fn new(value: &Value) -> Self {
        if !has_float(value)
            && let Ok(text) = serde_json::to_string(value)
        {
            return Self(Kept::Text(text.into_boxed_str()));
        }
        Self(Kept::Tree(Box::new(value.clone())))
    }

    /// The value as it was given to [`CompactJson::new`].
    pub fn to_value(&self) -> Value {
        match &self.0 {
            // Text written by serde_json from a Value without floats parses back to the same Value.
            Kept::Text(text) => serde_json::from_str(text).unwrap_or(Value::Null),
            Kept::Tree(tree) => (**tree).clone(),
        }
    }

    /// [`CompactJson::to_value`], consuming it.
    pub fn into_value(self) -> Value {
        match self.0 {
            Kept::Tree(tree) => *tree,
            text => Self(text).to_value(),
        }
    }
}

fn has_float(value: &Value) -> bool {
    match value {
        Value::Number(n) => n.is_f64(),
        Value::Array(items) => items.iter().any(has_float),
        Value::Object(map) => map.values().any(has_float),
        Value::Null | Value::Bool(_) | Value::String(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn gives_back_exactly_what_it_kept() {
        let cases = [
            json!({"statusCode": 200, "reasonPhrase": "OK", "headers": {"Content-Type": ["application/json"]},
                   "body": {"state": "DONE", "n": -3, "big": u64::MAX, "list": [null, true, "é\u{1F600}\"\\\n"]}}),
            json!({"statusCode": 200, "body": {"ratio": 1.2345678901234567e-100, "tiny": 5e-324, "x": 0.1}}),
            json!({"statusCode": 204, "body": null}),
            json!("text"),
        ];
        for value in cases {
            let kept = CompactJson::new(&value);
            assert_eq!(kept.to_value(), value);
            assert_eq!(kept.into_value(), value);
        }
    }

    #[test]
    fn keeps_text_unless_a_float_is_inside() {
        let text = CompactJson::new(&json!({"body": {"a": [1, {"b": "x"}]}}));
        assert!(matches!(text.0, Kept::Text(_)));
        let tree = CompactJson::new(&json!({"body": {"a": [1, {"b": 0.5}]}}));
        assert!(matches!(tree.0, Kept::Tree(_)));
    }
}
