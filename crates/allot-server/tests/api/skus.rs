//! `subscribedSkus`.

use serde_json::json;

use crate::e2e;
use crate::helpers::*;

e2e!(subscribed_skus_have_units_and_plans, |app| {
    let v = app.get("/v1.0/subscribedSkus").await.ok();
    assert!(
        v["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("/v1.0/$metadata#subscribedSkus")
    );
    let skus = v["value"].as_array().unwrap();
    assert_eq!(skus.len(), 8);
    let e3 = skus
        .iter()
        .find(|s| s["skuPartNumber"] == "ENTERPRISEPACK")
        .unwrap();
    assert_eq!(e3["skuId"], E3);
    assert_eq!(e3["id"], format!("{DEMO_TENANT}_{E3}"));
    assert_eq!(e3["accountId"], DEMO_TENANT);
    assert_eq!(e3["appliesTo"], "User");
    assert_eq!(e3["capabilityStatus"], "Enabled");
    assert_eq!(e3["consumedUnits"], 12);
    assert_eq!(
        e3["prepaidUnits"],
        json!({"enabled": 25, "lockedOut": 0, "suspended": 0, "warning": 0})
    );
    assert_eq!(e3["servicePlans"].as_array().unwrap().len(), 37);
    assert_eq!(e3["subscriptionIds"].as_array().unwrap().len(), 1);
    let e5 = skus.iter().find(|s| s["skuPartNumber"] == "SPE_E5").unwrap();
    assert_eq!(e5["prepaidUnits"]["warning"], 2);
    assert_eq!(e5["consumedUnits"], 1);
    // Views agree: consumedUnits is the number of users whose assignedLicenses hold the SKU.
    let (users, _) = app
        .collect_all("/v1.0/users?$select=assignedLicenses&$top=999", &app.token)
        .await;
    for s in skus {
        let holders = users
            .iter()
            .filter(|u| {
                u["assignedLicenses"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|l| l["skuId"] == s["skuId"])
            })
            .count();
        assert_eq!(s["consumedUnits"], holders, "{}", s["skuPartNumber"]);
    }
});

e2e!(subscribed_sku_by_id_and_select, |app| {
    let one = app
        .get(&format!("/v1.0/subscribedSkus/{DEMO_TENANT}_{EMS}"))
        .await
        .ok();
    assert_eq!(one["skuPartNumber"], "EMS");
    assert!(
        one["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#subscribedSkus/$entity")
    );
    let sel = app
        .get("/v1.0/subscribedSkus?$select=skuPartNumber,consumedUnits")
        .await
        .ok();
    assert!(
        sel["value"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.as_object().unwrap().len() == 2)
    );
    assert!(
        sel["@odata.context"]
            .as_str()
            .unwrap()
            .ends_with("$metadata#subscribedSkus(skuPartNumber,consumedUnits)")
    );
    app.get(&format!(
        "/v1.0/subscribedSkus/{DEMO_TENANT}_{}",
        "00000000-0000-4000-8000-000000000001"
    ))
    .await
    .graph_error(404, "Request_ResourceNotFound");
    app.get("/v1.0/subscribedSkus?$filter=skuId eq 1")
        .await
        .graph_error(400, "Request_UnsupportedQuery");
    app.get("/v1.0/subscribedSkus?$select=nope")
        .await
        .graph_error(400, "Request_BadRequest");
});

e2e!(repeated_slashes_in_a_path_read_as_one, |app| {
    // The Python Graph SDK at its default base URL asks for `/v1.0//subscribedSkus`.
    let r = app.get("/v1.0//subscribedSkus?$select=skuId").await;
    let v = r.ok();
    assert!(v["value"].as_array().is_some_and(|a| !a.is_empty()), "{v}");
    assert_eq!(
        v["@odata.context"],
        format!("{}/v1.0/$metadata#subscribedSkus(skuId)", app.base)
    );
});
