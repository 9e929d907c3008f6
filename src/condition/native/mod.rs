//! Pure: evaluates the common shapes of `terminationCondition` natively, with JavaScript's exact semantics, so
//! they never reach the engine: member paths (`$.a.b`, `$['a']`, `$.list[0]`, `.length`), `==` `===` `!=` `!==`
//! `<` `>` `<=` `>=`, `&&` `||` `!`, the conditional operator, unary `-` `+`, `typeof`, literals (`true`, `false`,
//! `null`, `undefined`, `NaN`, `Infinity`, numbers, strings), parentheses, and the tutorial's
//! `(function(){ return ...; })();` wrapper.
//!
//! Where it answers, the answer is certain to be the engine's: every evaluation in the engine starts from pristine
//! built-ins, so a property a JSON object does not own is `undefined` unless `Object.prototype` has it. Anything
//! whose answer depends on more declines (`None`) and the caller runs the engine: reading a property of
//! `undefined`/`null` (a `TypeError`, whose message the engine writes), a name `Object.prototype` or
//! `Array.prototype` has (`constructor`, `toString`, `map`…), properties of numbers and booleans, comparing an object
//! with anything but `null`/`undefined` loosely (it would be converted), comparing two objects (identity), numeric
//! strings in forms other than decimal, and any syntax outside the subset ([`lexer`], [`parser`]).
//!
//! `$` is read in place ([`Dollar`]): JSON bodies are scanned ([`json`]) rather than parsed into a tree.
//!
//! Owns: recognising the subset and answering it. Does not own: `$`'s shape ([`super::dollar`]) or what a result
//! means ([`super::verdict`]).

mod ast;
mod json;
mod lexer;
mod parser;

use std::borrow::Cow;
use std::cell::Cell;

use serde_json::Value;

use super::dollar::{BodyView, Dollar};
use super::verdict::ScriptValue;
use ast::{Compare, Expr, Unary};

/// Longest source (in tokens) handled natively; longer ones go to the engine, which bounds parsing and
/// evaluation depth here.
const MAX_TOKENS: usize = 512;
/// Characters of a string result quoted in an error, as the engine quotes them.
const MAX_QUOTED_CHARS: usize = 60;
/// JSON text one evaluation may scan; past it the condition declines to the engine, whose process has a CPU cap
/// (a condition reading a large body many times must not hold a worker thread).
const MAX_SCANNED_BYTES: usize = 8 << 20;

/// A condition in the native subset, parsed once per task.
#[derive(Debug, Clone, PartialEq)]
pub struct NativeCondition {
    expr: Expr,
}

impl NativeCondition {
    /// Parses `source`; `None` when it is not in the subset (the engine then runs it).
    pub fn parse(source: &str) -> Option<Self> {
        let tokens = lexer::tokens(source)?;
        if tokens.len() > MAX_TOKENS {
            return None;
        }
        parser::parse(&tokens).map(|expr| Self { expr })
    }

    /// The condition's result for this `$`, when it is certain to be the engine's.
    pub fn evaluate(&self, dollar: &Dollar<'_>) -> Option<ScriptValue> {
        let scanned = Cell::new(0);
        Some(match eval(&self.expr, &Scope { dollar, scanned: &scanned })? {
            Val::Undefined => ScriptValue::Undefined,
            Val::Null => ScriptValue::Null,
            Val::Bool(b) => ScriptValue::Bool(b),
            Val::Num(n) => ScriptValue::Number(n),
            Val::Str(s) => ScriptValue::String(s.chars().take(MAX_QUOTED_CHARS).collect()),
            Val::Obj(_) => ScriptValue::Object,
        })
    }
}

