//! The licensing rules (spec §3.1–3.3), as pure functions over a user's assignments.
//!
//! A user holds a SKU from one or more sources (direct, and each licensed group it is a direct
//! member of); it consumes one unit per SKU however many sources it has, and its effective disabled
//! plans for a SKU are the intersection of its sources' lists. The store applies what these
//! functions decide, under its locks, and does the unit accounting they report.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::catalog::{AppliesTo, TenantCatalog};
use crate::ids::{ServicePlanId, SkuId, Source};

mod group;
pub mod vocabulary;

pub use group::{GroupLicenseError, GroupOutcome, evaluate_group, plan_group_change};

/// `licenseAssignmentState.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentState {
    Active,
    ActiveWithError,
    Disabled,
    Error,
}

impl AssignmentState {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "Active",
            Self::ActiveWithError => "ActiveWithError",
            Self::Disabled => "Disabled",
            Self::Error => "Error",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "Active" => Self::Active,
            "ActiveWithError" => Self::ActiveWithError,
            "Disabled" => Self::Disabled,
            "Error" => Self::Error,
            _ => return None,
        })
    }

    /// Whether an assignment in this state gives the user the SKU (and so consumes a unit).
    #[must_use]
    pub const fn holds_license(self) -> bool {
        vocabulary::holds_license(self)
    }
}

/// `licenseAssignmentState.error`. Graph sends the string `"None"` on success (observed).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AssignmentErrorCode {
    None,
    CountViolation,
    MutuallyExclusiveViolation,
    DependencyViolation,
    ProhibitedInUsageLocationViolation,
    UniquenessViolation,
    Other,
}

impl AssignmentErrorCode {
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::CountViolation => "CountViolation",
            Self::MutuallyExclusiveViolation => "MutuallyExclusiveViolation",
            Self::DependencyViolation => "DependencyViolation",
            Self::ProhibitedInUsageLocationViolation => "ProhibitedInUsageLocationViolation",
            Self::UniquenessViolation => "UniquenessViolation",
            Self::Other => "Other",
        }
    }

    #[must_use]
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "None" => Self::None,
            "CountViolation" => Self::CountViolation,
            "MutuallyExclusiveViolation" => Self::MutuallyExclusiveViolation,
            "DependencyViolation" => Self::DependencyViolation,
            "ProhibitedInUsageLocationViolation" => Self::ProhibitedInUsageLocationViolation,
            "UniquenessViolation" => Self::UniquenessViolation,
            "Other" => Self::Other,
            _ => return None,
        })
    }
}

/// One (user, SKU, source) record: one `licenseAssignmentStates` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    pub sku: SkuId,
    pub source: Source,
    pub disabled_plans: Vec<ServicePlanId>,
    pub state: AssignmentState,
    pub error: AssignmentErrorCode,
    pub assigned_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One entry of `assignedLicenses`: a SKU the user holds, with the plans every source disables.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EffectiveLicense {
    pub sku: SkuId,
    pub disabled_plans: Vec<ServicePlanId>,
    pub assigned_at: DateTime<Utc>,
}

/// The user's effective licenses, in the order they were first assigned.
#[must_use]
pub fn effective_licenses(assignments: &[Assignment]) -> Vec<EffectiveLicense> {
    let mut by_sku: BTreeMap<SkuId, (BTreeSet<ServicePlanId>, DateTime<Utc>)> = BTreeMap::new();
    for a in assignments.iter().filter(|a| a.state.holds_license()) {
        let disabled: BTreeSet<_> = a.disabled_plans.iter().copied().collect();
        by_sku
            .entry(a.sku)
            .and_modify(|(d, at)| {
                *d = d.intersection(&disabled).copied().collect();
                *at = (*at).min(a.assigned_at);
            })
            .or_insert((disabled, a.assigned_at));
    }
    let mut out: Vec<_> = by_sku
        .into_iter()
        .map(|(sku, (d, at))| EffectiveLicense {
            sku,
            disabled_plans: d.into_iter().collect(),
            assigned_at: at,
        })
        .collect();
    out.sort_by(|a, b| a.assigned_at.cmp(&b.assigned_at).then(a.sku.cmp(&b.sku)));
    out
}

/// The SKUs the user holds (each consumes exactly one unit).
#[must_use]
pub fn held_skus(assignments: &[Assignment]) -> BTreeSet<SkuId> {
    assignments
        .iter()
        .filter(|a| a.state.holds_license())
        .map(|a| a.sku)
        .collect()
}

/// The plans switched on for the user: every plan of every held SKU but the effectively disabled ones.
#[must_use]
pub fn enabled_plans(catalog: &TenantCatalog, assignments: &[Assignment]) -> BTreeSet<ServicePlanId> {
    let mut out = BTreeSet::new();
    for lic in effective_licenses(assignments) {
        if let Some(sku) = catalog.sku(lic.sku) {
            out.extend(
                sku.plans
                    .iter()
                    .map(|p| p.id)
                    .filter(|p| !lic.disabled_plans.contains(p)),
            );
        }
    }
    out
}

