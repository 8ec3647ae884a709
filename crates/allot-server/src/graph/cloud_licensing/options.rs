//! Query options of the cloudLicensing collections, read by the one OData layer (`allot-odata`):
//! `$filter`, `$orderby` and `$select` are checked against the entities' schemas
//! (`allot_odata::cloud_schema`) and become SQL over the store's views; `$expand` items carry their
//! nested `$select` (checked against the expanded entity) and, on `allotment`, a nested `$filter`
//! that keeps the rows whose allotment passes. Every refusal is spec §3.12's `badRequest` with
//! `invalidFilter`, `invalidExpansion` or `invalidQuery`.

use allot_odata::ast::LambdaKind;
use allot_odata::cloud_schema::ALLOTMENTS;
use allot_odata::schema::{Collection, EntitySchema};
use allot_odata::sql::SortKey;
use allot_odata::validate::{Cond, validate_filter, validate_orderby, validate_select};
use allot_odata::{QueryError, QueryOption};
use axum::http::StatusCode;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::graph::error::{GraphError, GraphResult};
use crate::graph::query::ODataQuery;
use crate::graph::render::{GROUP_PROPS, USER_PROPS};

pub fn invalid_query(message: impl Into<String>) -> GraphError {
    GraphError::cloud(StatusCode::BAD_REQUEST, "badRequest", "invalidQuery", message)
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

/// An error of the OData layer, in spec §3.12's shape.
pub fn cloud_query_error(e: impl Into<QueryError>) -> GraphError {
    let g = e.into().graph(allot_odata::Surface::CloudLicensing);
    GraphError::cloud(
        StatusCode::BAD_REQUEST,
        g.code,
        g.inner_code.unwrap_or("invalidQuery"),
        g.message,
    )
}

/// One `$expand` item: the navigation property, its nested `$select`, and for `allotment` the
/// nested `$filter` as a condition on the row's allotment.
#[derive(Debug, Clone)]
pub struct Expand {
    pub name: &'static str,
    pub select: Option<Vec<&'static str>>,
    pub filter: Option<Cond>,
}

/// What an expandable navigation property is: its name and the schema of what it holds
/// (`None`: a directory object, user or group).
pub type Nav = (&'static str, Option<&'static EntitySchema>);

/// `$select` names against a schema (canonical names out, request order kept).
pub fn select(raw: Option<&str>, schema: &EntitySchema) -> GraphResult<Option<Vec<&'static str>>> {
    let Some(raw) = raw else { return Ok(None) };
    let names = allot_odata::options::parse_select(raw).map_err(|e| {
        let mut g = cloud_query_error(e);
        // `$select` is not a filter or an expansion: always invalidQuery.
        g.inner = vec![("code", serde_json::Value::from("invalidQuery"))];
        g
    })?;
    Ok(Some(validate_select(&names, schema).map_err(cloud_query_error)?))
}

/// `$select` inside `assignedTo(...)`: user or group properties.
fn directory_select(names: &[String]) -> GraphResult<Vec<&'static str>> {
    let mut out = Vec::new();
    for name in names {
        let found = USER_PROPS
            .iter()
            .chain(GROUP_PROPS.iter())
            .find(|p| p.eq_ignore_ascii_case(name))
            .ok_or_else(|| {
                cloud_query_error(QueryError::UnknownProperty {
                    option: QueryOption::Select,
                    type_name: "microsoft.graph.directoryObject",
                    name: name.clone(),
                })
            })?;
        if !out.contains(found) {
            out.push(*found);
        }
    }
    Ok(out)
}

/// `$select` of a directory object (`…/assignedTo`).
pub fn directory_select_raw(raw: Option<&str>) -> GraphResult<Option<Vec<&'static str>>> {
    let Some(raw) = raw else { return Ok(None) };
    let names = allot_odata::options::parse_select(raw).map_err(cloud_query_error)?;
    Ok(Some(directory_select(&names)?))
}

/// `$expand` against the navigation properties the entity has; `allotment_of` is how a nested
/// `$filter` on `allotment` reaches the row's allotment.
pub fn expand(
    raw: Option<&str>,
    navs: &[Nav],
    allotment_of: Option<&'static Collection>,
) -> GraphResult<Vec<Expand>> {
    let Some(raw) = raw else { return Ok(Vec::new()) };
    let mut out: Vec<Expand> = Vec::new();
    for item in allot_odata::options::parse_expand(raw).map_err(cloud_query_error)? {
        let Some((name, schema)) = navs.iter().find(|(n, _)| n.eq_ignore_ascii_case(&item.name)) else {
            let names: Vec<&str> = navs.iter().map(|(n, _)| *n).collect();
            return Err(invalid_expansion(format!(
                "'{}' is not a navigation property that can be expanded here (expandable: {})",
                item.name,
                names.join(", ")
            )));
        };
        if item.top.is_some() {
            return Err(invalid_expansion("nested option '$top' is not supported"));
        }
        if out.iter().any(|x| x.name == *name) {
            return Err(invalid_expansion(format!("'{name}' is expanded twice")));
        }
        let select = match (&item.select, schema) {
            (None, _) => None,
            (Some(names), None) => Some(directory_select(names)?),
            (Some(names), Some(schema)) => Some(validate_select(names, schema).map_err(cloud_query_error)?),
        };
        let filter = match (&item.filter, allotment_of) {
            (None, _) => None,
            (Some(e), Some(of)) if *name == "allotment" => {
                let (c, _) = validate_filter(e, &ALLOTMENTS, false).map_err(cloud_query_error)?;
                Some(Cond::Lambda {
                    collection: of,
                    kind: LambdaKind::Any,
                    body: Some(Box::new(c)),
                })
            }
            (Some(_), _) => {
                return Err(invalid_expansion(format!(
                    "nested option '$filter' is not supported on '{name}'"
                )));
            }
        };
        out.push(Expand { name, select, filter });
    }
    Ok(out)
}