/// A JavaScript value the subset can produce.
#[derive(Debug, Clone)]
enum Val<'a> {
    Undefined,
    Null,
    Bool(bool),
    Num(f64),
    Str(Cow<'a, str>),
    Obj(Obj<'a>),
}

/// An object or array somewhere in `$`, not materialized.
#[derive(Debug, Clone, Copy)]
enum Obj<'a> {
    /// `$` itself.
    Dollar,
    /// `$.output`.
    Output,
    /// `$.output.response`.
    Response,
    /// A JSON object or array, as text.
    Text(&'a str),
    /// A JSON object or array in a tree (headers).
    Tree(&'a Value),
    /// The headers map.
    Headers,
}

/// What an evaluation reads, and how much JSON text it has scanned so far.
struct Scope<'s, 'a> {
    dollar: &'s Dollar<'a>,
    scanned: &'s Cell<usize>,
}

impl Scope<'_, '_> {
    /// Counts a scan of `text`; `None` once the evaluation has scanned too much.
    fn scan(&self, text: &str) -> Option<()> {
        let total = self.scanned.get() + text.len();
        self.scanned.set(total);
        (total <= MAX_SCANNED_BYTES).then_some(())
    }
}

fn eval<'a>(expr: &'a Expr, scope: &Scope<'_, 'a>) -> Option<Val<'a>> {
    Some(match expr {
        Expr::Dollar => Val::Obj(Obj::Dollar),
        Expr::Undefined => Val::Undefined,
        Expr::Null => Val::Null,
        Expr::Bool(b) => Val::Bool(*b),
        Expr::Number(n) => Val::Num(*n),
        Expr::Str(s) => Val::Str(Cow::Borrowed(s)),
        Expr::Member(object, name) => get(eval(object, scope)?, name, scope)?,
        Expr::Unary(op, operand) => {
            let value = eval(operand, scope)?;
            match op {
                Unary::Not => Val::Bool(!truthy(&value)),
                Unary::TypeOf => Val::Str(Cow::Borrowed(type_of(&value))),
                Unary::Minus => Val::Num(-to_number(&value)?),
                Unary::Plus => Val::Num(to_number(&value)?),
            }
        }
        Expr::Compare(op, left, right) => Val::Bool(compare(*op, &eval(left, scope)?, &eval(right, scope)?)?),
        Expr::And(left, right) => {
            let left = eval(left, scope)?;
            if truthy(&left) { eval(right, scope)? } else { left }
        }
        Expr::Or(left, right) => {
            let left = eval(left, scope)?;
            if truthy(&left) { left } else { eval(right, scope)? }
        }
        Expr::Conditional(test, then, otherwise) => {
            if truthy(&eval(test, scope)?) {
                eval(then, scope)?
            } else {
                eval(otherwise, scope)?
            }
        }
    })
}

/// Names `Object.prototype` has in a pristine realm: a plain object that does not own one of them inherits it.
const OBJECT_PROTOTYPE_NAMES: [&str; 12] = [
    "constructor",
    "hasOwnProperty",
    "isPrototypeOf",
    "propertyIsEnumerable",
    "toLocaleString",
    "toString",
    "valueOf",
    "__proto__",
    "__defineGetter__",
    "__defineSetter__",
    "__lookupGetter__",
    "__lookupSetter__",
];

/// A property a plain object does not own: `undefined`, unless it is inherited (then the engine answers).
fn missing(name: &str) -> Option<Val<'static>> {
    (!OBJECT_PROTOTYPE_NAMES.contains(&name)).then_some(Val::Undefined)
}

/// `object[name]`.
fn get<'a>(object: Val<'a>, name: &str, scope: &Scope<'_, 'a>) -> Option<Val<'a>> {
    match object {
        Val::Str(s) if name == "length" => Some(Val::Num(s.encode_utf16().count() as f64)),
        Val::Obj(obj) => get_from(obj, name, scope),
        // A TypeError (undefined, null), or a prototype's property (strings, numbers, booleans): the engine says.
        _ => None,
    }
}