/// A broken rule between the plans a user has enabled.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Violation {
    /// Two different plans of one conflict set (lower id first).
    MutuallyExclusive(ServicePlanId, ServicePlanId),
    /// `plan` is enabled but none of `requires_any_of` is.
    Dependency {
        plan: ServicePlanId,
        requires_any_of: Vec<ServicePlanId>,
    },
}

/// Every rule the enabled plan set breaks.
#[must_use]
pub fn violations(catalog: &TenantCatalog, enabled: &BTreeSet<ServicePlanId>) -> BTreeSet<Violation> {
    let mut out = BTreeSet::new();
    let mut by_set: BTreeMap<&str, Vec<ServicePlanId>> = BTreeMap::new();
    for &p in enabled {
        for set in catalog.conflict_sets(p) {
            by_set.entry(set).or_default().push(p);
        }
        for rule in catalog.prerequisites(p) {
            if !rule.iter().any(|r| enabled.contains(r)) {
                out.insert(Violation::Dependency {
                    plan: p,
                    requires_any_of: rule.to_vec(),
                });
            }
        }
    }
    for plans in by_set.values() {
        for (i, a) in plans.iter().enumerate() {
            for b in &plans[i + 1..] {
                out.insert(Violation::MutuallyExclusive((*a).min(*b), (*a).max(*b)));
            }
        }
    }
    out
}

/// One `addLicenses` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddLicense {
    pub sku: SkuId,
    pub disabled_plans: Vec<ServicePlanId>,
}

/// A direct `assignLicense` request, already parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LicenseChange {
    pub add: Vec<AddLicense>,
    pub remove: Vec<SkuId>,
}

/// What a direct change does once validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectPlan {
    /// Direct assignments to create or replace.
    pub upserts: Vec<AddLicense>,
    /// Direct assignments to delete.
    pub deletes: Vec<SkuId>,
    /// SKUs the user starts holding: each needs a free unit.
    pub gained: Vec<SkuId>,
    /// SKUs the user stops holding: each frees a unit.
    pub lost: Vec<SkuId>,
}

/// Why a license change is refused. The messages are Graph's where Graph's are known (spec §3.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LicenseError {
    #[error("License {0} does not correspond to a valid company License.")]
    UnknownSku(SkuId),
    #[error("License {0} applies to the company and cannot be assigned to a user.")]
    NotAssignableToUsers(SkuId),
    #[error("Service plan {plan} in disabledPlans is not part of license {sku}.")]
    UnknownDisabledPlan { sku: SkuId, plan: ServicePlanId },
    #[error("License {0} appears more than once in the request.")]
    DuplicateSku(SkuId),
    #[error("License {0} cannot be added and removed in the same request.")]
    AddAndRemove(SkuId),
    #[error("License assignment cannot be done for user with invalid usage location.")]
    NoUsageLocation,
    #[error("License {sku} cannot be used in usage location {location}.")]
    ProhibitedInUsageLocation { sku: SkuId, location: String },
    #[error(
        "User license is inherited from a group membership and it cannot be removed directly from the user."
    )]
    InheritedRemoval(SkuId),
    #[error("User does not have a corresponding license {0} to remove.")]
    NotAssigned(SkuId),
    #[error("License assignment failed because service plans {0}, {1} are mutually exclusive.")]
    MutuallyExclusive(ServicePlanId, ServicePlanId),
    #[error("License assignment failed because service plan {plan} depends on the service plan(s) {}.", join(.requires_any_of))]
    Dependency {
        plan: ServicePlanId,
        requires_any_of: Vec<ServicePlanId>,
    },
    #[error("Subscription with SKU {0} does not have any available licenses.")]
    NoFreeUnits(SkuId),
}

impl LicenseError {
    /// The `licenseAssignmentStates[].error` code a group-based assignment records for this failure.
    #[must_use]
    pub const fn assignment_error(&self) -> AssignmentErrorCode {
        match self {
            Self::NoFreeUnits(_) => AssignmentErrorCode::CountViolation,
            Self::MutuallyExclusive(..) => AssignmentErrorCode::MutuallyExclusiveViolation,
            Self::Dependency { .. } => AssignmentErrorCode::DependencyViolation,
            Self::ProhibitedInUsageLocation { .. } => AssignmentErrorCode::ProhibitedInUsageLocationViolation,
            _ => AssignmentErrorCode::Other,
        }
    }
}

fn join(ids: &[ServicePlanId]) -> String {
    ids.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
}

