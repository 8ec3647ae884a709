//! Applying a tenant file: every declared object is created or brought to its declared state, in
//! an order that respects references (tenant, subscriptions, apps, users, groups, members,
//! licenses). Ids are stable, so a second application changes nothing.

use std::collections::HashMap;

use allot_core::catalog::TenantCatalog;
use allot_core::directory;
use allot_core::ids::{Source, UserId};
use allot_core::licensing::{AddLicense, LicenseChange};
use allot_core::secret::hash_secret;
use allot_core::tenant_file::{TenantDef, TenantFile};
use uuid::Uuid;

use crate::error::StoreError;
use crate::records::{App, Group, MemberRef, Relationship, Subscription, Tenant, User};
use crate::store::Store;

/// What applying a file did, for the CLI and the admin API.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedReport {
    pub tenants: Vec<String>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
}

impl Store {
    /// Applies every tenant of `file`.
    pub async fn apply_tenant_file(&self, file: &TenantFile) -> Result<SeedReport, StoreError> {
        file.validate().map_err(|e| StoreError::Invalid(e.to_string()))?;
        let mut report = SeedReport::default();
        for t in &file.tenants {
            self.apply_tenant(t, &mut report).await?;
            report.tenants.push(t.tenant_id().to_string());
        }
        // Relationships last: a partner may name a customer declared after it.
        for t in &file.tenants {
            self.apply_relationships(t, &mut report).await?;
        }
        Ok(report)
    }

    /// Brings the partner relationships of `def` to what it declares; a file without a
    /// `customers:` section leaves them as they are.
    async fn apply_relationships(&self, def: &TenantDef, report: &mut SeedReport) -> Result<(), StoreError> {
        let Some(customers) = &def.customers else {
            return Ok(());
        };
        let partner = def.tenant_id();
        let existing = self.relationships(partner).await?;
        let users = self.user_ids(def).await?;
        let mut keep = Vec::new();
        for c in customers {
            let customer = self
                .find_tenant(&c.tenant)
                .await?
                .ok_or_else(|| StoreError::Invalid(format!("customer tenant {} does not exist", c.tenant)))?;
            let roles: Vec<String> = c
                .roles
                .iter()
                .filter_map(|r| directory::role(r))
                .map(|r| r.template_id.to_owned())
                .collect();
            let users = c.users.iter().filter_map(|u| users.of(def, u)).collect();
            let old = existing.iter().find(|r| r.customer == customer.id);
            let wanted = Relationship {
                id: Uuid::new_v5(&partner.as_uuid(), customer.id.as_uuid().as_bytes()),
                partner,
                customer: customer.id,
                display_name: c
                    .display_name
                    .clone()
                    .unwrap_or_else(|| format!("{} - {}", def.display_name, customer.display_name)),
                roles,
                users,
                created_at: old.map_or_else(crate::now, |o| o.created_at),
            };
            count(report, old.map(|o| *o == wanted));
            if old != Some(&wanted) {
                self.upsert_relationship(&wanted).await?;
            }
            keep.push(customer.id);
        }
        self.prune_relationships(partner, &keep).await
    }

    /// The id each user of `def` has in the database: the file's, or, for a user that already
    /// exists under the same UPN with another id (one made through Graph or Partner Center),
    /// that user's, so that the file updates it instead of colliding with it.
    async fn user_ids(&self, def: &TenantDef) -> Result<UserIds, StoreError> {
        let tid = def.tenant_id();
        let mut map = HashMap::new();
        for u in &def.users {
            let id = def.user_id(u);
            if self.user(tid, id).await?.is_none()
                && let Some(existing) = self.user_by_upn(tid, &u.user_principal_name).await?
            {
                map.insert(id, existing.id);
            }
        }
        Ok(UserIds(map))
    }

    /// Deletes every object of the tenant and applies its seed again. `NotFound` when the tenant
    /// is unknown; `Invalid` when it was not created from a tenant file.
    pub async fn reset_tenant(&self, tenant: allot_core::ids::TenantId) -> Result<SeedReport, StoreError> {
        let t = self.tenant(tenant).await?.ok_or(StoreError::NotFound)?;
        let seed = t
            .seed
            .ok_or_else(|| StoreError::Invalid("tenant has no seed to reset to".into()))?;
        self.clear_tenant(tenant).await?;
        let mut report = SeedReport::default();
        self.apply_tenant(&seed, &mut report).await?;
        self.apply_relationships(&seed, &mut report).await?;
        report.tenants.push(tenant.to_string());
        Ok(report)
    }

