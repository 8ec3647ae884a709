//! The syntax tree of `$filter` (and the other options), and the printer that writes it back as
//! OData text. Printing then parsing gives the same tree (property-tested in `parser.rs`):
//! parentheses are not kept in the tree, the printer adds exactly the ones precedence needs.

use std::fmt;

use chrono::{DateTime, NaiveDate, Utc};
use uuid::Uuid;

/// A literal value.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    Int(i64),
    /// A number with a fraction or exponent. Never NaN or infinite.
    Decimal(f64),
    String(String),
    /// A bare GUID (`184efa21-98c3-4e5d-95ab-d07053a96e67`), as Graph writes them.
    Guid(Uuid),
    Date(NaiveDate),
    DateTime(DateTime<Utc>),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl CmpOp {
    #[must_use]
    pub const fn keyword(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Gt => "gt",
            Self::Ge => "ge",
            Self::Lt => "lt",
            Self::Le => "le",
        }
    }

    /// The operator kind name OData uses in messages (`Equal`, `NotEqual`, ...).
    #[must_use]
    pub const fn kind_name(self) -> &'static str {
        match self {
            Self::Eq => "Equal",
            Self::Ne => "NotEqual",
            Self::Gt => "GreaterThan",
            Self::Ge => "GreaterThanOrEqual",
            Self::Lt => "LessThan",
            Self::Le => "LessThanOrEqual",
        }
    }

    /// The operator with its operands swapped (`5 lt x` is `x gt 5`).
    #[must_use]
    pub const fn flipped(self) -> Self {
        match self {
            Self::Eq => Self::Eq,
            Self::Ne => Self::Ne,
            Self::Gt => Self::Lt,
            Self::Ge => Self::Le,
            Self::Lt => Self::Gt,
            Self::Le => Self::Ge,
        }
    }

    pub(crate) fn from_keyword(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "eq" => Self::Eq,
            "ne" => Self::Ne,
            "gt" => Self::Gt,
            "ge" => Self::Ge,
            "lt" => Self::Lt,
            "le" => Self::Le,
            _ => return None,
        })
    }
}

/// The string functions Graph accepts in `$filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Func {
    StartsWith,
    EndsWith,
    Contains,
}

impl Func {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::StartsWith => "startswith",
            Self::EndsWith => "endswith",
            Self::Contains => "contains",
        }
    }

    pub(crate) fn from_name(s: &str) -> Option<Self> {
        Some(match s.to_ascii_lowercase().as_str() {
            "startswith" => Self::StartsWith,
            "endswith" => Self::EndsWith,
            "contains" => Self::Contains,
            _ => return None,
        })
    }
}

/// `any` or `all`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LambdaKind {
    Any,
    All,
}

impl LambdaKind {
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Any => "any",
            Self::All => "all",
        }
    }
}

/// A property path: `displayName`, `assignedLicenses`, or `x/skuId` inside a lambda whose
/// variable is `x` (then `var` is `Some("x")`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    pub var: Option<String>,
    pub segments: Vec<String>,
}

impl Path {
    #[must_use]
    pub fn property(name: &str) -> Self {
        Self {
            var: None,
            segments: vec![name.to_owned()],
        }
    }
}

/// A lambda: `path/any(var: body)`, `path/all(var: body)`, or `path/any()` (non-empty).
#[derive(Debug, Clone, PartialEq)]
pub struct Lambda {
    pub path: Path,
    pub kind: LambdaKind,
    pub var: Option<String>,
    pub body: Option<Box<Expr>>,
}

/// A `$filter` expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Or(Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Not(Box<Expr>),
    Compare(Box<Expr>, CmpOp, Box<Expr>),
    In(Box<Expr>, Vec<Literal>),
    Call(Func, Vec<Expr>),
    Lambda(Lambda),
    /// `path/$count`.
    Count(Path),
    Path(Path),
    Literal(Literal),
}

impl Expr {
    /// Binding strength, for the printer: higher binds tighter.
    const fn precedence(&self) -> u8 {
        match self {
            Self::Or(..) => 1,
            Self::And(..) => 2,
            Self::Not(_) => 3,
            Self::Compare(..) | Self::In(..) => 4,
            _ => 5,
        }
    }
}

