//! The token issuer and authentication/authorization on every Graph call.

use allot_server::auth::tokens::GRAPH_RESOURCE;
use reqwest::Method;
use serde_json::json;

use crate::e2e;
use crate::helpers::*;

const OTHER_TENANT: &str = r"
tenants:
  - displayName: Fabrikam
    defaultDomain: fabrikam.example
    subscriptions: [{sku: EMS, enabled: 5}]
    apps:
      - clientId: fab00000-0000-4000-8000-000000000001
        displayName: Fabrikam app
        clientSecret: fab-secret
        applicationPermissions: [Directory.ReadWrite.All, LicenseAssignment.ReadWrite.All]
    users:
      - {userPrincipalName: fay@fabrikam.example, displayName: Fay, usageLocation: US}
";

e2e!(client_credentials_tokens_carry_entras_claims, |app| {
    let c = claims(&app.token);
    assert_eq!(c["aud"], GRAPH_RESOURCE);
    assert_eq!(c["tid"], DEMO_TENANT);
    assert_eq!(c["appid"], DEMO_APP);
    assert_eq!(c["idtyp"], "app");
    assert!(
        c["iss"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{DEMO_TENANT}/v2.0"))
    );
    assert!(
        c["roles"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r == "LicenseAssignment.ReadWrite.All")
    );
    assert!(c.get("scp").is_none());
    let (iat, nbf, exp) = (
        c["iat"].as_i64().unwrap(),
        c["nbf"].as_i64().unwrap(),
        c["exp"].as_i64().unwrap(),
    );
    assert!(nbf <= iat && exp - iat == 3600);
    // The tenant may be named by domain; the response has Entra's shape.
    let r = app
        .token_request(
            "contoso.example",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    let v = r.ok();
    assert_eq!(v["token_type"], "Bearer");
    assert_eq!(v["expires_in"], 3599);
    // HTTP Basic client authentication works too.
    let r = app
        .client
        .post(app.url(&format!("/{DEMO_TENANT}/oauth2/v2.0/token")))
        .basic_auth(DEMO_APP, Some(DEMO_SECRET))
        .form(&[
            ("grant_type", "client_credentials"),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
});

e2e!(token_endpoint_refusals_use_aadsts_codes, |app| {
    let base = [
        ("grant_type", "client_credentials"),
        ("client_id", DEMO_APP),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, u16, &'a str, u64);
    let cases: Vec<Case<'_>> = vec![
        (
            DEMO_TENANT,
            [&base[..], &[("client_secret", "wrong")]].concat(),
            401,
            "invalid_client",
            7_000_215,
        ),
        (DEMO_TENANT, base.to_vec(), 401, "invalid_client", 7_000_218),
        (
            "nowhere.example",
            [&base[..], &[("client_secret", DEMO_SECRET)]].concat(),
            400,
            "invalid_tenant",
            90002,
        ),
        (
            DEMO_TENANT,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "99999999-0000-4000-8000-000000000000"),
                ("client_secret", "x"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
            400,
            "unauthorized_client",
            700_016,
        ),
        (
            DEMO_TENANT,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
                ("scope", "User.Read"),
            ],
            400,
            "invalid_scope",
            1_002_012,
        ),
        (
            DEMO_TENANT,
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
                ("scope", "https://unknown.example/.default"),
            ],
            400,
            "invalid_resource",
            500_011,
        ),
        (
            DEMO_TENANT,
            vec![
                ("grant_type", "urn:ietf:params:oauth:grant-type:saml1_1-bearer"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
            ],
            400,
            "unsupported_grant_type",
            70003,
        ),
        (
            DEMO_TENANT,
            vec![
                ("grant_type", "authorization_code"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
            ],
            400,
            "invalid_request",
            900_144,
        ),
        (
            DEMO_TENANT,
            vec![
                ("grant_type", "password"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
                ("username", "admin@contoso.example"),
                ("password", "nope"),
            ],
            400,
            "invalid_grant",
            50126,
        ),
        (
            DEMO_TENANT,
            vec![
                ("grant_type", "password"),
                ("client_id", DEMO_APP),
                ("username", "admin@contoso.example"),
                ("password", DEMO_PASSWORD),
            ],
            401,
            "invalid_client",
            7_000_218,
        ),
    ];
    for (tenant, form, status, error, code) in cases {
        let r = app.token_request(tenant, &form).await;
        assert_eq!(r.status.as_u16(), status, "{form:?}: {}", r.text);
        let v = r.json();
        assert_eq!(v["error"], error, "{}", r.text);
        assert_eq!(v["error_codes"], json!([code]), "{}", r.text);
        assert!(
            v["error_description"]
                .as_str()
                .unwrap()
                .starts_with(&format!("AADSTS{code}: "))
        );
    }
    // The app of another tenant cannot get a token here.
    app.admin(Method::POST, "/_allot/tenants", Some(OTHER_TENANT.into()))
        .await
        .ok();
    let r = app
        .token_request(
            DEMO_TENANT,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "fab00000-0000-4000-8000-000000000001"),
                ("client_secret", "fab-secret"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_eq!(r.json()["error_codes"], json!([700_016]));
});

e2e!(password_grant_gives_delegated_tokens_with_roles, |app| {
    let t = app.user_token("admin@contoso.example").await;
    let c = claims(&t);
    assert_eq!(c["idtyp"], "user");
    assert_eq!(c["upn"], "admin@contoso.example");
    assert!(
        c["scp"]
            .as_str()
            .unwrap()
            .split(' ')
            .any(|s| s == "User.ReadWrite.All")
    );
    assert_eq!(c["wids"], json!(["62e90394-69f5-4237-9190-012177145e10"]));
    // Asking for specific scopes gives just those; an ungranted one is refused.
    let r = app
        .token_request(
            DEMO_TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
                ("username", "adelev@contoso.example"),
                ("password", DEMO_PASSWORD),
                ("scope", "User.Read openid"),
            ],
        )
        .await;
    let v = r.ok();
    assert_eq!(claims(v["access_token"].as_str().unwrap())["scp"], "User.Read");
    let r = app
        .token_request(
            DEMO_TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
                ("username", "adelev@contoso.example"),
                ("password", DEMO_PASSWORD),
                ("scope", "Mail.Send"),
            ],
        )
        .await;
    assert_eq!(r.json()["error_codes"], json!([65001]));
});

e2e!(discovery_and_jwks_describe_the_issuer, |app| {
    let v = read(
        app.client
            .get(app.url(&format!("/{DEMO_TENANT}/v2.0/.well-known/openid-configuration")))
            .send()
            .await
            .unwrap(),
    )
    .await
    .ok();
    assert_eq!(v["issuer"], claims(&app.token)["iss"]);
    assert!(
        v["token_endpoint"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/{DEMO_TENANT}/oauth2/v2.0/token"))
    );
    let keys = read(
        app.client
            .get(v["jwks_uri"].as_str().unwrap())
            .send()
            .await
            .unwrap(),
    )
    .await
    .ok();
    let header: serde_json::Value = {
        use base64::Engine as _;
        let h = app.token.split('.').next().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(h)
                .unwrap(),
        )
        .unwrap()
    };
    assert_eq!(header["alg"], "RS256");
    assert!(
        keys["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header["kid"] && k["kty"] == "RSA" && k["n"].is_string())
    );
    let r = read(
        app.client
            .get(app.url("/nowhere.example/v2.0/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(r.status, 400);
});

e2e!(bad_tokens_are_401_with_graphs_body, |app| {
    let r = app.send(Method::GET, "/v1.0/users", None, None).await;
    assert_eq!(
        r.graph_error(401, "InvalidAuthenticationToken"),
        "Access token is empty."
    );
    assert!(r.headers.get("www-authenticate").is_some());
    app.send(Method::GET, "/v1.0/users", Some("garbage"), None)
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    let r = app
        .client
        .get(app.url("/v1.0/users"))
        .header("Authorization", "Basic abc")
        .send()
        .await
        .unwrap();
    read(r).await.graph_error(401, "InvalidAuthenticationToken");
    // Expired, wrong audience, foreign signature.
    let store_app = app
        .state
        .store
        .app(DEMO_APP.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    let mut c = app
        .state
        .tokens
        .base_claims(store_app.tenant_id, &store_app, GRAPH_RESOURCE);
    c.roles = vec!["Directory.ReadWrite.All".into()];
    c.exp = c.iat - 7200;
    c.nbf = c.iat - 9000;
    let expired = app.state.tokens.sign(&c).unwrap();
    let msg = app
        .send(Method::GET, "/v1.0/users", Some(&expired), None)
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    assert_eq!(msg, "Lifetime validation failed, the token is expired.");
    let wrong_aud = app
        .state
        .tokens
        .mint_app(&store_app, "https://api.partnercenter.microsoft.com", false)
        .unwrap();
    let msg = app
        .send(Method::GET, "/v1.0/users", Some(&wrong_aud), None)
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    assert!(msg.contains("Invalid audience"), "{msg}");
    let mut parts: Vec<String> = app.token.split('.').map(str::to_owned).collect();
    parts[2] = parts[2].chars().rev().collect();
    let forged = parts.join(".");
    app.send(Method::GET, "/v1.0/users", Some(&forged), None)
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    // A token signed by a key Allot never had, even one that claims Allot's key id.
    let mut foreign = allot_server::auth::keys::generate().unwrap();
    foreign.kid = app.state.tokens.keys()[0].kid.clone();
    let other = allot_server::auth::tokens::TokenService::new(vec![foreign], app.state.tokens.issuer_base());
    let mut fresh = c.clone();
    fresh.exp = fresh.iat + 3600;
    fresh.nbf = fresh.iat;
    let msg = app
        .send(
            Method::GET,
            "/v1.0/users",
            Some(&other.sign(&fresh).unwrap()),
            None,
        )
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    assert!(msg.contains("Invalid signature"), "{msg}");
});

e2e!(missing_permissions_are_403, |app| {
    let ro = app.app_token(READONLY_APP, READONLY_SECRET).await;
    app.send(Method::GET, "/v1.0/users", Some(&ro), None).await.ok();
    let body = json!({"addLicenses": [{"skuId": EMS}], "removeLicenses": []});
    let msg = app
        .send(
            Method::POST,
            "/v1.0/users/adelev@contoso.example/assignLicense",
            Some(&ro),
            Some(body.clone()),
        )
        .await
        .graph_error(403, "Authorization_RequestDenied");
    assert_eq!(msg, "Insufficient privileges to complete the operation.");
    app.send(Method::POST, "/v1.0/groups", Some(&ro), Some(json!({})))
        .await
        .graph_error(403, "Authorization_RequestDenied");
    app.send(
        Method::DELETE,
        "/v1.0/users/adelev@contoso.example",
        Some(&ro),
        None,
    )
    .await
    .graph_error(403, "Authorization_RequestDenied");
    // Delegated: a member without a licensing role may not assign, a License Administrator may.
    let member = app.user_token("alexw@contoso.example").await;
    app.send(
        Method::POST,
        "/v1.0/users/adelev@contoso.example/assignLicense",
        Some(&member),
        Some(body.clone()),
    )
    .await
    .graph_error(403, "Authorization_RequestDenied");
    app.send(Method::GET, "/v1.0/subscribedSkus", Some(&member), None)
        .await
        .graph_error(403, "Authorization_RequestDenied");
    let licenser = app.user_token("licenses@contoso.example").await;
    app.send(
        Method::POST,
        "/v1.0/users/adelev@contoso.example/assignLicense",
        Some(&licenser),
        Some(body),
    )
    .await
    .ok();
    // A License Administrator cannot create users.
    let new_user = json!({"accountEnabled": true, "displayName": "n", "mailNickname": "n", "userPrincipalName": "n@contoso.example", "passwordProfile": {"password": "x"}});
    app.send(Method::POST, "/v1.0/users", Some(&licenser), Some(new_user))
        .await
        .graph_error(403, "Authorization_RequestDenied");
});

e2e!(another_tenants_objects_are_404, |app| {
    app.admin(Method::POST, "/_allot/tenants", Some(OTHER_TENANT.into()))
        .await
        .ok();
    let r = app
        .token_request(
            "fabrikam.example",
            &[
                ("grant_type", "client_credentials"),
                ("client_id", "fab00000-0000-4000-8000-000000000001"),
                ("client_secret", "fab-secret"),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    let fab = r.ok()["access_token"].as_str().unwrap().to_owned();
    let contoso_user = app.get("/v1.0/users/adelev@contoso.example").await.ok()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let group = app.collect_all("/v1.0/groups", &app.token).await.0[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        format!("/v1.0/users/{contoso_user}"),
        format!("/v1.0/users/{contoso_user}/licenseDetails"),
        "/v1.0/users/adelev@contoso.example".to_owned(),
        format!("/v1.0/groups/{group}"),
        format!("/v1.0/groups/{group}/members"),
        format!("/v1.0/subscribedSkus/{DEMO_TENANT}_{EMS}"),
    ] {
        app.send(Method::GET, &path, Some(&fab), None)
            .await
            .graph_error(404, "Request_ResourceNotFound");
    }
    let body = json!({"addLicenses": [{"skuId": EMS}], "removeLicenses": []});
    app.send(
        Method::POST,
        &format!("/v1.0/users/{contoso_user}/assignLicense"),
        Some(&fab),
        Some(body),
    )
    .await
    .graph_error(404, "Request_ResourceNotFound");
    app.send(
        Method::DELETE,
        &format!("/v1.0/users/{contoso_user}"),
        Some(&fab),
        None,
    )
    .await
    .graph_error(404, "Request_ResourceNotFound");
    // Fabrikam sees only its own.
    let (users, _) = app.collect_all("/v1.0/users", &fab).await;
    assert_eq!(users.len(), 1);
    assert_eq!(users[0]["userPrincipalName"], "fay@fabrikam.example");
    assert_eq!(app.get("/v1.0/users/adelev@contoso.example").await.status, 200);
});

/// A password sign-in with `offline_access`: the access and the refresh token.
async fn sign_in(app: &TestApp, upn: &str, password: &str) -> (String, String) {
    let r = app
        .token_request(
            DEMO_TENANT,
            &[
                ("grant_type", "password"),
                ("client_id", DEMO_APP),
                ("client_secret", DEMO_SECRET),
                ("username", upn),
                ("password", password),
                ("scope", "https://graph.microsoft.com/.default offline_access"),
            ],
        )
        .await;
    let v = r.ok();
    (
        v["access_token"].as_str().unwrap().to_owned(),
        v["refresh_token"].as_str().unwrap().to_owned(),
    )
}

async fn redeem(app: &TestApp, refresh: &str, secret: Option<&str>) -> Resp {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("client_id", DEMO_APP),
        ("refresh_token", refresh),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    if let Some(s) = secret {
        form.push(("client_secret", s));
    }
    app.token_request(DEMO_TENANT, &form).await
}

fn aadsts(r: &Resp, status: u16, error: &str, code: u64) {
    assert_eq!(r.status.as_u16(), status, "{}", r.text);
    assert_eq!(r.json()["error"], error, "{}", r.text);
    assert_eq!(r.json()["error_codes"], json!([code]), "{}", r.text);
}

e2e!(tokens_die_with_their_user_and_its_sessions, |app| {
    let id = app.create_user("leaver", Some("US")).await;
    let (access, refresh) = sign_in(&app, "leaver@contoso.example", DEMO_PASSWORD).await;
    let me = |token: String| {
        let app = &app;
        async move { app.send(Method::GET, "/v1.0/me", Some(&token), None).await }
    };
    assert_eq!(me(access.clone()).await.status, 200);
    // A confidential client authenticates on every grant, refresh included.
    aadsts(
        &redeem(&app, &refresh, None).await,
        401,
        "invalid_client",
        7_000_218,
    );
    let refresh = redeem(&app, &refresh, Some(DEMO_SECRET)).await.ok()["refresh_token"]
        .as_str()
        .unwrap()
        .to_owned();

    // A new password signs the user out everywhere: access and refresh tokens alike.
    let r = app
        .patch(
            &format!("/v1.0/users/{id}"),
            json!({"passwordProfile": {"password": "N3w-pa55word!"}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    me(access.clone())
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    aadsts(
        &redeem(&app, &refresh, Some(DEMO_SECRET)).await,
        400,
        "invalid_grant",
        50173,
    );
    let (access, refresh) = sign_in(&app, "leaver@contoso.example", "N3w-pa55word!").await;
    assert_eq!(me(access.clone()).await.status, 200);

    // Disabled: refused at once, and still refused once enabled again (a new sign-in works).
    let r = app
        .patch(&format!("/v1.0/users/{id}"), json!({"accountEnabled": false}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    me(access.clone())
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    aadsts(
        &redeem(&app, &refresh, Some(DEMO_SECRET)).await,
        400,
        "invalid_grant",
        50057,
    );
    let r = app
        .patch(&format!("/v1.0/users/{id}"), json!({"accountEnabled": true}))
        .await;
    assert_eq!(r.status, 204, "{}", r.text);
    me(access).await.graph_error(401, "InvalidAuthenticationToken");
    aadsts(
        &redeem(&app, &refresh, Some(DEMO_SECRET)).await,
        400,
        "invalid_grant",
        50173,
    );
    let (access, refresh) = sign_in(&app, "leaver@contoso.example", "N3w-pa55word!").await;

    // Deleted: refused at once; restored: the old tokens stay dead.
    assert_eq!(app.delete(&format!("/v1.0/users/{id}")).await.status, 204);
    me(access.clone())
        .await
        .graph_error(401, "InvalidAuthenticationToken");
    let pc = crate::partner::pc_token(&app).await;
    let r = app
        .as_caller(pc)
        .patch(
            &format!("/v1/customers/{DEMO_TENANT}/users/{id}"),
            json!({"state": "active"}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text);
    me(access).await.graph_error(401, "InvalidAuthenticationToken");
    aadsts(
        &redeem(&app, &refresh, Some(DEMO_SECRET)).await,
        400,
        "invalid_grant",
        50173,
    );
});

e2e!(
    a_disabled_partner_users_token_stops_working_in_partner_center,
    |app| {
        let pc = crate::partner::pc_token(&app).await;
        let customers = app.as_caller(pc.clone()).get("/v1/customers").await;
        assert_eq!(customers.status, 200, "{}", customers.text);
        let partner = allot_core::ids::TenantId::parse("5a1d0000-c0de-4c0e-a000-000000000002").unwrap();
        let admin = app
            .state
            .store
            .user_by_upn(partner, "admin@partner.example")
            .await
            .unwrap()
            .unwrap();
        app.state
            .store
            .update_user(partner, admin.id, |u| {
                u.account_enabled = false;
                Ok(())
            })
            .await
            .unwrap();
        let r = app.as_caller(pc).get("/v1/customers").await;
        assert_eq!(r.status, 401, "{}", r.text);
        assert_eq!(r.json()["source"], "PartnerFD", "{}", r.text);
    }
);

e2e!(
    a_cae_client_gets_graphs_claims_challenge_when_its_token_is_revoked,
    |app| {
        let id = app.create_user("caeuser", Some("US")).await;
        let token_for = |password: &'static str, claims: Option<&'static str>| {
            let app = &app;
            async move {
                let mut form = vec![
                    ("grant_type", "password"),
                    ("client_id", DEMO_APP),
                    ("client_secret", DEMO_SECRET),
                    ("username", "caeuser@contoso.example"),
                    ("password", password),
                    ("scope", "https://graph.microsoft.com/.default"),
                ];
                if let Some(c) = claims {
                    form.push(("claims", c));
                }
                app.token_request(DEMO_TENANT, &form).await.ok()["access_token"]
                    .as_str()
                    .unwrap()
                    .to_owned()
            }
        };
        let cae = token_for(
            DEMO_PASSWORD,
            Some(r#"{"access_token":{"xms_cc":{"values":["cp1"]}}}"#),
        )
        .await;
        let plain = token_for(DEMO_PASSWORD, None).await;
        assert_eq!(claims(&cae)["xms_cc"], json!(["cp1"]));
        assert!(claims(&plain).get("xms_cc").is_none());
        // A new password revokes both.
        let r = app
            .patch(
                &format!("/v1.0/users/{id}"),
                json!({"passwordProfile": {"password": "An0ther-pa55word"}}),
            )
            .await;
        assert_eq!(r.status, 204, "{}", r.text);
        let r = app.send(Method::GET, "/v1.0/me", Some(&cae), None).await;
        let msg = r.graph_error(401, "InvalidAuthenticationToken");
        assert!(msg.contains("TokenIssuedBeforeRevocationTimestamp"), "{msg}");
        let challenge = r.headers["www-authenticate"].to_str().unwrap().to_owned();
        assert!(challenge.contains("error=\"insufficient_claims\""), "{challenge}");
        let b64 = challenge.split("claims=\"").nth(1).unwrap().trim_end_matches('"');
        use base64::Engine as _;
        let decoded: serde_json::Value =
            serde_json::from_slice(&base64::engine::general_purpose::STANDARD.decode(b64).unwrap()).unwrap();
        assert_eq!(decoded["access_token"]["nbf"]["essential"], true);
        // A client without the capability gets the plain 401.
        let r = app.send(Method::GET, "/v1.0/me", Some(&plain), None).await;
        r.graph_error(401, "InvalidAuthenticationToken");
        assert!(
            r.headers["www-authenticate"]
                .to_str()
                .unwrap()
                .contains("invalid_token")
        );
        // Answering the challenge: a new token (issued after the revocation) works.
        let fresh = token_for(
            "An0ther-pa55word",
            Some(r#"{"access_token":{"xms_cc":{"values":["cp1"]},"nbf":{"essential":true,"value":"1"}}}"#),
        )
        .await;
        assert_eq!(
            app.send(Method::GET, "/v1.0/me", Some(&fresh), None).await.status,
            200
        );
    }
);

e2e!(
    multi_tenant_discovery_and_instance_discovery_answer_as_entra,
    |app| {
        let get = |path: String| {
            let c = app.client.clone();
            let url = app.url(&path);
            async move { read(c.get(url).send().await.unwrap()).await }
        };
        for t in ["organizations", "common"] {
            let v = get(format!("/{t}/v2.0/.well-known/openid-configuration"))
                .await
                .ok();
            assert_eq!(v["token_endpoint"], app.url(&format!("/{t}/oauth2/v2.0/token")));
            assert!(v["issuer"].as_str().unwrap().ends_with("/{tenantid}/v2.0"), "{v}");
        }
        let auth = format!("https://allot.test:5067/{DEMO_TENANT}/oauth2/v2.0/authorize");
        let v = get(format!(
            "/common/discovery/instance?api-version=1.1&authorization_endpoint={}",
            form_urlencoded_value(&auth)
        ))
        .await
        .ok();
        assert_eq!(
            v["tenant_discovery_endpoint"],
            format!("https://allot.test:5067/{DEMO_TENANT}/v2.0/.well-known/openid-configuration")
        );
        assert_eq!(v["metadata"][0]["aliases"], json!(["allot.test:5067"]));
        let r = get("/common/discovery/instance?authorization_endpoint=nope".to_owned()).await;
        assert_eq!(r.status, 400);
        assert_eq!(r.json()["error"], "invalid_instance");
        assert_eq!(r.json()["error_codes"], json!([50049]));
    }
);

fn form_urlencoded_value(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
