//! Pure: the last response an HTTP_POLL task saw, kept compact while the task holds between polls.
//!
//! Why: a `serde_json::Value` tree of a response (status, reason, headers, body) costs ~2 KiB, every JSON object
//! being a B-tree node; its JSON text costs a fraction of that, and with 100,000 tasks held it is the difference
//! that matters. The text is parsed again only to build the task's output. serde_json parses floats best-effort
//! (without its `float_roundtrip` feature), so a response holding a float is kept as a tree: the output is always
//! exactly the response that was seen.

use serde_json::Value;

/// A response's `to_json()`, as compact as it can be kept exactly.
#[derive(Debug, Clone, PartialEq)]
pub struct LastResponse(Kept);

#[derive(Debug, Clone, PartialEq)]
enum Kept {
    Text(Box<str>),
    Tree(Box<Value>),
}

impl LastResponse {
    /// Keeps `response` (the output's `response` object).
    pub fn new(response: &Value) -> Self {
        if !has_float(response)
            && let Ok(text) = serde_json::to_string(response)
        {
            return Self(Kept::Text(text.into_boxed_str()));
        }
        Self(Kept::Tree(Box::new(response.clone())))
    }

    /// The response as it was given to [`LastResponse::new`].
    pub fn into_value(self) -> Value {
        match self.0 {
            // Text written by serde_json from a Value without floats parses back to the same Value.
            Kept::Text(text) => serde_json::from_str(&text).unwrap_or(Value::Null),
            Kept::Tree(tree) => *tree,
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
            assert_eq!(LastResponse::new(&value).into_value(), value);
        }
    }

    #[test]
    fn keeps_text_unless_a_float_is_inside() {
        let text = LastResponse::new(&json!({"body": {"a": [1, {"b": "x"}]}}));
        assert!(matches!(text.0, Kept::Text(_)));
        let tree = LastResponse::new(&json!({"body": {"a": [1, {"b": 0.5}]}}));
        assert!(matches!(tree.0, Kept::Tree(_)));
    }
}
