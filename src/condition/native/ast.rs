//! The native subset's syntax tree: what [`super::parser`] builds and [`super`] evaluates.

/// An expression of the subset.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Expr {
    /// `$`.
    Dollar,
    /// `undefined`.
    Undefined,
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A number literal, `NaN` or `Infinity`.
    Number(f64),
    /// A string literal.
    Str(Box<str>),
    /// `object.name`, `object['name']`, `object[0]` (the key as the property name it converts to).
    Member(Box<Expr>, Box<str>),
    /// A unary operator.
    Unary(Unary, Box<Expr>),
    /// A comparison.
    Compare(Compare, Box<Expr>, Box<Expr>),
    /// `a && b`.
    And(Box<Expr>, Box<Expr>),
    /// `a || b`.
    Or(Box<Expr>, Box<Expr>),
    /// `a ? b : c`.
    Conditional(Box<Expr>, Box<Expr>, Box<Expr>),
}

/// Unary operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Unary {
    /// `!`
    Not,
    /// `typeof`
    TypeOf,
    /// `-`
    Minus,
    /// `+`
    Plus,
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Compare {
    /// `==`
    LooseEq,
    /// `!=`
    LooseNe,
    /// `===`
    StrictEq,
    /// `!==`
    StrictNe,
    /// `<`
    Lt,
    /// `>`
    Gt,
    /// `<=`
    Le,
    /// `>=`
    Ge,
}
