//! Beta `cloudLicensing` (spec §1.3 C1–C22, §2.11–2.17, §3.12), served under `/beta` only:
//! `admin/cloudLicensing` (allotments, assignments, assignmentErrors), `users/{id}/cloudLicensing`
//! and `me/cloudLicensing` (assignments, assignmentErrors, usageRights, waitingMembers) and
//! `groups/{id}/cloudLicensing` (assignments, usageRights).
//! <https://learn.microsoft.com/en-us/graph/api/resources/cloudlicensing-allotment?view=graph-rest-beta>
//!
//! Every entity is a view of the one licensing state (see `allot_store::cloud_licensing`): an
//! assignment made here is an `assignLicense` seen from another side, and the reverse.

pub mod model;
pub mod options;
mod render;
mod writes;

use std::collections::HashMap;

use allot_core::ids::GroupId;
use allot_store::cloud_views::{AssignmentView, ViewQuery, ViewScope};
use allot_store::records::{Group, MemberRef, Tenant, User};
use axum::Router;
use axum::extract::{FromRequestParts, MatchedPath, Path};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Map, Value, json};

use self::model::View;
use self::options::List;
use super::error::{GraphError, GraphResult};
use super::extract::Auth;
use super::perm::{self, Access};
use super::query::ODataQuery;
use super::{ApiVersion, context_url, json_response};
use crate::auth::tokens::Caller;
use crate::state::AppState;

/// The routes, mounted under `/beta` only.
pub fn router() -> Router<AppState> {
    const ADMIN: &str = "/admin/cloudLicensing";
    const ALLOT: &str = "/admin/cloudLicensing/allotments/{aid}";
    let mut r = Router::new()
        .route(&format!("{ADMIN}/allotments"), get(render::list_allotments))
        .route(&format!("{ADMIN}/allotments/$count"), get(render::count))
        .route(&format!("{ALLOT}/waitingMembers/$count"), get(render::count))
        .route(ALLOT, get(render::get_allotment))
        .route(&format!("{ALLOT}/waitingMembers"), get(render::list_waiting))
        .route(
            &format!("{ALLOT}/waitingMembers/{{id}}"),
            get(render::get_waiting),
        )
        .route(
            &format!("{ALLOT}/waitingMembers/{{id}}/allotment"),
            get(render::waiting_allotment),
        )
        .route(
            &format!("{ALLOT}/waitingMembers/{{id}}/assignedTo"),
            get(render::waiting_assigned_to),
        );
    // Assignments: five collections (admin, allotment, user, me, group), the same operations.
    for base in [
        format!("{ADMIN}/assignments"),
        format!("{ALLOT}/assignments"),
        "/users/{uid}/cloudLicensing/assignments".to_owned(),
        "/me/cloudLicensing/assignments".to_owned(),
        "/groups/{gid}/cloudLicensing/assignments".to_owned(),
    ] {
        r = r
            .route(
                &base,
                get(render::list_assignments).post(writes::create_assignment),
            )
            .route(&format!("{base}/$count"), get(render::count))
            .route(
                &format!("{base}/{{id}}"),
                get(render::get_assignment)
                    .patch(writes::update_assignment)
                    .delete(writes::delete_assignment),
            )
            .route(
                &format!("{base}/{{id}}/allotment"),
                get(render::assignment_allotment),
            )
            .route(
                &format!("{base}/{{id}}/assignedTo"),
                get(render::assignment_assigned_to),
            );
    }
    for base in ["/users/{uid}/cloudLicensing", "/me/cloudLicensing"] {
        r = r
            .route(
                &format!("{base}/assignments/reprocessAssignments"),
                post(writes::reprocess_assignments),
            )
            // The SDKs call the action by its namespace-qualified name.
            .route(
                &format!("{base}/assignments/microsoft.graph.cloudLicensing.reprocessAssignments"),
                post(writes::reprocess_assignments),
            )
            .route(&format!("{base}/waitingMembers"), get(render::list_waiting))
            .route(&format!("{base}/waitingMembers/$count"), get(render::count))
            .route(&format!("{base}/waitingMembers/{{id}}"), get(render::get_waiting))
            .route(&format!("{base}/waitingMembers/{{id}}/allotment"), get(render::waiting_allotment))
            .route(&format!("{base}/waitingMembers/{{id}}/assignedTo"), get(render::waiting_assigned_to));
    }
    for base in [ADMIN, "/users/{uid}/cloudLicensing", "/me/cloudLicensing"] {
        r = r
            .route(&format!("{base}/assignmentErrors"), get(render::list_errors))
            .route(&format!("{base}/assignmentErrors/$count"), get(render::count))
            .route(&format!("{base}/assignmentErrors/{{id}}"), get(render::get_error))
            .route(
                &format!("{base}/assignmentErrors/{{id}}/assignedTo"),
                get(render::error_assigned_to),
            )
            .route(
                &format!("{base}/assignmentErrors/{{id}}/usageRight"),
                get(render::error_usage_right),
            );
    }
    for base in [
        "/users/{uid}/cloudLicensing",
        "/me/cloudLicensing",
        "/groups/{gid}/cloudLicensing",
    ] {
        r = r
            .route(&format!("{base}/usageRights"), get(render::list_usage_rights))
            .route(&format!("{base}/usageRights/$count"), get(render::count))
            .route(
                &format!("{base}/usageRights/{{id}}"),
                get(render::get_usage_right),
            )
            .route(
                &format!("{base}/usageRights/{{id}}/assignments"),
                get(render::usage_right_assignments),
            )
            .route(
                &format!("{base}/usageRights/{{id}}/allotments"),
                get(render::usage_right_allotments),
            );
    }
    r
}

