//! Validation: a parsed [`Expr`] checked against an [`EntitySchema`] becomes a typed [`Cond`],
//! with every property resolved to its SQL column, every literal converted to the property's
//! type, and every operator checked against the property's support level.
//!
//! `advanced` says whether the request is in advanced query mode (`ConsistencyLevel: eventual`
//! and `$count=true`); an operator that needs it without it is [`QueryError::NeedsAdvanced`].

use chrono::{DateTime, NaiveTime, Utc};
use uuid::Uuid;

use crate::ast::{CmpOp, Expr, Func, LambdaKind, Literal, OrderBy, Path, Search};
use crate::error::{QueryError, QueryOption};
use crate::schema::{Collection, Column, EntitySchema, Property, Support, Type, find};
use crate::sql::SortKey;

/// A value bound to a SQL parameter.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Param {
    /// Bind as the store's id type (TEXT on SQLite, `uuid` on PostgreSQL).
    Uuid(Uuid),
    Text(String),
    Int(i64),
    Bool(bool),
    DateTime(DateTime<Utc>),
}

/// A validated condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    And(Box<Cond>, Box<Cond>),
    Or(Box<Cond>, Box<Cond>),
    Not(Box<Cond>),
    Cmp {
        column: Column,
        op: CmpOp,
        value: Param,
    },
    /// `column eq null` (`negated`: `ne null`).
    Null {
        column: Column,
        negated: bool,
    },
    In {
        column: Column,
        values: Vec<Param>,
    },
    /// `startswith`/`endswith`/`contains` with the (un-escaped) text.
    Like {
        column: Column,
        func: Func,
        text: String,
    },
    /// `$search` term: a word of `column` starts with `text`.
    Word {
        column: Column,
        text: String,
    },
    /// `collection/any(...)` (`body: None` is `any()`) or `collection/all(...)`.
    Lambda {
        collection: &'static Collection,
        kind: LambdaKind,
        body: Option<Box<Cond>>,
    },
    /// `collection/$count eq 0` (`empty`), `ne 0` (`!empty`).
    Empty {
        collection: &'static Collection,
        empty: bool,
    },
}

/// What the checks of one request found, besides the condition.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Usage {
    /// Some operator needed advanced query mode (and the request had it).
    pub advanced: bool,
}

struct Ctx<'s> {
    schema: &'s EntitySchema,
    advanced: bool,
    used_advanced: bool,
    /// Open lambdas, innermost last: (variable, collection).
    scopes: Vec<(String, &'static Collection)>,
}

/// Checks `expr` as a `$filter` on `schema`.
pub fn validate_filter(
    expr: &Expr,
    schema: &EntitySchema,
    advanced: bool,
) -> Result<(Cond, Usage), QueryError> {
    if !schema.filter {
        return Err(QueryError::OptionNotSupported {
            option: QueryOption::Filter,
        });
    }
    let mut cx = Ctx {
        schema,
        advanced,
        used_advanced: false,
        scopes: Vec::new(),
    };
    let c = cx.cond(expr, false)?;
    Ok((
        c,
        Usage {
            advanced: cx.used_advanced,
        },
    ))
}

fn literal_type(l: &Literal) -> &'static str {
    match l {
        Literal::Null => "null",
        Literal::Bool(_) => "Edm.Boolean",
        Literal::Int(_) => "Edm.Int64",
        Literal::Decimal(_) => "Edm.Double",
        Literal::String(_) => "Edm.String",
        Literal::Guid(_) => "Edm.Guid",
        Literal::Date(_) => "Edm.Date",
        Literal::DateTime(_) => "Edm.DateTimeOffset",
    }
}

/// `l` as a parameter for a property of type `ty`.
fn convert(ty: Type, l: &Literal, op: &'static str) -> Result<Param, QueryError> {
    let mismatch = || QueryError::IncompatibleTypes {
        left: ty.edm(),
        right: literal_type(l),
        operator: op,
    };
    Ok(match (ty, l) {
        (Type::Guid, Literal::Guid(g)) => Param::Uuid(*g),
        // Directory `id`s are strings in Graph's schema, so clients quote them.
        (Type::Guid, Literal::String(s)) => Param::Uuid(
            Uuid::parse_str(s)
                .map_err(|_| QueryError::Unsupported(format!("Invalid object identifier '{s}'.")))?,
        ),
        (Type::String, Literal::String(s)) => Param::Text(s.clone()),
        (Type::Bool, Literal::Bool(b)) => Param::Bool(*b),
        (Type::Int, Literal::Int(i)) => Param::Int(*i),
        (Type::DateTime, Literal::DateTime(t)) => Param::DateTime(*t),
        (Type::DateTime, Literal::Date(d)) => Param::DateTime(d.and_time(NaiveTime::MIN).and_utc()),
        _ => return Err(mismatch()),
    })
}

