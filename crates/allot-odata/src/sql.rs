//! SQL emission: a validated [`Cond`] becomes a `WHERE` fragment with `$n` placeholders and the
//! values to bind, for SQLite or PostgreSQL. Values are never written into the SQL text.
//!
//! - String columns compare case-insensitively: `LOWER(col) = $n` with the value lower-cased here
//!   (or the already-lowered column, `users.upn_lower`).
//! - `startswith`/`endswith`/`contains` and `$search` words are `LIKE $n ESCAPE '\'` with `%`,
//!   `_` and `\` escaped in the value.
//! - `eq null` is `IS NULL`; a comparison with a NULL column is false (SQL's three-valued logic),
//!   and `not` of it is false too, as in Graph, where `ne` never matches a missing value (inferred).
//! - `x/any(v: body)` is `EXISTS (SELECT 1 FROM <from> AND (body))`; `x/all(v: body)` is
//!   `NOT EXISTS (SELECT 1 FROM <from> AND NOT (body))`; `x/$count eq 0` is `NOT EXISTS (...)`.
//! - UUIDs are bound as [`Param::Uuid`], which the store binds as its id type (TEXT on SQLite,
//!   `uuid` on PostgreSQL), so they compare with the id columns of either engine.

use std::fmt::Write as _;

use crate::ast::{CmpOp, Direction, Func, LambdaKind};
use crate::schema::{Case, Column, Dialect, Sql, Type};
use crate::validate::{Cond, Param};

/// A `WHERE` fragment and its parameters, numbered from the `first` given to [`to_sql`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqlFilter {
    pub sql: String,
    pub params: Vec<Param>,
}

/// Writes `cond` for `dialect`; the first parameter is `$first`.
#[must_use]
pub fn to_sql(cond: &Cond, dialect: Dialect, first: usize) -> SqlFilter {
    let mut e = Emitter {
        dialect,
        next: first,
        sql: String::new(),
        params: Vec::new(),
    };
    e.cond(cond);
    SqlFilter {
        sql: e.sql,
        params: e.params,
    }
}

/// One key of a sorted, keyset-paged query: the column, its type (how a token value binds
/// back) and the direction. Sort keys are never NULL (only non-null properties are sortable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SortKey {
    pub column: Column,
    pub ty: Type,
    pub dir: Direction,
}

impl SortKey {
    /// An ascending key on `expr` (a tie-break: the entity's own key columns).
    #[must_use]
    pub const fn asc(expr: Sql, ty: Type) -> Self {
        Self {
            column: Column {
                expr,
                case: Case::Exact,
            },
            ty,
            dir: Direction::Asc,
        }
    }
}

/// `ORDER BY` items (without the keyword) for `keys`.
#[must_use]
pub fn order_by(keys: &[SortKey], dialect: Dialect) -> String {
    let items: Vec<String> = keys
        .iter()
        .map(|k| {
            let dir = match k.dir {
                Direction::Asc => "ASC",
                Direction::Desc => "DESC",
            };
            format!("{} {dir}", column_expr(k.column, dialect))
        })
        .collect();
    items.join(", ")
}

/// A SQL expression giving a row's values of `keys` as one JSON array text: what a next-page
/// token carries.
#[must_use]
pub fn key_values(keys: &[SortKey], dialect: Dialect) -> String {
    let items: Vec<String> = keys.iter().map(|k| column_expr(k.column, dialect)).collect();
    match dialect {
        Dialect::Sqlite => format!("json_array({})", items.join(", ")),
        Dialect::Postgres => format!("CAST(json_build_array({}) AS text)", items.join(", ")),
    }
}

/// Parameter `$n`, bound as text, read as a value of type `ty`.
#[must_use]
pub fn typed_param(ty: Type, dialect: Dialect, n: usize) -> String {
    match (dialect, ty) {
        (Dialect::Sqlite, Type::Int) => format!("CAST(${n} AS INTEGER)"),
        (Dialect::Sqlite, _) => format!("${n}"),
        (Dialect::Postgres, Type::Guid) => format!("CAST(${n} AS uuid)"),
        (Dialect::Postgres, Type::Int) => format!("CAST(${n} AS bigint)"),
        (Dialect::Postgres, Type::DateTime) => format!("CAST(${n} AS timestamptz)"),
        (Dialect::Postgres, _) => format!("CAST(${n} AS text)"),
    }
}