// ---- errors -------------------------------------------------------------------------------------

/// 404 for a path segment that names nothing in the caller's tenant (spec §3.12).
pub fn not_found(id: &str) -> GraphError {
    GraphError::cloud(
        StatusCode::NOT_FOUND,
        "notFound",
        "resourceNotFound",
        format!("Resource '{id}' not found"),
    )
}

fn forbidden() -> GraphError {
    GraphError::cloud(
        StatusCode::FORBIDDEN,
        "forbidden",
        "missingRequiredPermission",
        "Cannot process request because the user does not have required permissions.",
    )
}

fn check(access: &Access, caller: &Caller) -> GraphResult<()> {
    access.check(caller).map_err(|_| forbidden())
}

// ---- scopes -------------------------------------------------------------------------------------

/// Which collection a request addresses, known from the route alone (permissions are checked
/// before anything is looked up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Admin,
    Allotment,
    User,
    Me,
    Group,
}

impl Kind {
    fn of(matched: &str) -> Self {
        if matched.contains("/admin/cloudLicensing/allotments/{aid}") {
            Self::Allotment
        } else if matched.contains("/admin/cloudLicensing") {
            Self::Admin
        } else if matched.contains("/me/cloudLicensing") {
            Self::Me
        } else if matched.contains("/groups/{gid}") {
            Self::Group
        } else {
            Self::User
        }
    }

    /// Read permissions of the assignment, waiting-member and error collections.
    const fn read(self) -> &'static Access {
        match self {
            Self::Admin | Self::Allotment => &perm::CL_ADMIN_READ,
            Self::User => &perm::CL_USER_READ,
            Self::Me => &perm::CL_ME_READ,
            Self::Group => &perm::CL_GROUP_READ,
        }
    }

    const fn write(self) -> &'static Access {
        match self {
            Self::Admin | Self::Allotment => &perm::CL_ADMIN_ASSIGN,
            Self::User | Self::Me => &perm::CL_USER_ASSIGN,
            Self::Group => &perm::CL_GROUP_ASSIGN,
        }
    }

    const fn usage_rights(self) -> &'static Access {
        match self {
            Self::Me => &perm::CL_ME_USAGE_RIGHTS,
            Self::Group => &perm::CL_GROUP_USAGE_RIGHTS,
            _ => &perm::CL_USER_USAGE_RIGHTS,
        }
    }
}

/// A resolved collection owner.
#[derive(Debug, Clone)]
pub enum Scope {
    Admin,
    Allotment(allot_core::ids::SubscriptionId, String),
    User(User),
    Group(Group),
}

