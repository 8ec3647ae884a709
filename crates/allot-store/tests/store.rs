//! Store tests: every public store function, on SQLite and on PostgreSQL.

use std::collections::BTreeSet;

use allot_core::catalog::Sku;
use allot_core::ids::{GroupId, SkuId, Source, SubscriptionId, TenantId, UserId};
use allot_core::licensing::{AddLicense, LicenseChange, LicenseError};
use allot_core::tenant_file::TenantFile;
use allot_store::cloud_views::{AssignmentView, ErrorView, View, ViewQuery, ViewScope, WaitingView};
use allot_store::records::{Group, MemberRef, Subscription, User};
use allot_store::{Backend, Db, Store, StoreError, dual_backend_test};

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
const E1: &str = "18181a46-0d4e-45cd-891e-60aabd171b4e";

fn sku(s: &str) -> SkuId {
    SkuId::parse(s).unwrap()
}

const SMALL: &str = r"
tenants:
  - displayName: Fabrikam
    defaultDomain: fabrikam.example
    subscriptions:
      - sku: ENTERPRISEPACK
        enabled: 2
      - sku: STANDARDPACK
        enabled: 5
    apps:
      - clientId: 11111111-1111-4111-8111-111111111111
        displayName: App
        clientSecret: s3cret
        applicationPermissions: [User.Read.All]
    users:
      - userPrincipalName: ann@fabrikam.example
        displayName: Ann
        usageLocation: us
        directoryRoles: [License Administrator]
        licenses: [{sku: ENTERPRISEPACK}]
      - userPrincipalName: bob@fabrikam.example
        displayName: Bob
      - userPrincipalName: cy@fabrikam.example
        displayName: Cy
        usageLocation: GB
    groups:
      - displayName: Team
        members: [ann@fabrikam.example, bob@fabrikam.example]
";

async fn seeded(store: &Store) -> (TenantId, UserId, UserId, UserId) {
    let file = TenantFile::parse(SMALL).unwrap();
    store.apply_tenant_file(&file).await.unwrap();
    let t = &file.tenants[0];
    let id = |upn: &str| t.user_id(t.users.iter().find(|u| u.user_principal_name == upn).unwrap());
    (
        t.tenant_id(),
        id("ann@fabrikam.example"),
        id("bob@fabrikam.example"),
        id("cy@fabrikam.example"),
    )
}

fn new_user(tenant: TenantId, upn: &str, location: Option<&str>) -> User {
    User::new(
        tenant,
        upn.to_owned(),
        upn.to_owned(),
        location.map(str::to_owned),
    )
}

async fn consumed(store: &Store, tenant: TenantId, s: &str) -> i64 {
    store
        .sku_units(tenant)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.sku_id == sku(s))
        .map_or(0, |u| u.consumed)
}

#[test]
fn both_backends_declare_the_same_migration_versions() {
    assert_eq!(
        Db::migration_versions(Backend::Sqlite),
        Db::migration_versions(Backend::Postgres)
    );
    assert!(!Db::migration_versions(Backend::Sqlite).is_empty());
}

#[tokio::test]
async fn unknown_url_schemes_are_refused() {
    let err = Store::connect("mysql://localhost/x").await.unwrap_err();
    assert!(matches!(err, StoreError::Config(_)), "{err}");
}

dual_backend_test!(seeding_creates_everything_and_twice_changes_nothing, |db| {
    let (tenant, ann, _, _) = seeded(&db.store).await;
    let again = db
        .store
        .apply_tenant_file(&TenantFile::parse(SMALL).unwrap())
        .await
        .unwrap();
    assert_eq!((again.created, again.updated), (0, 0), "{again:?}");
    let t = db.store.find_tenant("FABRIKAM.example").await.unwrap().unwrap();
    assert_eq!(t.id, tenant);
    assert_eq!(
        db.store
            .find_tenant(&tenant.to_string())
            .await
            .unwrap()
            .unwrap()
            .display_name,
        "Fabrikam"
    );
    let ann = db.store.user(tenant, ann).await.unwrap().unwrap();
    assert_eq!(ann.usage_location.as_deref(), Some("US"));
    assert_eq!(
        ann.directory_roles,
        vec!["4d6ac14f-3453-41d0-bef9-a3e0c569773a".to_owned()]
    );
    assert_eq!(consumed(&db.store, tenant, E3).await, 1);
    assert_eq!(db.store.apps(tenant).await.unwrap().len(), 1);
});

