//! MS-RequestId replays, the Partner Center error surface, throttling, the secure application
//! model, and paging through many customers.

use allot_core::tenant_file::TenantFile;
use reqwest::Method;
use serde_json::json;

use crate::e2e;
use crate::helpers::*;

use super::*;

e2e!(a_repeated_request_id_replays_the_first_answer, |app| {
    let token = pc_token(&app).await;
    let users = format!("{}/users", customers_path());
    let body = json!({"userPrincipalName": "once@contoso.example", "displayName": "Once", "usageLocation": "US", "passwordProfile": {"password": "Pa55w0rd!"}});
    let rid = [("MS-RequestId", "6f2a0e5c-6a47-4a44-9d0e-3c3f0b2a4d11")];
    let first = pc(&app, Method::POST, &users, &token, Some(body.clone()), &rid).await;
    assert_eq!(first.status, 201, "{}", first.text);
    let again = pc(&app, Method::POST, &users, &token, Some(body.clone()), &rid).await;
    assert_eq!((again.status.as_u16(), again.json()), (201, first.json()));
    assert_eq!(
        again.headers["ms-requestid"],
        "6f2a0e5c-6a47-4a44-9d0e-3c3f0b2a4d11"
    );
    // Without the id it is a new request (and the UPN is taken).
    pc_error(
        &pc(&app, Method::POST, &users, &token, Some(body), &[]).await,
        400,
        800_002,
    );
    // The same id on another request is refused.
    let other = json!({"userPrincipalName": "twice@contoso.example", "displayName": "Twice", "passwordProfile": {"password": "Pa55w0rd!"}});
    pc_error(
        &pc(&app, Method::POST, &users, &token, Some(other), &rid).await,
        400,
        800_002,
    );
    // License updates: a retried assignment takes one unit, concurrent retries included.
    let id = first.json()["id"].as_str().unwrap().to_owned();
    let before = app.consumed(PBI).await;
    let update = format!("{users}/{id}/licenseupdates");
    let lic = json!({"licensesToAssign": [{"skuId": PBI}]});
    let rid = [("MS-RequestId", "0b7e39a4-5e54-4c1f-8f43-2b8a3e1c9d20")];
    let (a, b) = tokio::join!(
        pc(&app, Method::POST, &update, &token, Some(lic.clone()), &rid),
        pc(&app, Method::POST, &update, &token, Some(lic.clone()), &rid),
    );
    assert_eq!(
        (a.status.as_u16(), b.status.as_u16()),
        (201, 201),
        "{} / {}",
        a.text,
        b.text
    );
    assert_eq!(a.json(), b.json());
    assert_eq!(app.consumed(PBI).await, before + 1);
});

/// A partner whose relationship with Contoso gives License Administrator to `roles_to` only.
fn two_user_partner(roles_to: &str) -> String {
    format!(
        r"
tenants:
  - displayName: Replay Partner
    defaultDomain: replay.example
    apps:
      - clientId: 5a1d0000-c0de-4a99-a000-0000000000e1
        displayName: Replay partner app
        clientSecret: replay-secret
        delegatedScopes: [user_impersonation]
    users:
      - {{userPrincipalName: ann@replay.example, displayName: Ann, password: {DEMO_PASSWORD}}}
      - {{userPrincipalName: bob@replay.example, displayName: Bob, password: {DEMO_PASSWORD}}}
    customers:
      - tenant: contoso.example
        roles: [License Administrator, Directory Readers]
        users: [{roles_to}]
"
    )
}

e2e!(a_replay_is_the_callers_own_and_comes_after_authorization, |app| {
    let put = |file: String| async {
        let r = app.admin(Method::POST, "/_allot/tenants", Some(file)).await;
        assert!(r.status.is_success(), "{}", r.text);
    };
    put(two_user_partner("ann@replay.example")).await;
    let token = |upn: &'static str| {
        pc_token_for(
            &app,
            "replay.example",
            "5a1d0000-c0de-4a99-a000-0000000000e1",
            "replay-secret",
            upn,
        )
    };
    let (ann, bob) = (
        token("ann@replay.example").await,
        token("bob@replay.example").await,
    );
    let target = app.create_user("replayed", Some("US")).await;
    let update = format!("{}/users/{target}/licenseupdates", customers_path());
    let lic = json!({"licensesToAssign": [{"skuId": PBI}]});
    let rid = [("MS-RequestId", "4c3b2a19-0000-4000-8000-00000000beef")];
    let before = app.consumed(PBI).await;
    let first = pc(&app, Method::POST, &update, &ann, Some(lic.clone()), &rid).await;
    assert_eq!(first.status, 201, "{}", first.text);
    // Another user of the same partner, without a GDAP role, repeats the id: refused by its
    // own authorization, never handed Ann's answer.
    let stolen = pc(&app, Method::POST, &update, &bob, Some(lic.clone()), &rid).await;
    pc_error(&stolen, 403, 900_150);
    assert!(!stolen.text.contains("licensesToAssign"), "{}", stolen.text);
    // Ann's own retry is the first answer again, and takes no second unit.
    let again = pc(&app, Method::POST, &update, &ann, Some(lic.clone()), &rid).await;
    assert_eq!((again.status.as_u16(), again.json()), (201, first.json()));
    assert_eq!(app.consumed(PBI).await, before + 1);
    // Once Ann has lost the role, her retry is refused too (authorization comes first).
    put(two_user_partner("bob@replay.example")).await;
    let revoked = pc(&app, Method::POST, &update, &ann, Some(lic), &rid).await;
    pc_error(&revoked, 403, 900_150);
});

