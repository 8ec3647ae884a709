//! Query options of the cloudLicensing lists: `$select`, `$expand` with nested options
//! (`allotment($select=id,skuId;$filter=skuId in (…))`) and `$filter` are read by the one OData
//! parser (`allot-odata`, with its limits and spec §3.12's error codes) and matched to what
//! these lists serve: the `$filter` forms the beta pages document (`skuId eq|in`,
//! `services/any(c:c/planId eq|in …)`, joined by `and`). `$apply` (`groupby` and `aggregate`),
//! which `allot-odata` does not read, is parsed here.
//!
//! [`SkuFilter`] is what a list handler asks: whether an entity's SKU and plans match. The next
//! step (issue #15 item 3) turns the same conditions into SQL `WHERE` fragments and pages in the
//! store instead of in memory.

use std::collections::BTreeSet;

use allot_core::ids::{ServicePlanId, SkuId};
use allot_odata::ast::{CmpOp, Expr, Lambda, LambdaKind, Literal, Path};
use axum::http::StatusCode;

use crate::graph::error::{GraphError, GraphResult};

pub fn invalid_query(message: impl Into<String>) -> GraphError {
    GraphError::cloud(StatusCode::BAD_REQUEST, "badRequest", "invalidQuery", message)
}

fn invalid_filter(f: &str, why: &str) -> GraphError {
    GraphError::cloud(
        StatusCode::BAD_REQUEST,
        "badRequest",
        "invalidFilter",
        format!("Cannot process the request because it is malformed or incorrect: $filter '{f}': {why}."),
    )
}

pub fn invalid_expansion(why: impl Into<String>) -> GraphError {
    GraphError::cloud(
        StatusCode::BAD_REQUEST,
        "badRequest",
        "invalidExpansion",
        format!(
            "Cannot process the request because it is malformed or incorrect: {}.",
            why.into()
        ),
    )
}

/// What a `$filter` keeps: entities whose SKU is in `skus` and (for usage rights and allotments)
/// that have a service in `plans`. `None` = no condition.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SkuFilter {
    pub skus: Option<BTreeSet<SkuId>>,
    pub plans: Option<BTreeSet<ServicePlanId>>,
}

impl SkuFilter {
    #[must_use]
    pub fn matches(&self, sku: SkuId, plans: &[ServicePlanId]) -> bool {
        self.skus.as_ref().is_none_or(|s| s.contains(&sku))
            && self
                .plans
                .as_ref()
                .is_none_or(|want| plans.iter().any(|p| want.contains(p)))
    }
}

fn intersect<T: Ord + Copy>(a: Option<BTreeSet<T>>, b: BTreeSet<T>) -> Option<BTreeSet<T>> {
    Some(match a {
        None => b,
        Some(a) => a.intersection(&b).copied().collect(),
    })
}

/// Splits at `sep` outside parentheses.
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let (mut depth, mut start, mut out) = (0i32, 0usize, Vec::new());
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(&s[start..i]);
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

/// The GUIDs of `skuId eq G` / `skuId in (G, …)` (or `x/planId …` inside a lambda).
fn guids(f: &str, e: &Expr, var: Option<&str>, name: &str) -> Option<GraphResult<BTreeSet<uuid::Uuid>>> {
    let names = |p: &Path| {
        p.var.as_deref() == var && p.segments.len() == 1 && p.segments[0].eq_ignore_ascii_case(name)
    };
    // Quoted GUIDs are accepted too, as they always were here.
    let guid = |l: &Literal| match l {
        Literal::Guid(g) => Ok(*g),
        Literal::String(s) if let Ok(g) = allot_core::ids::parse_guid(s) => Ok(g),
        other => Err(invalid_filter(f, &format!("'{other}' is not a GUID"))),
    };
    match e {
        Expr::Compare(l, CmpOp::Eq, r) => match (l.as_ref(), r.as_ref()) {
            (Expr::Path(p), Expr::Literal(lit)) | (Expr::Literal(lit), Expr::Path(p)) if names(p) => {
                Some(guid(lit).map(|g| BTreeSet::from([g])))
            }
            _ => None,
        },
        Expr::In(l, list) => match l.as_ref() {
            Expr::Path(p) if names(p) => Some(list.iter().map(guid).collect()),
            _ => None,
        },
        _ => None,
    }
}

