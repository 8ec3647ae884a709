//! The licensing rules (spec §3.1–3.3), as pure functions over a user's assignments.
//!
//! A user holds a SKU from one or more sources (direct, and each licensed group it is a direct
//! member of); it consumes one unit per SKU however many sources it has, and its effective disabled
//! plans for a SKU are the intersection of its sources' lists. The store applies what these
//! functions decide, under its locks, and does the unit accounting they report.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use crate::catalog::{AppliesTo, TenantCatalog};
use crate::ids::{GroupId, ServicePlanId, SkuId, Source};

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
        matches!(self, Self::Active | Self::ActiveWithError)
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
mod tests {
    use super::*;

    fn sku(part: &str) -> SkuId {
        TenantCatalog::builtin().resolve_sku(part).unwrap().id
    }

    fn plan(name: &str) -> ServicePlanId {
        TenantCatalog::builtin().resolve_plan(name).unwrap()
    }

    fn assignment(sku: SkuId, source: Source, disabled: &[ServicePlanId]) -> Assignment {
        Assignment {
            sku,
            source,
            disabled_plans: disabled.to_vec(),
            state: AssignmentState::Active,
            error: AssignmentErrorCode::None,
            assigned_at: Utc::now(),
            updated_at: Utc::now(),
        }
    }

    struct World {
        catalog: TenantCatalog,
        subscribed: BTreeSet<SkuId>,
    }

    impl World {
        fn new() -> Self {
            let subscribed = [
                "STANDARDPACK",
                "ENTERPRISEPACK",
                "EMS",
                "EXCHANGEARCHIVE_ADDON",
                "POWER_BI_PRO",
            ]
            .iter()
            .map(|p| sku(p))
            .collect();
            Self {
                catalog: TenantCatalog::builtin(),
                subscribed,
            }
        }

