//! Groups and membership: `GET/POST /groups`, `GET/PATCH/DELETE /groups/{id}`,
//! `GET /groups/{id}/members`, `POST /groups/{id}/members/$ref`,
//! `DELETE /groups/{id}/members/{id}/$ref`.
//! <https://learn.microsoft.com/en-us/graph/api/resources/group>

use allot_core::ids::{GroupId, TenantId, UserId};
use allot_odata::schema;
use allot_store::StoreError;
use allot_store::records::{Group, MemberRef, Tenant, User};
use allot_store::store::Member;
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::body::{self, Field};
use super::error::{GraphError, GraphResult};
use super::expand::{self, Nav};
use super::extract::{Auth, JsonObject};
use super::kit::{Collection, OrNotFound, first_page_count, keyset_page};
use super::query::ODataQuery;
use super::render::{self, GROUP_PROPS, USER_PROPS};
use super::users::tenant_of;
use super::{ApiVersion, context_url, json_response, no_content, perm};
use crate::state::AppState;

const WRITABLE: &[&str] = &[
    "displayName",
    "description",
    "mailEnabled",
    "mailNickname",
    "securityEnabled",
    "groupTypes",
    "visibility",
];
const GROUP_TYPES: &[&str] = &["Unified", "DynamicMembership"];
/// Graph's cap on `members@odata.bind` / `owners@odata.bind` in one request.
const MAX_BINDS: usize = 20;

fn parse_group_id(id: &str) -> GraphResult<GroupId> {
    GroupId::parse(id).map_err(|_| GraphError::invalid_object_id(id))
}

async fn resolve_group(state: &AppState, tenant: TenantId, id: &str) -> GraphResult<Group> {
    let gid = parse_group_id(id)?;
    state
        .store
        .group(tenant, gid)
        .await?
        .ok_or_else(|| GraphError::resource_not_found(id))
}

fn group_entity(version: ApiVersion, g: &Group, domain: &str, select: Option<&[&str]>) -> Map<String, Value> {
    let mut m = render::group_json(g, domain, select);
    let fragment = select.map_or_else(
        || "groups/$entity".to_owned(),
        |s| format!("groups({})/$entity", s.join(",")),
    );
    m.insert("@odata.context".into(), json!(context_url(version, &fragment)));
    m
}

/// The directory objects named by a `*@odata.bind` array, resolved in the tenant (404 for any
/// that does not exist there). All-or-nothing: nothing is bound if one fails.
async fn bind_members(
    state: &AppState,
    tenant: TenantId,
    v: &Value,
    key: &str,
) -> GraphResult<Vec<MemberRef>> {
    let Value::Array(urls) = v else {
        return Err(GraphError::bad_request(format!(
            "'{key}' must be a collection of directoryObject URLs."
        )));
    };
    if urls.len() > MAX_BINDS {
        return Err(GraphError::bad_request(format!(
            "The maximum number of '{key}' references in one request is {MAX_BINDS}."
        )));
    }
    let mut out = Vec::new();
    for u in urls {
        let Value::String(url) = u else {
            return Err(GraphError::bad_request(format!(
                "'{key}' holds a value that is not a URL."
            )));
        };
        out.push(resolve_member(state, tenant, url).await?);
    }
    Ok(out)
}

async fn resolve_member(state: &AppState, tenant: TenantId, url: &str) -> GraphResult<MemberRef> {
    let id = body::bind_target(url)
        .ok_or_else(|| GraphError::bad_request(format!("Invalid object identifier '{url}'.")))?;
    if state.store.user(tenant, UserId::from_uuid(id)).await?.is_some() {
        return Ok(MemberRef::User(UserId::from_uuid(id)));
    }
    if state.store.group(tenant, GroupId::from_uuid(id)).await?.is_some() {
        return Ok(MemberRef::Group(GroupId::from_uuid(id)));
    }
    Err(GraphError::resource_not_found(&id.to_string()))
}

fn already_member() -> GraphError {
    GraphError::bad_request(
        "One or more added object references already exist for the following modified properties: 'members'.",
    )
}

