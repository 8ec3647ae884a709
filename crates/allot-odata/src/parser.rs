//! The `$filter` parser: a Pratt (precedence-climbing) parser over [`crate::lexer`] tokens,
//! producing an [`Expr`]. Keywords and function names are case-insensitive (Graph accepts `NOT`
//! and `startsWith`); property names are kept as written and resolved by the schema.
//!
//! Grammar (EBNF; the OData ABNF rule each production follows in brackets):
//!
//! ```text
//! filter     = expr EOF                                         [filter]
//! expr       = or
//! or         = and { "or" and }                                 [orExpr]
//! and        = unary { "and" unary }                            [andExpr]
//! unary      = "not" unary | comparison                         [notExpr]
//! comparison = primary [ cmpop primary                          [eqExpr, neExpr, ltExpr, ...]
//!                      | "in" "(" literal { "," literal } ")" ] [inExpr]
//! cmpop      = "eq" | "ne" | "gt" | "ge" | "lt" | "le"
//! primary    = "(" expr ")"                                     [parenExpr]
//!            | literal
//!            | func "(" expr { "," expr } ")"                   [methodCallExpr]
//!            | path [ "/" "$count" | "/" lambda ]               [memberExpr, countExpr]
//! func       = "startswith" | "endswith" | "contains"
//! path       = ident { "/" ident }                              [propertyPathExpr]
//! lambda     = ( "any" | "all" ) "(" [ ident ":" expr ] ")"     [anyExpr, allExpr]
//! literal    = "null" | "true" | "false" | int | decimal | string
//!            | guid | date | datetime                           [primitiveLiteral]
//! ```
//!
//! Binding strength, weakest first: `or`, `and`, `not`, comparison and `in`, primary.
//! Comparisons do not chain (`a eq b eq c` is a syntax error; write `(a eq b) eq c`). Inside a
//! lambda, a path whose first segment is the lambda's variable is rooted at the variable.
//!
//! Limits ([`Limits`]) are checked as the text is read, so hostile input is refused after at
//! most `max_len` bytes of work and `max_depth` stack frames of recursion.

use crate::ast::{CmpOp, Expr, Func, Lambda, LambdaKind, Literal, Path};
use crate::error::{ParseError, ParseErrorKind, QueryOption};
use crate::lexer::{Lexer, Tok};

/// Safety limits for one option value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of text.
    pub max_len: usize,
    /// Nesting of parentheses, `not`, lambdas and function calls.
    pub max_depth: usize,
    /// Nodes of the tree (every expression, literal and path segment).
    pub max_nodes: usize,
    /// Values in one `in (...)` list.
    pub max_in_list: usize,
}

impl Default for Limits {
    /// 4 KiB, depth 32, 500 nodes, and 15 values per `in` list (Graph's documented default).
    fn default() -> Self {
        Self {
            max_len: 4096,
            max_depth: 32,
            max_nodes: 500,
            max_in_list: 15,
        }
    }
}

/// Parses a `$filter` value with the default [`Limits`].
pub fn parse_filter(text: &str) -> Result<Expr, ParseError> {
    parse_filter_with(text, Limits::default())
}

/// Parses a `$filter` value. Positions in errors are byte offsets into `text`.
pub fn parse_filter_with(text: &str, limits: Limits) -> Result<Expr, ParseError> {
    parse_expr_at(text, limits, QueryOption::Filter, 0)
}

/// Parses a filter found at byte `offset` of a larger option (a nested `$filter` in `$expand`):
/// error positions are relative to the larger option.
pub(crate) fn parse_expr_at(
    text: &str,
    limits: Limits,
    option: QueryOption,
    offset: usize,
) -> Result<Expr, ParseError> {
    let shift = |mut e: ParseError| {
        e.pos += offset;
        e
    };
    if text.len() > limits.max_len {
        return Err(shift(ParseError::new(
            option,
            limits.max_len,
            ParseErrorKind::TooLong { max: limits.max_len },
        )));
    }
    crate::options::no_nul(text, option).map_err(shift)?;
    if text.trim().is_empty() {
        return Err(shift(ParseError::new(option, 0, ParseErrorKind::Empty)));
    }
    let mut p = Parser::new(text, limits, option).map_err(shift)?;
    let e = p.expr(0).map_err(shift)?;
    if p.tok != Tok::Eof {
        return Err(shift(p.unexpected("'and', 'or' or the end of the expression")));
    }
    Ok(e)
}