dual_backend_test!(settings_and_keys_round_trip, |db| {
    assert_eq!(db.store.setting("k").await.unwrap(), None);
    assert_eq!(db.store.setting_or_init("k", "first").await.unwrap(), "first");
    assert_eq!(db.store.setting_or_init("k", "second").await.unwrap(), "first");
    db.store.set_setting("k", "third").await.unwrap();
    assert_eq!(db.store.setting("k").await.unwrap().as_deref(), Some("third"));
    db.store.insert_signing_key("kid1", "AAAA").await.unwrap();
    db.store.insert_signing_key("kid1", "BBBB").await.unwrap();
    assert_eq!(
        db.store.signing_keys().await.unwrap(),
        vec![("kid1".to_owned(), "AAAA".to_owned())]
    );
});

dual_backend_test!(upn_is_unique_per_tenant_case_insensitively, |db| {
    let (tenant, _, _, _) = seeded(&db.store).await;
    let err = db
        .store
        .insert_user(&new_user(tenant, "ANN@fabrikam.example", None))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let found = db
        .store
        .user_by_upn(tenant, "Ann@Fabrikam.Example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(found.user_principal_name, "ann@fabrikam.example");
});

dual_backend_test!(users_page_in_id_order_without_gaps, |db| {
    let (tenant, _, _, _) = seeded(&db.store).await;
    for i in 0..7 {
        db.store
            .insert_user(&new_user(tenant, &format!("u{i}@fabrikam.example"), None))
            .await
            .unwrap();
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = db.store.page_where::<User>(tenant, None, after, 3).await.unwrap();
        if page.is_empty() {
            break;
        }
        after = page.last().map(|u| u.id.as_uuid());
        seen.extend(page.into_iter().map(|u| u.id));
    }
    assert_eq!(seen.len(), 10);
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(seen, sorted);
    let some = db
        .store
        .by_ids::<User>(tenant, seen[..4].iter().copied())
        .await
        .unwrap();
    assert_eq!(some.len(), 4);
    // Another tenant sees none of them.
    assert!(
        db.store
            .page_where::<User>(TenantId::new(), None, None, 100)
            .await
            .unwrap()
            .is_empty()
    );
});

dual_backend_test!(assign_direct_applies_and_counts_units, |db| {
    let (tenant, _, _, cy) = seeded(&db.store).await;
    let change = LicenseChange {
        add: vec![AddLicense {
            sku: sku(E3),
            disabled_plans: vec![],
        }],
        remove: vec![],
    };
    db.store.assign_direct(tenant, cy, &change).await.unwrap();
    assert_eq!(consumed(&db.store, tenant, E3).await, 2);
    let rows = db.store.assignments(tenant, cy).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].source, Source::Direct);
    // Re-sending with a disabled plan replaces the plans but takes no second unit.
    let plan = db
        .store
        .tenant_catalog(tenant)
        .await
        .unwrap()
        .sku(sku(E3))
        .unwrap()
        .plans[0]
        .id;
    let change = LicenseChange {
        add: vec![AddLicense {
            sku: sku(E3),
            disabled_plans: vec![plan],
        }],
        remove: vec![],
    };
    db.store.assign_direct(tenant, cy, &change).await.unwrap();
    assert_eq!(consumed(&db.store, tenant, E3).await, 2);
    assert_eq!(
        db.store.assignments(tenant, cy).await.unwrap()[0].disabled_plans,
        vec![plan]
    );
    // Removing frees the unit.
    db.store
        .assign_direct(
            tenant,
            cy,
            &LicenseChange {
                add: vec![],
                remove: vec![sku(E3)],
            },
        )
        .await
        .unwrap();
    assert_eq!(consumed(&db.store, tenant, E3).await, 1);
    assert!(db.store.assignments(tenant, cy).await.unwrap().is_empty());
});