e2e!(every_failure_under_v1_is_a_partner_center_error, |app| {
    let token = pc_token(&app).await;
    let r = pc_get(&app, "/v1/customers/x/nothing/here", &token).await;
    pc_error(&r, 404, 1000);
    let r = pc(
        &app,
        Method::PUT,
        &format!("{}/users", customers_path()),
        &token,
        Some(json!({})),
        &[],
    )
    .await;
    assert_eq!(r.status, 405, "{}", r.text);
    assert_eq!(r.json()["source"], "PartnerFD");
    let r = app
        .client
        .post(app.url(&format!("{}/users", customers_path())))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    pc_error(&read(r).await, 400, 800_002);
    let huge = "x".repeat(100 * 1024);
    let r = app
        .client
        .post(app.url(&format!("{}/users", customers_path())))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body(format!("{{\"displayName\":\"{huge}\"}}"))
        .send()
        .await
        .unwrap();
    pc_error(&read(r).await, 413, 800_002);
    // The ids are echoed, or made up when the client sent none.
    let r = pc_get(&app, "/v1/customers", &token).await;
    let rid = r.headers["ms-requestid"].to_str().unwrap();
    assert!(uuid::Uuid::parse_str(rid).is_ok(), "{rid}");
    // Graph's /v1.0 is not Partner Center's /v1.
    app.get("/v1.0/nothing")
        .await
        .graph_error(404, "Request_ResourceNotFound");
});

