//! `$apply` (OData Data Aggregation), the two transformations the cloudLicensing allotments
//! document (spec §1.3 C1): `groupby` with an optional `aggregate`, or `aggregate` alone.
//!
//! ```text
//! apply     = groupby | aggregate
//! groupby   = "groupby" "(" "(" ident { "," ident } ")" [ "," aggregate ] ")"
//! aggregate = "aggregate" "(" agg { "," agg } ")"
//! agg       = ident "with" method "as" ident
//! method    = "sum" | "min" | "max" | "average"
//! ```
//!
//! Read with the `$filter` lexer; keywords are case-insensitive. [`validate_apply`] checks the
//! names against a schema: any selectable scalar may be grouped by, integers may be aggregated.

use crate::error::{ParseError, ParseErrorKind, QueryError, QueryOption};
use crate::lexer::{Lexer, Tok};
use crate::options::MAX_ITEMS;
use crate::schema::{EntitySchema, Type};

/// An aggregation method.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Sum,
    Min,
    Max,
    Average,
}

/// `property with method as alias`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate<P> {
    pub property: P,
    pub method: Method,
    pub alias: String,
}

/// A parsed (`P = String`) or validated (`P = &'static str`, canonical names) `$apply`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apply<P> {
    pub group_by: Vec<P>,
    pub aggregates: Vec<Aggregate<P>>,
}

struct Reader<'a> {
    lx: Lexer<'a>,
    tok: Tok,
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(text: &'a str) -> Result<Self, ParseError> {
        let mut lx = Lexer::new(text, QueryOption::Apply);
        let (pos, tok) = lx.next_token()?;
        Ok(Self { lx, tok, pos })
    }

    fn bump(&mut self) -> Result<(), ParseError> {
        let (pos, tok) = self.lx.next_token()?;
        self.tok = tok;
        self.pos = pos;
        Ok(())
    }

    fn unexpected(&self, expected: &'static str) -> ParseError {
        ParseError::new(
            QueryOption::Apply,
            self.pos,
            ParseErrorKind::Unexpected {
                found: self.tok.describe(),
                expected,
            },
        )
    }

    fn expect(&mut self, want: &Tok, expected: &'static str) -> Result<(), ParseError> {
        if &self.tok != want {
            return Err(self.unexpected(expected));
        }
        self.bump()
    }

    fn ident(&mut self, expected: &'static str) -> Result<String, ParseError> {
        let Tok::Ident(s) = &self.tok else {
            return Err(self.unexpected(expected));
        };
        let s = s.clone();
        self.bump()?;
        Ok(s)
    }

    fn keyword(&mut self, word: &str, expected: &'static str) -> Result<(), ParseError> {
        match &self.tok {
            Tok::Ident(s) if s.eq_ignore_ascii_case(word) => self.bump(),
            _ => Err(self.unexpected(expected)),
        }
    }

    fn is_keyword(&self, word: &str) -> bool {
        matches!(&self.tok, Tok::Ident(s) if s.eq_ignore_ascii_case(word))
    }

    /// `ident { "," ident }` or `agg { "," agg }` up to the closing parenthesis.
    fn list<T>(
        &mut self,
        mut item: impl FnMut(&mut Self) -> Result<T, ParseError>,
    ) -> Result<Vec<T>, ParseError> {
        let mut out = vec![item(self)?];
        while self.tok == Tok::Comma {
            self.bump()?;
            if out.len() == MAX_ITEMS {
                return Err(ParseError::new(
                    QueryOption::Apply,
                    self.pos,
                    ParseErrorKind::TooManyItems { max: MAX_ITEMS },
                ));
            }
            out.push(item(self)?);
        }
        Ok(out)
    }

    fn aggregate(&mut self) -> Result<Vec<Aggregate<String>>, ParseError> {
        self.keyword("aggregate", "'aggregate'")?;
        self.expect(&Tok::LParen, "'('")?;
        let aggs = self.list(|r| {
            let property = r.ident("a property name")?;
            r.keyword("with", "'with'")?;
            let method = match &r.tok {
                Tok::Ident(m) if m.eq_ignore_ascii_case("sum") => Method::Sum,
                Tok::Ident(m) if m.eq_ignore_ascii_case("min") => Method::Min,
                Tok::Ident(m) if m.eq_ignore_ascii_case("max") => Method::Max,
                Tok::Ident(m) if m.eq_ignore_ascii_case("average") => Method::Average,
                _ => return Err(r.unexpected("sum, min, max or average")),
            };
            r.bump()?;
            r.keyword("as", "'as'")?;
            let alias = r.ident("an alias")?;
            Ok(Aggregate {
                property,
                method,
                alias,
            })
        })?;
        self.expect(&Tok::RParen, "')'")?;
        Ok(aggs)
    }
}