struct Parser<'a> {
    lex: Lexer<'a>,
    tok: Tok,
    pos: usize,
    ahead: Option<(usize, Tok)>,
    limits: Limits,
    option: QueryOption,
    depth: usize,
    nodes: usize,
    vars: Vec<String>,
}

fn is_kw(t: &Tok, kw: &str) -> bool {
    matches!(t, Tok::Ident(s) if s.eq_ignore_ascii_case(kw))
}

const RESERVED: &[&str] = &[
    "and", "or", "not", "eq", "ne", "gt", "ge", "lt", "le", "in", "null", "true", "false",
];

impl<'a> Parser<'a> {
    fn new(text: &'a str, limits: Limits, option: QueryOption) -> Result<Self, ParseError> {
        let mut lex = Lexer::new(text, option);
        let (pos, tok) = lex.next_token()?;
        Ok(Self {
            lex,
            tok,
            pos,
            ahead: None,
            limits,
            option,
            depth: 0,
            nodes: 0,
            vars: Vec::new(),
        })
    }

    fn err(&self, pos: usize, kind: ParseErrorKind) -> ParseError {
        ParseError::new(self.option, pos, kind)
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        self.err(
            self.pos,
            ParseErrorKind::Unexpected {
                found: self.tok.describe(),
                expected,
            },
        )
    }

    /// Moves to the next token, returning the current one.
    fn bump(&mut self) -> Result<Tok, ParseError> {
        let (pos, tok) = match self.ahead.take() {
            Some(t) => t,
            None => self.lex.next_token()?,
        };
        self.pos = pos;
        Ok(std::mem::replace(&mut self.tok, tok))
    }

    /// The token after the current one.
    fn peek(&mut self) -> Result<&Tok, ParseError> {
        if self.ahead.is_none() {
            self.ahead = Some(self.lex.next_token()?);
        }
        Ok(self.ahead.as_ref().map_or(&Tok::Eof, |(_, t)| t))
    }

    fn expect(&mut self, want: &Tok, what: &'static str) -> Result<(), ParseError> {
        if &self.tok == want {
            self.bump()?;
            Ok(())
        } else {
            Err(self.unexpected(what))
        }
    }

