//! Group commit (SQLite's one writer): concurrent changes share commits, and each stays
//! all-or-nothing. The same tests run on PostgreSQL, where each change is its own transaction.

use allot_core::ids::{SkuId, SubscriptionId, TenantId, UserId};
use allot_core::licensing::{AddLicense, LicenseChange, LicenseError};
use allot_core::tenant_file::TenantFile;
use allot_store::records::{Subscription, User};
use allot_store::{Backend, Store, StoreError, dual_backend_test};

/// Entra ID P1 (`P1`) sorts before Office 365 E3 by id, so a change asking for both takes a P1
/// unit first and is refused on E3 after it.
const P1: &str = "078d2b04-f1bd-4111-bbd4-b4b1b354cef4";
const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";
/// Enterprise Mobility + Security E3, which the tenant does not subscribe to at first.
const EMS: &str = "efccb6f7-5641-4e0e-bd10-b4976e1bf68e";

const TENANT: &str = r"
tenants:
  - displayName: Contoso
    defaultDomain: contoso.example
    subscriptions:
      - sku: AAD_PREMIUM
        enabled: 5
      - sku: ENTERPRISEPACK
        enabled: 1
    users:
      - userPrincipalName: full@contoso.example
        displayName: Full
        usageLocation: US
        licenses: [{sku: ENTERPRISEPACK}]
";

fn sku(s: &str) -> SkuId {
    SkuId::parse(s).unwrap()
}

fn asking(skus: &[&str]) -> LicenseChange {
    LicenseChange {
        add: skus
            .iter()
            .map(|s| AddLicense {
                sku: sku(s),
                disabled_plans: vec![],
            })
            .collect(),
        remove: vec![],
    }
}

async fn racers(store: &Store, tenant: TenantId, n: usize, prefix: &str) -> Vec<UserId> {
    let mut ids = Vec::new();
    for i in 0..n {
        let u = User::new(
            tenant,
            format!("{prefix}{i}@contoso.example"),
            format!("{prefix}{i}"),
            Some("US".into()),
        );
        store.insert_user(&u).await.unwrap();
        ids.push(u.id);
    }
    ids
}

/// A new subscription of 3 units of `s`.
async fn subscribe(store: &Store, tenant: TenantId, s: &str) {
    let sub = Subscription {
        id: SubscriptionId::new(),
        tenant_id: tenant,
        sku_id: sku(s),
        enabled: 3,
        warning: 0,
        suspended: 0,
        locked_out: 0,
        created_at: allot_store::now(),
    };
    store.upsert_subscription(&sub).await.unwrap();
}

async fn consumed(store: &Store, tenant: TenantId, s: &str) -> i64 {
    let units = store.sku_units(tenant).await.unwrap();
    units
        .into_iter()
        .find(|u| u.sku_id == sku(s))
        .map_or(0, |u| u.consumed)
}

dual_backend_test!(
    a_change_refused_halfway_leaves_nothing_while_its_neighbours_commit,
    |db| {
        let file = TenantFile::parse(TENANT).unwrap();
        db.store.apply_tenant_file(&file).await.unwrap();
        let tenant = file.tenants[0].tenant_id();
        // 8 users ask for P1 alone (5 units: 5 get one); 8 ask for P1 and E3 (E3 is full): each of
        // those takes a P1 unit (while there is one), is refused on E3, and must give the P1 unit back.
        let single = racers(&db.store, tenant, 8, "single").await;
        let both = racers(&db.store, tenant, 8, "both").await;
        let mut tasks = Vec::new();
        for (i, (s, b)) in single.iter().zip(&both).enumerate() {
            for (user, skus) in [(*s, vec![P1]), (*b, vec![P1, E3])] {
                let store = db.store.clone();
                tasks.push(tokio::spawn(async move {
                    let r = store.assign_direct(tenant, user, &asking(&skus)).await;
                    (i, skus.len(), user, r)
                }));
            }
        }
        let mut licensed = Vec::new();
        for t in tasks {
            let (_, asked, user, r) = t.await.unwrap();
            match r {
                Ok(()) => {
                    assert_eq!(asked, 1, "a change asking for the full E3 was applied");
                    licensed.push(user);
                }
                Err(StoreError::License(LicenseError::NoFreeUnits(s))) => {
                    // A change asking for P1 alone can only be refused on P1 (once it is full).
                    assert!(asked == 2 || s == sku(P1), "{s}");
                }
                Err(e) => panic!("unexpected {e}"),
            }
        }
        // What the answers said is what was committed, read back through another connection.
        assert_eq!(licensed.len(), 5);
        assert_eq!(consumed(&db.store, tenant, P1).await, 5);
        assert_eq!(consumed(&db.store, tenant, E3).await, 1);
        for user in single.iter().chain(&both) {
            let held = db.store.assignments(tenant, *user).await.unwrap().len();
            assert_eq!(held, usize::from(licensed.contains(user)), "{user}");
        }
        assert!(db.store.check().await.unwrap().ok());
    }
);