        fn ctx(&self) -> UserContext<'_> {
            UserContext {
                catalog: &self.catalog,
                subscribed: &self.subscribed,
                usage_location: Some("US"),
            }
        }
    }

    fn add(part: &str) -> AddLicense {
        AddLicense {
            sku: sku(part),
            disabled_plans: vec![],
        }
    }

    #[test]
    fn adding_a_new_sku_gains_one_unit() {
        let w = World::new();
        let change = LicenseChange {
            add: vec![add("ENTERPRISEPACK")],
            remove: vec![],
        };
        let plan = plan_direct_change(w.ctx(), &[], &change).unwrap();
        assert_eq!(plan.gained, vec![sku("ENTERPRISEPACK")]);
        assert!(plan.lost.is_empty());
    }

    #[test]
    fn a_sku_already_inherited_costs_no_new_unit() {
        let w = World::new();
        let current = [assignment(sku("EMS"), Source::Group(GroupId::new()), &[])];
        let change = LicenseChange {
            add: vec![add("EMS")],
            remove: vec![],
        };
        let plan = plan_direct_change(w.ctx(), &current, &change).unwrap();
        assert!(plan.gained.is_empty());
    }

    #[test]
    fn e1_plus_e3_is_mutually_exclusive_but_swapping_in_one_call_works() {
        let w = World::new();
        let current = [assignment(sku("STANDARDPACK"), Source::Direct, &[])];
        let change = LicenseChange {
            add: vec![add("ENTERPRISEPACK")],
            remove: vec![],
        };
        let err = plan_direct_change(w.ctx(), &current, &change).unwrap_err();
        assert!(matches!(err, LicenseError::MutuallyExclusive(..)), "{err}");
        assert!(
            err.to_string()
                .starts_with("License assignment failed because service plans ")
        );
        let swap = LicenseChange {
            add: vec![add("ENTERPRISEPACK")],
            remove: vec![sku("STANDARDPACK")],
        };
        let plan = plan_direct_change(w.ctx(), &current, &swap).unwrap();
        assert_eq!(plan.gained, vec![sku("ENTERPRISEPACK")]);
        assert_eq!(plan.lost, vec![sku("STANDARDPACK")]);
    }

    #[test]
    fn disabling_the_conflicting_plans_resolves_the_conflict() {
        let w = World::new();
        let e1 = w.catalog.resolve_sku("STANDARDPACK").unwrap();
        let e3 = w.catalog.resolve_sku("ENTERPRISEPACK").unwrap();
        let conflicting: Vec<_> = e1
            .plans
            .iter()
            .filter(|p| w.catalog.conflict_sets(p.id).count() > 0 && !e3.has_plan(p.id))
            .map(|p| p.id)
            .collect();
        let current = [assignment(e1.id, Source::Direct, &conflicting)];
        let change = LicenseChange {
            add: vec![add("ENTERPRISEPACK")],
            remove: vec![],
        };
        assert!(plan_direct_change(w.ctx(), &current, &change).is_ok());
    }

    #[test]
    fn an_add_on_without_its_prerequisite_is_a_dependency_violation() {
        let w = World::new();
        let change = LicenseChange {
            add: vec![add("EXCHANGEARCHIVE_ADDON")],
            remove: vec![],
        };
        let err = plan_direct_change(w.ctx(), &[], &change).unwrap_err();
        assert!(
            matches!(err, LicenseError::Dependency { plan: p, .. } if p == plan("EXCHANGE_S_ARCHIVE_ADDON"))
        );
        let with_base = LicenseChange {
            add: vec![add("EXCHANGEARCHIVE_ADDON"), add("ENTERPRISEPACK")],
            remove: vec![],
        };
        assert!(plan_direct_change(w.ctx(), &[], &with_base).is_ok());
        // Removing the base later would orphan the add-on.
        let current = [
            assignment(sku("ENTERPRISEPACK"), Source::Direct, &[]),
            assignment(sku("EXCHANGEARCHIVE_ADDON"), Source::Direct, &[]),
        ];
        let remove = LicenseChange {
            add: vec![],
            remove: vec![sku("ENTERPRISEPACK")],
        };
        assert!(matches!(
            plan_direct_change(w.ctx(), &current, &remove),
            Err(LicenseError::Dependency { .. })
        ));
    }

    #[test]
    fn refusals_follow_graph_rules() {
        let w = World::new();
        let unknown = SkuId::new();
        let cases: Vec<(LicenseChange, LicenseError)> = vec![
            (
                LicenseChange {
                    add: vec![AddLicense {
                        sku: unknown,
                        disabled_plans: vec![],
                    }],
                    remove: vec![],
                },
                LicenseError::UnknownSku(unknown),
            ),
            (
                LicenseChange {
                    add: vec![add("SPE_E5")],
                    remove: vec![],
                },
                LicenseError::UnknownSku(sku("SPE_E5")),
            ),
            (
                LicenseChange {
                    add: vec![AddLicense {
                        sku: sku("EMS"),
                        disabled_plans: vec![plan("TEAMS1")],
                    }],
                    remove: vec![],
                },
                LicenseError::UnknownDisabledPlan {
                    sku: sku("EMS"),
                    plan: plan("TEAMS1"),
                },
            ),
            (
                LicenseChange {
                    add: vec![add("EMS"), add("EMS")],
                    remove: vec![],
                },
                LicenseError::DuplicateSku(sku("EMS")),
            ),
            (
                LicenseChange {
                    add: vec![add("EMS")],
                    remove: vec![sku("EMS")],
                },
                LicenseError::AddAndRemove(sku("EMS")),
            ),
            (
                LicenseChange {
                    add: vec![],
                    remove: vec![sku("EMS")],
                },
                LicenseError::NotAssigned(sku("EMS")),
            ),
        ];
        for (change, want) in cases {
            assert_eq!(plan_direct_change(w.ctx(), &[], &change).unwrap_err(), want);
        }
        let no_location = UserContext {
            usage_location: None,
            ..w.ctx()
        };
        let change = LicenseChange {
            add: vec![add("EMS")],
            remove: vec![],
        };
        assert_eq!(
            plan_direct_change(no_location, &[], &change).unwrap_err(),
            LicenseError::NoUsageLocation
        );
        let inherited = [assignment(sku("EMS"), Source::Group(GroupId::new()), &[])];
        let change = LicenseChange {
            add: vec![],
            remove: vec![sku("EMS")],
        };
        assert_eq!(
            plan_direct_change(w.ctx(), &inherited, &change).unwrap_err(),
            LicenseError::InheritedRemoval(sku("EMS"))
        );
    }

    #[test]
    fn disabled_plans_intersect_across_sources() {
        let (a, b, c) = (plan("INTUNE_A"), plan("AAD_PREMIUM"), plan("MFA_PREMIUM"));
        let ems = sku("EMS");
        let rows = [
            assignment(ems, Source::Direct, &[a, b]),
            assignment(ems, Source::Group(GroupId::new()), &[b, c]),
        ];
        let eff = effective_licenses(&rows);
        assert_eq!(eff.len(), 1);
        assert_eq!(eff[0].disabled_plans, vec![b]);
        assert_eq!(held_skus(&rows).len(), 1);
    }

    #[test]
    fn failed_assignments_hold_nothing() {
        let mut row = assignment(sku("EMS"), Source::Group(GroupId::new()), &[]);
        row.state = AssignmentState::Error;
        row.error = AssignmentErrorCode::CountViolation;
        assert!(effective_licenses(&[row.clone()]).is_empty());
        assert!(held_skus(&[row]).is_empty());
    }
}

