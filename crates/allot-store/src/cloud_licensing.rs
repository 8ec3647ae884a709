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
//! from, in `cloud_assignment_allotments`, for SKUs with several subscriptions. What cloudLicensing
//! reads is computed by the views of `cloud_views`.

use std::collections::HashMap;

use allot_core::ids::{ServicePlanId, SkuId, SubscriptionId, TenantId, UserId};
use allot_core::licensing::{AddLicense, LicenseChange};

use crate::dbid::DbId;
use crate::dbid::NIL;
use crate::error::StoreError;
use crate::group_licensing::assign_group_licenses_in_tx;
use crate::ledger::{Units, assignments_in_tx, direct_change_in_tx, lock_user, remember_allotment};
use crate::on_tx;
use crate::records::{Group, MemberRef};
use crate::store::{Store, retry};

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
    /// A cloudLicensing create, update or delete of `principal`'s assignment of `sku`, applied by
    /// the same rules and in the same kind of transaction as `assignLicense` (user) or the group's
    /// `assignLicense` (group: answered at once, members processed by the worker).
    pub async fn cloud_write(
        &self,
        actor: &crate::audit::Actor,
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
                    let changed = direct_change_in_tx(&mut tx, tenant, user, &change, Units::Enabled).await?;
                    let after = assignments_in_tx(&mut tx, user).await?;
                    crate::audit::user_license_change(&mut tx, tenant, actor, user, &changed, &after).await?;
                }
                MemberRef::Group(group) => {
                    let check = |g: &Group| exists_check(g.assigned_licenses.iter().any(|l| l.sku_id == sku));
                    let (g, before) = assign_group_licenses_in_tx(&mut tx, tenant, group, &change, &check).await?;
                    crate::audit::group_license_change(&mut tx, tenant, actor, &g, &before).await?;
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
            .by_ids::<crate::records::User>(tenant, ids.iter().copied())
            .await?
            .into_iter()
            .map(|u| (u.id, u))
            .collect())
    }
}
