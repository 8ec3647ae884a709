//! `/directory/deletedItems`: deleted users and Microsoft 365 groups, kept 30 days (users with
//! their direct licenses and memberships, groups with their members); listed by type, read,
//! restored through the operation layer (a user's licenses come back even beyond the free units,
//! as Entra does) and deleted for good. Security groups are not kept: their delete is final.
//! <https://learn.microsoft.com/en-us/graph/api/resources/directory>

use allot_core::ids::{GroupId, TenantId, UserId};
use allot_store::StoreError;
use allot_store::records::{DeletedGroup, DeletedUser};
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::error::{GraphError, GraphResult};
use super::extract::Auth;
use super::kit::{Collection, keyset_page};
use super::query::ODataQuery;
use super::render::{self, GROUP_PROPS, USER_PROPS};
use super::users::tenant_of;
use super::{ApiVersion, context_url, json_response, no_content, perm};
use crate::state::AppState;

/// The type a `deletedItems/{cast}` segment names (the SDKs send `graph.user`, Graph documents
/// `microsoft.graph.user`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User,
    Group,
}

fn cast(segment: &str) -> Option<Kind> {
    let name = segment
        .strip_prefix("microsoft.graph.")
        .or_else(|| segment.strip_prefix("graph."))?;
    match name {
        "user" => Some(Kind::User),
        "group" => Some(Kind::Group),
        _ => None,
    }
}

fn object_id(raw: &str) -> GraphResult<Uuid> {
    raw.parse::<Uuid>()
        .map_err(|_| GraphError::invalid_object_id(raw))
}

/// A deleted item of the tenant, whichever kind it is.
enum Deleted {
    User(DeletedUser),
    Group(DeletedGroup),
}

async fn find(state: &AppState, tenant: TenantId, raw: &str) -> GraphResult<Deleted> {
    let id = object_id(raw)?;
    if let Some(u) = state.store.deleted_user(tenant, UserId::from_uuid(id)).await? {
        return Ok(Deleted::User(u));
    }
    if let Some(g) = state.store.deleted_group(tenant, GroupId::from_uuid(id)).await? {
        return Ok(Deleted::Group(g));
    }
    Err(GraphError::resource_not_found(raw))
}

/// A deleted object's properties, with `deletedDateTime`.
fn deleted_json(
    props: Map<String, Value>,
    deleted_at: chrono::DateTime<chrono::Utc>,
    select: Option<&[&str]>,
) -> Map<String, Value> {
    let mut m = props;
    if select.is_none_or(|s| s.contains(&"deletedDateTime")) {
        m.insert("deletedDateTime".into(), json!(render::timestamp(deleted_at)));
    }
    m
}

/// `@odata.context` and `@odata.type` first, then `props`.
fn entity(version: ApiVersion, fragment: &str, type_name: &str, props: Map<String, Value>) -> Response {
    let mut m = Map::new();
    m.insert("@odata.context".into(), json!(context_url(version, fragment)));
    m.insert(
        "@odata.type".into(),
        json!(format!("#microsoft.graph.{type_name}")),
    );
    m.extend(props);
    json_response(StatusCode::OK, &Value::Object(m))
}

/// # `GET /directory/deletedItems/microsoft.graph.user` (or `graph.user`, `…group`), and
/// # `GET /directory/deletedItems/{id}`
/// <https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-list>,
/// <https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-get>
pub async fn get_deleted(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(item): Path<String>,
    q: ODataQuery,
) -> GraphResult<Response> {
    match cast(&item) {
        Some(kind) => list(&state, &auth, version, kind, &q).await,
        None => get_one(&state, &auth, version, &item, &q).await,
    }
}

async fn list(
    state: &AppState,
    auth: &Auth,
    version: ApiVersion,
    kind: Kind,
    q: &ODataQuery,
) -> GraphResult<Response> {
    q.only(&["$select", "$top", "$skiptoken"])?;
    let top = q.top(100, 999)?;
    let tenant = auth.0.tenant;
    let (context, values, next) = match kind {
        Kind::User => {
            perm::USERS_READ.check(&auth.0.caller)?;
            let select = q.select("user", USER_PROPS)?;
            let (page, next) = keyset_page(
                q,
                top,
                |d: &DeletedUser| d.user.id.as_uuid(),
                |after, limit| state.store.deleted_users_page(tenant, after, limit),
            )
            .await?;
            let values: Vec<Value> = page
                .iter()
                .map(|d| {
                    let props = render::user_json(&d.user, select.as_deref(), None);
                    Value::Object(deleted_json(props, d.deleted_at, select.as_deref()))
                })
                .collect();
            ("microsoft.graph.user", values, next)
        }
        Kind::Group => {
            perm::GROUPS_READ.check(&auth.0.caller)?;
            let select = q.select("group", GROUP_PROPS)?;
            let domain = tenant_of(state, tenant).await?.default_domain;
            let (page, next) = keyset_page(
                q,
                top,
                |d: &DeletedGroup| d.group.id.as_uuid(),
                |after, limit| state.store.deleted_groups_page(tenant, after, limit),
            )
            .await?;
            let values: Vec<Value> = page
                .iter()
                .map(|d| {
                    let props = render::group_json(&d.group, &domain, select.as_deref());
                    Value::Object(deleted_json(props, d.deleted_at, select.as_deref()))
                })
                .collect();
            ("microsoft.graph.group", values, next)
        }
    };
    let context = context_url(version, &format!("directory/deletedItems/{context}"));
    Ok(Collection::new(context, values).next(next).into_response())
}