fn group_types(b: &Map<String, Value>) -> GraphResult<Option<Vec<String>>> {
    match b.get("groupTypes") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(a)) => {
            let mut out = Vec::new();
            for t in a {
                match t.as_str() {
                    Some(s) if GROUP_TYPES.contains(&s) => out.push(s.to_owned()),
                    _ => return Err(body::invalid_value("groupTypes", "Group")),
                }
            }
            Ok(Some(out))
        }
        Some(_) => Err(body::invalid_value("groupTypes", "Group")),
    }
}

fn required_string(b: &Map<String, Value>, name: &str) -> GraphResult<String> {
    match body::string(b, name)? {
        Field::Value(s) if !s.trim().is_empty() => Ok(s),
        Field::Value(_) => Err(body::invalid_value(name, "Group")),
        _ => Err(body::required(name, "Group")),
    }
}

/// # `GET /groups`
/// <https://learn.microsoft.com/en-us/graph/api/group-list>
pub async fn list_groups(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::GROUPS_READ.check(&auth.0.caller)?;
    q.only(&[
        "$select",
        "$top",
        "$skiptoken",
        "$count",
        "$filter",
        "$search",
        "$orderby",
        "$expand",
    ])?;
    let select = q.select("group", GROUP_PROPS)?;
    let expand = expand::requested(&q, "group", &[Nav::Members, Nav::MemberOf])?;
    let top = q.top(100, 999)?;
    let cond = q.conditions(&schema::GROUPS, q.advanced())?;
    let tenant = tenant_of(&state, auth.0.tenant).await?;
    let count = first_page_count(&q, || state.store.count_groups_where(tenant.id, cond.as_ref())).await?;
    let (page, next) =
        super::kit::directory_page::<Group>(&state, &q, tenant.id, None, cond.as_ref(), &schema::GROUPS, top)
            .await?;
    let mut values = Vec::with_capacity(page.len());
    for g in &page {
        let mut m = render::group_json(g, &tenant.default_domain, select.as_deref());
        with_processing_state(&state, g, &mut m).await?;
        values.push(Value::Object(m));
    }
    if let Some(e) = &expand {
        let owners: Vec<Uuid> = page.iter().map(|g| g.id.as_uuid()).collect();
        expand::apply(&state, &tenant, e, &owners, &mut values).await?;
    }
    let context = ODataQuery::collection_context(version, "groups", select.as_deref());
    Ok(Collection::new(context, values)
        .count(count)
        .next(next)
        .into_response())
}

/// Fills `licenseProcessingState` (when selected) from the group's processing state.
async fn with_processing_state(state: &AppState, g: &Group, m: &mut Map<String, Value>) -> GraphResult<()> {
    if m.contains_key("licenseProcessingState") {
        let s = state.store.group_processing_state(g.tenant_id, g.id).await?;
        m.insert(
            "licenseProcessingState".into(),
            s.map_or(Value::Null, |s| json!({"state": s})),
        );
    }
    Ok(())
}

/// # `GET /groups/$count`
/// The number of groups (matching `$filter`/`$search`) as `text/plain`; only with
/// `ConsistencyLevel: eventual` (spec §4.5).
pub async fn count_groups(State(state): State<AppState>, auth: Auth, q: ODataQuery) -> GraphResult<Response> {
    perm::GROUPS_READ.check(&auth.0.caller)?;
    let tenant = auth.0.tenant;
    super::kit::count_segment(&q, &schema::GROUPS, |c| async move {
        state.store.count_groups_where(tenant, c.as_ref()).await
    })
    .await
}

/// # `GET /groups/{id}/members/$count`
/// The number of direct members (matching `$filter` on `id`) as `text/plain`; only with
/// `ConsistencyLevel: eventual`.
pub async fn count_members(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::GROUPS_READ.check(&auth.0.caller)?;
    q.only(&["$filter"])?;
    let cond = q.count_segment_conditions(&schema::DIRECTORY_OBJECTS)?;
    let g = resolve_group(&state, auth.0.tenant, &id).await?;
    let n = state
        .store
        .count_members_where(auth.0.tenant, g.id, cond.as_ref())
        .await?;
    Ok(super::count_response(n))
}

