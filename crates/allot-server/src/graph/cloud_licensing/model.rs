//! The cloudLicensing entities, computed from the one licensing state at read time: allotments
//! (one per subscription), assignments (direct rows and group licenses), usage rights, waiting
//! members and assignment errors, with their opaque ids.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use allot_core::catalog::{AppliesTo, Sku, TenantCatalog};
use allot_core::ids::{GroupId, ServicePlanId, SkuId, Source, SubscriptionId, TenantId, UserId};
use allot_core::licensing::{self, AssignmentErrorCode, Violation};
use allot_store::Store;
use allot_store::StoreError;
use allot_store::records::{MemberRef, Subscription};
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

#[derive(Debug, Clone)]
pub struct AssignmentError {
    pub id: String,
    pub user: UserId,
    pub sku: SkuId,
    pub code: &'static str,
    pub message: String,
    pub at: DateTime<Utc>,
}

/// What every cloudLicensing read needs about the tenant: catalog, subscriptions and units, and
/// the allotment choices of assignments.
pub struct View {
    pub tenant: TenantId,
    pub catalog: TenantCatalog,
    pub allotments: Vec<Allotment>,
    choices: HashMap<(Uuid, SkuId), SubscriptionId>,
}

impl View {
    pub async fn load(store: &Store, tenant: TenantId) -> Result<Self, StoreError> {
        let catalog = store.tenant_catalog(tenant).await?;
        let subs = store.subscriptions(tenant).await?;
        let units = store.sku_units(tenant).await?;
        let choices = store.allotment_choices(tenant).await?;
        // Units are pooled per SKU (one counter, one lock): each allotment of a SKU shows the
        // pool's consumption filled in subscription order, the last one taking any excess.
        let mut remaining: HashMap<SkuId, i64> = units.iter().map(|u| (u.sku_id, u.consumed)).collect();
        let mut allotments = Vec::new();
        for (i, s) in subs.iter().enumerate() {
            let Some(sku) = catalog.sku(s.sku_id) else {
                continue;
            };
            let last = !subs[i + 1..].iter().any(|o| o.sku_id == s.sku_id);
            let left = remaining.entry(s.sku_id).or_insert(0);
            let consumed = if last {
                *left
            } else {
                (*left).min(s.enabled).max(0)
            };
            *left -= consumed;
            allotments.push(Allotment {
                id: allotment_id(tenant, s.id),
                sub: *s,
                sku: sku.clone(),
                allotted: s.enabled,
                consumed,
            });
        }
        Ok(Self {
            tenant,
            catalog,
            allotments,
            choices,
        })
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

    /// The allotment an assignment of `sku` to `principal` draws from: the one cloudLicensing
    /// recorded, else the SKU's first subscription.
    #[must_use]
    pub fn allotment_of(&self, principal: Uuid, sku: SkuId) -> Option<SubscriptionId> {
        self.choices
            .get(&(principal, sku))
            .copied()
            .filter(|s| self.allotment(*s).is_some())
            .or_else(|| self.allotments.iter().find(|a| a.sku.id == sku).map(|a| a.sub.id))
    }

    fn assignment(
        &self,
        principal: MemberRef,
        sku: SkuId,
        disabled: Vec<ServicePlanId>,
    ) -> Option<Assignment> {
        Some(Assignment {
            id: assignment_id(principal, sku),
            principal,
            sku,
            disabled,
            allotment: self.allotment_of(principal.uuid(), sku)?,
        })
    }

    /// Assignments of the whole tenant (`None`), or made to one principal, sorted by id.
    pub async fn assignments(
        &self,
        store: &Store,
        who: Option<MemberRef>,
    ) -> Result<Vec<Assignment>, StoreError> {
        let mut out = Vec::new();
        let (users, groups) = match who {
            None => (true, true),
            Some(MemberRef::User(_)) => (true, false),
            Some(MemberRef::Group(_)) => (false, true),
        };
        if users {
            let user = match who {
                Some(MemberRef::User(u)) => Some(u),
                _ => None,
            };
            for d in store.direct_assignments(self.tenant, user).await? {
                out.extend(self.assignment(MemberRef::User(d.user), d.sku, d.disabled_plans));
            }
        }
        if groups {
            let group = match who {
                Some(MemberRef::Group(g)) => Some(g),
                _ => None,
            };
            for g in store.licensed_groups(self.tenant, group).await? {
                for l in g.assigned_licenses {
                    out.extend(self.assignment(MemberRef::Group(g.id), l.sku_id, l.disabled_plans));
                }
            }
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// One assignment by id, if it exists in the tenant.
    pub async fn find_assignment(&self, store: &Store, id: &str) -> Result<Option<Assignment>, StoreError> {
        let Some((principal, sku)) = parse_assignment_id(id) else {
            return Ok(None);
        };
        Ok(self
            .assignments(store, Some(principal))
            .await?
            .into_iter()
            .find(|a| a.sku == sku))
    }

    fn enabled_plans(&self, sku: &Sku, disabled: &[ServicePlanId]) -> Vec<ServicePlanId> {
        sku.plans
            .iter()
            .map(|p| p.id)
            .filter(|p| !disabled.contains(p))
            .collect()
    }

    /// A user's usage rights: one per SKU the user holds, its services the union of what the
    /// sources enable, with the assignments (direct and from groups) behind it.
    pub async fn user_usage_rights(
        &self,
        store: &Store,
        user: UserId,
    ) -> Result<Vec<UsageRight>, StoreError> {
        let rows = store.assignments(self.tenant, user).await?;
        let mut out = Vec::new();
        for lic in licensing::effective_licenses(&rows) {
            let Some(sku) = self.catalog.sku(lic.sku) else {
                continue;
            };
            let assignments = rows
                .iter()
                .filter(|r| r.sku == lic.sku && r.state.holds_license())
                .filter_map(|r| {
                    let principal = match r.source {
                        Source::Direct => MemberRef::User(user),
                        Source::Group(g) => MemberRef::Group(g),
                    };
                    self.assignment(principal, r.sku, r.disabled_plans.clone())
                })
                .collect();
            out.push(UsageRight {
                id: usage_right_id(MemberRef::User(user), lic.sku),
                sku: sku.clone(),
                enabled: self.enabled_plans(sku, &lic.disabled_plans),
                assignments,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// A group's usage rights: one per license the group assigns.
    pub async fn group_usage_rights(
        &self,
        store: &Store,
        group: GroupId,
    ) -> Result<Vec<UsageRight>, StoreError> {
        let mut out = Vec::new();
        for a in self.assignments(store, Some(MemberRef::Group(group))).await? {
            let Some(sku) = self.catalog.sku(a.sku) else {
                continue;
            };
            out.push(UsageRight {
                id: usage_right_id(MemberRef::Group(group), a.sku),
                sku: sku.clone(),
                enabled: self.enabled_plans(sku, &a.disabled),
                assignments: vec![a],
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// Waiting members, FIFO by `waitingSinceDateTime` (then membership order): of one user
    /// (each allotment it waits for), or of one allotment (each user waiting for it).
    pub async fn waiting(
        &self,
        store: &Store,
        user: Option<UserId>,
        allotment: Option<SubscriptionId>,
    ) -> Result<Vec<WaitingMember>, StoreError> {
        let mut seen = BTreeSet::new();
        let mut out = Vec::new();
        for w in store.waiting_rows(self.tenant, user).await? {
            let Some(sub) = self.allotment_of(w.group.as_uuid(), w.sku) else {
                continue;
            };
            if allotment.is_some_and(|a| a != sub) || !seen.insert((w.user, sub)) {
                continue;
            }
            out.push(WaitingMember {
                id: waiting_member_id(w.user, sub),
                user: w.user,
                allotment: sub,
                since: w.since,
            });
        }
        Ok(out)
    }

    /// Assignment errors of the tenant or one user: group assignments that failed for a reason
    /// units cannot fix (those members wait instead).
    pub async fn errors(
        &self,
        store: &Store,
        user: Option<UserId>,
        skus: Option<&[SkuId]>,
    ) -> Result<Vec<AssignmentError>, StoreError> {
        let rows = store.license_error_rows(self.tenant, user, skus).await?;
        let mut by_user: BTreeMap<UserId, Vec<allot_core::licensing::Assignment>> = BTreeMap::new();
        let users: Vec<UserId> = rows
            .iter()
            .map(|r| r.user)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let all = store.assignments_for(self.tenant, &users).await?;
        for u in &users {
            by_user.insert(*u, all.get(u).cloned().unwrap_or_default());
        }
        let mut out = Vec::new();
        for r in rows {
            let Source::Group(group) = r.assignment.source else {
                continue;
            };
            let (code, message) =
                self.describe(&r.assignment, by_user.get(&r.user).map_or(&[][..], Vec::as_slice));
            out.push(AssignmentError {
                id: assignment_error_id(r.user, r.assignment.sku, group),
                user: r.user,
                sku: r.assignment.sku,
                code,
                message,
                at: r.assignment.updated_at,
            });
        }
        out.sort_by(|a, b| a.id.cmp(&b.id));
        Ok(out)
    }

    /// `assignmentError.code` and `message` for a failed group row. (inferred: the docs show only
    /// `MissingDependency` and its message; the other codes follow the design document's names)
    fn describe(
        &self,
        failed: &allot_core::licensing::Assignment,
        rows: &[allot_core::licensing::Assignment],
    ) -> (&'static str, String) {
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
            ) => (
                "MissingDependency",
                format!(
                    "Service plan {plan} cannot be assigned without service plan {}, which this user does not currently have.",
                    requires_any_of
                        .first()
                        .map(ToString::to_string)
                        .unwrap_or_default()
                ),
            ),
            (AssignmentErrorCode::MutuallyExclusiveViolation, Some(Violation::MutuallyExclusive(a, b))) => (
                "MutuallyExclusiveServicePlans",
                format!("License assignment failed because service plans {a},{b} are mutually exclusive"),
            ),
            (AssignmentErrorCode::DependencyViolation, _) => (
                "MissingDependency",
                format!(
                    "A service plan of license {} depends on a service plan this user does not have.",
                    failed.sku
                ),
            ),
            (AssignmentErrorCode::MutuallyExclusiveViolation, _) => (
                "MutuallyExclusiveServicePlans",
                format!(
                    "License {} has service plans that are mutually exclusive with this user's other licenses.",
                    failed.sku
                ),
            ),
            (AssignmentErrorCode::ProhibitedInUsageLocationViolation, _) => (
                "InvalidUsageLocation",
                format!(
                    "License {} cannot be used in this user's usage location.",
                    failed.sku
                ),
            ),
            (AssignmentErrorCode::UniquenessViolation, _) => (
                "ProxyAddressConflict",
                "Another object with the same value for property proxyAddresses already exists.".to_owned(),
            ),
            _ => ("Other", format!("License {} could not be assigned.", failed.sku)),
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
