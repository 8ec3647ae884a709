//! Allotments: one per subscription, their units, services and subscriptions, and `$apply`.

use reqwest::Method;
use serde_json::{Value, json};

use crate::e2e;
use crate::helpers::*;

use super::*;

e2e!(
    allotments_are_one_per_subscription_with_units_services_and_subscriptions,
    |app| {
        let cl = Cl::new(&app).await;
        let subs = app
            .admin(Method::GET, &format!("/_allot/tenants/{T}/subscriptions"), None)
            .await
            .ok();
        let list = cl.get("/beta/admin/cloudLicensing/allotments").await.ok();
        assert_eq!(list["@odata.context"], cl.ctx("admin/cloudLicensing/allotments"));
        let items = list["value"].as_array().unwrap();
        assert_eq!(items.len(), 5);
        let exo_sub = subs["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["skuId"] == EXO)
            .unwrap()["id"]
            .clone();
        let exo = items.iter().find(|a| a["skuId"] == EXO).unwrap();
        let id = exo["id"].as_str().unwrap();
        assert_eq!(id.len(), 52, "opaque base32 like Graph's");
        assert!(
            id.bytes()
                .all(|c| c.is_ascii_lowercase() || (b'2'..=b'7').contains(&c))
        );
        let today = chrono::Utc::now().date_naive();
        let mut sub = exo["subscriptions"][0].clone();
        assert_eq!(sub["startDate"], today.format("%Y-%m-%d").to_string());
        sub.as_object_mut().unwrap().remove("startDate");
        sub.as_object_mut().unwrap().remove("nextLifecycleDate");
        assert_eq!(
            sub,
            json!({
                "@odata.type": "#microsoft.graph.cloudLicensing.subscription",
                "subscriptionId": exo_sub,
                "state": "active",
                "tags": "none",
            })
        );
        assert_eq!(
            (exo["allottedUnits"].clone(), exo["consumedUnits"].clone()),
            (json!(5), json!(0))
        );
        // Stable: the same id on every read; a GET by id returns the same entity.
        let again = cl.allotment_id(EXO).await;
        assert_eq!(again, id);
        let one = cl
            .get(&format!("/beta/admin/cloudLicensing/allotments/{id}"))
            .await
            .ok();
        assert_eq!(
            one["@odata.context"],
            cl.ctx("admin/cloudLicensing/allotments/$entity")
        );
        // $select, $top and paging.
        let sel = cl
            .get("/beta/admin/cloudLicensing/allotments?$select=skuId,allottedUnits")
            .await
            .ok();
        assert_eq!(
            sel["@odata.context"],
            cl.ctx("admin/cloudLicensing/allotments(skuId,allottedUnits)")
        );
        for a in sel["value"].as_array().unwrap() {
            let keys: Vec<&String> = a.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["@odata.type", "allottedUnits", "skuId"]);
        }
        let (all, pages) = app
            .collect_all("/beta/admin/cloudLicensing/allotments?$top=2", &cl.token)
            .await;
        assert_eq!((all.len(), pages), (5, 3));
        // $filter on skuId and on services.
        let f = cl
            .get(&format!(
                "/beta/admin/cloudLicensing/allotments?$filter=skuId in ({EXO}, {E3})"
            ))
            .await
            .ok();
        assert_eq!(f["value"].as_array().unwrap().len(), 2);
        let f = cl
            .get(&format!(
                "/beta/admin/cloudLicensing/allotments?$filter=services/any(c:c/planId eq {TODO})"
            ))
            .await
            .ok();
        let skus: std::collections::BTreeSet<&str> = f["value"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["skuId"].as_str().unwrap())
            .collect();
        assert_eq!(
            skus,
            [EXO, E1].into_iter().collect(),
            "the SKUs with BPOS_S_TODO_1"
        );
        // Errors: an unknown allotment, an unknown property, a bad filter.
        let r = cl.get("/beta/admin/cloudLicensing/allotments/nope").await;
        let e = cloud_error(&r, 404, "notFound", "resourceNotFound");
        assert_eq!(e["message"], "Resource 'nope' not found");
        let r = cl
            .get("/beta/admin/cloudLicensing/allotments?$select=bogus")
            .await;
        cloud_error(&r, 400, "badRequest", "invalidQuery");
        let r = cl
            .get("/beta/admin/cloudLicensing/allotments?$filter=displayName eq 'x'")
            .await;
        cloud_error(&r, 400, "badRequest", "invalidFilter");
        let r = cl
            .get("/beta/admin/cloudLicensing/allotments?$expand=owner")
            .await;
        cloud_error(&r, 400, "badRequest", "invalidExpansion");
        // Beta only.
        let r = cl.get("/v1.0/admin/cloudLicensing/allotments").await;
        assert_eq!(r.status, 404, "{}", r.text);
    }
);

e2e!(apply_groups_allotments_by_sku_and_sums_their_units, |app| {
    let cl = Cl::new(&app).await;
    // A second E3 subscription: two allotments of one SKU, grouped into one row.
    let r = app
        .admin(
            Method::POST,
            "/_allot/tenants",
            Some(TENANT.replace(
                "      - {sku: STANDARDPACK, enabled: 5}",
                "      - {sku: STANDARDPACK, enabled: 5}\n      - {sku: ENTERPRISEPACK, enabled: 4}",
            )),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    cl.assign_user("ann", E3, &[]).await;
    let v = cl
        .get("/beta/admin/cloudLicensing/allotments?$apply=groupby((skuId,skuPartNumber),aggregate(allottedUnits with sum as totalAllottedUnits, consumedUnits with sum as totalConsumedUnits))")
        .await
        .ok();
    assert_eq!(
        v["@odata.context"],
        cl.ctx("admin/cloudLicensing/allotments(skuId,skuPartNumber,totalAllottedUnits,totalConsumedUnits)")
    );
    let rows = v["value"].as_array().unwrap();
    assert_eq!(rows.len(), 5);
    let e3 = rows.iter().find(|r| r["skuId"] == E3).unwrap();
    assert_eq!(
        e3,
        &json!({"skuId": E3, "skuPartNumber": "ENTERPRISEPACK", "totalAllottedUnits": 7, "totalConsumedUnits": 1})
    );
    // The two E3 allotments add up to subscribedSkus.
    let e3s: Vec<Value> = cl
        .allotments()
        .await
        .into_iter()
        .filter(|a| a["skuId"] == E3)
        .collect();
    assert_eq!(e3s.len(), 2);
    let consumed: i64 = e3s.iter().map(|a| a["consumedUnits"].as_i64().unwrap()).sum();
    assert_eq!(consumed, cl.consumed(E3).await);
    let r = cl
        .get("/beta/admin/cloudLicensing/allotments?$apply=groupby((nope))")
        .await;
    cloud_error(&r, 400, "badRequest", "invalidQuery");
});