/// # `GET /groups/{id}`
/// <https://learn.microsoft.com/en-us/graph/api/group-get>. `assignedLicenses` and
/// `licenseProcessingState` only on `$select`.
pub async fn get_group(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::GROUPS_READ.check(&auth.0.caller)?;
    q.only(&["$select", "$expand"])?;
    let select = q.select("group", GROUP_PROPS)?;
    let expand = expand::requested(&q, "group", &[Nav::Members, Nav::MemberOf])?;
    let tenant = tenant_of(&state, auth.0.tenant).await?;
    let g = resolve_group(&state, tenant.id, &id).await?;
    let mut m = group_entity(version, &g, &tenant.default_domain, select.as_deref());
    with_processing_state(&state, &g, &mut m).await?;
    let mut value = Value::Object(m);
    if let Some(e) = &expand {
        expand::apply(
            &state,
            &tenant,
            e,
            &[g.id.as_uuid()],
            std::slice::from_mut(&mut value),
        )
        .await?;
    }
    Ok(json_response(StatusCode::OK, &value))
}

/// # `POST /groups`
/// <https://learn.microsoft.com/en-us/graph/api/group-post-groups>. Required: `displayName`,
/// `mailEnabled`, `mailNickname`, `securityEnabled`; `members@odata.bind` (up to 20) is applied
/// with the creation or not at all. `owners@odata.bind` is validated and not stored (Allot keeps
/// no owners).
pub async fn create_group(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    JsonObject(b): JsonObject,
) -> GraphResult<Response> {
    perm::GROUPS_CREATE.check(&auth.0.caller)?;
    body::only_writable(&b, WRITABLE, GROUP_PROPS, "Group")?;
    for key in b.keys().filter(|k| k.ends_with("@odata.bind")) {
        if key != "members@odata.bind" && key != "owners@odata.bind" {
            return Err(GraphError::property_not_declared(key));
        }
    }
    let tenant: Tenant = tenant_of(&state, auth.0.tenant).await?;
    let display_name = required_string(&b, "displayName")?;
    let mail_nickname = required_string(&b, "mailNickname")?;
    let mail_enabled = body::boolean(&b, "mailEnabled")?
        .into_option()
        .ok_or_else(|| body::required("mailEnabled", "Group"))?;
    let security_enabled = body::boolean(&b, "securityEnabled")?
        .into_option()
        .ok_or_else(|| body::required("securityEnabled", "Group"))?;
    let types = group_types(&b)?.unwrap_or_default();
    let description = body::string(&b, "description")?.into_option();
    let members = match b.get("members@odata.bind") {
        Some(v) => bind_members(&state, tenant.id, v, "members@odata.bind").await?,
        None => Vec::new(),
    };
    if let Some(v) = b.get("owners@odata.bind") {
        bind_members(&state, tenant.id, v, "owners@odata.bind").await?;
    }
    let g = Group {
        id: GroupId::new(),
        tenant_id: tenant.id,
        display_name,
        description,
        mail_nickname,
        mail_enabled,
        security_enabled,
        group_types: types,
        assigned_licenses: Vec::new(),
        created_at: allot_store::now(),
    };
    match state
        .operations
        .create_group(
            &crate::operations::actor(&auth.0, crate::operations::GRAPH),
            &g,
            &members,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(already_member()),
        Err(StoreError::NotFound) => return Err(GraphError::resource_not_found("members@odata.bind")),
        Err(e) => return Err(e.into()),
    }
    Ok(json_response(
        StatusCode::CREATED,
        &Value::Object(group_entity(version, &g, &tenant.default_domain, None)),
    ))
}