impl Ctx<'_> {
    fn need(
        &mut self,
        s: Support,
        operator: &str,
        property: &str,
        resource: &'static str,
    ) -> Result<(), QueryError> {
        match s {
            Support::No => Err(QueryError::UnsupportedFilter {
                property: property.to_owned(),
                resource,
            }),
            Support::Default => Ok(()),
            Support::Advanced if self.advanced => {
                self.used_advanced = true;
                Ok(())
            }
            Support::Advanced => Err(QueryError::NeedsAdvanced {
                operator: operator.to_owned(),
            }),
        }
    }

    /// The property a path names, with the resource name for messages.
    fn resolve(&self, path: &Path) -> Result<(&'static Property, &'static str), QueryError> {
        let unknown = |type_name: &'static str, name: &str| QueryError::UnknownProperty {
            option: QueryOption::Filter,
            type_name,
            name: name.to_owned(),
        };
        match &path.var {
            None => {
                let first = &path.segments[0];
                if path.segments.len() > 1 {
                    // A property of a complex property (`initiatedBy/user/id`): a schema may
                    // declare the whole path as one filterable property.
                    let whole = path.segments.join("/");
                    return match self.schema.property(&whole) {
                        Some(p) => Ok((p, self.schema.resource)),
                        None if self.schema.property(first).is_none() => {
                            Err(unknown(self.schema.type_name, first))
                        }
                        None => Err(QueryError::UnsupportedFilter {
                            property: path.to_string(),
                            resource: self.schema.resource,
                        }),
                    };
                }
                let p = self
                    .schema
                    .property(first)
                    .ok_or_else(|| unknown(self.schema.type_name, first))?;
                Ok((p, self.schema.resource))
            }
            Some(v) => {
                let Some((inner, coll)) = self.scopes.last() else {
                    return Err(unknown(self.schema.type_name, v));
                };
                if inner != v {
                    // An outer lambda's variable inside an inner lambda: the subqueries would
                    // need their own aliases; Graph has no such filter on these entities.
                    return Err(QueryError::Unsupported(format!(
                        "The lambda variable '{v}' is not the innermost one; nested lambdas may only use their own variable."
                    )));
                }
                match path.segments.as_slice() {
                    [one] => Ok((
                        find(coll.element, one).ok_or_else(|| unknown(coll.type_name, one))?,
                        self.schema.resource,
                    )),
                    [] => Err(QueryError::UnsupportedFilter {
                        property: v.clone(),
                        resource: self.schema.resource,
                    }),
                    _ => Err(QueryError::UnsupportedFilter {
                        property: path.to_string(),
                        resource: self.schema.resource,
                    }),
                }
            }
        }
    }

    fn scalar(&self, path: &Path) -> Result<(&'static Property, Column, &'static str), QueryError> {
        let (p, resource) = self.resolve(path)?;
        match (p.ty, p.column) {
            (Type::Collection(_), _) | (Type::Opaque, _) | (_, None) => Err(QueryError::UnsupportedFilter {
                property: p.name.to_owned(),
                resource,
            }),
            (_, Some(c)) => Ok((p, c, resource)),
        }
    }

    fn collection(
        &self,
        path: &Path,
    ) -> Result<(&'static Property, &'static Collection, &'static str), QueryError> {
        let (p, resource) = self.resolve(path)?;
        match p.ty {
            Type::Collection(c) => Ok((p, c, resource)),
            _ => Err(QueryError::UnsupportedFilter {
                property: p.name.to_owned(),
                resource,
            }),
        }
    }

    fn not_check(&mut self, negated: bool, p: &Property, resource: &'static str) -> Result<(), QueryError> {
        if negated {
            self.need(p.filter.not, "not", p.name, resource)?;
        }
        Ok(())
    }

    fn cond(&mut self, e: &Expr, negated: bool) -> Result<Cond, QueryError> {
        match e {
            Expr::And(l, r) => Ok(Cond::And(
                Box::new(self.cond(l, negated)?),
                Box::new(self.cond(r, negated)?),
            )),
            Expr::Or(l, r) => Ok(Cond::Or(
                Box::new(self.cond(l, negated)?),
                Box::new(self.cond(r, negated)?),
            )),
            Expr::Not(inner) => Ok(Cond::Not(Box::new(self.cond(inner, true)?))),
            Expr::Compare(l, op, r) => self.compare(l, *op, r, negated),
            Expr::In(l, list) => {
                let Expr::Path(path) = l.as_ref() else {
                    return Err(self.shape(e));
                };
                let (p, column, resource) = self.scalar(path)?;
                self.need(p.filter.in_list, "in", p.name, resource)?;
                self.not_check(negated, p, resource)?;
                let values = list
                    .iter()
                    .map(|v| convert(p.ty, v, "In"))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Cond::In { column, values })
            }
            Expr::Call(func, args) => {
                let [Expr::Path(path), Expr::Literal(Literal::String(text))] = args.as_slice() else {
                    return Err(self.shape(e));
                };
                let (p, column, resource) = self.scalar(path)?;
                if p.ty != Type::String {
                    return Err(QueryError::UnsupportedFilter {
                        property: p.name.to_owned(),
                        resource,
                    });
                }
                let (support, name) = match func {
                    Func::StartsWith => (p.filter.starts_with, "startsWith"),
                    Func::EndsWith => (p.filter.ends_with, "endsWith"),
                    Func::Contains => (p.filter.contains, "contains"),
                };
                self.need(support, name, p.name, resource)?;
                self.not_check(negated, p, resource)?;
                Ok(Cond::Like {
                    column,
                    func: *func,
                    text: text.clone(),
                })
            }
            Expr::Lambda(l) => {
                let (p, collection, resource) = self.collection(&l.path)?;
                let support = match l.kind {
                    LambdaKind::Any => p.filter.any,
                    LambdaKind::All => p.filter.all,
                };
                self.need(support, l.kind.name(), p.name, resource)?;
                self.not_check(negated, p, resource)?;
                let body = match (&l.var, &l.body) {
                    (Some(v), Some(b)) => {
                        self.scopes.push((v.clone(), collection));
                        let c = self.cond(b, false);
                        self.scopes.pop();
                        Some(Box::new(c?))
                    }
                    _ => None,
                };
                Ok(Cond::Lambda {
                    collection,
                    kind: l.kind,
                    body,
                })
            }
            Expr::Count(_) | Expr::Path(_) | Expr::Literal(_) => Err(self.shape(e)),
        }
    }

    fn shape(&self, e: &Expr) -> QueryError {
        QueryError::Unsupported(format!(
            "Unsupported query: the expression '{e}' is not supported in $filter."
        ))
    }

    fn compare(&mut self, l: &Expr, op: CmpOp, r: &Expr, negated: bool) -> Result<Cond, QueryError> {
        // Literal on the left: swap the operands.
        let (l, op, r) = match (l, r) {
            (Expr::Literal(_), Expr::Path(_) | Expr::Count(_)) => (r, op.flipped(), l),
            _ => (l, op, r),
        };
        match (l, r) {
            (Expr::Count(path), Expr::Literal(lit)) => {
                let (p, collection, resource) = self.collection(path)?;
                let empty = match (op, lit) {
                    (CmpOp::Eq, Literal::Int(0)) => true,
                    (CmpOp::Ne, Literal::Int(0)) => false,
                    _ => {
                        return Err(QueryError::UnsupportedFilter {
                            property: p.name.to_owned(),
                            resource,
                        });
                    }
                };
                self.need(p.filter.count_zero, "$count", p.name, resource)?;
                self.not_check(negated, p, resource)?;
                Ok(Cond::Empty { collection, empty })
            }
            (Expr::Path(path), Expr::Literal(lit)) => {
                let (p, column, resource) = self.scalar(path)?;
                self.not_check(negated, p, resource)?;
                if *lit == Literal::Null {
                    return match op {
                        CmpOp::Eq => {
                            self.need(p.filter.eq_null, "eq null", p.name, resource)?;
                            Ok(Cond::Null {
                                column,
                                negated: false,
                            })
                        }
                        CmpOp::Ne => {
                            self.need(p.filter.eq_null, "ne null", p.name, resource)?;
                            self.need(p.filter.ne, "ne", p.name, resource)?;
                            Ok(Cond::Null {
                                column,
                                negated: true,
                            })
                        }
                        _ => Err(QueryError::UnsupportedFilter {
                            property: p.name.to_owned(),
                            resource,
                        }),
                    };
                }
                let support = match op {
                    CmpOp::Eq => p.filter.eq,
                    CmpOp::Ne => p.filter.ne,
                    CmpOp::Ge | CmpOp::Le => p.filter.ge_le,
                    CmpOp::Gt | CmpOp::Lt => p.filter.gt_lt,
                };
                let value = convert(p.ty, lit, op.kind_name())?;
                self.need(support, op.keyword(), p.name, resource)?;
                Ok(Cond::Cmp { column, op, value })
            }
            _ => Err(self.shape(&Expr::Compare(Box::new(l.clone()), op, Box::new(r.clone())))),
        }
    }
}

