//! Interactive sign-in: authorization code with PKCE through the sign-in page, and the device-code
//! flow through the device page, driven as a browser would (forms, redirects).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::Method;
use serde_json::json;

use crate::e2e;
use crate::helpers::*;

const T: &str = "5a1d0000-c0de-4c0e-a000-0000000000d1";
const NATIVE: &str = "5a1d0000-c0de-4a99-a000-0000000000d1";
const REDIRECT: &str = "http://localhost:8400/callback";

async fn world(app: &TestApp) {
    let tenant = json!({"tenants": [{
        "displayName": "Sign-in Co", "defaultDomain": "signin.example", "id": T,
        "subscriptions": [{"sku": "ENTERPRISEPACK", "enabled": 5}],
        "apps": [{"clientId": NATIVE, "displayName": "Native tool", "clientSecret": "native-secret",
                  "delegatedScopes": ["User.Read", "User.Read.All", "Organization.Read.All"],
                  "redirectUris": [REDIRECT], "publicClient": true}],
        "users": [{"userPrincipalName": "ann@signin.example", "displayName": "Ann", "password": "ann-pw-1",
                   "usageLocation": "US"}],
    }]});
    let r = app
        .admin(Method::POST, "/_allot/tenants", Some(tenant.to_string()))
        .await;
    assert_eq!(r.status, 201, "{}", r.text);
}