/// What evaluating one group for one user decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupOutcome {
    /// The user's rows for this group's source, replacing the old ones.
    pub rows: Vec<Assignment>,
    /// SKUs the user starts holding (a unit each was taken from `free`).
    pub gained: Vec<SkuId>,
    /// SKUs the user stops holding (a unit each goes back).
    pub lost: Vec<SkuId>,
    /// The failure, if the group's licenses could not all be applied.
    pub error: Option<(SkuId, AssignmentErrorCode)>,
}

/// Evaluates group `group`'s licenses (`desired`; empty when the user is not a member or the
/// group assigns nothing) for one user, all or nothing (spec §3.4): either every SKU of the
/// group becomes `Active`, or none is newly applied and each gets an error state (the failing
/// SKU its specific code, the others `Other`). SKUs the user already held from this group stay
/// held, as `ActiveWithError`, so a failed change never takes service away. (inferred)
///
/// `free` holds the free units of each SKU and is decremented for every unit taken, so members
/// evaluated in membership order take units first come, first served.
pub fn evaluate_group(
    ctx: UserContext<'_>,
    current: &[Assignment],
    group: GroupId,
    desired: &[AddLicense],
    free: &mut BTreeMap<SkuId, i64>,
    now: DateTime<Utc>,
) -> GroupOutcome {
    let source = Source::Group(group);
    let others: Vec<Assignment> = current.iter().filter(|a| a.source != source).cloned().collect();
    let old: Vec<&Assignment> = current.iter().filter(|a| a.source == source).collect();
    let held_before = held_skus(current);
    let finish = |rows: Vec<Assignment>, error, free: &mut BTreeMap<SkuId, i64>| {
        let mut after = others.clone();
        after.extend(rows.iter().cloned());
        let held_after = held_skus(&after);
        let gained: Vec<SkuId> = held_after.difference(&held_before).copied().collect();
        for s in &gained {
            *free.entry(*s).or_insert(0) -= 1;
        }
        let lost: Vec<SkuId> = held_before.difference(&held_after).copied().collect();
        for s in &lost {
            *free.entry(*s).or_insert(0) += 1;
        }
        GroupOutcome {
            rows,
            gained,
            lost,
            error,
        }
    };
    let assigned_at = |sku: SkuId| old.iter().find(|a| a.sku == sku).map_or(now, |a| a.assigned_at);
    let active: Vec<Assignment> = desired
        .iter()
        .map(|d| {
            let mut disabled = d.disabled_plans.clone();
            disabled.sort();
            disabled.dedup();
            let unchanged = old.iter().any(|a| {
                a.sku == d.sku && a.disabled_plans == disabled && a.state == AssignmentState::Active
            });
            Assignment {
                sku: d.sku,
                source,
                disabled_plans: disabled,
                state: AssignmentState::Active,
                error: AssignmentErrorCode::None,
                assigned_at: assigned_at(d.sku),
                updated_at: if unchanged {
                    old.iter().find(|a| a.sku == d.sku).map_or(now, |a| a.updated_at)
                } else {
                    now
                },
            }
        })
        .collect();

    let failure = find_group_failure(ctx, &others, &active, &held_before, free);
    let Some((failing, code)) = failure else {
        return finish(active, None, free);
    };
    let rows = desired
        .iter()
        .map(|d| {
            let kept = old.iter().find(|a| a.sku == d.sku && a.state.holds_license());
            let error = if d.sku == failing {
                code
            } else {
                AssignmentErrorCode::Other
            };
            let same = old
                .iter()
                .any(|a| a.sku == d.sku && a.error == error && !a.state.holds_license());
            Assignment {
                sku: d.sku,
                source,
                disabled_plans: kept.map_or_else(|| d.disabled_plans.clone(), |k| k.disabled_plans.clone()),
                state: if kept.is_some() {
                    AssignmentState::ActiveWithError
                } else {
                    AssignmentState::Error
                },
                error,
                assigned_at: assigned_at(d.sku),
                updated_at: if same {
                    old.iter().find(|a| a.sku == d.sku).map_or(now, |a| a.updated_at)
                } else {
                    now
                },
            }
        })
        .collect();
    finish(rows, Some((failing, code)), free)
}