impl Cond {
    /// The GUIDs `v` when this condition is exactly `collection/any(x: x/p eq v)` or
    /// `collection/any(x: x/p in (v, ...))` for a GUID element property `p`: the shape of
    /// Graph's license filters, which a store may answer from an index of its own.
    #[must_use]
    pub fn any_guid_in(&self, collection: &'static Collection) -> Option<Vec<Uuid>> {
        let Self::Lambda {
            collection: c,
            kind: LambdaKind::Any,
            body: Some(body),
        } = self
        else {
            return None;
        };
        if !std::ptr::eq(*c, collection) {
            return None;
        }
        match body.as_ref() {
            Self::Cmp {
                op: CmpOp::Eq,
                value: Param::Uuid(u),
                ..
            } => Some(vec![*u]),
            Self::In { values, .. } => values
                .iter()
                .map(|v| match v {
                    Param::Uuid(u) => Some(*u),
                    _ => None,
                })
                .collect(),
            _ => None,
        }
    }
}

/// Checks `$select` names against `schema`: canonical names out, duplicates dropped.
pub fn validate_select(names: &[String], schema: &EntitySchema) -> Result<Vec<&'static str>, QueryError> {
    let mut out: Vec<&'static str> = Vec::new();
    for n in names {
        let p = schema
            .property(n)
            .filter(|p| p.select)
            .ok_or_else(|| QueryError::UnknownProperty {
                option: QueryOption::Select,
                type_name: schema.type_name,
                name: n.clone(),
            })?;
        if !out.contains(&p.name) {
            out.push(p.name);
        }
    }
    Ok(out)
}