async fn get_one(
    state: &AppState,
    auth: &Auth,
    version: ApiVersion,
    raw: &str,
    q: &ODataQuery,
) -> GraphResult<Response> {
    q.only(&["$select"])?;
    let fragment = "directory/deletedItems/$entity";
    match find(state, auth.0.tenant, raw).await? {
        Deleted::User(d) => {
            perm::USERS_READ.check(&auth.0.caller)?;
            let select = q.select("user", USER_PROPS)?;
            let props = render::user_json(&d.user, select.as_deref(), None);
            Ok(entity(
                version,
                fragment,
                "user",
                deleted_json(props, d.deleted_at, select.as_deref()),
            ))
        }
        Deleted::Group(d) => {
            perm::GROUPS_READ.check(&auth.0.caller)?;
            let select = q.select("group", GROUP_PROPS)?;
            let domain = tenant_of(state, auth.0.tenant).await?.default_domain;
            let props = render::group_json(&d.group, &domain, select.as_deref());
            Ok(entity(
                version,
                fragment,
                "group",
                deleted_json(props, d.deleted_at, select.as_deref()),
            ))
        }
    }
}

/// # `POST /directory/deletedItems/{id}/restore`
/// <https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-restore>. 200 with the
/// restored object. A user's memberships and direct licenses come back (a SKU with no free unit
/// ends over-consumed); a group's members and parent groups that still exist come back.
pub async fn restore(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(raw): Path<String>,
) -> GraphResult<Response> {
    let tenant = auth.0.tenant;
    let fragment = "directoryObjects/$entity";
    match find(&state, tenant, &raw).await? {
        Deleted::User(d) => {
            perm::USERS_DELETE.check(&auth.0.caller)?;
            let user = match state
                .operations
                .restore_user(
                    &crate::operations::actor(&auth.0, crate::operations::GRAPH),
                    tenant,
                    d.user.id,
                )
                .await
            {
                Ok(u) => u,
                Err(StoreError::Conflict(_)) => {
                    return Err(GraphError::bad_request(
                        "Another object with the same value for property userPrincipalName already exists.",
                    ));
                }
                Err(e) => return Err(not_found_as(e, &raw)),
            };
            let mut props = render::user_json(&user, None, None);
            props.insert("deletedDateTime".into(), Value::Null);
            Ok(entity(version, fragment, "user", props))
        }
        Deleted::Group(d) => {
            perm::GROUPS_WRITE.check(&auth.0.caller)?;
            let group = state
                .operations
                .restore_group(tenant, d.group.id)
                .await
                .map_err(|e| not_found_as(e, &raw))?;
            let domain = tenant_of(&state, tenant).await?.default_domain;
            let mut props = render::group_json(&group, &domain, None);
            props.insert("deletedDateTime".into(), Value::Null);
            Ok(entity(version, fragment, "group", props))
        }
    }
}

/// # `DELETE /directory/deletedItems/{id}`
/// <https://learn.microsoft.com/en-us/graph/api/directory-deleteditems-delete>. Gone for good.
pub async fn purge(
    State(state): State<AppState>,
    auth: Auth,
    Path(raw): Path<String>,
) -> GraphResult<Response> {
    let tenant = auth.0.tenant;
    let purged = match find(&state, tenant, &raw).await? {
        Deleted::User(d) => {
            perm::USERS_DELETE.check(&auth.0.caller)?;
            state.store.purge_deleted_user(tenant, d.user.id).await
        }
        Deleted::Group(d) => {
            perm::GROUPS_WRITE.check(&auth.0.caller)?;
            state.store.purge_deleted_group(tenant, d.group.id).await
        }
    };
    purged.map_err(|e| not_found_as(e, &raw))?;
    Ok(no_content())
}

/// A store error, with `NotFound` (a concurrent restore or purge won) as Graph's 404.
fn not_found_as(e: StoreError, raw: &str) -> GraphError {
    match e {
        StoreError::NotFound => GraphError::resource_not_found(raw),
        e => e.into(),
    }
}
