//! The operation layer: every license-relevant change, one method each, whatever surface asks for
//! it (Graph v1.0 and beta, cloudLicensing, Partner Center, the admin API).
//!
//! Each method commits its change in one store transaction, then does the post-commit work
//! exactly once: in a `sync` tenant it waits until the licensing work the change queued is done
//! (a fan-out, a re-evaluation, the seating of waiting members), in `async` it wakes the worker,
//! in `manual` it leaves the work queued. A failed change committed nothing and queued nothing,
//! so it has no post-commit work. Handlers call these methods and never the follow-up itself, so
//! the same change answers at the same moment through every surface.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use allot_core::ids::{GroupId, SkuId, TenantId, UserId};
use allot_core::licensing::{Assignment, LicenseChange};
use allot_store::audit::Actor;
use allot_store::cloud_licensing::CloudWrite;
use allot_store::records::{Group, MemberRef, Subscription, User};
use allot_store::{Store, StoreError};
use uuid::Uuid;

use crate::worker::Worker;

#[derive(Clone)]
pub struct Operations {
    store: Store,
    worker: Arc<Worker>,
}

impl Operations {
    #[must_use]
    pub const fn new(store: Store, worker: Arc<Worker>) -> Self {
        Self { store, worker }
    }

    /// The post-commit work of a change that succeeded.
    async fn committed<T>(&self, tenant: TenantId, value: T) -> Result<T, StoreError> {
        self.worker.after_write(tenant).await?;
        Ok(value)
    }

    /// A user's direct licenses (Graph `assignLicense`, Partner Center `licenseupdates`); answers
    /// the user and its licenses after the change.
    pub async fn change_user_licenses(
        &self,
        actor: &Actor,
        tenant: TenantId,
        user: UserId,
        change: &LicenseChange,
    ) -> Result<(User, Vec<Assignment>), StoreError> {
        let (record, after) = self.store.assign_direct_by(actor, tenant, user, change).await?;
        // Only a removal frees a unit, and so only a removal can queue work (the seating of a
        // waiting member); a pure addition queues nothing and skips the processing-mode lookup
        // (the hot path of `allot bench assign`), and its answer is the licenses as committed.
        if change.remove.is_empty() {
            return Ok((record, after));
        }
        self.committed(tenant, ()).await?;
        Ok((record, self.store.assignments(tenant, user).await?))
    }

    /// A group's licenses (Graph `group: assignLicense`): the members follow through the worker.
    pub async fn change_group_licenses(
        &self,
        actor: &Actor,
        tenant: TenantId,
        group: GroupId,
        change: &LicenseChange,
    ) -> Result<Group, StoreError> {
        let g = self
            .store
            .assign_group_licenses_by(actor, tenant, group, change)
            .await?;
        self.committed(tenant, g).await
    }

    /// A new user (Graph `POST /users`, Partner Center), with its "Add user" record.
    pub async fn create_user(&self, actor: &Actor, user: &User) -> Result<(), StoreError> {
        self.store.create_user(actor, user).await
    }

    /// A new group with its first members (`members@odata.bind` on create), all or nothing.
    pub async fn create_group(
        &self,
        actor: &Actor,
        group: &Group,
        members: &[MemberRef],
    ) -> Result<(), StoreError> {
        self.store.create_group(actor, group, members).await?;
        self.committed(group.tenant_id, ()).await
    }

    /// New members of a group (`members/$ref`, `members@odata.bind` on update), all or none.
    pub async fn add_members(
        &self,
        actor: &Actor,
        tenant: TenantId,
        group: GroupId,
        members: &[MemberRef],
    ) -> Result<(), StoreError> {
        self.store.add_members(actor, tenant, group, members).await?;
        self.committed(tenant, ()).await
    }

    /// One member out of a group (`members/{id}/$ref`).
    pub async fn remove_member(
        &self,
        actor: &Actor,
        tenant: TenantId,
        group: GroupId,
        member: Uuid,
    ) -> Result<(), StoreError> {
        self.store.remove_member(actor, tenant, group, member).await?;
        self.committed(tenant, ()).await
    }

