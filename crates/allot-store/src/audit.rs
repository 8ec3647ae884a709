//! The audit log: records of license-relevant changes, appended inside the transaction of the
//! change they record (so a change and its record commit or vanish together), and read back as
//! Graph's `directoryAudit` resources. A user's license change writes Entra's pair: "Change user
//! license" (licenses changed) and "Update user", whose modified properties carry
//! `AssignedLicense`, `AssignedPlan` and `LicenseAssignmentDetail` before and after.

use allot_core::ids::{AppId, TenantId, UserId};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::db::Tx;
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::records::MemberRef;
use crate::{on_db, on_tx};

mod events;

pub use events::GROUP_LICENSING;
pub(crate) use events::{
    LicenseChanged, group_license_change, group_processed, membership, subscription_change,
    user_before_delete, user_license_change, user_license_changes, user_lifecycle,
};

/// Who made a change, and through which surface ("Microsoft Graph", "Partner Center", ...).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The signed-in user (delegated calls); `None` for app-only calls.
    pub user: Option<UserId>,
    /// The calling app.
    pub app: Option<AppId>,
    pub surface: &'static str,
}

/// One record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct AuditRow {
    pub id: String,
    pub activity_at: DateTime<Utc>,
    pub category: String,
    pub activity: String,
    pub operation_type: String,
    pub result: String,
    pub result_reason: String,
    #[sqlx(try_from = "DbId")]
    pub correlation_id: Uuid,
    pub logged_by_service: String,
    pub initiated_by: String,
    pub target_resources: String,
    pub additional: String,
}

/// The columns of [`AuditRow`], with the table aliased `a`.
pub const AUDIT_COLS: &str = "a.id, a.activity_at, a.category, a.activity, a.operation_type, a.result, \
     a.result_reason, a.correlation_id, a.logged_by_service, a.initiated_by, a.target_resources, a.additional";

/// What a record says happened to what.
struct Event {
    category: &'static str,
    activity: &'static str,
    operation_type: &'static str,
    targets: Vec<Target>,
}

/// An object a record is about (a user or a group), with what changed on it.
#[derive(Clone)]
pub(crate) struct Target {
    id: Uuid,
    kind: &'static str,
    display_name: String,
    upn: Option<String>,
    modified: Vec<Value>,
}

impl Target {
    fn json(&self) -> Value {
        json!({
            "id": self.id.to_string(),
            "displayName": self.display_name,
            "type": self.kind,
            "userPrincipalName": self.upn,
            "groupType": null,
            "modifiedProperties": self.modified,
        })
    }
}

/// A user as a target: its name and UPN read in the transaction.
async fn user_target(tx: &mut Tx, user: Uuid) -> Result<Target, StoreError> {
    let row = on_tx!(tx, |c| sqlx::query_as::<_, (String, String)>(
        "SELECT upn, display_name FROM users WHERE id = $1"
    )
    .bind(DbId(user))
    .fetch_optional(c)
    .await)?;
    let (upn, name) = row.unwrap_or_default();
    Ok(Target {
        id: user,
        kind: "User",
        display_name: name,
        upn: Some(upn),
        modified: Vec::new(),
    })
}

/// A group as a target.
async fn group_target(tx: &mut Tx, group: Uuid) -> Result<Target, StoreError> {
    let name = on_tx!(tx, |c| sqlx::query_scalar::<_, String>(
        "SELECT display_name FROM groups WHERE id = $1"
    )
    .bind(DbId(group))
    .fetch_optional(c)
    .await)?;
    Ok(Target {
        id: group,
        kind: "Group",
        display_name: name.unwrap_or_default(),
        upn: None,
        modified: Vec::new(),
    })
}

/// A directory object as a target, whichever kind it is.
async fn member_target(tx: &mut Tx, member: MemberRef) -> Result<Target, StoreError> {
    match member {
        MemberRef::User(u) => user_target(tx, u.as_uuid()).await,
        MemberRef::Group(g) => group_target(tx, g.as_uuid()).await,
    }
}

