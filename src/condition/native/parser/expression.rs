//! Pure: the expression grammar of the native subset, by JavaScript's precedence from the conditional operator
//! down to member access and literals, with a nesting limit.
//!
//! Owns: one expression. Does not own: the statement around it or the function wrapper (the parent module), or what
//! an expression evaluates to (`semantics`).

use super::super::ast::{Compare, Expr, Unary};
use super::super::lexer::Kind;
use super::Parser;

/// Most nesting accepted: deeper expressions go to the engine (and no recursion here can overflow the stack).
const MAX_DEPTH: usize = 64;

impl Parser<'_> {
    pub(super) fn expression(&mut self) -> Option<Expr> {
        self.assignment()
    }

    /// The conditional operator, right-associative (the subset has no assignment).
    pub(super) fn assignment(&mut self) -> Option<Expr> {
        self.nest()?;
        let test = self.or()?;
        let expr = if self.eat("?") {
            let then = self.assignment()?;
            self.expect(":")?;
            let otherwise = self.assignment()?;
            Expr::Conditional(Box::new(test), Box::new(then), Box::new(otherwise))
        } else {
            test
        };
        self.depth -= 1;
        Some(expr)
    }

    fn nest(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    fn or(&mut self) -> Option<Expr> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Expr::Or(Box::new(left), Box::new(self.and()?));
        }
        Some(left)
    }

    fn and(&mut self) -> Option<Expr> {
        let mut left = self.equality()?;
        while self.eat("&&") {
            left = Expr::And(Box::new(left), Box::new(self.equality()?));
        }
        Some(left)
    }

    fn equality(&mut self) -> Option<Expr> {
        let mut left = self.relational()?;
        loop {
            let op = match self.peek_punct() {
                Some("==") => Compare::LooseEq,
                Some("!=") => Compare::LooseNe,
                Some("===") => Compare::StrictEq,
                Some("!==") => Compare::StrictNe,
                _ => return Some(left),
            };
            self.at += 1;
            left = Expr::Compare(op, Box::new(left), Box::new(self.relational()?));
        }
    }

    fn relational(&mut self) -> Option<Expr> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek_punct() {
                Some("<") => Compare::Lt,
                Some(">") => Compare::Gt,
                Some("<=") => Compare::Le,
                Some(">=") => Compare::Ge,
                _ => return Some(left),
            };
            self.at += 1;
            left = Expr::Compare(op, Box::new(left), Box::new(self.unary()?));
        }
    }

    fn unary(&mut self) -> Option<Expr> {
        let op = match self.peek() {
            Some(Kind::Punct("!")) => Unary::Not,
            Some(Kind::Punct("-")) => Unary::Minus,
            Some(Kind::Punct("+")) => Unary::Plus,
            Some(Kind::Name(name)) if name == "typeof" => Unary::TypeOf,
            _ => return self.member(),
        };
        self.at += 1;
        self.nest()?;
        let operand = self.unary()?;
        self.depth -= 1;
        Some(Expr::Unary(op, Box::new(operand)))
    }

    fn member(&mut self) -> Option<Expr> {
        let mut object = self.primary()?;
        loop {
            if self.eat(".") {
                let Some(Kind::Name(name)) = self.peek() else { return None };
                object = Expr::Member(Box::new(object), name.as_str().into());
                self.at += 1;
            } else if self.eat("[") {
                let key: Box<str> = match self.peek() {
                    Some(Kind::Str(key)) => key.as_str().into(),
                    Some(Kind::Number(n)) => array_index_name(*n)?,
                    _ => return None,
                };
                self.at += 1;
                self.expect("]")?;
                object = Expr::Member(Box::new(object), key);
            } else {
                return Some(object);
            }
        }
    }

    fn primary(&mut self) -> Option<Expr> {
        let expr = match self.peek()? {
            Kind::Number(n) => Expr::Number(*n),
            Kind::Str(s) => Expr::Str(s.as_str().into()),
            Kind::Name(name) => match name.as_str() {
                "$" => Expr::Dollar,
                "true" => Expr::Bool(true),
                "false" => Expr::Bool(false),
                "null" => Expr::Null,
                // Non-writable, non-configurable properties of the global object: their values are certain.
                "undefined" => Expr::Undefined,
                "NaN" => Expr::Number(f64::NAN),
                "Infinity" => Expr::Number(f64::INFINITY),
                _ => return None,
            },
            Kind::Punct("(") => {
                self.at += 1;
                let inner = self.expression()?;
                self.expect(")")?;
                return Some(inner);
            }
            Kind::Punct(_) => return None,
        };
        self.at += 1;
        Some(expr)
    }
}

/// The property name a number key converts to, for the integers whose conversion is plain (`0` … `4294967294`).
fn array_index_name(n: f64) -> Option<Box<str>> {
    (n >= 0.0 && n.fract() == 0.0 && n < 4_294_967_295.0).then(|| (n as u64).to_string().into())
}
