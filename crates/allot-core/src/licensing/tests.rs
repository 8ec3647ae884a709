//! Direct-assignment rules.
use super::*;
use crate::ids::GroupId;

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
    assert!(matches!(err, LicenseError::Dependency { plan: p, .. } if p == plan("EXCHANGE_S_ARCHIVE_ADDON")));
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