fn write_string(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_str("'")?;
    f.write_str(&s.replace('\'', "''"))?;
    f.write_str("'")
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Null => f.write_str("null"),
            Self::Bool(b) => write!(f, "{b}"),
            Self::Int(i) => write!(f, "{i}"),
            Self::Decimal(d) => {
                // `{:?}` is the shortest text that reads back as the same f64 and always has a
                // fraction or an exponent, so it never reads back as an integer.
                write!(f, "{d:?}")
            }
            Self::String(s) => write_string(f, s),
            Self::Guid(g) => write!(f, "{}", g.hyphenated()),
            Self::Date(d) => write!(f, "{}", d.format("%Y-%m-%d")),
            Self::DateTime(t) => write!(f, "{}", t.format("%Y-%m-%dT%H:%M:%S%.fZ")),
        }
    }
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        if let Some(v) = &self.var {
            f.write_str(v)?;
            first = false;
        }
        for s in &self.segments {
            if !first {
                f.write_str("/")?;
            }
            f.write_str(s)?;
            first = false;
        }
        Ok(())
    }
}

impl Expr {
    fn write_child(&self, f: &mut fmt::Formatter<'_>, child: &Self, min: u8) -> fmt::Result {
        let _ = self;
        if child.precedence() < min {
            write!(f, "({child})")
        } else {
            write!(f, "{child}")
        }
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // Left-associative: the left operand may be of the same strength, the right may not.
            Self::Or(l, r) => {
                self.write_child(f, l, 1)?;
                f.write_str(" or ")?;
                self.write_child(f, r, 2)
            }
            Self::And(l, r) => {
                self.write_child(f, l, 2)?;
                f.write_str(" and ")?;
                self.write_child(f, r, 3)
            }
            Self::Not(e) => {
                f.write_str("not ")?;
                self.write_child(f, e, 3)
            }
            // Comparisons do not chain: an operand that is itself a comparison is parenthesised.
            Self::Compare(l, op, r) => {
                self.write_child(f, l, 5)?;
                write!(f, " {} ", op.keyword())?;
                self.write_child(f, r, 5)
            }
            Self::In(l, list) => {
                self.write_child(f, l, 5)?;
                f.write_str(" in (")?;
                for (i, v) in list.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{v}")?;
                }
                f.write_str(")")
            }
            Self::Call(func, args) => {
                write!(f, "{}(", func.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_str(")")
            }
            Self::Lambda(l) => {
                write!(f, "{}/{}(", l.path, l.kind.name())?;
                if let (Some(v), Some(b)) = (&l.var, &l.body) {
                    write!(f, "{v}:{b}")?;
                }
                f.write_str(")")
            }
            Self::Count(p) => write!(f, "{p}/$count"),
            Self::Path(p) => write!(f, "{p}"),
            Self::Literal(l) => write!(f, "{l}"),
        }
    }
}

/// Sort direction in `$orderby`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Asc,
    Desc,
}

/// One `$orderby` item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrderBy {
    pub path: Path,
    pub direction: Direction,
}

impl fmt::Display for OrderBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.direction {
            Direction::Asc => write!(f, "{}", self.path),
            Direction::Desc => write!(f, "{} desc", self.path),
        }
    }
}

/// One `$expand` item with its nested options.
#[derive(Debug, Clone, PartialEq)]
pub struct ExpandItem {
    pub name: String,
    pub select: Option<Vec<String>>,
    pub filter: Option<Expr>,
    pub top: Option<u32>,
}

impl fmt::Display for ExpandItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        let mut opts = Vec::new();
        if let Some(s) = &self.select {
            opts.push(format!("$select={}", s.join(",")));
        }
        if let Some(e) = &self.filter {
            opts.push(format!("$filter={e}"));
        }
        if let Some(t) = self.top {
            opts.push(format!("$top={t}"));
        }
        if !opts.is_empty() {
            write!(f, "({})", opts.join(";"))?;
        }
        Ok(())
    }
}

/// One `"property:value"` term of `$search`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchTerm {
    pub property: String,
    pub value: String,
}

/// `$search` in disjunctive normal form: terms joined by `AND` inside each inner list, the lists
/// joined by `OR` (`AND` binds tighter, as in Graph).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub any_of: Vec<Vec<SearchTerm>>,
}

impl fmt::Display for Search {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, all) in self.any_of.iter().enumerate() {
            if i > 0 {
                f.write_str(" OR ")?;
            }
            for (j, t) in all.iter().enumerate() {
                if j > 0 {
                    f.write_str(" AND ")?;
                }
                write!(f, "\"{}:{}\"", t.property, t.value)?;
            }
        }
        Ok(())
    }
}
