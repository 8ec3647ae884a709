//! Delta queries: `GET /users/delta` and `GET /groups/delta`.
//! <https://learn.microsoft.com/en-us/graph/api/user-delta>,
//! <https://learn.microsoft.com/en-us/graph/delta-query-overview>
//!
//! A round pages through what changed (everything, in the first round) in object id order, with
//! `@odata.nextLink` (`$skiptoken`) while pages remain and `@odata.deltaLink` (`$deltatoken`) on
//! the last. Tokens are self-contained (the round's watermarks, the last id, the `$select`), so
//! they work on any node and across restarts; the store's change marks make them exact
//! (`allot_store::store::delta`). Deleted objects come as `@removed` (`changed`: restorable,
//! `deleted`: gone for good); groups carry `members@delta`. `licenseAssignmentStates` is not
//! tracked, as in Graph.

use std::sync::LazyLock;

use allot_core::ids::TenantId;
use allot_store::records::{Group, MemberRef, User};
use allot_store::store::delta::{DeltaItem, Removal, Watermark};
use axum::Extension;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::{GraphError, GraphResult};
use super::extract::Auth;
use super::query::ODataQuery;
use super::render::{self, GROUP_PROPS, USER_PROPS};
use super::users::{tenant_of, users_json};
use super::{ApiVersion, base_url, json_response, perm};
use crate::state::AppState;

/// The default page size, and the largest a `Prefer: odata.maxpagesize` may ask for.
const PAGE: usize = 100;
const MAX_PAGE: usize = 999;

/// What a page token carries: the round, and where it is.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct Round {
    /// `users` or `groups`.
    k: String,
    /// Changes since this watermark; absent in a first sync (everything).
    m: Option<Watermark>,
    /// This round's own watermark: the next round's `m`.
    w: Watermark,
    /// The last id of the previous page.
    a: Option<Uuid>,
    /// The `$select` of the first call.
    s: Option<Vec<String>>,
}

fn encode(r: &Round) -> String {
    B64.encode(serde_json::to_vec(r).unwrap_or_default())
}

fn decode(token: &str, kind: &str) -> GraphResult<Round> {
    B64.decode(token)
        .ok()
        .and_then(|b| serde_json::from_slice::<Round>(&b).ok())
        .filter(|r| r.k == kind)
        .ok_or_else(|| GraphError::bad_request("The delta token or skip token is not valid."))
}

/// The entity kinds a delta round runs over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Users,
    Groups,
}

impl Kind {
    const fn name(self) -> &'static str {
        match self {
            Self::Users => "users",
            Self::Groups => "groups",
        }
    }

    /// The properties `$select` may name (for users, not `licenseAssignmentStates`: delta does
    /// not track it; for groups, also `members`).
    fn selectable(self) -> &'static [&'static str] {
        static USERS: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
            USER_PROPS
                .iter()
                .copied()
                .filter(|p| *p != "licenseAssignmentStates")
                .collect()
        });
        static GROUPS: LazyLock<Vec<&'static str>> =
            LazyLock::new(|| GROUP_PROPS.iter().copied().chain(["members"]).collect());
        match self {
            Self::Users => &USERS,
            Self::Groups => &GROUPS,
        }
    }
}

/// `Prefer: odata.maxpagesize=N`, within bounds.
fn page_size(headers: &HeaderMap) -> usize {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|p| p.trim().strip_prefix("odata.maxpagesize="))
        .find_map(|n| n.trim().parse::<usize>().ok())
        .map_or(PAGE, |n| n.clamp(1, MAX_PAGE))
}

/// # `GET /users/delta`
pub async fn users_delta(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    headers: HeaderMap,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::USERS_READ.check(&auth.0.caller)?;
    delta(&state, auth.0.tenant, version, Kind::Users, &headers, &q).await
}

/// # `GET /groups/delta`
pub async fn groups_delta(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    headers: HeaderMap,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::GROUPS_READ.check(&auth.0.caller)?;
    delta(&state, auth.0.tenant, version, Kind::Groups, &headers, &q).await
}

async fn delta(
    state: &AppState,
    tenant: TenantId,
    version: ApiVersion,
    kind: Kind,
    headers: &HeaderMap,
    q: &ODataQuery,
) -> GraphResult<Response> {
    q.only(&["$select", "$skiptoken", "$deltatoken"])?;
    let round = if let Some(t) = q.get("$skiptoken") {
        decode(t, kind.name())?
    } else {
        // A new round starts with its watermark, taken before anything is read.
        let w = state.store.delta_watermark().await?;
        match q.get("$deltatoken") {
            Some("latest") => {
                let s = selected(q, kind)?;
                let next = Round {
                    k: kind.name().into(),
                    m: Some(w.clone()),
                    w,
                    a: None,
                    s,
                };
                return Ok(answer(version, kind, &next, Vec::new(), None));
            }
            Some(t) => {
                let prev = decode(t, kind.name())?;
                Round {
                    k: prev.k,
                    m: Some(prev.w),
                    w,
                    a: None,
                    s: prev.s,
                }
            }
            None => Round {
                k: kind.name().into(),
                m: None,
                w,
                a: None,
                s: selected(q, kind)?,
            },
        }
    };
    let top = page_size(headers);
    let limit = i64::try_from(top + 1).unwrap_or(1000);
    let select: Option<Vec<&str>> = round.s.as_ref().map(|s| s.iter().map(String::as_str).collect());
    let (values, last, more) = match kind {
        Kind::Users => {
            let mut page = state
                .store
                .users_delta_page(tenant, round.m.as_ref(), round.a, limit)
                .await?;
            let more = page.len() > top;
            page.truncate(top);
            let last = page.last().map(DeltaItem::id);
            (
                users_page(state, tenant, &page, select.as_deref()).await?,
                last,
                more,
            )
        }
        Kind::Groups => {
            let mut page = state
                .store
                .groups_delta_page(tenant, round.m.as_ref(), round.a, limit)
                .await?;
            let more = page.len() > top;
            page.truncate(top);
            let last = page.last().map(DeltaItem::id);
            (
                groups_page(state, tenant, &page, round.m.as_ref(), select.as_deref()).await?,
                last,
                more,
            )
        }
    };
    let next = more.then(|| Round {
        a: last,
        ..round.clone()
    });
    Ok(answer(version, kind, &round, values, next.as_ref()))
}