/// # `PATCH /groups/{id}`
/// <https://learn.microsoft.com/en-us/graph/api/group-update>. `members@odata.bind` adds up
/// to 20 members, all or none.
pub async fn update_group(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(b): JsonObject,
) -> GraphResult<Response> {
    perm::GROUPS_WRITE.check(&auth.0.caller)?;
    body::only_writable(&b, WRITABLE, GROUP_PROPS, "Group")?;
    for key in b.keys().filter(|k| k.ends_with("@odata.bind")) {
        if key != "members@odata.bind" {
            return Err(GraphError::property_not_declared(key));
        }
    }
    let tenant = auth.0.tenant;
    let g = resolve_group(&state, tenant, &id).await?;
    let display_name = body::string(&b, "displayName")?;
    let mail_nickname = body::string(&b, "mailNickname")?;
    for (name, f) in [("displayName", &display_name), ("mailNickname", &mail_nickname)] {
        if matches!(f, Field::Null) || matches!(f, Field::Value(s) if s.trim().is_empty()) {
            return Err(body::invalid_value(name, "Group"));
        }
    }
    let description = body::string(&b, "description")?;
    let mail_enabled = body::boolean(&b, "mailEnabled")?;
    let security_enabled = body::boolean(&b, "securityEnabled")?;
    let types = group_types(&b)?;
    let members = match b.get("members@odata.bind") {
        Some(v) => bind_members(&state, tenant, v, "members@odata.bind").await?,
        None => Vec::new(),
    };
    if !members.is_empty() {
        match state
            .operations
            .add_members(
                &crate::operations::actor(&auth.0, crate::operations::GRAPH),
                tenant,
                g.id,
                &members,
            )
            .await
        {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => return Err(already_member()),
            Err(e) => return Err(e.into()),
        }
    }
    state
        .store
        .update_group(tenant, g.id, |g| {
            if let Field::Value(v) = &display_name {
                g.display_name.clone_from(v);
            }
            if let Field::Value(v) = &mail_nickname {
                g.mail_nickname.clone_from(v);
            }
            match &description {
                Field::Absent => {}
                Field::Null => g.description = None,
                Field::Value(v) => g.description = Some(v.clone()),
            }
            if let Field::Value(v) = mail_enabled {
                g.mail_enabled = v;
            }
            if let Field::Value(v) = security_enabled {
                g.security_enabled = v;
            }
            if let Some(t) = &types {
                g.group_types.clone_from(t);
            }
            Ok(())
        })
        .await?;
    Ok(no_content())
}

/// # `DELETE /groups/{id}`
/// <https://learn.microsoft.com/en-us/graph/api/group-delete>. Refused (400) while the group
/// still assigns licenses (spec §3.7).
pub async fn delete_group(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    perm::GROUPS_WRITE.check(&auth.0.caller)?;
    let g = resolve_group(&state, auth.0.tenant, &id).await?;
    match state.operations.delete_group(auth.0.tenant, g.id).await {
        Ok(()) => Ok(no_content()),
        Err(StoreError::NotFound) => Err(GraphError::resource_not_found(&id)),
        Err(StoreError::Invalid(_)) => Err(GraphError::bad_request(
            "The group has licenses assigned. Remove the group's licenses before deleting it.",
        )),
        Err(e) => Err(e.into()),
    }
}

/// # `GET /groups/{id}/members`
/// <https://learn.microsoft.com/en-us/graph/api/group-list-members>. Direct members, each with
/// its `@odata.type`.
pub async fn list_members(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::GROUPS_READ.check(&auth.0.caller)?;
    q.only(&["$select", "$top", "$skiptoken", "$count", "$filter", "$orderby"])?;
    let top = q.top(100, 999)?;
    let cond = q.conditions(&schema::DIRECTORY_OBJECTS, q.advanced())?;
    let tenant = tenant_of(&state, auth.0.tenant).await?;
    let g = resolve_group(&state, tenant.id, &id).await?;
    let (refs, next) = if q.get("$orderby").is_some() {
        // Sorted (advanced mode): keyset-paged on the member's display name, then its id.
        let (page, next) = super::kit::directory_page::<Member>(
            &state,
            &q,
            tenant.id,
            Some(g.id.as_uuid()),
            cond.as_ref(),
            &schema::DIRECTORY_OBJECTS,
            top,
        )
        .await?;
        (page.into_iter().map(|m| m.0).collect::<Vec<_>>(), next)
    } else {
        keyset_page(
            &q,
            top,
            |m: &MemberRef| m.uuid(),
            |after, limit| {
                state
                    .store
                    .members_page_where(tenant.id, g.id, cond.as_ref(), after, limit)
            },
        )
        .await?
    };
    // $select applies to users' properties and, for nested groups, to the groups' ones it names.
    let select = q.select("directoryObject", &[USER_PROPS, GROUP_PROPS].concat())?;
    let values = directory_objects_json(&state, &tenant, &refs, select.as_deref()).await?;
    let count = first_page_count(&q, || {
        state.store.count_members_where(tenant.id, g.id, cond.as_ref())
    })
    .await?;
    Ok(Collection::new(context_url(version, "directoryObjects"), values)
        .count(count)
        .next(next)
        .into_response())
}

