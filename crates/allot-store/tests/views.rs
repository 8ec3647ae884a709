//! The cloudLicensing views (`allot_store::cloud_views`) on both backends: an allotment's share of
//! its SKU's pool, keyset pages that walk a view exactly once in any order, counts and filters
//! that agree with the rows.

use allot_core::catalog::Sku;
use allot_core::ids::{SkuId, TenantId};
use allot_core::tenant_file::TenantFile;
use allot_odata::cloud_schema::{ALLOTMENTS, ASSIGNMENTS};
use allot_odata::validate::{validate_filter, validate_orderby};
use allot_store::cloud_licensing::CloudWrite;
use allot_store::cloud_views::{AllotmentView, AssignmentView, Page, View, ViewQuery, ViewScope};
use allot_store::records::MemberRef;
use allot_store::{Store, dual_backend_test};

const E3: &str = "6fd2c87f-b296-42f0-b197-1e91e994b900";

/// Two E3 subscriptions (2 and 3 units) and one of E1; seven users with a usage location.
const TENANT: &str = r"
tenants:
  - displayName: Views
    defaultDomain: views.example
    subscriptions:
      - {sku: ENTERPRISEPACK, enabled: 2}
      - {sku: ENTERPRISEPACK, enabled: 3}
      - {sku: STANDARDPACK, enabled: 5}
    users:
      - {userPrincipalName: u1@views.example, displayName: U1, usageLocation: US}
      - {userPrincipalName: u2@views.example, displayName: U2, usageLocation: US}
      - {userPrincipalName: u3@views.example, displayName: U3, usageLocation: US}
      - {userPrincipalName: u4@views.example, displayName: U4, usageLocation: US}
      - {userPrincipalName: u5@views.example, displayName: U5, usageLocation: US}
      - {userPrincipalName: u6@views.example, displayName: U6, usageLocation: US}
      - {userPrincipalName: u7@views.example, displayName: U7, usageLocation: US}
";

async fn page<V: View>(s: &Store, tenant: TenantId, q: &ViewQuery<'_>) -> Page<V> {
    let catalog = s.tenant_catalog(tenant).await.unwrap();
    let subs = s.subscriptions(tenant).await.unwrap();
    let mut skus: Vec<&Sku> = subs.iter().filter_map(|x| catalog.sku(x.sku_id)).collect();
    skus.dedup_by_key(|k| k.id);
    s.view_page::<V>(tenant, &skus, ViewScope::Tenant, q)
        .await
        .unwrap()
}

async fn count<V: View>(s: &Store, tenant: TenantId, filter: Option<&allot_odata::validate::Cond>) -> i64 {
    let catalog = s.tenant_catalog(tenant).await.unwrap();
    let subs = s.subscriptions(tenant).await.unwrap();
    let mut skus: Vec<&Sku> = subs.iter().filter_map(|x| catalog.sku(x.sku_id)).collect();
    skus.dedup_by_key(|k| k.id);
    s.view_count::<V>(tenant, &skus, ViewScope::Tenant, filter)
        .await
        .unwrap()
}