/// What the rules need to know about the tenant and the user besides the assignments.
#[derive(Debug, Clone, Copy)]
pub struct UserContext<'a> {
    pub catalog: &'a TenantCatalog,
    /// The SKUs the tenant has a subscription for.
    pub subscribed: &'a BTreeSet<SkuId>,
    pub usage_location: Option<&'a str>,
}

/// Validates a direct `assignLicense` and works out what it changes. All-or-nothing: any failure
/// refuses the whole request. Additions and removals apply together, so swapping a SKU for a
/// conflicting one succeeds in one call.
pub fn plan_direct_change(
    ctx: UserContext<'_>,
    current: &[Assignment],
    change: &LicenseChange,
) -> Result<DirectPlan, LicenseError> {
    let mut seen = BTreeSet::new();
    for a in &change.add {
        if !seen.insert(a.sku) {
            return Err(LicenseError::DuplicateSku(a.sku));
        }
    }
    let mut removed = BTreeSet::new();
    for r in &change.remove {
        if seen.contains(r) {
            return Err(LicenseError::AddAndRemove(*r));
        }
        if !removed.insert(*r) {
            return Err(LicenseError::DuplicateSku(*r));
        }
    }
    for sku in change
        .add
        .iter()
        .map(|a| a.sku)
        .chain(change.remove.iter().copied())
    {
        if !ctx.subscribed.contains(&sku) || ctx.catalog.sku(sku).is_none() {
            return Err(LicenseError::UnknownSku(sku));
        }
    }
    for a in &change.add {
        let Some(sku) = ctx.catalog.sku(a.sku) else {
            return Err(LicenseError::UnknownSku(a.sku));
        };
        if sku.applies_to == AppliesTo::Company {
            return Err(LicenseError::NotAssignableToUsers(a.sku));
        }
        if let Some(plan) = a.disabled_plans.iter().find(|p| !sku.has_plan(**p)) {
            return Err(LicenseError::UnknownDisabledPlan {
                sku: a.sku,
                plan: *plan,
            });
        }
    }
    for r in &change.remove {
        let direct = current.iter().any(|a| a.sku == *r && a.source == Source::Direct);
        if !direct {
            let inherited = current.iter().any(|a| a.sku == *r && a.source != Source::Direct);
            return Err(if inherited {
                LicenseError::InheritedRemoval(*r)
            } else {
                LicenseError::NotAssigned(*r)
            });
        }
    }
    if !change.add.is_empty() {
        let Some(location) = ctx.usage_location.filter(|l| !l.is_empty()) else {
            return Err(LicenseError::NoUsageLocation);
        };
        for a in &change.add {
            if let Some(sku) = ctx.catalog.sku(a.sku)
                && sku
                    .prohibited_usage_locations
                    .iter()
                    .any(|l| l.eq_ignore_ascii_case(location))
            {
                return Err(LicenseError::ProhibitedInUsageLocation {
                    sku: a.sku,
                    location: location.to_owned(),
                });
            }
        }
    }

    let now = Utc::now();
    let mut after: Vec<Assignment> = current
        .iter()
        .filter(|a| {
            a.source != Source::Direct
                || !(removed.contains(&a.sku) || change.add.iter().any(|x| x.sku == a.sku))
        })
        .cloned()
        .collect();
    for add in &change.add {
        let mut disabled = add.disabled_plans.clone();
        disabled.sort();
        disabled.dedup();
        let assigned_at = current
            .iter()
            .find(|a| a.sku == add.sku && a.source == Source::Direct)
            .map_or(now, |a| a.assigned_at);
        after.push(Assignment {
            sku: add.sku,
            source: Source::Direct,
            disabled_plans: disabled,
            state: AssignmentState::Active,
            error: AssignmentErrorCode::None,
            assigned_at,
            updated_at: now,
        });
    }

    let before_violations = violations(ctx.catalog, &enabled_plans(ctx.catalog, current));
    let after_violations = violations(ctx.catalog, &enabled_plans(ctx.catalog, &after));
    if let Some(v) = after_violations.difference(&before_violations).next() {
        return Err(match v.clone() {
            Violation::MutuallyExclusive(a, b) => LicenseError::MutuallyExclusive(a, b),
            Violation::Dependency {
                plan,
                requires_any_of,
            } => LicenseError::Dependency {
                plan,
                requires_any_of,
            },
        });
    }

    let held_before = held_skus(current);
    let held_after = held_skus(&after);
    Ok(DirectPlan {
        upserts: change
            .add
            .iter()
            .map(|a| {
                let mut d = a.disabled_plans.clone();
                d.sort();
                d.dedup();
                AddLicense {
                    sku: a.sku,
                    disabled_plans: d,
                }
            })
            .collect(),
        deletes: change.remove.clone(),
        gained: held_after.difference(&held_before).copied().collect(),
        lost: held_before.difference(&held_after).copied().collect(),
    })
}

#[cfg(test)]
mod tests;
