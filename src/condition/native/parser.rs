//! Pure: parses the native subset's tokens into an [`Expr`], with JavaScript's precedence. The whole condition
//! must be one expression statement, or the tutorial's wrapper around one returned expression:
//! `(function(){ return EXPR; })();` (also `}())`, a named function, and `(() => EXPR)()` or
//! `(() => { return EXPR; })()`). Anything else returns `None`. This module reads the statement and its wrapper;
//! [`expression`] is the expression grammar inside.

mod expression;

use super::ast::Expr;
use super::lexer::{Kind, Token};

/// Parses a whole condition.
pub(super) fn parse(tokens: &[Token]) -> Option<Expr> {
    let mut parser = Parser { tokens, at: 0, depth: 0 };
    let expr = parser.wrapped().or_else(|| {
        parser.at = 0;
        parser.depth = 0;
        parser.expression()
    })?;
    parser.eat(";");
    (parser.at == tokens.len()).then_some(expr)
}

struct Parser<'t> {
    tokens: &'t [Token],
    at: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Kind> {
        self.tokens.get(self.at).map(|t| &t.kind)
    }

    fn peek_punct(&self) -> Option<&'static str> {
        match self.peek() {
            Some(Kind::Punct(p)) => Some(p),
            _ => None,
        }
    }

    fn eat(&mut self, punct: &str) -> bool {
        let found = self.peek_punct() == Some(punct);
        self.at += usize::from(found);
        found
    }

    fn expect(&mut self, punct: &str) -> Option<()> {
        self.eat(punct).then_some(())
    }

    fn eat_name(&mut self, name: &str) -> bool {
        let found = matches!(self.peek(), Some(Kind::Name(n)) if n == name);
        self.at += usize::from(found);
        found
    }

    fn newline_before_current(&self) -> bool {
        self.tokens.get(self.at).is_some_and(|t| t.newline_before)
    }

    /// `(function [name]() { return E [;] })()`, `(function () {...}())`, `(() => E)()`, `(() => { return E })()`.
    fn wrapped(&mut self) -> Option<Expr> {
        self.expect("(")?;
        let expr = if self.eat_name("function") {
            // A function named `$` would make `$` inside it the function itself.
            if let Some(Kind::Name(name)) = self.peek() {
                if name == "$" || is_reserved(name) {
                    return None;
                }
                self.at += 1;
            }
            self.expect("(")?;
            self.expect(")")?;
            let expr = self.returning_body()?;
            if self.eat("(") {
                // `(function(){...}())`
                self.expect(")")?;
                self.expect(")")?;
                return Some(expr);
            }
            expr
        } else {
            self.expect("(")?;
            self.expect(")")?;
            if self.newline_before_current() {
                return None; // a line break before `=>` is a syntax error
            }
            self.expect("=>")?;
            if self.peek_punct() == Some("{") { self.returning_body()? } else { self.assignment()? }
        };
        self.expect(")")?;
        self.expect("(")?;
        self.expect(")")?;
        Some(expr)
    }

    /// `{ return E [;] }`; `return` followed by a line break returns undefined (automatic semicolon insertion), which
    /// the engine handles.
    fn returning_body(&mut self) -> Option<Expr> {
        self.expect("{")?;
        if !self.eat_name("return") || self.newline_before_current() {
            return None;
        }
        let expr = self.expression()?;
        self.eat(";");
        self.expect("}")?;
        Some(expr)
    }
}

/// Names that cannot name a function expression.
fn is_reserved(name: &str) -> bool {
    matches!(
        name,
        "break"
            | "case"
            | "catch"
            | "class"
            | "const"
            | "continue"
            | "debugger"
            | "default"
            | "delete"
            | "do"
            | "else"
            | "enum"
            | "export"
            | "extends"
            | "false"
            | "finally"
            | "for"
            | "function"
            | "if"
            | "import"
            | "in"
            | "instanceof"
            | "new"
            | "null"
            | "return"
            | "super"
            | "switch"
            | "this"
            | "throw"
            | "true"
            | "try"
            | "typeof"
            | "var"
            | "void"
            | "while"
            | "with"
            | "yield"
            | "let"
            | "static"
            | "await"
            | "arguments"
            | "eval"
            | "implements"
            | "interface"
            | "package"
            | "private"
            | "protected"
            | "public"
    )
}

