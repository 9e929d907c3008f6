//! Pure: a native fast path for the most common `terminationCondition` shape, `$.a.b.c == 'literal'` (also `===`,
//! `!=`, `!==`, double quotes, an optional trailing `;`), so that it needs no trip to an evaluator thread.
//!
//! It answers only where the answer is certain to equal the script's in boa: every step of the path must be a JSON
//! object that holds the key as its own property (JSON objects become plain objects, so an own property shadows
//! anything on `Object.prototype`), and the value reached must be a string or null, or for the strict operators any
//! JSON value. Anything else returns `None` and the caller runs the script as before: a missing key (`undefined`, or
//! a property inherited from the prototype, or a `TypeError` one step further), a step through an array or a
//! string, a number or boolean compared loosely (`5 == '5'` is true), an object compared loosely (`['x'] == 'x'` is
//! true), a literal with escapes or quotes, unusual whitespace, comments, or any other syntax.
//!
//! Owns: recognising the shape and answering it. Does not own: building `$` (the executor does), or evaluating
//! anything else (the boa [`pool`](super::pool)).

use serde_json::Value;

use super::Verdict;

/// A parsed `$.path OP 'literal'` condition, borrowing its source (nothing is allocated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FastCondition<'a> {
    /// The property names after `$`, at least one, joined by `.`.
    path: &'a str,
    /// `===` / `!==`.
    strict: bool,
    /// `!=` / `!==`.
    negated: bool,
    /// The string literal's value (it has no escapes, so it is its own source text).
    literal: &'a str,
}

/// Whitespace and line terminators that JavaScript skips between tokens (ASCII only: anything else declines).
fn is_js_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{000B}' | '\u{000C}')
}

/// An ASCII JavaScript identifier name; `__proto__` is excluded (it is an accessor on `Object.prototype`).
fn is_plain_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
        && name != "__proto__"
}

impl<'a> FastCondition<'a> {
    /// Parses the shape; `None` for anything else (which boa then runs).
    pub fn parse(source: &'a str) -> Option<Self> {
        let source = source.trim_matches(is_js_space);
        let source = source.strip_suffix(';').unwrap_or(source).trim_end_matches(is_js_space);
        let rest = source.strip_prefix("$.")?;
        let path_len =
            rest.find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.'))).unwrap_or(rest.len());
        let (path, rest) = rest.split_at(path_len);
        if !path.split('.').all(is_plain_name) {
            return None;
        }
        let rest = rest.trim_start_matches(is_js_space);
        let (strict, negated, rest) =
            [("===", true, false), ("!==", true, true), ("==", false, false), ("!=", false, true)]
                .into_iter()
                .find_map(|(op, strict, negated)| rest.strip_prefix(op).map(|rest| (strict, negated, rest)))?;
        let rest = rest.trim_start_matches(is_js_space);
        let quote = rest.chars().next().filter(|c| matches!(c, '\'' | '"'))?;
        let literal = rest[1..].strip_suffix(quote)?;
        if literal.contains(['\\', '\'', '"', '\n', '\r', '\u{2028}', '\u{2029}']) {
            return None;
        }
        Some(Self { path, strict, negated, literal })
    }