    fn node(&mut self) -> Result<(), ParseError> {
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(self.err(
                self.pos,
                ParseErrorKind::TooManyNodes {
                    max: self.limits.max_nodes,
                },
            ));
        }
        Ok(())
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > self.limits.max_depth {
            return Err(self.err(
                self.pos,
                ParseErrorKind::TooDeep {
                    max: self.limits.max_depth,
                },
            ));
        }
        Ok(())
    }

    /// `expr` with operators binding at least `min` (1 = `or`, 2 = `and`, 3 = `not`).
    fn expr(&mut self, min: u8) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut lhs = if is_kw(&self.tok, "not") {
            self.bump()?;
            let inner = self.expr(3)?;
            self.node()?;
            Expr::Not(Box::new(inner))
        } else {
            self.comparison()?
        };
        loop {
            let bp = if is_kw(&self.tok, "or") {
                1
            } else if is_kw(&self.tok, "and") {
                2
            } else {
                break;
            };
            if bp < min {
                break;
            }
            self.bump()?;
            let rhs = self.expr(bp + 1)?;
            self.node()?;
            lhs = if bp == 1 {
                Expr::Or(Box::new(lhs), Box::new(rhs))
            } else {
                Expr::And(Box::new(lhs), Box::new(rhs))
            };
        }
        self.depth -= 1;
        Ok(lhs)
    }

    fn comparison(&mut self) -> Result<Expr, ParseError> {
        let left = self.primary()?;
        if let Tok::Ident(s) = &self.tok {
            if let Some(op) = CmpOp::from_keyword(s) {
                self.bump()?;
                let right = self.primary()?;
                self.node()?;
                return Ok(Expr::Compare(Box::new(left), op, Box::new(right)));
            }
            if s.eq_ignore_ascii_case("in") {
                self.bump()?;
                self.expect(&Tok::LParen, "'(' after 'in'")?;
                let mut list = Vec::new();
                loop {
                    if list.len() == self.limits.max_in_list {
                        return Err(self.err(
                            self.pos,
                            ParseErrorKind::InListTooLong {
                                max: self.limits.max_in_list,
                            },
                        ));
                    }
                    let Some(lit) = self.literal()? else {
                        return Err(self.unexpected("a literal value"));
                    };
                    self.node()?;
                    list.push(lit);
                    match self.tok {
                        Tok::Comma => {
                            self.bump()?;
                        }
                        Tok::RParen => {
                            self.bump()?;
                            break;
                        }
                        _ => return Err(self.unexpected("',' or ')'")),
                    }
                }
                self.node()?;
                return Ok(Expr::In(Box::new(left), list));
            }
        }
        Ok(left)
    }

    /// A literal at the current token, consumed; `None` (nothing consumed) if there is none.
    fn literal(&mut self) -> Result<Option<Literal>, ParseError> {
        let lit = match &self.tok {
            Tok::Str(s) => Literal::String(s.clone()),
            Tok::Int(i) => Literal::Int(*i),
            Tok::Decimal(d) => Literal::Decimal(*d),
            Tok::Guid(g) => Literal::Guid(*g),
            Tok::Date(d) => Literal::Date(*d),
            Tok::DateTime(t) => Literal::DateTime(*t),
            Tok::Ident(s) if s.eq_ignore_ascii_case("null") => Literal::Null,
            Tok::Ident(s) if s.eq_ignore_ascii_case("true") => Literal::Bool(true),
            Tok::Ident(s) if s.eq_ignore_ascii_case("false") => Literal::Bool(false),
            _ => return Ok(None),
        };
        self.bump()?;
        Ok(Some(lit))
    }

    fn primary(&mut self) -> Result<Expr, ParseError> {
        if self.tok == Tok::LParen {
            self.bump()?;
            let e = self.expr(0)?;
            self.expect(&Tok::RParen, "')'")?;
            return Ok(e);
        }
        if let Some(lit) = self.literal()? {
            self.node()?;
            return Ok(Expr::Literal(lit));
        }
        let Tok::Ident(name) = &self.tok else {
            return Err(self.unexpected("a property, a literal, a function or '('"));
        };
        let name = name.clone();
        if RESERVED.iter().any(|k| name.eq_ignore_ascii_case(k)) {
            return Err(self.unexpected("a property, a literal, a function or '('"));
        }
        let start = self.pos;
        if *self.peek()? == Tok::LParen {
            let Some(func) = Func::from_name(&name) else {
                return Err(self.err(start, ParseErrorKind::UnknownFunction(name)));
            };
            self.bump()?;
            self.bump()?;
            self.enter()?;
            let mut args = Vec::new();
            loop {
                args.push(self.expr(0)?);
                match self.tok {
                    Tok::Comma => {
                        self.bump()?;
                    }
                    Tok::RParen => {
                        self.bump()?;
                        break;
                    }
                    _ => return Err(self.unexpected("',' or ')'")),
                }
            }
            self.depth -= 1;
            self.node()?;
            return Ok(Expr::Call(func, args));
        }
        self.bump()?;
        self.node()?;
        let mut path = if self.vars.contains(&name) {
            Path {
                var: Some(name),
                segments: Vec::new(),
            }
        } else {
            Path {
                var: None,
                segments: vec![name],
            }
        };
        while self.tok == Tok::Slash {
            self.bump()?;
            match &self.tok {
                Tok::DollarCount => {
                    self.bump()?;
                    self.node()?;
                    return Ok(Expr::Count(path));
                }
                Tok::Ident(seg) => {
                    let seg = seg.clone();
                    let kind = if seg.eq_ignore_ascii_case("any") {
                        Some(LambdaKind::Any)
                    } else if seg.eq_ignore_ascii_case("all") {
                        Some(LambdaKind::All)
                    } else {
                        None
                    };
                    if let Some(kind) = kind
                        && *self.peek()? == Tok::LParen
                    {
                        return self.lambda(path, kind);
                    }
                    self.bump()?;
                    self.node()?;
                    path.segments.push(seg);
                }
                _ => return Err(self.unexpected("a property name, '$count', 'any' or 'all' after '/'")),
            }
        }
        Ok(Expr::Path(path))
    }

    /// `any(...)`/`all(...)` after `path/`; the current token is `any` or `all`.
    fn lambda(&mut self, path: Path, kind: LambdaKind) -> Result<Expr, ParseError> {
        self.bump()?;
        self.bump()?;
        self.enter()?;
        if self.tok == Tok::RParen && kind == LambdaKind::Any {
            self.bump()?;
            self.depth -= 1;
            self.node()?;
            return Ok(Expr::Lambda(Lambda {
                path,
                kind,
                var: None,
                body: None,
            }));
        }
        let var = match &self.tok {
            Tok::Ident(v) if !RESERVED.iter().any(|k| v.eq_ignore_ascii_case(k)) => v.clone(),
            _ => return Err(self.unexpected("a lambda variable name")),
        };
        self.bump()?;
        self.expect(&Tok::Colon, "':' after the lambda variable")?;
        self.vars.push(var.clone());
        let body = self.expr(0)?;
        self.vars.pop();
        self.expect(&Tok::RParen, "')'")?;
        self.depth -= 1;
        self.node()?;
        Ok(Expr::Lambda(Lambda {
            path,
            kind,
            var: Some(var),
            body: Some(Box::new(body)),
        }))
    }
}

