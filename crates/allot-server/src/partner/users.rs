//! Customer users (U1–U8) and their directory roles (R1): create, list (active, or deleted with
//! the `UserState` filter), get, update / reset password / restore (one PATCH route told apart by
//! its body), and soft delete.

use allot_core::directory;
use allot_core::ids::{TenantId, UserId};
use allot_core::partner::Operation;
use allot_core::secret::hash_secret;
use allot_core::tenant_file::is_country_code;
use allot_store::StoreError;
use allot_store::records::{Tenant, User};
use allot_store::store::partner::{CustomerUserQuery, TextFilter, TextOp, UserField};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use uuid::Uuid;

use super::access::{Area, PcCaller};
use super::body::{self, PcJson};
use super::error::{PcError, PcResult};
use super::{attributes, json_response, link};
use crate::state::AppState;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A `CustomerUser`. Null properties are left out; `passwordProfile` is echoed only by create
/// and reset, as the docs' examples do.
pub fn user_json(
    cid: TenantId,
    u: &User,
    deleted_at: Option<DateTime<Utc>>,
    password: Option<&Value>,
) -> Value {
    let mut m = Map::new();
    if let Some(l) = &u.usage_location {
        m.insert("usageLocation".into(), json!(l));
    }
    m.insert("id".into(), json!(u.id));
    m.insert("userPrincipalName".into(), json!(u.user_principal_name));
    if let Some(v) = &u.given_name {
        m.insert("firstName".into(), json!(v));
    }
    if let Some(v) = &u.surname {
        m.insert("lastName".into(), json!(v));
    }
    m.insert("displayName".into(), json!(u.display_name));
    if let Some(v) = &u.immutable_id {
        m.insert("immutableId".into(), json!(v));
    }
    if let Some(v) = &u.phone_number {
        m.insert("phoneNumber".into(), json!(v));
    }
    if let Some(p) = password {
        m.insert("passwordProfile".into(), p.clone());
    }
    m.insert("userDomainType".into(), json!("none"));
    m.insert(
        "state".into(),
        json!(if deleted_at.is_some() {
            "inactive"
        } else {
            "active"
        }),
    );
    if let Some(d) = deleted_at {
        m.insert("softDeletionTime".into(), json!(ts(d)));
    }
    m.insert(
        "links".into(),
        json!({ "self": link(&format!("/customers/{cid}/users/{}", u.id), &[]) }),
    );
    m.insert("attributes".into(), attributes("CustomerUser"));
    Value::Object(m)
}

/// A user of the customer by object id or UPN (404 / 60002 otherwise).
pub async fn resolve_user(state: &AppState, tenant: TenantId, key: &str) -> PcResult<User> {
    state
        .store
        .find_user(tenant, key)
        .await?
        .ok_or_else(|| PcError::user_not_found(key))
}

// ---- listing -----------------------------------------------------------------------------------

fn user_field(name: &str) -> Option<UserField> {
    match name.to_ascii_lowercase().as_str() {
        "displayname" => Some(UserField::DisplayName),
        "userprincipalname" => Some(UserField::UserPrincipalName),
        _ => None,
    }
}

/// The `filter` JSON of a user listing: `{"Field":"UserState","Value":"Inactive","Operator":"equals"}`
/// chooses deleted users; `DisplayName` / `UserPrincipalName` take the text operators.
fn parse_filter(text: &str) -> PcResult<(bool, Option<TextFilter>)> {
    let v: Value =
        serde_json::from_str(text).map_err(|_| PcError::bad_input("The filter is not valid JSON."))?;
    let m = v
        .as_object()
        .ok_or_else(|| PcError::bad_input("The filter must be a JSON object."))?;
    let field = body::string(m, "Field")?.ok_or_else(|| PcError::bad_input("The filter needs a Field."))?;
    let value = body::string(m, "Value")?.unwrap_or_default();
    let op = body::string(m, "Operator")?.unwrap_or_else(|| "equals".to_owned());
    let op = match op.to_ascii_lowercase().replace('_', "").as_str() {
        "equals" => TextOp::Equals,
        "notequals" => TextOp::NotEquals,
        "substring" => TextOp::Substring,
        "startswith" => TextOp::StartsWith,
        "notstartswith" => TextOp::NotStartsWith,
        _ => return Err(PcError::bad_enum("Operator", &op)),
    };
    if field.eq_ignore_ascii_case("UserState") || field.eq_ignore_ascii_case("UserStatus") {
        if op != TextOp::Equals {
            return Err(PcError::bad_input("UserState can only be filtered with equals."));
        }
        return match value.to_ascii_lowercase().as_str() {
            "inactive" => Ok((true, None)),
            "active" => Ok((false, None)),
            _ => Err(PcError::bad_enum("UserState", &value)),
        };
    }
    let field = user_field(&field).ok_or_else(|| PcError::bad_enum("Field", &field))?;
    Ok((false, Some(TextFilter { field, op, value })))
}

