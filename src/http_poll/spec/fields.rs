//! Pure: reading one JSON object of the input field by field: strings, numbers (also as strings), booleans and
//! timeouts, each wrong value recorded as a [`FieldProblem`] named by its field rather than stopping the parse.
//!
//! Owns: the value forms the input accepts and the wording of their problems. Does not own: which keys exist or
//! what they mean (the parent module, [`super::request`], [`super::polling`]).

use std::time::Duration;

use serde_json::{Map, Value};

use super::{FieldProblem, MAX_REQUEST_TIMEOUT};

/// Reads the fields of one JSON object, collecting problems instead of stopping at the first.
pub(super) struct Fields<'a> {
    pub(super) object: &'a Map<String, Value>,
    pub(super) prefix: &'static str,
    pub(super) problems: Vec<FieldProblem>,
}

impl<'a> Fields<'a> {
    pub(super) fn get(&self, key: &str) -> Option<&'a Value> {
        self.object.get(key).filter(|v| !v.is_null())
    }

    pub(super) fn problem(&mut self, key: &str, message: impl Into<String>) {
        self.problems.push(FieldProblem { field: format!("{}{key}", self.prefix), message: message.into() });
    }

    pub(super) fn string(&mut self, key: &str) -> Option<&'a str> {
        match self.get(key)? {
            Value::String(s) => Some(s),
            other => {
                self.problem(key, format!("must be a string, got {}", json_type(other)));
                None
            }
        }
    }

    /// A number, or a string holding one (`"5"`); `None` when absent or invalid (then a problem is recorded).
    pub(super) fn number(&mut self, key: &str) -> Option<f64> {
        let value = self.get(key)?;
        let parsed = match value {
            Value::Number(n) => n.as_f64(),
            Value::String(s) => s.trim().parse::<f64>().ok(),
            _ => None,
        };
        match parsed {
            Some(n) if n.is_finite() => Some(n),
            _ => {
                self.problem(key, format!("must be a number, got {}", describe(value)));
                None
            }
        }
    }

    pub(super) fn boolean(&mut self, key: &str) -> Option<bool> {
        match self.get(key)? {
            Value::Bool(b) => Some(*b),
            Value::String(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::String(s) if s.eq_ignore_ascii_case("false") => Some(false),
            other => {
                self.problem(key, format!("must be true or false, got {}", describe(other)));
                None
            }
        }
    }

    /// Milliseconds in (0, 1 h].
    pub(super) fn timeout_ms(&mut self, key: &str, default: Duration) -> Duration {
        match self.number(key) {
            None => default,
            Some(ms) if (0.0..=MAX_REQUEST_TIMEOUT.as_millis() as f64).contains(&ms) => {
                Duration::from_secs_f64(ms / 1000.0)
            }
            Some(ms) => {
                self.problem(
                    key,
                    format!(
                        "must be between 0 (no timeout) and {} milliseconds, got {ms}",
                        MAX_REQUEST_TIMEOUT.as_millis()
                    ),
                );
                default
            }
        }
    }
}

/// `an object`, `a number`, ... for messages.
pub(super) fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// The type and, for scalars, the value (shortened), for messages.
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("{:?}", s.chars().take(40).collect::<String>()),
        Value::Bool(_) | Value::Number(_) => value.to_string(),
        other => json_type(other).to_owned(),
    }
}
