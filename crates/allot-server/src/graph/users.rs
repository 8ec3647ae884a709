//! Users: `GET/POST /users`, `GET/PATCH/DELETE /users/{id | userPrincipalName}`, `/me`,
//! `GET /users/{id}/memberOf`.
//! <https://learn.microsoft.com/en-us/graph/api/resources/user>

use allot_core::ids::{TenantId, UserId};
use allot_core::secret::hash_secret;
use allot_core::tenant_file::is_country_code;
use allot_store::StoreError;
use allot_store::records::{Group, Tenant, User};
use axum::Extension;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value, json};

use super::body::{self, Field};
use super::error::{GraphError, GraphResult};
use super::expand::{self, Nav};
use super::extract::{Auth, JsonObject};
use super::kit::{Collection, OrNotFound, Target, first_page_count, keyset_page};
use super::query::ODataQuery;
use super::render::{self, Licenses, USER_PROPS};
use super::{ApiVersion, context_url, json_response, no_content, perm};
use crate::state::AppState;
use allot_odata::schema;

const WRITABLE: &[&str] = &[
    "accountEnabled",
    "displayName",
    "givenName",
    "surname",
    "jobTitle",
    "mailNickname",
    "passwordProfile",
    "userPrincipalName",
    "usageLocation",
    "mail",
];

pub(crate) async fn tenant_of(state: &AppState, tenant: TenantId) -> GraphResult<Tenant> {
    state
        .store
        .tenant(tenant)
        .await?
        .ok_or_else(|| GraphError::resource_not_found(&tenant.to_string()))
}

/// A user named by object id or user principal name, in the caller's tenant only.
pub(crate) async fn resolve_user(state: &AppState, tenant: TenantId, key: &str) -> GraphResult<User> {
    state
        .store
        .find_user(tenant, key)
        .await?
        .ok_or_else(|| GraphError::resource_not_found(key))
}

/// The user JSON with `@odata.context`, loading license state only when `$select` asks for it.
pub(crate) async fn user_entity(
    state: &AppState,
    version: ApiVersion,
    user: &User,
    select: Option<&[&str]>,
) -> GraphResult<Map<String, Value>> {
    let mut m = if render::needs_licenses(select) {
        let catalog = state.store.tenant_catalog(user.tenant_id).await?;
        let assignments = state.store.assignments(user.tenant_id, user.id).await?;
        render::user_json(
            user,
            select,
            Some(Licenses {
                catalog: &catalog,
                assignments: &assignments,
            }),
        )
    } else {
        render::user_json(user, select, None)
    };
    let fragment = select.map_or_else(
        || "users/$entity".to_owned(),
        |s| format!("users({})/$entity", s.join(",")),
    );
    m.insert("@odata.context".into(), json!(context_url(version, &fragment)));
    Ok(m)
}

/// Users as a collection shows them, with their license properties when `select` asks for them
/// (read in one query for the whole page).
pub(crate) async fn users_json(
    state: &AppState,
    tenant: TenantId,
    page: &[User],
    select: Option<&[&str]>,
) -> GraphResult<Vec<Value>> {
    if !render::needs_licenses(select) {
        return Ok(page
            .iter()
            .map(|u| Value::Object(render::user_json(u, select, None)))
            .collect());
    }
    let ids: Vec<UserId> = page.iter().map(|u| u.id).collect();
    let catalog = state.store.tenant_catalog(tenant).await?;
    let all = state.store.assignments_for(tenant, &ids).await?;
    Ok(page
        .iter()
        .map(|u| {
            let a = all.get(&u.id).map_or(&[][..], Vec::as_slice);
            Value::Object(render::user_json(
                u,
                select,
                Some(Licenses {
                    catalog: &catalog,
                    assignments: a,
                }),
            ))
        })
        .collect())
}

