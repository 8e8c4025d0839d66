//! The condition language of policy rules: lexer and parser into an untyped tree.
//!
//! ```text
//! expr     := and ("or" and)*
//! and      := unary ("and" unary)*
//! unary    := "not" unary | atom
//! atom     := "(" expr ")" | operand [ cmp operand | ["not"] "in" operand ]
//! cmp      := "==" | "!=" | "<" | "<=" | ">" | ">="
//! operand  := name | literal | "[" literal ("," literal)* [","] "]"
//! literal  := number | 'text' | "text" | true | false | none
//! name     := letter (letter | digit | "_" | ".")*
//! ```
//!
//! Every node keeps the byte offset of its first character in the condition so that the
//! type checker can point at the offending word.

/// Longest condition accepted, in bytes.
pub const MAX_CONDITION_LEN: usize = 4096;
/// Deepest nesting of `not`, `and`, `or` and parentheses.
pub const MAX_DEPTH: usize = 32;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The operator as written.
    pub fn as_str(self) -> &'static str {
        match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        }
    }

    /// Applies an ordering comparison to two numbers.
    #[inline]
    pub fn num(self, a: f64, b: f64) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

/// A literal value.
#[derive(Clone, Debug, PartialEq)]
pub enum Lit {
    /// `true` / `false`
    Bool(bool),
    /// A number.
    Num(f64),
    /// Text in quotes.
    Str(String),
    /// `none`: unknown or absent.
    None,
    /// `[a, b, ...]`
    List(Vec<(Lit, usize)>),
}

impl Lit {
    /// The literal as written, with its kind, for messages (`the text 'long'`).
    pub fn show(&self) -> String {
        match self {
            Lit::Bool(b) => format!("the boolean {b}"),
            Lit::Num(n) => format!("the number {n}"),
            Lit::Str(s) => format!("the text '{s}'"),
            Lit::None => "none".into(),
            Lit::List(_) => "a list".into(),
        }
    }

    /// What kind of literal this is, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Lit::Bool(_) => "a boolean",
            Lit::Num(_) => "a number",
            Lit::Str(_) => "text",
            Lit::None => "none",
            Lit::List(_) => "a list",
        }
    }
}

/// A side of a comparison.
#[derive(Clone, Debug, PartialEq)]
pub enum Operand {
    /// A feature, list or prefix-list name.
    Name(String),
    /// A literal.
    Lit(Lit),
}

/// A parsed condition.
#[derive(Clone, Debug, PartialEq)]
pub enum Expr {
    /// All must hold.
    And(Vec<Expr>),
    /// One must hold.
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// An operand standing alone (a boolean feature).
    Bare(Operand, usize),
    /// `left op right`.
    Cmp {
        /// Left side and its offset.
        left: (Operand, usize),
        /// The operator and its offset.
        op: (CmpOp, usize),
        /// Right side and its offset.
        right: (Operand, usize),
    },
    /// `left [not] in right`.
    In {
        /// Left side and its offset.
        left: (Operand, usize),
        /// `not in`.
        negated: bool,
        /// Right side and its offset.
        right: (Operand, usize),
    },
}

/// A syntax error: the message and the byte offset it concerns.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    /// Byte offset in the condition.
    pub offset: usize,
    /// What was wrong.
    pub message: String,
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Name(String),
    Num(f64),
    Str(String),
    Cmp(CmpOp),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    And,
    Or,
    Not,
    In,
    True,
    False,
    None,
}

impl Tok {
    fn describe(&self) -> String {
        match self {
            Tok::Name(n) => format!("'{n}'"),
            Tok::Num(n) => format!("number {n}"),
            Tok::Str(s) => format!("text '{s}'"),
            Tok::Cmp(op) => format!("'{}'", op.as_str()),
            Tok::LParen => "'('".into(),
            Tok::RParen => "')'".into(),
            Tok::LBracket => "'['".into(),
            Tok::RBracket => "']'".into(),
            Tok::Comma => "','".into(),
            Tok::And => "'and'".into(),
            Tok::Or => "'or'".into(),
            Tok::Not => "'not'".into(),
            Tok::In => "'in'".into(),
            Tok::True => "'true'".into(),
            Tok::False => "'false'".into(),
            Tok::None => "'none'".into(),
        }
    }
}