/// The first reason the group's SKUs cannot all be applied: unknown or unsubscribed SKU, usage
/// location, a rule the group's plans break against the user's other licenses, then units.
fn find_group_failure(
    ctx: UserContext<'_>,
    others: &[Assignment],
    active: &[Assignment],
    held_before: &BTreeSet<SkuId>,
    free: &BTreeMap<SkuId, i64>,
) -> Option<(SkuId, AssignmentErrorCode)> {
    for a in active {
        let Some(sku) = ctx.catalog.sku(a.sku).filter(|_| ctx.subscribed.contains(&a.sku)) else {
            return Some((a.sku, AssignmentErrorCode::CountViolation));
        };
        if let Some(loc) = ctx.usage_location
            && sku
                .prohibited_usage_locations
                .iter()
                .any(|l| l.eq_ignore_ascii_case(loc))
        {
            return Some((a.sku, AssignmentErrorCode::ProhibitedInUsageLocationViolation));
        }
    }
    let mut candidate = others.to_vec();
    candidate.extend(active.iter().cloned());
    let before = violations(ctx.catalog, &enabled_plans(ctx.catalog, others));
    let after = violations(ctx.catalog, &enabled_plans(ctx.catalog, &candidate));
    if let Some(v) = after.difference(&before).next() {
        let (plan, code) = match v {
            Violation::MutuallyExclusive(a, b) => {
                let ours = active
                    .iter()
                    .any(|x| ctx.catalog.sku(x.sku).is_some_and(|s| s.has_plan(*a)));
                (
                    if ours { *a } else { *b },
                    AssignmentErrorCode::MutuallyExclusiveViolation,
                )
            }
            Violation::Dependency { plan, .. } => (*plan, AssignmentErrorCode::DependencyViolation),
        };
        let sku = active
            .iter()
            .find(|x| ctx.catalog.sku(x.sku).is_some_and(|s| s.has_plan(plan)))
            .or_else(|| active.first())
            .map(|x| x.sku)?;
        return Some((sku, code));
    }
    let held_after = held_skus(&candidate);
    for sku in held_after.difference(held_before) {
        if free.get(sku).copied().unwrap_or(0) <= 0 {
            return Some((*sku, AssignmentErrorCode::CountViolation));
        }
    }
    None
}