/// Checks `$orderby` against `schema`. `with_filter`: the request also has a `$filter` (sorting a
/// filtered directory query needs advanced mode, spec §4.5).
pub fn validate_orderby(
    items: &[OrderBy],
    schema: &EntitySchema,
    advanced: bool,
    with_filter: bool,
) -> Result<Vec<SortKey>, QueryError> {
    if with_filter && !advanced {
        return Err(QueryError::SortingNotSupported);
    }
    let mut out: Vec<SortKey> = Vec::new();
    for item in items {
        let [name] = item.path.segments.as_slice() else {
            return Err(QueryError::SortingNotSupported);
        };
        let p = schema.property(name).ok_or_else(|| QueryError::UnknownProperty {
            option: QueryOption::OrderBy,
            type_name: schema.type_name,
            name: name.clone(),
        })?;
        let (Some(column), ok) = (p.column, p.orderby.allowed()) else {
            return Err(QueryError::SortingNotSupported);
        };
        if !ok || (p.orderby == Support::Advanced && !advanced) || out.iter().any(|k| k.column == column) {
            return Err(QueryError::SortingNotSupported);
        }
        out.push(SortKey {
            column,
            ty: p.ty,
            dir: item.direction,
        });
    }
    Ok(out)
}

/// Checks `$search` against `schema` (the caller has checked `ConsistencyLevel: eventual`).
pub fn validate_search(search: &Search, schema: &EntitySchema) -> Result<Cond, QueryError> {
    let mut any: Option<Cond> = None;
    for all in &search.any_of {
        let mut conj: Option<Cond> = None;
        for t in all {
            let p = schema
                .property(&t.property)
                .ok_or_else(|| QueryError::UnknownProperty {
                    option: QueryOption::Search,
                    type_name: schema.type_name,
                    name: t.property.clone(),
                })?;
            let (true, Some(column)) = (p.search, p.column) else {
                return Err(QueryError::Unsupported(format!(
                    "The property '{}' does not support $search.",
                    p.name
                )));
            };
            let w = Cond::Word {
                column,
                text: t.value.clone(),
            };
            conj = Some(match conj {
                None => w,
                Some(c) => Cond::And(Box::new(c), Box::new(w)),
            });
        }
        if let Some(c) = conj {
            any = Some(match any {
                None => c,
                Some(a) => Cond::Or(Box::new(a), Box::new(c)),
            });
        }
    }
    any.ok_or_else(|| QueryError::Unsupported("An empty $search.".to_owned()))
}

#[cfg(test)]
mod tests;
