//! Arithmetic over an answer, for values no single field holds: a percent from two counts
//! (`$.done / $.total * 100`), a byte count from a range (`@.to - @.from + 1`), a wait from a
//! throttle report. Numbers, `+ - * /`, parentheses, and three kinds of operand: a JSONPath from
//! the field's scope (`$.total`), one from the value being converted (`@`, `@.to`), and a
//! response header (`header("Upload-Length")`). Nothing else: no names, no calls, no loops.
//!
//! Parsed once by `validate` (errors carry the byte offset of the offending character); the
//! runtime works an expression out with [`Expr::eval`], asking its caller for each operand.

use std::fmt;

use crate::syntax::jsonpath::JsonPath;

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    Number(f64),
    /// A path from the scope's root (`$…`), or from the current value (`@…`).
    Path {
        path: JsonPath,
        current: bool,
    },
    /// A response header, its name lowercased.
    Header(String),
    Neg(Box<Expr>),
    Binary(Op, Box<Expr>, Box<Expr>),
}

/// An arithmetic operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Sub,
    Mul,
    Div,
}

impl Op {
    fn symbol(self) -> char {
        match self {
            Op::Add => '+',
            Op::Sub => '-',
            Op::Mul => '*',
            Op::Div => '/',
        }
    }
}

/// Why an expression does not parse, and the byte offset of the offending character.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ExprError {
    pub message: String,
    pub offset: usize,
}

/// What an operand reads: `None` when it is absent or null (the whole expression is then
/// `None`), an error when it is there but not a number.
pub trait Operands {
    type Error;
    fn path(&self, path: &JsonPath, current: bool) -> Result<Option<f64>, Self::Error>;
    fn header(&self, name: &str) -> Result<Option<f64>, Self::Error>;
}

impl Expr {
    /// Parses `text`.
    pub fn parse(text: &str) -> Result<Expr, ExprError> {
        let mut parser = Parser { text, at: 0 };
        parser.skip_space();
        if parser.at == text.len() {
            return Err(parser.error("an empty expression"));
        }
        let expr = parser.sum(0)?;
        parser.skip_space();
        if parser.at < text.len() {
            return Err(parser.error(format!(
                "unexpected `{}`: an operator (`+ - * /`) or the end was expected",
                parser.peek_char().unwrap_or(' ')
            )));
        }
        Ok(expr)
    }

    /// Works the expression out; `None` when an operand is missing or the result is not a
    /// finite number (a division by zero).
    pub fn eval<O: Operands>(&self, operands: &O) -> Result<Option<f64>, O::Error> {
        let value = match self {
            Expr::Number(n) => Some(*n),
            Expr::Path { path, current } => operands.path(path, *current)?,
            Expr::Header(name) => operands.header(name)?,
            Expr::Neg(inner) => inner.eval(operands)?.map(|n| -n),
            Expr::Binary(op, left, right) => {
                let (Some(l), Some(r)) = (left.eval(operands)?, right.eval(operands)?) else {
                    return Ok(None);
                };
                Some(match op {
                    Op::Add => l + r,
                    Op::Sub => l - r,
                    Op::Mul => l * r,
                    Op::Div => l / r,
                })
            }
        };
        Ok(value.filter(|n| n.is_finite()))
    }

    /// Whether `@` appears (the expression is about each value a field selects).
    pub fn uses_current(&self) -> bool {
        match self {
            Expr::Path { current, .. } => *current,
            Expr::Number(_) | Expr::Header(_) => false,
            Expr::Neg(inner) => inner.uses_current(),
            Expr::Binary(_, l, r) => l.uses_current() || r.uses_current(),
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Number(n) => write!(f, "{n}"),
            Expr::Path { path, current } => match (current, path.as_str().strip_prefix('$')) {
                (true, Some(rest)) => write!(f, "@{rest}"),
                _ => write!(f, "{path}"),
            },
            Expr::Header(name) => write!(f, "header({name:?})"),
            Expr::Neg(inner) => write!(f, "-{inner}"),
            Expr::Binary(op, l, r) => write!(f, "({l} {} {r})", op.symbol()),
        }
    }
}

struct Parser<'a> {
    text: &'a str,
    at: usize,
}

/// Nesting deeper than this is refused (each level is a stack frame of the parser).
const MAX_DEPTH: usize = 32;

