//! Pure: splits a condition's source into the tokens of the native subset. Anything outside the subset (other
//! identifiers, regular expressions, templates, comments, non-ASCII names, numeric forms other than decimal) makes
//! [`tokens`] return `None`, and the condition goes to the engine.

/// One token. `newline_before` matters for automatic semicolon insertion after `return` and before `=>`.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Token {
    pub kind: Kind,
    /// A line terminator came between the previous token and this one.
    pub newline_before: bool,
}

/// Token kinds.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Kind {
    /// An identifier or keyword (ASCII `[A-Za-z_$][A-Za-z0-9_$]*`).
    Name(String),
    /// A numeric literal's value.
    Number(f64),
    /// A string literal's value.
    Str(String),
    /// Punctuation and operators.
    Punct(&'static str),
}

/// Operators and punctuation, longest first so that `===` wins over `==`.
const PUNCTUATORS: [&str; 22] = [
    "===", "!==", "==", "!=", "<=", ">=", "&&", "||", "=>", "(", ")", "{", "}", "[", "]", ".", ";", "?", ":", "!", "<",
    ">",
];
/// Unary signs, kept apart so that `--`/`++` (not in the subset) are refused rather than read as two signs.
const SIGNS: [&str; 2] = ["-", "+"];

/// JavaScript white space and line terminators in ASCII, plus the non-ASCII ones (which decline: they are rare and
/// their exact set is the engine's business).
fn is_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{000B}' | '\u{000C}')
}
fn is_line_terminator(c: char) -> bool {
    matches!(c, '\n' | '\r')
}

/// The tokens of `source`, or `None` when it holds anything outside the subset.
pub(super) fn tokens(source: &str) -> Option<Vec<Token>> {
    let mut out = Vec::new();
    let mut rest = source;
    let mut newline_before = false;
    while let Some(c) = rest.chars().next() {
        if is_space(c) {
            rest = &rest[1..];
            continue;
        }
        if is_line_terminator(c) {
            newline_before = true;
            rest = &rest[1..];
            continue;
        }
        let (kind, len) = if c.is_ascii_alphabetic() || c == '_' || c == '$' {
            let len = rest.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '$')).unwrap_or(rest.len());
            // A name running into a non-ASCII character or an escape would be a different identifier: decline.
            if rest[len..].starts_with(|c: char| !c.is_ascii() || c == '\\') {
                return None;
            }
            (Kind::Name(rest[..len].to_owned()), len)
        } else if c.is_ascii_digit() || (c == '.' && rest[1..].starts_with(|c: char| c.is_ascii_digit())) {
            number(rest)?
        } else if c == '\'' || c == '"' {
            string(rest, c)?
        } else if ["//", "/*", "??", "?."].iter().any(|p| rest.starts_with(p)) {
            return None; // comments, nullish coalescing, optional chaining
        } else if let Some(p) = PUNCTUATORS.iter().find(|p| rest.starts_with(**p)) {
            (Kind::Punct(p), p.len())
        } else if let Some(sign) = SIGNS.iter().find(|s| rest.starts_with(**s)) {
            if rest[1..].starts_with(['-', '+', '=']) {
                return None; // `--`, `++`, `-=`, `+=`
            }
            (Kind::Punct(sign), 1)
        } else {
            return None;
        };
        out.push(Token { kind, newline_before });
        newline_before = false;
        rest = &rest[len..];
    }
    Some(out)
}

/// A decimal literal: digits, an optional fraction and exponent. Legacy octal (`010`), separators (`1_000`),
/// BigInt (`1n`), hex/octal/binary prefixes and a name right after the number (`3in`) decline.
fn number(text: &str) -> Option<(Kind, usize)> {
    let bytes = text.as_bytes();
    let digits = |from: usize| from + bytes[from..].iter().take_while(|b| b.is_ascii_digit()).count();
    let int_end = digits(0);
    if int_end > 1 && bytes[0] == b'0' {
        return None;
    }
    let mut end = int_end;
    if bytes.get(end) == Some(&b'.') {
        end = digits(end + 1);
    }
    if matches!(bytes.get(end), Some(b'e' | b'E')) {
        let sign = usize::from(matches!(bytes.get(end + 1), Some(b'+' | b'-')));
        let exp_end = digits(end + 1 + sign);
        if exp_end == end + 1 + sign {
            return None;
        }
        end = exp_end;
    }
    if bytes.get(end).is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'$' | b'.')) {
        return None;
    }
    // Rust's parser rounds correctly, as JavaScript requires.
    let value: f64 = text[..end].parse().ok()?;
    Some((Kind::Number(value), end))
}

