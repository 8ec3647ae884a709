//! Group-based licensing rules: evaluating a group's licenses for one member (all or nothing,
//! spec §3.4) and validating a group's `assignLicense` up front (spec §3.10).

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};

use super::{
    AddLicense, Assignment, AssignmentErrorCode, AssignmentState, LicenseChange, LicenseError, UserContext,
    Violation, enabled_plans, held_skus, join, violations,
};
use crate::catalog::{AppliesTo, TenantCatalog};
use crate::ids::{GroupId, ServicePlanId, SkuId, Source};

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