/// # `GET /users`
/// <https://learn.microsoft.com/en-us/graph/api/user-list>. Keyset paging by object id; `$top`
/// up to 999 (default 100); `$select`; `$filter` and `$search` (docs/compat/odata.md);
/// `$count=true` with `ConsistencyLevel: eventual`.
pub async fn list_users(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    q: ODataQuery,
) -> GraphResult<Response> {
    perm::USERS_READ.check(&auth.0.caller)?;
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
    let expand = expand::requested(&q, "user", &[Nav::MemberOf])?;
    let select = q.select("user", USER_PROPS)?;
    let top = q.top(100, 999)?;
    let cond = q.conditions(&schema::USERS, q.advanced())?;
    let tenant = auth.0.tenant;
    let count = first_page_count(&q, || state.store.count_users_where(tenant, cond.as_ref())).await?;
    let (page, next) =
        super::kit::directory_page::<User>(&state, &q, tenant, None, cond.as_ref(), &schema::USERS, top)
            .await?;
    let mut values = users_json(&state, tenant, &page, select.as_deref()).await?;
    if let Some(e) = &expand {
        let owners: Vec<uuid::Uuid> = page.iter().map(|u| u.id.as_uuid()).collect();
        expand::apply(&state, &tenant_of(&state, tenant).await?, e, &owners, &mut values).await?;
    }
    let context = ODataQuery::collection_context(version, "users", select.as_deref());
    Ok(Collection::new(context, values)
        .count(count)
        .next(next)
        .into_response())
}

/// # `GET /users/$count`
/// The number of users (matching `$filter`/`$search`) as `text/plain`; only with
/// `ConsistencyLevel: eventual`, else 400 "$count is not currently supported." (spec §4.5).
pub async fn count_users(State(state): State<AppState>, auth: Auth, q: ODataQuery) -> GraphResult<Response> {
    perm::USERS_READ.check(&auth.0.caller)?;
    let tenant = auth.0.tenant;
    super::kit::count_segment(&q, &schema::USERS, |c| async move {
        state.store.count_users_where(tenant, c.as_ref()).await
    })
    .await
}

/// # `GET /users/{id | userPrincipalName}`, `GET /me`
/// <https://learn.microsoft.com/en-us/graph/api/user-get>
pub async fn get_user(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    target: Target,
    q: ODataQuery,
) -> GraphResult<Response> {
    target.authorize(&auth, &perm::USERS_READ, &perm::ME_READ)?;
    q.only(&["$select", "$expand"])?;
    let select = q.select("user", USER_PROPS)?;
    let expand = expand::requested(&q, "user", &[Nav::MemberOf])?;
    let user = target.user(&state, &auth).await?;
    let mut value = Value::Object(user_entity(&state, version, &user, select.as_deref()).await?);
    if let Some(e) = &expand {
        let tenant = tenant_of(&state, user.tenant_id).await?;
        expand::apply(
            &state,
            &tenant,
            e,
            &[user.id.as_uuid()],
            std::slice::from_mut(&mut value),
        )
        .await?;
    }
    Ok(json_response(StatusCode::OK, &value))
}

fn check_upn(upn: &str, tenant: &Tenant) -> GraphResult<()> {
    let (local, domain) = upn
        .rsplit_once('@')
        .ok_or_else(|| body::invalid_value("userPrincipalName", "User"))?;
    if !allot_core::text::upn_local_part_ok(local) {
        return Err(body::invalid_value("userPrincipalName", "User"));
    }
    if !domain.eq_ignore_ascii_case(&tenant.default_domain) {
        return Err(GraphError::bad_request(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
        ));
    }
    Ok(())
}

fn usage_location(f: Field<String>) -> GraphResult<Field<String>> {
    match f {
        Field::Value(l) if is_country_code(&l) => Ok(Field::Value(l.to_ascii_uppercase())),
        Field::Value(_) => Err(body::invalid_value("usageLocation", "User")),
        other => Ok(other),
    }
}

fn password(body: &Map<String, Value>) -> GraphResult<Field<String>> {
    match body.get("passwordProfile") {
        None => Ok(Field::Absent),
        Some(Value::Null) => Ok(Field::Null),
        Some(Value::Object(p)) => {
            for k in p.keys() {
                if ![
                    "password",
                    "forceChangePasswordNextSignIn",
                    "forceChangePasswordNextSignInWithMfa",
                    "@odata.type",
                ]
                .contains(&k.as_str())
                {
                    return Err(GraphError::property_not_declared(k));
                }
            }
            // The flags are booleans, not anything that looks like one.
            for flag in [
                "forceChangePasswordNextSignIn",
                "forceChangePasswordNextSignInWithMfa",
            ] {
                body::boolean(p, flag)?;
            }
            match body::string(p, "password")? {
                Field::Value(pw) if !pw.is_empty() => Ok(Field::Value(pw)),
                _ => Err(body::invalid_value("passwordProfile", "User")),
            }
        }
        Some(_) => Err(body::invalid_value("passwordProfile", "User")),
    }
}

