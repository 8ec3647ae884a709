//! Partner Center access: customers are the partner's relationships, the tokens it refuses, the
//! GDAP roles that decide what a partner may do.

use allot_server::auth::tokens::PARTNER_CENTER_RESOURCE;
use reqwest::Method;
use serde_json::json;

use crate::e2e;
use crate::helpers::*;

use super::*;

e2e!(customers_are_the_partners_relationships, |app| {
    let token = pc_token(&app).await;
    let c = claims(&token);
    assert_eq!(c["aud"], PARTNER_CENTER_RESOURCE);
    assert_eq!(c["scp"], "user_impersonation");
    assert!(c["amr"].as_array().unwrap().iter().any(|m| m == "mfa"));
    let r = pc_get(&app, "/v1/customers", &token).await;
    let v = r.ok();
    assert_eq!(v["totalCount"], 1);
    assert_eq!(v["attributes"]["objectType"], "Collection");
    assert!(v.get("continuationToken").is_none() && v["links"].get("next").is_none());
    let c = &v["items"][0];
    assert_eq!(c["id"], DEMO_TENANT);
    assert_eq!(c["companyProfile"]["tenantId"], DEMO_TENANT);
    assert_eq!(c["companyProfile"]["domain"], "contoso.example");
    assert_eq!(c["relationshipToPartner"], "reseller");
    assert_eq!(c["attributes"]["objectType"], "Customer");
    assert_eq!(c["links"]["self"]["uri"], format!("/customers/{DEMO_TENANT}"));
    let r = pc_get(&app, &customers_path(), &token).await;
    let one = r.ok();
    assert_eq!(one["companyProfile"]["companyName"], "Contoso (Allot demo)");
    assert_eq!(one["allowDelegatedAccess"], true);
    // Trailing slashes work as the SDK sends them.
    assert_eq!(pc_get(&app, "/v1/customers/", &token).await.status, 200);
    // Not a GUID, no such tenant, no relationship (the partner itself).
    pc_error(
        &pc_get(&app, "/v1/customers/not-a-guid", &token).await,
        400,
        900_118,
    );
    pc_error(
        &pc_get(&app, "/v1/customers/11111111-2222-3333-4444-555555555555", &token).await,
        404,
        60003,
    );
    pc_error(
        &pc_get(
            &app,
            "/v1/customers/5a1d0000-c0de-4c0e-a000-000000000002/users",
            &token,
        )
        .await,
        403,
        20002,
    );
});

e2e!(tokens_that_partner_center_refuses, |app| {
    let users = format!("{}/users", customers_path());
    let skus = format!("{}/subscribedskus", customers_path());
    // No token at all, a Graph token, a malformed one.
    let r = app.send(Method::GET, &users, None, None).await;
    pc_error(&r, 401, 800_001);
    pc_error(&pc_get(&app, &users, &app.token).await, 401, 900_420);
    pc_error(&pc_get(&app, &users, "not.a.token").await, 401, 400);
    // App-only Partner Center tokens: seed 002's 900316 on license management, 403 elsewhere.
    let r = app
        .token_request(
            "partner.example",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", PARTNER_APP),
                ("client_secret", PARTNER_SECRET),
                ("scope", "https://api.partnercenter.microsoft.com/.default"),
            ],
        )
        .await;
    let app_only = r.ok()["access_token"].as_str().unwrap().to_owned();
    let v = pc_error(&pc_get(&app, &skus, &app_only).await, 400, 900_316);
    assert_eq!(
        v,
        json!({
            "code": 900316,
            "description": "Partner token is not allowed in license management calls. Please call with Partner Access Token. To learn more, see https://learn.microsoft.com/partner-center/developer/enable-secure-app-model#get-access-token",
            "source": "PartnerFD"
        })
    );
    let v = pc_error(&pc_get(&app, &users, &app_only).await, 403, 900_150);
    assert_eq!(
        v["description"],
        "This resource can't be accessed by application credentials."
    );
    // An App+User token without an MFA sign-in (2026 enforcement).
    let store = &app.state.store;
    let partner = store.find_tenant("partner.example").await.unwrap().unwrap();
    let papp = store
        .app(allot_core::ids::AppId::parse(PARTNER_APP).unwrap())
        .await
        .unwrap()
        .unwrap();
    let user = store
        .user_by_upn(partner.id, "admin@partner.example")
        .await
        .unwrap()
        .unwrap();
    let mut c = app
        .state
        .tokens
        .base_claims(partner.id, &papp, PARTNER_CENTER_RESOURCE);
    c.oid = user.id.to_string();
    c.sub = user.id.to_string();
    c.idtyp = "user".into();
    c.scp = Some("user_impersonation".into());
    let no_mfa = app.state.tokens.sign(&c).unwrap();
    pc_error(&pc_get(&app, &users, &no_mfa).await, 401, 900_421);
    // A Partner Center token is no Graph token.
    let pc_tok = pc_token(&app).await;
    app.send(Method::GET, "/v1.0/users", Some(&pc_tok), None)
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    // An app without user_impersonation cannot get a Partner Center user token.
    let r = app
        .token_request(
            DEMO_TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", READONLY_APP),
                ("client_secret", READONLY_SECRET),
                ("username", "admin@contoso.example"),
                ("password", DEMO_PASSWORD),
                ("scope", PC_SCOPE),
            ],
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.text);
    assert_eq!(r.json()["error_codes"][0], 65001);
});

e2e!(gdap_roles_decide_what_a_partner_may_do, |app| {
    // The seed partner holds License Administrator and Directory Readers only.
    let s = seed(&app).await;
    let base = format!("/v1/customers/{}", s.customer);
    assert_eq!(pc_get(&app, &format!("{base}/users"), &s.token).await.status, 200);
    assert_eq!(
        pc_get(&app, &format!("{base}/subscribedskus"), &s.token)
            .await
            .status,
        200
    );
    assert_eq!(
        pc_get(
            &app,
            &format!("{base}/users/newhire@seedcustomer.example/directoryroles"),
            &s.token
        )
        .await
        .status,
        200
    );
    let create = json!({
        "userPrincipalName": "x@seedcustomer.example",
        "displayName": "X",
        "passwordProfile": {"password": "P@ssw0rd!", "forceChangePassword": false}
    });
    pc_error(
        &pc(
            &app,
            Method::POST,
            &format!("{base}/users"),
            &s.token,
            Some(create),
            &[],
        )
        .await,
        403,
        900_150,
    );
    pc_error(
        &pc(
            &app,
            Method::DELETE,
            &format!("{base}/users/newhire@seedcustomer.example"),
            &s.token,
            None,
            &[],
        )
        .await,
        403,
        900_150,
    );
    pc_error(
        &pc(
            &app,
            Method::PATCH,
            &format!("{base}/users/newhire@seedcustomer.example"),
            &s.token,
            Some(json!({"passwordProfile": {"password": "N3w-pass!"}})),
            &[],
        )
        .await,
        403,
        900_150,
    );
    // The demo partner has no relationship with the seed customer.
    let demo = pc_token(&app).await;
    pc_error(&pc_get(&app, &format!("{base}/users"), &demo).await, 403, 20002);
    // And the seed partner none with Contoso: it sees only its own customer.
    let v = pc_get(&app, "/v1/customers", &s.token).await.ok();
    assert_eq!(v["totalCount"], 1);
    assert_eq!(v["items"][0]["id"], s.customer.as_str());
    pc_error(
        &pc_get(&app, &format!("{}/users", customers_path()), &s.token).await,
        403,
        20002,
    );
});