fn err<T>(offset: usize, message: impl Into<String>) -> Result<T, SyntaxError> {
    Err(SyntaxError {
        offset,
        message: message.into(),
    })
}

fn lex(src: &str) -> Result<Vec<(Tok, usize)>, SyntaxError> {
    let bytes = src.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let tok = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'(' => Tok::LParen,
            b')' => Tok::RParen,
            b'[' => Tok::LBracket,
            b']' => Tok::RBracket,
            b',' => Tok::Comma,
            b'=' | b'!' | b'<' | b'>' => {
                let two = bytes.get(i + 1) == Some(&b'=');
                let op = match (c, two) {
                    (b'=', true) => CmpOp::Eq,
                    (b'!', true) => CmpOp::Ne,
                    (b'<', true) => CmpOp::Le,
                    (b'>', true) => CmpOp::Ge,
                    (b'<', false) => CmpOp::Lt,
                    (b'>', false) => CmpOp::Gt,
                    (b'=', false) => return err(i, "'=' is assignment; compare with '=='"),
                    _ => return err(i, "'!' alone is not an operator; use 'not' or '!='"),
                };
                i += if two { 2 } else { 1 };
                out.push((Tok::Cmp(op), start));
                continue;
            }
            b'\'' | b'"' => {
                let Some(len) = bytes[i + 1..].iter().position(|&b| b == c) else {
                    return err(i, "text is not closed by a matching quote");
                };
                let text = &src[i + 1..i + 1 + len];
                i += len + 2;
                out.push((Tok::Str(text.to_owned()), start));
                continue;
            }
            b'0'..=b'9' | b'-' | b'.' => {
                let mut j = i + 1;
                while j < bytes.len()
                    && (bytes[j].is_ascii_digit() || bytes[j] == b'.' || bytes[j] == b'_')
                {
                    j += 1;
                }
                let text: String = src[i..j].chars().filter(|&c| c != '_').collect();
                let Ok(n) = text.parse::<f64>() else {
                    return err(i, format!("'{}' is not a number", &src[i..j]));
                };
                if !n.is_finite() {
                    return err(i, format!("'{}' is not a finite number", &src[i..j]));
                }
                i = j;
                out.push((Tok::Num(n), start));
                continue;
            }
            c if c.is_ascii_alphabetic() || c == b'_' => {
                let mut j = i + 1;
                while j < bytes.len()
                    && (bytes[j].is_ascii_alphanumeric() || bytes[j] == b'_' || bytes[j] == b'.')
                {
                    j += 1;
                }
                let word = &src[i..j];
                i = j;
                let tok = match word {
                    "and" => Tok::And,
                    "or" => Tok::Or,
                    "not" => Tok::Not,
                    "in" => Tok::In,
                    "true" => Tok::True,
                    "false" => Tok::False,
                    "none" => Tok::None,
                    "AND" | "OR" | "NOT" | "IN" | "True" | "False" | "None" | "null" => {
                        return err(
                            start,
                            format!(
                                "'{word}': keywords are lower case (and, or, not, in, true, false, none)"
                            ),
                        )
                    }
                    _ => Tok::Name(word.to_owned()),
                };
                out.push((tok, start));
                continue;
            }
            b'&' | b'|' => {
                return err(
                    i,
                    format!(
                        "'{}' is not an operator; use '{}'",
                        c as char,
                        if c == b'&' { "and" } else { "or" }
                    ),
                )
            }
            _ => {
                let ch = src[i..].chars().next().unwrap_or('?');
                return err(i, format!("unexpected character {ch:?}"));
            }
        };
        i += 1;
        out.push((tok, start));
    }
    Ok(out)
}