fn non_empty(f: Field<String>, property: &str) -> GraphResult<Field<String>> {
    match f {
        Field::Value(s) if s.trim().is_empty() => Err(body::invalid_value(property, "User")),
        Field::Null => Err(body::invalid_value(property, "User")),
        other => Ok(other),
    }
}

fn upn_taken() -> GraphError {
    GraphError::bad_request(
        "Another object with the same value for property userPrincipalName already exists.",
    )
}

/// # `POST /users`
/// <https://learn.microsoft.com/en-us/graph/api/user-post-users>. Required: `accountEnabled`,
/// `displayName`, `mailNickname`, `passwordProfile`, `userPrincipalName` (in the tenant's domain).
pub async fn create_user(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    JsonObject(b): JsonObject,
) -> GraphResult<Response> {
    perm::USERS_CREATE.check(&auth.0.caller)?;
    body::only_writable(&b, WRITABLE, USER_PROPS, "User")?;
    let tenant = tenant_of(&state, auth.0.tenant).await?;
    let account_enabled = body::boolean(&b, "accountEnabled")?
        .into_option()
        .ok_or_else(|| body::required("accountEnabled", "User"))?;
    let display_name = non_empty(body::string(&b, "displayName")?, "displayName")?
        .into_option()
        .ok_or_else(|| body::required("displayName", "User"))?;
    let mail_nickname = non_empty(body::string(&b, "mailNickname")?, "mailNickname")?
        .into_option()
        .ok_or_else(|| body::required("mailNickname", "User"))?;
    let upn = body::string(&b, "userPrincipalName")?
        .into_option()
        .ok_or_else(|| body::required("userPrincipalName", "User"))?;
    check_upn(&upn, &tenant)?;
    let pw = password(&b)?
        .into_option()
        .ok_or_else(|| body::required("passwordProfile", "User"))?;
    let id = UserId::new();
    let user = User {
        id,
        tenant_id: tenant.id,
        user_principal_name: upn,
        display_name,
        given_name: body::string(&b, "givenName")?.into_option(),
        surname: body::string(&b, "surname")?.into_option(),
        mail_nickname: Some(mail_nickname),
        mail: body::string(&b, "mail")?.into_option(),
        job_title: body::string(&b, "jobTitle")?.into_option(),
        usage_location: usage_location(body::string(&b, "usageLocation")?)?.into_option(),
        account_enabled,
        password_hash: Some(hash_secret(&id.to_string(), &pw)),
        directory_roles: Vec::new(),
        immutable_id: None,
        phone_number: None,
        created_at: allot_store::now(),
    };
    match state
        .operations
        .create_user(
            &crate::operations::actor(&auth.0, crate::operations::GRAPH),
            &user,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(upn_taken()),
        Err(e) => return Err(e.into()),
    }
    Ok(json_response(
        StatusCode::CREATED,
        &Value::Object(user_entity(&state, version, &user, None).await?),
    ))
}

