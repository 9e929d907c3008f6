//! JavaScript's value semantics as the native subset needs them: truthiness, `typeof`, number conversion, and
//! the comparisons (`===`, `==`, `<` and friends) with JavaScript's coercions, or `None` where the native path
//! does not answer and the engine must.

use super::*;

pub(super) fn truthy(value: &Val<'_>) -> bool {
    match value {
        Val::Undefined | Val::Null => false,
        Val::Bool(b) => *b,
        Val::Num(n) => *n != 0.0 && !n.is_nan(),
        Val::Str(s) => !s.is_empty(),
        Val::Obj(_) => true,
    }
}

pub(super) fn type_of(value: &Val<'_>) -> &'static str {
    match value {
        Val::Undefined => "undefined",
        Val::Null | Val::Obj(_) => "object",
        Val::Bool(_) => "boolean",
        Val::Num(_) => "number",
        Val::Str(_) => "string",
    }
}

/// ToNumber, where it needs no conversion of an object.
pub(super) fn to_number(value: &Val<'_>) -> Option<f64> {
    match value {
        Val::Undefined => Some(f64::NAN),
        Val::Null => Some(0.0),
        Val::Bool(b) => Some(f64::from(u8::from(*b))),
        Val::Num(n) => Some(*n),
        Val::Str(s) => string_to_number(s),
        Val::Obj(_) => None,
    }
}

/// StringToNumber for decimal forms; hex/octal/binary literals and non-ASCII white space at the ends decline.
fn string_to_number(text: &str) -> Option<f64> {
    let trimmed = text.trim_matches(|c: char| matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{000B}' | '\u{000C}'));
    if trimmed.starts_with(|c: char| !c.is_ascii()) || trimmed.ends_with(|c: char| !c.is_ascii()) {
        return None;
    }
    let unsigned = trimmed.strip_prefix(['+', '-']).unwrap_or(trimmed);
    if trimmed.is_empty() {
        return Some(0.0);
    }
    if unsigned == "Infinity" {
        return Some(if trimmed.starts_with('-') { f64::NEG_INFINITY } else { f64::INFINITY });
    }
    if ["0x", "0X", "0o", "0O", "0b", "0B"].iter().any(|p| trimmed.starts_with(p)) {
        return None;
    }
    Some(if is_decimal(unsigned) { trimmed.parse().ok()? } else { f64::NAN })
}

/// `digits [. digits] [e [+-] digits]` or `. digits [e ...]`, at least one digit in the mantissa.
fn is_decimal(text: &str) -> bool {
    let bytes = text.as_bytes();
    let digits = |from: usize| bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int = digits(0);
    let mut at = int;
    let mut fraction = 0;
    if bytes.get(at) == Some(&b'.') {
        fraction = digits(at + 1);
        at += 1 + fraction;
    }
    if int + fraction == 0 {
        return false;
    }
    if matches!(bytes.get(at), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(at + 1), Some(b'+' | b'-')));
        let exponent = digits(at + 1 + sign);
        if exponent == 0 {
            return false;
        }
        at += 1 + sign + exponent;
    }
    at == bytes.len()
}

pub(super) fn compare(op: Compare, left: &Val<'_>, right: &Val<'_>) -> Option<bool> {
    match op {
        Compare::StrictEq => strict_equals(left, right),
        Compare::StrictNe => strict_equals(left, right).map(|eq| !eq),
        Compare::LooseEq => loose_equals(left, right),
        Compare::LooseNe => loose_equals(left, right).map(|eq| !eq),
        // `a > b` is `b < a`; `a <= b` is `!(b < a)` and `a >= b` is `!(a < b)`, an undefined result (NaN) false.
        Compare::Lt => less_than(left, right).map(|r| r == Some(true)),
        Compare::Gt => less_than(right, left).map(|r| r == Some(true)),
        Compare::Le => less_than(right, left).map(|r| r == Some(false)),
        Compare::Ge => less_than(left, right).map(|r| r == Some(false)),
    }
}

/// IsStrictlyEqual; two objects compare by identity, which the engine decides.
fn strict_equals(left: &Val<'_>, right: &Val<'_>) -> Option<bool> {
    Some(match (left, right) {
        (Val::Undefined, Val::Undefined) | (Val::Null, Val::Null) => true,
        (Val::Bool(a), Val::Bool(b)) => a == b,
        (Val::Num(a), Val::Num(b)) => a == b,
        (Val::Str(a), Val::Str(b)) => a == b,
        (Val::Obj(_), Val::Obj(_)) => return None,
        _ => false,
    })
}

/// IsLooselyEqual, without converting objects.
fn loose_equals(left: &Val<'_>, right: &Val<'_>) -> Option<bool> {
    match (left, right) {
        (Val::Undefined | Val::Null, Val::Undefined | Val::Null) => Some(true),
        (Val::Undefined | Val::Null, _) | (_, Val::Undefined | Val::Null) => Some(false),
        (Val::Num(a), Val::Str(s)) | (Val::Str(s), Val::Num(a)) => Some(*a == string_to_number(s)?),
        (Val::Bool(b), other) | (other, Val::Bool(b)) => {
            let number = Val::Num(f64::from(u8::from(*b)));
            if matches!(other, Val::Bool(_)) { strict_equals(left, right) } else { loose_equals(&number, other) }
        }
        // Same types compare strictly (two objects by identity: the engine's call); an object against a number or
        // string is converted first: the engine's call too.
        (Val::Obj(_), _) | (_, Val::Obj(_)) => None,
        _ => strict_equals(left, right),
    }
}

/// IsLessThan: `Some(None)` for an undefined result (a NaN); objects decline.
fn less_than(left: &Val<'_>, right: &Val<'_>) -> Option<Option<bool>> {
    if let (Val::Str(a), Val::Str(b)) = (left, right) {
        return Some(Some(a.encode_utf16().lt(b.encode_utf16())));
    }
    let (a, b) = (to_number(left)?, to_number(right)?);
    Some(if a.is_nan() || b.is_nan() { None } else { Some(a < b) })
}
