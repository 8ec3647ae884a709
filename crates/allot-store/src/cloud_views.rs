//! The beta cloudLicensing entities as SQL views of the one licensing state, filtered, sorted,
//! counted and keyset-paged by the database (their OData schemas are
//! `allot_odata::cloud_schema`, whose columns name the CTEs written here):
//!
//! - `cl_allotments a`: one per subscription whose SKU the tenant's catalog knows. Units are pooled
//!   per SKU (one counter, one lock, `sku_pools`), so each allotment of a SKU shows the pool's
//!   consumption filled in subscription order, the last one taking any excess.
//! - `cl_assignments x`: a user's direct `license_assignments` rows and the entries of groups'
//!   `assigned_licenses`, each with the allotment it draws from (the one cloudLicensing recorded in
//!   `cloud_assignment_allotments`, else the SKU's first subscription).
//! - `cl_errors e`: group rows in error for a reason units cannot fix (the vocabulary's
//!   "assignment error"), with `code` from the vocabulary's `sql_cloud_error_code!`.
//! - `cl_waiting w`: members waiting for a unit (the vocabulary's "waiting"), one per (user,
//!   allotment), in seat order.
//! - `cl_rights r`: one per SKU a principal holds (a user: its holding rows; a group: its licenses),
//!   from the sources in `cl_sources`.
//!
//! The catalog is Rust data; the SKUs that matter (the tenant's subscriptions') and their plans
//! travel as two JSON parameters and are read by the `cl_skus` and `cl_plans` CTEs.

use allot_core::catalog::Sku;
use allot_core::ids::{GroupId, ServicePlanId, SkuId, SubscriptionId, TenantId, UserId};
use allot_odata::schema::{Dialect, Sql, Type};
use allot_odata::sql::SortKey;
use allot_odata::validate::Cond;
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::db::Backend;
use crate::dbid::{DbId, NIL};
use crate::error::StoreError;
use crate::records::{MemberRef, Subscription};
use crate::store::Store;
use crate::{bind_odata, on_db, sql};

/// Which entity set a query reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewSet {
    Allotments,
    Assignments,
    Errors,
    Waiting,
    UsageRights,
}

/// Whose entities: the tenant's, one allotment's, one user's or one group's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ViewScope {
    Tenant,
    Allotment(SubscriptionId),
    Principal(MemberRef),
}

/// One query of a view: `filter` is a condition validated against the set's schema (and its
/// nested allotment conditions), `order` the `$orderby` keys; the set's own key columns always
/// follow, so that the order is total. `after` continues after the row whose key values (as
/// [`Page`] returns them) are given; `only` keeps the one row whose identity columns are given.
#[derive(Debug, Clone, Default)]
pub struct ViewQuery<'a> {
    pub filter: Option<&'a Cond>,
    pub order: &'a [SortKey],
    pub after: Option<&'a [String]>,
    pub only: Option<&'a [String]>,
    pub limit: Option<i64>,
}