/// A browser: no redirects followed, so the test reads the `Location` the sign-in sends.
fn browser() -> reqwest::Client {
    allot_server::tls::install_crypto();
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

fn challenge(verifier: &str) -> String {
    URL_SAFE_NO_PAD
        .encode(aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// Signs Ann in on the authorization page; returns the code from the redirect.
async fn sign_in(app: &TestApp, verifier: &str, password: &str) -> Result<String, String> {
    let params = [
        ("client_id", NATIVE),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT),
        ("scope", "User.Read offline_access openid"),
        ("state", "xyz"),
        ("code_challenge", &challenge(verifier)),
        ("code_challenge_method", "S256"),
    ];
    let b = browser();
    let page = read(
        b.get(app.url(&format!("/{T}/oauth2/v2.0/authorize")))
            .query(&params)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 200, "{}", page.text);
    assert!(
        page.text.contains("<form method=\"post\">") && page.text.contains("Native tool"),
        "{}",
        page.text
    );
    let mut form: Vec<(&str, &str)> = params.to_vec();
    form.extend([("username", "ann@signin.example"), ("password", password)]);
    let r = b
        .post(app.url(&format!("/{T}/oauth2/v2.0/authorize")))
        .form(&form)
        .send()
        .await
        .unwrap();
    if r.status() != 302 {
        return Err(r.text().await.unwrap());
    }
    let location = r.headers()["location"].to_str().unwrap().to_owned();
    assert!(location.starts_with(&format!("{REDIRECT}?code=")), "{location}");
    assert!(location.ends_with("&state=xyz"), "{location}");
    let code = location
        .split(['?', '&'])
        .find_map(|p| p.strip_prefix("code="))
        .unwrap();
    Ok(code.to_owned())
}

async fn redeem(app: &TestApp, code: &str, verifier: &str) -> Resp {
    app.token_request(
        T,
        &[
            ("grant_type", "authorization_code"),
            ("client_id", NATIVE),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", verifier),
            ("scope", "User.Read offline_access openid"),
            ("client_info", "1"),
        ],
    )
    .await
}

e2e!(authorization_code_with_pkce_signs_a_user_in_once, |app| {
    world(&app).await;
    let verifier = "a-verifier-long-enough-for-pkce-0123456789-abcdefghij";
    // A wrong password re-shows the page with Entra's message, and hands out no code.
    let page = sign_in(&app, verifier, "wrong").await.unwrap_err();
    assert!(page.contains("Your account or password is incorrect."), "{page}");

    let code = sign_in(&app, verifier, "ann-pw-1").await.unwrap();
    let v = redeem(&app, &code, verifier).await.ok();
    let claims = claims(v["access_token"].as_str().unwrap());
    assert_eq!(claims["upn"], "ann@signin.example");
    assert_eq!(claims["scp"], "User.Read");
    assert!(v["refresh_token"].is_string() && v["id_token"].is_string(), "{v}");
    let id = claims_of_id(v["id_token"].as_str().unwrap());
    assert_eq!(
        (id["aud"].as_str(), id["preferred_username"].as_str()),
        (Some(NATIVE), Some("ann@signin.example"))
    );
    let info: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(v["client_info"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(info["utid"], T);
    // The token reads Graph as Ann.
    let me = app
        .send(Method::GET, "/v1.0/me", v["access_token"].as_str(), None)
        .await
        .ok();
    assert_eq!(me["userPrincipalName"], "ann@signin.example");
    // A public client redeems its refresh token without a secret (as MSAL's public clients and
    // the console do); a wrong secret is still refused.
    let refresh = v["refresh_token"].as_str().unwrap();
    let again = app
        .token_request(
            T,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", NATIVE),
                ("refresh_token", refresh),
                ("scope", "User.Read"),
            ],
        )
        .await
        .ok();
    let me = app
        .send(Method::GET, "/v1.0/me", again["access_token"].as_str(), None)
        .await
        .ok();
    assert_eq!(me["userPrincipalName"], "ann@signin.example");
    let wrong = app
        .token_request(
            T,
            &[
                ("grant_type", "refresh_token"),
                ("client_id", NATIVE),
                ("client_secret", "not-the-secret"),
                ("refresh_token", refresh),
                ("scope", "User.Read"),
            ],
        )
        .await;
    assert_eq!(wrong.status.as_u16(), 401, "{}", wrong.text);

    // The same code again: AADSTS54005.
    let r = redeem(&app, &code, verifier).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error_codes"].clone()),
        (400, json!([54005])),
        "{}",
        r.text
    );
    assert_eq!(r.json()["error"], "invalid_grant");
    // A verifier that does not match the challenge: AADSTS501481, and the code is spent.
    let code = sign_in(&app, verifier, "ann-pw-1").await.unwrap();
    let r = redeem(&app, &code, "another-verifier-entirely-0123456789-abcdefghijkl").await;
    assert_eq!(r.json()["error_codes"], json!([501481]), "{}", r.text);
    assert_eq!(r.json()["error"], "invalid_grant");
    // An unregistered redirect URI is refused on the page (AADSTS50011), never redirected to.
    let page = read(
        browser()
            .get(app.url(&format!("/{T}/oauth2/v2.0/authorize")))
            .query(&[
                ("client_id", NATIVE),
                ("response_type", "code"),
                ("redirect_uri", "https://evil.example/cb"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(page.status, 400);
    assert!(page.text.contains("AADSTS50011"), "{}", page.text);
    // A loopback redirect URI matches on any port (Entra's localhost exception), not on another
    // path.
    for (uri, status) in [
        ("http://localhost:53111/callback", 200),
        ("http://localhost:53111/elsewhere", 400),
    ] {
        let page = read(
            browser()
                .get(app.url(&format!("/{T}/oauth2/v2.0/authorize")))
                .query(&[
                    ("client_id", NATIVE),
                    ("response_type", "code"),
                    ("redirect_uri", uri),
                    ("code_challenge", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"),
                    ("code_challenge_method", "S256"),
                ])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(page.status, status, "{uri}: {}", page.text);
    }
    // HTML in a parameter is shown as text.
    let page = read(
        browser()
            .get(app.url(&format!("/{T}/oauth2/v2.0/authorize")))
            .query(&[
                ("client_id", NATIVE),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT),
                ("scope", "User.Read"),
                ("login_hint", "\"><script>alert(1)</script>"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(!page.text.contains("<script>alert"), "{}", page.text);
    assert!(page.text.contains("&lt;script&gt;"), "{}", page.text);
});

e2e!(device_code_flow_polls_until_the_person_signs_in, |app| {
    world(&app).await;
    let v = read(
        app.client
            .post(app.url(&format!("/{T}/oauth2/v2.0/devicecode")))
            .form(&[("client_id", NATIVE), ("scope", "User.Read offline_access")])
            .send()
            .await
            .unwrap(),
    )
    .await
    .ok();
    let (device, user_code) = (
        v["device_code"].as_str().unwrap().to_owned(),
        v["user_code"].as_str().unwrap().to_owned(),
    );
    assert_eq!(v["verification_uri"], app.url("/devicelogin"));
    assert_eq!(
        (v["expires_in"].as_i64(), v["interval"].as_i64()),
        (Some(900), Some(5))
    );
    assert!(v["message"].as_str().unwrap().contains(&user_code));
    let app = &app;
    let poll = || {
        let device = device.clone();
        async move {
            app.token_request(
                T,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", NATIVE),
                    ("device_code", &device),
                ],
            )
            .await
        }
    };
    let r = poll().await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"].clone()),
        (400, json!("authorization_pending")),
        "{}",
        r.text
    );
    assert_eq!(r.json()["error_codes"], json!([70016]));
    // The device page: a wrong code, then the right one with Ann's credentials.
    let page = read(
        app.client
            .post(app.url("/devicelogin"))
            .form(&[
                ("user_code", "NOPE2345"),
                ("username", "ann@signin.example"),
                ("password", "ann-pw-1"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        page.text.contains("Check the code and try again."),
        "{}",
        page.text
    );
    let page = read(
        app.client
            .post(app.url("/devicelogin"))
            .form(&[
                ("user_code", user_code.to_lowercase().as_str()),
                ("username", "ann@signin.example"),
                ("password", "ann-pw-1"),
            ])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        page.text
            .contains("You have signed in to the <b>Native tool</b> application"),
        "{}",
        page.text
    );
    let v = poll().await.ok();
    assert_eq!(
        claims(v["access_token"].as_str().unwrap())["upn"],
        "ann@signin.example"
    );
    assert!(v["refresh_token"].is_string());
    // Redeemed once.
    assert_eq!(poll().await.json()["error_codes"], json!([54005]));
});

fn claims_of_id(token: &str) -> serde_json::Value {
    claims(token)
}