/// # `PATCH /users/{id | userPrincipalName}`
/// <https://learn.microsoft.com/en-us/graph/api/user-update>. Only the properties sent change.
pub async fn update_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
    JsonObject(b): JsonObject,
) -> GraphResult<Response> {
    perm::USERS_UPDATE.check(&auth.0.caller)?;
    body::only_writable(&b, WRITABLE, USER_PROPS, "User")?;
    let tenant = tenant_of(&state, auth.0.tenant).await?;
    let target = resolve_user(&state, tenant.id, &id).await?;
    let account_enabled = body::boolean(&b, "accountEnabled")?;
    if account_enabled == Field::Null {
        return Err(body::invalid_value("accountEnabled", "User"));
    }
    let display_name = non_empty(body::string(&b, "displayName")?, "displayName")?;
    let mail_nickname = non_empty(body::string(&b, "mailNickname")?, "mailNickname")?;
    let upn = non_empty(body::string(&b, "userPrincipalName")?, "userPrincipalName")?;
    if let Field::Value(u) = &upn {
        check_upn(u, &tenant)?;
    }
    let given_name = body::string(&b, "givenName")?;
    let surname = body::string(&b, "surname")?;
    let job_title = body::string(&b, "jobTitle")?;
    let mail = body::string(&b, "mail")?;
    let location = usage_location(body::string(&b, "usageLocation")?)?;
    let pw = password(&b)?;
    if pw == Field::Null {
        return Err(body::invalid_value("passwordProfile", "User"));
    }
    let set = |slot: &mut Option<String>, f: &Field<String>| match f {
        Field::Absent => {}
        Field::Null => *slot = None,
        Field::Value(v) => *slot = Some(v.clone()),
    };
    let result = state
        .operations
        .update_user(tenant.id, target.id, |u| {
            if let Field::Value(v) = account_enabled {
                u.account_enabled = v;
            }
            if let Field::Value(v) = &display_name {
                u.display_name.clone_from(v);
            }
            if let Field::Value(v) = &upn {
                u.user_principal_name.clone_from(v);
            }
            set(&mut u.mail_nickname, &mail_nickname);
            set(&mut u.given_name, &given_name);
            set(&mut u.surname, &surname);
            set(&mut u.job_title, &job_title);
            set(&mut u.mail, &mail);
            set(&mut u.usage_location, &location);
            if let Field::Value(p) = &pw {
                u.password_hash = Some(hash_secret(&u.id.to_string(), p));
            }
            Ok(())
        })
        .await;
    match result {
        Ok(_) => Ok(no_content()),
        Err(StoreError::Conflict(_)) => Err(upn_taken()),
        Err(StoreError::NotFound) => Err(GraphError::resource_not_found(&id)),
        Err(e) => Err(e.into()),
    }
}

/// # `DELETE /users/{id | userPrincipalName}`
/// <https://learn.microsoft.com/en-us/graph/api/user-delete>. Frees the user's units at once.
pub async fn delete_user(
    State(state): State<AppState>,
    auth: Auth,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    perm::USERS_DELETE.check(&auth.0.caller)?;
    let user = resolve_user(&state, auth.0.tenant, &id).await?;
    // Freed units may seat waiting members (cloudLicensing waiting room).
    state
        .operations
        .delete_user(
            &crate::operations::actor(&auth.0, crate::operations::GRAPH),
            auth.0.tenant,
            user.id,
        )
        .await
        .or_not_found(&id)?;
    Ok(no_content())
}

/// # `GET /users/{id | userPrincipalName}/memberOf`, `GET /me/memberOf`
/// <https://learn.microsoft.com/en-us/graph/api/user-list-memberof>. Direct memberships only.
pub async fn list_member_of(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    target: Target,
    q: ODataQuery,
) -> GraphResult<Response> {
    target.authorize(&auth, &perm::MEMBER_OF_READ, &perm::ME_MEMBER_OF)?;
    let user = target.user(&state, &auth).await?;
    q.only(&["$select", "$top", "$skiptoken"])?;
    let select = q.select("group", render::GROUP_PROPS)?;
    let top = q.top(100, 999)?;
    let tenant = tenant_of(&state, auth.0.tenant).await?;
    let (page, next) = keyset_page(
        &q,
        top,
        |g: &Group| g.id.as_uuid(),
        |after, limit| {
            state
                .store
                .member_of_page(tenant.id, user.id.as_uuid(), after, limit)
        },
    )
    .await?;
    let values: Vec<Value> = page
        .iter()
        .map(|g| {
            let mut m = render::group_json(g, &tenant.default_domain, select.as_deref());
            m.insert("@odata.type".into(), json!("#microsoft.graph.group"));
            Value::Object(m)
        })
        .collect();
    Ok(Collection::new(context_url(version, "directoryObjects"), values)
        .next(next)
        .into_response())
}

/// # `POST /users/{id | userPrincipalName}/reprocessLicenseAssignment`
/// <https://learn.microsoft.com/en-us/graph/api/user-reprocesslicenseassignment>. Re-runs the
/// user's group-based assignments now (whatever the processing mode) and answers with the user.
pub async fn reprocess_license_assignment(
    State(state): State<AppState>,
    auth: Auth,
    Extension(version): Extension<ApiVersion>,
    Path(id): Path<String>,
) -> GraphResult<Response> {
    perm::REPROCESS.check(&auth.0.caller)?;
    let user = resolve_user(&state, auth.0.tenant, &id).await?;
    state.operations.reprocess_user(auth.0.tenant, user.id).await?;
    Ok(json_response(
        StatusCode::OK,
        &Value::Object(user_entity(&state, version, &user, None).await?),
    ))
}