dual_backend_test!(an_answer_comes_after_the_commit_that_holds_it, |db| {
    let file = TenantFile::parse(TENANT).unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let tenant = file.tenants[0].tenant_id();
    let users = racers(&db.store, tenant, 5, "reader").await;
    let mut tasks = Vec::new();
    for user in users {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            store.assign_direct(tenant, user, &asking(&[P1])).await.unwrap();
            // Read at once through the readers' pool: the change is there.
            store.assignments(tenant, user).await.unwrap().len()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 1);
    }
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panic_in_a_change_fails_its_batch_and_not_the_writer() {
    let db = allot_store::testkit::TestDb::fresh(Backend::Sqlite)
        .await
        .unwrap()
        .unwrap();
    let file = TenantFile::parse(TENANT).unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let tenant = file.tenants[0].tenant_id();
    let panicked: Result<(), StoreError> = db
        .store
        .db()
        .write(|_tx| Box::pin(async { panic!("a bug in a change") }))
        .await;
    assert!(matches!(panicked, Err(StoreError::Unapplied(_))), "{panicked:?}");
    // The writer goes on: the next change commits.
    let user = racers(&db.store, tenant, 1, "after").await[0];
    db.store
        .assign_direct(tenant, user, &asking(&[P1]))
        .await
        .unwrap();
    assert_eq!(consumed(&db.store, tenant, P1).await, 1);
}

dual_backend_test!(a_node_never_plans_with_rules_another_node_changed, |db| {
    let file = TenantFile::parse(TENANT).unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let tenant = file.tenants[0].tenant_id();
    // Two nodes on one database: this node keeps a copy of the tenant's rules once it has used
    // them, and the other node then subscribes the tenant to a new SKU.
    let other = Store::connect(&db.url).await.unwrap();
    let users = racers(&db.store, tenant, 2, "node").await;
    db.store
        .assign_direct(tenant, users[0], &asking(&[P1]))
        .await
        .unwrap();
    let refused = db.store.assign_direct(tenant, users[1], &asking(&[EMS])).await;
    assert!(matches!(refused, Err(StoreError::License(_))), "{refused:?}");
    subscribe(&other, tenant, EMS).await;
    // This node sees the new subscription at once, through the stamp read with the user's lock.
    db.store
        .assign_direct(tenant, users[1], &asking(&[EMS]))
        .await
        .unwrap();
    assert_eq!(consumed(&db.store, tenant, EMS).await, 1);
    other.db().close().await;
});

dual_backend_test!(each_change_of_a_set_keeps_its_own_pair_of_records, |db| {
    let file = TenantFile::parse(TENANT).unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let tenant = file.tenants[0].tenant_id();
    let users = racers(&db.store, tenant, 12, "audited").await;
    let mut tasks = Vec::new();
    for (i, user) in users.iter().copied().enumerate() {
        let store = db.store.clone();
        // Six ask for P1, six for EMS (which the tenant lacks: refused, no record).
        let skus = if i % 2 == 0 { vec![P1] } else { vec![EMS] };
        tasks.push(tokio::spawn(async move {
            store
                .assign_direct_by(&allot_store::testkit::TEST_ACTOR, tenant, user, &asking(&skus))
                .await
                .is_ok()
        }));
    }
    let mut applied = Vec::new();
    for (t, user) in tasks.into_iter().zip(&users) {
        if t.await.unwrap() {
            applied.push(*user);
        }
    }
    assert_eq!(applied.len(), 5, "5 P1 units for 6 askers");
    let records = db.store.audit_page(tenant, None, None, 1000).await.unwrap();
    let mut by_change: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
    for r in &records {
        by_change
            .entry(r.correlation_id.to_string())
            .or_default()
            .push((r.activity.clone(), r.target_resources.clone()));
    }
    // One pair per applied change, each with a correlation id of its own, naming its user; the
    // "Update user" record carries the license gained.
    let pairs: Vec<_> = by_change
        .values()
        .filter(|v| v.iter().any(|(a, _)| a == "Change user license"))
        .collect();
    assert_eq!(pairs.len(), applied.len());
    for user in &applied {
        let pair = pairs
            .iter()
            .find(|p| p[0].1.contains(&user.to_string()))
            .unwrap_or_else(|| panic!("no records for {user}"));
        let mut activities: Vec<&str> = pair.iter().map(|(a, _)| a.as_str()).collect();
        activities.sort_unstable();
        assert_eq!(activities, ["Change user license", "Update user"]);
        assert!(pair.iter().all(|(_, t)| t.contains(&user.to_string())));
        let update = pair.iter().find(|(a, _)| a == "Update user").unwrap();
        assert!(update.1.contains(P1), "{}", update.1);
    }
});

dual_backend_test!(two_changes_of_one_user_at_once_are_both_applied, |db| {
    let file = TenantFile::parse(TENANT).unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let tenant = file.tenants[0].tenant_id();
    subscribe(&db.store, tenant, EMS).await;
    let user = racers(&db.store, tenant, 1, "twice").await[0];
    let (first, second) = (asking(&[P1]), asking(&[EMS]));
    let (a, b) = tokio::join!(
        db.store.assign_direct(tenant, user, &first),
        db.store.assign_direct(tenant, user, &second),
    );
    a.unwrap();
    b.unwrap();
    let mut held: Vec<SkuId> = db
        .store
        .assignments(tenant, user)
        .await
        .unwrap()
        .iter()
        .map(|x| x.sku)
        .collect();
    held.sort_unstable();
    let mut want = vec![sku(P1), sku(EMS)];
    want.sort_unstable();
    assert_eq!(held, want);
    assert_eq!(consumed(&db.store, tenant, P1).await, 1);
    assert_eq!(consumed(&db.store, tenant, EMS).await, 1);
    assert!(db.store.check().await.unwrap().ok());
});

// A change that fails after writing leaves nothing, alone in its batch (no savepoint: the
// transaction is rolled back) or beside others (its savepoint is).
dual_backend_test!(a_failed_write_leaves_nothing_alone_or_in_company, |db| {
    fn setting(
        key: String,
        fail: bool,
    ) -> impl for<'t> Fn(&'t mut allot_store::db::Tx) -> allot_store::writer::Work<'t, ()> {
        move |tx| {
            let key = key.clone();
            Box::pin(async move {
                allot_store::on_tx!(tx, |c| sqlx::query(
                    "INSERT INTO settings (key, value) VALUES ($1, 'x')"
                )
                .bind(&key)
                .execute(c)
                .await
                .map(|r| r.rows_affected()))
                .map_err(StoreError::from)?;
                if fail {
                    Err(StoreError::Invalid("refused after writing".into()))
                } else {
                    Ok(())
                }
            })
        }
    }
    let alone = db.store.db().write(setting("alone".into(), true)).await;
    assert!(matches!(alone, Err(StoreError::Invalid(_))), "{alone:?}");
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = db.store.clone();
        tasks.push(tokio::spawn(async move {
            store
                .db()
                .write(setting(format!("k{i}"), i % 2 == 1))
                .await
                .is_ok()
        }));
    }
    for (i, t) in tasks.into_iter().enumerate() {
        assert_eq!(t.await.unwrap(), i % 2 == 0);
    }
    let mut kept = db
        .strings("SELECT key FROM settings WHERE key = 'alone' OR key LIKE 'k%'")
        .await
        .unwrap();
    kept.sort();
    assert_eq!(kept, ["k0", "k2", "k4", "k6"]);
});