/// `initiatedBy`, and the initiator's user id, UPN and app id for the filter columns.
async fn initiator(
    tx: &mut Tx,
    actor: &Actor,
) -> Result<(Value, Option<Uuid>, Option<String>, Option<Uuid>), StoreError> {
    let app = match actor.app {
        Some(a) => on_tx!(tx, |c| sqlx::query_scalar::<_, String>(
            "SELECT display_name FROM apps WHERE client_id = $1"
        )
        .bind(DbId(a.as_uuid()))
        .fetch_optional(c)
        .await)?,
        None => None,
    };
    if let Some(u) = actor.user {
        let user = on_tx!(tx, |c| sqlx::query_as::<_, (String, String)>(
            "SELECT upn, display_name FROM users WHERE id = $1"
        )
        .bind(DbId::from(u))
        .fetch_optional(c)
        .await)?;
        let (upn, name) = user.unwrap_or_default();
        let v = json!({
            "app": null,
            "user": {
                "id": u.to_string(),
                "displayName": name,
                "userPrincipalName": upn,
                "ipAddress": null,
                "userType": null,
                "homeTenantId": null,
                "homeTenantName": null,
            },
        });
        return Ok((
            v,
            Some(u.as_uuid()),
            Some(upn.to_lowercase()),
            actor.app.map(|a| a.as_uuid()),
        ));
    }
    // Without an app (the admin API, the licensing worker) the surface names the initiator.
    let app = app.or_else(|| actor.app.is_none().then(|| actor.surface.to_owned()));
    let v = json!({
        "user": null,
        "app": {
            "appId": actor.app.map(|a| a.to_string()),
            "displayName": app.clone(),
            "servicePrincipalId": null,
            "servicePrincipalName": app,
        },
    });
    Ok((v, None, None, actor.app.map(|a| a.as_uuid())))
}

/// Appends the records of one change (they share a correlation id).
async fn append(tx: &mut Tx, tenant: TenantId, actor: &Actor, events: &[Event]) -> Result<(), StoreError> {
    append_changes(tx, tenant, actor, &[events]).await
}

/// The records of several changes by one actor: each change's records share a correlation id of
/// their own; all of them are written in the same two statements.
async fn append_changes(
    tx: &mut Tx,
    tenant: TenantId,
    actor: &Actor,
    changes: &[&[Event]],
) -> Result<(), StoreError> {
    let (initiated_by, user_id, upn, app_id) = initiator(tx, actor).await?;
    let at = crate::now();
    let additional = json!([{"key": "Surface", "value": actor.surface}]).to_string();
    // All the records in one statement and all their targets in another (a JSON array each).
    // (`WHERE 1 = 1`: SQLite reads `ON CONFLICT` after `SELECT ... FROM` as a join's `ON`
    // otherwise.)
    let backend = tx.backend();
    let mut records = Vec::with_capacity(changes.iter().map(|e| e.len()).sum());
    let mut targets = Vec::new();
    for events in changes {
        let correlation = Uuid::new_v4().to_string();
        for e in *events {
            let id = format!("Directory_{}", Uuid::new_v4());
            for t in &e.targets {
                targets.push(json!({"a": id, "t": t.id.to_string(), "n": t.display_name}));
            }
            records.push(json!({
                "id": id,
                "k": correlation,
                "c": e.category,
                "v": e.activity,
                "o": e.operation_type,
                "r": Value::Array(e.targets.iter().map(Target::json).collect()).to_string(),
            }));
        }
    }
    let f = |k: &str| crate::sql::json_field(backend, k, "text");
    let sql = format!(
        "INSERT INTO directory_audits (id, tenant_id, activity_at, category, activity, operation_type, result, \
         result_reason, correlation_id, logged_by_service, initiator_user_id, initiator_upn, initiator_app_id, \
         initiated_by, target_resources, additional) \
         SELECT {}, $2, $3, {}, {}, {}, 'success', '', {}, 'Core Directory', $4, $5, $6, $7, {}, $8 FROM {}",
        f("id"),
        f("c"),
        f("v"),
        f("o"),
        crate::sql::json_field(backend, "k", "uuid"),
        f("r"),
        crate::sql::json_rows(backend, 1)
    );
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(Value::Array(records.clone()).to_string())
        .bind(DbId::from(tenant))
        .bind(at)
        .bind(user_id.map(DbId))
        .bind(upn.clone())
        .bind(app_id.map(DbId))
        .bind(initiated_by.to_string())
        .bind(&additional)
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    let sql = format!(
        "INSERT INTO directory_audit_targets (audit_id, tenant_id, target_id, display_name) \
         SELECT {}, $2, {}, {} FROM {} WHERE 1 = 1 ON CONFLICT (audit_id, target_id) DO NOTHING",
        f("a"),
        crate::sql::json_field(backend, "t", "uuid"),
        f("n"),
        crate::sql::json_rows(backend, 1)
    );
    on_tx!(tx, |c| sqlx::query(AssertSqlSafe(sql))
        .bind(Value::Array(targets.clone()).to_string())
        .bind(DbId::from(tenant))
        .execute(c)
        .await
        .map(|r| r.rows_affected()))?;
    Ok(())
}

