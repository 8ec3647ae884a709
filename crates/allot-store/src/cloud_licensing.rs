//! Beta `cloudLicensing` in the store. There is one licensing state, and cloudLicensing reads and
//! writes it:
//!
//! - a **user assignment** is the user's direct `license_assignments` row for a SKU, made and
//!   changed by the same code as `assignLicense` (same locks, same unit accounting);
//! - a **group assignment** is an entry of the group's `assigned_licenses`, applied by the same
//!   fan-out as the group's `assignLicense`;
//! - a **waiting member** is a group row in `CountViolation` (a member the fan-out could not
//!   seat); it waits since the row's `updated_at`. Whenever a unit of the SKU frees up (a direct
//!   license removed, a member leaving, a user deleted, units raised) a `seat` job is queued, and
//!   it re-evaluates the longest-waiting members while the SKU has free units.
//!
//! The only thing cloudLicensing adds is which allotment (subscription) an assignment was drawn
//! from, in `cloud_assignment_allotments`, for SKUs with several subscriptions.

use std::collections::HashMap;

use allot_core::ids::{GroupId, ServicePlanId, SkuId, SubscriptionId, TenantId, UserId};
use allot_core::licensing::{AddLicense, Assignment, LicenseChange};
use chrono::{DateTime, Utc};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::dbid::DbId;
use crate::dbid::NIL;
use crate::error::StoreError;
use crate::group_licensing::assign_group_licenses_in_tx;
use crate::ledger::{direct_change_in_tx, lock_user, remember_allotment};
use crate::records::{ASSIGNMENT_COLS, AssignmentRow, GROUP_COLS, Group, GroupRow, MemberRef};
use crate::store::{Store, retry};
use crate::{on_db, on_tx, sql};

/// A direct (user) assignment: the user's direct row for one SKU.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectAssignment {
    pub user: UserId,
    pub sku: SkuId,
    pub disabled_plans: Vec<ServicePlanId>,
}

/// A member waiting for a unit of `sku` through `group`, since `since`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitingRow {
    pub user: UserId,
    pub sku: SkuId,
    pub group: GroupId,
    pub since: DateTime<Utc>,
}

/// A group row of a user in error for another reason than units.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorRow {
    pub user: UserId,
    pub assignment: Assignment,
}

/// What a cloudLicensing write does to the (principal, SKU) assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CloudWrite {
    /// Create it from `allotment` (refused with `Conflict` if the principal already has one).
    Create {
        allotment: SubscriptionId,
        disabled_plans: Vec<ServicePlanId>,
    },
    /// Replace its disabled plans (`NotFound` if there is none).
    Update { disabled_plans: Vec<ServicePlanId> },
    /// Remove it (`NotFound` if there is none).
    Delete,
}

impl Store {
    /// The allotment each (principal, SKU) assignment was drawn from, where cloudLicensing chose one.
    pub async fn allotment_choices(
        &self,
        tenant: TenantId,
    ) -> Result<HashMap<(Uuid, SkuId), SubscriptionId>, StoreError> {
        let rows = on_db!(self.db(), |p| {
            sqlx::query_as::<_, (DbId, DbId, DbId)>(
            "SELECT principal_id, sku_id, subscription_id FROM cloud_assignment_allotments WHERE tenant_id = $1"
        )
        .bind(DbId::from(tenant))
        .fetch_all(p)
        .await
        })?;
        Ok(rows
            .into_iter()
            .map(|(p, s, sub)| ((p.0, SkuId::from_uuid(s.0)), SubscriptionId::from_uuid(sub.0)))
            .collect())
    }

    /// Direct assignments of the tenant (or of one user), by user then SKU.
    pub async fn direct_assignments(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
    ) -> Result<Vec<DirectAssignment>, StoreError> {
        let rows = on_db!(self.db(), |p| {
            sqlx::query_as::<_, (DbId, DbId, String)>(
            "SELECT user_id, sku_id, disabled_plans FROM license_assignments \
             WHERE tenant_id = $1 AND source_group_id = $2 AND ($3 = 0 OR user_id = $4) ORDER BY user_id, sku_id"
        )
        .bind(DbId::from(tenant))
        .bind(NIL)
        .bind(i64::from(user.is_some()))
        .bind(user.map_or(NIL, DbId::from))
        .fetch_all(p)
        .await
        })?;
        rows.into_iter()
            .map(|(u, s, d)| {
                Ok(DirectAssignment {
                    user: UserId::from_uuid(u.0),
                    sku: SkuId::from_uuid(s.0),
                    disabled_plans: serde_json::from_str(&d).map_err(|e| {
                        StoreError::Corrupt(format!("license_assignments.disabled_plans: {e}"))
                    })?,
                })
            })
            .collect()
    }