impl Scope {
    /// The `@odata.context` path of the scope's `cloudLicensing` navigation.
    fn fragment(&self) -> String {
        match self {
            Self::Admin => "admin/cloudLicensing".to_owned(),
            Self::Allotment(_, id) => format!("admin/cloudLicensing/allotments('{id}')"),
            Self::User(u) => format!("users('{}')/cloudLicensing", u.id),
            Self::Group(g) => format!("groups('{}')/cloudLicensing", g.id),
        }
    }

    fn principal(&self) -> Option<MemberRef> {
        match self {
            Self::User(u) => Some(MemberRef::User(u.id)),
            Self::Group(g) => Some(MemberRef::Group(g.id)),
            Self::Admin | Self::Allotment(..) => None,
        }
    }
}

/// What every handler works with.
pub struct Ctx {
    pub state: AppState,
    pub version: ApiVersion,
    pub tenant: Tenant,
    pub view: View,
    pub scope: Scope,
    pub kind: Kind,
    pub params: HashMap<String, String>,
}

/// The parts of a read request, extracted once (the reads have no body).
pub struct Req {
    state: AppState,
    auth: Auth,
    version: ApiVersion,
    matched: MatchedPath,
    params: HashMap<String, String>,
    pub q: ODataQuery,
}

impl FromRequestParts<AppState> for Req {
    type Rejection = GraphError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let auth = Auth::from_request_parts(parts, state).await?;
        let q = ODataQuery::from_request_parts(parts, state).await?;
        let unreadable = || GraphError::bad_request("The request path could not be read.");
        let version = parts
            .extensions
            .get::<ApiVersion>()
            .copied()
            .ok_or_else(unreadable)?;
        let matched = MatchedPath::from_request_parts(parts, state)
            .await
            .map_err(|_| unreadable())?;
        let Path(params) = Path::<HashMap<String, String>>::from_request_parts(parts, state)
            .await
            .map_err(|_| unreadable())?;
        Ok(Self {
            state: state.clone(),
            auth,
            version,
            matched,
            params,
            q,
        })
    }
}

impl Req {
    #[must_use]
    pub fn matched_path(&self) -> &str {
        self.matched.as_str()
    }

    /// The handler's context, after checking `access` for the route's collection.
    pub async fn ctx(&self, access: impl FnOnce(Kind) -> &'static Access) -> GraphResult<Ctx> {
        Ctx::new(
            &self.state,
            &self.auth,
            self.version,
            &self.matched,
            self.params.clone(),
            access,
        )
        .await
    }
}

impl Ctx {
    pub async fn new(
        state: &AppState,
        auth: &Auth,
        version: ApiVersion,
        matched: &MatchedPath,
        params: HashMap<String, String>,
        access: impl FnOnce(Kind) -> &'static Access,
    ) -> GraphResult<Self> {
        let kind = Kind::of(matched.as_str());
        check(access(kind), &auth.0.caller)?;
        let tenant = super::users::tenant_of(state, auth.0.tenant).await?;
        let view = View::load(&state.store, tenant.id).await?;
        let scope = match kind {
            Kind::Admin => Scope::Admin,
            Kind::Allotment => {
                let aid = params.get("aid").cloned().unwrap_or_default();
                let a = view.allotment_by_id(&aid).ok_or_else(|| not_found(&aid))?;
                Scope::Allotment(a.sub.id, aid)
            }
            Kind::User | Kind::Me => {
                let key = if kind == Kind::Me {
                    auth.me()?.to_string()
                } else {
                    params.get("uid").cloned().unwrap_or_default()
                };
                Scope::User(resolve_user(state, &tenant, &key).await?)
            }
            Kind::Group => {
                let key = params.get("gid").cloned().unwrap_or_default();
                let g = GroupId::parse(&key).ok();
                let found = match g {
                    Some(g) => state.store.group(tenant.id, g).await?,
                    None => None,
                };
                Scope::Group(found.ok_or_else(|| not_found(&key))?)
            }
        };
        Ok(Self {
            state: state.clone(),
            version,
            tenant,
            view,
            scope,
            kind,
            params,
        })
    }

    /// The same context over a fresh view (after a write).
    pub async fn reload(self) -> GraphResult<Self> {
        let view = View::load(&self.state.store, self.tenant.id).await?;
        Ok(Self { view, ..self })
    }

    pub fn param(&self, name: &str) -> &str {
        self.params.get(name).map_or("", String::as_str)
    }