/// The `$filter` forms of the beta pages, for entities with `skuId` (and `services` when
/// `services` is true), read by the one OData parser (`allot-odata`): its syntax errors and
/// limits are spec §3.12's `invalidFilter`.
pub fn parse_filter(f: &str, services: bool) -> GraphResult<SkuFilter> {
    let e = allot_odata::parse_filter(f).map_err(|e| {
        let g = allot_odata::QueryError::from(e).graph(allot_odata::Surface::CloudLicensing);
        GraphError::cloud(
            StatusCode::BAD_REQUEST,
            g.code,
            g.inner_code.unwrap_or("invalidFilter"),
            g.message,
        )
    })?;
    let mut out = SkuFilter::default();
    terms(f, &e, services, &mut out)?;
    Ok(out)
}

fn terms(f: &str, e: &Expr, services: bool, out: &mut SkuFilter) -> GraphResult<()> {
    if let Expr::And(a, b) = e {
        terms(f, a, services, out)?;
        return terms(f, b, services, out);
    }
    if let Some(ids) = guids(f, e, None, "skuId") {
        out.skus = intersect(out.skus.take(), ids?.into_iter().map(SkuId::from_uuid).collect());
        return Ok(());
    }
    if let Expr::Lambda(Lambda {
        path,
        kind: LambdaKind::Any,
        var: Some(var),
        body: Some(body),
    }) = e
        && services
        && path.var.is_none()
        && path.segments.len() == 1
        && path.segments[0].eq_ignore_ascii_case("services")
    {
        let ids = guids(f, body, Some(var), "planId")
            .ok_or_else(|| invalid_filter(f, "only planId can be filtered inside services/any"))??;
        out.plans = intersect(
            out.plans.take(),
            ids.into_iter().map(ServicePlanId::from_uuid).collect(),
        );
        return Ok(());
    }
    Err(invalid_filter(
        f,
        "supported: skuId eq|in, services/any(c:c/planId eq|in), and",
    ))
}

/// One `$expand` item with its nested options.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expand {
    pub name: &'static str,
    pub select: Option<String>,
    pub filter: Option<String>,
}

/// An error of the OData layer, in spec §3.12's shape.
fn cloud_query_error(e: impl Into<allot_odata::QueryError>) -> GraphError {
    let g = e.into().graph(allot_odata::Surface::CloudLicensing);
    GraphError::cloud(
        StatusCode::BAD_REQUEST,
        g.code,
        g.inner_code.unwrap_or("invalidQuery"),
        g.message,
    )
}