#[cfg(test)]
mod tests {
    use super::super::ast::{Compare, Unary};
    use super::super::lexer::tokens;
    use super::*;

    fn parsed(source: &str) -> Option<Expr> {
        parse(&tokens(source)?)
    }

    fn member(path: &[&str]) -> Expr {
        path.iter().fold(Expr::Dollar, |object, name| Expr::Member(Box::new(object), (*name).into()))
    }

    #[test]
    fn precedence_follows_javascript() {
        let a = || Box::new(member(&["a"]));
        let b = || Box::new(member(&["b"]));
        let c = || Box::new(member(&["c"]));
        assert_eq!(parsed("$.a || $.b && $.c"), Some(Expr::Or(a(), Box::new(Expr::And(b(), c())))));
        assert_eq!(
            parsed("$.a == $.b < $.c"),
            Some(Expr::Compare(Compare::LooseEq, a(), Box::new(Expr::Compare(Compare::Lt, b(), c()))))
        );
        assert_eq!(
            parsed("!$.a == $.b"),
            Some(Expr::Compare(Compare::LooseEq, Box::new(Expr::Unary(Unary::Not, a())), b()))
        );
        assert_eq!(
            parsed("$.a || $.b ? $.c : 1"),
            Some(Expr::Conditional(Box::new(Expr::Or(a(), b())), c(), Box::new(Expr::Number(1.0))))
        );
        assert_eq!(
            parsed("$.a ? 1 : $.b ? 2 : 3"),
            Some(Expr::Conditional(
                a(),
                Box::new(Expr::Number(1.0)),
                Box::new(Expr::Conditional(b(), Box::new(Expr::Number(2.0)), Box::new(Expr::Number(3.0))))
            ))
        );
        assert_eq!(parsed("$['a'][0].b"), Some(member(&["a", "0", "b"])));
        assert_eq!(parsed("typeof $.a"), Some(Expr::Unary(Unary::TypeOf, a())));
    }

    #[test]
    fn wrappers() {
        let want = Some(Expr::Compare(Compare::LooseEq, Box::new(member(&["s"])), Box::new(Expr::Str("x".into()))));
        for source in [
            "$.s == 'x'",
            "$.s == 'x';",
            "($.s == 'x')",
            "(function(){ return $.s == 'x'; })();",
            "(function () {\n  return $.s == 'x'\n})()",
            "(function check(){ return $.s == 'x'; }())",
            "(() => $.s == 'x')()",
            "(() => { return $.s == 'x'; })();",
        ] {
            assert_eq!(parsed(source), want, "{source:?}");
        }
    }

    #[test]
    fn declines_what_it_cannot_be_sure_of() {
        for source in [
            "(function(){ return\n$.s == 'x'; })()",
            "(function $(){ return $.s; })()",
            "(function(){ var x = 1; return $.s; })()",
            "(function(x){ return $.s; })(1)",
            "(()\n=> $.s)()",
            "(function(){ return $.s; })",
            "$.s == 'x';;",
            "$.s; $.t",
            "a == 1",
            "$.s.length()",
            "$[$.k]",
            "$[1.5]",
            "$[-1]",
            "{ $.s }",
            "",
            ";",
            "$.",
            "$.s ==",
            "($.s",
            "$.s == 'x' ? 1",
        ] {
            assert_eq!(parsed(source), None, "{source:?}");
        }
        let deep = "(".repeat(200) + "$" + &")".repeat(200);
        assert_eq!(parsed(&deep), None, "too deep");
        let deep_not = "!".repeat(200) + "$";
        assert_eq!(parsed(&deep_not), None, "too deep");
    }
}