/// # `POST /groups/{id}/members/$ref`
/// <https://learn.microsoft.com/en-us/graph/api/group-post-members>. 204; 400 if already a
/// member; 404 if the object does not exist in the tenant.
pub async fn add_member_ref(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(b): JsonObject,
) -> GraphResult<Response> {
    perm::MEMBERS_WRITE.check(&auth.0.caller)?;
    let tenant = auth.0.tenant;
    let g = resolve_group(&state, tenant, &id).await?;
    for key in b.keys() {
        if key != "@odata.id" {
            return Err(GraphError::property_not_declared(key));
        }
    }
    let url = match body::string(&b, "@odata.id")? {
        Field::Value(u) => u,
        _ => {
            return Err(GraphError::bad_request(
                "The request body must carry '@odata.id' with the member's URL.",
            ));
        }
    };
    let member = resolve_member(&state, tenant, &url).await?;
    if member.uuid() == g.id.as_uuid() {
        return Err(GraphError::bad_request("A group cannot be a member of itself."));
    }
    match state
        .operations
        .add_members(
            &crate::operations::actor(&auth.0, crate::operations::GRAPH),
            tenant,
            g.id,
            &[member],
        )
        .await
    {
        Ok(()) => Ok(no_content()),
        Err(StoreError::Conflict(_)) => Err(already_member()),
        Err(StoreError::NotFound) => Err(GraphError::resource_not_found(&member.uuid().to_string())),
        Err(e) => Err(e.into()),
    }
}

/// # `DELETE /groups/{id}/members/{id}/$ref`
/// <https://learn.microsoft.com/en-us/graph/api/group-delete-members>. 204; 404 when the
/// object is not a member.
pub async fn remove_member_ref(
    State(state): State<AppState>,
    auth: Auth,
    Path((id, member)): Path<(String, String)>,
) -> GraphResult<Response> {
    perm::MEMBERS_WRITE.check(&auth.0.caller)?;
    let g = resolve_group(&state, auth.0.tenant, &id).await?;
    let mid: Uuid =
        allot_core::ids::parse_guid(&member).map_err(|_| GraphError::invalid_object_id(&member))?;
    state
        .operations
        .remove_member(
            &crate::operations::actor(&auth.0, crate::operations::GRAPH),
            auth.0.tenant,
            g.id,
            mid,
        )
        .await
        .or_not_found(&member)?;
    Ok(no_content())
}