    /// Groups that assign at least one license (or the one group), by id.
    pub async fn licensed_groups(
        &self,
        tenant: TenantId,
        group: Option<GroupId>,
    ) -> Result<Vec<Group>, StoreError> {
        let sql = format!(
            "SELECT {GROUP_COLS} FROM groups WHERE tenant_id = $1 AND assigned_licenses <> '[]' \
             AND ($2 = 0 OR id = $3) ORDER BY id"
        );
        let rows = on_db!(self.db(), |p| sqlx::query_as::<_, GroupRow>(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(i64::from(group.is_some()))
            .bind(group.map_or(NIL, DbId::from))
            .fetch_all(p)
            .await)?;
        rows.into_iter().map(Group::try_from).collect()
    }

    /// The waiting room of the tenant (or of one user), FIFO: by the time each member started
    /// waiting, then membership order, then user id.
    pub async fn waiting_rows(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
    ) -> Result<Vec<WaitingRow>, StoreError> {
        let sql = format!(
            "SELECT a.user_id, a.sku_id, a.source_group_id, a.updated_at FROM license_assignments a \
             LEFT JOIN group_members m ON m.group_id = a.source_group_id AND m.member_id = a.user_id \
             WHERE a.tenant_id = $1 AND {} AND a.source_group_id <> $2 AND ($3 = 0 OR a.user_id = $4) \
             ORDER BY {}, a.sku_id",
            allot_core::sql_is_waiting!("a"),
            allot_core::sql_seat_order!("a", "m"),
        );
        let rows = on_db!(self.db(), |p| sqlx::query_as::<
            _,
            (DbId, DbId, DbId, DateTime<Utc>),
        >(AssertSqlSafe(sql))
        .bind(DbId::from(tenant))
        .bind(NIL)
        .bind(i64::from(user.is_some()))
        .bind(user.map_or(NIL, DbId::from))
        .fetch_all(p)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(u, s, g, since)| WaitingRow {
                user: UserId::from_uuid(u.0),
                sku: SkuId::from_uuid(s.0),
                group: GroupId::from_uuid(g.0),
                since,
            })
            .collect())
    }

    /// Group rows in error for a reason other than units (those wait) or a sibling SKU's failure
    /// (`Other`), of the tenant or of one user, by user then SKU; `skus` restricts the SKUs in
    /// SQL (a `$filter=skuId …` pushed down: the place a WHERE fragment of the OData layer goes).
    pub async fn license_error_rows(
        &self,
        tenant: TenantId,
        user: Option<UserId>,
        skus: Option<&[SkuId]>,
    ) -> Result<Vec<ErrorRow>, StoreError> {
        let sku_clause = match skus {
            Some(_) => format!("AND sku_id IN {}", sql::ids_in(self.db().backend(), 4)),
            None => "AND $4 = '[]'".to_owned(),
        };
        let sql = format!(
            "SELECT {ASSIGNMENT_COLS} FROM license_assignments a WHERE tenant_id = $1 AND {} \
             AND ($2 = 0 OR user_id = $3) {sku_clause} ORDER BY user_id, sku_id, source_group_id",
            allot_core::sql_is_assignment_error!("a")
        );
        let skus_json = sql::ids_json(skus.unwrap_or_default().iter().map(|s| s.as_uuid()));
        let rows = on_db!(self.db(), |p| sqlx::query_as::<_, AssignmentRow>(AssertSqlSafe(
            sql
        ))
        .bind(DbId::from(tenant))
        .bind(i64::from(user.is_some()))
        .bind(user.map_or(NIL, DbId::from))
        .bind(&skus_json)
        .fetch_all(p)
        .await)?;
        rows.into_iter()
            .map(|r| {
                let user = UserId::from_uuid(r.user_id.0);
                Ok(ErrorRow {
                    user,
                    assignment: Assignment::try_from(r)?,
                })
            })
            .collect()
    }

    /// A cloudLicensing create, update or delete of `principal`'s assignment of `sku`, applied by
    /// the same rules and in the same kind of transaction as `assignLicense` (user) or the group's
    /// `assignLicense` (group: answered at once, members processed by the worker).
    pub async fn cloud_write(
        &self,
        tenant: TenantId,
        principal: MemberRef,
        sku: SkuId,
        write: &CloudWrite,
    ) -> Result<(), StoreError> {
        let change = match write {
            CloudWrite::Create { disabled_plans, .. } | CloudWrite::Update { disabled_plans } => {
                LicenseChange {
                    add: vec![AddLicense {
                        sku,
                        disabled_plans: disabled_plans.clone(),
                    }],
                    remove: Vec::new(),
                }
            }
            CloudWrite::Delete => LicenseChange {
                add: Vec::new(),
                remove: vec![sku],
            },
        };
        let creating = matches!(write, CloudWrite::Create { .. });
        let exists_check = move |exists: bool| -> Result<(), StoreError> {
            match (creating, exists) {
                (true, true) => Err(StoreError::Conflict(format!(
                    "An assignment of license {sku} to this principal already exists."
                ))),
                (false, false) => Err(StoreError::NotFound),
                _ => Ok(()),
            }
        };
        retry(|| async {
            let mut tx = self.db().begin().await?;
            match principal {
                MemberRef::User(user) => {
                    lock_user(&mut tx, tenant, user).await?;
                    let n = on_tx!(&mut tx, |c| sqlx::query_scalar::<_, i64>(
                        "SELECT COUNT(*) FROM license_assignments WHERE user_id = $1 AND sku_id = $2 AND source_group_id = $3"
                    )
                    .bind(DbId::from(user))
                    .bind(DbId::from(sku))
                    .bind(NIL)
                    .fetch_one(c)
                    .await)?;
                    exists_check(n > 0)?;
                    direct_change_in_tx(&mut tx, tenant, user, &change).await?;
                }
                MemberRef::Group(group) => {
                    let check = |g: &Group| exists_check(g.assigned_licenses.iter().any(|l| l.sku_id == sku));
                    assign_group_licenses_in_tx(&mut tx, tenant, group, &change, &check).await?;
                }
            }
            if let CloudWrite::Create { allotment, .. } = write {
                remember_allotment(&mut tx, tenant, principal.uuid(), sku, *allotment).await?;
            }
            tx.commit().await
        })
        .await
    }

    /// The users of `ids` in the tenant, keyed by id (for `$expand=assignedTo`).
    pub async fn users_map(
        &self,
        tenant: TenantId,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, crate::records::User>, StoreError> {
        Ok(self
            .users_by_ids(tenant, ids)
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }
}