dual_backend_test!(assign_direct_refuses_without_changing_anything, |db| {
    let (tenant, ann, bob, cy) = seeded(&db.store).await;
    // Bob has no usage location.
    let add_e3 = LicenseChange {
        add: vec![AddLicense {
            sku: sku(E3),
            disabled_plans: vec![],
        }],
        remove: vec![],
    };
    let err = db.store.assign_direct(tenant, bob, &add_e3).await.unwrap_err();
    assert!(
        matches!(err, StoreError::License(LicenseError::NoUsageLocation)),
        "{err}"
    );
    // Ann holds E3: E1 conflicts.
    let add_e1 = LicenseChange {
        add: vec![AddLicense {
            sku: sku(E1),
            disabled_plans: vec![],
        }],
        remove: vec![],
    };
    let err = db.store.assign_direct(tenant, ann, &add_e1).await.unwrap_err();
    assert!(
        matches!(err, StoreError::License(LicenseError::MutuallyExclusive(..))),
        "{err}"
    );
    // Cy takes the last E3 unit; then there is none left for a new user.
    db.store.assign_direct(tenant, cy, &add_e3).await.unwrap();
    let dan = new_user(tenant, "dan@fabrikam.example", Some("US"));
    db.store.insert_user(&dan).await.unwrap();
    let err = db.store.assign_direct(tenant, dan.id, &add_e3).await.unwrap_err();
    assert!(
        matches!(err, StoreError::License(LicenseError::NoFreeUnits(_))),
        "{err}"
    );
    // A refused change in one call with a valid part leaves the valid part undone too.
    let mixed = LicenseChange {
        add: vec![
            AddLicense {
                sku: sku(E1),
                disabled_plans: vec![],
            },
            AddLicense {
                sku: sku(E3),
                disabled_plans: vec![],
            },
        ],
        remove: vec![],
    };
    assert!(db.store.assign_direct(tenant, dan.id, &mixed).await.is_err());
    assert!(db.store.assignments(tenant, dan.id).await.unwrap().is_empty());
    assert_eq!(consumed(&db.store, tenant, E1).await, 0);
    assert_eq!(consumed(&db.store, tenant, E3).await, 2);
    // Unknown user.
    let err = db
        .store
        .assign_direct(tenant, UserId::new(), &add_e3)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound));
});

dual_backend_test!(swap_e1_for_e3_in_one_call, |db| {
    let (tenant, ann, _, _) = seeded(&db.store).await;
    let swap = LicenseChange {
        add: vec![AddLicense {
            sku: sku(E1),
            disabled_plans: vec![],
        }],
        remove: vec![sku(E3)],
    };
    db.store.assign_direct(tenant, ann, &swap).await.unwrap();
    let held: BTreeSet<_> = db
        .store
        .assignments(tenant, ann)
        .await
        .unwrap()
        .into_iter()
        .map(|a| a.sku)
        .collect();
    assert_eq!(held, BTreeSet::from([sku(E1)]));
    assert_eq!(
        (
            consumed(&db.store, tenant, E1).await,
            consumed(&db.store, tenant, E3).await
        ),
        (1, 0)
    );
});

dual_backend_test!(concurrent_assignments_never_over_allocate, |db| {
    let (tenant, _, _, _) = seeded(&db.store).await;
    // 2 units of E3, one used by Ann: 1 free, 12 writers.
    let mut users = Vec::new();
    for i in 0..12 {
        let u = new_user(tenant, &format!("racer{i}@fabrikam.example"), Some("US"));
        db.store.insert_user(&u).await.unwrap();
        users.push(u.id);
    }
    let mut tasks = Vec::new();
    for u in users {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            let change = LicenseChange {
                add: vec![AddLicense {
                    sku: sku(E3),
                    disabled_plans: vec![],
                }],
                remove: vec![],
            };
            store.assign_direct(tenant, u, &change).await
        }));
    }
    let mut ok = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => ok += 1,
            Err(StoreError::License(LicenseError::NoFreeUnits(_))) => {}
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!(ok, 1);
    assert_eq!(consumed(&db.store, tenant, E3).await, 2);
});

