//! The cloudLicensing entities, computed from the one licensing state at read time: allotments
//! (one per subscription), assignments (direct rows and group licenses), usage rights, waiting
//! members and assignment errors, with their opaque ids.

use std::collections::{BTreeMap, BTreeSet};

use allot_core::catalog::{AppliesTo, Sku};
use allot_core::ids::{GroupId, ServicePlanId, SkuId, Source, SubscriptionId, TenantId, UserId};
use allot_core::licensing::{self, AssignmentErrorCode, Violation};
use allot_store::Store;
use allot_store::StoreError;
use allot_store::cloud_views::{
    AllotmentView, AssignmentView, ErrorView, Page, UsageRightView, ViewQuery, ViewScope, WaitingView,
};
use allot_store::records::{MemberRef, Subscription};
use allot_store::store::SharedCatalog;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};
use uuid::Uuid;

// ---- ids ----------------------------------------------------------------------------------------

const BASE32: &[u8; 32] = b"abcdefghijklmnopqrstuvwxyz234567";

fn base32(bytes: &[u8]) -> String {
    let mut out = String::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for b in bytes {
        acc = (acc << 8) | u32::from(*b);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(BASE32[((acc >> bits) & 31) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(BASE32[((acc << (5 - bits)) & 31) as usize]));
    }
    out
}

fn unbase32(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes() {
        let v = BASE32.iter().position(|x| *x == c.to_ascii_lowercase())?;
        acc = (acc << 5) | u32::try_from(v).ok()?;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// An allotment id: 52 lowercase base32 characters (like Graph's examples) encoding the
/// subscription and the tenant, so that it is stable, opaque and decodes without a lookup table.
#[must_use]
pub fn allotment_id(tenant: TenantId, sub: SubscriptionId) -> String {
    let mut b = sub.as_uuid().as_bytes().to_vec();
    b.extend_from_slice(tenant.as_uuid().as_bytes());
    base32(&b)
}

#[must_use]
pub fn parse_allotment_id(tenant: TenantId, id: &str) -> Option<SubscriptionId> {
    if id.len() != 52 {
        return None;
    }
    let b = unbase32(id)?;
    let sub = Uuid::from_slice(b.get(..16)?).ok()?;
    let t = Uuid::from_slice(b.get(16..32)?).ok()?;
    (t == tenant.as_uuid()).then(|| SubscriptionId::from_uuid(sub))
}

/// base64url of a tag byte and UUIDs: the ids of assignments, usage rights, waiting members and
/// assignment errors.
fn tagged(tag: u8, parts: &[Uuid]) -> String {
    let mut b = vec![tag];
    for p in parts {
        b.extend_from_slice(p.as_bytes());
    }
    URL_SAFE_NO_PAD.encode(b)
}

fn untagged(tag: u8, n: usize, s: &str) -> Option<Vec<Uuid>> {
    let b = URL_SAFE_NO_PAD.decode(s).ok()?;
    if b.len() != 1 + 16 * n || b[0] != tag {
        return None;
    }
    (0..n)
        .map(|i| Uuid::from_slice(&b[1 + 16 * i..17 + 16 * i]).ok())
        .collect()
}

const USER_TAG: u8 = b'u';
const GROUP_TAG: u8 = b'g';

#[must_use]
pub fn assignment_id(principal: MemberRef, sku: SkuId) -> String {
    match principal {
        MemberRef::User(u) => tagged(USER_TAG, &[u.as_uuid(), sku.as_uuid()]),
        MemberRef::Group(g) => tagged(GROUP_TAG, &[g.as_uuid(), sku.as_uuid()]),
    }
}

#[must_use]
pub fn parse_assignment_id(id: &str) -> Option<(MemberRef, SkuId)> {
    if let Some(v) = untagged(USER_TAG, 2, id) {
        return Some((MemberRef::User(UserId::from_uuid(v[0])), SkuId::from_uuid(v[1])));
    }
    let v = untagged(GROUP_TAG, 2, id)?;
    Some((MemberRef::Group(GroupId::from_uuid(v[0])), SkuId::from_uuid(v[1])))
}

/// The principal (user or group: the scope tells) and SKU of a usage right id.
#[must_use]
pub fn parse_usage_right_id(id: &str) -> Option<(Uuid, SkuId)> {
    let v = untagged(b'r', 2, id)?;
    Some((v[0], SkuId::from_uuid(v[1])))
}

#[must_use]
pub fn parse_waiting_member_id(id: &str) -> Option<(UserId, SubscriptionId)> {
    let v = untagged(b'w', 2, id)?;
    Some((UserId::from_uuid(v[0]), SubscriptionId::from_uuid(v[1])))
}

#[must_use]
pub fn parse_assignment_error_id(id: &str) -> Option<(UserId, SkuId, GroupId)> {
    let v = untagged(b'e', 3, id)?;
    Some((
        UserId::from_uuid(v[0]),
        SkuId::from_uuid(v[1]),
        GroupId::from_uuid(v[2]),
    ))
}

#[must_use]
pub fn usage_right_id(principal: MemberRef, sku: SkuId) -> String {
    tagged(b'r', &[principal.uuid(), sku.as_uuid()])
}

#[must_use]
pub fn waiting_member_id(user: UserId, sub: SubscriptionId) -> String {
    tagged(b'w', &[user.as_uuid(), sub.as_uuid()])
}

#[must_use]
pub fn assignment_error_id(user: UserId, sku: SkuId, group: GroupId) -> String {
    tagged(b'e', &[user.as_uuid(), sku.as_uuid(), group.as_uuid()])
}

// ---- entities -----------------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Allotment {
    pub id: String,
    pub sub: Subscription,
    pub sku: Sku,
    pub allotted: i64,
    pub consumed: i64,
}

#[derive(Debug, Clone)]
pub struct Assignment {
    pub id: String,
    pub principal: MemberRef,
    pub sku: SkuId,
    pub disabled: Vec<ServicePlanId>,
    pub allotment: SubscriptionId,
}

impl From<AssignmentView> for Assignment {
    fn from(a: AssignmentView) -> Self {
        Self {
            id: assignment_id(a.principal, a.sku),
            principal: a.principal,
            sku: a.sku,
            disabled: a.disabled,
            allotment: a.allotment,
        }
    }
}

#[derive(Debug, Clone)]
pub struct UsageRight {
    pub id: String,
    pub sku: Sku,
    pub enabled: Vec<ServicePlanId>,
    /// The assignments (direct and inherited) that combine into it.
    pub assignments: Vec<Assignment>,
}

#[derive(Debug, Clone)]
pub struct WaitingMember {
    pub id: String,
    pub user: UserId,
    pub allotment: SubscriptionId,
    pub since: DateTime<Utc>,
}

impl From<WaitingView> for WaitingMember {
    fn from(w: WaitingView) -> Self {
        Self {
            id: waiting_member_id(w.user, w.allotment),
            user: w.user,
            allotment: w.allotment,
            since: w.since,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AssignmentError {
    pub id: String,
    pub user: UserId,
    pub sku: SkuId,
    pub code: String,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// What every cloudLicensing read needs about the tenant: its catalog, the SKUs of its
/// subscriptions (what the store's views know) and its allotments, all read from the store's
/// views (`allot_store::cloud_views`), which also filter, sort, count and page every collection.
pub struct View {
    pub tenant: TenantId,
    pub catalog: SharedCatalog,
    pub allotments: Vec<Allotment>,
    skus: Vec<SkuId>,
}

impl View {
    pub async fn load(store: &Store, tenant: TenantId) -> Result<Self, StoreError> {
        let catalog = store.tenant_catalog(tenant).await?;
        let mut skus: Vec<SkuId> = store
            .subscriptions(tenant)
            .await?
            .iter()
            .map(|s| s.sku_id)
            .collect();
        skus.sort();
        skus.dedup();
        let mut view = Self {
            tenant,
            catalog,
            allotments: Vec::new(),
            skus,
        };
        let rows: Page<AllotmentView> = view.page(store, ViewScope::Tenant, &ViewQuery::default()).await?;
        view.allotments = rows
            .into_iter()
            .filter_map(|(a, _)| view.allotment_of_view(a))
            .collect();
        Ok(view)
    }

    fn allotment_of_view(&self, a: AllotmentView) -> Option<Allotment> {
        let sku = self.catalog.sku(a.sub.sku_id)?.clone();
        Some(Allotment {
            id: allotment_id(self.tenant, a.sub.id),
            allotted: a.sub.enabled,
            consumed: a.consumed,
            sub: a.sub,
            sku,
        })
    }

    /// The catalog entries of the tenant's subscriptions: what the views know of SKUs.
    fn skus(&self) -> Vec<&Sku> {
        self.skus.iter().filter_map(|s| self.catalog.sku(*s)).collect()
    }

    /// One page of a view.
    pub async fn page<V: allot_store::cloud_views::View>(
        &self,
        store: &Store,
        scope: ViewScope,
        q: &ViewQuery<'_>,
    ) -> Result<Page<V>, StoreError> {
        store.view_page::<V>(self.tenant, &self.skus(), scope, q).await
    }

    /// How many entities of a view match `filter`.
    pub async fn count<V: allot_store::cloud_views::View>(
        &self,
        store: &Store,
        scope: ViewScope,
        filter: Option<&allot_odata::validate::Cond>,
    ) -> Result<i64, StoreError> {
        store
            .view_count::<V>(self.tenant, &self.skus(), scope, filter)
            .await
    }

    /// The entity of a view whose identity columns are `id`.
    pub async fn one<V: allot_store::cloud_views::View>(
        &self,
        store: &Store,
        scope: ViewScope,
        id: &[String],
    ) -> Result<Option<V>, StoreError> {
        store.view_one::<V>(self.tenant, &self.skus(), scope, id).await
    }

    #[must_use]
    pub fn allotment(&self, sub: SubscriptionId) -> Option<&Allotment> {
        self.allotments.iter().find(|a| a.sub.id == sub)
    }

    #[must_use]
    pub fn allotment_by_id(&self, id: &str) -> Option<&Allotment> {
        let sub = parse_allotment_id(self.tenant, id)?;
        self.allotment(sub)
    }

    /// Every assignment made to `principal`.
    pub async fn assignments_of(
        &self,
        store: &Store,
        principal: MemberRef,
    ) -> Result<Vec<Assignment>, StoreError> {
        let rows: Page<AssignmentView> = self
            .page(store, ViewScope::Principal(principal), &ViewQuery::default())
            .await?;
        Ok(rows.into_iter().map(|(a, _)| a.into()).collect())
    }

    fn enabled_plans(sku: &Sku, disabled: &[ServicePlanId]) -> Vec<ServicePlanId> {
        sku.plans
            .iter()
            .map(|p| p.id)
            .filter(|p| !disabled.contains(p))
            .collect()
    }

    /// Usage rights from the view's rows: services the union of what the sources enable, with the
    /// assignments (direct and from groups) behind each.
    pub async fn usage_rights(
        &self,
        store: &Store,
        rows: Vec<UsageRightView>,
    ) -> Result<Vec<UsageRight>, StoreError> {
        let mut out = Vec::new();
        let mut by_principal: BTreeMap<MemberRef, Vec<Assignment>> = BTreeMap::new();
        for r in rows {
            let Some(sku) = self.catalog.sku(r.sku) else {
                continue;
            };
            let (sources, disabled): (Vec<MemberRef>, Vec<ServicePlanId>) = match r.principal {
                MemberRef::User(user) => {
                    let held = store.assignments(self.tenant, user).await?;
                    let effective = licensing::effective_licenses(&held);
                    let disabled = effective
                        .iter()
                        .find(|l| l.sku == r.sku)
                        .map(|l| l.disabled_plans.clone())
                        .unwrap_or_default();
                    let sources = held
                        .iter()
                        .filter(|a| a.sku == r.sku && a.state.holds_license())
                        .map(|a| match a.source {
                            Source::Direct => MemberRef::User(user),
                            Source::Group(g) => MemberRef::Group(g),
                        })
                        .collect();
                    (sources, disabled)
                }
                MemberRef::Group(_) => (vec![r.principal], Vec::new()),
            };
            let mut assignments = Vec::new();
            for p in sources {
                if let std::collections::btree_map::Entry::Vacant(slot) = by_principal.entry(p) {
                    slot.insert(self.assignments_of(store, p).await?);
                }
                assignments.extend(by_principal[&p].iter().filter(|a| a.sku == r.sku).cloned());
            }
            let disabled = match r.principal {
                MemberRef::Group(_) => assignments
                    .first()
                    .map(|a| a.disabled.clone())
                    .unwrap_or_default(),
                MemberRef::User(_) => disabled,
            };
            out.push(UsageRight {
                id: usage_right_id(r.principal, r.sku),
                sku: sku.clone(),
                enabled: Self::enabled_plans(sku, &disabled),
                assignments,
            });
        }
        Ok(out)
    }

    /// Assignment errors from the view's rows, with their messages.
    pub async fn errors(
        &self,
        store: &Store,
        rows: Vec<ErrorView>,
    ) -> Result<Vec<AssignmentError>, StoreError> {
        let users: Vec<UserId> = rows
            .iter()
            .map(|r| r.user)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let all = store.assignments_for(self.tenant, &users).await?;
        Ok(rows
            .into_iter()
            .map(|r| {
                let held = all.get(&r.user).map_or(&[][..], Vec::as_slice);
                let failed = held
                    .iter()
                    .find(|a| a.sku == r.sku && a.source == Source::Group(r.group));
                let message = failed.map_or_else(
                    || format!("License {} could not be assigned.", r.sku),
                    |f| self.describe(f, held),
                );
                AssignmentError {
                    id: assignment_error_id(r.user, r.sku, r.group),
                    user: r.user,
                    sku: r.sku,
                    code: r.code,
                    message,
                    at: r.at,
                }
            })
            .collect())
    }

    /// `assignmentError.message` for a failed group row (its `code` is the vocabulary's
    /// `cloud_error_code`). (inferred: the docs show only `MissingDependency` and its message)
    fn describe(
        &self,
        failed: &allot_core::licensing::Assignment,
        rows: &[allot_core::licensing::Assignment],
    ) -> String {
        let mut candidate: Vec<_> = rows.iter().filter(|r| r.state.holds_license()).cloned().collect();
        let mut active = failed.clone();
        active.state = licensing::AssignmentState::Active;
        candidate.push(active);
        let enabled = licensing::enabled_plans(&self.catalog, &candidate);
        let in_sku = |p: &ServicePlanId| self.catalog.sku(failed.sku).is_some_and(|s| s.has_plan(*p));
        let found = licensing::violations(&self.catalog, &enabled)
            .into_iter()
            .find(|v| match v {
                Violation::MutuallyExclusive(a, b) => in_sku(a) || in_sku(b),
                Violation::Dependency { plan, .. } => in_sku(plan),
            });
        match (failed.error, found) {
            (
                AssignmentErrorCode::DependencyViolation,
                Some(Violation::Dependency {
                    plan,
                    requires_any_of,
                }),
            ) => format!(
                "Service plan {plan} cannot be assigned without service plan {}, which this user does not currently have.",
                requires_any_of
                    .first()
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ),
            (AssignmentErrorCode::MutuallyExclusiveViolation, Some(Violation::MutuallyExclusive(a, b))) => {
                format!("License assignment failed because service plans {a},{b} are mutually exclusive")
            }
            (AssignmentErrorCode::DependencyViolation, _) => format!(
                "A service plan of license {} depends on a service plan this user does not have.",
                failed.sku
            ),
            (AssignmentErrorCode::MutuallyExclusiveViolation, _) => format!(
                "License {} has service plans that are mutually exclusive with this user's other licenses.",
                failed.sku
            ),
            (AssignmentErrorCode::ProhibitedInUsageLocationViolation, _) => format!(
                "License {} cannot be used in this user's usage location.",
                failed.sku
            ),
            (AssignmentErrorCode::UniquenessViolation, _) => {
                "Another object with the same value for property proxyAddresses already exists.".to_owned()
            }
            _ => format!("License {} could not be assigned.", failed.sku),
        }
    }
}

/// Whether an allotment of this SKU may be assigned to users and groups (`assignableTo`).
#[must_use]
pub fn assignable(sku: &Sku) -> bool {
    sku.applies_to != AppliesTo::Company
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allotment_ids_are_52_base32_characters_and_decode_only_in_their_tenant() {
        let (t, s) = (TenantId::new(), SubscriptionId::new());
        let id = allotment_id(t, s);
        assert_eq!(id.len(), 52);
        assert!(id.bytes().all(|c| BASE32.contains(&c)));
        assert_eq!(parse_allotment_id(t, &id), Some(s));
        assert_eq!(parse_allotment_id(TenantId::new(), &id), None);
        assert_eq!(parse_allotment_id(t, "nope"), None);
    }

    #[test]
    fn assignment_ids_round_trip_and_tell_users_from_groups() {
        let (u, g, sku) = (UserId::new(), GroupId::new(), SkuId::new());
        let a = assignment_id(MemberRef::User(u), sku);
        let b = assignment_id(MemberRef::Group(g), sku);
        assert_eq!(parse_assignment_id(&a), Some((MemberRef::User(u), sku)));
        assert_eq!(parse_assignment_id(&b), Some((MemberRef::Group(g), sku)));
        assert_eq!(
            parse_assignment_id(&usage_right_id(MemberRef::User(u), sku)),
            None
        );
        assert_eq!(parse_assignment_id("garbage!"), None);
    }
}
