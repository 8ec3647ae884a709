//! Subscriptions and their units: creating or changing a subscription (and its SKU's pool), with
//! its "Update subscription" audit record when someone asked for it, and reading them back.

use super::*;

impl Store {
    /// Creates or replaces a subscription (its unit counts), and the SKU's pool if it is new.
    pub async fn upsert_subscription(&self, s: &Subscription) -> Result<(), StoreError> {
        self.upsert_subscription_as(None, s).await
    }

    /// As [`Store::upsert_subscription`], with an "Update subscription" audit record of the
    /// units before and after.
    pub async fn upsert_subscription_by(
        &self,
        actor: &crate::audit::Actor,
        s: &Subscription,
    ) -> Result<(), StoreError> {
        self.upsert_subscription_as(Some(actor), s).await
    }

    async fn upsert_subscription_as(
        &self,
        actor: Option<&crate::audit::Actor>,
        s: &Subscription,
    ) -> Result<(), StoreError> {
        retry(|| async {
            let mut tx = self.db.begin().await?;
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO sku_pools (tenant_id, sku_id, consumed) VALUES ($1, $2, 0) ON CONFLICT (tenant_id, sku_id) DO NOTHING"
            )
            .bind(DbId::from(s.tenant_id))
            .bind(DbId::from(s.sku_id))
            .execute(c)
            .await.map(|r| r.rows_affected()))?;
            // Taking the pool row's lock orders this change against concurrent assignments.
            lock_pool(&mut tx, s.tenant_id, s.sku_id).await?;
            let before = on_tx!(&mut tx, |c| sqlx::query_as::<_, (i64, i64, i64, i64)>(
                "SELECT enabled, warning, suspended, locked_out FROM subscriptions WHERE id = $1"
            )
            .bind(DbId::from(s.id))
            .fetch_optional(c)
            .await)?;
            on_tx!(&mut tx, |c| sqlx::query(
                "INSERT INTO subscriptions (id, tenant_id, sku_id, enabled, warning, suspended, locked_out, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 ON CONFLICT (id) DO UPDATE SET enabled = excluded.enabled, warning = excluded.warning, \
                 suspended = excluded.suspended, locked_out = excluded.locked_out"
            )
            .bind(DbId::from(s.id))
            .bind(DbId::from(s.tenant_id))
            .bind(DbId::from(s.sku_id))
            .bind(s.enabled)
            .bind(s.warning)
            .bind(s.suspended)
            .bind(s.locked_out)
            .bind(s.created_at)
            .execute(c)
            .await.map(|r| r.rows_affected()))?;
            // Units raised: the waiting room may be seated.
            seat_if_waiting(&mut tx, s.tenant_id, s.sku_id).await?;
            if let Some(actor) = actor {
                crate::audit::subscription_change(&mut tx, actor, s, before).await?;
            }
            tx.commit().await
        })
        .await
    }

    pub async fn subscriptions(&self, tenant: TenantId) -> Result<Vec<Subscription>, StoreError> {
        let rows = on_db!(&self.db, |p| {
            sqlx::query_as::<_, SubscriptionRow>(
            "SELECT id, tenant_id, sku_id, enabled, warning, suspended, locked_out, created_at FROM subscriptions \
             WHERE tenant_id = $1 ORDER BY created_at, id"
        )
        .bind(DbId::from(tenant))
        .fetch_all(p)
        .await
        })?;
        Ok(rows.into_iter().map(Subscription::from).collect())
    }

    pub async fn subscription(
        &self,
        tenant: TenantId,
        id: SubscriptionId,
    ) -> Result<Option<Subscription>, StoreError> {
        Ok(self.subscriptions(tenant).await?.into_iter().find(|s| s.id == id))
    }

    /// Units per SKU, in the order the tenant's subscriptions were created.
    pub async fn sku_units(&self, tenant: TenantId) -> Result<Vec<SkuUnits>, StoreError> {
        let subs = self.subscriptions(tenant).await?;
        let pools: HashMap<Uuid, i64> = on_db!(&self.db, |p| sqlx::query_as::<_, (DbId, i64)>(
            "SELECT sku_id, consumed FROM sku_pools WHERE tenant_id = $1"
        )
        .bind(DbId::from(tenant))
        .fetch_all(p)
        .await)?
        .into_iter()
        .map(|(id, c)| (id.0, c))
        .collect();
        let mut out: Vec<SkuUnits> = Vec::new();
        for s in subs {
            let units = match out.iter_mut().find(|u| u.sku_id == s.sku_id) {
                Some(u) => u,
                None => {
                    out.push(SkuUnits {
                        sku_id: s.sku_id,
                        subscription_ids: Vec::new(),
                        enabled: 0,
                        warning: 0,
                        suspended: 0,
                        locked_out: 0,
                        consumed: pools.get(&s.sku_id.as_uuid()).copied().unwrap_or(0),
                    });
                    out.last_mut().ok_or(StoreError::NotFound)?
                }
            };
            units.subscription_ids.push(s.id);
            units.enabled += s.enabled;
            units.warning += s.warning;
            units.suspended += s.suspended;
            units.locked_out += s.locked_out;
        }
        Ok(out)
    }
}