/// The `$select` of a round's first call, checked.
fn selected(q: &ODataQuery, kind: Kind) -> GraphResult<Option<Vec<String>>> {
    Ok(q.select(kind.name().trim_end_matches('s'), kind.selectable())?
        .map(|s| s.into_iter().map(str::to_owned).collect()))
}

/// A page: `@odata.nextLink` while the round goes on, else `@odata.deltaLink` for the next round.
fn answer(
    version: ApiVersion,
    kind: Kind,
    round: &Round,
    values: Vec<Value>,
    next: Option<&Round>,
) -> Response {
    let select: Option<Vec<&str>> = round.s.as_ref().map(|s| s.iter().map(String::as_str).collect());
    let mut body = Map::new();
    body.insert(
        "@odata.context".into(),
        json!(ODataQuery::collection_context(
            version,
            kind.name(),
            select.as_deref()
        )),
    );
    let link = |option: &str, r: &Round| {
        format!(
            "{}/{}/{}/delta?{option}={}",
            base_url(),
            version.segment(),
            kind.name(),
            encode(r)
        )
    };
    match next {
        Some(n) => body.insert("@odata.nextLink".into(), json!(link("$skiptoken", n))),
        None => {
            let following = Round {
                k: round.k.clone(),
                m: Some(round.w.clone()),
                w: round.w.clone(),
                a: None,
                s: round.s.clone(),
            };
            body.insert("@odata.deltaLink".into(), json!(link("$deltatoken", &following)))
        }
    };
    body.insert("value".into(), Value::Array(values));
    json_response(StatusCode::OK, &Value::Object(body))
}

fn removed(type_name: &str, id: Uuid, why: Removal) -> Value {
    json!({
        "@odata.type": format!("#microsoft.graph.{type_name}"),
        "id": id.to_string(),
        "@removed": {"reason": why.as_str()},
    })
}

async fn users_page(
    state: &AppState,
    tenant: TenantId,
    page: &[DeltaItem<User>],
    select: Option<&[&str]>,
) -> GraphResult<Vec<Value>> {
    let present: Vec<User> = page
        .iter()
        .filter_map(|i| match i {
            DeltaItem::Present(u) => Some(u.clone()),
            DeltaItem::Removed(..) => None,
        })
        .collect();
    // A delta page always names each object, whatever `$select` says.
    let mut shown = users_json(state, tenant, &present, select)
        .await?
        .into_iter()
        .zip(&present)
        .map(|(mut v, u)| {
            if let Value::Object(m) = &mut v {
                m.entry("id").or_insert_with(|| json!(u.id.to_string()));
            }
            v
        });
    Ok(page
        .iter()
        .map(|i| match i {
            DeltaItem::Present(_) => shown.next().unwrap_or(Value::Null),
            DeltaItem::Removed(id, why) => removed("user", *id, *why),
        })
        .collect())
}

async fn groups_page(
    state: &AppState,
    tenant: TenantId,
    page: &[DeltaItem<Group>],
    since: Option<&Watermark>,
    select: Option<&[&str]>,
) -> GraphResult<Vec<Value>> {
    let domain = tenant_of(state, tenant).await?.default_domain;
    let with_members = select.is_none_or(|s| s.contains(&"members"));
    let props: Option<Vec<&str>> = select.map(|s| s.iter().copied().filter(|p| *p != "members").collect());
    let mut out = Vec::with_capacity(page.len());
    for item in page {
        let g = match item {
            DeltaItem::Present(g) => g,
            DeltaItem::Removed(id, why) => {
                out.push(removed("group", *id, *why));
                continue;
            }
        };
        let mut m = render::group_json(g, &domain, props.as_deref());
        m.entry("id").or_insert_with(|| json!(g.id.to_string()));
        if with_members {
            let changes = state.store.member_deltas(tenant, g.id, since).await?;
            let members: Vec<Value> = changes
                .iter()
                .map(|c| {
                    let (type_name, id) = match c.member {
                        MemberRef::User(u) => ("user", u.as_uuid()),
                        MemberRef::Group(g) => ("group", g.as_uuid()),
                    };
                    let mut v = json!({
                        "@odata.type": format!("#microsoft.graph.{type_name}"),
                        "id": id.to_string(),
                    });
                    if c.removed {
                        v["@removed"] = json!({"reason": "deleted"});
                    }
                    v
                })
                .collect();
            if since.is_none() || !members.is_empty() {
                m.insert("members@delta".into(), Value::Array(members));
            }
        }
        out.push(Value::Object(m));
    }
    Ok(out)
}