/// A string literal with the common escapes; line continuations, legacy octal escapes and unpaired surrogates
/// decline.
fn string(text: &str, quote: char) -> Option<(Kind, usize)> {
    let mut value = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((at, c)) = chars.next() {
        match c {
            c if c == quote => return Some((Kind::Str(value), at + 1)),
            '\n' | '\r' => return None,
            '\\' => {
                let (_, escaped) = chars.next()?;
                let decoded = match escaped {
                    'n' => '\n',
                    't' => '\t',
                    'r' => '\r',
                    'b' => '\u{8}',
                    'f' => '\u{c}',
                    'v' => '\u{b}',
                    '0' if !text[at + 2..].starts_with(|c: char| c.is_ascii_digit()) => '\0',
                    '\'' | '"' | '\\' => escaped,
                    'x' => hex_char(&mut chars, 2)?,
                    'u' => hex_char(&mut chars, 4)?,
                    _ => return None,
                };
                value.push(decoded);
            }
            c => value.push(c),
        }
    }
    None
}

/// `count` hex digits as a character; surrogates decline (a pair would need joining, a lone one has no `char`).
fn hex_char(chars: &mut impl Iterator<Item = (usize, char)>, count: usize) -> Option<char> {
    let mut code = 0u32;
    for _ in 0..count {
        code = code * 16 + chars.next()?.1.to_digit(16)?;
    }
    char::from_u32(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(source: &str) -> Option<Vec<Kind>> {
        tokens(source).map(|t| t.into_iter().map(|t| t.kind).collect())
    }

    #[test]
    fn reads_the_subset() {
        use Kind::*;
        assert_eq!(
            kinds("$.a.b === 'x\\'y' && !($.n>=1.5e3)"),
            Some(vec![
                Name("$".into()),
                Punct("."),
                Name("a".into()),
                Punct("."),
                Name("b".into()),
                Punct("==="),
                Str("x'y".into()),
                Punct("&&"),
                Punct("!"),
                Punct("("),
                Name("$".into()),
                Punct("."),
                Name("n".into()),
                Punct(">="),
                Number(1500.0),
                Punct(")"),
            ])
        );
        assert_eq!(kinds(".5"), Some(vec![Number(0.5)]));
        assert_eq!(kinds("5."), Some(vec![Number(5.0)]));
        assert_eq!(kinds("\"\\u00e9\\x41\\0\""), Some(vec![Str("éA\0".into())]));
        assert_eq!(kinds("-1"), Some(vec![Punct("-"), Number(1.0)]));
    }

    #[test]
    fn declines_everything_else() {
        for source in [
            "010",
            "1_000",
            "0x1f",
            "1n",
            "3in",
            "1e",
            "'\\01'",
            "'\\ud800'",
            "'a\\\nb'",
            "'open",
            "`t`",
            "/re/",
            "a // c",
            "/* c */ a",
            "x--",
            "x++",
            "a -= 1",
            "é",
            "a\\u0061",
            "a = 1",
            "a & b",
            "a | b",
            "a % b",
            "a * b",
            "a, b",
            "a ?? b",
            "#x",
            "@",
            "'\\c'",
        ] {
            assert_eq!(kinds(source), None, "{source:?}");
        }
    }

    #[test]
    fn remembers_line_breaks() {
        let tokens = tokens("return\n$").unwrap();
        assert!(!tokens[0].newline_before);
        assert!(tokens[1].newline_before);
    }
}