dual_backend_test!(reads_see_a_catalog_another_node_extended, |db| {
    let file = TenantFile::parse(TENANT).unwrap();
    db.store.apply_tenant_file(&file).await.unwrap();
    let tenant = file.tenants[0].tenant_id();
    let custom = sku("c0570000-0000-4000-8000-0000000000aa");
    // This node reads (and keeps) the catalog; another node adds a SKU to the tenant's extension.
    assert!(
        db.store
            .tenant_catalog(tenant)
            .await
            .unwrap()
            .sku(custom)
            .is_none()
    );
    let other = Store::connect(&db.url).await.unwrap();
    let mut t = other.tenant(tenant).await.unwrap().unwrap();
    t.catalog = serde_json::from_value(serde_json::json!({"skus": [{
        "skuId": custom.to_string(),
        "skuPartNumber": "CONTOSO_EXTRA",
        "servicePlans": [{"servicePlanId": "c0570000-0000-4000-8000-0000000000bb", "servicePlanName": "EXTRA_PLAN"}],
    }]}))
    .unwrap();
    other.upsert_tenant(&t).await.unwrap();
    let catalog = db.store.tenant_catalog(tenant).await.unwrap();
    assert_eq!(catalog.sku(custom).unwrap().part_number, "CONTOSO_EXTRA");
    other.db().close().await;
});