impl Parser<'_> {
    fn error(&self, message: impl Into<String>) -> ExprError {
        ExprError {
            message: message.into(),
            offset: self.at,
        }
    }

    fn peek_char(&self) -> Option<char> {
        self.text[self.at..].chars().next()
    }

    fn skip_space(&mut self) {
        while self.peek_char().is_some_and(char::is_whitespace) {
            self.at += self.peek_char().map_or(0, char::len_utf8);
        }
    }

    fn sum(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut left = self.product(depth)?;
        loop {
            self.skip_space();
            let op = match self.peek_char() {
                Some('+') => Op::Add,
                Some('-') => Op::Sub,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.product(depth)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn product(&mut self, depth: usize) -> Result<Expr, ExprError> {
        let mut left = self.unary(depth)?;
        loop {
            self.skip_space();
            let op = match self.peek_char() {
                Some('*') => Op::Mul,
                Some('/') => Op::Div,
                _ => return Ok(left),
            };
            self.at += 1;
            let right = self.unary(depth)?;
            left = Expr::Binary(op, Box::new(left), Box::new(right));
        }
    }

    fn unary(&mut self, depth: usize) -> Result<Expr, ExprError> {
        if depth > MAX_DEPTH {
            return Err(self.error(format!("nested more than {MAX_DEPTH} levels deep")));
        }
        self.skip_space();
        match self.peek_char() {
            Some('-') => {
                self.at += 1;
                Ok(Expr::Neg(Box::new(self.unary(depth + 1)?)))
            }
            Some('(') => {
                self.at += 1;
                let inner = self.sum(depth + 1)?;
                self.skip_space();
                if self.peek_char() != Some(')') {
                    return Err(self.error("`(` is not closed: `)` was expected"));
                }
                self.at += 1;
                Ok(inner)
            }
            Some('$' | '@') => self.path(),
            Some(c) if c.is_ascii_digit() || c == '.' => self.number(),
            Some('h') if self.text[self.at..].starts_with("header") => self.header(),
            Some(c) => Err(self.error(format!(
                "unexpected `{c}`: a number, a JSONPath (`$.x`, `@.x`), `header(\"Name\")` or `(` was expected"
            ))),
            None => Err(self.error("the expression ends where a value was expected")),
        }
    }

    fn number(&mut self) -> Result<Expr, ExprError> {
        let start = self.at;
        let bytes = self.text.as_bytes();
        let mut end = start;
        while end < bytes.len() && (bytes[end].is_ascii_digit() || bytes[end] == b'.') {
            end += 1;
        }
        if end < bytes.len() && matches!(bytes[end], b'e' | b'E') {
            let mut exponent = end + 1;
            if exponent < bytes.len() && matches!(bytes[exponent], b'+' | b'-') {
                exponent += 1;
            }
            if exponent < bytes.len() && bytes[exponent].is_ascii_digit() {
                end = exponent;
                while end < bytes.len() && bytes[end].is_ascii_digit() {
                    end += 1;
                }
            }
        }
        match self.text[start..end].parse::<f64>() {
            Ok(n) if n.is_finite() => {
                self.at = end;
                Ok(Expr::Number(n))
            }
            _ => Err(self.error(format!("`{}` is not a number", &self.text[start..end]))),
        }
    }

    /// A JSONPath: the sigil, then `.name`, `.*`, `..` and bracketed selectors, up to the first
    /// character that cannot continue it.
    fn path(&mut self) -> Result<Expr, ExprError> {
        let start = self.at;
        let current = self.text[start..].starts_with('@');
        let bytes = self.text.as_bytes();
        let mut end = start + 1;
        loop {
            match bytes.get(end) {
                Some(b'.') => {
                    end += 1;
                    while let Some(&b) = bytes.get(end) {
                        let name = b.is_ascii_alphanumeric() || b == b'_' || b >= 0x80;
                        if name || b == b'*' || b == b'.' {
                            end += 1;
                        } else {
                            break;
                        }
                    }
                }
                Some(b'[') => {
                    end = self.closing_bracket(end)?;
                }
                _ => break,
            }
        }
        let written = &self.text[start..end];
        let as_path = format!("${}", &written[1..]);
        let path = JsonPath::parse(&as_path).map_err(|e| ExprError {
            message: format!("invalid JSONPath `{written}`: {}", e.message),
            offset: start + e.offset.saturating_sub(1).min(written.len()),
        })?;
        if !path.is_singular() {
            return Err(ExprError {
                message: format!(
                    "`{written}` may select several values: a path in an expression selects one (sum a list with `path` and `aggregate: sum`)"
                ),
                offset: start,
            });
        }
        self.at = end;
        Ok(Expr::Path { path, current })
    }

    /// The index just past the `]` that closes the `[` at `open`, quotes respected.
    fn closing_bracket(&self, open: usize) -> Result<usize, ExprError> {
        let bytes = self.text.as_bytes();
        let mut depth = 0usize;
        let mut quote: Option<u8> = None;
        let mut i = open;
        while i < bytes.len() {
            let b = bytes[i];
            match quote {
                Some(_) if b == b'\\' => i += 1,
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None => match b {
                    b'\'' | b'"' => quote = Some(b),
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Ok(i + 1);
                        }
                    }
                    _ => {}
                },
            }
            i += 1;
        }
        Err(ExprError {
            message: "`[` is not closed".into(),
            offset: open,
        })
    }

    /// `header("Name")` (or single quotes).
    fn header(&mut self) -> Result<Expr, ExprError> {
        self.at += "header".len();
        self.skip_space();
        if self.peek_char() != Some('(') {
            return Err(self.error("`header` takes a name: `header(\"Upload-Length\")`"));
        }
        self.at += 1;
        self.skip_space();
        let quote = match self.peek_char() {
            Some(q @ ('"' | '\'')) => q,
            _ => return Err(self.error("the header name is quoted: `header(\"Upload-Length\")`")),
        };
        self.at += 1;
        let start = self.at;
        let Some(length) = self.text[start..].find(quote) else {
            return Err(self.error("the header name's quote is not closed"));
        };
        let name = &self.text[start..start + length];
        let token = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c));
        if !token {
            return Err(self.error(format!("`{name}` is not a header name")));
        }
        self.at = start + length + 1;
        self.skip_space();
        if self.peek_char() != Some(')') {
            return Err(self.error("`)` was expected after the header name"));
        }
        self.at += 1;
        Ok(Expr::Header(name.to_ascii_lowercase()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    struct Body(Value, Value);

    impl Operands for Body {
        type Error = ();
        fn path(&self, path: &JsonPath, current: bool) -> Result<Option<f64>, ()> {
            let root = if current { &self.1 } else { &self.0 };
            Ok(path.first(root).and_then(Value::as_f64))
        }
        fn header(&self, name: &str) -> Result<Option<f64>, ()> {
            Ok((name == "upload-length").then_some(400.0))
        }
    }

    fn eval(text: &str) -> Option<f64> {
        let body = Body(
            json!({"done": 3, "total": 4, "zero": 0}),
            json!({"from": 100, "to": 199}),
        );
        Expr::parse(text)
            .expect(text)
            .eval(&body)
            .expect("no error")
    }

    #[test]
    fn arithmetic_with_precedence_and_operands() {
        for (text, value) in [
            ("1 + 2 * 3", Some(7.0)),
            ("(1 + 2) * 3", Some(9.0)),
            ("-2 - -3", Some(1.0)),
            ("$.done / $.total * 100", Some(75.0)),
            ("@.to - @.from + 1", Some(100.0)),
            ("header(\"Upload-Length\") / 4", Some(100.0)),
            ("header('upload-length')", Some(400.0)),
            ("1.5e2", Some(150.0)),
            ("$['done'] + $[\"total\"]", Some(7.0)),
            ("$.missing + 1", None),
            ("$.done / $.zero", None),
            ("header(\"X-Other\")", None),
        ] {
            assert_eq!(eval(text), value, "{text}");
        }
    }

    #[test]
    fn errors_point_at_the_offending_character() {
        for (text, offset, message) in [
            ("", 0, "empty"),
            ("1 +", 3, "ends where a value"),
            ("1 2", 2, "unexpected `2`"),
            ("(1 + 2", 6, "not closed"),
            ("$.parts[*].size", 0, "several values"),
            ("x + 1", 0, "unexpected `x`"),
            ("header(Upload)", 7, "quoted"),
            ("$.a[", 3, "not closed"),
            ("1..2", 0, "not a number"),
        ] {
            let error = Expr::parse(text).expect_err(text);
            assert_eq!(error.offset, offset, "{text}: {error}");
            assert!(error.message.contains(message), "{text}: {error}");
        }
        let deep = format!("{}1{}", "(".repeat(100), ")".repeat(100));
        assert!(Expr::parse(&deep).is_err());
    }

    #[test]
    fn display_writes_it_back() {
        let expr = Expr::parse("@.to - @.from + header('A') * 2").expect("parses");
        assert_eq!(expr.to_string(), "((@.to - @.from) + (header(\"a\") * 2))");
        assert!(expr.uses_current());
    }
}