#[cfg(test)]
mod group_tests {
    use super::*;
    use crate::ids::GroupId;

    fn sku(part: &str) -> SkuId {
        TenantCatalog::builtin().resolve_sku(part).unwrap().id
    }

    fn add(part: &str) -> AddLicense {
        AddLicense {
            sku: sku(part),
            disabled_plans: vec![],
        }
    }

    fn run(
        current: &[Assignment],
        group: GroupId,
        desired: &[AddLicense],
        free: &mut BTreeMap<SkuId, i64>,
    ) -> GroupOutcome {
        let catalog = TenantCatalog::builtin();
        let subscribed: BTreeSet<SkuId> = ["STANDARDPACK", "ENTERPRISEPACK", "EMS", "EXCHANGEARCHIVE_ADDON"]
            .iter()
            .map(|p| sku(p))
            .collect();
        let ctx = UserContext {
            catalog: &catalog,
            subscribed: &subscribed,
            usage_location: Some("US"),
        };
        evaluate_group(ctx, current, group, desired, free, Utc::now())
    }

    #[test]
    fn a_member_gets_every_sku_of_the_group_and_takes_units() {
        let g = GroupId::new();
        let mut free = BTreeMap::from([(sku("EMS"), 1), (sku("ENTERPRISEPACK"), 1)]);
        let out = run(&[], g, &[add("EMS"), add("ENTERPRISEPACK")], &mut free);
        assert_eq!(out.error, None);
        assert_eq!(out.rows.len(), 2);
        assert!(
            out.rows
                .iter()
                .all(|r| r.state == AssignmentState::Active && r.source == Source::Group(g))
        );
        assert_eq!(free[&sku("EMS")], 0);
    }

    #[test]
    fn one_sku_without_units_fails_the_whole_group_for_that_member() {
        let g = GroupId::new();
        let mut free = BTreeMap::from([(sku("EMS"), 5), (sku("ENTERPRISEPACK"), 0)]);
        let out = run(&[], g, &[add("EMS"), add("ENTERPRISEPACK")], &mut free);
        assert_eq!(
            out.error,
            Some((sku("ENTERPRISEPACK"), AssignmentErrorCode::CountViolation))
        );
        assert!(out.gained.is_empty());
        assert_eq!(free[&sku("EMS")], 5, "no unit taken");
        let by_sku: BTreeMap<_, _> = out.rows.iter().map(|r| (r.sku, (r.state, r.error))).collect();
        assert_eq!(
            by_sku[&sku("ENTERPRISEPACK")],
            (AssignmentState::Error, AssignmentErrorCode::CountViolation)
        );
        assert_eq!(
            by_sku[&sku("EMS")],
            (AssignmentState::Error, AssignmentErrorCode::Other)
        );
    }

    #[test]
    fn conflicts_and_missing_prerequisites_become_error_states() {
        let g = GroupId::new();
        let direct_e1 = Assignment {
            sku: sku("STANDARDPACK"),
            source: Source::Direct,
            disabled_plans: vec![],
            state: AssignmentState::Active,
            error: AssignmentErrorCode::None,
            assigned_at: Utc::now(),
            updated_at: Utc::now(),
        };
        let mut free = BTreeMap::from([(sku("ENTERPRISEPACK"), 5), (sku("EXCHANGEARCHIVE_ADDON"), 5)]);
        let out = run(&[direct_e1], g, &[add("ENTERPRISEPACK")], &mut free);
        assert_eq!(
            out.error,
            Some((
                sku("ENTERPRISEPACK"),
                AssignmentErrorCode::MutuallyExclusiveViolation
            ))
        );
        let out = run(&[], g, &[add("EXCHANGEARCHIVE_ADDON")], &mut free);
        assert_eq!(
            out.error,
            Some((
                sku("EXCHANGEARCHIVE_ADDON"),
                AssignmentErrorCode::DependencyViolation
            ))
        );
        let out = run(
            &[],
            g,
            &[add("EXCHANGEARCHIVE_ADDON"), add("ENTERPRISEPACK")],
            &mut free,
        );
        assert_eq!(out.error, None);
    }