    /// `{base}/beta/$metadata#{scope}/{rest}`.
    pub fn context(&self, rest: &str) -> String {
        context_url(self.version, &format!("{}/{rest}", self.scope.fragment()))
    }

    /// The scope as the store's views know it.
    pub fn view_scope(&self) -> ViewScope {
        match &self.scope {
            Scope::Admin => ViewScope::Tenant,
            Scope::Allotment(sub, _) => ViewScope::Allotment(*sub),
            Scope::User(u) => ViewScope::Principal(MemberRef::User(u.id)),
            Scope::Group(g) => ViewScope::Principal(MemberRef::Group(g.id)),
        }
    }

    /// One entity of view `V` in the scope, by its identity values; 404 naming `id` if none.
    pub async fn one<V: allot_store::cloud_views::View>(
        &self,
        id: &str,
        key: Option<Vec<String>>,
    ) -> GraphResult<V> {
        let Some(key) = key else {
            return Err(not_found(id));
        };
        self.view
            .one::<V>(&self.state.store, self.view_scope(), &key)
            .await?
            .ok_or_else(|| not_found(id))
    }

    /// The scope's assignment named by `id`.
    pub async fn assignment_by_id(&self, id: &str) -> GraphResult<model::Assignment> {
        let key = model::parse_assignment_id(id).map(|(p, sku)| {
            let kind = match p {
                MemberRef::User(_) => "u",
                MemberRef::Group(_) => "g",
            };
            vec![kind.to_owned(), p.uuid().to_string(), sku.to_string()]
        });
        Ok(self.one::<AssignmentView>(id, key).await?.into())
    }

    /// The scope's assignment named by the path's `{id}`.
    pub async fn assignment(&self) -> GraphResult<model::Assignment> {
        self.assignment_by_id(self.param("id")).await
    }

    /// One page of view `V` in the scope with `o`'s filter, order and position; the next link
    /// and (when asked, on the first page) the count.
    pub async fn page<V: allot_store::cloud_views::View>(
        &self,
        q: &ODataQuery,
        o: &List,
    ) -> GraphResult<(Vec<V>, Option<String>, Option<i64>)> {
        let store = &self.state.store;
        let scope = self.view_scope();
        let query = ViewQuery {
            filter: o.filter.as_ref(),
            order: &o.order,
            after: o.after.as_deref(),
            only: None,
            limit: Some(i64::try_from(o.top + 1).unwrap_or(1000)),
        };
        let mut rows = self.view.page::<V>(store, scope, &query).await?;
        let more = rows.len() > o.top;
        rows.truncate(o.top);
        let next = if more {
            rows.last()
                .map(|(_, k)| q.next_link_token(&options::encode_token(k)))
        } else {
            None
        };
        let count = if o.count && o.after.is_none() {
            Some(self.view.count::<V>(store, scope, o.filter.as_ref()).await?)
        } else {
            None
        };
        Ok((rows.into_iter().map(|(v, _)| v).collect(), next, count))
    }
}

async fn resolve_user(state: &AppState, tenant: &Tenant, key: &str) -> GraphResult<User> {
    state
        .store
        .find_user(tenant.id, key)
        .await?
        .ok_or_else(|| not_found(key))
}

// ---- shared rendering helpers --------------------------------------------------------------

/// Keeps `@odata.type` and the selected properties.
fn pick(mut m: Map<String, Value>, odata_type: &str, select: Option<&[&str]>) -> Map<String, Value> {
    if let Some(s) = select {
        m.retain(|k, _| s.contains(&k.as_str()));
    }
    let mut out = Map::new();
    out.insert("@odata.type".into(), json!(odata_type));
    out.extend(m);
    out
}

fn entity_body(context: String, mut m: Map<String, Value>) -> Response {
    let mut out = Map::new();
    out.insert("@odata.context".into(), json!(context));
    out.append(&mut m);
    json_response(StatusCode::OK, &Value::Object(out))
}

/// `#set` or `#set(a,b)` for a selected collection; `…/$entity` for one entity.
fn with_select(set: &str, select: Option<&[&str]>) -> String {
    match select {
        Some(s) => format!("{set}({})", s.join(",")),
        None => set.to_owned(),
    }
}