/// `$expand`, read by the one OData parser and resolved against the navigation properties the
/// entity has; nested `$select` and `$filter` are kept for the entity they expand.
pub fn parse_expand(raw: Option<&str>, allowed: &[&'static str]) -> GraphResult<Vec<Expand>> {
    let Some(raw) = raw else { return Ok(Vec::new()) };
    let mut out: Vec<Expand> = Vec::new();
    for item in allot_odata::options::parse_expand(raw).map_err(cloud_query_error)? {
        let Some(canon) = allowed.iter().find(|a| a.eq_ignore_ascii_case(&item.name)) else {
            return Err(invalid_expansion(format!(
                "'{}' is not a navigation property that can be expanded here (expandable: {})",
                item.name,
                allowed.join(", ")
            )));
        };
        if item.top.is_some() {
            return Err(invalid_expansion("nested option '$top' is not supported"));
        }
        if out.iter().any(|x| x.name == *canon) {
            return Err(invalid_expansion(format!("'{canon}' is expanded twice")));
        }
        out.push(Expand {
            name: canon,
            select: item.select.map(|s| s.join(",")),
            filter: item.filter.map(|f| f.to_string()),
        });
    }
    Ok(out)
}

/// `$select` against an entity's properties (canonical names out, request order kept), read by
/// the one OData parser.
pub fn parse_select(
    raw: Option<&str>,
    entity: &str,
    known: &[&'static str],
) -> GraphResult<Option<Vec<&'static str>>> {
    let Some(raw) = raw else { return Ok(None) };
    let mut out = Vec::new();
    for name in allot_odata::options::parse_select(raw).map_err(|e| {
        let mut g = cloud_query_error(e);
        // `$select` is not a filter or an expansion: always invalidQuery.
        g.inner = vec![("code", serde_json::Value::from("invalidQuery"))];
        g
    })? {
        let Some(p) = known.iter().find(|k| k.eq_ignore_ascii_case(&name)) else {
            return Err(invalid_query(format!(
                "Could not find a property named '{name}' on type 'microsoft.graph.cloudLicensing.{entity}'."
            )));
        };
        if !out.contains(p) {
            out.push(*p);
        }
    }
    Ok(Some(out))
}

/// An aggregation of `$apply`: `prop with method as alias`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aggregate {
    pub prop: &'static str,
    pub method: &'static str,
    pub alias: String,
}

/// `$apply=groupby((keys…),aggregate(…))` or `$apply=aggregate(…)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Apply {
    pub keys: Vec<&'static str>,
    pub aggregates: Vec<Aggregate>,
}

fn apply_error(raw: &str, why: &str) -> GraphError {
    invalid_query(format!(
        "Cannot process the request because it is malformed or incorrect: $apply '{raw}': {why}."
    ))
}

fn call<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let s = s.trim();
    let rest = s
        .get(..name.len())
        .filter(|p| p.eq_ignore_ascii_case(name))
        .map(|_| &s[name.len()..])?;
    rest.trim_start().strip_prefix('(')?.strip_suffix(')')
}