fn op_name(op: TextOp) -> &'static str {
    match op {
        TextOp::Equals => "equals",
        TextOp::NotEquals => "not_equals",
        TextOp::Substring => "substring",
        TextOp::StartsWith => "starts_with",
        TextOp::NotStartsWith => "not_starts_with",
    }
}

fn field_name(f: UserField) -> &'static str {
    match f {
        UserField::DisplayName => "DisplayName",
        UserField::UserPrincipalName => "UserPrincipalName",
    }
}

/// The query a continuation token carries (everything needed to fetch the next page).
fn query_from_token(t: &Value) -> PcResult<CustomerUserQuery> {
    let bad = || PcError::bad_input("The continuation token is not valid.");
    let filter = match &t["f"] {
        Value::Null => None,
        f => Some(TextFilter {
            field: user_field(f["field"].as_str().ok_or_else(bad)?).ok_or_else(bad)?,
            op: match f["op"].as_str().ok_or_else(bad)? {
                "equals" => TextOp::Equals,
                "not_equals" => TextOp::NotEquals,
                "substring" => TextOp::Substring,
                "starts_with" => TextOp::StartsWith,
                "not_starts_with" => TextOp::NotStartsWith,
                _ => return Err(bad()),
            },
            value: f["value"].as_str().ok_or_else(bad)?.to_owned(),
        }),
    };
    let id = Uuid::parse_str(t["i"].as_str().ok_or_else(bad)?).map_err(|_| bad())?;
    Ok(CustomerUserQuery {
        deleted: t["d"].as_bool().ok_or_else(bad)?,
        filter,
        sort: user_field(t["s"].as_str().ok_or_else(bad)?).ok_or_else(bad)?,
        descending: t["o"].as_bool().ok_or_else(bad)?,
        after: Some((t["k"].as_str().ok_or_else(bad)?.to_owned(), id)),
        limit: t["n"]
            .as_i64()
            .filter(|n| (1..=super::MAX_PAGE).contains(n))
            .ok_or_else(bad)?,
    })
}

fn token_for(q: &CustomerUserQuery, last: &User) -> String {
    super::encode_token(&json!({
        "d": q.deleted,
        "f": q.filter.as_ref().map(|f| json!({"field": field_name(f.field), "op": op_name(f.op), "value": f.value})),
        "s": field_name(q.sort),
        "o": q.descending,
        "k": q.sort.key_of(last),
        "i": last.id,
        "n": q.limit,
    }))
}

