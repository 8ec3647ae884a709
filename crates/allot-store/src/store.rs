//! [`Store`]: every query Allot runs, written once for both backends.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use allot_core::catalog::TenantCatalog;
use allot_core::ids::{AppId, SubscriptionId, TenantId, UserId};
use allot_core::licensing::{Assignment, LicenseChange};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::batch::{Addition, Additions};
use crate::db::{Backend, Db};
use crate::dbid::DbId;
use crate::error::StoreError;
use crate::ledger::{lock_pool, seat_if_waiting};
use crate::records::{
    ASSIGNMENT_COLS, App, AssignmentRow, SkuUnits, Subscription, SubscriptionRow, Tenant, TenantRow, to_json,
};
use crate::{on_db, on_tx, sql};

mod deleted;
pub mod delta;
mod groups;
mod listing;
pub mod partner;
pub mod sign_in;
mod subscriptions;
mod users;

pub(crate) use listing::row_in_tx;
pub use listing::{AnyRow, Keyed, Listed, Member, MemberRow};

/// Runs `op` again while it fails with a retryable error (SQLite busy, PostgreSQL serialization
/// failure or deadlock), so callers never see those as errors.
pub async fn retry<T, F, Fut>(mut op: F) -> Result<T, StoreError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, StoreError>>,
{
    let mut attempt: u32 = 0;
    loop {
        match op().await {
            Err(e) if e.is_retryable() && attempt < 50 => {
                attempt += 1;
                tracing::debug!(attempt, error = %e, "retrying a busy transaction");
                tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(20)) * 2)).await;
            }
            other => return other,
        }
    }
}

/// A user's licenses and the catalog they are rendered with ([`Store::user_licenses`]).
pub struct UserLicenses {
    rules: Arc<crate::ledger::TenantRules>,
    pub assignments: Vec<Assignment>,
}

impl UserLicenses {
    #[must_use]
    pub fn catalog(&self) -> &TenantCatalog {
        &self.rules.catalog
    }
}

/// A tenant's catalog, shared with this node's copy of the tenant's rules.
pub struct SharedCatalog(Arc<crate::ledger::TenantRules>);

impl std::ops::Deref for SharedCatalog {
    type Target = TenantCatalog;
    fn deref(&self) -> &TenantCatalog {
        &self.0.catalog
    }
}

#[derive(Debug, Clone)]
pub struct Store {
    db: Db,
    /// SQLite's queue of direct additions, applied in sets.
    additions: Arc<Additions>,
}