/// The condition "after the row whose key values are bound as text at `$first`…" in the order
/// of `keys`: `k1 > v1 OR (k1 = v1 AND k2 > v2) OR …` (`<` for descending keys).
#[must_use]
pub fn keyset_after(keys: &[SortKey], dialect: Dialect, first: usize) -> String {
    let mut any = Vec::new();
    for (i, k) in keys.iter().enumerate() {
        let mut all: Vec<String> = keys[..i]
            .iter()
            .enumerate()
            .map(|(j, e)| {
                format!(
                    "{} = {}",
                    column_expr(e.column, dialect),
                    typed_param(e.ty, dialect, first + j)
                )
            })
            .collect();
        let op = match k.dir {
            Direction::Asc => ">",
            Direction::Desc => "<",
        };
        all.push(format!(
            "{} {op} {}",
            column_expr(k.column, dialect),
            typed_param(k.ty, dialect, first + i)
        ));
        any.push(format!("({})", all.join(" AND ")));
    }
    format!("({})", any.join(" OR "))
}

/// The condition "the row whose values of `keys` are bound as text at `$first`…".
#[must_use]
pub fn key_equals(keys: &[SortKey], dialect: Dialect, first: usize) -> String {
    let all: Vec<String> = keys
        .iter()
        .enumerate()
        .map(|(i, k)| {
            format!(
                "{} = {}",
                column_expr(k.column, dialect),
                typed_param(k.ty, dialect, first + i)
            )
        })
        .collect();
    format!("({})", all.join(" AND "))
}

fn column_expr(c: Column, dialect: Dialect) -> String {
    match c.case {
        Case::Insensitive => format!("LOWER({})", c.expr.get(dialect)),
        Case::Exact | Case::Lowered => c.expr.get(dialect).to_owned(),
    }
}

