//! `$expand` on users and groups: `memberOf` (users and groups) and `members` (groups), with a
//! nested `$select`. Graph's limits for directory objects hold: one navigation property per
//! request, at most [`MAX_EXPANDED`] objects in each expanded collection, no nested option but
//! `$select`, and no `$expand` in advanced query mode.
//! <https://learn.microsoft.com/en-us/graph/query-parameters#expand-parameter>

use allot_core::ids::GroupId;
use allot_store::records::{Group, MemberRef};
use serde_json::{Value, json};
use uuid::Uuid;

use super::error::{GraphError, GraphResult};
use super::groups::directory_objects_json;
use super::query::ODataQuery;
use super::render::{self, GROUP_PROPS, USER_PROPS};
use crate::state::AppState;

/// The most objects an expanded directory collection holds (Graph answers at most 20).
pub const MAX_EXPANDED: i64 = 20;

/// A navigation property that can be expanded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    MemberOf,
    Members,
}

impl Nav {
    const fn name(self) -> &'static str {
        match self {
            Self::MemberOf => "memberOf",
            Self::Members => "members",
        }
    }
}

/// What a request asks to expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expand {
    nav: Nav,
    select: Option<Vec<&'static str>>,
}

/// The request's `$expand` checked against what `entity` can expand (`allowed`), or `None`.
pub fn requested(q: &ODataQuery, entity: &str, allowed: &[Nav]) -> GraphResult<Option<Expand>> {
    let Some(raw) = q.get("$expand") else {
        return Ok(None);
    };
    let items = allot_odata::options::parse_expand(raw)?;
    if q.advanced() {
        return Err(GraphError::unsupported_query(
            "$expand is not supported with advanced queries (ConsistencyLevel: eventual with $count, $search or advanced filters).",
        ));
    }
    let [item] = items.as_slice() else {
        return Err(GraphError::bad_request(
            "Only one navigation property can be expanded on directory objects.",
        ));
    };
    let nav = allowed
        .iter()
        .copied()
        .find(|n| n.name().eq_ignore_ascii_case(&item.name))
        .ok_or_else(|| {
            GraphError::bad_request(format!(
                "Could not find a property named '{}' on type 'microsoft.graph.{entity}'.",
                item.name
            ))
        })?;
    if item.filter.is_some() || item.top.is_some() {
        return Err(GraphError::unsupported_query(
            "Only $select is supported inside $expand on directory objects.",
        ));
    }
    let known: &[&'static str] = match nav {
        Nav::MemberOf => GROUP_PROPS,
        Nav::Members => DIRECTORY_PROPS.as_slice(),
    };
    let select = match &item.select {
        None => None,
        Some(names) => Some(
            names
                .iter()
                .map(|n| {
                    known
                        .iter()
                        .copied()
                        .find(|k| k.eq_ignore_ascii_case(n))
                        .ok_or_else(|| GraphError::property_not_declared(n))
                })
                .collect::<GraphResult<Vec<_>>>()?,
        ),
    };
    Ok(Some(Expand { nav, select }))
}

/// Properties of users and groups, for members (either kind).
static DIRECTORY_PROPS: std::sync::LazyLock<Vec<&'static str>> =
    std::sync::LazyLock::new(|| [USER_PROPS, GROUP_PROPS].concat());

/// Adds the expanded collection to each rendered object (`values[i]` is the object `owners[i]`).
pub async fn apply(
    state: &AppState,
    tenant: &allot_store::records::Tenant,
    expand: &Expand,
    owners: &[Uuid],
    values: &mut [Value],
) -> GraphResult<()> {
    for (owner, value) in owners.iter().zip(values.iter_mut()) {
        let expanded = match expand.nav {
            Nav::MemberOf => {
                let groups: Vec<Group> = state
                    .store
                    .member_of_page(tenant.id, *owner, None, MAX_EXPANDED)
                    .await?;
                groups
                    .iter()
                    .map(|g| {
                        let mut o = render::group_json(g, &tenant.default_domain, expand.select.as_deref());
                        o.insert("@odata.type".into(), json!("#microsoft.graph.group"));
                        Value::Object(o)
                    })
                    .collect()
            }
            Nav::Members => {
                let refs: Vec<MemberRef> = state
                    .store
                    .members_page(tenant.id, GroupId::from_uuid(*owner), None, MAX_EXPANDED)
                    .await?;
                directory_objects_json(state, tenant, &refs, expand.select.as_deref()).await?
            }
        };
        if let Value::Object(m) = value {
            m.insert(expand.nav.name().to_owned(), Value::Array(expanded));
        }
    }
    Ok(())
}