/// Parses `$apply`.
pub fn parse_apply(text: &str) -> Result<Apply<String>, ParseError> {
    crate::options::check_len(text, QueryOption::Apply, crate::Limits::default())?;
    let mut r = Reader::new(text)?;
    let apply = if r.is_keyword("groupby") {
        r.bump()?;
        r.expect(&Tok::LParen, "'('")?;
        r.expect(&Tok::LParen, "'(' and the properties to group by")?;
        let group_by = r.list(|r| r.ident("a property name"))?;
        r.expect(&Tok::RParen, "')'")?;
        let aggregates = if r.tok == Tok::Comma {
            r.bump()?;
            r.aggregate()?
        } else {
            Vec::new()
        };
        r.expect(&Tok::RParen, "')'")?;
        Apply { group_by, aggregates }
    } else {
        Apply {
            group_by: Vec::new(),
            aggregates: r.aggregate()?,
        }
    };
    if r.tok != Tok::Eof {
        return Err(r.unexpected("the end of $apply"));
    }
    Ok(apply)
}

/// Checks `$apply` against `schema`: grouped properties are selectable scalars, aggregated ones
/// integers; canonical names out.
pub fn validate_apply(
    apply: &Apply<String>,
    schema: &EntitySchema,
) -> Result<Apply<&'static str>, QueryError> {
    let find = |name: &str, ok: fn(Type) -> bool| {
        schema
            .property(name)
            .filter(|p| p.select && ok(p.ty))
            .map(|p| p.name)
            .ok_or_else(|| QueryError::UnknownProperty {
                option: QueryOption::Apply,
                type_name: schema.type_name,
                name: name.to_owned(),
            })
    };
    let scalar = |t: Type| !matches!(t, Type::Opaque | Type::Collection(_));
    Ok(Apply {
        group_by: apply
            .group_by
            .iter()
            .map(|g| find(g, scalar))
            .collect::<Result<_, _>>()?,
        aggregates: apply
            .aggregates
            .iter()
            .map(|a| {
                Ok(Aggregate {
                    property: find(&a.property, |t| t == Type::Int)?,
                    method: a.method,
                    alias: a.alias.clone(),
                })
            })
            .collect::<Result<_, QueryError>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cloud_schema::ALLOTMENTS;

    #[test]
    fn the_documented_apply_parses_and_validates() {
        let a = parse_apply(
            "groupby((skuId,skuPartNumber), aggregate(allottedUnits with sum as totalAllottedUnits, consumedUnits WITH max AS most))",
        )
        .unwrap();
        let v = validate_apply(&a, &ALLOTMENTS).unwrap();
        assert_eq!(v.group_by, ["skuId", "skuPartNumber"]);
        assert_eq!(v.aggregates[1].method, Method::Max);
        assert_eq!(v.aggregates[1].alias, "most");
        let alone = parse_apply("aggregate(consumedUnits with average as avg)").unwrap();
        assert!(alone.group_by.is_empty());
        assert!(validate_apply(&parse_apply("groupby((services))").unwrap(), &ALLOTMENTS).is_err());
        assert!(
            validate_apply(
                &parse_apply("aggregate(skuId with sum as s)").unwrap(),
                &ALLOTMENTS
            )
            .is_err()
        );
        for bad in [
            "filter(x)",
            "groupby((skuId)",
            "groupby(skuId)",
            "aggregate(a with median as m)",
            "aggregate()",
            "groupby((a)) x",
            "\0",
        ] {
            assert!(parse_apply(bad).is_err(), "{bad}");
        }
    }
}
