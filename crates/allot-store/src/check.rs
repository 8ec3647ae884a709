//! `allot check`: the licensing invariants of `design.md` §4, verified over a whole database.
//! Each finding names the tenant and the object; any problem makes the check fail.

use uuid::Uuid;

use crate::dbid::{DbId, NIL};
use crate::error::StoreError;
use crate::on_db;
use crate::store::Store;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CheckReport {
    /// Broken invariants.
    pub problems: Vec<String>,
    /// States that are legal but worth knowing (units lowered below what is consumed).
    pub warnings: Vec<String>,
    pub tenants: i64,
    pub users: i64,
    pub assignments: i64,
}

impl CheckReport {
    #[must_use]
    pub fn ok(&self) -> bool {
        self.problems.is_empty()
    }
}

impl Store {
    pub async fn check(&self) -> Result<CheckReport, StoreError> {
        let mut r = CheckReport::default();
        let count = |sql: &'static str| async move {
            Ok::<i64, StoreError>(on_db!(self.db(), |p| sqlx::query_scalar::<_, i64>(sql)
                .fetch_one(p)
                .await)?)
        };
        r.tenants = count("SELECT COUNT(*) FROM tenants").await?;
        r.users = count("SELECT COUNT(*) FROM users").await?;
        r.assignments = count("SELECT COUNT(*) FROM license_assignments").await?;

        // 1. consumedUnits equals the number of users holding the SKU.
        let pools = on_db!(self.db(), |p| {
            sqlx::query_as::<_, (DbId, DbId, i64, i64, i64, i64)>(
            concat!("SELECT p.tenant_id, p.sku_id, p.consumed, \
             (SELECT COUNT(DISTINCT a.user_id) FROM license_assignments a WHERE a.tenant_id = p.tenant_id \
              AND a.sku_id = p.sku_id AND ", allot_core::sql_holds_license!("a"), "), \
             CAST(COALESCE((SELECT SUM(s.enabled) FROM subscriptions s WHERE s.tenant_id = p.tenant_id AND s.sku_id = p.sku_id), 0) AS BIGINT), \
             CAST(COALESCE((SELECT SUM(s.enabled + s.warning + s.suspended + s.locked_out) FROM subscriptions s \
              WHERE s.tenant_id = p.tenant_id AND s.sku_id = p.sku_id), 0) AS BIGINT) \
             FROM sku_pools p ORDER BY p.tenant_id, p.sku_id")
        )
        .fetch_all(p)
        .await
        })?;
        for (tenant, sku, consumed, holders, enabled, total) in pools {
            let (t, s) = (tenant.0, sku.0);
            if consumed != holders {
                r.problems.push(format!(
                    "tenant {t}, SKU {s}: consumedUnits is {consumed} but {holders} users hold the SKU"
                ));
            }
            // Over-consumption is a legal state (units lowered below consumption, or a restore
            // over capacity): reported, never a failure; no new assignment passes meanwhile.
            if holders > total {
                r.warnings.push(format!(
                    "tenant {t}, SKU {s}: {holders} users hold the SKU, the subscriptions have {total} units in all (over-consumed; new assignments are refused)"
                ));
            } else if holders > enabled {
                r.warnings.push(format!(
                    "tenant {t}, SKU {s}: {holders} users hold the SKU, {enabled} units are enabled (units were lowered; new assignments are refused)"
                ));
            }
        }

        // 2. Every held SKU has a pool; every subscription has one.
        for (t, s) in self
            .pairs(&format!(
                "SELECT DISTINCT a.tenant_id, a.sku_id FROM license_assignments a WHERE {} AND NOT EXISTS \
                 (SELECT 1 FROM sku_pools p WHERE p.tenant_id = a.tenant_id AND p.sku_id = a.sku_id)",
                allot_core::sql_holds_license!("a")
            ))
            .await?
        {
            r.problems.push(format!(
                "tenant {t}, SKU {s}: users hold the SKU but the tenant has no pool (subscription) for it"
            ));
        }
        for (t, s) in self
            .pairs(
                "SELECT DISTINCT s.tenant_id, s.sku_id FROM subscriptions s WHERE NOT EXISTS \
                 (SELECT 1 FROM sku_pools p WHERE p.tenant_id = s.tenant_id AND p.sku_id = s.sku_id)",
            )
            .await?
        {
            r.problems
                .push(format!("tenant {t}, SKU {s}: a subscription has no unit pool"));
        }