fn get_from<'a>(object: Obj<'a>, name: &str, scope: &Scope<'_, 'a>) -> Option<Val<'a>> {
    let dollar = scope.dollar;
    if let Obj::Text(text) = object {
        scope.scan(text)?;
    } else if let (Obj::Dollar, true) = (object, !matches!(name, "input" | "output")) {
        scope.scan(dollar.input.get())?;
    }
    let output = &dollar.output;
    let response = &output.response;
    match object {
        Obj::Dollar => match name {
            "input" => from_text(dollar.input.get()),
            "output" => Some(Val::Obj(Obj::Output)),
            _ if dollar.input.get().starts_with('{') => match json::member(dollar.input.get(), name)? {
                Some(raw) => from_text(raw),
                None => missing(name),
            },
            _ => missing(name),
        },
        Obj::Output => match name {
            "response" => Some(Val::Obj(Obj::Response)),
            "pollCount" => Some(Val::Num(f64::from(output.poll_count))),
            "status" => Some(Val::Num(f64::from(response.status))),
            _ => missing(name),
        },
        Obj::Response => match name {
            "statusCode" => Some(Val::Num(f64::from(response.status))),
            "reasonPhrase" => Some(Val::Str(Cow::Borrowed(response.reason))),
            "headers" => Some(Val::Obj(Obj::Headers)),
            "body" => match response.body {
                BodyView::Null => Some(Val::Null),
                BodyView::Text(text) => Some(Val::Str(Cow::Borrowed(text))),
                BodyView::Json(raw) => from_text(raw.get()),
            },
            _ => missing(name),
        },
        Obj::Headers => match response.headers.get(name) {
            Some(value) => from_tree(value),
            None => missing(name),
        },
        Obj::Text(text) if text.starts_with('[') => match array_key(name)? {
            ArrayKey::Length => Some(Val::Num(json::length(text)? as f64)),
            ArrayKey::Index(index) => json::element(text, index)?.map_or(Some(Val::Undefined), from_text),
        },
        Obj::Text(text) => match json::member(text, name)? {
            Some(raw) => from_text(raw),
            None => missing(name),
        },
        Obj::Tree(Value::Array(items)) => match array_key(name)? {
            ArrayKey::Length => Some(Val::Num(items.len() as f64)),
            ArrayKey::Index(index) => items.get(index).map_or(Some(Val::Undefined), from_tree),
        },
        Obj::Tree(Value::Object(map)) => match map.get(name) {
            Some(value) => from_tree(value),
            None => missing(name),
        },
        Obj::Tree(_) => None,
    }
}

/// A property of an array the subset reads.
enum ArrayKey {
    Length,
    Index(usize),
}

/// `length` and canonical indices (`0`, `12`; not `01`, not 2^32 − 1); other names are `Array.prototype`'s
/// business (the engine's). An index past the end is `undefined`: a pristine prototype has no index properties.
fn array_key(name: &str) -> Option<ArrayKey> {
    if name == "length" {
        return Some(ArrayKey::Length);
    }
    let canonical = name == "0" || (!name.starts_with('0') && name.bytes().all(|b| b.is_ascii_digit()));
    let index: u32 = name.parse().ok().filter(|_| canonical)?;
    (index != u32::MAX).then_some(ArrayKey::Index(index as usize))
}

/// A value from JSON text.
fn from_text(raw: &str) -> Option<Val<'_>> {
    Some(match raw.as_bytes().first()? {
        b'{' | b'[' => Val::Obj(Obj::Text(raw)),
        b'"' => Val::Str(json::string(raw)?),
        b't' => Val::Bool(true),
        b'f' => Val::Bool(false),
        b'n' => Val::Null,
        // JSON numbers are a subset of Rust's float syntax; both round correctly.
        _ => Val::Num(raw.parse().ok()?),
    })
}

/// A value from a tree node.
fn from_tree(value: &Value) -> Option<Val<'_>> {
    Some(match value {
        Value::Null => Val::Null,
        Value::Bool(b) => Val::Bool(*b),
        Value::Number(n) => Val::Num(n.as_f64()?),
        Value::String(s) => Val::Str(Cow::Borrowed(s)),
        Value::Array(_) | Value::Object(_) => Val::Obj(Obj::Tree(value)),
    })
}

mod semantics;
use semantics::{compare, to_number, truthy, type_of};

#[cfg(test)]
mod tests;