impl crate::store::Store {
    /// One page of the tenant's audit records, newest first, matching `filter` (a validated
    /// condition on `allot_odata::schema::DIRECTORY_AUDITS`), after the record `after` (its time
    /// and id).
    pub async fn audit_page(
        &self,
        tenant: TenantId,
        filter: Option<&allot_odata::validate::Cond>,
        after: Option<(DateTime<Utc>, String)>,
        limit: i64,
    ) -> Result<Vec<AuditRow>, StoreError> {
        let (and, params, n) = crate::sql::odata_where(self.db().backend(), filter, 2);
        let (after_sql, n) = if after.is_some() {
            (
                format!(
                    " AND (a.activity_at < ${n} OR (a.activity_at = ${n} AND a.id < ${}))",
                    n + 1
                ),
                n + 2,
            )
        } else {
            (String::new(), n)
        };
        let sql = format!(
            "SELECT {AUDIT_COLS} FROM directory_audits a WHERE a.tenant_id = $1{and}{after_sql} \
             ORDER BY a.activity_at DESC, a.id DESC LIMIT ${n}"
        );
        Ok(on_db!(self.db(), |p| {
            let mut q = crate::bind_odata!(
                sqlx::query_as::<_, AuditRow>(AssertSqlSafe(sql)).bind(DbId::from(tenant)),
                &params
            );
            if let Some((t, id)) = &after {
                q = q.bind(*t).bind(id.clone());
            }
            q.bind(limit).fetch_all(p).await
        })?)
    }

    /// One audit record of the tenant.
    pub async fn audit_record(&self, tenant: TenantId, id: &str) -> Result<Option<AuditRow>, StoreError> {
        let sql = format!("SELECT {AUDIT_COLS} FROM directory_audits a WHERE a.tenant_id = $1 AND a.id = $2");
        Ok(on_db!(self.db(), |p| sqlx::query_as::<_, AuditRow>(
            AssertSqlSafe(sql)
        )
        .bind(DbId::from(tenant))
        .bind(id)
        .fetch_optional(p)
        .await)?)
    }

    /// Deletes the audit records older than `before` (retention); how many went.
    pub async fn purge_audits(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        on_db!(self.db(), |p| {
            sqlx::query(
            "DELETE FROM directory_audit_targets WHERE audit_id IN (SELECT id FROM directory_audits WHERE activity_at < $1)"
        )
        .bind(before)
        .execute(p)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(on_db!(self.db(), |p| sqlx::query(
            "DELETE FROM directory_audits WHERE activity_at < $1"
        )
        .bind(before)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?)
    }
}