/// `%`, `_` and `\` escaped for `LIKE ... ESCAPE '\'`.
#[must_use]
pub fn escape_like(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

struct Emitter {
    dialect: Dialect,
    next: usize,
    sql: String,
    params: Vec<Param>,
}

impl Emitter {
    fn param(&mut self, column: Column, p: Param) {
        let p = match (column.case, p) {
            (Case::Insensitive | Case::Lowered, Param::Text(s)) => Param::Text(s.to_lowercase()),
            (_, p) => p,
        };
        let _ = write!(self.sql, "${}", self.next);
        self.next += 1;
        self.params.push(p);
    }

    fn col(&mut self, c: Column) {
        let e = column_expr(c, self.dialect);
        self.sql.push_str(&e);
    }

    fn like(&mut self, column: Column, pattern: String) {
        self.col(column);
        self.sql.push_str(" LIKE ");
        self.param(column, Param::Text(pattern));
        self.sql.push_str(" ESCAPE '\\'");
    }

    fn cond(&mut self, c: &Cond) {
        match c {
            Cond::And(l, r) => {
                self.sql.push('(');
                self.cond(l);
                self.sql.push_str(" AND ");
                self.cond(r);
                self.sql.push(')');
            }
            Cond::Or(l, r) => {
                self.sql.push('(');
                self.cond(l);
                self.sql.push_str(" OR ");
                self.cond(r);
                self.sql.push(')');
            }
            Cond::Not(inner) => {
                self.sql.push_str("NOT (");
                self.cond(inner);
                self.sql.push(')');
            }
            Cond::Cmp { column, op, value } => {
                self.col(*column);
                let sym = match op {
                    CmpOp::Eq => " = ",
                    CmpOp::Ne => " <> ",
                    CmpOp::Gt => " > ",
                    CmpOp::Ge => " >= ",
                    CmpOp::Lt => " < ",
                    CmpOp::Le => " <= ",
                };
                self.sql.push_str(sym);
                self.param(*column, value.clone());
            }
            Cond::Null { column, negated } => {
                self.sql.push_str(column.expr.get(self.dialect));
                self.sql
                    .push_str(if *negated { " IS NOT NULL" } else { " IS NULL" });
            }
            Cond::In { column, values } => {
                self.col(*column);
                self.sql.push_str(" IN (");
                for (i, v) in values.iter().enumerate() {
                    if i > 0 {
                        self.sql.push_str(", ");
                    }
                    self.param(*column, v.clone());
                }
                self.sql.push(')');
            }
            Cond::Like { column, func, text } => {
                let t = escape_like(text);
                let pattern = match func {
                    Func::StartsWith => format!("{t}%"),
                    Func::EndsWith => format!("%{t}"),
                    Func::Contains => format!("%{t}%"),
                };
                self.like(*column, pattern);
            }
            Cond::Word { column, text } => {
                // A word of the value starts with the text: at the start, or after a space.
                let t = escape_like(text);
                self.sql.push('(');
                self.like(*column, format!("{t}%"));
                self.sql.push_str(" OR ");
                self.like(*column, format!("% {t}%"));
                self.sql.push(')');
            }
            Cond::Lambda {
                collection,
                kind,
                body,
            } => {
                let from = collection.from.get(self.dialect);
                match (kind, body) {
                    (LambdaKind::Any, None) => {
                        let _ = write!(self.sql, "EXISTS (SELECT 1 FROM {from})");
                    }
                    (LambdaKind::Any, Some(b)) => {
                        let _ = write!(self.sql, "EXISTS (SELECT 1 FROM {from} AND ");
                        self.cond(b);
                        self.sql.push(')');
                    }
                    (LambdaKind::All, b) => {
                        let _ = write!(self.sql, "NOT EXISTS (SELECT 1 FROM {from} AND NOT (");
                        match b {
                            Some(b) => self.cond(b),
                            None => self.sql.push_str("1 = 1"),
                        }
                        self.sql.push_str("))");
                    }
                }
            }
            Cond::Empty { collection, empty } => {
                let from = collection.from.get(self.dialect);
                let not = if *empty { "NOT " } else { "" };
                let _ = write!(self.sql, "{not}EXISTS (SELECT 1 FROM {from})");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::parse_filter;
    use crate::schema::{EntitySchema, GROUPS, USERS};
    use crate::validate::{validate_filter, validate_search};
    use uuid::Uuid;

    const G1: &str = "184efa21-98c3-4e5d-95ab-d07053a96e67";
    const G2: &str = "c7df2760-2c81-4ef7-b578-5b5392b571df";

    fn emit(schema: &EntitySchema, filter: &str, d: Dialect) -> SqlFilter {
        let e = parse_filter(filter).unwrap();
        let (c, _) = validate_filter(&e, schema, true).unwrap_or_else(|e| panic!("{filter}: {e}"));
        to_sql(&c, d, 2)
    }

    fn uuid(s: &str) -> Param {
        Param::Uuid(Uuid::parse_str(s).unwrap())
    }

    /// The emitted SQL, for both dialects (the same text unless a column differs per engine).
    #[test]
    fn user_filters_emit_the_expected_sql() {
        let la =
            "license_assignments la WHERE la.user_id = u.id AND la.state IN ('Active', 'ActiveWithError')";
        let cases: Vec<(String, String, Vec<Param>)> = vec![
            (
                "displayName eq 'Ada'".into(),
                "LOWER(u.display_name) = $2".into(),
                vec![Param::Text("ada".into())],
            ),
            (
                "userPrincipalName eq 'Ada@Contoso.com'".into(),
                "u.upn_lower = $2".into(),
                vec![Param::Text("ada@contoso.com".into())],
            ),
            (
                "startswith(displayName,'A_b%')".into(),
                "LOWER(u.display_name) LIKE $2 ESCAPE '\\'".into(),
                vec![Param::Text("a\\_b\\%%".into())],
            ),
            (
                "endswith(mail,'@x.com')".into(),
                "LOWER(u.mail) LIKE $2 ESCAPE '\\'".into(),
                vec![Param::Text("%@x.com".into())],
            ),
            (
                "usageLocation eq null".into(),
                "u.usage_location IS NULL".into(),
                vec![],
            ),
            (
                "usageLocation ne null".into(),
                "u.usage_location IS NOT NULL".into(),
                vec![],
            ),
            (
                "accountEnabled eq true and usageLocation in ('US', 'gb')".into(),
                "(u.account_enabled = $2 AND LOWER(u.usage_location) IN ($3, $4))".into(),
                vec![
                    Param::Bool(true),
                    Param::Text("us".into()),
                    Param::Text("gb".into()),
                ],
            ),
            (
                format!("id eq '{G1}' or id eq {G2}"),
                "(u.id = $2 OR u.id = $3)".into(),
                vec![uuid(G1), uuid(G2)],
            ),
            (
                format!("assignedLicenses/any(x:x/skuId eq {G1})"),
                format!("EXISTS (SELECT 1 FROM {la} AND la.sku_id = $2)"),
                vec![uuid(G1)],
            ),
            (
                format!("assignedLicenses/any(x:x/skuId in ({G1}, {G2}))"),
                format!("EXISTS (SELECT 1 FROM {la} AND la.sku_id IN ($2, $3))"),
                vec![uuid(G1), uuid(G2)],
            ),
            (
                format!("not assignedLicenses/any(x:x/skuId eq {G1})"),
                format!("NOT (EXISTS (SELECT 1 FROM {la} AND la.sku_id = $2))"),
                vec![uuid(G1)],
            ),
            (
                "assignedLicenses/$count eq 0".into(),
                format!("NOT EXISTS (SELECT 1 FROM {la})"),
                vec![],
            ),
            (
                "assignedLicenses/$count ne 0".into(),
                format!("EXISTS (SELECT 1 FROM {la})"),
                vec![],
            ),
            (
                "assignedLicenses/any()".into(),
                format!("EXISTS (SELECT 1 FROM {la})"),
                vec![],
            ),
            (
                format!("licenseDetails/any(l:l/skuId eq {G2})"),
                format!("EXISTS (SELECT 1 FROM {la} AND la.sku_id = $2)"),
                vec![uuid(G2)],
            ),
            (
                "createdDateTime ge 2024-01-01 and createdDateTime le 2024-06-30T12:00:00Z".into(),
                "(u.created_at >= $2 AND u.created_at <= $3)".into(),
                vec![
                    Param::DateTime("2024-01-01T00:00:00Z".parse().unwrap()),
                    Param::DateTime("2024-06-30T12:00:00Z".parse().unwrap()),
                ],
            ),
            (
                "not (displayName eq 'a' or displayName ne 'b')".into(),
                "NOT ((LOWER(u.display_name) = $2 OR LOWER(u.display_name) <> $3))".into(),
                vec![Param::Text("a".into()), Param::Text("b".into())],
            ),
        ];
        for (filter, want, params) in cases {
            for d in [Dialect::Sqlite, Dialect::Postgres] {
                let got = emit(&USERS, &filter, d);
                assert_eq!(got.sql, want, "{filter} on {d:?}");
                assert_eq!(got.params, params, "{filter} on {d:?}");
            }
        }
    }

    #[test]
    fn a_literal_on_the_left_is_swapped() {
        let got = emit(&USERS, "'US' le usageLocation", Dialect::Sqlite);
        assert_eq!(got.sql, "LOWER(u.usage_location) >= $2");
    }

    #[test]
    fn group_collections_differ_per_dialect() {
        let f = format!("assignedLicenses/any(x:x/skuId eq {G1}) and hasMembersWithLicenseErrors eq false");
        let sqlite = emit(&GROUPS, &f, Dialect::Sqlite);
        assert_eq!(
            sqlite.sql,
            "(EXISTS (SELECT 1 FROM json_each(g.assigned_licenses) WHERE 1 = 1 AND json_extract(value, '$.skuId') = $2) \
             AND EXISTS (SELECT 1 FROM license_assignments le WHERE le.source_group_id = g.id AND le.state IN ('Error', 'ActiveWithError')) = $3)"
        );
        let pg = emit(&GROUPS, &f, Dialect::Postgres);
        assert_eq!(
            pg.sql,
            "(EXISTS (SELECT 1 FROM jsonb_array_elements(CAST(g.assigned_licenses AS jsonb)) AS value WHERE TRUE AND CAST(value->>'skuId' AS uuid) = $2) \
             AND EXISTS (SELECT 1 FROM license_assignments le WHERE le.source_group_id = g.id AND le.state IN ('Error', 'ActiveWithError')) = $3)"
        );
        assert_eq!(pg.params, vec![uuid(G1), Param::Bool(false)]);
        assert_eq!(
            emit(&GROUPS, "assignedLicenses/$count eq 0", Dialect::Sqlite).sql,
            "NOT EXISTS (SELECT 1 FROM json_each(g.assigned_licenses) WHERE 1 = 1)"
        );
    }

    #[test]
    fn all_is_not_exists_of_the_negation() {
        // No directory property allows `all`; a schema that does shows the emission.
        use crate::schema::{Case, Collection, FilterOps, Property, Sql, Support, Type};
        static COLL: Collection = Collection {
            type_name: "t.e",
            from: Sql::same("e x WHERE x.o = t.id"),
            element: &[Property::filterable(
                "n",
                Type::Int,
                FilterOps {
                    gt_lt: Support::Default,
                    ..FilterOps::NONE
                },
                Sql::same("x.n"),
                Case::Exact,
            )],
        };
        static PROPS: [Property; 1] = [Property::filterable(
            "items",
            Type::Collection(&COLL),
            FilterOps {
                all: Support::Default,
                ..FilterOps::NONE
            },
            Sql::same(""),
            Case::Exact,
        )];
        static S: EntitySchema = EntitySchema {
            name: "t",
            type_name: "t.t",
            resource: "T",
            alias: "t",
            properties: &PROPS,
            filter: true,
            expand: &[],
        };
        let got = emit(&S, "items/all(i: i/n gt 3)", Dialect::Postgres);
        assert_eq!(
            got.sql,
            "NOT EXISTS (SELECT 1 FROM e x WHERE x.o = t.id AND NOT (x.n > $2))"
        );
        assert_eq!(got.params, vec![Param::Int(3)]);
    }

    #[test]
    fn search_words_match_at_word_starts() {
        let s =
            crate::options::parse_search("\"displayName:ad\" AND \"mail:x_y\" OR \"surname:Lo\"").unwrap();
        let c = validate_search(&s, &USERS).unwrap();
        let got = to_sql(&c, Dialect::Sqlite, 1);
        assert_eq!(
            got.sql,
            "(((LOWER(u.display_name) LIKE $1 ESCAPE '\\' OR LOWER(u.display_name) LIKE $2 ESCAPE '\\') \
             AND (LOWER(u.mail) LIKE $3 ESCAPE '\\' OR LOWER(u.mail) LIKE $4 ESCAPE '\\')) \
             OR (LOWER(u.surname) LIKE $5 ESCAPE '\\' OR LOWER(u.surname) LIKE $6 ESCAPE '\\'))"
        );
        let texts: Vec<String> = got
            .params
            .iter()
            .map(|p| match p {
                Param::Text(t) => t.clone(),
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(texts, ["ad%", "% ad%", "x\\_y%", "% x\\_y%", "lo%", "% lo%"]);
    }

    #[test]
    fn order_and_keyset_follow_the_keys() {
        let items = crate::options::parse_orderby("displayName desc").unwrap();
        let mut keys = crate::validate::validate_orderby(&items, &USERS, false, false).unwrap();
        keys.push(SortKey::asc(Sql::same("u.id"), Type::Guid));
        assert_eq!(
            order_by(&keys, Dialect::Sqlite),
            "LOWER(u.display_name) DESC, u.id ASC"
        );
        assert_eq!(
            keyset_after(&keys, Dialect::Postgres, 4),
            "((LOWER(u.display_name) < CAST($4 AS text)) OR (LOWER(u.display_name) = CAST($4 AS text) \
             AND u.id > CAST($5 AS uuid)))"
        );
        assert_eq!(
            key_values(&keys, Dialect::Sqlite),
            "json_array(LOWER(u.display_name), u.id)"
        );
    }
}
