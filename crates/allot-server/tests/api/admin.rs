//! The admin API under `/_allot/`.

use reqwest::Method;
use serde_json::json;

use crate::e2e;
use crate::helpers::*;

e2e!(admin_api_needs_its_key, |app| {
    let r = read(app.client.get(app.url("/_allot/tenants")).send().await.unwrap()).await;
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["error"]["code"], "unauthorized");
    let r = read(
        app.client
            .get(app.url("/_allot/tenants"))
            .header("x-allot-admin-key", "wrong")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
    let r = read(
        app.client
            .get(app.url("/_allot/tenants"))
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let v = r.ok();
    assert_eq!(v["value"][0]["defaultDomain"], "contoso.example");
    // A Graph token is not an admin key.
    let r = read(
        app.client
            .get(app.url("/_allot/tenants"))
            .bearer_auth(&app.token)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 401);
});

e2e!(create_a_tenant_from_a_file_twice_changes_nothing, |app| {
    let file = "tenants:\n  - displayName: Tailspin\n    defaultDomain: tailspin.example\n    subscriptions: [{sku: EMS, enabled: 3}]\n    users: [{userPrincipalName: t@tailspin.example, displayName: T, usageLocation: FR, licenses: [{sku: EMS}]}]\n";
    let r = app
        .admin(Method::POST, "/_allot/tenants", Some(file.into()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
    assert!(r.json()["created"].as_u64().unwrap() >= 3);
    let again = app
        .admin(Method::POST, "/_allot/tenants", Some(file.into()))
        .await
        .ok();
    assert_eq!(
        (again["created"].as_u64(), again["updated"].as_u64()),
        (Some(0), Some(0)),
        "{again}"
    );
    let list = app.admin(Method::GET, "/_allot/tenants", None).await.ok();
    assert_eq!(
        list["value"].as_array().unwrap().len(),
        3,
        "the two demo tenants and the new one"
    );
    let bad = app
        .admin(
            Method::POST,
            "/_allot/tenants",
            Some("tenants: [{displayName: X}]".into()),
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["error"]["code"], "invalidTenantFile");
    let bad_sku = app
        .admin(
            Method::POST,
            "/_allot/tenants",
            Some(
                "tenants: [{displayName: X, defaultDomain: x.example, subscriptions: [{sku: NOPE}]}]".into(),
            ),
        )
        .await;
    assert!(
        bad_sku.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("NOPE")
    );
});

e2e!(reset_brings_the_tenant_back_to_its_seed, |app| {
    let before = app.consumed(E3).await;
    let id = app.create_user("reset1", Some("US")).await;
    app.post(
        &format!("/v1.0/users/{id}/assignLicense"),
        json!({"addLicenses": [{"skuId": E3}], "removeLicenses": []}),
    )
    .await
    .ok();
    app.delete("/v1.0/users/adelev@contoso.example").await.ok();
    let r = app
        .admin(Method::POST, "/_allot/tenants/contoso.example/reset", None)
        .await;
    r.ok();
    assert_eq!(app.consumed(E3).await, before);
    app.get("/v1.0/users/reset1@contoso.example")
        .await
        .graph_error(404, "Request_ResourceNotFound");
    assert_eq!(app.get("/v1.0/users/adelev@contoso.example").await.status, 200);
    assert_eq!(
        app.admin(Method::POST, "/_allot/tenants/nowhere.example/reset", None)
            .await
            .status,
        404
    );
});

/// The demo tenant's subscription of `sku`, as the admin API lists it.
async fn subscription_of(app: &TestApp, sku: &str) -> serde_json::Value {
    let subs = app
        .admin(
            Method::GET,
            &format!("/_allot/tenants/{DEMO_TENANT}/subscriptions"),
            None,
        )
        .await
        .ok();
    subs["value"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["skuId"] == sku)
        .unwrap()
        .clone()
}

e2e!(
    changing_units_shows_in_subscribed_skus_and_limits_assignment,
    |app| {
        let pbi = subscription_of(&app, PBI).await;
        let sid = pbi["id"].as_str().unwrap();
        let r = app
            .admin(
                Method::PATCH,
                &format!("/_allot/tenants/contoso.example/subscriptions/{sid}"),
                Some(r#"{"enabled": 2, "warning": 1}"#.into()),
            )
            .await;
        assert_eq!(r.ok()["enabled"], 2);
        let skus = app.get("/v1.0/subscribedSkus").await.ok();
        let s = skus["value"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["skuId"] == PBI)
            .unwrap()
            .clone();
        assert_eq!(
            s["prepaidUnits"],
            json!({"enabled": 2, "warning": 1, "suspended": 0, "lockedOut": 0})
        );
        // 2 units, 2 used: the next assignment is refused.
        let id = app.create_user("units1", Some("US")).await;
        app.post(
            &format!("/v1.0/users/{id}/assignLicense"),
            json!({"addLicenses": [{"skuId": PBI}], "removeLicenses": []}),
        )
        .await
        .graph_error(400, "Request_BadRequest");
        let bad = app
            .admin(
                Method::PATCH,
                &format!("/_allot/tenants/contoso.example/subscriptions/{sid}"),
                Some(r#"{"enabled": -1}"#.into()),
            )
            .await;
        assert_eq!(bad.status, 400);
        let missing = app
            .admin(
                Method::PATCH,
                "/_allot/tenants/contoso.example/subscriptions/00000000-0000-4000-8000-000000000000",
                Some("{}".into()),
            )
            .await;
        assert_eq!(missing.status, 404);
    }
);

/// The process's peak resident memory (`VmHWM`), in kB.
fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

e2e!(a_yaml_bomb_is_refused_without_blowing_up_memory, |app| {
    // Nine levels of nine aliases of a 4 KB leaf: about 49 KB of text that stands for
    // 9^9 copies of the leaf (terabytes once expanded).
    let leaf = "lol ".repeat(1024);
    let mut yaml = format!("tenants: []\nx0: &x0 \"{leaf}\"\n");
    for i in 1..10 {
        let refs: Vec<String> = (0..9).map(|_| format!("*x{}", i - 1)).collect();
        yaml.push_str(&format!("x{i}: &x{i} [{}]\n", refs.join(", ")));
    }
    let before = peak_rss_kb();
    let started = std::time::Instant::now();
    let r = app.admin(Method::POST, "/_allot/tenants", Some(yaml)).await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert!(r.text.contains("expands far beyond"), "{}", r.text);
    let grown_mb = (peak_rss_kb().saturating_sub(before)) / 1024;
    eprintln!(
        "YAML bomb: 400 in {:?}, peak memory grew by {grown_mb} MB",
        started.elapsed()
    );
    assert!(grown_mb < 50, "peak memory grew by {grown_mb} MB");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    // The server is fine.
    assert_eq!(app.get("/v1.0/users?$top=1").await.status, 200);
});

e2e!(
    a_tenant_file_updates_what_it_names_and_leaves_alone_what_it_omits,
    |app| {
        // A user made through Graph, then named by a tenant file: the file updates it.
        let id = app.create_user("graphmade", None).await;
        let file = "tenants:\n  - displayName: Contoso\n    defaultDomain: contoso.example\n    id: 5a1d0000-c0de-4c0e-a000-000000000001\n    users:\n      - {userPrincipalName: GraphMade@contoso.example, displayName: Named By File, usageLocation: DE}\n";
        let r = app
            .admin(Method::POST, "/_allot/tenants", Some(file.into()))
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        let u = app
            .get(&format!("/v1.0/users/{id}?$select=id,displayName,usageLocation"))
            .await
            .ok();
        assert_eq!(
            (&u["displayName"], &u["usageLocation"]),
            (&json!("Named By File"), &json!("DE"))
        );
        // A partner file without `customers:` keeps the partner's relationships.
        let partner = "tenants:\n  - displayName: Fabrikam Partner (Allot demo)\n    defaultDomain: partner.example\n    id: 5a1d0000-c0de-4c0e-a000-000000000002\n";
        let r = app
            .admin(Method::POST, "/_allot/tenants", Some(partner.into()))
            .await;
        assert!(r.status.is_success(), "{}", r.text);
        let pc = crate::partner::pc_token(&app).await;
        let customers = app.as_caller(pc).get("/v1/customers").await.ok();
        assert_eq!(customers["totalCount"], 1, "{customers}");
    }
);

e2e!(units_lowered_below_consumption_are_a_legal_state, |app| {
    let e3 = subscription_of(&app, E3).await;
    let consumed = app.consumed(E3).await;
    assert!(consumed > 2);
    let r = app
        .admin(
            Method::PATCH,
            &format!(
                "/_allot/tenants/contoso.example/subscriptions/{}",
                e3["id"].as_str().unwrap()
            ),
            Some(r#"{"enabled": 2, "warning": 0}"#.into()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    // Every view shows it; no new assignment passes; allot check reports it without failing.
    assert_eq!(app.consumed(E3).await, consumed);
    let id = app.create_user("over", Some("US")).await;
    app.post(
        &format!("/v1.0/users/{id}/assignLicense"),
        json!({"addLicenses": [{"skuId": E3, "disabledPlans": []}], "removeLicenses": []}),
    )
    .await
    .graph_error(400, "Request_BadRequest");
    let report = app.state.store.check().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    assert!(
        report.warnings.iter().any(|w| w.contains("over-consumed")),
        "{:?}",
        report.warnings
    );
});