/// # `GET /v1/customers/{cid}/users` (U2, U3)
/// Active users by default; `filter={"Field":"UserState","Value":"Inactive","Operator":"equals"}`
/// lists the deleted ones. `sortField` / `sortDirection` order the list (display name by
/// default); pages follow with `seekOperation=Next` and the `MS-ContinuationToken` header.
pub async fn list_users(
    State(state): State<AppState>,
    caller: PcCaller,
    Path(cid): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> PcResult<Response> {
    let c = caller
        .customer(&state, &cid, Operation::ListUsers, Area::Directory)
        .await?;
    let pairs = super::query_pairs(&uri);
    let mut q = match super::seek(&pairs, &headers)? {
        Some(t) => query_from_token(&t)?,
        None => {
            let (deleted, filter) = match super::param(&pairs, "filter") {
                Some(f) => parse_filter(f)?,
                None => (false, None),
            };
            let sort = match super::param(&pairs, "sortField") {
                Some(f) => user_field(f).ok_or_else(|| PcError::bad_enum("sortField", f))?,
                None => UserField::DisplayName,
            };
            let descending = match super::param(&pairs, "sortDirection").map(str::to_ascii_lowercase) {
                None => false,
                Some(d) if d == "ascending" => false,
                Some(d) if d == "descending" => true,
                Some(d) => return Err(PcError::bad_enum("sortDirection", &d)),
            };
            CustomerUserQuery {
                deleted,
                filter,
                sort,
                descending,
                after: None,
                limit: super::page_size(&pairs)?,
            }
        }
    };
    let limit = q.limit;
    q.limit = limit + 1;
    let mut rows = state.store.customer_users_page(c.tenant.id, &q).await?;
    q.limit = limit;
    let more = i64::try_from(rows.len()).unwrap_or(i64::MAX) > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(0));
    let next = match rows.last() {
        Some((last, _)) if more => Some((
            format!("/customers/{}/users?seekOperation=Next", c.tenant.id),
            token_for(&q, last),
        )),
        _ => None,
    };
    let items = rows
        .iter()
        .map(|(u, d)| user_json(c.tenant.id, u, *d, None))
        .collect();
    let self_uri = format!("/customers/{}/users?size={limit}", c.tenant.id);
    Ok(json_response(
        StatusCode::OK,
        &super::seek_collection(items, &self_uri, next),
    ))
}

/// # `GET /v1/customers/{cid}/users/{uid}` (U4)
pub async fn get_user(
    State(state): State<AppState>,
    caller: PcCaller,
    Path((cid, uid)): Path<(String, String)>,
) -> PcResult<Response> {
    let c = caller
        .customer(&state, &cid, Operation::GetUser, Area::Directory)
        .await?;
    let u = resolve_user(&state, c.tenant.id, &uid).await?;
    Ok(json_response(
        StatusCode::OK,
        &user_json(c.tenant.id, &u, None, None),
    ))
}

// ---- writes ------------------------------------------------------------------------------------

fn check_upn(upn: &str, tenant: &Tenant) -> PcResult<()> {
    let Some((local, domain)) = upn.rsplit_once('@') else {
        return Err(PcError::bad_input(format!(
            "The user principal name '{upn}' is not valid."
        )));
    };
    if !allot_core::text::upn_local_part_ok(local) {
        return Err(PcError::bad_input(format!(
            "The user principal name '{upn}' is not valid."
        )));
    }
    if !domain.eq_ignore_ascii_case(&tenant.default_domain) {
        return Err(PcError::bad_input(format!(
            "The domain '{domain}' is not a verified domain of the customer."
        )));
    }
    Ok(())
}

fn usage_location(v: Option<String>) -> PcResult<Option<String>> {
    match v {
        Some(l) if is_country_code(&l) => Ok(Some(l.to_ascii_uppercase())),
        Some(l) => Err(PcError::bad_input(format!(
            "The usage location '{l}' is not valid."
        ))),
        None => Ok(None),
    }
}

/// `passwordProfile.password` when one is supplied.
fn password(b: &Map<String, Value>) -> PcResult<Option<String>> {
    let Some(p) = body::object(b, "passwordProfile")? else {
        return Ok(None);
    };
    body::boolean(p, "forceChangePassword")?;
    match body::string(p, "password")? {
        Some(pw) if !pw.is_empty() => Ok(Some(pw)),
        _ => Err(PcError::bad_input("passwordProfile needs a password.")),
    }
}