struct Parser {
    toks: Vec<(Tok, usize)>,
    pos: usize,
    end: usize,
    depth: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos).map(|(t, _)| t)
    }

    fn offset(&self) -> usize {
        self.toks.get(self.pos).map_or(self.end, |(_, o)| *o)
    }

    fn next(&mut self) -> Option<(Tok, usize)> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn deeper(&mut self) -> Result<(), SyntaxError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return err(
                self.offset(),
                format!("nested more than {MAX_DEPTH} levels deep"),
            );
        }
        Ok(())
    }

    fn expr(&mut self) -> Result<Expr, SyntaxError> {
        self.deeper()?;
        let mut parts = vec![self.and()?];
        while self.peek() == Some(&Tok::Or) {
            self.pos += 1;
            parts.push(self.and()?);
        }
        self.depth -= 1;
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::Or(parts)
        })
    }

    fn and(&mut self) -> Result<Expr, SyntaxError> {
        let mut parts = vec![self.unary()?];
        while self.peek() == Some(&Tok::And) {
            self.pos += 1;
            parts.push(self.unary()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Expr::And(parts)
        })
    }

    fn unary(&mut self) -> Result<Expr, SyntaxError> {
        if self.peek() == Some(&Tok::Not) {
            self.pos += 1;
            self.deeper()?;
            let inner = self.unary()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Expr, SyntaxError> {
        if self.peek() == Some(&Tok::LParen) {
            let open = self.offset();
            self.pos += 1;
            let inner = self.expr()?;
            match self.next() {
                Some((Tok::RParen, _)) => return Ok(inner),
                Some((t, o)) => {
                    return err(o, format!("expected ')' here, found {}", t.describe()))
                }
                None => return err(open, "'(' is never closed"),
            }
        }
        let left = self.operand()?;
        match self.peek() {
            Some(Tok::Cmp(op)) => {
                let op = (*op, self.offset());
                self.pos += 1;
                let right = self.operand()?;
                Ok(Expr::Cmp { left, op, right })
            }
            Some(Tok::In) => {
                self.pos += 1;
                let right = self.operand()?;
                Ok(Expr::In {
                    left,
                    negated: false,
                    right,
                })
            }
            Some(Tok::Not) if self.toks.get(self.pos + 1).map(|t| &t.0) == Some(&Tok::In) => {
                self.pos += 2;
                let right = self.operand()?;
                Ok(Expr::In {
                    left,
                    negated: true,
                    right,
                })
            }
            _ => Ok(Expr::Bare(left.0, left.1)),
        }
    }

    fn operand(&mut self) -> Result<(Operand, usize), SyntaxError> {
        let at = self.offset();
        match self.next() {
            Some((Tok::Name(n), o)) => Ok((Operand::Name(n), o)),
            Some((Tok::LBracket, o)) => {
                let mut items = Vec::new();
                loop {
                    if self.peek() == Some(&Tok::RBracket) {
                        self.pos += 1;
                        break;
                    }
                    let item_at = self.offset();
                    match self.next() {
                        Some((t, io)) => match literal(t) {
                            Some(l) => items.push((l, io)),
                            None => {
                                return err(
                                    io,
                                    "a list holds literals only (numbers, 'text', true, false)",
                                )
                            }
                        },
                        None => return err(o, "'[' is never closed"),
                    }
                    match self.next() {
                        Some((Tok::Comma, _)) => {}
                        Some((Tok::RBracket, _)) => break,
                        Some((t, to)) => {
                            return err(to, format!("expected ',' or ']', found {}", t.describe()))
                        }
                        None => return err(item_at, "'[' is never closed"),
                    }
                }
                if items.is_empty() {
                    return err(o, "an empty list matches nothing; remove the condition");
                }
                Ok((Operand::Lit(Lit::List(items)), o))
            }
            Some((t, o)) => match literal(t.clone()) {
                Some(l) => Ok((Operand::Lit(l), o)),
                None => err(
                    o,
                    format!("expected a feature or a value, found {}", t.describe()),
                ),
            },
            None => err(at, "the condition ends too early"),
        }
    }
}

fn literal(t: Tok) -> Option<Lit> {
    Some(match t {
        Tok::Num(n) => Lit::Num(n),
        Tok::Str(s) => Lit::Str(s),
        Tok::True => Lit::Bool(true),
        Tok::False => Lit::Bool(false),
        Tok::None => Lit::None,
        _ => return None,
    })
}

/// Parses a condition.
pub fn parse(src: &str) -> Result<Expr, SyntaxError> {
    if src.len() > MAX_CONDITION_LEN {
        return err(0, format!("longer than {MAX_CONDITION_LEN} bytes"));
    }
    let toks = lex(src)?;
    if toks.is_empty() {
        return err(0, "empty condition");
    }
    let mut p = Parser {
        toks,
        pos: 0,
        end: src.len(),
        depth: 0,
    };
    let e = p.expr()?;
    if let Some((t, o)) = p.next() {
        let hint = match t {
            Tok::Name(_) | Tok::Str(_) | Tok::Num(_) => "; join conditions with 'and' or 'or'",
            _ => "",
        };
        return err(o, format!("unexpected {}{hint}", t.describe()));
    }
    Ok(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(n: &str, at: usize) -> (Operand, usize) {
        (Operand::Name(n.into()), at)
    }

    #[test]
    fn precedence_not_and_or() {
        let e = parse("a or not b and c").unwrap();
        assert_eq!(
            e,
            Expr::Or(vec![
                Expr::Bare(Operand::Name("a".into()), 0),
                Expr::And(vec![
                    Expr::Not(Box::new(Expr::Bare(Operand::Name("b".into()), 9))),
                    Expr::Bare(Operand::Name("c".into()), 15),
                ]),
            ])
        );
    }

    #[test]
    fn comparisons_lists_and_in() {
        let e = parse("caller.region not in ['RU', 'KZ'] and duration < 3.5").unwrap();
        let Expr::And(parts) = e else { panic!() };
        assert_eq!(
            parts[0],
            Expr::In {
                left: name("caller.region", 0),
                negated: true,
                right: (
                    Operand::Lit(Lit::List(vec![
                        (Lit::Str("RU".into()), 22),
                        (Lit::Str("KZ".into()), 28)
                    ])),
                    21
                ),
            }
        );
        assert_eq!(
            parts[1],
            Expr::Cmp {
                left: name("duration", 38),
                op: (CmpOp::Lt, 47),
                right: (Operand::Lit(Lit::Num(3.5)), 49),
            }
        );
    }

    #[test]
    fn errors_point_at_the_word() {
        for (src, offset, needle) in [
            ("a = 1", 2, "'=='"),
            ("a && b", 2, "'and'"),
            ("a b", 2, "join conditions"),
            ("(a", 0, "never closed"),
            ("a ==", 4, "ends too early"),
            ("x == 'open", 5, "quote"),
            ("a AND b", 2, "lower case"),
            ("x in []", 5, "empty list"),
            ("x in [a]", 6, "literals only"),
            ("1.2.3 > x", 0, "not a number"),
            ("a == ☎", 5, "unexpected character"),
        ] {
            let e = parse(src).unwrap_err();
            assert_eq!(e.offset, offset, "{src}: {e:?}");
            assert!(e.message.contains(needle), "{src}: {e:?}");
        }
        assert!(parse(&"not ".repeat(40).to_string().add("a"))
            .unwrap_err()
            .message
            .contains("nested"));
        assert!(parse(&"a".repeat(5000)).is_err());
    }

    trait Add {
        fn add(self, s: &str) -> String;
    }
    impl Add for String {
        fn add(mut self, s: &str) -> String {
            self.push_str(s);
            self
        }
    }

    proptest::proptest! {
        #[test]
        fn never_panics(src in "\\PC{0,80}") {
            let _ = parse(&src);
        }

        #[test]
        fn never_panics_on_grammar_soup(
            words in proptest::collection::vec(
                proptest::sample::select(vec!["a", "b.c", "and", "or", "not", "in", "(", ")", "[", "]",
                    ",", "==", "<", "1", "'x'", "true", "none"]), 0..30)
        ) {
            let _ = parse(&words.join(" "));
        }
    }
}