dual_backend_test!(views_share_pools_page_exactly_and_count_what_they_list, |db| {
    let s = &db.store;
    let file = TenantFile::parse(TENANT).unwrap();
    s.apply_tenant_file(&file).await.unwrap();
    let t = &file.tenants[0];
    let tenant = t.tenant_id();
    let users: Vec<_> = t.users.iter().map(|u| t.user_id(u)).collect();
    let e3 = SkuId::parse(E3).unwrap();
    let subs = s.subscriptions(tenant).await.unwrap();
    let first = subs.iter().find(|x| x.sku_id == e3).unwrap().id;
    // Four E3 units taken (all from the first allotment's point of view), three E1.
    for u in &users[..4] {
        let create = CloudWrite::Create {
            allotment: first,
            disabled_plans: vec![],
        };
        s.cloud_write(
            &allot_store::testkit::TEST_ACTOR,
            tenant,
            MemberRef::User(*u),
            e3,
            &create,
        )
        .await
        .unwrap();
    }
    let e1_sub = subs.iter().find(|x| x.sku_id != e3).unwrap();
    for u in &users[4..] {
        let create = CloudWrite::Create {
            allotment: e1_sub.id,
            disabled_plans: vec![],
        };
        s.cloud_write(
            &allot_store::testkit::TEST_ACTOR,
            tenant,
            MemberRef::User(*u),
            e1_sub.sku_id,
            &create,
        )
        .await
        .unwrap();
    }

    // The pool of 4 fills the E3 allotments in subscription order: 2 of 2, then 2 of 3.
    let allotments: Page<AllotmentView> = page(s, tenant, &ViewQuery::default()).await;
    let mut e3_rows: Vec<&AllotmentView> = allotments
        .iter()
        .map(|(a, _)| a)
        .filter(|a| a.sub.sku_id == e3)
        .collect();
    e3_rows.sort_by_key(|a| (a.sub.created_at, a.sub.id));
    assert_eq!(
        e3_rows
            .iter()
            .map(|a| (a.sub.enabled, a.consumed))
            .collect::<Vec<_>>(),
        [(2, 2), (3, 2)]
    );
    assert_eq!(allotments.len(), 3);

    // Every order walks the seven assignments exactly once, a row per page.
    let by_desc = validate_orderby(
        &allot_odata::options::parse_orderby("consumedUnits desc, skuPartNumber").unwrap(),
        &ALLOTMENTS,
        true,
        false,
    )
    .unwrap();
    for order in [&[][..], &by_desc[..]] {
        let mut after: Option<Vec<String>> = None;
        let mut walked = Vec::new();
        loop {
            let q = ViewQuery {
                order,
                after: after.as_deref(),
                limit: Some(1),
                ..ViewQuery::default()
            };
            let rows: Page<AllotmentView> = page(s, tenant, &q).await;
            let Some((a, key)) = rows.into_iter().next() else {
                break;
            };
            walked.push(a.sub.id);
            after = Some(key);
        }
        walked.sort();
        let mut all: Vec<_> = allotments.iter().map(|(a, _)| a.sub.id).collect();
        all.sort();
        assert_eq!(walked, all);
    }
    let mut after: Option<Vec<String>> = None;
    let mut walked = Vec::new();
    loop {
        let q = ViewQuery {
            after: after.as_deref(),
            limit: Some(2),
            ..ViewQuery::default()
        };
        let rows: Page<AssignmentView> = page(s, tenant, &q).await;
        if rows.is_empty() {
            break;
        }
        after = rows.last().map(|(_, k)| k.clone());
        walked.extend(rows.into_iter().map(|(a, _)| a.principal));
    }
    assert_eq!(walked.len(), 7);
    let mut distinct = walked.clone();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 7, "no assignment twice");
    assert_eq!(count::<AssignmentView>(s, tenant, None).await, 7);

    // A filter counts what it lists: the E3 allotments, and assignments whose allotment is E3.
    let f = allot_odata::parse_filter(&format!("skuId eq {E3}")).unwrap();
    let (cond, _) = validate_filter(&f, &ALLOTMENTS, false).unwrap();
    assert_eq!(count::<AllotmentView>(s, tenant, Some(&cond)).await, 2);
    let nested = allot_odata::validate::Cond::Lambda {
        collection: &allot_odata::cloud_schema::ALLOTMENT_OF_ASSIGNMENT,
        kind: allot_odata::ast::LambdaKind::Any,
        body: Some(Box::new(cond)),
    };
    let q = ViewQuery {
        filter: Some(&nested),
        ..ViewQuery::default()
    };
    let rows: Page<AssignmentView> = page(s, tenant, &q).await;
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|(a, _)| a.sku == e3 && a.allotment == first));
    assert_eq!(count::<AssignmentView>(s, tenant, Some(&nested)).await, 4);
    assert!(ASSIGNMENTS.filter);
});