/// The `passwordProfile` echo of create and reset.
fn password_echo(pw: &str, b: &Map<String, Value>) -> Value {
    let force = body::object(b, "passwordProfile")
        .ok()
        .flatten()
        .and_then(|p| body::get(p, "forceChangePassword"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    json!({ "password": pw, "forceChangePassword": force })
}

fn upn_taken() -> PcError {
    PcError::bad_input("Another object with the same value for property userPrincipalName already exists.")
}

/// # `POST /v1/customers/{cid}/users` (U1)
/// Needs `userPrincipalName` (in the customer's domain), `displayName` and
/// `passwordProfile.password`; answers 201 with the new user.
pub async fn create_user(
    State(state): State<AppState>,
    caller: PcCaller,
    Path(cid): Path<String>,
    PcJson(b): PcJson,
) -> PcResult<Response> {
    let c = caller
        .customer(&state, &cid, Operation::CreateUser, Area::Directory)
        .await?;
    let upn = body::string(&b, "userPrincipalName")?
        .ok_or_else(|| PcError::bad_input("userPrincipalName is required."))?;
    check_upn(&upn, &c.tenant)?;
    let display_name = body::string(&b, "displayName")?
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| PcError::bad_input("displayName is required."))?;
    let pw = password(&b)?.ok_or_else(|| PcError::bad_input("passwordProfile is required."))?;
    let id = UserId::new();
    let user = User {
        id,
        tenant_id: c.tenant.id,
        user_principal_name: upn.clone(),
        display_name,
        given_name: body::string(&b, "firstName")?,
        surname: body::string(&b, "lastName")?,
        mail_nickname: upn.split('@').next().map(str::to_owned),
        mail: None,
        job_title: None,
        usage_location: usage_location(body::string(&b, "usageLocation")?)?,
        account_enabled: true,
        password_hash: Some(hash_secret(&id.to_string(), &pw)),
        directory_roles: Vec::new(),
        immutable_id: body::string(&b, "immutableId")?,
        phone_number: body::string(&b, "phoneNumber")?,
        created_at: allot_store::now(),
    };
    match state
        .operations
        .create_user(
            &crate::operations::actor(&caller.0, crate::operations::PARTNER_CENTER),
            &user,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => return Err(upn_taken()),
        Err(e) => return Err(e.into()),
    }
    let echo = password_echo(&pw, &b);
    Ok(json_response(
        StatusCode::CREATED,
        &user_json(c.tenant.id, &user, None, Some(&echo)),
    ))
}

/// The properties a PATCH may change (`state`, `userDomainType`, `id`, times and links are
/// read-only: the SDK sends them with every update).
const UPDATABLE: &[&str] = &[
    "firstName",
    "lastName",
    "displayName",
    "usageLocation",
    "userPrincipalName",
    "immutableId",
    "phoneNumber",
];

/// # `PATCH /v1/customers/{cid}/users/{uid}` (U5 update, U6 reset password, U7 restore)
/// A deleted user with `"state":"active"` is restored; `passwordProfile` resets the password;
/// the other properties update the user. Nulls leave a property as it is.
pub async fn patch_user(
    State(state): State<AppState>,
    caller: PcCaller,
    Path((cid, uid)): Path<(String, String)>,
    PcJson(b): PcJson,
) -> PcResult<Response> {
    let wants_state = body::string(&b, "state")?.map(|s| s.to_ascii_lowercase());
    if let Some(s) = &wants_state
        && s != "active"
        && s != "inactive"
    {
        return Err(PcError::bad_enum("state", s));
    }
    let pw = password(&b)?;
    let updates: Vec<&str> = UPDATABLE
        .iter()
        .copied()
        .filter(|p| body::get(&b, p).is_some())
        .collect();
    // The roles needed depend on what the body asks for; check the customer once, with the
    // operation the body is mostly about, and the password reset separately.
    let op = if pw.is_some() && updates.is_empty() {
        Operation::ResetPassword
    } else {
        Operation::UpdateUser
    };
    let c = caller.customer(&state, &cid, op, Area::Directory).await?;
    let user = caller.partner_user(Area::Directory)?;
    if pw.is_some() && !Operation::ResetPassword.allowed_by(c.relationship.roles_of(user)) {
        return Err(PcError::role_denied());
    }
    let tenant = c.tenant.id;

    let active = state.store.find_user(tenant, &uid).await?;
    let Some(target) = active else {
        // Not active: a restore of a deleted user, or nothing.
        let id = UserId::parse(&uid).map_err(|_| PcError::user_not_found(&uid))?;
        if wants_state.as_deref() != Some("active") || state.store.deleted_user(tenant, id).await?.is_none() {
            return Err(PcError::user_not_found(&uid));
        }
        if !Operation::RestoreUser.allowed_by(c.relationship.roles_of(user)) {
            return Err(PcError::role_denied());
        }
        let restored = match state
            .operations
            .restore_user(
                &crate::operations::actor(&caller.0, crate::operations::PARTNER_CENTER),
                tenant,
                id,
            )
            .await
        {
            Ok(u) => u,
            Err(StoreError::NotFound) => return Err(PcError::user_not_found(&uid)),
            Err(StoreError::Conflict(_)) => return Err(upn_taken()),
            Err(e) => return Err(e.into()),
        };
        return Ok(json_response(
            StatusCode::OK,
            &user_json(tenant, &restored, None, None),
        ));
    };
    if wants_state.as_deref() == Some("inactive") {
        return Err(PcError::bad_input("Delete the user to make it inactive."));
    }

    let upn = body::string(&b, "userPrincipalName")?;
    if let Some(u) = &upn {
        check_upn(u, &c.tenant)?;
    }
    let display_name = body::string(&b, "displayName")?;
    if display_name.as_deref().is_some_and(|d| d.trim().is_empty()) {
        return Err(PcError::bad_input("displayName cannot be empty."));
    }
    let first = body::string(&b, "firstName")?;
    let last = body::string(&b, "lastName")?;
    let location = usage_location(body::string(&b, "usageLocation")?)?;
    let immutable = body::string(&b, "immutableId")?;
    let phone = body::string(&b, "phoneNumber")?;
    let pw_for_edit = pw.clone();
    // A new usage location re-evaluates the user's group licenses (in the operation).
    let updated = state
        .operations
        .update_user(tenant, target.id, |u| {
            if let Some(v) = &upn {
                u.user_principal_name.clone_from(v);
            }
            if let Some(v) = &display_name {
                u.display_name.clone_from(v);
            }
            if first.is_some() {
                u.given_name.clone_from(&first);
            }
            if last.is_some() {
                u.surname.clone_from(&last);
            }
            if location.is_some() {
                u.usage_location.clone_from(&location);
            }
            if immutable.is_some() {
                u.immutable_id.clone_from(&immutable);
            }
            if phone.is_some() {
                u.phone_number.clone_from(&phone);
            }
            if let Some(p) = &pw_for_edit {
                u.password_hash = Some(hash_secret(&u.id.to_string(), p));
            }
            Ok(())
        })
        .await;
    let updated = match updated {
        Ok(u) => u,
        Err(StoreError::Conflict(_)) => return Err(upn_taken()),
        Err(StoreError::NotFound) => return Err(PcError::user_not_found(&uid)),
        Err(e) => return Err(e.into()),
    };
    let echo = pw.as_deref().map(|p| password_echo(p, &b));
    Ok(json_response(
        StatusCode::OK,
        &user_json(tenant, &updated, None, echo.as_ref()),
    ))
}

/// # `DELETE /v1/customers/{cid}/users/{uid}` (U8)
/// Soft delete: the user's units are freed and it can be restored for 30 days. 204, no body.
pub async fn delete_user(
    State(state): State<AppState>,
    caller: PcCaller,
    Path((cid, uid)): Path<(String, String)>,
) -> PcResult<Response> {
    let c = caller
        .customer(&state, &cid, Operation::DeleteUser, Area::Directory)
        .await?;
    let u = resolve_user(&state, c.tenant.id, &uid).await?;
    match state
        .operations
        .delete_user(
            &crate::operations::actor(&caller.0, crate::operations::PARTNER_CENTER),
            c.tenant.id,
            u.id,
        )
        .await
    {
        Ok(()) => {}
        Err(StoreError::NotFound) => return Err(PcError::user_not_found(&uid)),
        Err(e) => return Err(e.into()),
    }
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// # `GET /v1/customers/{cid}/users/{uid}/directoryroles` (R1)
pub async fn list_directory_roles(
    State(state): State<AppState>,
    caller: PcCaller,
    Path((cid, uid)): Path<(String, String)>,
) -> PcResult<Response> {
    let c = caller
        .customer(&state, &cid, Operation::ReadUserRoles, Area::Directory)
        .await?;
    let u = resolve_user(&state, c.tenant.id, &uid).await?;
    let items = u
        .directory_roles
        .iter()
        .filter_map(|r| directory::role(r))
        .map(|r| {
            json!({
                "name": r.name,
                "id": r.template_id,
                "attributes": attributes("DirectoryRole"),
            })
        })
        .collect();
    Ok(json_response(StatusCode::OK, &super::collection(items)))
}