/// Reads a property path (`a` or `a/b`) with the lexer; used by `$orderby`.
pub(crate) fn parse_orderby_items(
    text: &str,
    limits: Limits,
) -> Result<Vec<crate::ast::OrderBy>, ParseError> {
    use crate::ast::{Direction, OrderBy};
    let option = QueryOption::OrderBy;
    if text.len() > limits.max_len {
        return Err(ParseError::new(
            option,
            limits.max_len,
            ParseErrorKind::TooLong { max: limits.max_len },
        ));
    }
    let mut p = Parser::new(text, limits, option)?;
    let mut out = Vec::new();
    loop {
        let Tok::Ident(first) = &p.tok else {
            return Err(p.unexpected("a property name"));
        };
        let mut segments = vec![first.clone()];
        p.bump()?;
        while p.tok == Tok::Slash {
            p.bump()?;
            let Tok::Ident(s) = &p.tok else {
                return Err(p.unexpected("a property name"));
            };
            segments.push(s.clone());
            p.bump()?;
        }
        let direction = if is_kw(&p.tok, "asc") {
            p.bump()?;
            Direction::Asc
        } else if is_kw(&p.tok, "desc") {
            p.bump()?;
            Direction::Desc
        } else {
            Direction::Asc
        };
        p.node()?;
        out.push(OrderBy {
            path: Path { var: None, segments },
            direction,
        });
        match p.tok {
            Tok::Comma => {
                p.bump()?;
            }
            Tok::Eof => return Ok(out),
            _ => return Err(p.unexpected("',', 'asc', 'desc' or the end")),
        }
    }
}

#[cfg(test)]
mod tests;