/// The options of one collection request.
#[derive(Debug, Clone)]
pub struct List {
    pub select: Option<Vec<&'static str>>,
    pub expand: Vec<Expand>,
    /// `$filter` and any nested allotment `$filter`, joined by `and`.
    pub filter: Option<Cond>,
    pub order: Vec<SortKey>,
    pub top: usize,
    pub after: Option<Vec<String>>,
    pub count: bool,
}

/// The page token: the last row's key values, base64url of their JSON array.
#[must_use]
pub fn encode_token(values: &[String]) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(values).unwrap_or_default())
}

fn decode_token(raw: &str) -> GraphResult<Vec<String>> {
    URL_SAFE_NO_PAD
        .decode(raw.trim())
        .ok()
        .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
        .filter(|v| v.iter().all(|s| allot_core::text::storable(s)))
        .ok_or_else(|| invalid_query("The $skiptoken is not valid for this query."))
}

/// `$count=true|false`.
pub fn count(q: &ODataQuery) -> GraphResult<bool> {
    match q.raw("$count").map(|v| v.trim().to_ascii_lowercase()).as_deref() {
        None | Some("false") => Ok(false),
        Some("true") => Ok(true),
        Some(other) => Err(cloud_query_error(QueryError::InvalidValue {
            option: QueryOption::Count,
            value: other.to_owned(),
        })),
    }
}

/// `$filter` against `schema`.
pub fn filter(q: &ODataQuery, schema: &EntitySchema) -> GraphResult<Option<Cond>> {
    q.filter()
        .map(|raw| {
            let e = allot_odata::parse_filter(raw).map_err(cloud_query_error)?;
            Ok(validate_filter(&e, schema, false).map_err(cloud_query_error)?.0)
        })
        .transpose()
}

impl List {
    /// Reads a collection request's options against `schema`; `extra` are further options the
    /// handler reads itself (`$apply`).
    pub fn parse(
        q: &ODataQuery,
        schema: &EntitySchema,
        navs: &[Nav],
        allotment_of: Option<&'static Collection>,
        extra: &[&str],
    ) -> GraphResult<Self> {
        let mut allowed = vec![
            "$select",
            "$top",
            "$skiptoken",
            "$expand",
            "$filter",
            "$orderby",
            "$count",
        ];
        allowed.extend_from_slice(extra);
        q.only(&allowed).map_err(|e| invalid_query(e.message))?;
        let expand = expand(q.raw("$expand"), navs, allotment_of)?;
        let mut filter = filter(q, schema)?;
        for nested in expand.iter().filter_map(|e| e.filter.clone()) {
            filter = Some(match filter {
                None => nested,
                Some(f) => Cond::And(Box::new(f), Box::new(nested)),
            });
        }
        let order = match q.raw("$orderby") {
            None => Vec::new(),
            Some(raw) => {
                let items = allot_odata::options::parse_orderby(raw).map_err(cloud_query_error)?;
                validate_orderby(&items, schema, true, false).map_err(cloud_query_error)?
            }
        };
        Ok(Self {
            select: select(q.raw("$select"), schema)?,
            expand,
            filter,
            order,
            top: q.top(100, 999).map_err(|e| invalid_query(e.message))?,
            after: q.raw("$skiptoken").map(decode_token).transpose()?,
            count: count(q)?,
        })
    }

    /// A single entity takes `$select` and `$expand` only.
    pub fn parse_one(q: &ODataQuery, schema: &EntitySchema, navs: &[Nav]) -> GraphResult<Self> {
        q.only(&["$select", "$expand"])
            .map_err(|e| invalid_query(e.message))?;
        Ok(Self {
            select: select(q.raw("$select"), schema)?,
            expand: expand(q.raw("$expand"), navs, None)?,
            filter: None,
            order: Vec::new(),
            top: 1,
            after: None,
            count: false,
        })
    }

    #[must_use]
    pub fn expanded(&self, name: &str) -> Option<&Expand> {
        self.expand.iter().find(|e| e.name == name)
    }
}

/// `$apply` against `schema`, read by the one OData layer.
pub fn apply(raw: &str, schema: &EntitySchema) -> GraphResult<allot_odata::apply::Apply<&'static str>> {
    let parsed = allot_odata::apply::parse_apply(raw).map_err(cloud_query_error)?;
    allot_odata::apply::validate_apply(&parsed, schema).map_err(cloud_query_error)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_tokens_round_trip_and_refuse_garbage() {
        let v = vec!["u".to_owned(), "0b3c".to_owned()];
        assert_eq!(decode_token(&encode_token(&v)).unwrap(), v);
        assert!(decode_token("not a token").is_err());
        assert!(decode_token(&URL_SAFE_NO_PAD.encode(b"{}")).is_err());
    }
}