pub fn parse_apply(raw: &str, keys: &[&'static str], numeric: &[&'static str]) -> GraphResult<Apply> {
    let parse_aggs = |inner: &str| -> GraphResult<Vec<Aggregate>> {
        split_top(inner, ',')
            .into_iter()
            .map(|a| {
                let words: Vec<&str> = a.split_whitespace().collect();
                let [prop, with, method, as_, alias] = words.as_slice() else {
                    return Err(apply_error(
                        raw,
                        "aggregate needs 'property with method as alias'",
                    ));
                };
                if !with.eq_ignore_ascii_case("with") || !as_.eq_ignore_ascii_case("as") {
                    return Err(apply_error(
                        raw,
                        "aggregate needs 'property with method as alias'",
                    ));
                }
                let prop = numeric
                    .iter()
                    .find(|p| p.eq_ignore_ascii_case(prop))
                    .ok_or_else(|| apply_error(raw, &format!("'{prop}' cannot be aggregated")))?;
                let method = ["sum", "min", "max", "average"]
                    .into_iter()
                    .find(|m| m.eq_ignore_ascii_case(method))
                    .ok_or_else(|| apply_error(raw, &format!("unsupported aggregation method '{method}'")))?;
                if !alias.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    return Err(apply_error(raw, "an alias must be an identifier"));
                }
                Ok(Aggregate {
                    prop,
                    method,
                    alias: (*alias).to_owned(),
                })
            })
            .collect()
    };
    if let Some(inner) = call(raw, "aggregate") {
        return Ok(Apply {
            keys: Vec::new(),
            aggregates: parse_aggs(inner)?,
        });
    }
    let inner =
        call(raw, "groupby").ok_or_else(|| apply_error(raw, "supported: groupby(...) and aggregate(...)"))?;
    let parts = split_top(inner, ',');
    let group = parts
        .first()
        .and_then(|g| g.trim().strip_prefix('(').and_then(|g| g.strip_suffix(')')))
        .ok_or_else(|| apply_error(raw, "groupby needs a parenthesised list of properties"))?;
    let mut out_keys = Vec::new();
    for k in group.split(',').map(str::trim) {
        let key = keys
            .iter()
            .find(|p| p.eq_ignore_ascii_case(k))
            .ok_or_else(|| apply_error(raw, &format!("'{k}' cannot be grouped by")))?;
        out_keys.push(*key);
    }
    let aggregates = match parts.get(1..) {
        Some([agg]) => parse_aggs(
            call(agg, "aggregate")
                .ok_or_else(|| apply_error(raw, "groupby takes aggregate(...) as its second argument"))?,
        )?,
        Some([]) | None => Vec::new(),
        Some(_) => return Err(apply_error(raw, "groupby takes at most two arguments")),
    };
    Ok(Apply {
        keys: out_keys,
        aggregates,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "639dec6b-bb19-468b-871c-c5c441c4b0cb";
    const B: &str = "a403ebcc-fae0-4ca2-8c8c-7a907fd6c235";

    #[test]
    fn filters_of_the_beta_pages_parse() {
        let f = parse_filter(&format!("skuId in ({A}, {B})"), false).unwrap();
        assert_eq!(f.skus.unwrap().len(), 2);
        let f = parse_filter(&format!("skuId eq {A}"), false).unwrap();
        assert!(f.matches(SkuId::parse(A).unwrap(), &[]));
        assert!(!f.matches(SkuId::parse(B).unwrap(), &[]));
        let f = parse_filter(&format!("services/any(c:c/planId eq {B})"), true).unwrap();
        assert!(f.matches(SkuId::parse(A).unwrap(), &[ServicePlanId::parse(B).unwrap()]));
        assert!(!f.matches(SkuId::parse(A).unwrap(), &[]));
        assert!(parse_filter(&format!("services/any(c:c/planId eq {B})"), false).is_err());
        assert!(parse_filter("displayName eq 'x'", true).is_err());
        assert!(parse_filter("skuId eq nope", true).is_err());
        // Quoted GUIDs still read; syntax errors are the OData layer's, as invalidFilter.
        assert!(
            parse_filter(&format!("skuId eq '{A}'"), false)
                .unwrap()
                .matches(SkuId::parse(A).unwrap(), &[])
        );
        let e = parse_filter("skuId eq (", false).unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(
            e.inner.iter().any(|(k, v)| *k == "code" && v == "invalidFilter"),
            "{:?}",
            e.inner
        );
        assert!(parse_filter(&"(".repeat(5_000), false).is_err());
    }

    #[test]
    fn expand_items_carry_nested_options() {
        let e = parse_expand(
            Some(&format!(
                "assignedTo,allotment($select=id,skuId;$filter=skuId in ({A}, {B}))"
            )),
            &["assignedTo", "allotment"],
        )
        .unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[1].select.as_deref(), Some("id,skuId"));
        assert_eq!(e[1].filter.as_deref(), Some(&*format!("skuId in ({A}, {B})")));
        assert!(parse_expand(Some("nope"), &["allotment"]).is_err());
        assert!(parse_expand(Some("allotment($top=1)"), &["allotment"]).is_err());
    }

    #[test]
    fn apply_groupby_aggregate_parses() {
        let a = parse_apply(
            "groupby((skuId,skuPartNumber),aggregate(allottedUnits with sum as totalAllottedUnits, consumedUnits with sum as totalConsumedUnits))",
            &["skuId", "skuPartNumber"],
            &["allottedUnits", "consumedUnits"],
        )
        .unwrap();
        assert_eq!(a.keys, vec!["skuId", "skuPartNumber"]);
        assert_eq!(a.aggregates.len(), 2);
        assert_eq!(a.aggregates[1].alias, "totalConsumedUnits");
        assert!(parse_apply("groupby((nope))", &["skuId"], &[]).is_err());
        assert!(parse_apply("filter(x)", &["skuId"], &[]).is_err());
    }
}