    #[test]
    fn a_second_source_costs_no_unit_and_leaving_frees_only_the_last_one() {
        let (g1, g2) = (GroupId::new(), GroupId::new());
        let mut free = BTreeMap::from([(sku("EMS"), 1)]);
        let first = run(&[], g1, &[add("EMS")], &mut free);
        assert_eq!(first.gained, vec![sku("EMS")]);
        let second = run(&first.rows, g2, &[add("EMS")], &mut free);
        assert!(second.gained.is_empty(), "already held");
        assert_eq!(free[&sku("EMS")], 0);
        let mut both = first.rows.clone();
        both.extend(second.rows.clone());
        let leave_one = run(&both, g1, &[], &mut free);
        assert!(leave_one.lost.is_empty());
        let leave_both = run(&second.rows, g2, &[], &mut free);
        assert_eq!(leave_both.lost, vec![sku("EMS")]);
        assert_eq!(free[&sku("EMS")], 1);
    }

    #[test]
    fn a_failed_change_keeps_what_the_group_already_gave() {
        let g = GroupId::new();
        let mut free = BTreeMap::from([(sku("EMS"), 1), (sku("ENTERPRISEPACK"), 0)]);
        let first = run(&[], g, &[add("EMS")], &mut free);
        let out = run(&first.rows, g, &[add("EMS"), add("ENTERPRISEPACK")], &mut free);
        let ems = out.rows.iter().find(|r| r.sku == sku("EMS")).unwrap();
        assert_eq!(ems.state, AssignmentState::ActiveWithError);
        assert!(out.lost.is_empty() && out.gained.is_empty());
    }
}

/// Why a group `assignLicense` is refused up front (spec §3.10 and the checks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GroupLicenseError {
    #[error(transparent)]
    License(#[from] LicenseError),
    #[error("License operations are only supported on security-enabled groups.")]
    NotSecurityEnabled,
    #[error("License {0} is not assigned to the group.")]
    NotOnGroup(SkuId),
    #[error(
        "License operation failed. Make sure that the group has necessary services before adding or removing a dependent service. Service plan {plan} depends on the service plan(s) {}.",
        join(.requires_any_of)
    )]
    MissingPrerequisite {
        plan: ServicePlanId,
        requires_any_of: Vec<ServicePlanId>,
    },
}