/// An allotment: its subscription and what it shows as consumed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllotmentView {
    pub sub: Subscription,
    pub consumed: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssignmentView {
    pub principal: MemberRef,
    pub sku: SkuId,
    pub disabled: Vec<ServicePlanId>,
    pub allotment: SubscriptionId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorView {
    pub user: UserId,
    pub sku: SkuId,
    pub group: GroupId,
    pub code: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingView {
    pub user: UserId,
    pub allotment: SubscriptionId,
    pub since: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRightView {
    pub principal: MemberRef,
    pub sku: SkuId,
}

/// The columns every view's query returns (unused ones NULL), decoded by [`View::decode`].
#[derive(sqlx::FromRow)]
pub struct RawRow {
    k: String,
    p: DbId,
    s: Option<DbId>,
    g: Option<DbId>,
    kind: Option<String>,
    disabled: Option<String>,
    n1: Option<i64>,
    n2: Option<i64>,
    n3: Option<i64>,
    n4: Option<i64>,
    n5: Option<i64>,
    at: Option<DateTime<Utc>>,
}

fn missing(col: &str) -> StoreError {
    StoreError::Corrupt(format!("cloudLicensing view: column {col} is NULL"))
}

fn plans(json: Option<&str>) -> Result<Vec<ServicePlanId>, StoreError> {
    serde_json::from_str(json.unwrap_or("[]"))
        .map_err(|e| StoreError::Corrupt(format!("disabled plans of an assignment: {e}")))
}

fn principal(kind: Option<&str>, id: DbId) -> MemberRef {
    if kind == Some("g") {
        MemberRef::Group(GroupId::from_uuid(id.0))
    } else {
        MemberRef::User(UserId::from_uuid(id.0))
    }
}

/// An entity a view yields.
pub trait View: Sized {
    const SET: ViewSet;
    fn decode(r: &RawRow, tenant: TenantId) -> Result<Self, StoreError>;
}

impl View for AllotmentView {
    const SET: ViewSet = ViewSet::Allotments;
    fn decode(r: &RawRow, tenant: TenantId) -> Result<Self, StoreError> {
        let n = |v: Option<i64>, c| v.ok_or_else(|| missing(c));
        Ok(Self {
            sub: Subscription {
                id: SubscriptionId::from_uuid(r.p.0),
                tenant_id: tenant,
                sku_id: SkuId::from_uuid(r.s.ok_or_else(|| missing("sku_id"))?.0),
                enabled: n(r.n1, "allotted")?,
                warning: n(r.n3, "warning")?,
                suspended: n(r.n4, "suspended")?,
                locked_out: n(r.n5, "locked_out")?,
                created_at: r.at.ok_or_else(|| missing("created_at"))?,
            },
            consumed: n(r.n2, "consumed")?,
        })
    }
}

impl View for AssignmentView {
    const SET: ViewSet = ViewSet::Assignments;
    fn decode(r: &RawRow, _: TenantId) -> Result<Self, StoreError> {
        Ok(Self {
            principal: principal(r.kind.as_deref(), r.p),
            sku: SkuId::from_uuid(r.s.ok_or_else(|| missing("sku_id"))?.0),
            disabled: plans(r.disabled.as_deref())?,
            allotment: SubscriptionId::from_uuid(r.g.ok_or_else(|| missing("allotment_id"))?.0),
        })
    }
}

impl View for ErrorView {
    const SET: ViewSet = ViewSet::Errors;
    fn decode(r: &RawRow, _: TenantId) -> Result<Self, StoreError> {
        Ok(Self {
            user: UserId::from_uuid(r.p.0),
            sku: SkuId::from_uuid(r.s.ok_or_else(|| missing("sku_id"))?.0),
            group: GroupId::from_uuid(r.g.ok_or_else(|| missing("group_id"))?.0),
            code: r.kind.clone().ok_or_else(|| missing("code"))?,
            at: r.at.ok_or_else(|| missing("at"))?,
        })
    }
}

impl View for WaitingView {
    const SET: ViewSet = ViewSet::Waiting;
    fn decode(r: &RawRow, _: TenantId) -> Result<Self, StoreError> {
        Ok(Self {
            user: UserId::from_uuid(r.p.0),
            allotment: SubscriptionId::from_uuid(r.g.ok_or_else(|| missing("allotment_id"))?.0),
            since: r.at.ok_or_else(|| missing("since"))?,
        })
    }
}

impl View for UsageRightView {
    const SET: ViewSet = ViewSet::UsageRights;
    fn decode(r: &RawRow, _: TenantId) -> Result<Self, StoreError> {
        Ok(Self {
            principal: principal(r.kind.as_deref(), r.p),
            sku: SkuId::from_uuid(r.s.ok_or_else(|| missing("sku_id"))?.0),
        })
    }
}

/// A page: each entity with its key values (what a `$skiptoken` carries to continue after it).
pub type Page<T> = Vec<(T, Vec<String>)>;

const NIL_TEXT: &str = "'00000000-0000-0000-0000-000000000000'";

/// `GREATEST`/`LEAST` of two values.
fn greatest(d: Dialect, a: &str, b: &str) -> String {
    match d {
        Dialect::Sqlite => format!("MAX({a}, {b})"),
        Dialect::Postgres => format!("GREATEST({a}, {b})"),
    }
}

fn least(d: Dialect, a: &str, b: &str) -> String {
    match d {
        Dialect::Sqlite => format!("MIN({a}, {b})"),
        Dialect::Postgres => format!("LEAST({a}, {b})"),
    }
}

/// `FROM` items over a group's `assigned_licenses` (alias `j`), and its SKU and disabled plans.
fn group_licenses(d: Dialect) -> (&'static str, &'static str, &'static str) {
    match d {
        Dialect::Sqlite => (
            "json_each(g.assigned_licenses) j",
            "json_extract(j.value, '$.skuId')",
            "json_extract(j.value, '$.disabledPlans')",
        ),
        Dialect::Postgres => (
            "jsonb_array_elements(CAST(g.assigned_licenses AS jsonb)) AS j(value)",
            "CAST(j.value->>'skuId' AS uuid)",
            "CAST(j.value->'disabledPlans' AS text)",
        ),
    }
}

/// The allotment an assignment of `sku` to `principal` draws from.
fn allotment_of(principal: &str, sku: &str) -> String {
    format!(
        "COALESCE((SELECT c.subscription_id FROM cloud_assignment_allotments c JOIN cl_allotments ca \
         ON ca.id = c.subscription_id WHERE c.principal_id = {principal} AND c.sku_id = {sku}), \
         (SELECT f.id FROM cl_allotments f WHERE f.sku_id = {sku} ORDER BY f.created_at, f.id LIMIT 1))"
    )
}

/// The CTEs every view reads: the catalog (`$2`, `$3`) and the allotments (tenant `$1`).
fn prelude(b: Backend) -> String {
    let d = sql::dialect(b);
    let taken = "COALESCE(SUM(s.enabled) OVER (PARTITION BY s.sku_id ORDER BY s.created_at, s.id \
                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0)";
    let left = greatest(d, &format!("COALESCE(p.consumed, 0) - {taken}"), "0");
    format!(
        "WITH cl_skus AS (SELECT {sku} AS sku_id, {part} AS part_number FROM {skus}), \
         cl_plans AS (SELECT {sku} AS sku_id, {plan} AS plan_id FROM {plans}), \
         cl_allotments AS (SELECT s.id, s.sku_id, k.part_number, s.created_at, \
           CAST(s.enabled AS BIGINT) AS allotted, CAST(s.warning AS BIGINT) AS warning, \
           CAST(s.suspended AS BIGINT) AS suspended, CAST(s.locked_out AS BIGINT) AS locked_out, \
           CAST(CASE WHEN ROW_NUMBER() OVER (PARTITION BY s.sku_id ORDER BY s.created_at DESC, s.id DESC) = 1 \
             THEN {left} ELSE {capped} END AS BIGINT) AS consumed \
           FROM subscriptions s JOIN cl_skus k ON k.sku_id = s.sku_id \
           LEFT JOIN sku_pools p ON p.tenant_id = s.tenant_id AND p.sku_id = s.sku_id \
           WHERE s.tenant_id = $1)",
        sku = sql::json_field(b, "sku", "uuid"),
        part = sql::json_field(b, "part", "text"),
        plan = sql::json_field(b, "plan", "uuid"),
        skus = sql::json_rows(b, 2),
        plans = sql::json_rows(b, 3),
        capped = least(d, &left, "s.enabled"),
    )
}

/// The set's CTE (after the prelude), its alias, its SELECT list, its identity keys and its
/// default order, for `scope` (whose id is `$4`).
struct Shape {
    ctes: String,
    from: &'static str,
    select: &'static str,
    scope: String,
    keys: &'static [SortKey],
    default_order: &'static [SortKey],
}

const fn key(expr: &'static str, ty: Type) -> SortKey {
    SortKey::asc(Sql::same(expr), ty)
}

static ALLOTMENT_KEYS: [SortKey; 1] = [key("a.id", Type::Guid)];
static ASSIGNMENT_KEYS: [SortKey; 3] = [
    key("x.kind", Type::String),
    key("x.principal_id", Type::Guid),
    key("x.sku_id", Type::Guid),
];
static ERROR_KEYS: [SortKey; 3] = [
    key("e.principal_id", Type::Guid),
    key("e.sku_id", Type::Guid),
    key("e.group_id", Type::Guid),
];
static WAITING_KEYS: [SortKey; 2] = [
    key("w.principal_id", Type::Guid),
    key("w.allotment_id", Type::Guid),
];
/// The waiting room's FIFO (the vocabulary's seat order): since when, then membership order.
static WAITING_ORDER: [SortKey; 2] = [key("w.since", Type::DateTime), key("w.seq", Type::Int)];
static RIGHT_KEYS: [SortKey; 2] = [key("r.principal_id", Type::Guid), key("r.sku_id", Type::Guid)];

fn shape(set: ViewSet, scope: ViewScope, b: Backend) -> Shape {
    let d = sql::dialect(b);
    let (each, gsku, gdisabled) = group_licenses(d);
    let tenant_wide = "CAST($4 AS TEXT) IS NOT NULL".to_owned();
    let (user_only, group_only) = match scope {
        ViewScope::Principal(MemberRef::User(_)) => ("la.user_id = $4", "1 = 0"),
        ViewScope::Principal(MemberRef::Group(_)) => ("1 = 0", "g.id = $4"),
        ViewScope::Tenant | ViewScope::Allotment(_) => ("CAST($4 AS TEXT) IS NOT NULL", "1 = 1"),
    };
    match set {
        ViewSet::Allotments => Shape {
            ctes: String::new(),
            from: "cl_allotments a",
            select: "a.id AS p, a.sku_id AS s, NULL AS g, NULL AS kind, NULL AS disabled, a.allotted AS n1, \
                     a.consumed AS n2, a.warning AS n3, a.suspended AS n4, a.locked_out AS n5, a.created_at AS at",
            scope: match scope {
                ViewScope::Allotment(_) => "a.id = $4".to_owned(),
                _ => tenant_wide,
            },
            keys: &ALLOTMENT_KEYS,
            default_order: &[],
        },
        ViewSet::Assignments => Shape {
            ctes: format!(
                ", cl_assignments AS (SELECT y.kind, y.principal_id, y.sku_id, y.disabled, {allot} AS allotment_id FROM (\
                 SELECT 'u' AS kind, la.user_id AS principal_id, la.sku_id, la.disabled_plans AS disabled \
                 FROM license_assignments la WHERE la.tenant_id = $1 AND la.source_group_id = {NIL_TEXT} AND {user_only} \
                 UNION ALL SELECT 'g', g.id, {gsku}, {gdisabled} FROM groups g, {each} \
                 WHERE g.tenant_id = $1 AND {group_only}) y)",
                allot = allotment_of("y.principal_id", "y.sku_id"),
            ),
            from: "cl_assignments x",
            select: "x.principal_id AS p, x.sku_id AS s, x.allotment_id AS g, x.kind AS kind, x.disabled AS disabled, \
                     NULL AS n1, NULL AS n2, NULL AS n3, NULL AS n4, NULL AS n5, NULL AS at",
            scope: match scope {
                ViewScope::Allotment(_) => "x.allotment_id = $4".to_owned(),
                _ => "x.allotment_id IS NOT NULL".to_owned(),
            },
            keys: &ASSIGNMENT_KEYS,
            default_order: &[],
        },
        ViewSet::Errors => Shape {
            ctes: format!(
                ", cl_errors AS (SELECT la.user_id AS principal_id, la.sku_id, la.source_group_id AS group_id, \
                 {code} AS code, la.updated_at AS at FROM license_assignments la \
                 WHERE la.tenant_id = $1 AND {err} AND la.source_group_id <> {NIL_TEXT} AND {user_only})",
                code = allot_core::sql_cloud_error_code!("la"),
                err = allot_core::sql_is_assignment_error!("la"),
            ),
            from: "cl_errors e",
            select: "e.principal_id AS p, e.sku_id AS s, e.group_id AS g, e.code AS kind, NULL AS disabled, \
                     NULL AS n1, NULL AS n2, NULL AS n3, NULL AS n4, NULL AS n5, e.at AS at",
            scope: tenant_wide,
            keys: &ERROR_KEYS,
            default_order: &[],
        },
        ViewSet::Waiting => Shape {
            ctes: format!(
                ", cl_wait_rows AS (SELECT la.user_id, {allot} AS allotment_id, la.updated_at, \
                 COALESCE(m.seq, 0) AS seq FROM license_assignments la LEFT JOIN group_members m \
                 ON m.group_id = la.source_group_id AND m.member_id = la.user_id \
                 WHERE la.tenant_id = $1 AND {waiting} AND la.source_group_id <> {NIL_TEXT} AND {user_only}), \
                 cl_waiting AS (SELECT user_id AS principal_id, allotment_id, MIN(updated_at) AS since, \
                 CAST(MIN(seq) AS BIGINT) AS seq FROM cl_wait_rows WHERE allotment_id IS NOT NULL \
                 GROUP BY user_id, allotment_id)",
                allot = allotment_of("la.source_group_id", "la.sku_id"),
                waiting = allot_core::sql_is_waiting!("la"),
            ),
            from: "cl_waiting w",
            select: "w.principal_id AS p, NULL AS s, w.allotment_id AS g, NULL AS kind, NULL AS disabled, \
                     NULL AS n1, NULL AS n2, NULL AS n3, NULL AS n4, NULL AS n5, w.since AS at",
            scope: match scope {
                ViewScope::Allotment(_) => "w.allotment_id = $4".to_owned(),
                _ => tenant_wide,
            },
            keys: &WAITING_KEYS,
            default_order: &WAITING_ORDER,
        },
        ViewSet::UsageRights => Shape {
            ctes: match scope {
                ViewScope::Principal(MemberRef::Group(_)) => format!(
                    ", cl_sources AS (SELECT 'g' AS kind, g.id AS principal_id, {gsku} AS sku_id, {gdisabled} AS disabled \
                     FROM groups g, {each} WHERE g.tenant_id = $1 AND g.id = $4)"
                ),
                _ => format!(
                    ", cl_sources AS (SELECT 'u' AS kind, la.user_id AS principal_id, la.sku_id, la.disabled_plans AS disabled \
                     FROM license_assignments la WHERE la.tenant_id = $1 AND la.user_id = $4 AND {})",
                    allot_core::sql_holds_license!("la")
                ),
            } + ", cl_rights AS (SELECT DISTINCT s.kind, s.principal_id, s.sku_id, k.part_number \
                   FROM cl_sources s JOIN cl_skus k ON k.sku_id = s.sku_id)",
            from: "cl_rights r",
            select: "r.principal_id AS p, r.sku_id AS s, NULL AS g, r.kind AS kind, NULL AS disabled, \
                     NULL AS n1, NULL AS n2, NULL AS n3, NULL AS n4, NULL AS n5, NULL AS at",
            scope: tenant_wide,
            keys: &RIGHT_KEYS,
            default_order: &[],
        },
    }
}

/// The catalog parameters: the SKUs (`[{sku, part}]`) and their plans (`[{sku, plan}]`).
fn catalog_json(skus: &[&Sku]) -> (String, String) {
    let rows: Vec<serde_json::Value> = skus
        .iter()
        .map(|s| serde_json::json!({"sku": s.id, "part": s.part_number}))
        .collect();
    let plans: Vec<serde_json::Value> = skus
        .iter()
        .flat_map(|s| {
            s.plans
                .iter()
                .map(|p| serde_json::json!({"sku": s.id, "plan": p.id}))
        })
        .collect();
    (
        serde_json::Value::Array(rows).to_string(),
        serde_json::Value::Array(plans).to_string(),
    )
}

fn scope_id(scope: ViewScope) -> DbId {
    match scope {
        ViewScope::Tenant => NIL,
        ViewScope::Allotment(s) => DbId::from(s),
        ViewScope::Principal(p) => DbId(p.uuid()),
    }
}

impl Store {
    /// One page of view `V` in `scope`: `skus` are the catalog entries of the tenant's
    /// subscriptions. Rows come in `q.order`, then the set's own order and keys.
    pub async fn view_page<V: View>(
        &self,
        tenant: TenantId,
        skus: &[&Sku],
        scope: ViewScope,
        q: &ViewQuery<'_>,
    ) -> Result<Page<V>, StoreError> {
        let b = self.db().backend();
        let d = sql::dialect(b);
        let shape = shape(V::SET, scope, b);
        let mut keys: Vec<SortKey> = q.order.to_vec();
        if keys.is_empty() {
            keys.extend_from_slice(shape.default_order);
        }
        keys.extend_from_slice(shape.keys);
        let (and, params, mut n) = sql::odata_where(b, q.filter, 5);
        let mut texts: Vec<String> = Vec::new();
        let mut extra = String::new();
        if let Some(after) = q.after {
            if after.len() != keys.len() {
                return Err(StoreError::Invalid(
                    "The $skiptoken does not belong to this query.".into(),
                ));
            }
            extra = format!(" AND {}", allot_odata::sql::keyset_after(&keys, d, n));
            n += keys.len();
            texts.extend_from_slice(after);
        }
        if let Some(only) = q.only {
            if only.len() != shape.keys.len() {
                return Ok(Vec::new());
            }
            extra.push_str(&format!(
                " AND {}",
                allot_odata::sql::key_equals(shape.keys, d, n)
            ));
            n += shape.keys.len();
            texts.extend_from_slice(only);
        }
        let sql = format!(
            "{prelude}{ctes} SELECT {select}, {k} AS k FROM {from} WHERE {scope}{and}{extra} ORDER BY {order} LIMIT ${n}",
            prelude = prelude(b),
            ctes = shape.ctes,
            select = shape.select,
            k = allot_odata::sql::key_values(&keys, d),
            from = shape.from,
            scope = shape.scope,
            order = allot_odata::sql::order_by(&keys, d),
        );
        let (sku_json, plan_json) = catalog_json(skus);
        let limit = q.limit.unwrap_or(i64::MAX);
        let rows = on_db!(self.db(), |p| {
            let mut query = bind_odata!(
                sqlx::query_as::<_, RawRow>(AssertSqlSafe(sql))
                    .bind(DbId::from(tenant))
                    .bind(&sku_json)
                    .bind(&plan_json)
                    .bind(scope_id(scope)),
                &params
            );
            for t in &texts {
                query = query.bind(t.clone());
            }
            query.bind(limit).fetch_all(p).await
        })?;
        rows.iter()
            .map(|r| {
                let values: Vec<serde_json::Value> = serde_json::from_str(&r.k)
                    .map_err(|e| StoreError::Corrupt(format!("cloudLicensing view key: {e}")))?;
                let texts = values
                    .into_iter()
                    .map(|v| match v {
                        serde_json::Value::String(s) => s,
                        other => other.to_string(),
                    })
                    .collect();
                Ok((V::decode(r, tenant)?, texts))
            })
            .collect()
    }

    /// How many entities of view `V` in `scope` match `filter`.
    pub async fn view_count<V: View>(
        &self,
        tenant: TenantId,
        skus: &[&Sku],
        scope: ViewScope,
        filter: Option<&Cond>,
    ) -> Result<i64, StoreError> {
        let b = self.db().backend();
        let shape = shape(V::SET, scope, b);
        let (and, params, _) = sql::odata_where(b, filter, 5);
        let sql = format!(
            "{prelude}{ctes} SELECT COUNT(*) FROM {from} WHERE {scope}{and}",
            prelude = prelude(b),
            ctes = shape.ctes,
            from = shape.from,
            scope = shape.scope,
        );
        let (sku_json, plan_json) = catalog_json(skus);
        Ok(on_db!(self.db(), |p| bind_odata!(
            sqlx::query_scalar::<_, i64>(AssertSqlSafe(sql))
                .bind(DbId::from(tenant))
                .bind(&sku_json)
                .bind(&plan_json)
                .bind(scope_id(scope)),
            &params
        )
        .fetch_one(p)
        .await)?)
    }

    /// The one entity of view `V` in `scope` whose identity columns are `id`.
    pub async fn view_one<V: View>(
        &self,
        tenant: TenantId,
        skus: &[&Sku],
        scope: ViewScope,
        id: &[String],
    ) -> Result<Option<V>, StoreError> {
        let q = ViewQuery {
            only: Some(id),
            limit: Some(1),
            ..ViewQuery::default()
        };
        Ok(self
            .view_page::<V>(tenant, skus, scope, &q)
            .await?
            .into_iter()
            .next()
            .map(|(v, _)| v))
    }
}

/// The identity values of a row as its view keys them (for [`Store::view_one`]).
#[must_use]
pub fn identity(parts: &[Uuid]) -> Vec<String> {
    parts.iter().map(|u| u.hyphenated().to_string()).collect()
}
