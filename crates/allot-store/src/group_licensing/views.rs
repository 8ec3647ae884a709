//! What group licensing shows: processing modes (server default and per tenant) and the groups
//! and members in error.

use allot_core::ids::{GroupId, TenantId};
use allot_odata::validate::Cond;
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use super::{NIL, ProcessingMode};
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::records::{GROUP_COLS, Group, USER_COLS, User, UserRow};
use crate::store::Store;
use crate::{bind_odata, on_db};

impl Store {
    /// The processing mode of a tenant (its own, else the server default).
    pub async fn processing_mode(&self, tenant: TenantId) -> Result<ProcessingMode, StoreError> {
        let own = on_db!(self.db(), |p| sqlx::query_scalar::<_, Option<String>>(
            "SELECT processing_mode FROM tenants WHERE id = $1"
        )
        .bind(DbId::from(tenant))
        .fetch_optional(p)
        .await)?
        .flatten();
        if let Some(m) = own.as_deref().and_then(ProcessingMode::parse) {
            return Ok(m);
        }
        self.default_processing_mode().await
    }

    pub async fn default_processing_mode(&self) -> Result<ProcessingMode, StoreError> {
        Ok(self
            .setting("processing_mode")
            .await?
            .as_deref()
            .and_then(ProcessingMode::parse)
            .unwrap_or(ProcessingMode::Async))
    }

    pub async fn set_default_processing_mode(&self, mode: ProcessingMode) -> Result<(), StoreError> {
        self.set_setting("processing_mode", mode.as_str()).await
    }

    /// Sets (or with `None` clears) a tenant's own processing mode.
    pub async fn set_tenant_processing_mode(
        &self,
        tenant: TenantId,
        mode: Option<ProcessingMode>,
    ) -> Result<(), StoreError> {
        let n = on_db!(self.db(), |p| sqlx::query(
            "UPDATE tenants SET processing_mode = $2 WHERE id = $1"
        )
        .bind(DbId::from(tenant))
        .bind(mode.map(ProcessingMode::as_str))
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        if n == 0 { Err(StoreError::NotFound) } else { Ok(()) }
    }

    /// Groups with at least one member in error from the group's own licenses, above `after`.
    pub async fn groups_with_errors_page(
        &self,
        tenant: TenantId,
        after: Option<Uuid>,
        limit: i64,
        with: bool,
    ) -> Result<Vec<Group>, StoreError> {
        let not = if with { "" } else { "NOT " };
        let sql = format!(
            "SELECT {GROUP_COLS} FROM groups g WHERE g.tenant_id = $1 AND g.id > $2 AND {not}EXISTS \
             (SELECT 1 FROM license_assignments a WHERE a.source_group_id = g.id AND {}) \
             ORDER BY g.id LIMIT $3",
            allot_core::sql_in_error!("a")
        );
        let rows = on_db!(self.db(), |p| sqlx::query_as::<_, Group>(AssertSqlSafe(sql))
            .bind(DbId::from(tenant))
            .bind(after.map_or(NIL, DbId))
            .bind(limit)
            .fetch_all(p)
            .await)?;
        Ok(rows)
    }

    /// Users in error from `group`'s licenses, above `after` (`membersWithLicenseErrors`).
    pub async fn members_with_errors_page(
        &self,
        tenant: TenantId,
        group: GroupId,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError> {
        self.members_with_errors_page_where(tenant, group, None, after, limit)
            .await
    }

    /// [`Self::members_with_errors_page`] narrowed by `filter` (a validated OData condition on
    /// the users row `u`, from `allot_odata::schema::USERS`).
    pub async fn members_with_errors_page_where(
        &self,
        tenant: TenantId,
        group: GroupId,
        filter: Option<&Cond>,
        after: Option<Uuid>,
        limit: i64,
    ) -> Result<Vec<User>, StoreError> {
        let (and, params, n) = crate::sql::odata_where(self.db().backend(), filter, 4);
        let sql = format!(
            // Read from the group's rows in error (the partial index of migration 0013), not by
            // probing every user of the tenant in id order.
            "SELECT {USER_COLS} FROM users u WHERE u.tenant_id = $1 AND u.id IN \
             (SELECT a.user_id FROM license_assignments a WHERE a.source_group_id = $3 AND a.user_id > $2 AND {}){and} \
             ORDER BY u.id LIMIT ${n}",
            allot_core::sql_in_error!("a")
        );
        let rows = on_db!(self.db(), |p| bind_odata!(
            sqlx::query_as::<_, UserRow>(AssertSqlSafe(sql))
                .bind(DbId::from(tenant))
                .bind(after.map_or(NIL, DbId))
                .bind(DbId::from(group)),
            &params
        )
        .bind(limit)
        .fetch_all(p)
        .await)?;
        rows.into_iter().map(User::try_from).collect()
    }
}