/// Validates a group `assignLicense` against the group's current licenses and returns the
/// group's new license set. Checked here, before anything changes: every SKU is the tenant's
/// and assignable to users, disabled plans belong to their SKU, removed SKUs are on the group,
/// and every add-on's prerequisite plan is enabled by the group itself.
pub fn plan_group_change(
    catalog: &TenantCatalog,
    subscribed: &BTreeSet<SkuId>,
    current: &[AddLicense],
    change: &LicenseChange,
) -> Result<Vec<AddLicense>, GroupLicenseError> {
    let mut seen = BTreeSet::new();
    for a in &change.add {
        if !seen.insert(a.sku) {
            return Err(LicenseError::DuplicateSku(a.sku).into());
        }
    }
    for r in &change.remove {
        if seen.contains(r) {
            return Err(LicenseError::AddAndRemove(*r).into());
        }
    }
    for sku in change
        .add
        .iter()
        .map(|a| a.sku)
        .chain(change.remove.iter().copied())
    {
        if !subscribed.contains(&sku) || catalog.sku(sku).is_none() {
            return Err(LicenseError::UnknownSku(sku).into());
        }
    }
    for a in &change.add {
        let Some(sku) = catalog.sku(a.sku) else {
            return Err(LicenseError::UnknownSku(a.sku).into());
        };
        if sku.applies_to == AppliesTo::Company {
            return Err(LicenseError::NotAssignableToUsers(a.sku).into());
        }
        if let Some(plan) = a.disabled_plans.iter().find(|p| !sku.has_plan(**p)) {
            return Err(LicenseError::UnknownDisabledPlan {
                sku: a.sku,
                plan: *plan,
            }
            .into());
        }
    }
    for r in &change.remove {
        if !current.iter().any(|c| c.sku == *r) {
            return Err(GroupLicenseError::NotOnGroup(*r));
        }
    }
    let mut next: Vec<AddLicense> = current
        .iter()
        .filter(|c| !change.remove.contains(&c.sku) && !change.add.iter().any(|a| a.sku == c.sku))
        .cloned()
        .collect();
    for a in &change.add {
        let mut d = a.disabled_plans.clone();
        d.sort();
        d.dedup();
        next.push(AddLicense {
            sku: a.sku,
            disabled_plans: d,
        });
    }
    let mut enabled = BTreeSet::new();
    for l in &next {
        if let Some(sku) = catalog.sku(l.sku) {
            enabled.extend(
                sku.plans
                    .iter()
                    .map(|p| p.id)
                    .filter(|p| !l.disabled_plans.contains(p)),
            );
        }
    }
    if let Some(Violation::Dependency {
        plan,
        requires_any_of,
    }) = violations(catalog, &enabled)
        .into_iter()
        .find(|v| matches!(v, Violation::Dependency { .. }))
    {
        return Err(GroupLicenseError::MissingPrerequisite {
            plan,
            requires_any_of,
        });
    }
    Ok(next)
}

#[cfg(test)]
mod group_change_tests {
    use super::*;

    fn sku(part: &str) -> SkuId {
        TenantCatalog::builtin().resolve_sku(part).unwrap().id
    }

    #[test]
    fn group_changes_are_checked_up_front() {
        let catalog = TenantCatalog::builtin();
        let subscribed: BTreeSet<SkuId> = ["ENTERPRISEPACK", "EXCHANGEARCHIVE_ADDON"]
            .iter()
            .map(|p| sku(p))
            .collect();
        let add = |p: &str| AddLicense {
            sku: sku(p),
            disabled_plans: vec![],
        };
        let change = |a: Vec<AddLicense>, r: Vec<SkuId>| LicenseChange { add: a, remove: r };
        let addon_alone = plan_group_change(
            &catalog,
            &subscribed,
            &[],
            &change(vec![add("EXCHANGEARCHIVE_ADDON")], vec![]),
        );
        assert!(matches!(
            addon_alone,
            Err(GroupLicenseError::MissingPrerequisite { .. })
        ));
        let both = plan_group_change(
            &catalog,
            &subscribed,
            &[],
            &change(vec![add("EXCHANGEARCHIVE_ADDON"), add("ENTERPRISEPACK")], vec![]),
        )
        .unwrap();
        assert_eq!(both.len(), 2);
        // Removing the base while the add-on stays is refused too.
        let err = plan_group_change(
            &catalog,
            &subscribed,
            &both,
            &change(vec![], vec![sku("ENTERPRISEPACK")]),
        );
        assert!(matches!(err, Err(GroupLicenseError::MissingPrerequisite { .. })));
        let err = plan_group_change(
            &catalog,
            &subscribed,
            &[],
            &change(vec![], vec![sku("ENTERPRISEPACK")]),
        );
        assert_eq!(err, Err(GroupLicenseError::NotOnGroup(sku("ENTERPRISEPACK"))));
        let err = plan_group_change(&catalog, &subscribed, &[], &change(vec![add("EMS")], vec![]));
        assert_eq!(
            err,
            Err(GroupLicenseError::License(LicenseError::UnknownSku(sku("EMS"))))
        );
    }
}