dual_backend_test!(deleting_a_user_frees_its_units_and_memberships, |db| {
    let (tenant, ann, _, _) = seeded(&db.store).await;
    let file = TenantFile::parse(SMALL).unwrap();
    let team = file.tenants[0].group_id(&file.tenants[0].groups[0]);
    assert!(db.store.is_member(tenant, team, ann.as_uuid()).await.unwrap());
    db.store
        .delete_user(&allot_store::testkit::TEST_ACTOR, tenant, ann)
        .await
        .unwrap();
    assert_eq!(consumed(&db.store, tenant, E3).await, 0);
    assert!(!db.store.is_member(tenant, team, ann.as_uuid()).await.unwrap());
    assert!(db.store.user(tenant, ann).await.unwrap().is_none());
    assert!(matches!(
        db.store
            .delete_user(&allot_store::testkit::TEST_ACTOR, tenant, ann)
            .await,
        Err(StoreError::NotFound)
    ));
});

dual_backend_test!(update_user_is_read_modify_write, |db| {
    let (tenant, _, bob, _) = seeded(&db.store).await;
    let u = db
        .store
        .update_user(tenant, bob, |u| {
            u.usage_location = Some("FR".into());
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(u.usage_location.as_deref(), Some("FR"));
    assert_eq!(
        db.store
            .user(tenant, bob)
            .await
            .unwrap()
            .unwrap()
            .usage_location
            .as_deref(),
        Some("FR")
    );
    let err = db
        .store
        .update_user(tenant, bob, |u| {
            u.user_principal_name = "ann@fabrikam.example".into();
            Ok(())
        })
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err}");
    let refused = db
        .store
        .update_user(tenant, bob, |_| Err(StoreError::Invalid("no".into())))
        .await;
    assert!(matches!(refused, Err(StoreError::Invalid(_))));
});

dual_backend_test!(groups_and_membership, |db| {
    let (tenant, ann, bob, cy) = seeded(&db.store).await;
    let g = Group {
        id: GroupId::new(),
        tenant_id: tenant,
        display_name: "New".into(),
        description: None,
        mail_nickname: "new".into(),
        mail_enabled: false,
        security_enabled: true,
        group_types: vec![],
        assigned_licenses: vec![],
        created_at: allot_store::now(),
    };
    db.store.insert_group(&g).await.unwrap();
    db.store
        .add_members(
            &allot_store::testkit::TEST_ACTOR,
            tenant,
            g.id,
            &[MemberRef::User(ann), MemberRef::User(cy)],
        )
        .await
        .unwrap();
    // All or nothing: bob is new but ann is already there.
    let err = db
        .store
        .add_members(
            &allot_store::testkit::TEST_ACTOR,
            tenant,
            g.id,
            &[MemberRef::User(bob), MemberRef::User(ann)],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)));
    assert!(!db.store.is_member(tenant, g.id, bob.as_uuid()).await.unwrap());
    let err = db
        .store
        .add_members(
            &allot_store::testkit::TEST_ACTOR,
            tenant,
            g.id,
            &[MemberRef::User(UserId::new())],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound));
    let members = db.store.members_page(tenant, g.id, None, 10).await.unwrap();
    assert_eq!(members.len(), 2);
    let of = db
        .store
        .member_of_page(tenant, ann.as_uuid(), None, 10)
        .await
        .unwrap();
    assert_eq!(of.len(), 2);
    db.store
        .remove_member(&allot_store::testkit::TEST_ACTOR, tenant, g.id, ann.as_uuid())
        .await
        .unwrap();
    assert!(matches!(
        db.store
            .remove_member(&allot_store::testkit::TEST_ACTOR, tenant, g.id, ann.as_uuid())
            .await,
        Err(StoreError::NotFound)
    ));
    let renamed = db
        .store
        .update_group(tenant, g.id, |g| {
            g.display_name = "Renamed".into();
            Ok(())
        })
        .await
        .unwrap();
    assert_eq!(renamed.display_name, "Renamed");
    assert_eq!(
        db.store
            .page_where::<Group>(tenant, None, None, 100)
            .await
            .unwrap()
            .len(),
        2
    );
    assert_eq!(db.store.by_ids::<Group>(tenant, [g.id]).await.unwrap().len(), 1);
    db.store.delete_group(tenant, g.id).await.unwrap();
    assert!(db.store.group(tenant, g.id).await.unwrap().is_none());
    assert!(matches!(
        db.store.delete_group(tenant, g.id).await,
        Err(StoreError::NotFound)
    ));
});