    /// A group delete (refused while the group assigns licenses).
    pub async fn delete_group(&self, tenant: TenantId, group: GroupId) -> Result<(), StoreError> {
        self.store.delete_group(tenant, group).await?;
        self.committed(tenant, ()).await
    }

    /// A user's soft delete (Graph and Partner Center): its units go back to the pools.
    pub async fn delete_user(&self, actor: &Actor, tenant: TenantId, user: UserId) -> Result<(), StoreError> {
        self.store.delete_user(actor, tenant, user).await?;
        self.committed(tenant, ()).await
    }

    /// A deleted user back, with its memberships and its direct licenses (over the free units if
    /// need be, as Entra restores them).
    pub async fn restore_user(
        &self,
        actor: &Actor,
        tenant: TenantId,
        user: UserId,
    ) -> Result<User, StoreError> {
        let restored = self.store.restore_user(actor, tenant, user).await?;
        self.committed(tenant, restored).await
    }

    /// A deleted Microsoft 365 group back, with its members and parent groups. It held no
    /// licenses, so no licensing work follows; it goes through here like every directory change.
    pub async fn restore_group(&self, tenant: TenantId, group: GroupId) -> Result<Group, StoreError> {
        let restored = self.store.restore_group(tenant, group).await?;
        self.committed(tenant, restored).await
    }

    /// A user's properties. When the usage location changes, the user's group licenses are
    /// evaluated again (a location can make a plan available or prohibited).
    pub async fn update_user<F>(&self, tenant: TenantId, user: UserId, edit: F) -> Result<User, StoreError>
    where
        F: Fn(&mut User) -> Result<(), StoreError>,
    {
        let moved = AtomicBool::new(false);
        let updated = self
            .store
            .update_user(tenant, user, |u| {
                let before = u.usage_location.clone();
                edit(u)?;
                moved.store(u.usage_location != before, Ordering::Relaxed);
                Ok(())
            })
            .await?;
        if !moved.load(Ordering::Relaxed) {
            return Ok(updated);
        }
        self.store.reprocess_user(tenant, user).await?;
        self.committed(tenant, updated).await
    }

    /// Re-evaluates every group assignment of a user now (`reprocessLicenseAssignment`,
    /// cloudLicensing `reprocessAssignments`).
    pub async fn reprocess_user(&self, tenant: TenantId, user: UserId) -> Result<(), StoreError> {
        self.store.reprocess_user(tenant, user).await?;
        self.committed(tenant, ()).await
    }

    /// A cloudLicensing assignment create, update or delete, for a user or a group.
    pub async fn cloud_write(
        &self,
        actor: &Actor,
        tenant: TenantId,
        principal: MemberRef,
        sku: SkuId,
        write: &CloudWrite,
    ) -> Result<(), StoreError> {
        self.store
            .cloud_write(actor, tenant, principal, sku, write)
            .await?;
        self.committed(tenant, ()).await
    }

    /// A subscription's units (admin API): raised units seat waiting members.
    pub async fn update_subscription(&self, sub: &Subscription) -> Result<(), StoreError> {
        let admin = Actor {
            user: None,
            app: None,
            surface: ADMIN_API,
        };
        self.store.upsert_subscription_by(&admin, sub).await?;
        self.committed(sub.tenant_id, ()).await
    }
}

/// The surfaces a change comes through, as the audit log names them (`additionalDetails`).
pub const GRAPH: &str = "Microsoft Graph";
pub const PARTNER_CENTER: &str = "Partner Center";
pub const CLOUD_LICENSING: &str = "Microsoft Graph (beta cloudLicensing)";
pub const ADMIN_API: &str = "Allot admin API";

/// Who is making a change through `surface`, for the audit log: the signed-in user of a
/// delegated token, and the calling app.
#[must_use]
pub fn actor(principal: &crate::auth::tokens::Principal, surface: &'static str) -> Actor {
    use crate::auth::tokens::Caller;
    match &principal.caller {
        Caller::App { app, .. } => Actor {
            user: None,
            app: Some(*app),
            surface,
        },
        Caller::User { app, user, .. } => Actor {
            user: Some(*user),
            app: Some(*app),
            surface,
        },
    }
}