    /// The first property name after `$` (`output` in `$.output.response.body.state`).
    pub fn root(&self) -> &'a str {
        self.path.split('.').next().unwrap_or_default()
    }

    /// The verdict, when it is certain to equal the script's; `root` is `$[self.root()]`, `None` when `$` has no
    /// such own property.
    pub fn evaluate(&self, root: Option<&Value>) -> Option<Verdict> {
        let mut value = root?;
        for name in self.path.split('.').skip(1) {
            value = value.as_object()?.get(name)?;
        }
        let equal = match value {
            Value::String(s) => s == self.literal,
            Value::Null => false,
            _ if self.strict => false,
            // Loose comparison of a number, boolean, array or object with a string converts it first: boa decides.
            _ => return None,
        };
        Some(if equal != self.negated { Verdict::Holds } else { Verdict::NotYet })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_the_common_shapes_and_nothing_else() {
        fn parsed(source: &str) -> Option<(&str, bool, bool, &str)> {
            FastCondition::parse(source).map(|c| (c.path, c.strict, c.negated, c.literal))
        }
        let yes = |path, strict, negated, literal| Some((path, strict, negated, literal));
        let cases = [
            ("$.output.response.body.state == 'DONE'", yes("output.response.body.state", false, false, "DONE")),
            ("  $.a.b === \"x y\" ;\n", yes("a.b", true, false, "x y")),
            ("$.a!='x'", yes("a", false, true, "x")),
            ("$.a\n!==\n'x';", yes("a", true, true, "x")),
            ("$.$a._b.c1 == ''", yes("$a._b.c1", false, false, "")),
            ("$.a == 'é ü'", yes("a", false, false, "é ü")),
            ("$.a == 1", None),
            ("$.a == true", None),
            ("$.a['b'] == 'x'", None),
            ("$.a[0] == 'x'", None),
            ("$.a.length > 1", None),
            ("$.a == 'x' && $.b == 'y'", None),
            ("$.a == 'x' || true", None),
            ("$.a == 'x';;", None),
            ("$.a == 'x' // done?", None),
            ("a == 'x'", None),
            ("$ == 'x'", None),
            ("$.a. b == 'x'", None),
            ("$.a..b == 'x'", None),
            ("$.a. == 'x'", None),
            ("$.1a == 'x'", None),
            ("$.__proto__ == 'x'", None),
            ("$.a.__proto__.b == 'x'", None),
            ("$.a == 'it''s'", None),
            ("$.a == 'it\\'s'", None),
            ("$.a == 'a\\u0041'", None),
            ("$.a == \"it's\"", None),
            ("$.a == 'x\"", None),
            ("$.a == 'x", None),
            ("$.a = 'x'", None),
            ("$.a ==== 'x'", None),
            ("$.a == `x`", None),
            ("$.ä == 'x'", None),
            ("\u{FEFF}$.a == 'x'", None),
            ("$.a == 'x'\u{85}", None),
            ("$.a == 'line\u{2028}sep'", None),
            ("return $.a == 'x'", None),
            ("", None),
        ];
        for (source, want) in cases {
            assert_eq!(parsed(source), want, "{source:?}");
        }
    }

    #[test]
    fn answers_only_when_certain_to_equal_javascript() {
        let loose = FastCondition::parse("$.output.body.state == 'DONE'").unwrap();
        let strict = FastCondition::parse("$.output.body.state === 'DONE'").unwrap();
        let not_loose = FastCondition::parse("$.output.body.state != 'DONE'").unwrap();
        let not_strict = FastCondition::parse("$.output.body.state !== 'DONE'").unwrap();
        let state = |state: Value| json!({"body": {"state": state}});
        let (holds, not_yet) = (Some(Verdict::Holds), Some(Verdict::NotYet));
        // (output, ==, ===, !=, !==)
        let cases = [
            (state(json!("DONE")), holds, holds, not_yet, not_yet),
            (state(json!("RUNNING")), not_yet, not_yet, holds, holds),
            (state(json!("done")), not_yet, not_yet, holds, holds),
            (state(json!("DONE ")), not_yet, not_yet, holds, holds),
            (state(json!(null)), not_yet, not_yet, holds, holds),
            (state(json!(5)), None, not_yet, None, holds),
            (state(json!(0)), None, not_yet, None, holds),
            (state(json!(true)), None, not_yet, None, holds),
            (state(json!(["DONE"])), None, not_yet, None, holds),
            (state(json!({"toString": "DONE"})), None, not_yet, None, holds),
            (json!({"body": {}}), None, None, None, None),
            (json!({"body": {"other": "DONE"}}), None, None, None, None),
            (json!({"body": "{\"state\":\"DONE\"}"}), None, None, None, None),
            (json!({"body": ["DONE"]}), None, None, None, None),
            (json!({"body": null}), None, None, None, None),
            (json!({"body": 3}), None, None, None, None),
            (json!("text"), None, None, None, None),
        ];
        for (output, want_loose, want_strict, want_not_loose, want_not_strict) in cases {
            let got = [&loose, &strict, &not_loose, &not_strict].map(|c| c.evaluate(Some(&output)));
            assert_eq!(got, [want_loose, want_strict, want_not_loose, want_not_strict], "{output}");
        }
        assert_eq!(loose.root(), "output");
        assert_eq!(loose.evaluate(None), None, "no such root property: boa decides");
        let one_step = FastCondition::parse("$.status == 'ok'").unwrap();
        assert_eq!(one_step.evaluate(Some(&json!("ok"))), holds);
        assert_eq!(one_step.evaluate(Some(&json!(200))), None);
    }
}
