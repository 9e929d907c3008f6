//! Pure: what a `terminationCondition`'s result means. Booleans and 1 / 0 / -1 are the forms HTTP_POLL users write;
//! everything else is rejected with a message that says what came back.

/// What the condition decided about the current poll.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// `true` or `1`: the task is done.
    Holds,
    /// `false` or `0`: poll again.
    NotYet,
    /// `-1`: give up; the task fails terminally.
    Fails,
}

/// A JavaScript value reduced to what the verdict mapping needs (boa values cannot leave the evaluator thread).
#[derive(Debug, Clone, PartialEq)]
pub enum ScriptValue {
    /// `undefined`, e.g. a function without `return`.
    Undefined,
    /// `null`.
    Null,
    /// A boolean.
    Bool(bool),
    /// A number.
    Number(f64),
    /// A string, shortened for messages.
    String(String),
    /// An object, array or function.
    Object,
    /// A symbol or bigint.
    Other(&'static str),
}

/// Maps a condition's result to a verdict, or explains why it cannot be one.
pub fn verdict(value: &ScriptValue) -> Result<Verdict, String> {
    const EXPECTED: &str = "a terminationCondition must return true/false or 1/0/-1";
    match value {
        ScriptValue::Bool(true) => Ok(Verdict::Holds),
        ScriptValue::Bool(false) => Ok(Verdict::NotYet),
        ScriptValue::Number(n) if *n == 1.0 => Ok(Verdict::Holds),
        ScriptValue::Number(n) if *n == 0.0 => Ok(Verdict::NotYet),
        ScriptValue::Number(n) if *n == -1.0 => Ok(Verdict::Fails),
        ScriptValue::Number(n) => Err(format!("{EXPECTED}, it returned the number {n}")),
        ScriptValue::String(s) => Err(format!("{EXPECTED}, it returned the string {s:?}")),
        ScriptValue::Undefined => Err(format!("{EXPECTED}, it returned undefined (missing return?)")),
        ScriptValue::Null => Err(format!("{EXPECTED}, it returned null")),
        ScriptValue::Object => Err(format!("{EXPECTED}, it returned an object")),
        ScriptValue::Other(kind) => Err(format!("{EXPECTED}, it returned a {kind}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_forms() {
        let cases = [
            (ScriptValue::Bool(true), Ok(Verdict::Holds)),
            (ScriptValue::Bool(false), Ok(Verdict::NotYet)),
            (ScriptValue::Number(1.0), Ok(Verdict::Holds)),
            (ScriptValue::Number(0.0), Ok(Verdict::NotYet)),
            (ScriptValue::Number(-0.0), Ok(Verdict::NotYet)),
            (ScriptValue::Number(-1.0), Ok(Verdict::Fails)),
            (ScriptValue::Number(2.0), Err("the number 2")),
            (ScriptValue::Number(f64::NAN), Err("the number NaN")),
            (ScriptValue::String("true".into()), Err("the string \"true\"")),
            (ScriptValue::Undefined, Err("undefined")),
            (ScriptValue::Null, Err("null")),
            (ScriptValue::Object, Err("an object")),
            (ScriptValue::Other("symbol"), Err("a symbol")),
        ];
        for (value, want) in cases {
            match (verdict(&value), want) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "{value:?}"),
                (Err(message), Err(fragment)) => assert!(message.contains(fragment), "{value:?}: {message}"),
                (got, want) => panic!("{value:?}: got {got:?}, want {want:?}"),
            }
        }
    }
}