impl Store {
    #[must_use]
    pub fn new(db: Db) -> Self {
        Self {
            db,
            additions: Arc::default(),
        }
    }

    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Ok(Self::new(Db::connect(url).await?))
    }

    #[must_use]
    pub const fn db(&self) -> &Db {
        &self.db
    }

    pub async fn migrate(&self) -> Result<(), StoreError> {
        self.db.migrate().await
    }

    /// A cheap round trip, for readiness checks.
    pub async fn ping(&self) -> Result<(), StoreError> {
        on_db!(&self.db, |p| sqlx::query("SELECT 1")
            .execute(p)
            .await
            .map(|r| r.rows_affected()))?;
        Ok(())
    }

    // ---- settings and signing keys ----------------------------------------------------------

    pub async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        Ok(on_db!(&self.db, |p| sqlx::query_scalar::<_, String>(
            "SELECT value FROM settings WHERE key = $1"
        )
        .bind(key)
        .fetch_optional(p)
        .await)?)
    }

    pub async fn set_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        on_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        )
        .bind(key)
        .bind(value)
        .execute(p)
        .await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Stores `value` unless the key already has one; returns the value that is stored now. Nodes
    /// starting together agree on one value this way.
    pub async fn setting_or_init(&self, key: &str, value: &str) -> Result<String, StoreError> {
        on_db!(&self.db, |p| sqlx::query(
            "INSERT INTO settings (key, value) VALUES ($1, $2) ON CONFLICT (key) DO NOTHING"
        )
        .bind(key)
        .bind(value)
        .execute(p)
        .await
        .map(|r| r.rows_affected()))?;
        self.setting(key).await?.ok_or(StoreError::NotFound)
    }

    /// Signing keys, newest first: `(kid, base64 PKCS#8 DER)`.
    pub async fn signing_keys(&self) -> Result<Vec<(String, String)>, StoreError> {
        Ok(on_db!(&self.db, |p| sqlx::query_as::<_, (String, String)>(
            "SELECT kid, private_der FROM signing_keys ORDER BY created_at DESC, kid"
        )
        .fetch_all(p)
        .await)?)
    }

    pub async fn insert_signing_key(&self, kid: &str, private_der: &str) -> Result<(), StoreError> {
        on_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO signing_keys (kid, private_der, created_at) VALUES ($1, $2, $3) ON CONFLICT (kid) DO NOTHING"
        )
        .bind(kid)
        .bind(private_der)
        .bind(crate::now())
        .execute(p)
        .await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    // ---- tenants -----------------------------------------------------------------------------

    pub async fn tenant(&self, id: TenantId) -> Result<Option<Tenant>, StoreError> {
        let row = on_db!(&self.db, |p| {
            sqlx::query_as::<_, TenantRow>(
            "SELECT id, display_name, default_domain, country, catalog_doc, seed_doc, created_at FROM tenants WHERE id = $1"
        )
        .bind(DbId::from(id))
        .fetch_optional(p)
        .await
        })?;
        row.map(Tenant::try_from).transpose()
    }

    pub async fn tenant_by_domain(&self, domain: &str) -> Result<Option<Tenant>, StoreError> {
        // PostgreSQL refuses NUL in text; no stored name can contain one.
        if domain.contains('\0') {
            return Ok(None);
        }
        let row = on_db!(&self.db, |p| {
            sqlx::query_as::<_, TenantRow>(
            "SELECT id, display_name, default_domain, country, catalog_doc, seed_doc, created_at FROM tenants \
             WHERE default_domain_lower = $1"
        )
        .bind(domain.to_ascii_lowercase())
        .fetch_optional(p)
        .await
        })?;
        row.map(Tenant::try_from).transpose()
    }

    /// A tenant named by id or by default domain, as the token endpoint's `{tenant}` segment is.
    pub async fn find_tenant(&self, id_or_domain: &str) -> Result<Option<Tenant>, StoreError> {
        match TenantId::parse(id_or_domain) {
            Ok(id) => self.tenant(id).await,
            Err(_) => self.tenant_by_domain(id_or_domain).await,
        }
    }

    pub async fn tenants(&self) -> Result<Vec<Tenant>, StoreError> {
        let rows = on_db!(&self.db, |p| {
            sqlx::query_as::<_, TenantRow>(
            "SELECT id, display_name, default_domain, country, catalog_doc, seed_doc, created_at FROM tenants ORDER BY default_domain_lower"
        )
        .fetch_all(p)
        .await
        })?;
        rows.into_iter().map(Tenant::try_from).collect()
    }

    pub async fn upsert_tenant(&self, t: &Tenant) -> Result<(), StoreError> {
        on_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO tenants (id, display_name, default_domain, default_domain_lower, country, catalog_doc, seed_doc, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (id) DO UPDATE SET display_name = excluded.display_name, default_domain = excluded.default_domain, \
             default_domain_lower = excluded.default_domain_lower, country = excluded.country, \
             catalog_doc = excluded.catalog_doc, seed_doc = excluded.seed_doc"
        )
        .bind(DbId::from(t.id))
        .bind(&t.display_name)
        .bind(&t.default_domain)
        .bind(t.default_domain.to_ascii_lowercase())
        .bind(&t.country)
        .bind(to_json(&t.catalog))
        .bind(t.seed.as_ref().map(to_json))
        .bind(t.created_at)
        .execute(p)
        .await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// The catalog as `tenant` sees it (built-in plus its extension), from this node's copy of
    /// the tenant's rules while the stamp read here matches (no document parsed per request).
    pub async fn tenant_catalog(&self, tenant: TenantId) -> Result<SharedCatalog, StoreError> {
        let stamp = on_db!(&self.db, |p| sqlx::query_scalar::<_, i64>(
            "SELECT rules_version FROM tenants WHERE id = $1"
        )
        .bind(DbId::from(tenant))
        .fetch_optional(p)
        .await)?
        .ok_or(StoreError::NotFound)?;
        Ok(SharedCatalog(
            crate::ledger::rules_read(&self.db, tenant, stamp).await?,
        ))
    }

    /// Deletes every object of the tenant but the tenant itself (for a reset to its seed).
    pub async fn clear_tenant(&self, tenant: TenantId) -> Result<(), StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            on_tx!(&mut tx, |c| sqlx::query(
                "DELETE FROM partner_relationships WHERE partner_tenant_id = $1"
            )
            .bind(DbId::from(tenant))
            .execute(c)
            .await
            .map(|r| r.rows_affected()))?;
            for table in [
                "request_replays",
                "deleted_users",
                "deleted_groups",
                "directory_audit_targets",
                "directory_audits",
                "license_assignments",
                "cloud_assignment_allotments",
                "group_members",
                "groups",
                "users",
                "apps",
                "sku_pools",
                "subscriptions",
            ] {
                let sql = format!("DELETE FROM {table} WHERE tenant_id = $1");
                on_tx!(&mut tx, |c| sqlx::query(AssertSqlSafe(sql))
                    .bind(DbId::from(tenant))
                    .execute(c)
                    .await
                    .map(|r| r.rows_affected()))?;
            }
            tx.commit().await
        })
        .await
    }

    // ---- apps --------------------------------------------------------------------------------

    pub async fn upsert_app(&self, a: &App) -> Result<(), StoreError> {
        on_db!(&self.db, |p| {
            sqlx::query(
            "INSERT INTO apps (client_id, tenant_id, display_name, secret_hash, service_principal_id, \
             application_permissions, delegated_scopes, created_at, certificates, redirect_uris, public_client) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) \
             ON CONFLICT (client_id) DO UPDATE SET display_name = excluded.display_name, secret_hash = excluded.secret_hash, \
             application_permissions = excluded.application_permissions, delegated_scopes = excluded.delegated_scopes, \
             certificates = excluded.certificates, redirect_uris = excluded.redirect_uris, public_client = excluded.public_client"
        )
        .bind(DbId::from(a.client_id))
        .bind(DbId::from(a.tenant_id))
        .bind(&a.display_name)
        .bind(&a.secret_hash)
        .bind(DbId(a.service_principal_id))
        .bind(to_json(&a.application_permissions))
        .bind(to_json(&a.delegated_scopes))
        .bind(crate::now())
        .bind(to_json(&a.certificates))
        .bind(to_json(&a.redirect_uris))
        .bind(a.public_client)
        .execute(p)
        .await.map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Records that `client`'s assertion `jti` (valid until `expires_at`) was redeemed; `false`
    /// when it already was (a replay). Expired records are dropped on the way.
    pub async fn redeem_assertion(
        &self,
        client: AppId,
        jti: &str,
        expires_at: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool, StoreError> {
        let now = crate::now();
        let inserted = on_db!(&self.db, |p| {
            sqlx::query("DELETE FROM client_assertions WHERE expires_at < $1")
                .bind(now)
                .execute(p)
                .await?;
            sqlx::query(
                "INSERT INTO client_assertions (client_id, jti, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (client_id, jti) DO NOTHING",
            )
            .bind(DbId::from(client))
            .bind(jti)
            .bind(expires_at)
            .execute(p)
            .await
            .map(|r| r.rows_affected())
        })?;
        Ok(inserted == 1)
    }

    pub async fn app(&self, client_id: AppId) -> Result<Option<App>, StoreError> {
        let row = on_db!(&self.db, |p| {
            sqlx::query_as::<_, App>(
            "SELECT client_id, tenant_id, display_name, secret_hash, service_principal_id, application_permissions, \
             delegated_scopes, certificates, redirect_uris, public_client FROM apps WHERE client_id = $1"
        )
        .bind(DbId::from(client_id))
        .fetch_optional(p)
        .await
        })?;
        Ok(row)
    }

    pub async fn apps(&self, tenant: TenantId) -> Result<Vec<App>, StoreError> {
        let rows = on_db!(&self.db, |p| {
            sqlx::query_as::<_, App>(
            "SELECT client_id, tenant_id, display_name, secret_hash, service_principal_id, application_permissions, \
             delegated_scopes, certificates, redirect_uris, public_client FROM apps WHERE tenant_id = $1 ORDER BY client_id"
        )
        .bind(DbId::from(tenant))
        .fetch_all(p)
        .await
        })?;
        Ok(rows)
    }

    // ---- license assignments -----------------------------------------------------------------

    /// The user's `licenseAssignmentStates`, oldest first.
    /// A user's licenses with the tenant's catalog to render them: the user's existence and the
    /// tenant's rules stamp in one statement, the licenses in another, the catalog from this
    /// node's copy of the rules. `None` when the user is not in the tenant.
    pub async fn user_licenses(
        &self,
        tenant: TenantId,
        user: UserId,
    ) -> Result<Option<UserLicenses>, StoreError> {
        let stamp = on_db!(&self.db, |p| {
            sqlx::query_scalar::<_, i64>(
            "SELECT t.rules_version FROM users u JOIN tenants t ON t.id = u.tenant_id WHERE u.tenant_id = $1 AND u.id = $2"
        )
        .bind(DbId::from(tenant))
        .bind(DbId::from(user))
        .fetch_optional(p)
        .await
        })?;
        let Some(stamp) = stamp else {
            return Ok(None);
        };
        let rules = crate::ledger::rules_read(&self.db, tenant, stamp).await?;
        let assignments = self.assignments(tenant, user).await?;
        Ok(Some(UserLicenses { rules, assignments }))
    }

    pub async fn assignments(&self, tenant: TenantId, user: UserId) -> Result<Vec<Assignment>, StoreError> {
        Ok(self
            .assignments_for(tenant, &[user])
            .await?
            .remove(&user)
            .unwrap_or_default())
    }

    /// Assignments of many users in one query.
    pub async fn assignments_for(
        &self,
        tenant: TenantId,
        users: &[UserId],
    ) -> Result<HashMap<UserId, Vec<Assignment>>, StoreError> {
        let mut out: HashMap<UserId, Vec<Assignment>> = HashMap::new();
        for chunk in users.chunks(5000) {
            let sql = format!(
                "SELECT {ASSIGNMENT_COLS} FROM license_assignments WHERE tenant_id = $1 AND user_id IN {} \
                 ORDER BY assigned_at, sku_id, source_group_id",
                sql::ids_in(self.db.backend(), 2)
            );
            let rows = on_db!(&self.db, |p| sqlx::query_as::<_, AssignmentRow>(AssertSqlSafe(
                sql
            ))
            .bind(DbId::from(tenant))
            .bind(sql::ids_json(chunk.iter().map(|u| u.as_uuid())))
            .fetch_all(p)
            .await)?;
            for r in rows {
                let user = UserId::from_uuid(r.user_id.0);
                out.entry(user).or_default().push(Assignment::try_from(r)?);
            }
        }
        Ok(out)
    }

    /// A direct `assignLicense`: validated by the licensing rules against the user's current
    /// assignments and applied in one transaction, or refused with nothing changed.
    pub async fn assign_direct(
        &self,
        tenant: TenantId,
        user: UserId,
        change: &LicenseChange,
    ) -> Result<(), StoreError> {
        self.assign_direct_as(None, tenant, user, change)
            .await
            .map(|_| ())
    }

    /// As [`Store::assign_direct`], with the change's audit records ("Change user license",
    /// "Update user") in the same transaction; answers the user and its licenses as committed.
    pub async fn assign_direct_by(
        &self,
        actor: &crate::audit::Actor,
        tenant: TenantId,
        user: UserId,
        change: &LicenseChange,
    ) -> Result<(crate::records::User, Vec<Assignment>), StoreError> {
        self.assign_direct_as(Some(actor), tenant, user, change).await
    }

    async fn assign_direct_as(
        &self,
        actor: Option<&crate::audit::Actor>,
        tenant: TenantId,
        user: UserId,
        change: &LicenseChange,
    ) -> crate::batch::Answer {
        let addition = Addition {
            actor: actor.cloned(),
            tenant,
            user,
            change: change.clone(),
        };
        // SQLite: additions are applied in sets (`crate::batch`); anything else alone.
        if self.db.backend() == Backend::Sqlite && change.remove.is_empty() {
            self.additions.apply(&self.db, addition).await
        } else {
            crate::batch::alone(&self.db, &addition).await
        }
    }
}