        // 3. No orphans: assignments, memberships and sources point at objects of the same tenant.
        for (t, u) in self
            .pairs(
                "SELECT a.tenant_id, a.user_id FROM license_assignments a LEFT JOIN users u ON u.id = a.user_id \
                 WHERE u.id IS NULL OR u.tenant_id <> a.tenant_id",
            )
            .await?
        {
            r.problems.push(format!("tenant {t}: an assignment belongs to user {u}, who is not in the tenant"));
        }
        let rows = on_db!(self.db(), |p| {
            sqlx::query_as::<_, (DbId, DbId, DbId)>(
            "SELECT a.tenant_id, a.user_id, a.source_group_id FROM license_assignments a WHERE a.source_group_id <> $1 \
             AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = a.source_group_id AND g.tenant_id = a.tenant_id)"
        )
        .bind(NIL)
        .fetch_all(p)
        .await
        })?;
        for (t, u, g) in rows {
            r.problems.push(format!(
                "tenant {}: user {} holds a license from group {}, which does not exist",
                t.0, u.0, g.0
            ));
        }
        for (t, m) in self
            .pairs(
                "SELECT m.tenant_id, m.member_id FROM group_members m WHERE \
                 (m.member_type = 'user' AND NOT EXISTS (SELECT 1 FROM users u WHERE u.id = m.member_id AND u.tenant_id = m.tenant_id)) \
                 OR (m.member_type = 'group' AND NOT EXISTS (SELECT 1 FROM groups g WHERE g.id = m.member_id AND g.tenant_id = m.tenant_id)) \
                 OR m.member_type NOT IN ('user', 'group')",
            )
            .await?
        {
            r.problems.push(format!("tenant {t}: membership of {m}, which is not an object of the tenant"));
        }
        let bad_values = count(
            "SELECT COUNT(*) FROM license_assignments WHERE state NOT IN ('Active', 'ActiveWithError', 'Disabled', 'Error') \
             OR error NOT IN ('None', 'CountViolation', 'MutuallyExclusiveViolation', 'DependencyViolation', \
             'ProhibitedInUsageLocationViolation', 'UniquenessViolation', 'Other')",
        )
        .await?;
        if bad_values > 0 {
            r.problems.push(format!(
                "{bad_values} assignments have a state or error Graph does not know"
            ));
        }

        // 4. Group licensing is settled wherever no work is pending: members of licensed groups have
        //    their rows, former members have none.
        let unprocessed = on_db!(self.db(), |p| {
            sqlx::query_as::<_, (DbId, DbId, DbId)>(
            "SELECT m.tenant_id, m.group_id, m.member_id FROM group_members m JOIN groups g ON g.id = m.group_id \
             WHERE m.member_type = 'user' AND g.assigned_licenses <> '[]' \
             AND NOT EXISTS (SELECT 1 FROM license_assignments a WHERE a.user_id = m.member_id AND a.source_group_id = m.group_id) \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.tenant_id = m.tenant_id)"
        )
        .fetch_all(p)
        .await
        })?;
        for (t, g, u) in unprocessed {
            r.problems.push(format!("tenant {}: user {} is a member of licensed group {} but has no state from it and no work is pending", t.0, u.0, g.0));
        }
        let stale = on_db!(self.db(), |p| {
            sqlx::query_as::<_, (DbId, DbId, DbId)>(
            "SELECT DISTINCT a.tenant_id, a.source_group_id, a.user_id FROM license_assignments a WHERE a.source_group_id <> $1 \
             AND NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = a.source_group_id AND m.member_id = a.user_id) \
             AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.tenant_id = a.tenant_id)"
        )
        .bind(NIL)
        .fetch_all(p)
        .await
        })?;
        for (t, g, u) in stale {
            r.problems.push(format!("tenant {}: user {} still has a state from group {} without being a member, and no work is pending", t.0, u.0, g.0));
        }
        Ok(r)
    }

    async fn pairs(&self, sql: &str) -> Result<Vec<(Uuid, Uuid)>, StoreError> {
        let rows = on_db!(self.db(), |p| sqlx::query_as::<_, (DbId, DbId)>(
            sqlx::AssertSqlSafe(sql.to_owned())
        )
        .fetch_all(p)
        .await)?;
        Ok(rows.into_iter().map(|(a, b)| (a.0, b.0)).collect())
    }
}
