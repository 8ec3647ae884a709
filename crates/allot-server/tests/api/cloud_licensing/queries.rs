//! Query options of the cloudLicensing collections, read by the one OData layer and answered by
//! the store's views in SQL: `$filter`, `$orderby`, `$count` and `/$count`, a nested
//! `$expand=allotment($filter=…)`, keyset paging, and spec §3.12's refusals.

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

use super::*;

const EVENTUAL: (&str, &str) = ("ConsistencyLevel", "eventual");

/// Steve: E3 without Sway and Copilot, directly; Ann: E1 and Power BI directly. The group gives E3 to
/// Ann (refused: E1 and E3 exclude each other), Bob and Dee (the last two units), then Eve and
/// Gus, who wait in that order. Five assignments in all.
async fn world(cl: &Cl<'_>) -> String {
    cl.assign_user("steve", E3, &[SWAY]).await;
    cl.assign_user("steve", COPILOT, &[]).await;
    cl.assign_user("ann", E1, &[]).await;
    cl.assign_user("ann", PBI_STD, &[]).await;
    let g = cl.group().await;
    for n in ["ann", "bob", "dee", "eve"] {
        cl.add_member(&g, n).await;
    }
    let e3 = cl.allotment_id(E3).await;
    let r = cl
        .post(
            &format!("/beta/groups/{g}/cloudLicensing/assignments"),
            json!({"allotment@odata.bind": cl.bind_allotment(&e3), "disabledServicePlanIds": []}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    cl.add_member(&g, "gus").await;
    g
}

/// `/$count` as text: status, content type and the number.
async fn count(cl: &Cl<'_>, path: &str, headers: &[(&str, &str)]) -> i64 {
    let r = cl
        .app
        .send_with(Method::GET, path, Some(&cl.token), None, headers)
        .await;
    assert_eq!(r.status, 200, "{path}: {}", r.text);
    assert!(
        r.headers["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain"),
        "{:?}",
        r.headers
    );
    r.text.parse().unwrap_or_else(|_| panic!("{path}: {}", r.text))
}

fn field(v: &Value, name: &str) -> Vec<String> {
    v["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| match &x[name] {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        })
        .collect()
}

e2e!(collections_count_filter_and_sort_in_the_odata_layer, |app| {
    let cl = Cl::new(&app).await;
    let g = world(&cl).await;
    let steve = cl.user("steve").await;
    let bob = cl.user("bob").await;
    // /$count with ConsistencyLevel: eventual (and without: accepted, see docs/compat).
    assert_eq!(
        count(&cl, "/beta/admin/cloudLicensing/assignments/$count", &[EVENTUAL]).await,
        5
    );
    assert_eq!(
        count(&cl, "/beta/admin/cloudLicensing/assignments/$count", &[]).await,
        5
    );
    assert_eq!(
        count(
            &cl,
            &format!("/beta/users/{steve}/cloudLicensing/assignments/$count"),
            &[EVENTUAL]
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &cl,
            &format!("/beta/groups/{g}/cloudLicensing/assignments/$count"),
            &[EVENTUAL]
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &cl,
            &format!("/beta/admin/cloudLicensing/allotments/$count?$filter=skuId in ({E3}, {EXO})"),
            &[EVENTUAL]
        )
        .await,
        2
    );
    let e3 = cl.allotment_id(E3).await;
    assert_eq!(
        count(
            &cl,
            &format!("/beta/admin/cloudLicensing/allotments/{e3}/waitingMembers/$count"),
            &[EVENTUAL]
        )
        .await,
        2
    );
    assert_eq!(
        count(
            &cl,
            &format!("/beta/admin/cloudLicensing/assignmentErrors/$count?$filter=skuId eq {E3}"),
            &[EVENTUAL]
        )
        .await,
        1
    );
    assert_eq!(
        count(
            &cl,
            &format!("/beta/users/{bob}/cloudLicensing/usageRights/$count"),
            &[EVENTUAL]
        )
        .await,
        1
    );
    // $count=true on a list: @odata.count on the first page, whatever $top.
    let v = cl
        .get("/beta/admin/cloudLicensing/assignments?$count=true&$top=2")
        .await
        .ok();
    assert_eq!(v["@odata.count"], 5, "{v}");
    assert_eq!(v["value"].as_array().unwrap().len(), 2);
    assert!(v["@odata.nextLink"].is_string(), "{v}");

    // $orderby on allotments: by consumption, then part number; by part number, descending.
    let v = cl
        .get("/beta/admin/cloudLicensing/allotments?$orderby=consumedUnits desc,skuPartNumber&$select=skuPartNumber,consumedUnits")
        .await
        .ok();
    let consumed: Vec<i64> = field(&v, "consumedUnits")
        .iter()
        .map(|c| c.parse().unwrap())
        .collect();
    assert_eq!(consumed, [3, 1, 1, 1, 0], "{v}");
    assert_eq!(
        field(&v, "skuPartNumber"),
        [
            "ENTERPRISEPACK",
            "Microsoft_365_Copilot",
            "POWER_BI_STANDARD",
            "STANDARDPACK",
            "EXCHANGESTANDARD"
        ]
    );
    let v = cl
        .get(&format!(
            "/beta/admin/cloudLicensing/allotments?$filter=skuId in ({E3}, {EXO})&$orderby=skuPartNumber desc"
        ))
        .await
        .ok();
    assert_eq!(field(&v, "skuPartNumber"), ["EXCHANGESTANDARD", "ENTERPRISEPACK"]);
    // Waiting members: FIFO by default, newest first on request.
    let path = format!(
        "/beta/admin/cloudLicensing/allotments/{e3}/waitingMembers?$expand=assignedTo($select=userPrincipalName)"
    );
    let upns = |v: &Value| -> Vec<String> {
        v["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["assignedTo"]["userPrincipalName"].as_str().unwrap().to_owned())
            .collect()
    };
    let fifo = cl.get(&path).await.ok();
    assert_eq!(upns(&fifo), ["eve@cloud.example", "gus@cloud.example"]);
    let newest = cl
        .get(&format!("{path}&$orderby=waitingSinceDateTime desc"))
        .await
        .ok();
    assert_eq!(upns(&newest), ["gus@cloud.example", "eve@cloud.example"]);
    // Errors by code.
    let v = cl
        .get("/beta/admin/cloudLicensing/assignmentErrors?$filter=code eq 'MutuallyExclusiveServicePlans'&$orderby=occurrenceDateTime desc")
        .await
        .ok();
    assert_eq!(field(&v, "skuId"), [E3]);

    // Usage rights filtered by enabled plan: Steve's E3 has Sway off (his only source), Bob's
    // (from the group) has it on.
    let rights = |who: &str, plan: &str| {
        format!("/beta/users/{who}/cloudLicensing/usageRights?$filter=services/any(c:c/planId eq {plan})")
    };
    assert_eq!(
        field(&cl.get(&rights(&steve, SWAY)).await.ok(), "skuId"),
        Vec::<String>::new()
    );
    assert_eq!(field(&cl.get(&rights(&steve, YAMMER)).await.ok(), "skuId"), [E3]);
    assert_eq!(field(&cl.get(&rights(&bob, SWAY)).await.ok(), "skuId"), [E3]);
    let v = cl
        .get(&format!(
            "/beta/users/{steve}/cloudLicensing/usageRights?$orderby=skuPartNumber desc&$filter=skuId in ({E3}, {COPILOT}, {EXO})"
        ))
        .await
        .ok();
    assert_eq!(
        field(&v, "skuPartNumber"),
        ["Microsoft_365_Copilot", "ENTERPRISEPACK"]
    );
});

e2e!(
    a_nested_allotment_filter_keeps_the_assignments_whose_allotment_passes,
    |app| {
        let cl = Cl::new(&app).await;
        world(&cl).await;
        let path = format!(
            "/beta/admin/cloudLicensing/assignments?$expand=allotment($select=id,skuId;$filter=skuId in ({E3}, {E1}))&$count=true"
        );
        let v = cl.get(&path).await.ok();
        assert_eq!(v["@odata.count"], 3, "{v}");
        let items = v["value"].as_array().unwrap();
        assert_eq!(items.len(), 3);
        for a in items {
            let sku = a["allotment"]["skuId"].as_str().unwrap();
            assert!(sku == E3 || sku == E1, "{a}");
            assert_eq!(
                a["allotment"]
                    .as_object()
                    .unwrap()
                    .keys()
                    .cloned()
                    .collect::<BTreeSet<_>>(),
                ["@odata.type", "id", "skuId"]
                    .iter()
                    .map(|s| (*s).to_owned())
                    .collect()
            );
        }
        // Paged one at a time, the same three.
        let (paged, pages) = cl.app.collect_all(&format!("{path}&$top=1"), &cl.token).await;
        assert_eq!((paged.len(), pages), (3, 3));
        assert_eq!(
            paged.iter().map(|a| a["id"].clone()).collect::<Vec<_>>(),
            items.iter().map(|a| a["id"].clone()).collect::<Vec<_>>()
        );
        // The same nested filter on a waiting room.
        let v = cl
            .get(&format!(
                "/beta/users/{}/cloudLicensing/waitingMembers?$expand=allotment($filter=skuId eq {E1})",
                cl.user("eve").await
            ))
            .await
            .ok();
        assert_eq!(v["value"], json!([]));
    }
);

e2e!(keyset_pages_stay_exact_while_assignments_are_added, |app| {
    let cl = Cl::new(&app).await;
    world(&cl).await;
    let first = cl.get("/beta/admin/cloudLicensing/assignments?$top=2").await.ok();
    let mut seen: Vec<String> = field(&first, "id");
    // Two more assignments arrive between pages.
    cl.assign_user("gus", PBI_STD, &[]).await;
    cl.assign_user("dee", COPILOT, &[]).await;
    let next = first["@odata.nextLink"].as_str().unwrap();
    let rest_path = next.strip_prefix(&cl.app.base).unwrap();
    let (rest, _) = cl.app.collect_all(rest_path, &cl.token).await;
    seen.extend(rest.iter().map(|a| a["id"].as_str().unwrap().to_owned()));
    let distinct: BTreeSet<&String> = seen.iter().collect();
    assert_eq!(distinct.len(), seen.len(), "no assignment twice: {seen:?}");
    let all = field(&cl.get("/beta/admin/cloudLicensing/assignments").await.ok(), "id");
    assert_eq!(all.len(), 7);
    // Every assignment that existed before the first page is in the walk.
    for id in field(&first, "id") {
        assert!(all.contains(&id));
    }
    assert!(seen.len() >= 5, "{seen:?}");
});

e2e!(unsupported_queries_are_refused_with_spec_3_12_codes, |app| {
    let cl = Cl::new(&app).await;
    world(&cl).await;
    let steve = cl.user("steve").await;
    let e3 = cl.allotment_id(E3).await;
    let cases: [(String, &str); 10] = [
        (
            "/beta/admin/cloudLicensing/assignments?$orderby=disabledServicePlanIds".to_owned(),
            "invalidQuery",
        ),
        (
            format!("/beta/admin/cloudLicensing/assignments?$filter=skuId eq {E3}"),
            "invalidFilter",
        ),
        (
            format!("/beta/admin/cloudLicensing/allotments/{e3}/waitingMembers?$filter=id eq 'x'"),
            "invalidQuery",
        ),
        (
            format!(
                "/beta/users/{steve}/cloudLicensing/usageRights?$filter=services/all(c:c/planId eq {SWAY})"
            ),
            "invalidFilter",
        ),
        (
            "/beta/admin/cloudLicensing/allotments?$filter=skuPartNumber eq 'ENTERPRISEPACK'".to_owned(),
            "invalidFilter",
        ),
        (
            "/beta/admin/cloudLicensing/allotments?$orderby=services".to_owned(),
            "invalidQuery",
        ),
        (
            "/beta/admin/cloudLicensing/assignments?$expand=assignedTo($filter=id eq 'x')".to_owned(),
            "invalidExpansion",
        ),
        (
            "/beta/admin/cloudLicensing/assignments?$skiptoken=bogus".to_owned(),
            "invalidQuery",
        ),
        (
            "/beta/admin/cloudLicensing/assignments?$count=maybe".to_owned(),
            "invalidQuery",
        ),
        (
            "/beta/admin/cloudLicensing/assignments/$count?$top=1".to_owned(),
            "invalidQuery",
        ),
    ];
    for (path, inner) in &cases {
        let r = cl.get(path).await;
        let e = cloud_error(&r, 400, "badRequest", inner);
        assert!(e["message"].is_string(), "{path}: {}", r.text);
    }
});