e2e!(
    an_armed_throttle_answers_429_with_retry_after_on_both_surfaces,
    |app| {
        let token = pc_token(&app).await;
        let r = app
            .admin(
                Method::PUT,
                "/_allot/tenants/partner.example/throttle",
                Some(r#"{"requests": 2, "retryAfterSeconds": 7}"#.into()),
            )
            .await;
        assert_eq!(r.ok(), json!({"requests": 2, "retryAfterSeconds": 7}));
        for _ in 0..2 {
            let r = pc(
                &app,
                Method::GET,
                "/v1/customers",
                &token,
                None,
                &[("MS-RequestId", "r-429")],
            )
            .await;
            assert_eq!(r.status, 429, "{}", r.text);
            assert_eq!(r.headers["retry-after"], "7");
            assert_eq!(r.headers["ms-requestid"], "r-429");
            assert_eq!(
                r.json(),
                json!({"statusCode": 429, "message": "Rate limit is exceeded. Try again in 7 seconds."})
            );
        }
        assert_eq!(pc_get(&app, "/v1/customers", &token).await.status, 200);
        // Graph, for the customer tenant: its own error shape; other tenants are not affected.
        let r = app
            .admin(
                Method::PUT,
                "/_allot/tenants/contoso.example/throttle",
                Some(r#"{"requests": 1}"#.into()),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        pc_get(&app, "/v1/customers", &token).await.ok();
        let r = app.get("/v1.0/subscribedSkus").await;
        r.graph_error(429, "TooManyRequests");
        assert_eq!(r.headers["retry-after"], "1");
        app.get("/v1.0/subscribedSkus").await.ok();
        // Cleared before use.
        app.admin(
            Method::PUT,
            "/_allot/tenants/contoso.example/throttle",
            Some(r#"{"requests": 5}"#.into()),
        )
        .await
        .ok();
        let r = app
            .admin(Method::DELETE, "/_allot/tenants/contoso.example/throttle", None)
            .await;
        assert_eq!(r.status, 204);
        app.get("/v1.0/subscribedSkus").await.ok();
        let bad = app
            .admin(
                Method::PUT,
                "/_allot/tenants/contoso.example/throttle",
                Some(r#"{"requests": -1}"#.into()),
            )
            .await;
        assert_eq!(bad.status, 400, "{}", bad.text);
    }
);

e2e!(
    the_secure_application_model_trades_refresh_tokens_for_access_tokens,
    |app| {
        // Sign in once with offline_access, then trade the refresh token, as partner tooling does.
        let r = app
            .token_request(
                "partner.example",
                &[
                    ("grant_type", "password"),
                    ("client_id", PARTNER_APP),
                    ("client_secret", PARTNER_SECRET),
                    ("username", "admin@partner.example"),
                    ("password", DEMO_PASSWORD),
                    (
                        "scope",
                        "https://api.partnercenter.microsoft.com/user_impersonation offline_access",
                    ),
                ],
            )
            .await;
        let refresh = r.ok()["refresh_token"]
            .as_str()
            .expect("refresh_token")
            .to_owned();
        let trade = |scope: &'static str, client: &'static str, token: String| {
            let app = &app;
            async move {
                app.token_request(
                    "partner.example",
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", client),
                        ("client_secret", PARTNER_SECRET),
                        ("refresh_token", &token),
                        ("scope", scope),
                    ],
                )
                .await
            }
        };
        let r = trade(PC_SCOPE, PARTNER_APP, refresh.clone()).await;
        let v = r.ok();
        let access = v["access_token"].as_str().unwrap().to_owned();
        assert!(
            v["refresh_token"].as_str().is_some_and(|t| t != refresh),
            "rotated"
        );
        assert_eq!(
            v["scope"],
            "https://api.partnercenter.microsoft.com/user_impersonation"
        );
        assert_eq!(pc_get(&app, "/v1/customers", &access).await.status, 200);
        // The same refresh token for Graph (the app's Graph scope).
        let v = trade(
            "https://graph.microsoft.com/.default",
            PARTNER_APP,
            refresh.clone(),
        )
        .await
        .ok();
        let graph = v["access_token"].as_str().unwrap().to_owned();
        assert_eq!(claims(&graph)["scp"], "User.Read");
        assert_eq!(
            app.send(Method::GET, "/v1.0/me", Some(&graph), None).await.ok()["userPrincipalName"],
            "admin@partner.example"
        );
        // Refused: garbage, a token of another client, a refresh token used as an access token.
        let r = trade(PC_SCOPE, PARTNER_APP, "garbage".into()).await;
        assert_eq!(
            (r.status.as_u16(), r.json()["error_codes"][0].as_u64()),
            (400, Some(9_002_313))
        );
        let r = trade(PC_SCOPE, DEMO_APP, refresh.clone()).await;
        assert_eq!(r.status, 400, "{}", r.text);
        pc_error(&pc_get(&app, "/v1/customers", &refresh).await, 401, 400);
        // Without offline_access there is no refresh token.
        let r = app
            .token_request(
                "partner.example",
                &[
                    ("grant_type", "password"),
                    ("client_id", PARTNER_APP),
                    ("client_secret", PARTNER_SECRET),
                    ("username", "admin@partner.example"),
                    ("password", DEMO_PASSWORD),
                    ("scope", PC_SCOPE),
                ],
            )
            .await;
        assert!(r.ok().get("refresh_token").is_none());
    }
);

e2e!(a_partner_with_many_customers_pages_through_them, |app| {
    let mut yaml = String::from("tenants:\n");
    for i in 0..5 {
        yaml.push_str(&format!(
            "  - {{displayName: Customer {i}, defaultDomain: c{i}.example}}\n"
        ));
    }
    yaml.push_str(
        "  - displayName: Big Partner\n    defaultDomain: bigpartner.example\n    apps: [{clientId: 5a1d0000-c0de-4a99-a000-00000000b002, displayName: p, clientSecret: s, delegatedScopes: [user_impersonation]}]\n    users: [{userPrincipalName: a@bigpartner.example, displayName: A, password: allot-demo-password}, {userPrincipalName: b@bigpartner.example, displayName: B, password: allot-demo-password}]\n    customers:\n",
    );
    for i in 0..5 {
        // Customer 4's roles go to user b only.
        let users = if i == 4 {
            ", users: [b@bigpartner.example]"
        } else {
            ""
        };
        yaml.push_str(&format!(
            "      - {{tenant: c{i}.example, roles: [Directory Readers]{users}}}\n"
        ));
    }
    let file = TenantFile::parse(&yaml).expect("file");
    app.state.store.apply_tenant_file(&file).await.expect("seeded");
    let token = pc_token_for(
        &app,
        "bigpartner.example",
        "5a1d0000-c0de-4a99-a000-00000000b002",
        "s",
        "a@bigpartner.example",
    )
    .await;
    let mut ids = Vec::new();
    let mut r = pc_get(&app, "/v1/customers?size=2", &token).await.ok();
    loop {
        ids.extend(
            r["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| c["id"].as_str().unwrap().to_owned()),
        );
        let Some(next) = r["links"].get("next").cloned() else {
            break;
        };
        let t = next["headers"][0]["value"].as_str().unwrap().to_owned();
        r = pc(
            &app,
            Method::GET,
            &format!("/v1{}", next["uri"].as_str().unwrap()),
            &token,
            None,
            &[("MS-ContinuationToken", &t)],
        )
        .await
        .ok();
    }
    let expected: Vec<String> = (0..4).map(|i| file.tenants[i].tenant_id().to_string()).collect();
    let mut sorted = expected.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "user a sees customers 0-3 in id order, page by page");
    let c4 = file.tenants[4].tenant_id();
    pc_error(
        &pc_get(&app, &format!("/v1/customers/{c4}"), &token).await,
        403,
        900_150,
    );
    let b = pc_token_for(
        &app,
        "bigpartner.example",
        "5a1d0000-c0de-4a99-a000-00000000b002",
        "s",
        "b@bigpartner.example",
    )
    .await;
    assert_eq!(pc_get(&app, "/v1/customers", &b).await.ok()["totalCount"], 5);
    assert_eq!(pc_get(&app, &format!("/v1/customers/{c4}"), &b).await.status, 200);
});