    async fn apply_tenant(&self, def: &TenantDef, report: &mut SeedReport) -> Result<(), StoreError> {
        let tid = def.tenant_id();
        let catalog =
            TenantCatalog::with_extension(&def.catalog).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let now = crate::now();
        let existing = self.tenant(tid).await?;
        if let Some(other) = self.tenant_by_domain(&def.default_domain).await?
            && other.id != tid
        {
            return Err(StoreError::Conflict(format!(
                "domain {} belongs to tenant {}",
                def.default_domain, other.id
            )));
        }
        let tenant = Tenant {
            id: tid,
            display_name: def.display_name.clone(),
            default_domain: def.default_domain.clone(),
            country: def.country.to_ascii_uppercase(),
            catalog: def.catalog.clone(),
            seed: Some(def.clone()),
            created_at: existing.as_ref().map_or(now, |t| t.created_at),
        };
        count(report, existing.as_ref().map(|e| same_tenant(e, &tenant)));
        self.upsert_tenant(&tenant).await?;

        let subs = self.subscriptions(tid).await?;
        for (i, s) in def.subscriptions.iter().enumerate() {
            let sku = catalog
                .resolve_sku(&s.sku)
                .ok_or_else(|| StoreError::Invalid(format!("unknown SKU {}", s.sku)))?;
            let id = def.subscription_id(s, i);
            let old = subs.iter().find(|x| x.id == id);
            let sub = Subscription {
                id,
                tenant_id: tid,
                sku_id: sku.id,
                enabled: i64::from(s.enabled),
                warning: i64::from(s.warning),
                suspended: i64::from(s.suspended),
                locked_out: i64::from(s.locked_out),
                // Spaced by a microsecond so that listings keep the file's order.
                created_at: old.map_or(
                    now + chrono::TimeDelta::microseconds(i64::try_from(i).unwrap_or(0)),
                    |o| o.created_at,
                ),
            };
            count(report, old.map(|o| *o == sub));
            if old != Some(&sub) {
                self.upsert_subscription(&sub).await?;
            }
        }

        for a in &def.apps {
            let old = self.app(a.client_id).await?;
            if let Some(o) = &old
                && o.tenant_id != tid
            {
                return Err(StoreError::Conflict(format!(
                    "app {} belongs to another tenant",
                    a.client_id
                )));
            }
            let app = App {
                client_id: a.client_id,
                tenant_id: tid,
                display_name: a.display_name.clone(),
                secret_hash: hash_secret(&a.client_id.to_string(), &a.client_secret),
                service_principal_id: old.as_ref().map_or_else(
                    || Uuid::new_v5(&a.client_id.as_uuid(), b"service-principal"),
                    |o| o.service_principal_id,
                ),
                application_permissions: a.application_permissions.clone(),
                delegated_scopes: a.delegated_scopes.clone(),
                certificates: a.certificates.clone(),
                redirect_uris: a.redirect_uris.clone(),
                public_client: a.public_client,
            };
            count(report, old.as_ref().map(|o| *o == app));
            if old.as_ref() != Some(&app) {
                self.upsert_app(&app).await?;
            }
        }

        let ids = self.user_ids(def).await?;
        for u in &def.users {
            let id = ids.get(def.user_id(u));
            let roles: Vec<String> = u
                .directory_roles
                .iter()
                .filter_map(|r| directory::role(r))
                .map(|r| r.template_id.to_owned())
                .collect();
            let mail_nickname = u.user_principal_name.split('@').next().map(str::to_owned);
            let wanted = User {
                id,
                tenant_id: tid,
                user_principal_name: u.user_principal_name.clone(),
                display_name: u.display_name.clone(),
                given_name: u.given_name.clone(),
                surname: u.surname.clone(),
                mail_nickname,
                mail: Some(u.user_principal_name.clone()),
                job_title: u.job_title.clone(),
                usage_location: u.usage_location.as_ref().map(|l| l.to_ascii_uppercase()),
                account_enabled: u.account_enabled,
                password_hash: u.password.as_ref().map(|p| hash_secret(&id.to_string(), p)),
                directory_roles: roles,
                immutable_id: None,
                phone_number: None,
                created_at: now,
            };
            match self.user(tid, id).await? {
                None => {
                    self.insert_user(&wanted).await?;
                    report.created += 1;
                }
                Some(old) => {
                    let wanted = User {
                        created_at: old.created_at,
                        ..wanted
                    };
                    if old == wanted {
                        report.unchanged += 1;
                    } else {
                        self.update_user(tid, id, |x| {
                            *x = wanted.clone();
                            Ok(())
                        })
                        .await?;
                        report.updated += 1;
                    }
                }
            }
        }

        for g in &def.groups {
            let id = def.group_id(g);
            let wanted = Group {
                id,
                tenant_id: tid,
                display_name: g.display_name.clone(),
                description: g.description.clone(),
                mail_nickname: g
                    .mail_nickname
                    .clone()
                    .unwrap_or_else(|| nickname(&g.display_name)),
                mail_enabled: g.mail_enabled,
                security_enabled: g.security_enabled,
                group_types: g.group_types.clone(),
                assigned_licenses: Vec::new(),
                created_at: now,
            };
            match self.group(tid, id).await? {
                None => {
                    self.insert_group(&wanted).await?;
                    report.created += 1;
                }
                Some(old) => {
                    let wanted = Group {
                        created_at: old.created_at,
                        assigned_licenses: old.assigned_licenses.clone(),
                        ..wanted
                    };
                    if old == wanted {
                        report.unchanged += 1;
                    } else {
                        self.update_group(tid, id, |x| {
                            *x = wanted.clone();
                            Ok(())
                        })
                        .await?;
                        report.updated += 1;
                    }
                }
            }
            for m in &g.members {
                let Some(uid) = ids.of(def, m) else { continue };
                if self.is_member(tid, id, uid.as_uuid()).await? {
                    report.unchanged += 1;
                } else {
                    self.add_members_as(None, tid, id, &[MemberRef::User(uid)])
                        .await?;
                    report.created += 1;
                }
            }
        }

        for u in &def.users {
            let uid = ids.get(def.user_id(u));
            let current = self.assignments(tid, uid).await?;
            let mut add = Vec::new();
            for l in &u.licenses {
                let sku = catalog
                    .resolve_sku(&l.sku)
                    .ok_or_else(|| StoreError::Invalid(format!("unknown SKU {}", l.sku)))?;
                let mut disabled = l
                    .disabled_plans
                    .iter()
                    .map(|p| catalog.resolve_plan(p))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|e| StoreError::Invalid(e.to_string()))?;
                disabled.sort();
                let already = current
                    .iter()
                    .any(|a| a.sku == sku.id && a.source == Source::Direct && a.disabled_plans == disabled);
                if already {
                    report.unchanged += 1;
                } else {
                    add.push(AddLicense {
                        sku: sku.id,
                        disabled_plans: disabled,
                    });
                }
            }
            if !add.is_empty() {
                report.created += add.len();
                self.assign_direct(
                    tid,
                    uid,
                    &LicenseChange {
                        add,
                        remove: Vec::new(),
                    },
                )
                .await
                .map_err(|e| {
                    StoreError::Invalid(format!("licensing {} failed: {e}", u.user_principal_name))
                })?;
            }
        }
        Ok(())
    }
}

/// File ids to database ids, where they differ ([`Store::user_ids`]).
struct UserIds(HashMap<UserId, UserId>);

impl UserIds {
    fn get(&self, file_id: UserId) -> UserId {
        self.0.get(&file_id).copied().unwrap_or(file_id)
    }

    /// The user a member or relationship entry names (UPN or id), as stored.
    fn of(&self, def: &TenantDef, name: &str) -> Option<UserId> {
        def.member_id(name).map(|id| self.get(id))
    }
}

fn count(report: &mut SeedReport, same: Option<bool>) {
    match same {
        None => report.created += 1,
        Some(true) => report.unchanged += 1,
        Some(false) => report.updated += 1,
    }
}

fn same_tenant(a: &Tenant, b: &Tenant) -> bool {
    a.display_name == b.display_name
        && a.default_domain == b.default_domain
        && a.country == b.country
        && a.catalog == b.catalog
        && a.seed == b.seed
}

fn nickname(display_name: &str) -> String {
    let n: String = display_name.chars().filter(char::is_ascii_alphanumeric).collect();
    if n.is_empty() {
        "group".to_owned()
    } else {
        n.to_ascii_lowercase()
    }
}