/// # `POST /groups/{id}/assignLicense`
/// <https://learn.microsoft.com/en-us/graph/api/group-assignlicense>. Checked up front (400,
/// nothing changed): the body, unknown SKUs, a group that is not security-enabled, an add-on
/// whose prerequisite the group does not enable. Then `202 Accepted` with the group and a
/// `Location` header; members are processed by the worker (or before the answer in `sync` mode).
pub async fn assign_license(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    JsonObject(b): JsonObject,
) -> GraphResult<Response> {
    perm::GROUP_ASSIGN_LICENSE.check(&auth.0.caller)?;
    let change = super::licenses::parse_license_change(&b)?;
    let tenant = tenant_of(&state, auth.0.tenant).await?;
    let g = resolve_group(&state, tenant.id, &id).await?;
    let g = state
        .operations
        .change_group_licenses(
            &crate::operations::actor(&auth.0, crate::operations::GRAPH),
            tenant.id,
            g.id,
            &change,
        )
        .await
        .or_not_found(&id)?;
    let mut resp = json_response(
        StatusCode::ACCEPTED,
        &Value::Object(group_entity(version, &g, &tenant.default_domain, None)),
    );
    let location = format!(
        "{}/v2/{}/directoryObjects/{}/Microsoft.DirectoryServices.Group",
        super::base_url(),
        tenant.id,
        g.id
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&location) {
        resp.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(resp)
}

/// # `GET /groups/{id}/membersWithLicenseErrors`
/// Members in error from this group's licenses (`Error` or `ActiveWithError`), paged.
pub async fn list_members_with_license_errors(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::GROUPS_READ.check(&auth.0.caller)?;
    perm::USERS_READ.check(&auth.0.caller)?;
    q.only(&["$select", "$top", "$skiptoken", "$filter"])?;
    let select = q.select("user", USER_PROPS)?;
    let top = q.top(100, 999)?;
    // No `$count` here, so no advanced query mode: default-mode filters only.
    let cond = q.conditions(&schema::USERS, false)?;
    let g = resolve_group(&state, auth.0.tenant, &id).await?;
    let (page, next) = keyset_page(
        &q,
        top,
        |u: &User| u.id.as_uuid(),
        |after, limit| {
            state
                .store
                .members_with_errors_page_where(auth.0.tenant, g.id, cond.as_ref(), after, limit)
        },
    )
    .await?;
    // License properties (`licenseAssignmentStates`: why each member is in error) when selected.
    let values = super::users::users_json(&state, auth.0.tenant, &page, select.as_deref())
        .await?
        .into_iter()
        .map(|mut v| {
            if let Value::Object(o) = &mut v {
                o.insert("@odata.type".into(), json!("#microsoft.graph.user"));
            }
            v
        })
        .collect();
    let context = ODataQuery::collection_context(version, "users", select.as_deref());
    Ok(Collection::new(context, values).next(next).into_response())
}

/// Directory objects (users and groups) in the order of `refs`, each with its `@odata.type`;
/// `select` may name properties of either kind, each object shows those it has.
pub(crate) async fn directory_objects_json(
    state: &AppState,
    tenant: &Tenant,
    refs: &[MemberRef],
    select: Option<&[&str]>,
) -> GraphResult<Vec<Value>> {
    let (user_ids, group_ids) = MemberRef::split(refs);
    let users = state
        .store
        .by_ids::<User>(tenant.id, user_ids.iter().copied())
        .await?;
    let groups = state
        .store
        .by_ids::<Group>(tenant.id, group_ids.iter().copied())
        .await?;
    let only = |props: &[&str]| -> Option<Vec<&str>> {
        select.map(|s| s.iter().copied().filter(|p| props.contains(p)).collect())
    };
    // Users as `/users` renders them: license properties (`assignedLicenses`,
    // `licenseAssignmentStates`) filled when selected.
    let user_values = super::users::users_json(state, tenant.id, &users, only(USER_PROPS).as_deref()).await?;
    let mut values = Vec::with_capacity(refs.len());
    for m in refs {
        match m {
            MemberRef::User(u) => {
                if let Some(i) = users.iter().position(|x| x.id == *u) {
                    let mut v = user_values[i].clone();
                    if let Value::Object(o) = &mut v {
                        o.insert("@odata.type".into(), json!("#microsoft.graph.user"));
                    }
                    values.push(v);
                }
            }
            MemberRef::Group(gid) => {
                if let Some(group) = groups.iter().find(|x| x.id == *gid) {
                    let mut o =
                        render::group_json(group, &tenant.default_domain, only(GROUP_PROPS).as_deref());
                    o.insert("@odata.type".into(), json!("#microsoft.graph.group"));
                    values.push(Value::Object(o));
                }
            }
        }
    }
    Ok(values)
}