dual_backend_test!(subscription_units_aggregate_per_sku, |db| {
    let (tenant, _, _, _) = seeded(&db.store).await;
    let extra = Subscription {
        id: SubscriptionId::new(),
        tenant_id: tenant,
        sku_id: sku(E3),
        enabled: 3,
        warning: 1,
        suspended: 0,
        locked_out: 0,
        created_at: allot_store::now(),
    };
    db.store.upsert_subscription(&extra).await.unwrap();
    let units = db.store.sku_units(tenant).await.unwrap();
    let e3 = units.iter().find(|u| u.sku_id == sku(E3)).unwrap();
    assert_eq!(
        (e3.enabled, e3.warning, e3.consumed, e3.subscription_ids.len()),
        (5, 1, 1, 2)
    );
    assert_eq!(e3.capability_status(), "Enabled");
    assert_eq!(
        db.store.subscription(tenant, extra.id).await.unwrap(),
        Some(extra)
    );
});

dual_backend_test!(reset_restores_the_seed, |db| {
    let (tenant, ann, _, _) = seeded(&db.store).await;
    db.store
        .delete_user(&allot_store::testkit::TEST_ACTOR, tenant, ann)
        .await
        .unwrap();
    db.store
        .insert_user(&new_user(tenant, "extra@fabrikam.example", None))
        .await
        .unwrap();
    db.store.reset_tenant(tenant).await.unwrap();
    assert!(db.store.user(tenant, ann).await.unwrap().is_some());
    assert!(
        db.store
            .user_by_upn(tenant, "extra@fabrikam.example")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(consumed(&db.store, tenant, E3).await, 1);
    assert!(matches!(
        db.store.reset_tenant(TenantId::new()).await,
        Err(StoreError::NotFound)
    ));
});

/// Runs every queued licensing job to its end (what the worker does).
async fn drain(store: &Store) {
    use allot_store::group_licensing::ProcessingMode;
    while let Some(mut job) = store
        .claim_job("test", 10_000_000, ProcessingMode::Async, None, true)
        .await
        .unwrap()
    {
        while !store.run_job_step(&mut job, 10_000_000).await.unwrap().done {}
    }
}

/// Every entity of a cloudLicensing view in `scope`.
async fn view<V: View>(s: &Store, tenant: TenantId, scope: ViewScope) -> Vec<V> {
    let catalog = s.tenant_catalog(tenant).await.unwrap();
    let subs = s.subscriptions(tenant).await.unwrap();
    let mut skus: Vec<&Sku> = subs.iter().filter_map(|x| catalog.sku(x.sku_id)).collect();
    skus.dedup_by_key(|k| k.id);
    s.view_page::<V>(tenant, &skus, scope, &ViewQuery::default())
        .await
        .unwrap()
        .into_iter()
        .map(|(v, _)| v)
        .collect()
}

dual_backend_test!(
    cloud_writes_are_direct_rows_and_freed_units_seat_the_waiting_room,
    |db| {
        use allot_store::cloud_licensing::CloudWrite;
        let (tenant, ann, bob, cy) = seeded(&db.store).await;
        let s = &db.store;
        let e3 = sku(E3);
        let sub = s
            .subscriptions(tenant)
            .await
            .unwrap()
            .into_iter()
            .find(|x| x.sku_id == e3)
            .unwrap()
            .id;
        let create = CloudWrite::Create {
            allotment: sub,
            disabled_plans: vec![],
        };
        // E3 has two units and Ann holds one: Cy takes the last, a second create is a conflict.
        s.cloud_write(
            &allot_store::testkit::TEST_ACTOR,
            tenant,
            MemberRef::User(cy),
            e3,
            &create,
        )
        .await
        .unwrap();
        let again = s
            .cloud_write(
                &allot_store::testkit::TEST_ACTOR,
                tenant,
                MemberRef::User(cy),
                e3,
                &create,
            )
            .await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
        let direct: Vec<AssignmentView> = view(s, tenant, ViewScope::Principal(MemberRef::User(cy))).await;
        assert_eq!((direct.len(), direct[0].sku), (1, e3));
        assert_eq!(
            s.assignments(tenant, cy).await.unwrap()[0].source,
            Source::Direct,
            "the row assignLicense writes"
        );
        assert_eq!(direct[0].allotment, sub, "the allotment it was drawn from");
        // The team (Ann, Bob) gets E3: no unit is left, Bob waits.
        let team = s.page_where::<Group>(tenant, None, None, 10).await.unwrap()[0].id;
        s.cloud_write(
            &allot_store::testkit::TEST_ACTOR,
            tenant,
            MemberRef::Group(team),
            e3,
            &create,
        )
        .await
        .unwrap();
        drain(s).await;
        let waiting: Vec<WaitingView> = view(s, tenant, ViewScope::Tenant).await;
        assert_eq!(
            waiting.iter().map(|w| (w.user, w.allotment)).collect::<Vec<_>>(),
            [(bob, sub)]
        );
        let all: Vec<AssignmentView> = view(s, tenant, ViewScope::Tenant).await;
        assert_eq!(
            all.iter()
                .filter(|a| a.principal == MemberRef::Group(team))
                .count(),
            1
        );
        assert_eq!(consumed(s, tenant, E3).await, 2);
        // Deleting Cy frees the unit: the seat job gives it to Bob.
        s.delete_user(&allot_store::testkit::TEST_ACTOR, tenant, cy)
            .await
            .unwrap();
        drain(s).await;
        assert!(view::<WaitingView>(s, tenant, ViewScope::Tenant).await.is_empty());
        assert_eq!(consumed(s, tenant, E3).await, 2);
        assert!(
            s.assignments(tenant, bob)
                .await
                .unwrap()
                .iter()
                .any(|a| a.sku == e3 && a.state.holds_license())
        );
        assert!(
            db.strings(&format!(
                "SELECT CAST(sku_id AS TEXT) FROM cloud_assignment_allotments WHERE principal_id = '{cy}'"
            ))
            .await
            .unwrap()
            .is_empty(),
            "the deleted user's allotment choice is gone"
        );
        // Deleting Ann's direct assignment keeps her unit (the team still gives E3).
        s.cloud_write(
            &allot_store::testkit::TEST_ACTOR,
            tenant,
            MemberRef::User(ann),
            e3,
            &CloudWrite::Delete,
        )
        .await
        .unwrap();
        assert_eq!(consumed(s, tenant, E3).await, 2);
        let gone = s
            .cloud_write(
                &allot_store::testkit::TEST_ACTOR,
                tenant,
                MemberRef::User(ann),
                e3,
                &CloudWrite::Delete,
            )
            .await;
        assert!(matches!(gone, Err(StoreError::NotFound)), "{gone:?}");
        assert!(view::<ErrorView>(s, tenant, ViewScope::Tenant).await.is_empty());
    }
);
